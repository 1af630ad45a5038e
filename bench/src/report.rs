//! The tables the benchmark prints and the targets it checks (`document` writes them into
//! BENCHMARKS.md).

use std::fmt::Write as _;

/// Per-server arrays: 0 the upstream direct (a), 1 the release binary behind the Runtime API
/// stand-in (b), 2 the tutorial's app (c), 3 `cargo lambda watch --release` (w).
/// Per-pace arrays: 0 bursty (2 ms), 1 steady (10 ms).
#[derive(Debug, Default)]
pub struct Figures {
    pub ttft_median: [f64; 4],
    pub ttft_p95: [f64; 4],
    pub lateness_p99: [[f64; 4]; 2],
    pub lateness_max: [[f64; 4]; 2],
    /// Deltas more than 20 ms late (the mark of a Nagle + delayed-ACK stall, ~40 ms).
    pub stalls: [[usize; 4]; 2],
    /// Deltas measured per server and pace.
    pub lateness_samples: [usize; 2],
    /// a, b, c.
    pub stream_end_ms: [f64; 3],
    /// The function process (b), then the tutorial's app (c).
    pub cpu_per_1000: [f64; 2],
    pub peak_rss_kb: [u64; 2],
    pub emulator_hop_ms: f64,
    pub peer_start_ms: f64,
    /// chat-complete, chat-stream, index.
    pub init_ms: [f64; 3],
    pub init_p95_ms: [f64; 3],
    pub init_secret_ms: [f64; 3],
    pub zip_bytes: [u64; 3],
    pub background: crate::background::BackgroundFigures,
    pub limits: crate::limits::LimitsFigures,
    pub buffered: crate::buffered::BufferedFigures,
    pub failover: crate::failover::FailoverFigures,
    pub added: Vec<crate::added::Added>,
    /// chat-complete, chat-stream.
    pub cold: [crate::cold::ColdFigures; 2],
}

const PACE_NAMES: [&str; 2] = ["bursty, deltas 2 ms apart", "steady, deltas 10 ms apart"];

/// A measured value, or `–` for one this run did not measure (NaN).
fn value(v: f64, digits: usize, unit: &str) -> String {
    if v.is_finite() { format!("{v:.digits$} {unit}") } else { "–".into() }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 { format!("{:.2}×", a / b) } else { "–".into() }
}

impl Figures {
    pub fn added_per_delta_us(&self, i: usize) -> f64 {
        (self.stream_end_ms[i] - self.stream_end_ms[0]) * 1000.0 / 2000.0
    }

    pub fn table(&self) -> String {
        let mut t = self.added_table();
        let _ = writeln!(
            t,
            "| figure | (a) upstream direct | (b) release binary, Runtime API | (c) tutorial's app | b / a | b / c |"
        );
        let _ = writeln!(t, "| --- | ---: | ---: | ---: | ---: | ---: |");
        let row = |t: &mut String, name: &str, v: [f64; 3], unit: &str, digits: usize| {
            let [a, b, c] = v.map(|x| value(x, digits, unit));
            let _ = writeln!(t, "| {name} | {a} | {b} | {c} | {} | {} |", ratio(v[1], v[0]), ratio(v[1], v[2]));
        };
        let abc = |v: [f64; 4]| [v[0], v[1], v[2]];
        row(&mut t, "time to first text, median", abc(self.ttft_median), "ms", 2);
        row(&mut t, "time to first text, p95", abc(self.ttft_p95), "ms", 2);
        for (p, pace) in PACE_NAMES.iter().enumerate() {
            row(&mut t, &format!("delta lateness p99, {pace}"), abc(self.lateness_p99[p]), "ms", 2);
            row(&mut t, &format!("delta lateness worst, {pace}"), abc(self.lateness_max[p]), "ms", 2);
            let [a, b, c] = [0, 1, 2]
                .map(|i| if self.lateness_p99[p][i].is_finite() { self.stalls[p][i].to_string() } else { "–".into() });
            let _ = writeln!(
                t,
                "| deltas over 20 ms late, {pace} (of {}) | {a} | {b} | {c} | – | – |",
                self.lateness_samples[p]
            );
        }
        row(&mut t, "2,000 deltas, end of stream (median)", self.stream_end_ms, "ms", 1);
        let (added_b, added_c) = (self.added_per_delta_us(1), self.added_per_delta_us(2));
        let _ = writeln!(
            t,
            "| time added per delta (vs a) | 0 µs | {} | {} | – | {} |",
            value(added_b, 1, "µs"),
            value(added_c, 1, "µs"),
            ratio(added_b, added_c)
        );
        let [cpu_b, cpu_c] = self.cpu_per_1000;
        let _ = writeln!(
            t,
            "| CPU per 1,000 deltas | – | {} | {} | – | {} |",
            value(cpu_b, 1, "ms"),
            value(cpu_c, 1, "ms"),
            ratio(cpu_b, cpu_c)
        );
        let [rss_b, rss_c] = self.peak_rss_kb.map(|kb| if kb > 0 { kb as f64 / 1024.0 } else { f64::NAN });
        let _ = writeln!(
            t,
            "| peak RSS, whole run | – | {} | {} | – | {} |",
            value(rss_b, 1, "MB"),
            value(rss_c, 1, "MB"),
            ratio(rss_b, rss_c)
        );
        let _ = writeln!(
            t,
            "| start to first answer (tutorial's app) | – | – | {} | – | – |",
            value(self.peer_start_ms, 0, "ms")
        );
        let _ = writeln!(t);
        let _ = writeln!(t, "Under the emulator, for comparison only (its server sets no TCP_NODELAY):\n");
        let _ = writeln!(t, "| figure | (w) cargo lambda watch --release | w / b |");
        let _ = writeln!(t, "| --- | ---: | ---: |");
        let _ = writeln!(
            t,
            "| time to first text, median | {:.2} ms | {} |",
            self.ttft_median[3],
            ratio(self.ttft_median[3], self.ttft_median[1])
        );
        let _ = writeln!(
            t,
            "| time to first text, p95 | {:.2} ms | {} |",
            self.ttft_p95[3],
            ratio(self.ttft_p95[3], self.ttft_p95[1])
        );
        for (p, pace) in PACE_NAMES.iter().enumerate() {
            let (late, worst) = (self.lateness_p99[p][3], self.lateness_max[p][3]);
            let _ = writeln!(
                t,
                "| delta lateness p99 / worst, {pace} | {late:.2} / {worst:.2} ms | {} |",
                ratio(late, self.lateness_p99[p][1])
            );
            let _ = writeln!(
                t,
                "| deltas over 20 ms late, {pace} (of {}) | {} | – |",
                self.lateness_samples[p], self.stalls[p][3]
            );
        }
        let _ = writeln!(t, "| the emulator's own hop (blank message) | {:.2} ms | – |", self.emulator_hop_ms);
        let _ = writeln!(t);
        let bg = &self.background;
        let _ = writeln!(t, "Background mode (`RESUMABLE_STREAMS`), (b) only, median / p95:\n");
        let _ = writeln!(t, "| figure | median / p95 |");
        let _ = writeln!(t, "| --- | ---: |");
        let _ = writeln!(
            t,
            "| time to first text, plain stream (`RESUMABLE_STREAMS=false`) | {:.2} / {:.2} ms |",
            bg.ttft_plain[0], bg.ttft_plain[1]
        );
        let _ = writeln!(
            t,
            "| time to first text, background mode (the default) | {:.2} / {:.2} ms |",
            bg.ttft_background[0], bg.ttft_background[1]
        );
        let _ = writeln!(
            t,
            "| reasoning model: time to first reasoning text (summary) | {:.2} / {:.2} ms |",
            bg.reasoning_first_summary[0], bg.reasoning_first_summary[1]
        );
        let _ = writeln!(
            t,
            "| reasoning model: time to first text, after its summary | {:.2} / {:.2} ms |",
            bg.reasoning_first_text[0], bg.reasoning_first_text[1]
        );
        let _ = writeln!(
            t,
            "| a resume, answer finished (stored response) | {:.2} / {:.2} ms |",
            bg.resume_finished[0], bg.resume_finished[1]
        );
        let _ = writeln!(
            t,
            "| a resume, answer still running (streamed again) | {:.2} / {:.2} ms |",
            bg.resume_live[0], bg.resume_live[1]
        );
        let _ = writeln!(t);
        let _ = writeln!(t, "Failover (`FALLBACK_BASE_URL`), (b) only, median / p95:\n");
        let _ = writeln!(t, "| figure | median / p95 |\n| --- | ---: |");
        let _ = writeln!(t, "{}", self.failover.rows());
        let b = &self.buffered;
        let _ = writeln!(t, "Non-streamed, one request at a time (chat-complete, (b) only), p50 / p99:\n");
        let _ = writeln!(t, "| figure | p50 / p99 |");
        let _ = writeln!(t, "| --- | ---: |");
        let _ = writeln!(t, "| direct buffered call to the stand-in | {:.2} / {:.2} ms |", b.direct[0], b.direct[1]);
        let _ =
            writeln!(t, "| chat-complete behind the Runtime API | {:.2} / {:.2} ms |", b.function[0], b.function[1]);
        let _ = writeln!(
            t,
            "| added over direct (p50 / p99) | {:.2} / {:.2} ms |",
            b.function[0] - b.direct[0],
            b.function[1] - b.direct[1]
        );
        let _ = writeln!(t);
        let l = &self.limits;
        let _ = writeln!(
            t,
            "Limits on (`LIMITS_TABLE` on dynalite, loopback; token and dollar limits), (b) only, p50 / p95 / p99:\n"
        );
        let _ = writeln!(t, "| figure | p50 / p95 / p99 |");
        let _ = writeln!(t, "| --- | ---: |");
        let _ = writeln!(
            t,
            "| time to first text, limits off | {:.2} / {:.2} / {:.2} ms |",
            l.ttft_off[0], l.ttft_off[1], l.ttft_off[2]
        );
        let _ = writeln!(
            t,
            "| time to first text, limits on (the request, tokens and dollars in one write, beside the budget's) | {:.2} / {:.2} / {:.2} ms |",
            l.ttft_on[0], l.ttft_on[1], l.ttft_on[2]
        );
        let _ = writeln!(t, "| added by the limits, p99 | {:.2} ms |", l.ttft_on[2] - l.ttft_off[2]);
        let _ = writeln!(
            t,
            "| one conditional write's round trip to dynalite | {:.2} / {:.2} / {:.2} ms |",
            l.write[0], l.write[1], l.write[2]
        );
        let _ = writeln!(
            t,
            "| two at once, as admission sends them | {:.2} / {:.2} / {:.2} ms |",
            l.two_writes[0], l.two_writes[1], l.two_writes[2]
        );
        let _ = writeln!(
            t,
            "| the function's own admission writes, sent from here (`Store::take_slot_and_reserve`) | {:.2} / {:.2} / {:.2} ms |",
            l.admission[0], l.admission[1], l.admission[2]
        );
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "| function | init, key given (exec → first Runtime API poll), median / p95 | init, secret read started | arm64 zip |"
        );
        let _ = writeln!(t, "| --- | ---: | ---: | ---: |");
        for (i, name) in ["chat-complete", "chat-stream", "index"].iter().enumerate() {
            let secret = if self.init_secret_ms[i].is_finite() {
                format!("{:.2} ms", self.init_secret_ms[i])
            } else {
                "–".into()
            };
            let zip = if self.zip_bytes[i] > 0 {
                format!("{:.2} MB", self.zip_bytes[i] as f64 / 1e6)
            } else {
                "not built".into()
            };
            let _ =
                writeln!(t, "| {name} | {:.2} / {:.2} ms | {secret} | {zip} |", self.init_ms[i], self.init_p95_ms[i]);
        }
        t
    }

    /// The headline: what each path adds over a direct read, p99, in two passes, ours and LiteLLM's.
    fn added_table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "Added over a direct read of the same stand-in, one request at a time, p99 of the path less p99 direct in the"
        );
        let _ = writeln!(
            t,
            "same interleaved rounds, two passes (ours: the release binaries behind the Runtime API stand-in, plain"
        );
        let _ = writeln!(
            t,
            "streams as the direct read; (l): the LiteLLM proxy, its Responses API route, in rounds of its own beside"
        );
        let _ = writeln!(
            t,
            "a direct read of their own; shown: pass 2). The Runtime API hop is Lambda's part of ours: the same"
        );
        let _ = writeln!(
            t,
            "function answering a blank message, nothing upstream. ![p99 added per path](docs/benchmarks-added.svg)\n"
        );
        let _ = writeln!(
            t,
            "| path | direct p50 / p99 | ours p50 / p99 | ours p99 added, pass 1 / 2 (spread) | (l) p50 / p99 | (l) p99 added, pass 1 / 2 | goal (ours) |"
        );
        let _ = writeln!(t, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for row in &self.added {
            let u = row.unit;
            let [d, o, l, _] =
                row.passes[1].map(|[p50, p99]| format!("{} / {}", value(p50, 3, "").trim_end(), value(p99, 3, u)));
            let _ = writeln!(
                t,
                "| {} | {d} | {o} | {} / {} ({}) | {l} | {} / {} | {} |",
                row.name,
                value(row.added(0, 1), 3, u),
                value(row.added(1, 1), 3, u),
                value(row.spread(1), 3, u),
                value(row.added(0, 2), 3, u),
                value(row.added(1, 2), 3, u),
                if row.goal.is_finite() {
                    format!("≤ {} {u}", row.goal)
                } else if row.name == crate::added::LIMITS_ROW {
                    "≤ one round trip".into()
                } else {
                    "–".into()
                },
            );
        }
        let _ = writeln!(
            t,
            "\nCold first request: exec to the first text of the first answer (chat-complete: the whole answer), OpenAI behind"
        );
        let _ = writeln!(t, "TLS, limits on (dynalite), the event queued before exec; p50 / p99 of 12 starts:\n");
        let _ = writeln!(
            t,
            "| function | init (exec → first poll) | first answer, from exec | same request warm | first answer − init − warm | the same, against a warm request of a caller new to the environment |"
        );
        let _ = writeln!(t, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for (name, c) in ["chat-complete", "chat-stream"].iter().zip(&self.cold) {
            let pair = |v: [f64; 2]| format!("{:.2} / {:.2} ms", v[0], v[1]);
            let _ = writeln!(
                t,
                "| {name} | {} | {} | {} | {} | {} |",
                pair(c.init),
                pair(c.first_answer),
                pair(c.warm),
                pair(c.extra),
                pair(c.extra_over_new_caller)
            );
        }
        let third = self.cold.iter().map(|c| c.third_write).fold(f64::NAN, f64::max);
        let _ = writeln!(
            t,
            "\nA first request is also its caller's first in that environment, which sends its count both ways"
        );
        let _ = writeln!(
            t,
            "(three writes at once instead of two); dynalite answers three writes at once {third:.2} ms later than two."
        );
        let _ = writeln!(t);
        t
    }

    /// The targets and this benchmark's stall check, each with whether this run met it.
    pub fn targets(&self) -> Vec<(String, bool)> {
        let max_init = self.init_ms.iter().copied().fold(0.0, f64::max);
        let secret_extra = (0..2).map(|i| self.init_secret_ms[i] - self.init_ms[i]).fold(f64::MIN, f64::max);
        let ttft_extra = self.ttft_median[1] - self.ttft_median[0];
        let max_zip = self.zip_bytes.iter().copied().max().unwrap_or(0);
        let late_extra = (0..2).map(|p| self.lateness_p99[p][1] - self.lateness_p99[p][0]).fold(f64::MIN, f64::max);
        let stalls: usize = (0..2).map(|p| self.stalls[p][1]).sum();
        let mut targets = Vec::new();
        for row in self.added.iter().filter(|row| row.goal.is_finite()) {
            let ours = row.worst_added(1);
            targets.push((
                format!(
                    "{}: ≤ {} {} p99 added over direct, worse of two passes: {ours:.3} {}",
                    row.name, row.goal, row.unit, row.unit
                ),
                ours <= row.goal,
            ));
        }
        for row in self.added.iter().filter(|row| row.worst_added(2).is_finite()) {
            let (ours, peer) = (row.worst_added(1), row.added(0, 2).min(row.added(1, 2)));
            targets.push((
                format!(
                    "{}: ours adds less than LiteLLM at p99 (ours {ours:.3}, LiteLLM's better pass {peer:.3} {})",
                    row.name, row.unit
                ),
                ours < peer,
            ));
        }
        if let Some(limits) = self.added.iter().find(|row| row.name == crate::added::LIMITS_ROW) {
            let (added, trip) = (limits.worst_added(1), self.limits.two_writes[2]);
            targets.push((format!("admission within one DynamoDB round trip at p99: adds {added:.2} ms, its two writes at once to dynalite {trip:.2} ms"), added <= trip));
        }
        for (name, cold) in ["chat-complete", "chat-stream"].iter().zip(&self.cold) {
            targets.push((
                format!(
                    "{name}: cold first request within init + 1 ms of a warm one (median): +{:.2} ms",
                    cold.extra[0]
                ),
                cold.extra[0] <= 1.0,
            ));
            targets.push((
                format!(
                    "{name}: the same, against a warm request of a caller new to the environment: +{:.2} ms",
                    cold.extra_over_new_caller[0]
                ),
                cold.extra_over_new_caller[0] <= 1.0,
            ));
        }
        targets.extend([
            (format!("init under 5 ms per function with the key given: {max_init:.2} ms"), max_init < 5.0),
            (format!("no more than 1 ms more with the secret read started: +{secret_extra:.2} ms"), secret_extra <= 1.0),
            (format!("peak RSS under 12 MB while streaming: {:.1} MB", self.peak_rss_kb[0] as f64 / 1024.0), self.peak_rss_kb[0] < 12 * 1024),
            (format!("time to first text within 1 ms of direct: +{ttft_extra:.2} ms"), ttft_extra <= 1.0),
            (format!("under 50 µs added per delta: {:.1} µs", self.added_per_delta_us(1)), self.added_per_delta_us(1) < 50.0),
            (format!("each arm64 zip under 2.5 MB: largest {:.2} MB", max_zip as f64 / 1e6), max_zip > 0 && max_zip < 2_500_000),
            (
                format!("no stalls (this benchmark's check): delta lateness p99 within 5 ms of direct at both paces (+{late_extra:.2} ms), no delta over 20 ms late ({stalls})"),
                late_extra <= 5.0 && stalls == 0,
            ),
        ]);
        targets
    }
}
