//! The connection's socket as `h2` sees it: reads through a buffer, and writes held back
//! until the connection's task has nothing left to do, then sent in one write.
//!
//! `h2` writes a data frame over 256 bytes apart from the frames after it, and reads into
//! whatever room its 8 KiB buffer has left. A gRPC answer of a few KiB (headers, data,
//! trailers) therefore left in two writes, and a request of a few KiB often took two
//! reads: twice the system calls, and on loopback twice the wake-ups of the peer
//! (issue #22's 64-row batches). Here every frame `h2` writes while the task runs is
//! appended to one buffer, which [`Writer::poll_send`] writes when the task would
//! otherwise wait.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf, ReadHalf, WriteHalf};

/// Room for several requests of a few KiB per read.
const READ_BUFFER: usize = 32 * 1024;
/// Past this much unsent, `h2`'s writes wait for the socket: the bound `h2` keeps on a
/// stream's buffered data, here on what one connection holds for a slow peer.
const MAX_UNSENT: usize = super::MAX_SEND_BUFFER;

/// What `h2` wrote and the socket has not taken yet.
#[derive(Default)]
struct Unsent {
    bytes: Vec<u8>,
    /// `h2`'s task, waiting for room in `bytes`.
    blocked: Option<Waker>,
}

/// Splits `io` into the side `h2` reads and writes, and the [`Writer`] that sends what it
/// wrote.
pub(super) fn split<I>(io: I) -> (Buffered<I>, Writer<I>)
where
    I: AsyncRead + AsyncWrite,
{
    let (read, write) = tokio::io::split(io);
    let unsent = Arc::new(Mutex::new(Unsent::default()));
    let buffered = Buffered {
        read: BufReader::with_capacity(READ_BUFFER, read),
        unsent: Arc::clone(&unsent),
    };
    (buffered, Writer { write, unsent })
}

fn lock(unsent: &Mutex<Unsent>) -> MutexGuard<'_, Unsent> {
    unsent
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The socket as `h2` uses it: buffered reads, and writes kept for the [`Writer`].
pub(super) struct Buffered<I> {
    read: BufReader<ReadHalf<I>>,
    unsent: Arc<Mutex<Unsent>>,
}

impl<I: AsyncRead> AsyncRead for Buffered<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl<I> Buffered<I> {
    /// Appends what `write` gives it, or waits while too much is unsent.
    fn keep(&self, cx: &mut Context<'_>, write: impl FnOnce(&mut Vec<u8>)) -> Poll<()> {
        let mut unsent = lock(&self.unsent);
        if unsent.bytes.len() >= MAX_UNSENT {
            unsent.blocked = Some(cx.waker().clone());
            return Poll::Pending;
        }
        write(&mut unsent.bytes);
        Poll::Ready(())
    }
}

impl<I: AsyncWrite> AsyncWrite for Buffered<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.keep(cx, |unsent| unsent.extend_from_slice(buf))
            .map(|()| Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut length = 0;
        self.keep(cx, |unsent| {
            for buf in bufs {
                unsent.extend_from_slice(buf);
                length += buf.len();
            }
        })
        .map(|()| Ok(length))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Nothing to do here: the [`Writer`] sends once the task has done all it can.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The [`Writer`] sends what is left and shuts the socket down when the connection
    /// has ended.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Sends what `h2` wrote.
pub(super) struct Writer<I> {
    write: WriteHalf<I>,
    unsent: Arc<Mutex<Unsent>>,
}

impl<I: AsyncWrite> Writer<I> {
    /// Writes everything unsent and flushes the socket; pending while the socket takes
    /// no more (this task is then woken when it does).
    pub(super) fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut unsent = lock(&self.unsent);
        let mut written = 0;
        let result = loop {
            if written == unsent.bytes.len() {
                break Pin::new(&mut self.write).poll_flush(cx);
            }
            match Pin::new(&mut self.write).poll_write(cx, &unsent.bytes[written..]) {
                Poll::Ready(Ok(0)) => break Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(error)) => break Poll::Ready(Err(error)),
                Poll::Pending => break Poll::Pending,
            }
        };
        unsent.bytes.drain(..written);
        if written > 0
            && let Some(blocked) = unsent.blocked.take()
        {
            blocked.wake();
        }
        result
    }

    /// Sends what is left and shuts the socket's writing side down.
    pub(super) async fn finish(mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_send(cx)).await?;
        tokio::io::AsyncWriteExt::shutdown(&mut self.write).await
    }
}
