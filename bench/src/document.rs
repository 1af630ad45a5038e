//! BENCHMARKS.md: the latest tables and targets rewritten, one line added to the history (the
//! history kept), and the notes on reading the figures.

use std::fmt::Write as _;
use std::path::Path;

use crate::report::Figures;

/// History columns; rows written before the lateness columns existed are padded with `–`.
const HISTORY_HEADER: &str = "| date | commit | TTFT b (ms) | per delta b (µs) | CPU/1k b (ms) | RSS b (MB) | init chat-stream (ms) | zip chat-stream (MB) | lateness p99 2 ms b (ms) | lateness p99 10 ms b (ms) | note |";
const HISTORY_COLUMNS: usize = 11;

fn pad_history_row(line: &str) -> String {
    let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
    if cells.len() >= HISTORY_COLUMNS {
        return line.to_owned();
    }
    let (head, note) = cells.split_at(cells.len() - 1);
    let mut cells: Vec<&str> = head.to_vec();
    cells.resize(HISTORY_COLUMNS - 1, "–");
    cells.extend_from_slice(note);
    format!("| {} |", cells.join(" | "))
}

/// Rewrites the latest results and appends one line to the history, keeping the history.
pub fn write(path: &Path, figures: &Figures, table: &str) -> std::io::Result<()> {
    let previous = std::fs::read_to_string(path).unwrap_or_default();
    let history: Vec<String> = previous
        .split_once("## History\n")
        .map(|(_, h)| h.lines().filter(|l| l.starts_with("| 20")).map(pad_history_row).collect())
        .unwrap_or_default();
    let commit = command("git", &["rev-parse", "--short", "HEAD"]);
    let dirty =
        if command("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() { "" } else { "+changes" };
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let note = std::env::var("BENCH_NOTE").unwrap_or_default();

    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Made by `scripts/bench` on {date}, commit {commit}{dirty}, {cpu}, {cores} cores, all on loopback against the"
    );
    let _ = writeln!(
        out,
        "same OpenAI stand-in, in one interleaved run: (a) the stand-in read directly, the limit; (b) this project's"
    );
    let _ = writeln!(
        out,
        "release `chat-stream`, one warm process behind a Lambda Runtime API stand-in, as AWS runs it (the main"
    );
    let _ = writeln!(
        out,
        "figures); (c) the tutorial's FastAPI app under uvicorn; (w) the same function under `cargo lambda watch"
    );
    let _ = writeln!(out, "--release`, for comparison only. Medians unless marked.\n");
    if !figures.peer_start_ms.is_finite() {
        let _ = writeln!(out, "(c) was not measured in this run: its virtualenv, target/peer-venv, was missing.\n");
    }
    let _ = writeln!(out, "## Latest\n\n{table}");
    let _ = writeln!(out, "## Targets\n");
    for (target, met) in figures.targets() {
        let _ = writeln!(out, "- [{}] {target}", if met { "x" } else { " " });
    }
    for line in READING {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n## History\n");
    let _ = writeln!(
        out,
        "Rows without lateness figures measured (b) under `cargo lambda watch --release`, less fair to it.\n"
    );
    let _ = writeln!(out, "{HISTORY_HEADER}");
    let _ = writeln!(out, "|{}", " --- |".repeat(2) + &" ---: |".repeat(HISTORY_COLUMNS - 3) + " --- |");
    for line in history {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "| {date} | {commit}{dirty} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {note} |",
        figures.ttft_median[1],
        figures.added_per_delta_us(1),
        figures.cpu_per_1000[0],
        figures.peak_rss_kb[0] as f64 / 1024.0,
        figures.init_ms[1],
        figures.zip_bytes[1] as f64 / 1e6,
        figures.lateness_p99[0][1],
        figures.lateness_p99[1][1],
    );
    std::fs::write(path, out)
}

const READING: &[&str] = &[
    "\n## Reading the figures\n",
    "- (b) is the shipped binary (`cargo build --release`, `panic = \"abort\"`) as AWS runs it: it polls a Lambda",
    "  Runtime API stand-in on loopback (`tests/src/runtime_api.rs`) for Function URL events and streams its answer",
    "  back (JSON prelude, 8 NUL bytes, body). One warm process serves every invocation. The stand-in, like AWS's",
    "  Runtime API, sets TCP_NODELAY on its sockets, so a delay seen there is the function's own.",
    "- Time to first text runs from sending the request ((a), (c), (w): over a fresh connection each time) or",
    "  queueing the event ((b)) to the arrival of the bytes carrying the first text delta at the reader ((b): the",
    "  Runtime API stand-in). Every reader only notes when bytes arrive; SSE and JSON are parsed afterwards.",
    "- Delta lateness: each delta's gap after the previous one, less the pace the stand-in keeps between deltas",
    "  (2 ms bursty, 10 ms steady). A stall counts once, at the delta it held back. (a) shows the stand-in's own",
    "  timer jitter. A Nagle + delayed-ACK stall shows as ~40 ms: every delta of every answer counts, so the p99",
    "  and the worst case catch a stall that hits now and then.",
    "- (w) `cargo lambda watch`'s own server sets no TCP_NODELAY, so its p95 and lateness show the emulator's",
    "  ~40 ms stalls as well as the function's; it is kept as a separate row, not as this project's figure.",
    "- CPU per 1,000 deltas comes from /proc clock ticks (10 ms) of the (b) process, summed over the 10,000",
    "  unpaced deltas of the run; peak RSS is that process's VmHWM after the whole run.",
    "- Init is exec until the first `GET /runtime/invocation/next`, the binary started in the shell's own",
    "  environment plus the Lambda variables (not an emptied one); \"secret read started\" points the SDK at a",
    "  closed port, so the read is under way.",
    "- (a)'s reader shares the benchmark's process (and the 2 cores) with the stand-in upstream it reads, while (b)'s",
    "  reader is a separate process; unpaced, this can make (a) slower than (b) (a negative \"time added per delta\").",
    "- Background mode: (b) with `RESUMABLE_STREAMS` on (the default, and the (b) of the main table) against the",
    "  same binary with it off, interleaved. The stand-in queues nothing, so the difference is this project's own",
    "  cost (and the stand-in's registry); OpenAI itself warns that a background answer's first token comes later",
    "  than a plain one's. A resume is a `?last_event_id=` invocation: to the first text of the rest, from the",
    "  stored answer (one retrieve) or from the running one (one retrieve, then the stream after the last event).",
    "- Zip sizes are `cargo lambda build --release --arm64 --output-format zip`'s `target/lambda/<fn>/bootstrap.zip`.",
];

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
