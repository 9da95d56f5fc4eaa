//! The DHT: Kademlia on `/ochat/kad/1`, holding signed instance records.
//!
//! Layout (why two keys): a DHT node keeps one value per key, so if the value for a random
//! (v4) UUID lived under the UUID alone, a squatter's record would silently replace or hide the
//! owner's at some nodes and nobody could tell that two keys claim the UUID. Instead:
//! - **provider records** under `"/ochat/uuid/" ‖ uuid` name every peer (= identity key) that
//!   claims the UUID; libp2p only accepts a provider record from the peer it names;
//! - **the signed record** (CBOR of `SignedRecord`) lives under
//!   `"/ochat/rec/" ‖ uuid ‖ peer id`, validated on every inbound put (the signature, the UUID,
//!   the key = the peer id in the key, and a higher `seq` than the one held: `FilterBoth`) and
//!   again on every get.
//!
//! A lookup asks for the providers of the UUID, then for each provider's record, and hands the
//! federation's resolver every record that verifies; the resolver decides (one key: found, two
//! keys for a v4 UUID: refused, a pinned key: always that one).
//!
//! Nodes that are not public are DHT clients (they ask, they do not store for others).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libp2p::kad::store::{MemoryStore, RecordStore};
use libp2p::kad::{
    self, GetProvidersOk, GetRecordError, GetRecordOk, InboundRequest, QueryId, QueryResult,
    Quorum, Record, RecordKey, StoreInserts,
};
use libp2p::{PeerId, StreamProtocol};
use ochat_protocol::codec::{DecodeError, Limits, decode_body, encode_body};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{RecordError, SignedRecord, verify_record_for};
use thiserror::Error;
use tokio::sync::oneshot;

use super::actor::Actor;
use super::{NetworkError, peer_id_of};

/// The Kademlia protocol name of ochat's DHT.
pub const KAD_PROTOCOL: &str = "/ochat/kad/1";
const UUID_PREFIX: &[u8] = b"/ochat/uuid/";
const RECORD_PREFIX: &[u8] = b"/ochat/rec/";
/// A stored record is at most this large (the directory's body limit).
const MAX_VALUE: usize = 16 * 1024;
/// How many claimants of one UUID a lookup fetches records for.
const MAX_CLAIMANTS: usize = 8;

type LookupReply = oneshot::Sender<Result<Vec<SignedRecord>, NetworkError>>;

/// The provider key of a UUID.
pub(crate) fn uuid_key(uuid: &InstanceId) -> RecordKey {
    RecordKey::new(&[UUID_PREFIX, uuid.as_bytes().as_slice()].concat())
}

/// The key of the record `peer` signed for `uuid`.
pub(crate) fn record_key(uuid: &InstanceId, peer: &PeerId) -> RecordKey {
    RecordKey::new(&[RECORD_PREFIX, uuid.as_bytes().as_slice(), &peer.to_bytes()].concat())
}

/// The Kademlia behaviour with our protocol name and inbound filtering.
pub(super) fn behaviour(peer_id: PeerId, query_timeout: Duration) -> kad::Behaviour<MemoryStore> {
    let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
    config
        .set_query_timeout(query_timeout)
        .set_record_filtering(StoreInserts::FilterBoth)
        .set_max_packet_size(MAX_VALUE * 4);
    let mut kad = kad::Behaviour::with_config(peer_id, MemoryStore::new(peer_id), config);
    kad.set_mode(Some(kad::Mode::Client));
    kad
}

/// Why a value in the DHT is refused (the messages are those of the underlying checks).
#[derive(Debug, Error)]
pub(crate) enum BadRecord {
    /// The key does not start with our record prefix.
    #[error("not an ochat record key")]
    NotOurs,
    /// The key is too short or the value too long.
    #[error("malformed key or oversized value")]
    Malformed,
    /// The key's UUID part is not a UUID.
    #[error("{0}")]
    Uuid(#[from] uuid::Error),
    /// The key's peer part is not a peer id.
    #[error("{0}")]
    Peer(#[from] libp2p::identity::ParseError),
    /// The value is not a signed record.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The record does not verify for the key's UUID.
    #[error("{0}")]
    Record(#[from] RecordError),
    /// The record's key is another peer than the one in the DHT key.
    #[error("the record's key is not the peer in the DHT key")]
    WrongPeer,
}

/// Decodes and checks a record stored under `key`: a signed record for the key's UUID, by the
/// key's peer. Returns the record and its `seq`.
pub(crate) fn check_value(key: &RecordKey, value: &[u8]) -> Result<(SignedRecord, u64), BadRecord> {
    let raw = key.as_ref();
    let rest = raw.strip_prefix(RECORD_PREFIX).ok_or(BadRecord::NotOurs)?;
    if rest.len() < 16 || value.len() > MAX_VALUE {
        return Err(BadRecord::Malformed);
    }
    let (uuid_bytes, peer_bytes) = rest.split_at(16);
    let uuid = InstanceId(uuid::Uuid::from_slice(uuid_bytes)?);
    let peer = PeerId::from_bytes(peer_bytes)?;
    let signed: SignedRecord = decode_body(value, &Limits::new(MAX_VALUE, 16))?;
    let record = verify_record_for(&signed, uuid, None)?;
    if peer_id_of(&record.identity).ok() != Some(peer) {
        return Err(BadRecord::WrongPeer);
    }
    Ok((signed, record.seq))
}

/// A lookup in progress.
struct Lookup {
    uuid: InstanceId,
    reply: LookupReply,
    claimants: HashSet<PeerId>,
    pending: usize,
    records: Vec<SignedRecord>,
    timed_out: bool,
}

/// What the actor keeps for the DHT.
#[derive(Default)]
pub(super) struct DhtState {
    lookups: HashMap<QueryId, Lookup>,
    /// A record query → the providers query of its lookup.
    record_queries: HashMap<QueryId, QueryId>,
    /// Our own record, re-put periodically.
    pub(super) own: Option<(InstanceId, SignedRecord)>,
    /// The queries storing it (the record, the provider claim) and whether each reached a peer.
    put: Option<QueryId>,
    provide: Option<QueryId>,
    stored: (bool, bool),
    /// Records and provider claims others tried to store here and we refused (forged,
    /// squatting, malformed, not ours to hold): a figure for the operator.
    pub(super) refused: u64,
}

impl DhtState {
    /// Whether our record should be put again soon: a put or claim reached no peer (the DHT
    /// was empty then) and none is under way.
    pub(super) fn published(&self) -> bool {
        self.stored.0 && self.stored.1
    }

    pub(super) fn needs_retry(&self) -> bool {
        self.own.is_some()
            && self.put.is_none()
            && self.provide.is_none()
            && !(self.stored.0 && self.stored.1)
    }
}

impl Actor {
    /// Stores (and remembers, for periodic re-publication) our own record in the DHT.
    pub(super) fn dht_publish(&mut self, own: Option<(InstanceId, SignedRecord)>) {
        if let Some(own) = own {
            self.dht.own = Some(own);
        }
        let Some((uuid, signed)) = self.dht.own.clone() else {
            return;
        };
        let me = *self.swarm.local_peer_id();
        let value = match encode_body(&signed) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode our record for the DHT");
                return;
            }
        };
        let kad = &mut self.swarm.behaviour_mut().kad;
        match kad.put_record(Record::new(record_key(&uuid, &me), value), Quorum::One) {
            Ok(id) => self.dht.put = Some(id),
            Err(e) => tracing::warn!(error = %e, "cannot store our record in the DHT"),
        }
        match kad.start_providing(uuid_key(&uuid)) {
            Ok(id) => self.dht.provide = Some(id),
            Err(e) => tracing::warn!(error = %e, "cannot announce our UUID in the DHT"),
        }
        self.dht.stored = (false, false);
    }

    pub(super) fn dht_lookup(&mut self, uuid: InstanceId, reply: LookupReply) {
        let id = self
            .swarm
            .behaviour_mut()
            .kad
            .get_providers(uuid_key(&uuid));
        self.dht.lookups.insert(
            id,
            Lookup {
                uuid,
                reply,
                claimants: HashSet::new(),
                pending: 0,
                records: Vec::new(),
                timed_out: false,
            },
        );
    }

    pub(super) fn on_kad(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest { request } => self.on_kad_inbound(request),
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => match result {
                QueryResult::GetProviders(result) => {
                    if let Some(lookup) = self.dht.lookups.get_mut(&id) {
                        match result {
                            Ok(GetProvidersOk::FoundProviders { providers, .. }) => {
                                lookup.claimants.extend(providers)
                            }
                            Ok(GetProvidersOk::FinishedWithNoAdditionalRecord { .. }) => {}
                            Err(_) => lookup.timed_out = true,
                        }
                    }
                    if step.last {
                        self.fetch_claims(id);
                    }
                }
                QueryResult::GetRecord(result) => {
                    let Some(&lookup_id) = self.dht.record_queries.get(&id) else {
                        return;
                    };
                    let mut found = false;
                    if let Some(lookup) = self.dht.lookups.get_mut(&lookup_id) {
                        match result {
                            Ok(GetRecordOk::FoundRecord(peer_record)) => {
                                let record = peer_record.record;
                                match check_value(&record.key, &record.value) {
                                    Ok((signed, _)) => {
                                        lookup.records.push(signed);
                                        found = true;
                                    }
                                    Err(e) => {
                                        tracing::debug!(uuid = %lookup.uuid, error = %e, "ignored an invalid DHT record");
                                    }
                                }
                            }
                            Ok(GetRecordOk::FinishedWithNoAdditionalRecord { .. }) => {}
                            Err(GetRecordError::Timeout { .. }) => lookup.timed_out = true,
                            Err(_) => {}
                        }
                    }
                    let kad = &mut self.swarm.behaviour_mut().kad;
                    if found && let Some(mut query) = kad.query_mut(&id) {
                        // One valid record per claimant is all a lookup needs.
                        query.finish();
                    }
                    if step.last || found {
                        self.dht.record_queries.remove(&id);
                        self.record_query_done(lookup_id);
                    }
                }
                QueryResult::PutRecord(result) => {
                    if self.dht.put == Some(id) {
                        self.dht.stored.0 |= result.is_ok();
                        if step.last {
                            self.dht.put = None;
                        }
                    }
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "storing our record in the DHT reached no peer yet");
                    }
                }
                QueryResult::StartProviding(result) => {
                    if self.dht.provide == Some(id) {
                        self.dht.stored.1 |= result.is_ok();
                        if step.last {
                            self.dht.provide = None;
                        }
                    }
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "announcing our UUID in the DHT reached no peer yet");
                    }
                }
                QueryResult::Bootstrap(Ok(_)) if step.last => {
                    tracing::debug!("DHT bootstrap done");
                }
                other => tracing::trace!(?other, "DHT query progressed"),
            },
            kad::Event::RoutingUpdated { peer, .. } => {
                tracing::debug!(%peer, "DHT routing table updated");
            }
            kad::Event::ModeChanged { new_mode } => {
                tracing::info!(mode = %new_mode, "DHT mode changed");
            }
            other => tracing::trace!(?other, "DHT event"),
        }
    }

    fn on_kad_inbound(&mut self, request: InboundRequest) {
        match request {
            InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let (_, seq) = match check_value(&record.key, &record.value) {
                    Ok(checked) => checked,
                    Err(e) => {
                        tracing::info!(peer = %source, error = %e, "refused a DHT record");
                        self.dht.refused = self.dht.refused.saturating_add(1);
                        return;
                    }
                };
                let store = self.swarm.behaviour_mut().kad.store_mut();
                let newer = match store.get(&record.key) {
                    Some(held) => check_value(&held.key, &held.value)
                        .map(|(_, held_seq)| seq > held_seq)
                        .unwrap_or(true),
                    None => true,
                };
                if !newer {
                    tracing::debug!(peer = %source, "kept the newer DHT record we hold");
                    return;
                }
                let mut record = record;
                record.publisher = None;
                if let Err(e) = store.put(record) {
                    tracing::debug!(peer = %source, error = %e, "could not store a DHT record");
                }
            }
            InboundRequest::AddProvider {
                record: Some(mut provider),
            } => {
                if !provider.key.as_ref().starts_with(UUID_PREFIX)
                    || provider.key.as_ref().len() != UUID_PREFIX.len() + 16
                {
                    tracing::debug!(peer = %provider.provider, "refused a foreign provider record");
                    self.dht.refused = self.dht.refused.saturating_add(1);
                    return;
                }
                if provider.addresses.is_empty() {
                    // A claimant without external addresses (not public, no relay yet): kad
                    // would never hand out a provider it has no address for. Our lookups need
                    // only its peer id (the record carries the addresses), so keep where it
                    // reached us from.
                    provider.addresses = self
                        .reach
                        .remote_addrs
                        .get(&provider.provider)
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default();
                }
                let store = self.swarm.behaviour_mut().kad.store_mut();
                if let Err(e) = store.add_provider(provider) {
                    tracing::debug!(error = %e, "could not store a provider record");
                }
            }
            _ => {}
        }
    }

    /// The providers query of a lookup finished: fetch each claimant's record.
    fn fetch_claims(&mut self, lookup_id: QueryId) {
        let Some(lookup) = self.dht.lookups.get_mut(&lookup_id) else {
            return;
        };
        let uuid = lookup.uuid;
        let claimants: Vec<PeerId> = lookup
            .claimants
            .iter()
            .take(MAX_CLAIMANTS)
            .copied()
            .collect();
        lookup.pending = claimants.len();
        for peer in claimants {
            let id = self
                .swarm
                .behaviour_mut()
                .kad
                .get_record(record_key(&uuid, &peer));
            self.dht.record_queries.insert(id, lookup_id);
        }
        if self
            .dht
            .lookups
            .get(&lookup_id)
            .is_some_and(|l| l.pending == 0)
        {
            self.finish_lookup(lookup_id);
        }
    }

    fn record_query_done(&mut self, lookup_id: QueryId) {
        let done = match self.dht.lookups.get_mut(&lookup_id) {
            Some(lookup) => {
                lookup.pending = lookup.pending.saturating_sub(1);
                lookup.pending == 0
            }
            None => false,
        };
        if done {
            self.finish_lookup(lookup_id);
        }
    }

    fn finish_lookup(&mut self, lookup_id: QueryId) {
        let Some(lookup) = self.dht.lookups.remove(&lookup_id) else {
            return;
        };
        let result = if lookup.records.is_empty() && lookup.timed_out {
            Err(NetworkError::Timeout)
        } else {
            Ok(lookup.records)
        };
        let _ = lookup.reply.send(result);
    }

    /// Sets the DHT mode from the reachability: public nodes serve, the others only ask.
    pub(super) fn set_dht_mode(&mut self, public: bool) {
        let mode = if public {
            kad::Mode::Server
        } else {
            kad::Mode::Client
        };
        self.swarm.behaviour_mut().kad.set_mode(Some(mode));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::identity::IdentityKey;
    use ochat_protocol::record::InstanceRecord;

    use super::*;

    fn signed(key: &IdentityKey, uuid: InstanceId, seq: u64) -> SignedRecord {
        InstanceRecord {
            uuid,
            name: "Acme".into(),
            identity: key.public(),
            prekey: [3; 32],
            addresses: vec![],
            seq,
            signed_at_ms: 1,
        }
        .sign(key)
        .unwrap()
    }

    #[test]
    fn a_record_is_accepted_only_under_its_own_uuid_and_key() {
        let key = IdentityKey::generate().unwrap();
        let other = IdentityKey::generate().unwrap();
        let uuid = InstanceId::generate();
        let peer = peer_id_of(&key.public()).unwrap();
        let value = encode_body(&signed(&key, uuid, 7)).unwrap();
        assert_eq!(check_value(&record_key(&uuid, &peer), &value).unwrap().1, 7);
        let squatter = peer_id_of(&other.public()).unwrap();
        assert!(check_value(&record_key(&uuid, &squatter), &value).is_err());
        let elsewhere = InstanceId::generate();
        assert!(check_value(&record_key(&elsewhere, &peer), &value).is_err());
        assert!(check_value(&uuid_key(&uuid), &value).is_err());
        assert!(check_value(&record_key(&uuid, &peer), b"junk").is_err());
    }

    #[test]
    fn a_squatter_cannot_put_a_record_for_someone_elses_derived_uuid() {
        let owner = IdentityKey::generate().unwrap();
        let squatter = IdentityKey::generate().unwrap();
        let uuid = InstanceId::derived_from(&owner.public());
        let owner_peer = peer_id_of(&owner.public()).unwrap();
        let squatter_peer = peer_id_of(&squatter.public()).unwrap();
        // The owner's own record is accepted.
        let genuine = encode_body(&signed(&owner, uuid, 1)).unwrap();
        assert!(check_value(&record_key(&uuid, &owner_peer), &genuine).is_ok());
        // The squatter's, under its own peer id and a higher seq, is refused on put and on get.
        let forged = encode_body(&signed(&squatter, uuid, 99)).unwrap();
        let refused = check_value(&record_key(&uuid, &squatter_peer), &forged).unwrap_err();
        assert!(refused.to_string().contains("derive"), "{refused}");
    }
}
