//! Accepting connections so that slow or idle clients cannot take the server: at most
//! `max_open` connections at once (one past that is closed as soon as it is accepted,
//! before anything is read), and a request's headers must arrive within
//! `header_read_timeout` or the connection is closed (a slowloris client, or one that
//! connects and never speaks). On shutdown no connection is accepted any more, every open
//! one finishes its in-flight request, and the call returns when they all have.
//!
//! axum's own `serve` sets no timer on hyper, so headers could take forever; this is the
//! same accept loop with those two limits. The REST listener speaks HTTP/1 (hyper); the
//! gRPC listener HTTP/2 ([`Speaks`], served on `h2` directly by `crate::http2`), whose
//! streams may be long-lived (a health `Watch`): on shutdown its connections get
//! [`HTTP2_DRAIN`] to finish, then are closed. Every connection has `TCP_NODELAY`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::http2;

/// How long an HTTP/2 connection's streams may take to finish once the server stops.
pub const HTTP2_DRAIN: Duration = Duration::from_secs(10);

/// The protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    /// HTTP/1.1 (the REST API).
    Http1,
    /// HTTP/2 only, with prior knowledge (gRPC).
    Http2,
}

/// The limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once; one more is closed on accept.
    pub max_open: usize,
    /// Time a request's headers may take to arrive (HTTP/1); for HTTP/2, the time the
    /// connection preface and each keep-alive ping's answer may take, and the interval
    /// between pings.
    pub header_read_timeout: Duration,
    /// The protocol.
    pub speaks: Speaks,
}

/// What the accept loop tells its owner (to count it in the owner's metrics).
pub trait ConnectionEvents: Send + Sync + 'static {
    /// A connection was closed on accept: too many were open.
    fn refused(&self);
    /// A TLS handshake failed or timed out: plain HTTP on a TLS port, a client that does
    /// not trust the certificate, or (mutual TLS) no or an untrusted client certificate.
    fn handshake_failed(&self);
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their in-flight requests. Requests see the peer's address as `ConnectInfo<SocketAddr>`.
/// `events` hears of each connection closed for being one too many and each failed TLS
/// handshake. With `tls`, every connection must complete a TLS handshake within the
/// header timeout first (plain HTTP is not answered).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    events: Arc<dyn ConnectionEvents>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_open));
    // Dropped to tell every connection to shut down gracefully; each task holds a
    // receiver until its connection is done, so `closed()` waits for all of them.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            events.refused();
            drop(stream);
            continue;
        };
        // An answer goes out as soon as it is written: with Nagle's algorithm, an HTTP/2
        // answer written while an earlier one is unacknowledged waits for the peer's
        // (delayed) ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY could not be set");
        }
        let app = app.clone();
        let stop = stop_rx.clone();
        let done = done_rx.clone();
        let tls = tls.clone();
        let events = Arc::clone(&events);
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, app, limits, stop).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
                    let error = match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, app, limits, stop).await;
                            None
                        }
                        Ok(Err(error)) => Some(error.to_string()),
                        Err(_) => Some("timed out".to_owned()),
                    };
                    if let Some(error) = error {
                        events.handshake_failed();
                        tracing::info!(%peer, %error, "TLS handshake failed");
                    }
                }
            }
            drop((permit, done));
        });
    }
    // Closed now, so that new connections are refused rather than left in the backlog
    // while the open ones finish.
    drop(listener);
    drop((stop_tx, stop_rx, done_rx));
    done_tx.closed().await;
}

/// Serves one connection's requests with `app` until it ends, or until `stop` asks
/// for a graceful end (HTTP/2 streams get [`HTTP2_DRAIN`]).
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if limits.speaks == Speaks::Http2 {
        let stop = async move {
            let _ = stop.changed().await;
        };
        let ended = http2::serve(io, peer, app, limits.header_read_timeout, HTTP2_DRAIN, stop);
        return log_end(peer, ended.await);
    }
    let service = app.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.map(axum::body::Body::new)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let service = TowerToHyperService::new(service);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(peer, result.map_err(Into::into)),
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            log_end(peer, connection.await.map_err(Into::into));
        }
    }
}

fn log_end(peer: SocketAddr, result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended");
    }
}
