//! A tiny HTTP/1.1 client for the stand-in's tests: the crate has no HTTP client among its
//! dependencies, and one request per connection with `Connection: close` is all they need.

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;
use tokio::net::TcpStream;

pub const KEY: &str = "sk-test-key";

/// One answer, read to the end of its connection.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The raw bytes as they came, head and chunk framing included.
    pub raw: Vec<u8>,
    pub body: String,
    /// Whether the connection closed before the body's end: a chunked body without its last chunk.
    pub broken: bool,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The body's SSE events that are JSON, in order.
    pub fn events(&self) -> Vec<Value> {
        self.body
            .split("\n\n")
            .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    }

    pub fn kinds(&self) -> Vec<String> {
        self.events().iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, None, Some(KEY)).await
}

pub async fn post(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    send(addr, "POST", path, Some(&body.to_string()), Some(KEY)).await
}

/// Creates a response for `input`, `background` and `stream` with the stand-in's test key.
pub async fn create(addr: SocketAddr, input: &str, background: bool, stream: bool) -> Reply {
    let body = serde_json::json!({"model": "gpt-4o-mini", "input": input, "background": background, "stream": stream});
    post(addr, "/v1/responses", &body).await
}

pub async fn send(addr: SocketAddr, method: &str, path: &str, body: Option<&str>, key: Option<&str>) -> Reply {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let body = body.unwrap_or_default();
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    write_all(&tcp, format!("{head}{body}").as_bytes()).await;
    parse(read_to_end(&tcp).await)
}

/// Writes all of `bytes` (tokio's `io-util` extension traits are not among the crate's features).
async fn write_all(tcp: &TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        tcp.writable().await.expect("writable");
        match tcp.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Reads until the server closes the connection, cleanly or not.
async fn read_to_end(tcp: &TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if tcp.readable().await.is_err() {
            return raw;
        }
        match tcp.try_read(&mut buf) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return raw,
        }
    }
}

fn parse(raw: Vec<u8>) -> Reply {
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let (body, broken) = if chunked { dechunk(rest) } else { (rest.to_owned(), false) };
    Reply { status, raw, body, broken }
}

/// Joins a chunked body; `true` when its terminating empty chunk never came.
fn dechunk(mut rest: &str) -> (String, bool) {
    let mut body = String::new();
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else { return (body, true) };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { return (body, true) };
        if size == 0 {
            return (body, false);
        }
        let Some(chunk) = after.get(..size) else { return (body, true) };
        body.push_str(chunk);
        rest = after.get(size + 2..).unwrap_or_default();
    }
}
