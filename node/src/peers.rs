//! Peers: where another instance is and which key it has, for every service that talks to one.
//!
//! - [`Peers`] — the handle the federation and messaging services share: resolution, pinned
//!   keys, verified records, publishing our own record to the directory.
//! - [`resolve`] — UUID → peer id and addresses, from peers given by hand (`--peer`), the
//!   pinned record we hold, the directory and the Kademlia DHT, with the DHT's trust rules.
//! - [`manual`] — the peers given by hand, parsed once at start.
//! - [`verified`] — signed records already verified, so a peer's record is checked once.
//!
//! A peer's key is pinned by the first record we keep for it (trust on first use, stored by
//! [`crate::store::peers`]); later records count only when signed by that key and newer.
//!
//! Arrows: federation and messaging → `peers` → `store`, `directory::client`, `network`.

pub mod manual;
pub mod resolve;
mod verified;

use std::sync::Arc;

use libp2p::PeerId;
use ochat_protocol::identity::{InstanceId, PublicIdentity};
use ochat_protocol::record::{InstanceRecord, RecordError, SignedRecord, verify_record_for};
use thiserror::Error;

use crate::directory::{DirectoryClient, DirectoryError};
use crate::network::{NetworkError, NetworkHandle, peer_id_of};
use crate::store::peers::PeerRecords;
use crate::store::{Store, StoreError};
pub use manual::ManualPeers;
pub use resolve::{Resolution, Target};
use verified::VerifiedRecords;

/// Why a peer could not be resolved now.
#[derive(Debug, Error)]
pub enum PeersError {
    /// Nobody knows this UUID.
    #[error("no instance {uuid} is known")]
    NotFound {
        /// The UUID looked up.
        uuid: InstanceId,
    },
    /// The record found names a key that is not a usable libp2p key.
    #[error("the record's key is not usable")]
    UnusableKey,
    /// The directory's record for the UUID does not verify, and none is pinned.
    #[error(transparent)]
    Refused(#[from] RecordError),
    /// The directory could not be asked, and no record is pinned.
    #[error("the directory is unreachable: {0}")]
    DirectoryUnreachable(#[source] DirectoryError),
    /// The DHT lookup did not finish, and no record is pinned.
    #[error("the DHT lookup did not finish: {0}")]
    DhtUnfinished(#[source] NetworkError),
    /// Several keys claim the UUID in the DHT and none is pinned.
    #[error(
        "two keys claim this UUID ({uuid}) in the DHT ({keys} keys in all); refusing to pick one: ask its owner for its address (--peer) or its directory"
    )]
    KeyConflict {
        /// The UUID looked up.
        uuid: InstanceId,
        /// How many keys claim it.
        keys: usize,
    },
    /// The pinned records could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where instances are and which keys they have. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Peers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    records: PeerRecords,
    directory: Option<DirectoryClient>,
    manual: ManualPeers,
    verified: VerifiedRecords,
    network: NetworkHandle,
}

impl Peers {
    /// The peers of a node: its pinned records in `store`, its directory (if any), the peers
    /// given by hand and the network actor (for the DHT).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot open the peers' table.
    pub fn new(
        store: &Store,
        directory: Option<DirectoryClient>,
        manual: ManualPeers,
        network: NetworkHandle,
    ) -> Result<Self, StoreError> {
        Ok(Peers {
            inner: Arc::new(Inner {
                records: PeerRecords::open(store)?,
                directory,
                manual,
                verified: VerifiedRecords::default(),
                network,
            }),
        })
    }

    /// Where to reach `remote` now. With `fresh`, the directory is asked before the pinned
    /// record (after failed deliveries the addresses we hold may be stale).
    ///
    /// # Errors
    ///
    /// [`PeersError::NotFound`] when nobody knows the UUID; the others when it cannot be told
    /// now.
    pub async fn target(&self, remote: InstanceId, fresh: bool) -> Result<Target, PeersError> {
        match self.resolve(remote, fresh).await {
            Resolution::Found(t) => Ok(t),
            Resolution::NotFound => Err(PeersError::NotFound { uuid: remote }),
            Resolution::Unavailable(e) => Err(e),
        }
    }

    /// The pinned key of a peer (from its latest record we hold); `None` when none is pinned or
    /// the store cannot be read (callers refuse in both cases).
    pub fn pinned_peer(&self, remote: InstanceId) -> Option<PeerId> {
        let record = self.stored(&remote).ok()??;
        peer_id_of(&record.identity).ok()
    }

    /// Verifies a signed record, from memory when these exact bytes were verified before.
    ///
    /// # Errors
    ///
    /// [`RecordError`] when the record does not verify.
    pub fn verify(&self, signed: &SignedRecord) -> Result<InstanceRecord, RecordError> {
        self.inner.verified.verify(signed)
    }

    /// The pinned record of `uuid`, verified: `Ok(None)` when unknown or no longer valid.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read (which must never count as "unknown").
    pub fn stored(&self, uuid: &InstanceId) -> Result<Option<InstanceRecord>, StoreError> {
        Ok(self
            .inner
            .records
            .get(uuid)?
            .and_then(|signed| self.verify(&signed).ok()))
    }

    /// Keeps a peer's record (already verified as carrying `seq`) if it is newer than the one
    /// held.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written.
    pub fn remember(
        &self,
        uuid: &InstanceId,
        signed: &SignedRecord,
        seq: u64,
    ) -> Result<(), StoreError> {
        self.inner.records.remember(uuid, signed, seq)
    }

    /// The key the directory has for `uuid`: `Ok(None)` only when no directory is configured or
    /// the directory answered that it does not know the UUID.
    ///
    /// # Errors
    ///
    /// Anything else (unreachable, 429, 5xx, an answer that does not verify): the caller cannot
    /// tell whom the UUID belongs to and must not pin a key on such a lookup.
    pub async fn directory_key(
        &self,
        uuid: InstanceId,
    ) -> Result<Option<PublicIdentity>, DirectoryError> {
        let Some(directory) = self.inner.directory.as_ref() else {
            return Ok(None);
        };
        let Some(signed) = directory.lookup(uuid).await? else {
            return Ok(None);
        };
        verify_record_for(&signed, uuid, None)
            .map(|record| Some(record.identity))
            .map_err(|source| DirectoryError::Forged { uuid, source })
    }

    /// Publishes our own record to the directory; `Ok(false)` when none is configured.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when the directory refused it or could not be reached.
    pub async fn publish(&self, record: &SignedRecord) -> Result<bool, DirectoryError> {
        match &self.inner.directory {
            Some(d) => d.publish(record).await.map(|_| true),
            None => Ok(false),
        }
    }
}
