//! A TCP proxy that loses the answer to a request that did arrive, the way a connection reset
//! after sending does: the first request of a connection that `matches` is forwarded whole to
//! the target, and the client's connection is then closed with no answer, up to `times` times.
//! Everything else passes untouched. The client cannot tell whether its request arrived, which
//! is what retries of non-idempotent writes (a DynamoDB `ADD`, an OpenAI create) get wrong.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Stopped (with every connection it relays) when dropped.
pub struct LosingProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    target: SocketAddr,
    matches: fn(&[u8]) -> bool,
    left: AtomicUsize,
    lost: AtomicUsize,
    /// The target's side of each lost request, kept open so the target finishes handling it.
    kept: Mutex<Vec<TcpStream>>,
}

impl LosingProxy {
    pub async fn start(target: SocketAddr, matches: fn(&[u8]) -> bool, times: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target,
            matches,
            left: AtomicUsize::new(times),
            lost: AtomicUsize::new(0),
            kept: Mutex::default(),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                relays.spawn(relay(client, accepting.clone()));
            }
        });
        Self { addr, shared, task }
    }

    /// `http://<proxy>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many answers it has lost.
    pub fn lost(&self) -> usize {
        self.shared.lost.load(Ordering::SeqCst)
    }
}

impl Drop for LosingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok(mut server) = TcpStream::connect(shared.target).await else { return };
    let first = read_request(&mut client).await;
    if server.write_all(&first).await.is_err() {
        return;
    }
    let lose = (shared.matches)(&first)
        && shared.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if lose {
        shared.lost.fetch_add(1, Ordering::SeqCst);
        shared.kept.lock().unwrap_or_else(|e| e.into_inner()).push(server);
        return; // dropping `client` closes it: the request arrived, its answer never does
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// One HTTP/1.1 request's bytes: its head, then `Content-Length` bytes of body (all these
/// clients send a length); whatever was read when the connection ends early.
async fn read_request(client: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) {
            let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if bytes.len() >= head_end + length {
                return bytes;
            }
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return bytes,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}
