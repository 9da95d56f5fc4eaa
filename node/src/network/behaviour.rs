//! The combined libp2p behaviour and the construction of the swarm around it: TCP + Noise +
//! Yamux, QUIC, and circuit relay v2 as a client transport, with the identity key as the libp2p
//! keypair.
//!
//! Parts, each a sub-behaviour (the derive names the events `BehaviourEvent::<Field>`):
//! - `handshake` `/ochat/handshake/1`, `messages` `/ochat/msg/2`: our request-response protocols.
//!   They run on direct and on relayed connections alike.
//! - `identify` (`/ipfs/id/1.0.0`, protocol version `/ochat/1`) and `ping` (`/ipfs/ping/1.0.0`):
//!   what every libp2p stack expects; identify reports the address a peer sees us at (a
//!   candidate for AutoNAT), ping measures the round-trip time shown by `GET /api/v1/network`.
//! - `autonat_client` / `autonat_server`: AutoNAT v2; the client probes our candidate addresses
//!   through servers (off when the reachability is forced), the server answers probes (public
//!   nodes and the directory).
//! - `relay_client` / `relay_server`: circuit relay v2 (the server only with
//!   [`ReachConfig::relay_server`](super::ReachConfig)); `dcutr`: hole punching of relayed
//!   connections.
//! - `kad`: the DHT on `/ochat/kad/1` (see `network/dht.rs`); `mdns`: LAN discovery (opt-in).
//!
//! identify and ping open a stream each on a new connection, next to the first request; neither
//! adds a round trip before it.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{DialError, NetworkBehaviour};
use libp2p::{
    PeerId, StreamProtocol, Swarm, SwarmBuilder, autonat, dcutr, identify, kad, mdns, noise, ping,
    relay, tcp, yamux,
};
use ochat_protocol::message::MESSAGE_PROTOCOL;
use ochat_protocol::wire::HANDSHAKE_PROTOCOL;

use super::codec::{HandshakeCodec, MessageCodec};
use super::late_start::{LateStart, Prompt};
use super::reach::Forced;
use super::{NetworkConfig, NetworkError, WrongPeer};

/// Concurrent request-response streams per connection, both directions together.
const MAX_CONCURRENT_STREAMS: usize = 32;
/// How many per-address failures a dial error message lists at most.
const MAX_LISTED_FAILURES: usize = 4;
/// The identify protocol version string: which application family we are.
pub(crate) const IDENTIFY_VERSION: &str = "/ochat/1";
/// How often ping measures the round trip on an open connection.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// How long after a connection is up identify and ping open their own streams.
const CHATTER_DELAY: Duration = Duration::from_millis(500);
/// How long a DHT query may run.
const KAD_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the swarm runs on every connection.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// `/ochat/handshake/1`.
    pub(crate) handshake: request_response::Behaviour<HandshakeCodec>,
    /// `/ochat/msg/2`.
    pub(crate) messages: request_response::Behaviour<MessageCodec>,
    pub(crate) identify: LateStart<identify::Behaviour>,
    pub(crate) ping: LateStart<ping::Behaviour>,
    pub(crate) autonat_client: Toggle<autonat::v2::client::Behaviour>,
    pub(crate) autonat_server: Toggle<autonat::v2::server::Behaviour>,
    pub(crate) relay_client: relay::client::Behaviour,
    pub(crate) relay_server: Toggle<relay::Behaviour>,
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
    pub(crate) kad: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
}

impl Behaviour {
    fn new(
        key: &Keypair,
        relay_client: relay::client::Behaviour,
        config: &NetworkConfig,
        prompt: Prompt,
    ) -> Result<Self, NetworkError> {
        let peer_id = key.public().to_peer_id();
        let reach = &config.reach;
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
            identify::Config::new(IDENTIFY_VERSION.to_string(), key.public())
                .with_agent_version(concat!("ochat/", env!("CARGO_PKG_VERSION")).to_string())
                // A node forced private tells nobody where it listens: only its relayed and
                // configured external addresses leave it.
                .with_hide_listen_addrs(reach.forced == Some(Forced::Private)),
        );
        // Both start their own streams a moment after a connection is up, so a request the
        // connection was dialled for does not race them (see `late_start`); with relays and
        // DHT bootstrap peers (`prompt`) they start at once.
        let identify = LateStart::new(identify, CHATTER_DELAY, prompt.clone());
        let ping = LateStart::new(
            ping::Behaviour::new(ping::Config::new().with_interval(PING_INTERVAL)),
            CHATTER_DELAY,
            prompt,
        );
        let autonat_client = Toggle::from(
            reach
                .forced
                .is_none()
                .then(autonat::v2::client::Behaviour::default),
        );
        let serves_autonat = reach.autonat_server || reach.forced == Some(Forced::Public);
        let autonat_server =
            Toggle::from(serves_autonat.then(autonat::v2::server::Behaviour::default));
        let relay_server = Toggle::from(
            reach
                .relay_server
                .as_ref()
                .map(|limits| relay::Behaviour::new(peer_id, limits.to_libp2p())),
        );
        let dcutr = Toggle::from(reach.hole_punching.then(|| dcutr::Behaviour::new(peer_id)));
        let kad = super::dht::behaviour(peer_id, KAD_QUERY_TIMEOUT);
        let mdns = if reach.mdns {
            Some(
                mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                    .map_err(|e| NetworkError::Transport(format!("mDNS: {e}")))?,
            )
        } else {
            None
        };
        Ok(Behaviour {
            handshake,
            messages,
            identify,
            ping,
            autonat_client,
            autonat_server,
            relay_client,
            relay_server,
            dcutr,
            kad,
            mdns: Toggle::from(mdns),
        })
    }
}

/// Builds the swarm: TCP + Noise + Yamux, QUIC, the relay client transport, [`Behaviour`], the
/// idle and dial timeouts.
pub(crate) fn build_swarm(
    keypair: Keypair,
    config: &NetworkConfig,
    prompt: Prompt,
) -> Result<Swarm<Behaviour>, NetworkError> {
    let mut failed: Option<NetworkError> = None;
    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkError::Transport(e.to_string()))?
        .with_behaviour(|key, relay_client| {
            match Behaviour::new(key, relay_client, config, prompt) {
                Ok(b) => Ok(b),
                Err(e) => {
                    let text = e.to_string();
                    failed = Some(e);
                    Err(Box::<dyn std::error::Error + Send + Sync>::from(text))
                }
            }
        })
        .map_err(|e| {
            failed
                .take()
                .unwrap_or_else(|| NetworkError::Transport(e.to_string()))
        })?
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
