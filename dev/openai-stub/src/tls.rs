//! The stand-in behind TLS, as OpenAI is: a test certificate authority made at run time, a
//! certificate for `localhost` and 127.0.0.1 that it signs, and a listener that does the
//! handshake before axum sees the connection. A client trusts the authority by configuration
//! (`SSL_CERT_FILE` for the functions, whose roots come from the platform's usual places).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A handshake that takes longer than this is dropped, so one stuck client cannot stop accepts.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);

/// A certificate authority of one test run and the server certificate it signed.
pub struct TestCa {
    /// The authority's certificate (PEM), for the client's trust store.
    pub ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Result<Self, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "openai-stub test CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate()?;
        let server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        let server_cert = server_params.signed_by(&server_key, &issuer)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            server_chain: vec![server_cert.der().clone(), ca_cert.der().clone()],
            server_key: server_key.serialize_der(),
        })
    }

    fn acceptor(&self) -> std::io::Result<TlsAcceptor> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(self.server_chain.clone(), key))
            .map_err(std::io::Error::other)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Accepts TCP connections (TCP_NODELAY on, counted) and completes their TLS handshakes.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    on_accept: Arc<dyn Fn() + Send + Sync>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, ca: &TestCa, on_accept: Arc<dyn Fn() + Send + Sync>) -> std::io::Result<Self> {
        Ok(Self { tcp, acceptor: ca.acceptor()?, on_accept })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            (self.on_accept)();
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_LIMIT, self.acceptor.accept(tcp)).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
