//! The actor's side of reachability: identify, ping, AutoNAT v2, circuit relay (client and
//! server), DCUtR and mDNS events, relay reservations, and the addresses to publish. See
//! `network/reach.rs` for the state it keeps and the rules for publishing.

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, autonat, dcutr, identify, mdns, ping, relay};

use super::actor::Actor;
use super::behaviour::BehaviourEvent;
use super::dht::KAD_PROTOCOL;
use super::exchange::{Batches, Handshake};
use super::reach::{
    Forced, Reachability, RelaySlot, is_quic, is_relayed, preferred_dials, publishable,
    worth_sharing,
};
use super::status::{NetworkStatus, PeerPath, RelayView};

/// The peer id at the end of an address, if any.
pub(crate) fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

impl Actor {
    /// Adds relays to reserve a slot on (addresses of one relay are tried in turn).
    pub(super) fn add_relays(&mut self, addrs: Vec<Multiaddr>) {
        for addr in addrs {
            let Some(peer) = peer_of(&addr) else {
                tracing::warn!(%addr, "a relay address must end with /p2p/<peer id>; ignored");
                continue;
            };
            if peer == *self.swarm.local_peer_id() {
                continue;
            }
            self.prompt_with(peer);
            match self.reach.relays.iter_mut().find(|s| s.peer == peer) {
                Some(slot) if !slot.addrs.contains(&addr) => slot.addrs.push(addr),
                Some(_) => {}
                None => self.reach.relays.push(RelaySlot::new(peer, addr)),
            }
        }
        // QUIC first (see `preferred_dials`), and only the preferred addresses for the
        // swarm's own dials; a failed reservation tries the next address explicitly.
        for slot in self.reach.relays.iter_mut() {
            slot.addrs.sort_by_key(|a| !is_quic(a));
            for addr in preferred_dials(&slot.addrs) {
                self.swarm.add_peer_address(slot.peer, addr);
            }
        }
        self.reserve_relays();
        // A node with a relay to use is no DHT server until it is known to be public.
        self.publish_addresses();
    }

    /// Connections with `peer` (a relay, a bootstrap peer) run identify and ping at once.
    fn prompt_with(&self, peer: PeerId) {
        if let Ok(mut prompt) = self.prompt.write() {
            prompt.insert(peer);
        }
    }

    /// Adds DHT bootstrap peers and starts a bootstrap.
    pub(super) fn add_bootstrap(&mut self, addrs: Vec<Multiaddr>) {
        let mut added = false;
        for addr in preferred_dials(&addrs) {
            let Some(peer) = peer_of(&addr) else {
                tracing::warn!(%addr, "a bootstrap address must end with /p2p/<peer id>; ignored");
                continue;
            };
            if peer == *self.swarm.local_peer_id() {
                continue;
            }
            self.prompt_with(peer);
            self.swarm.behaviour_mut().kad.add_address(&peer, addr);
            added = true;
        }
        if added && let Err(e) = self.swarm.behaviour_mut().kad.bootstrap() {
            tracing::debug!(error = %e, "DHT bootstrap not started");
        }
    }

    /// Listens through every relay that has no reservation, unless the node is public
    /// (configured so, or confirmed by AutoNAT): a public node needs no relay, and a
    /// reservation it already holds is simply kept.
    pub(super) fn reserve_relays(&mut self) {
        if self.reachability() == Reachability::Public {
            return;
        }
        let now = std::time::Instant::now();
        for slot in self
            .reach
            .relays
            .iter_mut()
            .filter(|s| s.listener.is_none() && s.retry_at.is_none_or(|at| at <= now))
        {
            let Some(addr) = slot.addrs.get(slot.next % slot.addrs.len().max(1)).cloned() else {
                continue;
            };
            slot.next = slot.next.wrapping_add(1);
            match self
                .swarm
                .listen_on(addr.clone().with(Protocol::P2pCircuit))
            {
                Ok(id) => {
                    tracing::debug!(relay = %slot.peer, %addr, "asking the relay for a reservation");
                    slot.listener = Some(id);
                }
                Err(e) => {
                    tracing::warn!(relay = %slot.peer, %addr, error = %e, "cannot listen through the relay")
                }
            }
        }
    }

    /// A listener went away: if it was a relay's, reserve again at the next tick.
    pub(super) fn relay_listener_closed(&mut self, id: libp2p::core::transport::ListenerId) {
        let now = std::time::Instant::now();
        for slot in self.reach.relays.iter_mut() {
            if slot.listener == Some(id) {
                tracing::info!(relay = %slot.peer, "relay reservation ended; will reserve again");
                slot.lost(now);
            }
        }
    }

    /// A relayed address expired (the connection to the relay closed): drop its listener so
    /// the next tick reserves again, at the same relay or another address of it.
    pub(super) fn relay_address_expired(&mut self, address: &Multiaddr) {
        let mut stale = Vec::new();
        for slot in self.reach.relays.iter_mut() {
            if slot.reserved.as_ref() == Some(address) {
                slot.reserved = None;
                if let Some(id) = slot.listener.take() {
                    stale.push(id);
                }
            }
        }
        for id in stale {
            self.swarm.remove_listener(id);
        }
    }

    /// A new listen address: a relayed one marks its reservation; a forced-public node without
    /// configured external addresses announces its listen addresses as external.
    pub(super) fn on_new_listen_addr(
        &mut self,
        id: libp2p::core::transport::ListenerId,
        address: &Multiaddr,
    ) {
        if is_relayed(address) {
            if let Some(slot) = self
                .reach
                .relays
                .iter_mut()
                .find(|s| s.listener == Some(id))
            {
                tracing::info!(relay = %slot.peer, %address, "relay reservation accepted");
                slot.reserved = Some(address.clone());
                slot.failures = 0;
                slot.retry_at = None;
            }
        } else if self.reach_config.forced == Some(Forced::Public)
            && self.reach_config.external_addresses.is_empty()
        {
            let unspecified = address.iter().any(|p| match p {
                Protocol::Ip4(ip) => ip.is_unspecified(),
                Protocol::Ip6(ip) => ip.is_unspecified(),
                _ => false,
            });
            if !unspecified {
                self.swarm.add_external_address(address.clone());
            }
        }
    }

    /// The addresses to publish changed, perhaps: tell the watchers.
    pub(super) fn publish_addresses(&mut self) {
        let me = *self.swarm.local_peer_id();
        let externals: Vec<Multiaddr> = self.swarm.external_addresses().cloned().collect();
        let listen: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        let addrs = publishable(me, &externals, &listen, self.reach_config.forced);
        self.addresses.send_if_modified(|current| {
            let changed = *current != addrs;
            if changed {
                *current = addrs;
            }
            changed
        });
        // Public nodes store records for others; so do nodes not known to be private when
        // mDNS is on (instances on one LAN without any public node) or when they have no relay
        // (no directory: on such a network nobody else could store records, and AutoNAT has no
        // server to confirm anyone public).
        let serve = match self.reachability() {
            Reachability::Public => true,
            Reachability::Unknown => self.reach_config.mdns || self.reach.relays.is_empty(),
            Reachability::Private => false,
        };
        if serve != self.dht_server {
            self.dht_server = serve;
            self.set_dht_mode(serve);
        }
    }

    pub(super) fn reachability(&self) -> Reachability {
        self.reach.reachability(self.reach_config.forced)
    }

    /// Every behaviour event: the request-response ones go to their handlers, the rest is
    /// reachability and the DHT.
    pub(super) fn on_reach_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(event) => self.on_identify(event),
            BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            }) => {
                self.reach.rtt.insert(peer, rtt);
            }
            BehaviourEvent::Ping(ping::Event {
                peer,
                result: Err(e @ ping::Failure::Unsupported),
                ..
            }) => tracing::debug!(%peer, error = %e, "ping failed"),
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(e),
            }) => {
                // No answer, or not even a stream to ask on, from a peer that speaks ping:
                // the path is dead (a cut link, a peer gone without closing). Closing the
                // connection lets the next request dial afresh instead of queueing behind a
                // connection that carries nothing.
                tracing::info!(%peer, error = %e, "ping failed; closing the connection");
                self.swarm.close_connection(connection);
            }
            BehaviourEvent::AutonatClient(autonat::v2::client::Event {
                tested_addr,
                server,
                result,
                ..
            }) => {
                match result {
                    Ok(()) => {
                        tracing::info!(address = %tested_addr, %server, "AutoNAT: address reachable from outside");
                        self.reach.confirmed.insert(tested_addr);
                    }
                    Err(e) => {
                        tracing::info!(address = %tested_addr, %server, error = %e, "AutoNAT: address not reachable from outside");
                        self.reach.confirmed.remove(&tested_addr);
                        self.reach.failed_probes += 1;
                    }
                }
                self.publish_addresses();
            }
            BehaviourEvent::AutonatServer(event) => {
                tracing::debug!(client = %event.client, address = %event.tested_addr, ok = event.result.is_ok(), "AutoNAT probe answered");
            }
            BehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            }) => {
                tracing::debug!(relay = %relay_peer_id, renewal, "relay reservation confirmed");
            }
            BehaviourEvent::RelayClient(event) => tracing::debug!(?event, "relay client"),
            BehaviourEvent::RelayServer(event) => tracing::debug!(?event, "relay server"),
            BehaviourEvent::Dcutr(dcutr::Event {
                remote_peer_id,
                result,
            }) => match result {
                Ok(_) => {
                    tracing::info!(peer = %remote_peer_id, "hole punched: the relayed connection is now direct")
                }
                Err(e) => {
                    tracing::info!(peer = %remote_peer_id, error = %e, "hole punching failed; staying on the relay")
                }
            },
            BehaviourEvent::Kad(event) => self.on_kad(event),
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if peer == *self.swarm.local_peer_id() {
                        continue;
                    }
                    tracing::debug!(%peer, %addr, "found on the local network");
                    self.swarm.add_peer_address(peer, addr.clone());
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer, addr.clone());
                    self.reach.lan.entry(peer).or_default().insert(addr);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(gone)) => {
                for (peer, addr) in gone {
                    if let Some(addrs) = self.reach.lan.get_mut(&peer) {
                        addrs.remove(&addr);
                        if addrs.is_empty() {
                            self.reach.lan.remove(&peer);
                        }
                    }
                }
            }
            BehaviourEvent::Handshake(event) => self.on_exchange::<Handshake>(event),
            BehaviourEvent::Messages(event) => self.on_exchange::<Batches>(event),
        }
    }

    fn on_identify(&mut self, event: identify::Event) {
        if let identify::Event::Received {
            peer_id,
            connection_id,
            info,
        } = event
        {
            if !self.reach.behind_nat && self.seen_from_elsewhere(&info.observed_addr) {
                tracing::info!(observed = %info.observed_addr, "a peer sees us from an address that is not ours: behind a NAT");
                self.reach.behind_nat = true;
                self.publish_addresses();
            }
            let kad_protocol = libp2p::StreamProtocol::new(KAD_PROTOCOL);
            if info.protocols.contains(&kad_protocol) {
                let seen_at = self
                    .reach
                    .remote_addrs
                    .get(&peer_id)
                    .and_then(|conns| conns.get(&connection_id))
                    .cloned();
                for addr in info.listen_addrs {
                    if !is_relayed(&addr) && worth_sharing(&addr, seen_at.as_ref()) {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
        }
    }

    /// Whether `observed` (how a peer sees us) is an IP address none of our listeners has.
    /// Loopback and relayed observations say nothing about a NAT.
    fn seen_from_elsewhere(&self, observed: &Multiaddr) -> bool {
        let ip = |a: &Multiaddr| {
            a.iter().find_map(|p| match p {
                libp2p::multiaddr::Protocol::Ip4(ip) => Some(std::net::IpAddr::V4(ip)),
                libp2p::multiaddr::Protocol::Ip6(ip) => Some(std::net::IpAddr::V6(ip)),
                _ => None,
            })
        };
        let Some(seen) = ip(observed) else {
            return false;
        };
        if seen.is_loopback() || seen.is_unspecified() || is_relayed(observed) {
            return false;
        }
        let mine: Vec<std::net::IpAddr> = self.swarm.listeners().filter_map(ip).collect();
        // A listener on every interface does not say which addresses are ours: no verdict.
        !mine.is_empty() && !mine.iter().any(|m| m.is_unspecified() || *m == seen)
    }

    pub(super) fn status(&mut self) -> NetworkStatus {
        let me = *self.swarm.local_peer_id();
        let dht_peers = self.dht_peers();
        NetworkStatus {
            peer_id: me.to_string(),
            reachability: self.reachability(),
            forced: self.reach_config.forced.is_some(),
            listen_addresses: self.swarm.listeners().map(ToString::to_string).collect(),
            external_addresses: self
                .swarm
                .external_addresses()
                .filter(|a| !is_relayed(a))
                .map(ToString::to_string)
                .collect(),
            published_addresses: self.addresses.borrow().clone(),
            relays: self
                .reach
                .relays
                .iter()
                .map(|slot| RelayView {
                    peer_id: slot.peer.to_string(),
                    addresses: slot.addrs.iter().map(ToString::to_string).collect(),
                    reserved: slot.reserved.is_some(),
                    relayed_address: slot.reserved.as_ref().map(ToString::to_string),
                })
                .collect(),
            relay_server: self.reach_config.relay_server.is_some(),
            hole_punching: self.reach_config.hole_punching,
            mdns: self.reach_config.mdns,
            dht_mode: if self.dht_server { "server" } else { "client" },
            dht_peers,
            dht_published: self.dht.published(),
            dht_refused: self.dht.refused,
            lan_peers: self.reach.lan.len(),
            connected_peers: self.reach.connections.len(),
        }
    }

    pub(super) fn peer_paths(&self, peers: &[PeerId]) -> Vec<PeerPath> {
        peers
            .iter()
            .map(|peer| PeerPath {
                peer_id: peer.to_string(),
                path: self.reach.path(peer),
                rtt_ms: self.reach.rtt.get(peer).map(|d| d.as_secs_f64() * 1000.0),
                remote_addresses: self
                    .reach
                    .remote_addrs
                    .get(peer)
                    .map(|m| m.values().map(ToString::to_string).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    fn dht_peers(&mut self) -> usize {
        self.swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .map(|bucket| bucket.num_entries())
            .sum()
    }
}
