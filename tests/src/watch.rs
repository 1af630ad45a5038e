//! The functions under `cargo lambda watch`, started the way the run command starts them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `cargo lambda watch` on a free loopback port; stopped, with every process it
/// started, when dropped.
pub struct LambdaWatch {
    child: Child,
    pub base_url: String,
    pub log_path: PathBuf,
}

impl LambdaWatch {
    /// In an env value, stands for the watch's own origin (`http://127.0.0.1:<port>`), known only
    /// once its port is chosen: the page's origin, as the template puts it in `ALLOWED_ORIGINS`.
    pub const OWN_ORIGIN: &'static str = "{own origin}";

    /// Starts the watch with `env` added to this process's environment, and waits until the
    /// `index` function answers (the first call compiles the functions).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with_args(&[], env).await
    }

    /// Like [`LambdaWatch::start`], with the limits on in `table` of `dynamo`, as deployed.
    pub async fn start_with_limits(env: &[(&str, &str)], dynamo: &crate::Dynalite, table: &str) -> Self {
        Self::start(&[env, &dynamo.limits_env(table)].concat()).await
    }

    /// Like [`LambdaWatch::start`], with extra `cargo lambda watch` arguments (`--release`).
    pub async fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> Self {
        chat_core::tls::install_crypto_provider();
        let root = workspace_root();
        let port = free_port();
        let log_path = root.join("target").join(format!("lambda-watch-{port}.log"));
        prebuild(&root, args.contains(&"--release"));
        let log = std::fs::File::create(&log_path).expect("create the watch log");
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", &port.to_string()])
            .args(["--concurrency", "64"])
            .args(args)
            .current_dir(&root)
            .env("PATH", path_with_venv(&root))
            .env("RUST_LOG", "info")
            // cargo's own lines ("Blocking waiting for file lock") would land mid-way through
            // a function's JSON log line: both reach the emulator's output through one pipe.
            .env("CARGO_TERM_QUIET", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        let origin = format!("http://127.0.0.1:{port}");
        for (name, value) in env {
            command.env(name, value.replace(Self::OWN_ORIGIN, &origin));
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("start `cargo lambda watch` (is cargo-lambda installed? run scripts/test)");
        let watch = Self { child, base_url: origin, log_path };
        watch.wait_until_ready().await;
        watch
    }

    /// The URL of `function`, e.g. `url("chat-stream")`.
    pub fn url(&self, function: &str) -> String {
        format!("{}/lambda-url/{function}", self.base_url)
    }

    /// Teaches the emulator that the chat functions stream: it buffers the first answer of each
    /// new instance. A blank message is a 400 that never goes upstream. The pause lets the
    /// instance poll for work again, so the next request reuses it instead of starting another.
    pub async fn warm_up(&self) {
        for function in ["chat-stream", "chat-complete"] {
            let response = reqwest::get(format!("{}?message=", self.url(function))).await.expect("warm-up request");
            assert_eq!(response.status(), 400, "warm-up of {function}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// Everything the functions and the emulator logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn wait_until_ready(&self) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        // Compiling the functions on the first call can take a while on a cold cache.
        while started.elapsed() < Duration::from_secs(600) {
            if let Ok(response) = client.get(self.url("index")).timeout(Duration::from_secs(300)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("cargo lambda watch did not serve the index function in time; log:\n{}", self.log());
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(200));
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Builds each function as the emulator's `cargo run --bin <function>` will, so its first call
/// does not compile while requests pile up and start more instances.
fn prebuild(root: &Path, release: bool) {
    for function in ["chat-complete", "chat-stream", "index"] {
        let mut command = Command::new("cargo");
        command.args(["build", "--quiet", "--bin", function]).current_dir(root);
        if release {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "cargo build --bin {function} failed");
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// PATH with the project's virtualenv (where the test command installs cargo-lambda) first.
fn path_with_venv(root: &Path) -> String {
    let venv = root.join(".venv").join("bin");
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", venv.display())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
