//! A TCP proxy that breaks one SSE stream mid-answer, the way a lost network does: the page is
//! loaded through it, so the page's relative chat-stream URL goes through it too, and a real
//! browser's EventSource meets a connection reset with the answer half sent.
//!
//! Armed at start, it cuts (RST, to both the browser and the server) the first proxied
//! connection whose server→client bytes carry a `text/event-stream` answer, once it has relayed
//! `after` unnamed `data:` events of it (the text deltas), then disarms: the browser's
//! reconnect, and everything else, passes untouched. The count is of whole event blocks in the
//! bytes as they pass (HTTP/1.1 chunk-size lines do not look like `data:` lines), so the cut
//! lands between events or inside one, as a real network's would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Stopped (with every connection it relays) when dropped.
pub struct CuttingProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    target: SocketAddr,
    /// Unnamed events to relay before the cut; 0 once disarmed.
    armed_after: AtomicUsize,
    cuts: AtomicUsize,
    connections: AtomicUsize,
}

impl CuttingProxy {
    /// Listens on a free loopback port, forwarding to `target`, armed to cut the first SSE
    /// stream after `after` unnamed events (`after == 0`: never cuts).
    pub async fn start(target: SocketAddr, after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target,
            armed_after: AtomicUsize::new(after),
            cuts: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                relays.spawn(relay(client, accepting.clone()));
            }
        });
        Self { addr, shared, task }
    }

    /// `http://<proxy>` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many streams it has cut (0 or 1).
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// How many client connections it has accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every relay with it.
        self.task.abort();
    }
}

/// Counts the unnamed events in the SSE bytes of one connection as they pass.
#[derive(Default)]
struct SseCounter {
    in_stream: bool,
    /// Bytes seen before the stream's headers were recognised (headers can span reads).
    head: Vec<u8>,
    /// The current, not yet complete, event block (carriage returns removed).
    block: Vec<u8>,
    unnamed: usize,
}

impl SseCounter {
    /// Takes in server→client bytes; the unnamed events seen so far in an SSE answer.
    fn feed(&mut self, bytes: &[u8]) -> usize {
        if !self.in_stream {
            self.head.extend_from_slice(bytes);
            let lower = self.head.to_ascii_lowercase();
            let Some(at) = find(&lower, b"text/event-stream") else {
                // Keep only a tail long enough to catch the header split across reads.
                let keep = self.head.len().saturating_sub(64);
                self.head.drain(..keep);
                return 0;
            };
            self.in_stream = true;
            let body_at = find(&self.head[at..], b"\r\n\r\n").map(|i| at + i + 4).unwrap_or(self.head.len());
            let body = self.head.split_off(body_at);
            self.head.clear();
            self.count(&body);
            return self.unnamed;
        }
        self.count(bytes);
        self.unnamed
    }

    fn count(&mut self, bytes: &[u8]) {
        for &byte in bytes.iter().filter(|b| **b != b'\r') {
            if byte == b'\n' && self.block.last() == Some(&b'\n') {
                let block = std::mem::take(&mut self.block);
                let lines: Vec<&[u8]> = block.split(|b| *b == b'\n').collect();
                let has_data = lines.iter().any(|l| l.starts_with(b"data:"));
                let named = lines.iter().any(|l| l.starts_with(b"event:"));
                if has_data && !named {
                    self.unnamed += 1;
                }
            } else {
                self.block.push(byte);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Relays one client connection both ways until either side is done, or cuts it.
async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(shared.target).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let mut counter = SseCounter::default();
    let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut client_done, mut server_done) = (false, false);
    while !(client_done && server_done) {
        tokio::select! {
            read = client.read(&mut up), if !client_done => match read {
                Ok(0) | Err(_) => {
                    client_done = true;
                    let _ = server.shutdown().await;
                }
                Ok(n) => {
                    if server.write_all(&up[..n]).await.is_err() {
                        return;
                    }
                }
            },
            read = server.read(&mut down), if !server_done => match read {
                Ok(0) | Err(_) => {
                    server_done = true;
                    let _ = client.shutdown().await;
                }
                Ok(n) => {
                    if client.write_all(&down[..n]).await.is_err() {
                        return;
                    }
                    let after = shared.armed_after.load(Ordering::SeqCst);
                    if after > 0 && counter.feed(&down[..n]) >= after && disarm(&shared, after) {
                        // SO_LINGER 0: closing sends RST, not FIN, on both sides; nothing is
                        // flushed or closed cleanly, as when a network path dies.
                        let _ = (client.set_zero_linger(), server.set_zero_linger());
                        return;
                    }
                }
            },
        }
    }
}

/// Disarms the proxy; true for the one connection that gets to cut.
fn disarm(shared: &Shared, after: usize) -> bool {
    let won = shared.armed_after.compare_exchange(after, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok();
    if won {
        shared.cuts.fetch_add(1, Ordering::SeqCst);
    }
    won
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_unnamed_events_across_reads_and_chunk_lines() {
        let mut counter = SseCounter::default();
        assert_eq!(counter.feed(b"HTTP/1.1 200 OK\r\ncontent-type: text/event"), 0);
        assert_eq!(
            counter.feed(b"-stream\r\ntransfer-encoding: chunked\r\n\r\n1c\r\nevent: start\ndata: [START]\n\n\r\n"),
            0
        );
        assert_eq!(counter.feed(b"20\r\nevent: response\nid: t0\ndata: {}\n\n\r\n10\r\nid: t1\ndata: w0\n\n\r\n"), 1);
        assert_eq!(counter.feed(b"10\r\nid: t2\ndata: a\ndata: b\n"), 1);
        assert_eq!(counter.feed(b"\n\r\n10\r\n: ping\n\n\r\n"), 2);
    }

    #[test]
    fn ignores_bytes_that_are_not_an_event_stream() {
        let mut counter = SseCounter::default();
        assert_eq!(counter.feed(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\ndata: x\n\ndata: y\n\n"), 0);
    }
}
