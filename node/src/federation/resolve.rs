//! Finding where an Instance UUID lives: peers given by hand, then the local cache of signed
//! records, then the directory, then the DHT (when there is no directory or it does not know
//! the UUID). The answer is a libp2p peer id and addresses; the peer id comes from the record's
//! key, so Noise guarantees we talk to the key holder.
//!
//! The DHT is trusted like this: a pinned key (a record we hold) always wins, and only that
//! key's records count; otherwise exactly one key must claim the UUID ("two keys claim this
//! UUID" is an error, never a choice). A lookup that could not finish is `Unavailable`, never
//! "unknown"; one that went through and found nothing is `NotFound`.

use std::collections::HashMap;

use libp2p::{Multiaddr, PeerId};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{InstanceRecord, RecordError, SignedRecord, verify_record_for};

use crate::directory::client::DirectoryClient;
use crate::federation::repo;
use crate::federation::verified::VerifiedRecords;
use crate::network::{NetworkHandle, peer_id_of};
use crate::store::Store;

/// Where to reach an instance.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) peer: PeerId,
    pub(crate) addrs: Vec<Multiaddr>,
}

/// The outcome of a lookup.
#[derive(Debug)]
pub(crate) enum Resolution {
    Found(Target),
    /// Nobody knows this UUID: the request goes to Not Found.
    NotFound,
    /// We could not find out now (directory unreachable, key conflict): try again later.
    Unavailable(String),
}

fn found(target: Option<Target>) -> Resolution {
    match target {
        Some(t) => Resolution::Found(t),
        None => Resolution::Unavailable("the record's key is not usable".into()),
    }
}

/// Looks up Instance UUIDs.
#[derive(Debug)]
pub(crate) struct Resolver {
    store: Store,
    directory: Option<DirectoryClient>,
    manual: HashMap<InstanceId, (PeerId, Multiaddr)>,
    verified: VerifiedRecords,
    network: NetworkHandle,
}

fn target_of(record: &ochat_protocol::record::InstanceRecord) -> Option<Target> {
    Some(Target {
        peer: peer_id_of(&record.identity).ok()?,
        addrs: record
            .addresses
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .collect(),
    })
}

impl Resolver {
    pub(crate) fn new(
        store: Store,
        directory: Option<DirectoryClient>,
        manual: HashMap<InstanceId, (PeerId, Multiaddr)>,
        network: NetworkHandle,
    ) -> Self {
        Resolver {
            store,
            directory,
            manual,
            verified: VerifiedRecords::default(),
            network,
        }
    }

    /// Looks `uuid` up. With `fresh`, the directory is asked before the cache (after a failed
    /// delivery the cached addresses may be stale).
    pub(crate) async fn resolve(&self, uuid: InstanceId, fresh: bool) -> Resolution {
        if let Some((peer, addr)) = self.manual.get(&uuid) {
            return Resolution::Found(Target {
                peer: *peer,
                addrs: vec![addr.clone()],
            });
        }
        let cached = match repo::peer_record(&self.store, &uuid) {
            Ok(Some(signed)) => self.verified.verify(&signed).ok(),
            Ok(None) => None,
            Err(e) => return Resolution::Unavailable(e.to_string()),
        };
        if let (Some(record), false) = (&cached, fresh) {
            return found(target_of(record));
        }
        let Some(directory) = &self.directory else {
            return self.ask_dht(uuid, cached).await;
        };
        match directory.lookup(uuid).await {
            Ok(Some(signed)) => {
                let known = cached.as_ref().map(|r| r.identity);
                match verify_record_for(&signed, uuid, known.as_ref()) {
                    Ok(record) => {
                        if let Err(e) = self.remember(uuid, &signed, record.seq) {
                            tracing::warn!(%uuid, error = %e, "could not cache a peer record");
                        }
                        found(target_of(&record))
                    }
                    Err(e) => {
                        tracing::warn!(%uuid, error = %e, "the directory's record for this UUID was refused");
                        match cached {
                            Some(record) => found(target_of(&record)),
                            None => Resolution::Unavailable(e.to_string()),
                        }
                    }
                }
            }
            Ok(None) => match cached {
                Some(record) => found(target_of(&record)),
                None => self.ask_dht(uuid, None).await,
            },
            Err(e) => match cached {
                Some(record) => found(target_of(&record)),
                None => Resolution::Unavailable(format!("the directory is unreachable: {e}")),
            },
        }
    }

    /// Asks the DHT for `uuid` (see the module documentation for whom it is trusted with).
    async fn ask_dht(&self, uuid: InstanceId, cached: Option<InstanceRecord>) -> Resolution {
        let claims = match self.network.dht_lookup(uuid).await {
            Ok(claims) => claims,
            Err(e) => {
                return match cached {
                    Some(record) => found(target_of(&record)),
                    None => Resolution::Unavailable(format!("the DHT lookup did not finish: {e}")),
                };
            }
        };
        let mut valid: Vec<(InstanceRecord, SignedRecord)> = claims
            .into_iter()
            .filter_map(|signed| {
                let record = verify_record_for(&signed, uuid, None).ok()?;
                Some((record, signed))
            })
            .collect();
        valid.sort_by_key(|(record, _)| std::cmp::Reverse(record.seq));
        if let Some(pinned) = cached {
            // A pinned key always wins: only its newer records count.
            return match valid
                .into_iter()
                .find(|(record, _)| record.identity == pinned.identity)
            {
                Some((record, signed)) if record.seq > pinned.seq => {
                    if let Err(e) = self.remember(uuid, &signed, record.seq) {
                        tracing::warn!(%uuid, error = %e, "could not cache a peer record");
                    }
                    found(target_of(&record))
                }
                _ => found(target_of(&pinned)),
            };
        }
        let mut keys: Vec<_> = valid.iter().map(|(record, _)| record.identity).collect();
        keys.sort_by_key(|key| key.to_bytes());
        keys.dedup();
        match (keys.len(), valid.into_iter().next()) {
            (0, _) | (_, None) => Resolution::NotFound,
            (1, Some((record, signed))) => {
                if let Err(e) = self.remember(uuid, &signed, record.seq) {
                    tracing::warn!(%uuid, error = %e, "could not cache a peer record");
                }
                found(target_of(&record))
            }
            (n, _) => {
                tracing::warn!(%uuid, keys = n, "several keys claim this UUID in the DHT; refusing to pick one");
                Resolution::Unavailable(format!(
                    "two keys claim this UUID ({uuid}) in the DHT ({n} keys in all); refusing to pick one: ask its owner for its address (--peer) or its directory"
                ))
            }
        }
    }

    /// Verifies a signed record, from memory when these exact bytes were verified before.
    pub(crate) fn verify(&self, signed: &SignedRecord) -> Result<InstanceRecord, RecordError> {
        self.verified.verify(signed)
    }

    /// The stored record of `uuid`, verified: `Ok(None)` when unknown or no longer valid, an
    /// error when the store could not be read (which must never count as "unknown").
    pub(crate) fn stored(
        &self,
        uuid: &InstanceId,
    ) -> Result<Option<InstanceRecord>, crate::store::StoreError> {
        Ok(repo::peer_record(&self.store, uuid)?.and_then(|signed| self.verify(&signed).ok()))
    }

    fn remember(
        &self,
        uuid: InstanceId,
        signed: &SignedRecord,
        seq: u64,
    ) -> Result<(), crate::store::StoreError> {
        repo::remember_peer(&self.store, &uuid, signed, seq)
    }

    /// The key the directory has for `uuid`: `Ok(None)` only when no directory is configured or
    /// the directory answered that it does not know the UUID. Anything else (unreachable, 429,
    /// 5xx, an answer that does not verify) is an error: the caller cannot tell whom the UUID
    /// belongs to and must not pin a key on such a lookup.
    pub(crate) async fn directory_key(
        &self,
        uuid: InstanceId,
    ) -> Result<Option<ochat_protocol::identity::PublicIdentity>, crate::directory::DirectoryError>
    {
        let Some(directory) = self.directory.as_ref() else {
            return Ok(None);
        };
        let Some(signed) = directory.lookup(uuid).await? else {
            return Ok(None);
        };
        verify_record_for(&signed, uuid, None)
            .map(|record| Some(record.identity))
            .map_err(|source| crate::directory::DirectoryError::Forged { uuid, source })
    }

    /// Publishes our own record to the directory, if one is configured.
    pub(crate) async fn publish(&self, record: &SignedRecord) -> Result<bool, String> {
        match &self.directory {
            Some(d) => d
                .publish(record)
                .await
                .map(|_| true)
                .map_err(|e| e.to_string()),
            None => Ok(false),
        }
    }
}
