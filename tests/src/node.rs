//! The JavaScript halves of the browser and AI SDK tests: `node --test` in a folder of tests/.

use std::process::Command;

/// Runs `script` with `node --test` in `tests/<dir>` with `env`; its report (also printed), and
/// whether it passed.
pub async fn node_test(dir: &'static str, script: &'static str, env: Vec<(&'static str, String)>) -> (String, bool) {
    let dir = crate::workspace_root().join("tests").join(dir);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "--test-reporter=spec", "--test-timeout=60000", script])
            .current_dir(&dir)
            .envs(env)
            .output()
    })
    .await
    .expect("join")
    .expect("run node (its packages are installed by scripts/test)");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    (report, output.status.success())
}
