//! Typed ZeroMQ sockets for aiperf-rs services.
//!
//! Each wrapper carries one message type from `aiperf-protocol` and hides the
//! MessagePack framing. Services own their sockets. [`service`] is the lifecycle
//! every service shares ([`Service`] + [`run_service`]); apart from it, only
//! [`forward`] and [`event_proxy`] (run by the controller) spawn tasks.

pub mod control;
pub mod dataset;
pub mod service;

use aiperf_protocol::{CodecError, decode, encode, events::Event};
use bytes::Bytes;
use serde::{Serialize, de::DeserializeOwned};
use std::marker::PhantomData;
use std::time::Duration;
use zeromq::{SocketOptions, ZmqError, ZmqMessage, prelude::*, util::PeerIdentity};

pub use control::{ControlClient, ControlCommand, ControlSender};
pub use dataset::DatasetClient;
pub use service::{Service, ServiceContext, run_service};

/// A socket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// ZeroMQ error (bind/connect/send/recv).
    #[error("zeromq: {0}")]
    Zmq(#[from] ZmqError),
    /// A message could not be (de)serialized.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A message arrived with the wrong number of frames.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// No peer became available in time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// Result of transport operations.
pub type Result<T> = std::result::Result<T, TransportError>;

fn options(identity: Option<&str>) -> SocketOptions {
    let mut o = SocketOptions::default();
    o.connect_timeout(Duration::from_secs(30));
    o.read_buffer(256, 1 << 20, 2);
    if let Some(id) = identity {
        o.peer_identity(
            PeerIdentity::try_from(Bytes::copy_from_slice(id.as_bytes()))
                .expect("identity up to 255 bytes"),
        );
    }
    o
}

async fn attach<S: Socket>(sock: &mut S, addr: &str, bind: bool) -> Result<()> {
    if bind {
        if let Some(path) = addr.strip_prefix("ipc://") {
            let _ = std::fs::remove_file(path);
        }
        sock.bind(addr).await?;
    } else {
        sock.connect(addr).await?;
    }
    Ok(())
}

fn single_frame(msg: ZmqMessage) -> Result<Bytes> {
    msg.into_vec()
        .pop()
        .ok_or(TransportError::Malformed("empty message"))
}

/// PUSH side of a pipeline carrying `T`.
pub struct Push<T> {
    sock: zeromq::PushSocket,
    _t: PhantomData<fn(T)>,
}

impl<T: Serialize> Push<T> {
    /// Connects to a bound PULL (or proxy) at `addr`.
    pub async fn connect(addr: &str) -> Result<Self> {
        let mut sock = zeromq::PushSocket::with_options(options(None));
        attach(&mut sock, addr, false).await?;
        Ok(Push {
            sock,
            _t: PhantomData,
        })
    }

    /// Sends one message; waits (up to 10 s) while no peer is connected.
    pub async fn send(&mut self, msg: &T) -> Result<()> {
        self.send_bytes(encode(msg)?).await
    }

    /// Sends pre-encoded bytes.
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<()> {
        send_with_retry(&mut self.sock, ZmqMessage::from(bytes)).await
    }
}

/// Retries a send while the socket has no peer (PUSH returns immediately then).
async fn send_with_retry<S: SocketSend>(sock: &mut S, mut msg: ZmqMessage) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match sock.send(msg).await {
            Ok(()) => return Ok(()),
            Err(ZmqError::ReturnToSender { message, .. })
                if tokio::time::Instant::now() < deadline =>
            {
                msg = message;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(ZmqError::ReturnToSender { .. }) => {
                return Err(TransportError::Timeout(
                    "no peer connected to receive the message".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// PULL side of a pipeline carrying `T`.
pub struct Pull<T> {
    sock: zeromq::PullSocket,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pull<T> {
    /// Binds at `addr` (many PUSH peers connect here).
    pub async fn bind(addr: &str) -> Result<Self> {
        let mut sock = zeromq::PullSocket::with_options(options(None));
        attach(&mut sock, addr, true).await?;
        Ok(Pull {
            sock,
            _t: PhantomData,
        })
    }

    /// Connects to a bound PUSH (e.g. a proxy backend).
    pub async fn connect(addr: &str) -> Result<Self> {
        let mut sock = zeromq::PullSocket::with_options(options(None));
        attach(&mut sock, addr, false).await?;
        Ok(Pull {
            sock,
            _t: PhantomData,
        })
    }

    /// Receives and decodes the next message.
    pub async fn recv(&mut self) -> Result<T> {
        let frame = single_frame(self.sock.recv().await?)?;
        Ok(decode(&frame)?)
    }
}

/// Publisher of bus events (connects to the proxy's XSUB side).
pub struct Publisher {
    sock: zeromq::PubSocket,
}

impl Publisher {
    /// Connects to the event bus frontend.
    pub async fn connect(addr: &str) -> Result<Self> {
        let mut sock = zeromq::PubSocket::with_options(options(None));
        attach(&mut sock, addr, false).await?;
        Ok(Publisher { sock })
    }

    /// Publishes an event as `[topic, body]`.
    pub async fn publish(&mut self, event: &Event) -> Result<()> {
        let mut msg = ZmqMessage::from(event.topic());
        msg.push_back(Bytes::from(encode(event)?));
        self.sock.send(msg).await?;
        Ok(())
    }
}

/// Subscriber to bus events (connects to the proxy's XPUB side).
pub struct Subscriber {
    sock: zeromq::SubSocket,
}

impl Subscriber {
    /// Connects to the event bus backend and subscribes to the given topic prefixes
    /// (`""` = everything).
    pub async fn connect(addr: &str, topics: &[&str]) -> Result<Self> {
        let mut sock = zeromq::SubSocket::with_options(options(None));
        attach(&mut sock, addr, false).await?;
        for t in topics {
            sock.subscribe(t).await?;
        }
        Ok(Subscriber { sock })
    }

    /// Next event.
    pub async fn recv(&mut self) -> Result<Event> {
        let frames = self.sock.recv().await?.into_vec();
        let body = frames
            .get(1)
            .ok_or(TransportError::Malformed("event without body frame"))?;
        Ok(decode(body)?)
    }
}

/// DEALER socket with a fixed identity: sends `Out`, receives `In`.
pub struct Dealer<Out, In> {
    tx: zeromq::DealerSendHalf,
    rx: zeromq::DealerRecvHalf,
    _t: PhantomData<fn(Out) -> In>,
}

/// Send half of a [`Dealer`].
pub struct DealerTx<Out> {
    tx: zeromq::DealerSendHalf,
    _t: PhantomData<fn(Out)>,
}

/// Receive half of a [`Dealer`].
pub struct DealerRx<In> {
    rx: zeromq::DealerRecvHalf,
    _t: PhantomData<fn() -> In>,
}

impl<Out: Serialize, In: DeserializeOwned> Dealer<Out, In> {
    /// Connects to the ROUTER at `addr` with `identity` (the service id).
    pub async fn connect(addr: &str, identity: &str) -> Result<Self> {
        let mut sock = zeromq::DealerSocket::with_options(options(Some(identity)));
        attach(&mut sock, addr, false).await?;
        let (tx, rx) = sock.split();
        Ok(Dealer {
            tx,
            rx,
            _t: PhantomData,
        })
    }

    /// Sends a message to the ROUTER.
    pub async fn send(&mut self, msg: &Out) -> Result<()> {
        send_with_retry(&mut self.tx, ZmqMessage::from(encode(msg)?)).await
    }

    /// Receives the next message from the ROUTER.
    pub async fn recv(&mut self) -> Result<In> {
        let frame = single_frame(self.rx.recv().await?)?;
        Ok(decode(&frame)?)
    }

    /// Splits into halves usable from different tasks.
    pub fn split(self) -> (DealerTx<Out>, DealerRx<In>) {
        (
            DealerTx {
                tx: self.tx,
                _t: PhantomData,
            },
            DealerRx {
                rx: self.rx,
                _t: PhantomData,
            },
        )
    }
}

impl<Out: Serialize> DealerTx<Out> {
    /// Sends a message to the ROUTER.
    pub async fn send(&mut self, msg: &Out) -> Result<()> {
        send_with_retry(&mut self.tx, ZmqMessage::from(encode(msg)?)).await
    }
}

impl<In: DeserializeOwned> DealerRx<In> {
    /// Receives the next message from the ROUTER.
    pub async fn recv(&mut self) -> Result<In> {
        let frame = single_frame(self.rx.recv().await?)?;
        Ok(decode(&frame)?)
    }
}

/// ROUTER socket: receives `In` tagged with the sender's identity, sends `Out` to one peer.
pub struct Router<Out, In> {
    tx: zeromq::RouterSendHalf,
    rx: zeromq::RouterRecvHalf,
    _t: PhantomData<fn(Out) -> In>,
}

/// Cloneable send half of a [`Router`].
pub struct RouterTx<Out> {
    tx: zeromq::RouterSendHalf,
    _t: PhantomData<fn(Out)>,
}

impl<Out> Clone for RouterTx<Out> {
    fn clone(&self) -> Self {
        RouterTx {
            tx: self.tx.clone(),
            _t: PhantomData,
        }
    }
}

/// Receive half of a [`Router`].
pub struct RouterRx<In> {
    rx: zeromq::RouterRecvHalf,
    _t: PhantomData<fn() -> In>,
}

impl<Out: Serialize, In: DeserializeOwned> Router<Out, In> {
    /// Binds at `addr`.
    pub async fn bind(addr: &str) -> Result<Self> {
        let mut sock = zeromq::RouterSocket::with_options(options(None));
        attach(&mut sock, addr, true).await?;
        let (tx, rx) = sock.split();
        Ok(Router {
            tx,
            rx,
            _t: PhantomData,
        })
    }

    /// Splits into halves usable from different tasks.
    pub fn split(self) -> (RouterTx<Out>, RouterRx<In>) {
        (
            RouterTx {
                tx: self.tx,
                _t: PhantomData,
            },
            RouterRx {
                rx: self.rx,
                _t: PhantomData,
            },
        )
    }
}

impl<Out: Serialize> RouterTx<Out> {
    /// Sends `msg` to the peer with `identity`.
    pub async fn send(&mut self, identity: &str, msg: &Out) -> Result<()> {
        self.send_encoded(identity, Bytes::from(encode(msg)?)).await
    }

    /// Sends pre-encoded bytes to the peer with `identity`.
    pub async fn send_encoded(&mut self, identity: &str, body: Bytes) -> Result<()> {
        let mut msg = ZmqMessage::from(Bytes::copy_from_slice(identity.as_bytes()));
        msg.push_back(body);
        self.tx.send(msg).await?;
        Ok(())
    }
}

impl<In: DeserializeOwned> RouterRx<In> {
    /// Receives the next message and its sender's identity.
    pub async fn recv(&mut self) -> Result<(String, In)> {
        let mut frames = self.rx.recv().await?.into_vec();
        if frames.len() < 2 {
            return Err(TransportError::Malformed("ROUTER message without identity"));
        }
        let body = frames.pop().expect("len >= 2");
        let identity = String::from_utf8_lossy(&frames[0]).into_owned();
        Ok((identity, decode(&body)?))
    }
}

/// Binds a PULL at `frontend` and a PUSH at `backend` and forwards every message
/// (the raw-record proxy: workers → record processors, round robin).
pub async fn forward(
    frontend: &str,
    backend: &str,
) -> Result<impl std::future::Future<Output = Result<()>> + Send + use<>> {
    let mut pull = zeromq::PullSocket::with_options(options(None));
    attach(&mut pull, frontend, true).await?;
    let mut push = zeromq::PushSocket::with_options(options(None));
    attach(&mut push, backend, true).await?;
    Ok(async move {
        loop {
            let msg = pull.recv().await?;
            send_with_retry(&mut push, msg).await?;
        }
    })
}

/// Binds the event bus proxy: XSUB at `frontend` (publishers), XPUB at `backend` (subscribers).
pub async fn event_proxy(
    frontend: &str,
    backend: &str,
) -> Result<impl std::future::Future<Output = Result<()>> + Send + use<>> {
    let mut xsub = zeromq::XSubSocket::with_options(options(None));
    attach(&mut xsub, frontend, true).await?;
    let mut xpub = zeromq::XPubSocket::with_options(options(None));
    attach(&mut xpub, backend, true).await?;
    // Events flow XSUB → XPUB; subscriptions flow back XPUB → XSUB to the publishers.
    Ok(async move {
        loop {
            tokio::select! {
                msg = xsub.recv() => xpub.send(msg?).await?,
                sub = xpub.recv() => xsub.send(sub?).await?,
            }
        }
    })
}
