//! "Fully sent": the moment the last byte of a request went to the socket, the
//! start of the request-cancellation timer (`docs/load-modes.md` §9).
//!
//! Every `http://` request goes over the worker's own HTTP/1.1 connections
//! ([`crate::pool`]), driven by hyper directly, whose sockets are wrapped in
//! [`SentIo`]: the signal fires when the body has been handed over ([`FlagBody`]
//! dropped by hyper) **and** the socket has then been flushed, i.e. every byte of
//! the request was accepted by the kernel's send buffer. This is exact up to the
//! kernel: it is not the moment the server read the bytes (microseconds on
//! loopback; on a congested link, the time for the send buffer to drain).
//! Aborting the exchange drops its connection, which aborts the connection task
//! and closes the socket.
//!
//! For `https://` URLs the request goes through reqwest with its body as a
//! [`SentBody`] stream (explicit `Content-Length`, so the wire format is the same):
//! the signal fires when hyper has taken the last chunk into its write buffer. That
//! is earlier than the socket flush by the time needed to write what the buffer
//! still held, so a zero delay may close the connection before the server has read
//! the whole request.

use aiperf_clock::mono_ns;
use bytes::Bytes;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The "fully sent" moment of one request (monotonic ns), set once.
#[derive(Default)]
pub struct SentSignal {
    at: OnceLock<u64>,
    body_done: AtomicBool,
    notify: tokio::sync::Notify,
}

impl SentSignal {
    /// A fresh signal.
    pub fn new() -> Arc<SentSignal> {
        Arc::new(SentSignal::default())
    }

    fn fire(&self) {
        if self.at.set(mono_ns()).is_ok() {
            self.notify.notify_waiters();
        }
    }

    /// Waits until the request was fully sent; returns that moment (monotonic ns).
    pub async fn wait(&self) -> u64 {
        loop {
            let notified = self.notify.notified();
            if let Some(t) = self.at.get() {
                return *t;
            }
            notified.await;
        }
    }

    /// The moment, if it happened.
    pub fn get(&self) -> Option<u64> {
        self.at.get().copied()
    }
}

/// The [`SentSignal`] of the request currently on one connection (a pooled
/// connection carries one request after the other), and the connection's socket
/// for [`SignalSlot::peer_closed`].
#[derive(Default)]
pub struct SignalSlot {
    signal: std::sync::Mutex<Option<Arc<SentSignal>>>,
    /// Bytes read from the socket since the current request began.
    read: std::sync::atomic::AtomicU64,
    /// The socket while [`SentIo`] owns it (cleared by its drop, before the close).
    #[cfg(unix)]
    fd: std::sync::Mutex<Option<std::os::fd::RawFd>>,
}

impl SignalSlot {
    /// An empty slot (no request yet).
    pub fn new() -> Arc<SignalSlot> {
        Arc::new(SignalSlot::default())
    }

    /// A request starts on this connection: its signal replaces the previous one.
    pub fn begin(&self, signal: Arc<SentSignal>) {
        *self.signal.lock().expect("signal lock") = Some(signal);
        self.read.store(0, Ordering::Relaxed);
    }

    /// Bytes read from the connection since the current request began.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Whether the server has closed or reset the (idle) connection, or sent bytes
    /// nobody asked for: a non-blocking peek at the socket, which sees a FIN the
    /// connection's task has not read yet. A connection for which this is true
    /// must not carry a request.
    pub fn peer_closed(&self) -> bool {
        #[cfg(unix)]
        {
            let fd = self.fd.lock().expect("fd lock");
            let Some(fd) = *fd else {
                return true;
            };
            let mut byte = 0u8;
            // SAFETY: `fd` is open while it is in the slot (the lock is held, and
            // `SentIo` clears the slot under it before its socket closes); the
            // buffer is one valid byte.
            let n = unsafe {
                libc::recv(
                    fd,
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error().kind();
                return e != std::io::ErrorKind::WouldBlock && e != std::io::ErrorKind::Interrupted;
            }
            true
        }
        #[cfg(not(unix))]
        false
    }

    fn flushed(&self) {
        let signal = self.signal.lock().expect("signal lock");
        if let Some(s) = signal.as_ref()
            && s.body_done.load(Ordering::Acquire)
            && s.get().is_none()
        {
            s.fire();
        }
    }
}

/// A socket that fires the current request's [`SentSignal`] at the first
/// completed flush after its body was handed over.
pub struct SentIo<T> {
    inner: T,
    slot: Arc<SignalSlot>,
}

impl SentIo<tokio::net::TcpStream> {
    /// Wraps `inner`.
    pub fn new(inner: tokio::net::TcpStream, slot: Arc<SignalSlot>) -> Self {
        #[cfg(unix)]
        {
            *slot.fd.lock().expect("fd lock") = Some(std::os::fd::AsRawFd::as_raw_fd(&inner));
        }
        SentIo { inner, slot }
    }
}

impl<T> Drop for SentIo<T> {
    fn drop(&mut self) {
        // Before `inner` (dropped after this) closes the socket.
        #[cfg(unix)]
        {
            *self.slot.fd.lock().expect("fd lock") = None;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SentIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.slot.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SentIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // hyper flushes the socket after writing every byte it buffered.
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(r, Poll::Ready(Ok(()))) {
            self.slot.flushed();
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A whole request body that marks its [`SentSignal`] when hyper is done with it
/// (hyper drops a body of known length right after queueing its last byte).
pub struct FlagBody {
    data: Option<Bytes>,
    len: u64,
    signal: Arc<SentSignal>,
}

impl FlagBody {
    /// A body holding `data`.
    pub fn new(data: Bytes, signal: Arc<SentSignal>) -> Self {
        FlagBody {
            len: data.len() as u64,
            data: Some(data),
            signal,
        }
    }
}

impl http_body::Body for FlagBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.data.take().map(|d| Ok(http_body::Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

impl Drop for FlagBody {
    fn drop(&mut self) {
        if self.data.is_none() {
            self.signal.body_done.store(true, Ordering::Release);
        }
    }
}

/// Size of the chunks of a [`SentBody`].
const SENT_BODY_CHUNK: usize = 16 * 1024;

/// A reqwest request body (the `https://` fallback) that fires its signal when
/// hyper has taken its last chunk (asked past the end, or dropped it).
pub struct SentBody {
    bytes: Bytes,
    /// Body length (sent as `Content-Length`).
    pub len: usize,
    signal: Option<Arc<SentSignal>>,
}

impl SentBody {
    /// A body streaming `body`, firing `signal`.
    pub fn new(body: Bytes, signal: Arc<SentSignal>) -> SentBody {
        SentBody {
            len: body.len(),
            bytes: body,
            signal: Some(signal),
        }
    }
}

impl futures_util::Stream for SentBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.bytes.is_empty() {
            let n = self.bytes.len().min(SENT_BODY_CHUNK);
            return Poll::Ready(Some(Ok(self.bytes.split_to(n))));
        }
        if let Some(s) = self.signal.take() {
            s.fire();
        }
        Poll::Ready(None)
    }
}

impl Drop for SentBody {
    fn drop(&mut self) {
        if self.bytes.is_empty()
            && let Some(s) = self.signal.take()
        {
            s.fire();
        }
    }
}

/// Aborts a spawned task when dropped (the task driving a pooled connection).
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a request over the worker's own connections ([`crate::pool`]) failed: what was being done and the error that stopped it.
#[derive(Debug)]
pub struct DirectError {
    /// The connection could not be opened (the request was never written).
    pub connect: bool,
    /// What failed, e.g. `cannot connect to 127.0.0.1:8000`.
    pub context: String,
    /// The underlying error, when there is one.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DirectError {
    pub(crate) fn connect(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        DirectError {
            connect: true,
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn transport(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        DirectError {
            connect: false,
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The record's error (see [`crate::errors::direct`]).
    pub fn details(
        &self,
        redact: &aiperf_export::redact::Redactor,
    ) -> aiperf_protocol::ErrorDetails {
        let source = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        crate::errors::direct(self.connect, &self.context, source, redact)
    }
}
