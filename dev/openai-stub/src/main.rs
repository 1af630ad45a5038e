//! `openai-stub`: the local stand-in for the OpenAI Responses API, for offline runs.
//!
//! Usage: `openai-stub [--port N] [--delay-ms N] [--resume-window-ms N]` (defaults: 8010, 35 ms
//! between words, background responses can be streamed again for 600000 ms after creation).

use std::net::SocketAddr;
use std::time::Duration;

use openai_stub::{StubServer, StubState};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut port = 8010u16;
    let mut delay_ms = 35u64;
    let mut resume_window = openai_stub::DEFAULT_RESUME_WINDOW;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--port", Some(v)) => port = u16::try_from(v).unwrap_or(port),
            ("--delay-ms", Some(v)) => delay_ms = v,
            ("--resume-window-ms", Some(v)) => resume_window = Duration::from_millis(v),
            _ => {
                eprintln!("usage: openai-stub [--port N] [--delay-ms N] [--resume-window-ms N]");
                std::process::exit(2);
            }
        }
    }
    let state = StubState::new(Duration::from_millis(delay_ms), None);
    state.set_resume_window(resume_window);
    // Offline runs keep OpenAI's calendar: a model shut down today is gone here too.
    state.set_today(&openai_stub::real_today());
    let server = StubServer::start_with(state, SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("openai-stub: the local stand-in for OpenAI is listening on {}", server.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
