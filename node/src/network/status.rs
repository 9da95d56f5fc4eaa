//! What the network tells about itself ([`NetworkStatus`], [`PeerPath`]) and the
//! [`NetworkHandle`] methods for reachability, relays and the DHT.

use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::SignedRecord;
use serde::Serialize;
use tokio::sync::watch;

use super::actor::Command;
use super::reach::{Path, Reachability};
use super::{NetworkError, NetworkHandle};

/// How long a DHT lookup may take in all (the providers query, then the records').
const DHT_LOOKUP_DEADLINE: Duration = Duration::from_secs(25);

/// Where the node stands on the network (`GET /api/v1/network`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NetworkStatus {
    /// Our libp2p peer id.
    pub peer_id: String,
    /// public, private or unknown.
    pub reachability: Reachability,
    /// Whether the reachability is set by configuration rather than measured.
    pub forced: bool,
    /// Where the node listens (relayed `…/p2p-circuit` listeners included).
    pub listen_addresses: Vec<String>,
    /// Direct addresses confirmed to reach us from outside (AutoNAT, configuration).
    pub external_addresses: Vec<String>,
    /// The addresses in our signed record, best first.
    pub published_addresses: Vec<String>,
    /// The relays we reserve a slot on.
    pub relays: Vec<RelayView>,
    /// Whether we relay for others.
    pub relay_server: bool,
    /// Whether relayed connections are upgraded to direct ones (DCUtR).
    pub hole_punching: bool,
    /// Whether mDNS looks for instances on the local network.
    pub mdns: bool,
    /// "server" (we store records for others) or "client".
    pub dht_mode: &'static str,
    /// Peers in the DHT routing table.
    pub dht_peers: usize,
    /// Whether our record and our claim on our UUID reached at least one DHT peer.
    pub dht_published: bool,
    /// Records and claims others tried to store in our part of the DHT that we refused
    /// (forged, someone else's derived UUID, malformed) since the node started.
    pub dht_refused: u64,
    /// Peers found on the local network.
    pub lan_peers: usize,
    /// Peers with at least one open connection.
    pub connected_peers: usize,
}

/// One relay and our reservation there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RelayView {
    /// The relay's peer id.
    pub peer_id: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Whether the relay holds a slot for us now.
    pub reserved: bool,
    /// The relayed address others reach us at.
    pub relayed_address: Option<String>,
}

/// How a peer is connected to us.
#[derive(Debug, Clone, Serialize)]
pub struct PeerPath {
    /// The peer.
    pub peer_id: String,
    /// direct, relayed or none.
    pub path: Path,
    /// The last round-trip time ping measured, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The remote addresses of the open connections.
    pub remote_addresses: Vec<String>,
}

impl NetworkHandle {
    /// Where the node stands.
    pub async fn status(&self) -> Result<NetworkStatus, NetworkError> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// How each of `peers` is connected.
    pub async fn peer_paths(&self, peers: Vec<PeerId>) -> Result<Vec<PeerPath>, NetworkError> {
        self.ask(|reply| Command::PeerPaths { peers, reply }).await
    }

    /// Adds circuit relays (`…/p2p/<relay>`) to reserve a slot on.
    pub async fn add_relays(&self, addrs: Vec<Multiaddr>) -> Result<(), NetworkError> {
        self.ask(|reply| Command::AddRelays { addrs, reply }).await
    }

    /// Adds DHT bootstrap peers (`…/p2p/<peer>`) and bootstraps.
    pub async fn add_bootstrap(&self, addrs: Vec<Multiaddr>) -> Result<(), NetworkError> {
        self.ask(|reply| Command::AddBootstrap { addrs, reply })
            .await
    }

    /// Stores our signed record in the DHT (and again periodically).
    pub async fn dht_publish(
        &self,
        uuid: InstanceId,
        record: SignedRecord,
    ) -> Result<(), NetworkError> {
        self.ask(|reply| Command::DhtPublish {
            uuid,
            record,
            reply,
        })
        .await
    }

    /// Every record the DHT holds for `uuid` whose signature, UUID and key check out (one per
    /// claiming key, possibly several): empty when the DHT has none,
    /// [`NetworkError::Timeout`] when the lookup could not finish.
    pub async fn dht_lookup(&self, uuid: InstanceId) -> Result<Vec<SignedRecord>, NetworkError> {
        let answer = self.ask(|reply| Command::DhtLookup { uuid, reply });
        match tokio::time::timeout(DHT_LOOKUP_DEADLINE, answer).await {
            Ok(result) => result?,
            Err(_) => Err(NetworkError::Timeout),
        }
    }

    /// A receiver of the addresses to publish in our record (with `/p2p/<our peer id>`): confirmed
    /// external, then relayed, then listen addresses; it changes when any of them do.
    pub fn watch_addresses(&self) -> watch::Receiver<Vec<String>> {
        self.addresses.clone()
    }
}
