//! Cold start: from exec until the function first asks the Lambda Runtime API for work,
//! measured against a minimal Runtime API stand-in that only notes that first request.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Milliseconds from spawning `binary` to its first `GET .../runtime/invocation/next`.
pub async fn init_ms(binary: &Path, env: &[(&str, &str)]) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = listener.local_addr().expect("addr").to_string();
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("function").to_owned();
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn the function");
    let elapsed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut head = vec![0u8; 1024];
            let n = socket.read(&mut head).await.unwrap_or(0);
            if String::from_utf8_lossy(&head[..n]).contains("/runtime/invocation/next") {
                return started.elapsed();
            }
        }
    })
    .await
    .expect("the function polled the Runtime API");
    let _ = child.kill().await;
    elapsed.as_secs_f64() * 1000.0
}
