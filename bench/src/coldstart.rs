//! Cold start: from exec until the function first asks the Lambda Runtime API for work, with
//! the process started in this shell's own environment (plus the Lambda variables), as it would
//! be on a developer's machine, not in an emptied one.

use std::path::Path;
use std::time::Duration;

use test_harness::runtime_api::RuntimeApi;

use crate::measure::millis;

/// Milliseconds from spawning `binary` to its first `GET .../runtime/invocation/next`.
pub async fn init_ms(binary: &Path, env: &[(&str, &str)]) -> f64 {
    let api = RuntimeApi::start().await.expect("start the Runtime API stand-in");
    api.spawn(binary, env).unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let init = api.wait_ready(Duration::from_secs(10)).await;
    let init = init.unwrap_or_else(|| panic!("{} never polled the Runtime API; log:\n{}", binary.display(), api.log()));
    millis(init)
}
