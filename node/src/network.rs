//! The network actor: one tokio task owns the libp2p [`Swarm`](libp2p::Swarm) and everything
//! else talks to it through a cheap, cloneable [`NetworkHandle`].
//!
//! ```text
//!  service layer ──NetworkHandle (mpsc Command + oneshot reply)──► actor task ──► Swarm
//!  service layer ◄──mpsc::Receiver<Inbound> (reply via Inbound::respond)──┘
//! ```
//!
//! - Transport: TCP + Noise + Yamux, and QUIC (TLS 1.3). The libp2p identity is the instance's
//!   Ed25519 identity key, so the [`PeerId`] the secure handshake authenticates *is* the key in
//!   the instance record ([`peer_id_of`] converts one into the other).
//! - Behaviour: request-response on
//!   [`HANDSHAKE_PROTOCOL`](ochat_protocol::wire::HANDSHAKE_PROTOCOL) and `/ochat/msg/2` with
//!   our own length-prefixed CBOR codec ([`CborCodec`]) whose size limit is checked before the
//!   body is read; identify and ping; AutoNAT v2, circuit relay v2 and DCUtR to be reachable
//!   behind NAT ([`ReachConfig`]); Kademlia on `/ochat/kad/1` holding signed records; mDNS.
//! - Abuse limits: a per-peer token bucket (over the limit ⇒ `Refused { RateLimited }` without
//!   bothering the service); oversized or malformed frames close the stream and never reach the
//!   service; both are logged at `warn` with the peer id, never with message contents.
//! - Idle connections close after [`NetworkConfig::idle_timeout`]; a request in flight keeps its
//!   connection open until it is answered or times out.
//!
//! Files: `network/codec.rs` (the frame codec, [`CborCodec`]), `network/behaviour.rs` (the
//! combined libp2p behaviour and the swarm's construction), `network/actor.rs` (the task's event
//! loop), `network/exchange.rs` (both request-response protocols, handled once: requests,
//! answers, failures, refusals), `network/rate_limit.rs` (the token buckets),
//! `network/reach.rs` (reachability configuration and state, the addresses to publish),
//! `network/reach_events.rs` (the actor's handling of identify, ping, AutoNAT, relay, DCUtR and mDNS), `network/dht.rs` (the DHT),
//! `network/status.rs` ([`NetworkStatus`] and the handle's reach and DHT methods).

mod actor;
mod behaviour;
mod codec;
mod dht;
mod exchange;
mod late_start;
mod rate_limit;
mod reach;
mod reach_events;
mod status;

pub use self::dht::KAD_PROTOCOL;
pub use self::reach::{
    Forced, MAX_ADDRESS_LEN, MAX_PUBLISHED, Path, ReachConfig, Reachability, RelayLimits,
    is_relayed,
};
pub use self::status::{NetworkStatus, PeerPath, RelayView};

use std::time::Duration;

use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId};
use ochat_protocol::codec::Limits;
use ochat_protocol::identity::PublicIdentity;
use ochat_protocol::message::{MessageBatch, MessageResponse};
use ochat_protocol::wire::{Envelope, HandshakeResponse};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use zeroize::Zeroizing;

use self::actor::{Actor, Command};
pub use self::codec::{CborCodec, FrameError, HandshakeCodec, MessageCodec};

/// Default cap on a handshake frame: 64 KiB. An [`Envelope`] is a record (a few hundred bytes
/// plus at most 16 addresses of 256 bytes) and a signed message of at most a few KiB.
pub const HANDSHAKE_MAX_FRAME: usize = 64 * 1024;

/// How many inbound requests may wait for the service before new ones are refused as busy.
const INBOUND_QUEUE: usize = 64;
/// How many commands may wait for the actor.
const COMMAND_QUEUE: usize = 64;
/// How many connection events may wait for a slow listener before it misses some (it is then
/// told it lagged, and wakes everything).
const CONNECTED_QUEUE: usize = 256;
/// Slack added to the handle's own deadline on top of the dial and request timeouts.
const DEADLINE_SLACK: Duration = Duration::from_secs(2);

/// How the network actor listens and how patient it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/4001` and `/ip4/0.0.0.0/udp/4001/quic-v1`
    /// (port 0 lets the OS choose; [`NetworkHandle::listen_addrs`] tells which).
    pub listen: Vec<Multiaddr>,
    /// A connection with no open stream and no request in flight closes after this long.
    pub idle_timeout: Duration,
    /// How long a request may take once its stream is open, on both sides: the requester gives
    /// up waiting for the answer, the responder stops waiting for its service.
    pub request_timeout: Duration,
    /// How long establishing a connection (transport, Noise, Yamux) may take.
    pub dial_timeout: Duration,
    /// Inbound requests accepted per peer per minute (a token bucket of this size refilled over
    /// a minute). `0` disables the limit.
    pub max_requests_per_peer_per_minute: u32,
    /// Size and nesting limits of handshake frames, both directions.
    pub frame_limits: Limits,
    /// Size and nesting limits of message batches (`/ochat/msg/2`).
    pub message_limits: Limits,
    /// Message batches accepted per peer per minute (`0` disables the limit).
    pub max_message_batches_per_peer_per_minute: u32,
    /// Reachability: external addresses, relays, DHT bootstrap, hole punching, mDNS.
    pub reach: ReachConfig,
}

impl Default for NetworkConfig {
    /// Listens on every IPv4 interface with OS-chosen ports (TCP and QUIC), 60 s idle timeout,
    /// 10 s request and dial timeouts, 60 requests per peer per minute, 64 KiB frames.
    fn default() -> Self {
        let any_tcp = Multiaddr::empty()
            .with(libp2p::multiaddr::Protocol::Ip4(
                std::net::Ipv4Addr::UNSPECIFIED,
            ))
            .with(libp2p::multiaddr::Protocol::Tcp(0));
        let any_quic = Multiaddr::empty()
            .with(libp2p::multiaddr::Protocol::Ip4(
                std::net::Ipv4Addr::UNSPECIFIED,
            ))
            .with(libp2p::multiaddr::Protocol::Udp(0))
            .with(libp2p::multiaddr::Protocol::QuicV1);
        NetworkConfig {
            listen: vec![any_tcp, any_quic],
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            dial_timeout: Duration::from_secs(10),
            max_requests_per_peer_per_minute: 60,
            frame_limits: Limits::new(
                HANDSHAKE_MAX_FRAME,
                ochat_protocol::codec::DEFAULT_RECURSION_LIMIT,
            ),
            message_limits: Limits::new(
                ochat_protocol::message::MAX_MESSAGE_FRAME,
                ochat_protocol::codec::DEFAULT_RECURSION_LIMIT,
            ),
            max_message_batches_per_peer_per_minute: 30_000,
            reach: ReachConfig::default(),
        }
    }
}

/// What can go wrong on the network.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetworkError {
    /// No connection to the peer could be made (every address failed, or none is known).
    #[error("cannot reach {peer}: {reason}")]
    DialFailed {
        /// The peer dialled.
        peer: PeerId,
        /// What failed, per address.
        reason: String,
    },
    /// The node at the address holds another key than the one expected (details boxed to keep
    /// the error small).
    #[error(
        "{} is not {}: the node there authenticated as {}",
        .0.address,
        .0.expected,
        .0.obtained
    )]
    WrongPeer(Box<WrongPeer>),
    /// No answer within the request timeout.
    #[error("the peer did not answer in time")]
    Timeout,
    /// The connection closed before the answer arrived.
    #[error("the connection closed before the answer arrived")]
    ConnectionClosed,
    /// The peer closed the stream without answering (it refused the frame, or its service
    /// dropped the request).
    #[error("the peer closed the stream without answering")]
    NoResponse,
    /// The peer does not speak this protocol or this version of it (another ochat release).
    #[error("the peer does not support this protocol version (is it another ochat release?)")]
    UnsupportedProtocol,
    /// A stream failed (includes a request over our own frame limit).
    #[error("stream error: {0}")]
    Io(String),
    /// The network actor has stopped.
    #[error("the network actor has stopped")]
    ActorGone,
    /// A listen address was refused.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
    /// The transport could not be built.
    #[error("cannot build the network transport: {0}")]
    Transport(String),
    /// A key could not be turned into a libp2p identity.
    #[error("invalid identity key: {0}")]
    InvalidKey(String),
}

/// A dial reached a node that proved another identity than the one dialled: the address is
/// stale or another node answers there. The secure handshake (Noise over TCP, TLS 1.3 in QUIC)
/// proved `obtained`, and no node can prove a key it does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongPeer {
    /// The peer id we dialled (derived from the record's key).
    pub expected: PeerId,
    /// The peer id the remote proved.
    pub obtained: PeerId,
    /// The address dialled.
    pub address: Multiaddr,
}

/// A request from a peer, waiting for the service's answer.
///
/// `peer` is the identity the connection's secure handshake authenticated: the service must check that
/// it equals [`peer_id_of`] the envelope record's key before trusting anything in it. Dropping
/// an `Inbound` without [`respond`](Inbound::respond)ing closes the stream (the requester gets
/// [`NetworkError::NoResponse`]); so does answering after the request timeout.
#[derive(Debug)]
pub struct Inbound {
    /// The authenticated sender.
    pub peer: PeerId,
    /// What it sent (not yet verified).
    pub envelope: Envelope,
    reply: oneshot::Sender<HandshakeResponse>,
}

impl Inbound {
    /// Sends the answer. Returns `false` when it can no longer be delivered (the request timed
    /// out, its connection closed or the network stopped).
    pub fn respond(self, response: HandshakeResponse) -> bool {
        self.reply.send(response).is_ok()
    }
}

/// A batch of channel messages from a peer, waiting for the service's acknowledgements.
#[derive(Debug)]
pub struct InboundMessages {
    /// The authenticated sender.
    pub peer: PeerId,
    /// What it sent (not yet verified).
    pub batch: MessageBatch,
    reply: oneshot::Sender<MessageResponse>,
}

/// The way back for one batch's acknowledgements.
#[derive(Debug)]
pub struct MessageResponder(oneshot::Sender<MessageResponse>);

impl MessageResponder {
    /// Sends the acknowledgements; `false` when they can no longer be delivered.
    pub fn respond(self, response: MessageResponse) -> bool {
        self.0.send(response).is_ok()
    }
}

impl InboundMessages {
    /// Splits into the sender, the batch and the way back (avoids copying the batch).
    pub fn into_parts(self) -> (PeerId, MessageBatch, MessageResponder) {
        (self.peer, self.batch, MessageResponder(self.reply))
    }

    /// Sends the acknowledgements (after the service's writes are durable). Returns `false`
    /// when they can no longer be delivered.
    pub fn respond(self, response: MessageResponse) -> bool {
        self.reply.send(response).is_ok()
    }
}

/// The cheap, cloneable handle to the network actor.
#[derive(Clone)]
pub struct NetworkHandle {
    peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    listen: watch::Receiver<Vec<Multiaddr>>,
    addresses: watch::Receiver<Vec<String>>,
    connected: broadcast::Sender<PeerId>,
    request_deadline: Duration,
}

impl std::fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

/// Starts the network actor with the instance's Ed25519 secret key; must run inside a tokio
/// runtime. Returns the handle and the stream of inbound handshake requests for the service
/// layer; message batches are refused (see [`start_with_messages`]).
pub async fn start(
    identity_secret: &[u8; 32],
    config: NetworkConfig,
) -> Result<(NetworkHandle, mpsc::Receiver<Inbound>), NetworkError> {
    let (handle, inbound, _messages) = start_with_messages(identity_secret, config).await?;
    Ok((handle, inbound))
}

/// Like [`start`], with a second stream for inbound message batches (`/ochat/msg/2`).
pub async fn start_with_messages(
    identity_secret: &[u8; 32],
    config: NetworkConfig,
) -> Result<
    (
        NetworkHandle,
        mpsc::Receiver<Inbound>,
        mpsc::Receiver<InboundMessages>,
    ),
    NetworkError,
> {
    let mut secret = Zeroizing::new(*identity_secret);
    let keypair = Keypair::ed25519_from_bytes(&mut *secret)
        .map_err(|e| NetworkError::InvalidKey(e.to_string()))?;
    let peer_id = keypair.public().to_peer_id();
    let prompt = late_start::Prompt::default();
    let mut swarm = behaviour::build_swarm(keypair, &config, prompt.clone())?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetworkError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    let (command_tx, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
    let (messages_tx, messages_rx) = mpsc::channel(INBOUND_QUEUE);
    let (listen_tx, listen_rx) = watch::channel(Vec::new());
    let (addresses_tx, addresses_rx) = watch::channel(Vec::new());
    let (connected, _) = broadcast::channel(CONNECTED_QUEUE);
    let mut actor = Actor::new(
        swarm,
        command_rx,
        inbound_tx,
        messages_tx,
        listen_tx,
        addresses_tx,
        &config,
    );
    actor.connected = connected.clone();
    // The swarm's identify and ping read the same set the actor fills.
    actor.prompt = prompt;
    tokio::spawn(actor.run());
    tracing::info!(%peer_id, "network started");
    let handle = NetworkHandle {
        peer_id,
        commands: command_tx,
        listen: listen_rx,
        addresses: addresses_rx,
        connected,
        request_deadline: config.dial_timeout + config.request_timeout + DEADLINE_SLACK,
    };
    Ok((handle, inbound_rx, messages_rx))
}

/// The libp2p peer id of an instance's identity key, for comparing with [`Inbound::peer`] and
/// for dialling the instance a record describes.
pub fn peer_id_of(identity: &PublicIdentity) -> Result<PeerId, NetworkError> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(&identity.to_bytes())
        .map_err(|e| NetworkError::InvalidKey(e.to_string()))?;
    Ok(libp2p::identity::PublicKey::from(key).to_peer_id())
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses the node listens on right now (ports resolved).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    /// Waits until the node listens on at least one address and returns them. Wrap it in a
    /// timeout: it waits forever if every listener failed.
    pub async fn wait_listening(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        let mut listen = self.listen.clone();
        let addrs = listen
            .wait_for(|addrs| !addrs.is_empty())
            .await
            .map_err(|_| NetworkError::ActorGone)?;
        Ok(addrs.clone())
    }

    /// A receiver that changes whenever the listen addresses do (an interface comes or goes,
    /// a listener closes), so the node can re-publish its record.
    pub fn watch_listen_addrs(&self) -> watch::Receiver<Vec<Multiaddr>> {
        self.listen.clone()
    }

    /// A receiver told the peer of every connection established from now on, in either
    /// direction (a first one, or one regained after a cut), so that work waiting for that
    /// peer can go at once instead of at its next retry.
    pub fn watch_connected(&self) -> broadcast::Receiver<PeerId> {
        self.connected.subscribe()
    }

    /// Remembers an address for `peer`, used by later requests that need to dial it.
    pub async fn add_address(&self, peer: PeerId, addr: Multiaddr) -> Result<(), NetworkError> {
        self.ask(|reply| Command::AddAddress { peer, addr, reply })
            .await
    }

    /// Starts connecting to `peer` (if no connection is open or being dialled) without waiting,
    /// so that a request sent soon after finds the connection up.
    pub fn connect_ahead(&self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if let Err(e) = self.commands.try_send(Command::Connect {
            peer,
            addrs,
            again: false,
        }) {
            tracing::debug!(%peer, error = %e, "could not start connecting ahead");
        }
    }

    /// Dials `peer` now unless a connection is open, even while an earlier dial still waits
    /// for an answer (that one's SYN may have left during a cut and be retransmitted only
    /// seconds later). Without waiting; a success shows in [`NetworkHandle::watch_connected`].
    pub fn probe(&self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if let Err(e) = self.commands.try_send(Command::Connect {
            peer,
            addrs,
            again: true,
        }) {
            tracing::debug!(%peer, error = %e, "could not start a probe");
        }
    }

    /// The peers with at least one open connection.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetworkError> {
        self.ask(|reply| Command::ConnectedPeers { reply }).await
    }

    /// Sends `envelope` to `peer` and waits for its answer, dialling `addrs` (and addresses
    /// added before) if no connection is open. The dial only succeeds if the remote proves it
    /// holds `peer`'s key ([`NetworkError::WrongPeer`] otherwise).
    pub async fn request(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        envelope: Envelope,
    ) -> Result<HandshakeResponse, NetworkError> {
        let answer = self.ask(|reply| Command::Request {
            peer,
            addrs,
            envelope,
            reply,
        });
        match tokio::time::timeout(self.request_deadline, answer).await {
            Ok(result) => result?,
            Err(_) => Err(NetworkError::Timeout),
        }
    }

    /// Sends a batch of channel messages to `peer` and waits for the acknowledgements, dialling
    /// `addrs` if needed (same authentication as [`NetworkHandle::request`]).
    pub async fn deliver(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        batch: MessageBatch,
    ) -> Result<MessageResponse, NetworkError> {
        let answer = self.ask(|reply| Command::Deliver {
            peer,
            addrs,
            batch,
            reply,
        });
        match tokio::time::timeout(self.request_deadline, answer).await {
            Ok(result) => result?,
            Err(_) => Err(NetworkError::Timeout),
        }
    }

    /// Stops the actor: closes the listeners and every connection. Returns when it is done
    /// (at once if it had already stopped).
    pub async fn shutdown(&self) {
        let _ = self.ask(|reply| Command::Shutdown { reply }).await;
    }

    pub(crate) async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NetworkError::ActorGone)?;
        answer.await.map_err(|_| NetworkError::ActorGone)
    }
}
