//! The table the benchmark prints, and BENCHMARKS.md with its history.

use std::fmt::Write as _;
use std::path::Path;

/// Index 0 is the direct upstream (a), 1 this project (b), 2 the tutorial's app (c).
#[derive(Debug, Default)]
pub struct Figures {
    pub ttft_median: [f64; 3],
    pub ttft_p95: [f64; 3],
    pub stream_end_ms: [f64; 3],
    /// This project's function processes, then the tutorial's app.
    pub cpu_per_1000: [f64; 2],
    pub emulator_cpu_per_1000: f64,
    pub peak_rss_kb: [u64; 2],
    pub emulator_hop_ms: f64,
    pub peer_start_ms: f64,
    /// chat-complete, chat-stream, index.
    pub init_ms: [f64; 3],
    pub init_secret_ms: [f64; 3],
    pub zip_bytes: [u64; 3],
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 { format!("{:.2}×", a / b) } else { "–".into() }
}

impl Figures {
    fn added_per_delta_us(&self, i: usize) -> f64 {
        (self.stream_end_ms[i] - self.stream_end_ms[0]) * 1000.0 / 2000.0
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| figure | (a) upstream direct | (b) this project | (c) tutorial's app | b / a | b / c |");
        let _ = writeln!(t, "| --- | ---: | ---: | ---: | ---: | ---: |");
        let row = |t: &mut String, name: &str, v: [f64; 3], unit: &str, digits: usize| {
            let _ = writeln!(
                t,
                "| {name} | {:.digits$} {unit} | {:.digits$} {unit} | {:.digits$} {unit} | {} | {} |",
                v[0], v[1], v[2], ratio(v[1], v[0]), ratio(v[1], v[2])
            );
        };
        row(&mut t, "time to first text, median", self.ttft_median, "ms", 2);
        row(&mut t, "time to first text, p95", self.ttft_p95, "ms", 2);
        row(&mut t, "2,000 deltas, end of stream (median)", self.stream_end_ms, "ms", 1);
        let _ = writeln!(
            t,
            "| time added per delta (vs a) | 0 µs | {:.1} µs | {:.1} µs | – | {} |",
            self.added_per_delta_us(1),
            self.added_per_delta_us(2),
            ratio(self.added_per_delta_us(1), self.added_per_delta_us(2))
        );
        let _ = writeln!(
            t,
            "| CPU per 1,000 deltas | – | {:.1} ms (+ {:.1} ms in the emulator) | {:.1} ms | – | {} |",
            self.cpu_per_1000[0], self.emulator_cpu_per_1000, self.cpu_per_1000[1], ratio(self.cpu_per_1000[0], self.cpu_per_1000[1])
        );
        let mb = |kb: u64| kb as f64 / 1024.0;
        let _ = writeln!(
            t,
            "| peak RSS while streaming | – | {:.1} MB | {:.1} MB | – | {} |",
            mb(self.peak_rss_kb[0]), mb(self.peak_rss_kb[1]), ratio(mb(self.peak_rss_kb[0]), mb(self.peak_rss_kb[1]))
        );
        let _ = writeln!(t, "| start to first answer (tutorial's app) | – | – | {:.0} ms | – | – |", self.peer_start_ms);
        let _ = writeln!(t, "| the emulator's own hop (blank message) | – | {:.2} ms | – | – | – |", self.emulator_hop_ms);
        let _ = writeln!(t);
        let _ = writeln!(t, "| function | init, key given (exec → first Runtime API poll) | init, secret read started | arm64 zip |");
        let _ = writeln!(t, "| --- | ---: | ---: | ---: |");
        for (i, name) in ["chat-complete", "chat-stream", "index"].iter().enumerate() {
            let secret = if self.init_secret_ms[i].is_finite() { format!("{:.2} ms", self.init_secret_ms[i]) } else { "–".into() };
            let _ = writeln!(t, "| {name} | {:.2} ms | {secret} | {:.2} MB |", self.init_ms[i], self.zip_bytes[i] as f64 / 1e6);
        }
        t
    }

    /// The targets, each with whether this run met it.
    pub fn targets(&self) -> Vec<(String, bool)> {
        let max_init = self.init_ms.iter().copied().fold(0.0, f64::max);
        let secret_extra = (0..2).map(|i| self.init_secret_ms[i] - self.init_ms[i]).fold(f64::MIN, f64::max);
        let ttft_extra = self.ttft_median[1] - self.ttft_median[0] - self.emulator_hop_ms;
        let max_zip = self.zip_bytes.iter().copied().max().unwrap_or(0);
        vec![
            (format!("init under 5 ms per function with the key given: {max_init:.2} ms"), max_init < 5.0),
            (format!("no more than 1 ms more with the secret read started: +{secret_extra:.2} ms"), secret_extra <= 1.0),
            (format!("peak RSS under 12 MB while streaming: {:.1} MB", self.peak_rss_kb[0] as f64 / 1024.0), self.peak_rss_kb[0] < 12 * 1024),
            (format!("time to first text within 1 ms of direct, outside the emulator's hop: +{ttft_extra:.2} ms"), ttft_extra <= 1.0),
            (format!("under 50 µs added per delta: {:.1} µs", self.added_per_delta_us(1)), self.added_per_delta_us(1) < 50.0),
            (format!("each arm64 zip under 2.5 MB: largest {:.2} MB", max_zip as f64 / 1e6), max_zip > 0 && max_zip < 2_500_000),
        ]
    }
}

/// Rewrites the latest results and appends one line to the history, keeping the history.
pub fn write(path: &Path, figures: &Figures, table: &str) -> std::io::Result<()> {
    let previous = std::fs::read_to_string(path).unwrap_or_default();
    let history: Vec<&str> = previous
        .split_once("## History\n")
        .map(|(_, h)| h.lines().filter(|l| l.starts_with("| 20")).collect())
        .unwrap_or_default();
    let commit = command("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = if command("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() { "" } else { "+changes" };
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let note = std::env::var("BENCH_NOTE").unwrap_or_default();

    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(out, "Made by `scripts/bench` on {date}, commit {commit}{dirty}, {cpu}, {cores} cores, all on loopback against the");
    let _ = writeln!(out, "same stand-in upstream: (a) the stand-in called directly, the limit; (b) this project's functions under");
    let _ = writeln!(out, "`cargo lambda watch --release`; (c) the tutorial's FastAPI app under uvicorn. Medians unless marked.\n");
    let _ = writeln!(out, "## Latest\n\n{table}");
    let _ = writeln!(out, "## Targets\n");
    for (target, met) in figures.targets() {
        let _ = writeln!(out, "- [{}] {target}", if met { "x" } else { " " });
    }
    let _ = writeln!(out, "\n## Reading the figures\n");
    let _ = writeln!(out, "- Time to first text runs from sending the request to the first text event, over a fresh connection each");
    let _ = writeln!(out, "  time. (b) includes `cargo lambda watch`'s own hop, measured separately with a blank message that is");
    let _ = writeln!(out, "  answered without going upstream; the target compares (b) less that hop with (a).");
    let _ = writeln!(out, "- The p95 of (b) shows ~40 ms stalls on some requests: the mark of Nagle's algorithm meeting delayed ACKs");
    let _ = writeln!(out, "  on a connection without `TCP_NODELAY`. The emulator's server and `lambda_runtime`'s client for the");
    let _ = writeln!(out, "  Runtime API (which builds its own `HttpConnector` and offers no way to set it) are the two candidates;");
    let _ = writeln!(out, "  a reused client connection to the emulator shows the same 40 ms on every request.");
    let _ = writeln!(out, "- CPU per 1,000 deltas comes from /proc clock ticks (10 ms), summed over the 10,000 deltas of the run.");
    let _ = writeln!(out, "- Init is exec until the first `GET /runtime/invocation/next` to a minimal Runtime API stand-in, native");
    let _ = writeln!(out, "  release build; \"secret read started\" points the SDK at a closed port, so the read is under way.");
    let _ = writeln!(out, "\n## History\n");
    let _ = writeln!(out, "| date | commit | TTFT b (ms) | per delta b (µs) | CPU/1k b (ms) | RSS b (MB) | init chat-stream (ms) | zip chat-stream (MB) | note |");
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for line in history {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "| {date} | {commit}{dirty} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {note} |",
        figures.ttft_median[1],
        figures.added_per_delta_us(1),
        figures.cpu_per_1000[0],
        figures.peak_rss_kb[0] as f64 / 1024.0,
        figures.init_ms[1],
        figures.zip_bytes[1] as f64 / 1e6,
    );
    std::fs::write(path, out)
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
