//! The combined libp2p behaviour (identify, ping, the handshake request-response protocol) and
//! the construction of the swarm around it: TCP + Noise + Yamux and QUIC, with the identity
//! key as the libp2p keypair.

use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{DialError, NetworkBehaviour};
use libp2p::{PeerId, StreamProtocol, Swarm, SwarmBuilder, identify, noise, ping, tcp, yamux};
use ochat_protocol::message::{MESSAGE_PROTOCOL, MessageBatch, MessageResponse};
use ochat_protocol::wire::{Envelope, HANDSHAKE_PROTOCOL, HandshakeResponse};

use super::codec::{HandshakeCodec, MessageCodec};
use super::{NetworkConfig, NetworkError, WrongPeer};

/// Identify's protocol version: nodes of other networks see at once that we are not theirs.
const IDENTIFY_PROTOCOL: &str = "/ochat/1";
/// Concurrent request-response streams per connection, both directions together.
const MAX_CONCURRENT_STREAMS: usize = 32;
/// How many per-address failures a dial error message lists at most.
const MAX_LISTED_FAILURES: usize = 4;

/// What the swarm runs on every connection.
#[derive(NetworkBehaviour)]
#[behaviour(to_swarm = "BehaviourEvent")]
pub(crate) struct Behaviour {
    /// `/ochat/handshake/1`.
    pub(crate) handshake: request_response::Behaviour<HandshakeCodec>,
    /// `/ochat/msg/2`.
    pub(crate) messages: request_response::Behaviour<MessageCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// The events of [`Behaviour`]'s parts.
#[derive(Debug)]
pub(crate) enum BehaviourEvent {
    /// A handshake request, response or failure.
    Handshake(request_response::Event<Envelope, HandshakeResponse>),
    /// A message batch, its acknowledgements or a failure.
    Messages(request_response::Event<MessageBatch, MessageResponse>),
    /// Identify exchanged information with a peer (boxed: it is large).
    Identify(Box<identify::Event>),
    /// A ping result.
    Ping(ping::Event),
}

impl From<request_response::Event<Envelope, HandshakeResponse>> for BehaviourEvent {
    fn from(event: request_response::Event<Envelope, HandshakeResponse>) -> Self {
        BehaviourEvent::Handshake(event)
    }
}

impl From<request_response::Event<MessageBatch, MessageResponse>> for BehaviourEvent {
    fn from(event: request_response::Event<MessageBatch, MessageResponse>) -> Self {
        BehaviourEvent::Messages(event)
    }
}

impl From<identify::Event> for BehaviourEvent {
    fn from(event: identify::Event) -> Self {
        BehaviourEvent::Identify(Box::new(event))
    }
}

impl From<ping::Event> for BehaviourEvent {
    fn from(event: ping::Event) -> Self {
        BehaviourEvent::Ping(event)
    }
}

impl Behaviour {
    fn new(key: &Keypair, config: &NetworkConfig) -> Self {
        let handshake = request_response::Behaviour::with_codec(
            HandshakeCodec::new(config.frame_limits),
            [(
                StreamProtocol::new(HANDSHAKE_PROTOCOL),
                ProtocolSupport::Full,
            )],
            request_response::Config::default()
                .with_request_timeout(config.request_timeout)
                .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS),
        );
        let messages = request_response::Behaviour::with_codec(
            MessageCodec::new(config.message_limits),
            [(StreamProtocol::new(MESSAGE_PROTOCOL), ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(config.request_timeout)
                .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_string(), key.public())
                .with_agent_version(format!("ochat/{}", env!("CARGO_PKG_VERSION"))),
        );
        Behaviour {
            handshake,
            messages,
            identify,
            ping: ping::Behaviour::default(),
        }
    }
}

/// Builds the swarm: TCP + Noise + Yamux, QUIC, [`Behaviour`], the idle and dial timeouts.
pub(crate) fn build_swarm(
    keypair: Keypair,
    config: &NetworkConfig,
) -> Result<Swarm<Behaviour>, NetworkError> {
    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| Behaviour::new(key, config))
        .map_err(|e| match e {})?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .with_connection_timeout(config.dial_timeout)
        .build();
    Ok(swarm)
}

/// The typed error for a failed dial of `peer`.
pub(crate) fn dial_error(peer: PeerId, error: &DialError) -> NetworkError {
    let reason = match error {
        DialError::WrongPeerId { obtained, address } => {
            return NetworkError::WrongPeer(Box::new(WrongPeer {
                expected: peer,
                obtained: *obtained,
                address: address.clone(),
            }));
        }
        DialError::NoAddresses => "no address is known for it".to_string(),
        DialError::Transport(failures) => {
            let mut listed: Vec<String> = failures
                .iter()
                .take(MAX_LISTED_FAILURES)
                .map(|(addr, e)| format!("{addr}: {}", error_chain(e)))
                .collect();
            if failures.len() > MAX_LISTED_FAILURES {
                listed.push(format!("and {} more", failures.len() - MAX_LISTED_FAILURES));
            }
            listed.join("; ")
        }
        other => other.to_string(),
    };
    NetworkError::DialFailed { peer, reason }
}

/// An error and its sources, joined: transport errors hide the useful part ("connection
/// refused") a few levels down.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
