//! Finding where an Instance UUID lives: peers given by hand, then the pinned record we hold,
//! then the directory, then the DHT (when there is no directory or it does not know the UUID).
//! The answer is a libp2p peer id and addresses; the peer id comes from the record's key, so
//! Noise guarantees we talk to the key holder.
//!
//! The DHT is trusted like this: a pinned key (a record we hold) always wins, and only that
//! key's records count; otherwise exactly one key must claim the UUID ("two keys claim this
//! UUID" is an error, never a choice). A lookup that could not finish is `Unavailable`, never
//! "unknown"; one that went through and found nothing is `NotFound`.
//!
//! Used through [`Peers::resolve`] and [`Peers::target`] by the federation (handshake steps,
//! Sync Status) and messaging (deliveries).

use libp2p::{Multiaddr, PeerId};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{InstanceRecord, SignedRecord, verify_record_for};

use super::{Peers, PeersError};
use crate::network::peer_id_of;

/// Where to reach an instance.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its libp2p peer id (from its record's key).
    pub peer: PeerId,
    /// Its addresses.
    pub addrs: Vec<Multiaddr>,
}

/// The outcome of a lookup.
#[derive(Debug)]
pub enum Resolution {
    /// Found, at these addresses.
    Found(Target),
    /// Nobody knows this UUID: the request goes to Not Found.
    NotFound,
    /// We could not find out now (directory unreachable, key conflict): try again later.
    Unavailable(PeersError),
}

fn found(target: Option<Target>) -> Resolution {
    match target {
        Some(t) => Resolution::Found(t),
        None => Resolution::Unavailable(PeersError::UnusableKey),
    }
}

fn target_of(record: &InstanceRecord) -> Option<Target> {
    Some(Target {
        peer: peer_id_of(&record.identity).ok()?,
        addrs: record
            .addresses
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .collect(),
    })
}

impl Peers {
    /// Looks `uuid` up. With `fresh`, the directory is asked before the pinned record (after a
    /// failed delivery the addresses held may be stale).
    pub async fn resolve(&self, uuid: InstanceId, fresh: bool) -> Resolution {
        if let Some((peer, addr)) = self.inner.manual.get(&uuid) {
            return Resolution::Found(Target {
                peer: *peer,
                addrs: vec![addr.clone()],
            });
        }
        let cached = match self.inner.records.get(&uuid) {
            Ok(Some(signed)) => self.verify(&signed).ok(),
            Ok(None) => None,
            Err(e) => return Resolution::Unavailable(e.into()),
        };
        if let (Some(record), false) = (&cached, fresh) {
            return found(target_of(record));
        }
        let Some(directory) = &self.inner.directory else {
            return self.ask_dht(uuid, cached).await;
        };
        match directory.lookup(uuid).await {
            Ok(Some(signed)) => {
                let known = cached.as_ref().map(|r| r.identity);
                match verify_record_for(&signed, uuid, known.as_ref()) {
                    Ok(record) => {
                        self.keep(uuid, &signed, record.seq);
                        found(target_of(&record))
                    }
                    Err(e) => {
                        tracing::warn!(%uuid, error = %e, "the directory's record for this UUID was refused");
                        match cached {
                            Some(record) => found(target_of(&record)),
                            None => Resolution::Unavailable(e.into()),
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
                None => Resolution::Unavailable(PeersError::DirectoryUnreachable(e)),
            },
        }
    }

    /// Asks the DHT for `uuid` (see the module documentation for whom it is trusted with).
    async fn ask_dht(&self, uuid: InstanceId, cached: Option<InstanceRecord>) -> Resolution {
        let claims = match self.inner.network.dht_lookup(uuid).await {
            Ok(claims) => claims,
            Err(e) => {
                return match cached {
                    Some(record) => found(target_of(&record)),
                    None => Resolution::Unavailable(PeersError::DhtUnfinished(e)),
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
                    self.keep(uuid, &signed, record.seq);
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
                self.keep(uuid, &signed, record.seq);
                found(target_of(&record))
            }
            (n, _) => {
                tracing::warn!(%uuid, keys = n, "several keys claim this UUID in the DHT; refusing to pick one");
                Resolution::Unavailable(PeersError::KeyConflict { uuid, keys: n })
            }
        }
    }

    /// [`Peers::remember`], logging a failure (the lookup's answer stands without the cache).
    fn keep(&self, uuid: InstanceId, signed: &SignedRecord, seq: u64) {
        if let Err(e) = self.remember(&uuid, signed, seq) {
            tracing::warn!(%uuid, error = %e, "could not cache a peer record");
        }
    }
}
