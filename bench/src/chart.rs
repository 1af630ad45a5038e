//! A small SVG chart of the p99 each path adds over direct, ours beside the peer's, written by
//! the benchmark itself (no plotting tool). Each path has its own scale, printed on its bars:
//! the paths differ by orders of magnitude (µs per delta, ms to a first text).

use std::fmt::Write as _;

use crate::added::Added;

const WIDTH: f64 = 760.0;
const LABEL: f64 = 250.0;
const BAR_SPACE: f64 = 380.0;
const ROW: f64 = 52.0;

pub fn svg(rows: &[Added]) -> String {
    let height = 40.0 + ROW * rows.len() as f64 + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="22" font-size="14" font-weight="bold">p99 added over a direct read (worse of two passes; lower is better)</text>"##
    );
    for (i, row) in rows.iter().enumerate() {
        let top = 40.0 + ROW * i as f64;
        let (ours, peer) = (row.worst_added(1), row.worst_added(2));
        let scale = [ours, peer, row.goal].into_iter().filter(|v| v.is_finite()).fold(f64::MIN_POSITIVE, f64::max);
        let _ = writeln!(s, r##"<text x="10" y="{:.1}">{}</text>"##, top + 20.0, escape(row.name));
        for (j, (value, colour, who)) in
            [(ours, "#2b6cb0", "ours"), (peer, "#a0aec0", "LiteLLM")].into_iter().enumerate()
        {
            let y = top + 6.0 + 18.0 * j as f64;
            if !value.is_finite() {
                let _ =
                    writeln!(s, r##"<text x="{LABEL}" y="{:.1}" fill="#718096">{who}: not measured</text>"##, y + 12.0);
                continue;
            }
            let w = (value.max(0.0) / scale * BAR_SPACE).max(1.0);
            let _ = writeln!(s, r##"<rect x="{LABEL}" y="{y:.1}" width="{w:.1}" height="14" fill="{colour}"/>"##);
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}">{who} {value:.3} {}</text>"##,
                LABEL + w + 6.0,
                y + 12.0,
                row.unit
            );
        }
        if row.goal.is_finite() {
            let x = LABEL + row.goal / scale * BAR_SPACE;
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#c53030" stroke-dasharray="4 3"/>"##,
                top + 2.0,
                top + 44.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="10" y="{:.1}" fill="#718096">dashed red: the goal for ours; each path on its own scale</text>"##,
        height - 12.0
    );
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
