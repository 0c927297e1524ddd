//! "Fully sent": the moment the last byte of a request went to the socket, the
//! start of the request-cancellation timer (`docs/load-modes.md` §9).
//!
//! reqwest does not report that moment, so a request selected for cancellation
//! goes over a **dedicated HTTP/1.1 connection** driven by hyper directly
//! ([`send_direct`]) whose socket is wrapped in [`SentIo`]: the signal fires when
//! the body has been handed over ([`FlagBody`] dropped by hyper) **and** the socket
//! has then been flushed, i.e. every byte of the request was accepted by the
//! kernel's send buffer. This is exact up to the kernel: it is not the moment the
//! server read the bytes (microseconds on loopback; on a congested link, the time
//! for the send buffer to drain). The connection is set up before the request
//! start is stamped, so setup time never counts in the request's latency (as with
//! a warm pooled connection); aborting the exchange aborts the connection task,
//! which closes the socket.
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

/// A socket that fires its [`SentSignal`] at the first completed flush after the
/// request body was handed over.
pub struct SentIo<T> {
    inner: T,
    signal: Arc<SentSignal>,
}

impl<T> SentIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, signal: Arc<SentSignal>) -> Self {
        SentIo { inner, signal }
    }

    fn check(&self) {
        if self.signal.body_done.load(Ordering::Acquire) && self.signal.get().is_none() {
            self.signal.fire();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SentIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
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
            self.check();
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

/// Aborts a spawned task when dropped (the connection task of [`send_direct`]).
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A request sent over a dedicated connection, with its response head.
pub struct DirectResponse {
    /// The response (body still to read).
    pub response: hyper::Response<hyper::body::Incoming>,
    /// Keeps the connection alive; dropping it closes the socket.
    pub connection: AbortOnDrop,
}

/// Why [`send_direct`] failed: what was being done and the error that stopped it.
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
    fn connect(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        DirectError {
            connect: true,
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    fn transport(
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

/// Opens a dedicated connection to `url`'s host and hands it to the caller through
/// `connected` (called right before the request is written, to stamp its start);
/// then sends the request and returns the response head.
pub async fn send_direct(
    url: &reqwest::Url,
    headers: &reqwest::header::HeaderMap,
    body: Bytes,
    signal: Arc<SentSignal>,
    connected: impl FnOnce(),
) -> Result<DirectResponse, DirectError> {
    let host = url
        .host_str()
        .ok_or_else(|| DirectError {
            connect: true,
            context: format!("{url}: no host"),
            source: None,
        })?
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| DirectError::connect(format!("cannot connect to {host}:{port}"), e))?;
    let _ = tcp.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(SentIo::new(tcp, signal.clone()));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| DirectError::connect("the HTTP/1 handshake failed", e))?;
    let connection = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut req = hyper::Request::post(path).header(hyper::header::HOST, authority);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .header(hyper::header::CONTENT_LENGTH, body.len())
        .body(FlagBody::new(body, signal))
        .map_err(|e| DirectError::transport("the request could not be built", e))?;
    connected();
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| DirectError::transport("sending the request failed", e))?;
    Ok(DirectResponse {
        response,
        connection,
    })
}
