//! HTTP/2 connections (the gRPC listener) served on the `h2` crate directly, so that a
//! unary call costs one task, not two.
//!
//! hyper's HTTP/2 server spawns every stream as a task of its own beside the
//! connection's: each call then takes a spawn and two cross-task wake-ups (the stream's
//! task waking the connection's to write), and the answer's three frames (headers, data,
//! trailers) are often flushed in separate writes as the two tasks race on two cores. A
//! gRPC call therefore cost ~20 µs more host CPU than an HTTP/1 request (issue #22's
//! bench). Here the first stream in flight on a connection runs *inline*, in the
//! connection's own task, and its frames are written together the next time the
//! connection is polled. Streams that arrive while one is in flight are spawned as hyper
//! would, so one connection carrying many concurrent calls (a Triton client's single
//! channel) still uses every core.
//!
//! The socket under `h2` (`socket.rs`) holds back what a poll of the connection writes and
//! sends it in one write when the task would wait, and reads through a 32 KiB buffer, so a
//! call of a few KiB costs one read and one write, as over HTTP/1.
//!
//! Kept from hyper's server: its window sizes, stream and header limits, keep-alive pings
//! (a peer that stops answering them is dropped), a stream reset by the peer cancels its
//! call, and an answer's body is sent within the peer's flow-control window.

mod socket;

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use h2::server::SendResponse;
use h2::{Ping, PingPong, Reason, RecvStream, SendStream};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// hyper's defaults for its server, which the listener had before.
const WINDOW: u32 = 1024 * 1024;
const MAX_CONCURRENT_STREAMS: u32 = 200;
const MAX_HEADER_LIST: u32 = 16 * 1024;
const MAX_SEND_BUFFER: usize = 400 * 1024;

/// A stream's call and answer, boxed: inline or spawned, it is the same future.
type StreamTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves one HTTP/2 connection's streams with `app` until the peer closes it, it fails,
/// or `stop` resolves; then it says GOAWAY and gives open streams `drain` to finish.
/// `keep_alive` is both the interval between pings and the time a pong may take; the
/// connection preface must arrive within it too.
pub(crate) async fn serve<I>(
    io: I,
    peer: SocketAddr,
    app: axum::Router,
    keep_alive: Duration,
    drain: Duration,
    stop: impl Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let (io, mut writer) = socket::split(io);
    let handshake = h2::server::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .handshake::<_, Bytes>(io);
    let Ok(connection) = tokio::time::timeout(keep_alive, handshake).await else {
        tracing::debug!(%peer, "no HTTP/2 preface in time");
        return Ok(());
    };
    let mut connection = connection?;
    let mut pings = KeepAlive::new(connection.ping_pong(), keep_alive);
    let mut inline: FuturesUnordered<StreamTask> = FuturesUnordered::new();
    let mut stop = std::pin::pin!(stop);
    let mut draining: Option<Pin<Box<Sleep>>> = None;
    let served: Result<(), Box<dyn std::error::Error + Send + Sync>> = poll_fn(|cx| {
        loop {
            match &mut draining {
                None => {
                    if stop.as_mut().poll(cx).is_ready() {
                        connection.graceful_shutdown();
                        draining = Some(Box::pin(tokio::time::sleep(drain)));
                    }
                }
                Some(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        tracing::debug!(%peer, "connection closed with streams still open");
                        return Poll::Ready(Ok(()));
                    }
                }
            }
            if pings.poll_timed_out(cx) {
                tracing::debug!(%peer, "keep-alive ping unanswered, closing the connection");
                connection.abrupt_shutdown(Reason::NO_ERROR);
            }
            // Every stream that has arrived is taken before any runs, so that a call
            // which holds the thread (a model that does not yield) cannot keep the
            // streams behind it from being spawned onto other cores.
            loop {
                match connection.poll_accept(cx) {
                    Poll::Ready(Some(Ok((request, respond)))) => {
                        let task = Box::pin(answer(app.clone(), peer, request, respond));
                        if inline.is_empty() {
                            inline.push(task);
                        } else {
                            tokio::spawn(task);
                        }
                    }
                    Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error.into())),
                    // Every stream has ended (h2 waits for them) and the connection is
                    // closed.
                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                    Poll::Pending => break,
                }
            }
            // The inline stream; once it has answered, `poll_accept` writes its frames
            // (into the socket's buffer, sent below when nothing is left to do).
            let mut answered = false;
            while let Poll::Ready(Some(())) = inline.poll_next_unpin(cx) {
                answered = true;
            }
            if !answered {
                // Everything this poll wrote leaves together.
                if let Poll::Ready(Err(error)) = writer.poll_send(cx) {
                    return Poll::Ready(Err(error.into()));
                }
                return Poll::Pending;
            }
        }
    })
    .await;
    // The last frames (a GOAWAY) and the end of the connection, unless the peer is gone.
    if let Err(error) = tokio::time::timeout(keep_alive, writer.finish())
        .await
        .unwrap_or(Ok(()))
    {
        tracing::debug!(%peer, %error, "closing the connection failed");
    }
    served
}

/// Calls `app` with one stream's request and sends its answer.
async fn answer(
    app: axum::Router,
    peer: SocketAddr,
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) {
    let mut request: Request = request.map(|stream| {
        Body::new(Incoming {
            stream,
            data_done: false,
        })
    });
    request.extensions_mut().insert(ConnectInfo(peer));
    let mut call = std::pin::pin!(app.oneshot(request));
    let response = poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(Ok(response)) => Poll::Ready(Some(response)),
        Poll::Ready(Err(never)) => match never {},
        // The peer reset the stream (a cancelled call): its work is dropped.
        Poll::Pending => match respond.poll_reset(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        },
    })
    .await;
    let Some(response) = response else { return };
    let (head, body) = response.into_parts();
    let end = body.is_end_stream();
    let sending = match respond.send_response(http::Response::from_parts(head, ()), end) {
        Ok(sending) => sending,
        Err(error) => {
            tracing::debug!(%peer, %error, "sending an answer's headers failed");
            respond.send_reset(Reason::INTERNAL_ERROR);
            return;
        }
    };
    if !end && let Err(error) = send_body(body, sending).await {
        tracing::debug!(%peer, %error, "sending an answer's body failed");
    }
}

/// Sends `body`'s data within the peer's flow-control window, then its trailers (or an
/// empty end of stream).
async fn send_body(body: Body, mut sending: SendStream<Bytes>) -> Result<(), h2::Error> {
    let mut body = std::pin::pin!(body);
    loop {
        let frame = poll_fn(|cx| {
            if let Poll::Ready(reason) = sending.poll_reset(cx)? {
                return Poll::Ready(Err(h2::Error::from(reason)));
            }
            body.as_mut().poll_frame(cx).map(Ok)
        })
        .await?;
        let frame = match frame {
            None => return sending.send_data(Bytes::new(), true),
            Some(Err(error)) => {
                tracing::debug!(%error, "an answer's body failed");
                sending.send_reset(Reason::INTERNAL_ERROR);
                return Ok(());
            }
            Some(Ok(frame)) => frame,
        };
        match frame.into_data() {
            Ok(data) => {
                let end = body.is_end_stream();
                send_data(&mut sending, data, end).await?;
                if end {
                    return Ok(());
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    return sending.send_trailers(trailers);
                }
            }
        }
    }
}

/// Sends `data` as the peer's window allows (ending the stream with it if `end`).
async fn send_data(
    sending: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
) -> Result<(), h2::Error> {
    if data.is_empty() {
        // An empty chunk needs no window; only a last one is worth a frame.
        return if end {
            sending.send_data(data, true)
        } else {
            Ok(())
        };
    }
    while !data.is_empty() {
        sending.reserve_capacity(data.len());
        let granted = poll_fn(|cx| sending.poll_capacity(cx))
            .await
            .ok_or_else(|| h2::Error::from(Reason::CANCEL))??;
        if granted == 0 {
            continue;
        }
        let chunk = data.split_to(granted.min(data.len()));
        sending.send_data(chunk, end && data.is_empty())?;
    }
    Ok(())
}

/// A request's body: the stream's data, returning its flow-control window as it is read,
/// then its trailers.
struct Incoming {
    stream: RecvStream,
    data_done: bool,
}

impl http_body::Body for Incoming {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    self.stream.flow_control().release_capacity(data.len())?;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => self.data_done = true,
            }
        }
        let trailers = ready!(self.stream.poll_trailers(cx)).transpose();
        Poll::Ready(trailers.map(|trailers| trailers.map(Frame::trailers)))
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }
}

/// Pings the peer every `interval` and notices when a pong takes longer than that.
struct KeepAlive {
    pings: Option<PingPong>,
    interval: Duration,
    next: Pin<Box<Sleep>>,
    /// When the unanswered ping was sent.
    awaiting: Option<Instant>,
}

impl KeepAlive {
    fn new(pings: Option<PingPong>, interval: Duration) -> Self {
        Self {
            pings,
            interval,
            next: Box::pin(tokio::time::sleep(interval)),
            awaiting: None,
        }
    }

    /// Whether the last ping went unanswered for longer than the interval.
    fn poll_timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(pings) = &mut self.pings else {
            return false;
        };
        if self.awaiting.is_some() && pings.poll_pong(cx).is_ready() {
            self.awaiting = None;
        }
        if self.next.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        self.next.as_mut().reset(now + self.interval);
        // Polled once more so the new deadline wakes this task.
        let _ = self.next.as_mut().poll(cx);
        match self.awaiting {
            Some(sent) => now.duration_since(sent) >= self.interval,
            None => {
                if pings.send_ping(Ping::opaque()).is_ok() {
                    self.awaiting = Some(now);
                    let _ = pings.poll_pong(cx);
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{DuplexStream, ReadBuf};

    use super::*;

    /// An in-memory socket that counts the writes made on it.
    struct Counted {
        io: DuplexStream,
        writes: Arc<AtomicUsize>,
    }

    impl Counted {
        fn count(&self, written: &std::io::Result<usize>) {
            if matches!(written, Ok(n) if *n > 0) {
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let written = ready!(Pin::new(&mut self.io).poll_write(cx, buf));
            self.count(&written);
            Poll::Ready(written)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_shutdown(cx)
        }
    }

    /// A gRPC answer's shape: more data than `h2` copies into its write buffer, then
    /// trailers.
    struct Answer {
        data: Option<Bytes>,
        trailers: Option<http::HeaderMap>,
    }

    impl http_body::Body for Answer {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if let Some(data) = self.data.take() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
        }
    }

    async fn call(client: &mut h2::client::SendRequest<Bytes>) -> (usize, Option<http::HeaderMap>) {
        let request = http::Request::post("http://localhost/").body(()).unwrap();
        let (response, _) = client.send_request(request, true).unwrap();
        let mut body = response.await.unwrap().into_body();
        let mut length = 0;
        while let Some(data) = body.data().await {
            let data = data.unwrap();
            length += data.len();
            body.flow_control().release_capacity(data.len()).unwrap();
        }
        (length, body.trailers().await.unwrap())
    }

    #[tokio::test]
    async fn an_answers_headers_data_and_trailers_leave_in_one_write() {
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(|| async {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                Body::new(Answer {
                    data: Some(Bytes::from(vec![7; 3 * 1024])),
                    trailers: Some(trailers),
                })
            }),
        );
        let (client, server) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(AtomicUsize::new(0));
        let server = Counted {
            io: server,
            writes: Arc::clone(&writes),
        };
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let minute = Duration::from_secs(60);
        tokio::spawn(serve(
            server,
            peer,
            app,
            minute,
            minute,
            std::future::pending(),
        ));
        let (mut client, connection) = h2::client::handshake(client).await.unwrap();
        tokio::spawn(connection);
        // The first call also carries the settings' exchange.
        call(&mut client).await;
        let before = writes.load(Ordering::Relaxed);
        let (length, trailers) = call(&mut client).await;
        assert_eq!(length, 3 * 1024);
        assert_eq!(trailers.unwrap()["grpc-status"], "0");
        assert_eq!(writes.load(Ordering::Relaxed) - before, 1);
    }
}
