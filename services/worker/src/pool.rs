//! The worker's HTTP/1.1 connections to an `http://` endpoint: a pool of idle
//! keep-alive connections driven by hyper directly, which can be filled before a
//! phase starts ([`ConnPool::pre_open`], sized by [`crate::preopen`]) and which
//! reports how each request got its connection ([`ConnTiming`]).
//!
//! A request takes the most recently returned idle connection that is still open
//! (an idle connection the server closed is dropped) or dials a new one; it gives
//! the connection back when its response was read to the end. With
//! `--connection-reuse-strategy never` nothing is kept: every request dials. With
//! `sticky-user-sessions` a connection given back by a session's turn is kept for
//! that session's next turn only, and closed when the session ends.

use crate::sent::{AbortOnDrop, DirectError, FlagBody, SentIo, SentSignal, SignalSlot};
use aiperf_clock::mono_ns;
use aiperf_protocol::record::HttpTrace;
use hyper::client::conn::http1::SendRequest;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Longest wait for a TCP connection to open (as reqwest's `connect_timeout` was).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How one request got its connection (monotonic ns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnTiming {
    /// Name resolution (start, end), when a connection was dialled for the request
    /// and its host is a name (an IP address needs none).
    pub dns: Option<(u64, u64)>,
    /// TCP connect and HTTP/1 handshake (start, end), when dialled for the request.
    pub connect: Option<(u64, u64)>,
    /// The connection already existed: it carried an earlier request or was opened
    /// before the phase started. Its set-up is nobody's request time.
    pub reused: bool,
    /// The connection was opened ahead by [`ConnPool::pre_open`] and this is its
    /// first request.
    pub pre_opened: bool,
}

impl ConnTiming {
    /// The connection part of the request's [`HttpTrace`].
    pub fn trace(&self) -> HttpTrace {
        HttpTrace {
            dns_start_perf_ns: self.dns.map(|d| d.0),
            dns_end_perf_ns: self.dns.map(|d| d.1),
            connect_start_perf_ns: self.connect.map(|c| c.0),
            connect_end_perf_ns: self.connect.map(|c| c.1),
            connection_reused: self.reused,
            connection_preopened: self.pre_opened,
            ..HttpTrace::default()
        }
    }
}

/// One open connection.
pub struct Conn {
    sender: SendRequest<FlagBody>,
    slot: Arc<SignalSlot>,
    _task: AbortOnDrop,
    /// Opened ahead by [`ConnPool::pre_open`] and not used yet.
    pre_opened: bool,
}

impl Conn {
    /// Sends `req` over this connection; `signal` fires when it was fully sent.
    pub async fn send(
        &mut self,
        req: hyper::Request<FlagBody>,
        signal: Arc<SentSignal>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, SendFailed> {
        self.slot.begin(signal);
        self.pre_opened = false;
        self.sender.try_send_request(req).await.map_err(|mut e| {
            let unsent = e.take_message();
            let error = e.into_error();
            let server_closed =
                unsent.is_some() || (self.slot.bytes_read() == 0 && closed_by_peer(&error));
            SendFailed {
                unsent,
                server_closed,
                error: DirectError::transport("sending the request failed", error),
            }
        })
    }
}

/// The server closed the connection in an orderly way before answering: a clean
/// end of stream (hyper's "connection closed before message completed"), a
/// dispatch cancelled because the connection was closing, or a broken pipe (on
/// Linux, writing or reading after the server's FIN was answered by a reset).
/// An abortive reset of an open connection (`ECONNRESET`, `ECONNABORTED`) is
/// not one: the server (or something on the way) killed the connection, possibly
/// while working on the request.
fn closed_by_peer(e: &hyper::Error) -> bool {
    if e.is_canceled() || e.is_incomplete_message() || e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = s.source();
    }
    false
}

/// A send that failed before any response head arrived.
pub struct SendFailed {
    /// The request, when none of it was written (the connection had closed
    /// meanwhile), so it can go again as it is.
    pub unsent: Option<hyper::Request<FlagBody>>,
    /// The server closed the connection in an orderly way before sending a
    /// single byte of response: the request was never written, or written into
    /// a connection the server was closing. What makes a request on a reused
    /// connection safe to send again (`docs/reliability.md`).
    pub server_closed: bool,
    /// What failed.
    pub error: DirectError,
}

/// Idle connections to one `host:port`.
pub struct ConnPool {
    host: String,
    port: u16,
    path: hyper::Uri,
    host_header: hyper::header::HeaderValue,
    keep_alive: bool,
    max_idle: usize,
    idle: Mutex<Vec<Conn>>,
    /// `sticky-user-sessions`: each session's connection between its turns.
    sessions: Option<Mutex<std::collections::HashMap<String, Conn>>>,
}

impl ConnPool {
    /// A pool for `url`'s host; `None` unless the scheme is `http` and the URL
    /// carries no credentials (reqwest turns those into basic authentication).
    /// `keep_alive` false (`--connection-reuse-strategy never`) keeps no connection.
    pub fn for_url(url: &reqwest::Url, keep_alive: bool, max_idle: usize) -> Option<ConnPool> {
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = url.host_str()?.to_string();
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        Some(ConnPool {
            port: url.port_or_known_default().unwrap_or(80),
            path: path.parse().ok()?,
            host_header: authority.parse().ok()?,
            host,
            keep_alive,
            max_idle,
            idle: Mutex::new(Vec::new()),
            sessions: None,
        })
    }

    /// Keeps one connection per session (`--connection-reuse-strategy
    /// sticky-user-sessions`): see [`ConnPool::acquire_for`].
    pub fn with_sticky_sessions(mut self) -> Self {
        self.sessions = Some(Mutex::new(std::collections::HashMap::new()));
        self
    }

    /// With sticky sessions, the connection `session` gave back at its previous
    /// turn when it is still open; otherwise (and without sticky sessions) as
    /// [`ConnPool::acquire`].
    pub async fn acquire_for(
        &self,
        session: Option<&str>,
    ) -> Result<(Conn, ConnTiming), DirectError> {
        if let (Some(sessions), Some(id)) = (&self.sessions, session) {
            let kept = sessions.lock().expect("sessions lock").remove(id);
            if let Some(mut conn) = kept
                && !conn.slot.peer_closed()
                && conn.sender.ready().await.is_ok()
            {
                let timing = ConnTiming {
                    reused: true,
                    ..ConnTiming::default()
                };
                return Ok((conn, timing));
            }
        }
        self.acquire().await
    }

    /// Gives back a connection whose response was read to the end: to
    /// `session`'s own slot with sticky sessions, else to the idle connections.
    pub fn release_for(&self, session: Option<&str>, conn: Conn) {
        match (&self.sessions, session) {
            (Some(sessions), Some(id)) => {
                if self.keep_alive && !conn.sender.is_closed() {
                    let mut sessions = sessions.lock().expect("sessions lock");
                    sessions.insert(id.to_string(), conn);
                }
            }
            _ => self.release(conn),
        }
    }

    /// The session ended: its connection (if kept) is closed.
    pub fn end_session(&self, session: &str) {
        if let Some(sessions) = &self.sessions {
            let conn = sessions.lock().expect("sessions lock").remove(session);
            drop(conn);
        }
    }

    /// The request target (path and query) of every request.
    pub fn path(&self) -> &hyper::Uri {
        &self.path
    }

    /// The `Host` header of every request.
    pub fn host_header(&self) -> &hyper::header::HeaderValue {
        &self.host_header
    }

    /// Opens `n` connections at once and keeps them idle for the first requests;
    /// returns how many are idle now. Nothing is opened without keep-alive.
    pub async fn pre_open(&self, n: usize) -> Result<usize, DirectError> {
        if !self.keep_alive {
            return Ok(0);
        }
        let room = self.max_idle.saturating_sub(self.idle_count());
        let dials = (0..n.min(room)).map(|_| self.dial());
        for dialled in futures_util::future::join_all(dials).await {
            let (mut conn, _) = dialled?;
            conn.pre_opened = true;
            self.idle.lock().expect("pool lock").push(conn);
        }
        Ok(self.idle_count())
    }

    /// Idle connections held.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().expect("pool lock").len()
    }

    /// An open connection: an idle one if any is still usable, else a new one.
    /// An idle connection the server closed meanwhile (its FIN may still be
    /// unread: the socket is peeked) is dropped.
    pub async fn acquire(&self) -> Result<(Conn, ConnTiming), DirectError> {
        while let Some(mut conn) = self.take_idle() {
            if !conn.slot.peer_closed() && conn.sender.ready().await.is_ok() {
                let timing = ConnTiming {
                    reused: true,
                    pre_opened: conn.pre_opened,
                    ..ConnTiming::default()
                };
                return Ok((conn, timing));
            }
        }
        self.dial().await
    }

    /// A new connection, never an idle one (for a request sent again after a
    /// reused connection failed it).
    pub async fn fresh(&self) -> Result<(Conn, ConnTiming), DirectError> {
        self.dial().await
    }

    /// Gives back a connection whose response was read to the end.
    pub fn release(&self, conn: Conn) {
        if !self.keep_alive || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().expect("pool lock").pop()
    }

    async fn dial(&self) -> Result<(Conn, ConnTiming), DirectError> {
        let dns_start = mono_ns();
        let (addr, looked_up) = self.resolve().await?;
        let dns_end = mono_ns();
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr));
        let tcp = match connect.await {
            Ok(connected) => connected,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            )),
        }
        .map_err(|e| {
            let context = format!("cannot connect to {}:{}", self.host, self.port);
            DirectError::connect(context, TcpConnectError(e))
        })?;
        let _ = tcp.set_nodelay(true);
        let slot = SignalSlot::new();
        let io = hyper_util::rt::TokioIo::new(SentIo::new(tcp, slot.clone()));
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| DirectError::connect("the HTTP/1 handshake failed", e))?;
        let connected = mono_ns();
        let task = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let conn = Conn {
            sender,
            slot,
            _task: task,
            pre_opened: false,
        };
        let timing = ConnTiming {
            dns: looked_up.then_some((dns_start, dns_end)),
            connect: Some((dns_end, connected)),
            reused: false,
            pre_opened: false,
        };
        Ok((conn, timing))
    }

    /// The address to dial, and whether a name had to be looked up for it.
    async fn resolve(&self) -> Result<(SocketAddr, bool), DirectError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok((SocketAddr::new(ip, self.port), false));
        }
        let unresolved = || format!("cannot resolve {}", self.host);
        tokio::net::lookup_host((host, self.port))
            .await
            .map_err(|e| DirectError::connect(unresolved(), e))?
            .next()
            .map(|a| (a, true))
            .ok_or_else(|| DirectError {
                connect: true,
                context: unresolved(),
                source: None,
            })
    }
}

/// The TCP connect step failed (its source is the OS error): names the step in an
/// error record's `cause_chain` (`ConnectionError` → `TcpConnectError` → `io::Error`).
#[derive(Debug)]
pub struct TcpConnectError(pub std::io::Error);

impl std::fmt::Display for TcpConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tcp connect error")
    }
}

impl std::error::Error for TcpConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(url: &str) -> Option<ConnPool> {
        ConnPool::for_url(&reqwest::Url::parse(url).unwrap(), true, 4)
    }

    #[test]
    fn only_plain_http_urls_without_credentials_get_a_pool() {
        let p = pool("http://example.com:8000/v1/chat/completions?x=1").unwrap();
        assert_eq!(p.path().to_string(), "/v1/chat/completions?x=1");
        assert_eq!(p.host_header(), "example.com:8000");
        assert_eq!(
            pool("http://example.com/v1").unwrap().host_header(),
            "example.com"
        );
        assert!(pool("https://example.com/v1").is_none());
        assert!(pool("http://user:pw@example.com/v1").is_none());
        assert!(pool("http://user@example.com/v1").is_none());
    }
}
