//! How a node becomes reachable: its configuration ([`ReachConfig`], [`RelayLimits`]) and the
//! actor's bookkeeping of where it stands ([`ReachState`]): reachability from AutoNAT v2,
//! confirmed external addresses, relay reservations, and, per peer, whether the connection is
//! direct or relayed and its round-trip time.
//!
//! The addresses a node publishes in its signed record come from here
//! ([`publishable`]): confirmed external addresses first, then relayed (`…/p2p-circuit`)
//! addresses, then listen addresses (public before private before loopback), at most
//! [`MAX_PUBLISHED`] of at most [`MAX_ADDRESS_LEN`] bytes, so private and loopback addresses
//! never crowd out the ones that work from outside.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, relay};
use serde::Serialize;

/// At most this many addresses go into the record (the record's own limit).
pub const MAX_PUBLISHED: usize = 16;
/// The longest address (text) the record takes.
pub const MAX_ADDRESS_LEN: usize = 256;

/// A reachability forced by configuration instead of measured by AutoNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// The listen addresses are reachable from everywhere (the directory host, a node with a
    /// public address): they count as external addresses, the node serves AutoNAT and is a
    /// DHT server.
    Public,
    /// Nothing reaches this node directly: it publishes only relayed and configured external
    /// addresses and hides its listen addresses from identify.
    Private,
}

/// Where a node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Another node dialled one of our addresses back (or it is configured so).
    Public,
    /// Every address tested was unreachable (or it is configured so).
    Private,
    /// Not tested yet (no AutoNAT server met).
    Unknown,
}

/// Circuit relay v2 server limits. The libp2p defaults (2 minutes, 128 KiB per circuit) suit a
/// relay used only to start hole punching; ours carry chat for pairs that never get a direct
/// path (a symmetric NAT), so circuits live long and carry much, while per-IP and per-peer
/// limits keep one client from taking the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLimits {
    /// Reservations held at once, all clients together.
    pub max_reservations: usize,
    /// Reservations one peer may hold at once.
    pub max_reservations_per_peer: usize,
    /// New reservations accepted per source IP address per minute.
    pub reservations_per_ip_per_minute: u32,
    /// How long a reservation lasts before the client renews it.
    pub reservation_duration: Duration,
    /// Circuits open at once, all clients together.
    pub max_circuits: usize,
    /// Circuits one peer may have open at once (as source or destination).
    pub max_circuits_per_peer: usize,
    /// New circuits one source peer may open per minute.
    pub circuits_per_peer_per_minute: u32,
    /// New circuits one source IP address may open per minute.
    pub circuits_per_ip_per_minute: u32,
    /// A circuit closes after this long (the next request opens a new one).
    pub max_circuit_duration: Duration,
    /// A circuit closes after this many bytes (both directions).
    pub max_circuit_bytes: u64,
}

impl Default for RelayLimits {
    /// 1024 reservations (4 per peer, 30 new per IP per minute, 1 h each); 1024 circuits (16
    /// per peer, 30 new per peer and 60 per IP per minute), each up to 2 h and 512 MiB.
    fn default() -> Self {
        RelayLimits {
            max_reservations: 1024,
            max_reservations_per_peer: 4,
            reservations_per_ip_per_minute: 30,
            reservation_duration: Duration::from_secs(3600),
            max_circuits: 1024,
            max_circuits_per_peer: 16,
            circuits_per_peer_per_minute: 30,
            circuits_per_ip_per_minute: 60,
            max_circuit_duration: Duration::from_secs(2 * 3600),
            max_circuit_bytes: 512 * 1024 * 1024,
        }
    }
}

impl RelayLimits {
    pub(super) fn to_libp2p(&self) -> relay::Config {
        let minute = Duration::from_secs(60);
        let mut config = relay::Config {
            max_reservations: self.max_reservations,
            max_reservations_per_peer: self.max_reservations_per_peer,
            reservation_duration: self.reservation_duration,
            reservation_rate_limiters: Vec::new(),
            max_circuits: self.max_circuits,
            max_circuits_per_peer: self.max_circuits_per_peer,
            max_circuit_duration: self.max_circuit_duration,
            max_circuit_bytes: self.max_circuit_bytes,
            circuit_src_rate_limiters: Vec::new(),
        };
        if let Some(n) = NonZeroU32::new(self.reservations_per_ip_per_minute) {
            config = config.reservation_rate_per_ip(n, minute);
        }
        if let Some(n) = NonZeroU32::new(self.circuits_per_peer_per_minute) {
            config = config.circuit_src_per_peer(n, minute);
        }
        if let Some(n) = NonZeroU32::new(self.circuits_per_ip_per_minute) {
            config = config.circuit_src_per_ip(n, minute);
        }
        config
    }
}

/// How the node makes itself reachable and finds others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachConfig {
    /// Addresses known to reach this node from outside (a port forward): published and
    /// announced as confirmed external addresses.
    pub external_addresses: Vec<Multiaddr>,
    /// Circuit relays (`…/p2p/<relay peer id>`) to reserve a slot on unless the node is
    /// forced public.
    pub relays: Vec<Multiaddr>,
    /// DHT bootstrap peers (`…/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Serve circuit relay v2 for others with these limits.
    pub relay_server: Option<RelayLimits>,
    /// Answer AutoNAT v2 probes (implied by [`Forced::Public`]).
    pub autonat_server: bool,
    /// A reachability fixed by configuration; `None` measures it with AutoNAT v2.
    pub forced: Option<Forced>,
    /// Upgrade relayed connections to direct ones (DCUtR).
    pub hole_punching: bool,
    /// Find instances on the local network with mDNS.
    pub mdns: bool,
}

impl Default for ReachConfig {
    /// No relay, no bootstrap peer, AutoNAT client only, hole punching on, mDNS off.
    fn default() -> Self {
        ReachConfig {
            external_addresses: Vec::new(),
            relays: Vec::new(),
            bootstrap: Vec::new(),
            relay_server: None,
            autonat_server: false,
            forced: None,
            hole_punching: true,
            mdns: false,
        }
    }
}

/// One relay the node reserves a slot on.
#[derive(Debug)]
pub(super) struct RelaySlot {
    pub(super) peer: PeerId,
    /// Addresses of the relay, tried in turn when a reservation fails.
    pub(super) addrs: Vec<Multiaddr>,
    pub(super) next: usize,
    pub(super) listener: Option<ListenerId>,
    /// The relayed address we hold there, once the relay accepted the reservation.
    pub(super) reserved: Option<Multiaddr>,
    /// Reservations lost or refused in a row, and when to ask again (exponential backoff
    /// from 2 s up to 32 s, so a relay that is down is not asked every tick).
    pub(super) failures: u32,
    pub(super) retry_at: Option<std::time::Instant>,
}

impl RelaySlot {
    pub(super) fn new(peer: PeerId, addr: Multiaddr) -> Self {
        RelaySlot {
            peer,
            addrs: vec![addr],
            next: 0,
            listener: None,
            reserved: None,
            failures: 0,
            retry_at: None,
        }
    }

    /// The reservation ended or was refused: ask again after a backoff.
    pub(super) fn lost(&mut self, now: std::time::Instant) {
        self.listener = None;
        self.reserved = None;
        self.failures = self.failures.saturating_add(1);
        let delay = Duration::from_secs(1)
            .saturating_mul(1u32 << self.failures.min(5))
            .min(Duration::from_secs(60));
        self.retry_at = Some(now + delay);
    }
}

/// What the actor knows about its reachability and its connections.
#[derive(Debug, Default)]
pub(super) struct ReachState {
    pub(super) confirmed: HashSet<Multiaddr>,
    pub(super) failed_probes: usize,
    /// A peer saw us from an IP address that is none of ours: we are behind a NAT, so not
    /// public until AutoNAT confirms an address (a symmetric NAT never gives it one to test).
    pub(super) behind_nat: bool,
    pub(super) relays: Vec<RelaySlot>,
    pub(super) connections: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    pub(super) rtt: HashMap<PeerId, Duration>,
    pub(super) remote_addrs: HashMap<PeerId, HashMap<ConnectionId, Multiaddr>>,
    /// Peers found on the local network (mDNS) and their addresses.
    pub(super) lan: HashMap<PeerId, HashSet<Multiaddr>>,
}

impl ReachState {
    pub(super) fn reachability(&self, forced: Option<Forced>) -> Reachability {
        match forced {
            Some(Forced::Public) => Reachability::Public,
            Some(Forced::Private) => Reachability::Private,
            None if !self.confirmed.is_empty() => Reachability::Public,
            None if self.failed_probes > 0 || self.behind_nat => Reachability::Private,
            None => Reachability::Unknown,
        }
    }

    /// A connection opened; `relayed` from the endpoint (an inbound relayed connection's remote
    /// address is only `/p2p/<source>`: the circuit shows in the local address).
    pub(super) fn connected(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        remote: &Multiaddr,
        relayed: bool,
    ) {
        self.connections
            .entry(peer)
            .or_default()
            .insert(id, relayed);
        self.remote_addrs
            .entry(peer)
            .or_default()
            .insert(id, remote.clone());
    }

    pub(super) fn closed(&mut self, peer: PeerId, id: ConnectionId) {
        if let Some(conns) = self.connections.get_mut(&peer) {
            conns.remove(&id);
            if conns.is_empty() {
                self.connections.remove(&peer);
                self.rtt.remove(&peer);
            }
        }
        if let Some(addrs) = self.remote_addrs.get_mut(&peer) {
            addrs.remove(&id);
            if addrs.is_empty() {
                self.remote_addrs.remove(&peer);
            }
        }
    }

    /// How we are connected to `peer` now.
    pub(super) fn path(&self, peer: &PeerId) -> Path {
        match self.connections.get(peer) {
            Some(conns) if conns.values().any(|relayed| !relayed) => Path::Direct,
            Some(conns) if !conns.is_empty() => Path::Relayed,
            _ => Path::None,
        }
    }
}

/// How a peer is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// At least one direct connection (possibly hole punched).
    Direct,
    /// Only through a relay.
    Relayed,
    /// Not connected.
    None,
}

/// Whether an address goes through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// Whether an address is QUIC.
pub(super) fn is_quic(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::QuicV1))
}

/// The addresses of a relay or bootstrap peer the swarm may dial on its own: the QUIC ones
/// when there are any, else all. Hole punching (DCUtR) offers the addresses peers observed us
/// at, which come from the connection to the relay: when one node reached the relay over TCP
/// and the other over QUIC, each punched on a different transport and they never met (one
/// try in three missed). QUIC's observed address is also the mapping of the very socket we
/// listen on, the best hole to punch. TCP stays as the fallback a failed reservation tries.
pub(super) fn preferred_dials(addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let quic: Vec<Multiaddr> = addrs.iter().filter(|a| is_quic(a)).cloned().collect();
    if quic.is_empty() {
        addrs.to_vec()
    } else {
        quic
    }
}

/// Ranks an address for publishing: 0 public, 1 private or link-local, 2 loopback; unspecified
/// addresses are never published.
fn rank(addr: &Multiaddr) -> Option<u8> {
    let ip = addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    });
    match ip {
        Some(ip) if ip.is_unspecified() => None,
        Some(ip) if ip.is_loopback() => Some(2),
        Some(IpAddr::V4(v4)) if v4.is_private() || v4.is_link_local() => Some(1),
        Some(IpAddr::V6(v6)) if (v6.segments()[0] & 0xfe00) == 0xfc00 => Some(1),
        Some(IpAddr::V6(v6)) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some(1),
        _ => Some(0),
    }
}

/// Whether a peer's listen address belongs in the DHT's routing table, given the address we
/// reach the peer at: it must be no more private than that. A peer seen from the internet is
/// not reachable at its LAN or loopback addresses; the DHT would hand those to everyone, whose
/// dials then wait for timeouts and hold back their other dials of that peer (a request to a
/// node behind a NAT then waited for a dial of its LAN addresses instead of its relay).
pub(super) fn worth_sharing(listen: &Multiaddr, seen_at: Option<&Multiaddr>) -> bool {
    let Some(listen_rank) = rank(listen) else {
        return false;
    };
    let seen_rank = seen_at.and_then(rank).unwrap_or(0);
    listen_rank <= seen_rank
}

/// `addr` ending with `/p2p/<me>` exactly once.
pub(super) fn with_peer(addr: &Multiaddr, me: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(p)) if p == me => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(me)),
    }
}

/// The addresses to publish in the record, best first (see the module documentation).
pub(super) fn publishable(
    me: PeerId,
    externals: &[Multiaddr],
    listen: &[Multiaddr],
    forced: Option<Forced>,
) -> Vec<String> {
    let mut direct: Vec<&Multiaddr> = externals.iter().filter(|a| !is_relayed(a)).collect();
    direct.sort_by_key(|a| rank(a).unwrap_or(3));
    let relayed = externals.iter().filter(|a| is_relayed(a));
    let mut local: Vec<&Multiaddr> = Vec::new();
    if forced != Some(Forced::Private) {
        local = listen
            .iter()
            .filter(|a| !is_relayed(a) && rank(a).is_some())
            .collect();
        local.sort_by_key(|a| rank(a).unwrap_or(3));
    }
    let mut out: Vec<String> = Vec::new();
    for addr in direct.into_iter().chain(relayed).chain(local) {
        if rank(addr).is_none() && !is_relayed(addr) {
            continue;
        }
        let text = with_peer(addr, me).to_string();
        if text.len() <= MAX_ADDRESS_LEN && !out.contains(&text) {
            out.push(text);
        }
        if out.len() == MAX_PUBLISHED {
            break;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn a(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_peer_seen_from_the_internet_shares_only_its_public_addresses_in_the_dht() {
        let lan = a("/ip4/10.2.0.2/udp/4001/quic-v1");
        let home = a("/ip4/127.0.0.1/tcp/4001");
        let public = a("/ip4/198.51.100.9/tcp/4001");
        let from_internet = a("/ip4/198.51.100.4/udp/50000/quic-v1");
        let from_lan = a("/ip4/10.2.0.7/tcp/50000");
        let from_loopback = a("/ip4/127.0.0.1/tcp/50000");
        assert!(!worth_sharing(&lan, Some(&from_internet)));
        assert!(!worth_sharing(&home, Some(&from_internet)));
        assert!(worth_sharing(&public, Some(&from_internet)));
        assert!(worth_sharing(&lan, Some(&from_lan)));
        assert!(!worth_sharing(&home, Some(&from_lan)));
        assert!(worth_sharing(&home, Some(&from_loopback)));
        assert!(!worth_sharing(&lan, None), "unknown path: public only");
        assert!(!worth_sharing(&a("/ip4/0.0.0.0/tcp/1"), Some(&from_loopback)));
    }

    #[test]
    fn relayed_addresses_are_not_crowded_out_by_local_ones() {
        let me = PeerId::random();
        let relay = PeerId::random();
        let listen: Vec<Multiaddr> = (0..20)
            .map(|i| a(&format!("/ip4/192.168.1.{i}/tcp/4001")))
            .chain([a("/ip4/127.0.0.1/tcp/4001"), a("/ip4/0.0.0.0/tcp/4001")])
            .collect();
        let circuit = a(&format!(
            "/ip4/203.0.113.7/tcp/7491/p2p/{relay}/p2p-circuit/p2p/{me}"
        ));
        let externals = vec![circuit.clone(), a("/ip4/198.51.100.2/tcp/4001")];
        let out = publishable(me, &externals, &listen, None);
        assert_eq!(out.len(), MAX_PUBLISHED);
        assert_eq!(out[0], format!("/ip4/198.51.100.2/tcp/4001/p2p/{me}"));
        assert_eq!(out[1], circuit.to_string());
        assert!(!out.iter().any(|s| s.starts_with("/ip4/0.0.0.0")));
        assert!(
            !out.iter().any(|s| s.starts_with("/ip4/127.")),
            "loopback comes last"
        );
    }

    #[test]
    fn a_relay_that_keeps_failing_is_asked_less_and_less_often() {
        let now = std::time::Instant::now();
        let mut slot = RelaySlot::new(PeerId::random(), a("/ip4/127.0.0.1/tcp/7491"));
        let mut waits = Vec::new();
        for _ in 0..8 {
            slot.lost(now);
            waits.push(slot.retry_at.unwrap() - now);
        }
        assert_eq!(waits[0], Duration::from_secs(2));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert_eq!(*waits.last().unwrap(), Duration::from_secs(32));
    }

    #[test]
    fn a_node_forced_private_publishes_no_listen_address() {
        let me = PeerId::random();
        let relay = PeerId::random();
        let circuit = a(&format!("/ip4/127.0.0.1/tcp/7491/p2p/{relay}/p2p-circuit"));
        let out = publishable(
            me,
            std::slice::from_ref(&circuit),
            &[a("/ip4/127.0.0.1/tcp/4001")],
            Some(Forced::Private),
        );
        assert_eq!(out, vec![format!("{circuit}/p2p/{me}")]);
    }
}
