//! The combined libp2p behaviour (the handshake and message request-response protocols) and
//! the construction of the swarm around it: TCP + Noise + Yamux and QUIC, with the identity
//! key as the libp2p keypair.
//!
//! There is no identify and no ping: addresses and keys come from signed instance records,
//! and a connection lives while requests use it. Both opened streams on every new connection
//! at the moment the first request does, and delayed it by about 0.15 ms (handshake bench).

use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{DialError, NetworkBehaviour};
use libp2p::{PeerId, StreamProtocol, Swarm, SwarmBuilder, noise, tcp, yamux};
use ochat_protocol::message::{MESSAGE_PROTOCOL, MessageBatch, MessageResponse};
use ochat_protocol::wire::{Envelope, HANDSHAKE_PROTOCOL, HandshakeResponse};

use super::codec::{HandshakeCodec, MessageCodec};
use super::{NetworkConfig, NetworkError, WrongPeer};

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
}

/// The events of [`Behaviour`]'s parts.
#[derive(Debug)]
pub(crate) enum BehaviourEvent {
    /// A handshake request, response or failure.
    Handshake(request_response::Event<Envelope, HandshakeResponse>),
    /// A message batch, its acknowledgements or a failure.
    Messages(request_response::Event<MessageBatch, MessageResponse>),
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

impl Behaviour {
    fn new(config: &NetworkConfig) -> Self {
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
        Behaviour {
            handshake,
            messages,
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
        .with_behaviour(|_| Behaviour::new(config))
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
