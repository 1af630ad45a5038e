//! How the functions meet the Lambda Runtime API: `lambda_http`'s runtime, with one layer of our
//! own in front of every invocation that
//!
//! - turns Nagle's algorithm off on the runtime's connections to the Runtime API. lambda_runtime
//!   1.5 builds its client from `HttpConnector::new()` (TCP_NODELAY off) and takes none from the
//!   caller, so a streamed chunk that follows another before it is acknowledged waits for the
//!   Runtime API's delayed ACK (~40 ms). The layer sets the option on the sockets themselves,
//!   after the `next` poll and before the response goes out on the same pooled connection
//!   (see docs/upstream-runtime-nodelay.md for the fix we propose upstream);
//! - makes the Function URL event's raw path and query safe for `lambda_http`, which builds an
//!   `http::Uri` from them with `.expect(..)`: curl sends `"`, `<`, spaces, tabs or DEL unencoded,
//!   and such a request would otherwise panic inside the dependency. Each such byte is
//!   percent-encoded, which our strict query decoder turns back into the same text.

use std::future::Future;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use lambda_http::lambda_runtime::{Diagnostic, LambdaInvocation};
use lambda_http::tower::{Layer, Service};
use lambda_http::{Error, IntoResponse, Request, Response};

pub use crate::uri_safe::event_with_safe_uri;

/// Runs a buffered HTTP handler (chat-complete, index) behind the layer.
pub async fn run<R, S, E>(handler: S) -> Result<(), Error>
where
    S: Service<Request, Response = R, Error = E> + Send + 'static,
    S::Future: Send + 'static,
    R: IntoResponse + Send + Sync + 'static,
    E: std::fmt::Debug + Into<Diagnostic> + Send + 'static,
{
    lambda_http::runtime(handler).layer(RuntimeLayer::from_env()).run().await
}

/// Runs a response-streaming HTTP handler (chat-stream) behind the layer.
pub async fn run_streaming<S, B, E>(handler: S) -> Result<(), Error>
where
    S: Service<Request, Response = Response<B>, Error = E> + Send + 'static,
    S::Future: Send + 'static,
    E: std::fmt::Debug + Into<Diagnostic> + Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Into<bytes::Bytes> + Send,
    B::Error: Into<Error> + Send + std::fmt::Debug,
{
    lambda_http::streaming_runtime(handler).layer(RuntimeLayer::from_env()).run().await
}

/// The layer: where the Runtime API listens, so its sockets can be told apart from the others.
#[derive(Clone, Copy)]
pub struct RuntimeLayer {
    runtime_api: Option<SocketAddr>,
}

impl RuntimeLayer {
    fn from_env() -> Self {
        let address = std::env::var("AWS_LAMBDA_RUNTIME_API").ok();
        Self { runtime_api: address.as_deref().and_then(crate::nodelay::resolve) }
    }
}

impl<S> Layer<S> for RuntimeLayer {
    type Service = RuntimeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RuntimeService { inner, runtime_api: self.runtime_api }
    }
}

pub struct RuntimeService<S> {
    inner: S,
    runtime_api: Option<SocketAddr>,
}

impl<S> Service<LambdaInvocation> for RuntimeService<S>
where
    S: Service<LambdaInvocation>,
    S::Future: Future,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        if let Some(address) = self.runtime_api {
            crate::nodelay::set_on_connections_to(address);
        }
        if let Some(safe) = crate::uri_safe::event_with_safe_uri(&invocation.body) {
            invocation.body = safe;
        }
        self.inner.call(invocation)
    }
}
