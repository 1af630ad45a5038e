//! A real Secrets Manager emulator on loopback: moto's server, from the project's virtualenv.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::watch::workspace_root;

/// A running `moto_server`; stopped when dropped.
pub struct MotoServer {
    child: Child,
    pub port: u16,
}

impl MotoServer {
    /// Starts moto on `port` and waits until it answers.
    pub async fn start(port: u16) -> Self {
        chat_core::tls::install_crypto_provider();
        let binary = workspace_root().join(".venv").join("bin").join("moto_server");
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} (run scripts/test to install it): {e}", binary.display()));
        let server = Self { child, port };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if client.get(server.endpoint()).send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
