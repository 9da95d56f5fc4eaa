//! The network actor's event loop: one task owns the [`Swarm`] and `select!`s over swarm
//! events, commands from [`NetworkHandle`](super::NetworkHandle)s, the service's answers to
//! inbound requests, and a housekeeping tick.
//!
//! Nothing here panics on an unexpected event: it is logged and the loop carries on. Logs name
//! peers, request ids and error kinds, never message contents.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use ochat_protocol::message::{MessageBatch, MessageResponse};
use ochat_protocol::wire::{Envelope, HandshakeResponse};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::behaviour::{Behaviour, BehaviourEvent, dial_error};
use super::dht::DhtState;
use super::exchange::{Batches, Exchange, Handshake};
use super::reach::{ReachConfig, ReachState};
use super::status::{NetworkStatus, PeerPath};
use super::{Inbound, InboundMessages, NetworkConfig, NetworkError};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::SignedRecord;

/// How often buckets and remembered dial errors are pruned.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How long a dial error is kept to explain the request failures it causes.
const DIAL_ERROR_TTL: Duration = Duration::from_secs(60);
/// How often lost relay reservations are asked for again.
const REACH_TICK: Duration = Duration::from_secs(3);
/// Our record is put in the DHT again every this many reach ticks (about 5 minutes).
const DHT_REPUBLISH_TICKS: u32 = 100;

/// What a [`NetworkHandle`](super::NetworkHandle) asks of the actor.
pub(crate) enum Command {
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    AddAddress {
        peer: PeerId,
        addr: Multiaddr,
        reply: oneshot::Sender<()>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        envelope: Envelope,
        reply: oneshot::Sender<Result<HandshakeResponse, NetworkError>>,
    },
    Deliver {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        batch: MessageBatch,
        reply: oneshot::Sender<Result<MessageResponse, NetworkError>>,
    },
    Connect {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        /// Dial even while another dial to the peer is under way (a probe: a fresh SYN now
        /// rather than the retransmission of a dial that began during a cut).
        again: bool,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    Status {
        reply: oneshot::Sender<NetworkStatus>,
    },
    PeerPaths {
        peers: Vec<PeerId>,
        reply: oneshot::Sender<Vec<PeerPath>>,
    },
    AddRelays {
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<()>,
    },
    AddBootstrap {
        addrs: Vec<Multiaddr>,
        reply: oneshot::Sender<()>,
    },
    DhtPublish {
        uuid: InstanceId,
        record: SignedRecord,
        reply: oneshot::Sender<()>,
    },
    DhtLookup {
        uuid: InstanceId,
        reply: oneshot::Sender<Result<Vec<SignedRecord>, NetworkError>>,
    },
}

/// The task's state.
pub(crate) struct Actor {
    pub(super) swarm: Swarm<Behaviour>,
    /// Relays and DHT bootstrap peers: identify and ping start at once with them.
    pub(super) prompt: super::late_start::Prompt,
    commands: mpsc::Receiver<Command>,
    listen: watch::Sender<Vec<Multiaddr>>,
    /// `/ochat/handshake/1` and `/ochat/msg/2` (`network/exchange.rs`).
    pub(super) handshakes: Exchange<Handshake>,
    pub(super) batches: Exchange<Batches>,
    pub(super) dial_errors: HashMap<PeerId, (Instant, NetworkError)>,
    pub(super) reach_config: ReachConfig,
    pub(super) reach: ReachState,
    pub(super) dht: DhtState,
    pub(super) dht_server: bool,
    /// The addresses to publish in our record.
    pub(super) addresses: watch::Sender<Vec<String>>,
    /// Every connection established, by peer ([`NetworkHandle::watch_connected`](super::NetworkHandle::watch_connected)).
    /// Set by `network.rs` after [`Actor::new`], like `prompt`.
    pub(super) connected: broadcast::Sender<PeerId>,
    reach_ticks: u32,
}

impl Actor {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        inbound: mpsc::Sender<Inbound>,
        messages: mpsc::Sender<InboundMessages>,
        listen: watch::Sender<Vec<Multiaddr>>,
        addresses: watch::Sender<Vec<String>>,
        config: &NetworkConfig,
    ) -> Self {
        Actor {
            connected: broadcast::channel(1).0,
            prompt: super::late_start::Prompt::default(),
            reach_config: config.reach.clone(),
            reach: ReachState::default(),
            dht: DhtState::default(),
            dht_server: false,
            addresses,
            reach_ticks: 0,
            swarm,
            commands,
            listen,
            handshakes: Exchange::new(
                inbound,
                config.max_requests_per_peer_per_minute,
                config.request_timeout,
            ),
            // The messaging service flushes before it acknowledges; same deadline.
            batches: Exchange::new(
                messages,
                config.max_message_batches_per_peer_per_minute,
                config.request_timeout,
            ),
            dial_errors: HashMap::new(),
        }
    }

    /// Runs until a handle asks for shutdown or every handle is gone.
    pub(crate) async fn run(mut self) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reach_tick = tokio::time::interval(REACH_TICK);
        reach_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.start_reach();
        let stopped_by = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                Some(answered) = self.handshakes.answers.next(), if !self.handshakes.answers.is_empty() => {
                    self.on_answered::<Handshake>(answered);
                }
                Some(answered) = self.batches.answers.next(), if !self.batches.answers.is_empty() => {
                    self.on_answered::<Batches>(answered);
                }
                _ = housekeeping.tick() => self.housekeeping(),
                _ = reach_tick.tick() => self.reach_tick(),
            }
        };
        let peer_id = *self.swarm.local_peer_id();
        // Dropping the swarm closes listeners and connections; outstanding requests see their
        // reply channel close, which handles report as `ActorGone`.
        drop(self);
        tracing::info!(%peer_id, "network stopped");
        if let Some(reply) = stopped_by {
            let _ = reply.send(());
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::AddAddress { peer, addr, reply } => {
                self.swarm.add_peer_address(peer, addr);
                let _ = reply.send(());
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Request {
                peer,
                addrs,
                envelope,
                reply,
            } => self.send_request::<Handshake>(peer, addrs, envelope, reply),
            Command::Deliver {
                peer,
                addrs,
                batch,
                reply,
            } => self.send_request::<Batches>(peer, addrs, batch, reply),
            Command::Connect { peer, addrs, again } => {
                if peer == *self.swarm.local_peer_id() || self.swarm.is_connected(&peer) {
                    return;
                }
                let condition = if again {
                    libp2p::swarm::dial_opts::PeerCondition::Disconnected
                } else {
                    libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing
                };
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                    .condition(condition)
                    .addresses(addrs)
                    .build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(%peer, error = %e, "dial ahead failed");
                }
            }
            Command::Shutdown { reply } => {
                // Handled by the loop; answering here keeps the match exhaustive and honest.
                let _ = reply.send(());
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::PeerPaths { peers, reply } => {
                let _ = reply.send(self.peer_paths(&peers));
            }
            Command::AddRelays { addrs, reply } => {
                self.add_relays(addrs);
                let _ = reply.send(());
            }
            Command::AddBootstrap { addrs, reply } => {
                self.add_bootstrap(addrs);
                let _ = reply.send(());
            }
            Command::DhtPublish {
                uuid,
                record,
                reply,
            } => {
                self.dht_publish(Some((uuid, record)));
                let _ = reply.send(());
            }
            Command::DhtLookup { uuid, reply } => self.dht_lookup(uuid, reply),
        }
    }

    /// Configured external addresses, relays and bootstrap peers, at start.
    fn start_reach(&mut self) {
        for addr in self.reach_config.external_addresses.clone() {
            self.reach.confirmed.insert(addr.clone());
            self.swarm.add_external_address(addr);
        }
        self.add_relays(self.reach_config.relays.clone());
        self.add_bootstrap(self.reach_config.bootstrap.clone());
        self.publish_addresses();
    }

    fn reach_tick(&mut self) {
        self.reserve_relays();
        self.reach_ticks = self.reach_ticks.wrapping_add(1);
        let has_peers = self.swarm.connected_peers().next().is_some();
        if self.reach_ticks.is_multiple_of(DHT_REPUBLISH_TICKS)
            || (has_peers && self.dht.needs_retry())
        {
            self.dht_publish(None);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_reach_event(event),
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                tracing::info!(%address, "listening");
                self.on_new_listen_addr(listener_id, &address);
                self.publish_listen_addrs();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!(%address, "no longer listening");
                self.publish_listen_addrs();
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                match reason {
                    Ok(()) => tracing::info!(?addresses, "listener closed"),
                    Err(error) => tracing::warn!(?addresses, %error, "listener failed"),
                }
                self.relay_listener_closed(listener_id);
                self.publish_listen_addrs();
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "external address confirmed");
                self.publish_addresses();
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                tracing::info!(%address, "external address expired");
                self.relay_address_expired(&address);
                self.publish_addresses();
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                tracing::debug!(peer = %peer_id, address = %endpoint.get_remote_address(), "connected");
                // The path shown: the remote address, or for an inbound relayed connection the
                // circuit it came through.
                let shown = match &endpoint {
                    libp2p::core::ConnectedPoint::Listener { local_addr, .. }
                        if endpoint.is_relayed() =>
                    {
                        local_addr
                    }
                    _ => endpoint.get_remote_address(),
                };
                self.reach
                    .connected(peer_id, connection_id, shown, endpoint.is_relayed());
                self.dial_errors.remove(&peer_id);
                // Whoever waits for this peer (an outbox backing off) may go now; nobody
                // listening is fine.
                let _ = self.connected.send(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                tracing::debug!(peer = %peer_id, ?cause, "connection closed");
                self.reach.closed(peer_id, connection_id);
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                let typed = dial_error(peer, &error);
                match &typed {
                    NetworkError::WrongPeer(_) => {
                        tracing::warn!(%peer, error = %typed, "dial reached another node")
                    }
                    _ => tracing::debug!(%peer, error = %typed, "dial failed"),
                }
                self.dial_errors.insert(peer, (Instant::now(), typed));
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                tracing::debug!(%error, "dial of an unknown peer failed");
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                tracing::debug!(%send_back_addr, %error, "incoming connection failed");
            }
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    fn publish_listen_addrs(&mut self) {
        let addrs: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        self.listen.send_if_modified(|current| {
            let changed = *current != addrs;
            if changed {
                *current = addrs;
            }
            changed
        });
        self.publish_addresses();
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        self.handshakes.limiter.prune(now);
        self.batches.limiter.prune(now);
        self.dial_errors
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < DIAL_ERROR_TTL);
        tracing::trace!(
            rate_limited_peers = self.handshakes.limiter.tracked(),
            outstanding = self.handshakes.outstanding() + self.batches.outstanding(),
            awaiting_service = self.handshakes.answers.len() + self.batches.answers.len(),
            "network housekeeping"
        );
    }
}
