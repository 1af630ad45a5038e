//! TCP_NODELAY on sockets this process already holds: the Lambda runtime's connections to the
//! Runtime API, which it opens itself with Nagle's algorithm on (see `runtime`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::BorrowedFd;

use socket2::SockRef;

/// `AWS_LAMBDA_RUNTIME_API` (`host:port`, `127.0.0.1:9001` on AWS) as a socket address.
pub fn resolve(runtime_api: &str) -> Option<SocketAddr> {
    let runtime_api = runtime_api.trim();
    runtime_api.parse().ok().or_else(|| runtime_api.to_socket_addrs().ok()?.next())
}

/// Sets TCP_NODELAY on every open TCP socket of this process connected to `peer`; returns how
/// many it found. Cheap (one directory read of a handful of descriptors, a few system calls),
/// so it runs before every invocation and also catches a connection the pool opened since.
pub fn set_on_connections_to(peer: SocketAddr) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return 0 };
    let mut found = 0;
    for fd in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        // SAFETY: the descriptor is only borrowed for the two calls below, on this thread; if it
        // was closed meanwhile the calls fail with EBADF, and a reused number is checked afresh.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&fd);
        let connected_to_peer = socket.peer_addr().ok().and_then(|a| a.as_socket()) == Some(peer);
        if connected_to_peer && socket.set_tcp_nodelay(true).is_ok() {
            found += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nodelay_only_on_connections_to_the_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to_peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let to_other = std::net::TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_peer.nodelay().unwrap() && !to_other.nodelay().unwrap());
        assert_eq!(set_on_connections_to(listener.local_addr().unwrap()), 1);
        assert!(to_peer.nodelay().unwrap(), "the connection to the Runtime API has TCP_NODELAY");
        assert!(!to_other.nodelay().unwrap(), "other connections are left alone");
    }

    #[test]
    fn resolves_the_runtime_api_address() {
        assert_eq!(resolve("127.0.0.1:9001"), Some("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(resolve("not an address"), None);
    }
}
