//! The accept loop and per-connection control: every connection is served by
//! hyper's HTTP/1.1 server with a [`ConnControl`] in each request's extensions,
//! through which a handler can have the connection reset (`--fault reset-after`)
//! and by which `--close-after-response` closes it after every response (while
//! the response itself announced keep-alive, as llama.cpp's server does).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};

use crate::server::Shared;

/// What a handler can do to its connection.
pub(crate) struct ConnControl {
    close_after_response: bool,
    close: Notify,
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl ConnControl {
    fn new(tcp: &TcpStream, close_after_response: bool) -> Self {
        #[cfg(not(unix))]
        let _ = tcp;
        ConnControl {
            close_after_response,
            close: Notify::new(),
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(tcp),
        }
    }

    /// Makes the coming close of the connection a reset (TCP RST: `SO_LINGER`
    /// 0). Only called while the connection's socket is open (from its body).
    pub(crate) fn reset_on_close(&self) {
        #[cfg(unix)]
        {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: `fd` belongs to the connection that is serving the caller's
            // response, so it is open; the option value is a valid `linger`.
            unsafe {
                libc::setsockopt(
                    self.fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    }

    /// A response body was finished (or dropped).
    fn response_done(&self) {
        if self.close_after_response {
            self.close.notify_one();
        }
    }
}

/// A response body that tells its connection when hyper is done with it.
struct EndNotifier {
    inner: Body,
    ctl: Arc<ConnControl>,
}

impl http_body::Body for EndNotifier {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for EndNotifier {
    fn drop(&mut self) {
        self.ctl.response_done();
    }
}

/// Accepts connections until `shutdown`, then closes idle connections and waits
/// for busy ones to finish their responses.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    shared.counters.connections.fetch_add(1, SeqCst);
                    let _ = tcp.set_nodelay(true);
                    let ctl = Arc::new(ConnControl::new(&tcp, shared.config.close_after_response));
                    conns.spawn(serve_conn(tcp, app.clone(), ctl, stop_rx.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little.
                    tracing::warn!("mock server: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while conns.join_next().await.is_some() {}
}

async fn serve_conn(
    tcp: TcpStream,
    app: Router,
    ctl: Arc<ConnControl>,
    mut stop: watch::Receiver<bool>,
) {
    let svc_ctl = ctl.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(svc_ctl.clone());
        let mut app = app.clone();
        let ctl = svc_ctl.clone();
        async move {
            let resp = tower_service::Service::call(&mut app, req).await?;
            Ok::<_, Infallible>(resp.map(|inner| Body::new(EndNotifier { inner, ctl })))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = ctl.close.notified(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
