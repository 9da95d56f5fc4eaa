//! The peers repository: each known instance's latest signed record, by Instance UUID. The
//! record's key is the peer's pinned key (trust on first use): [`crate::peers`] checks every
//! later record and every envelope against it.
//!
//! | table   | key                  | value                      |
//! |---------|----------------------|----------------------------|
//! | `peers` | Instance UUID (16 B) | CBOR [`SignedRecord`]      |
//!
//! Used by [`crate::peers`] only.

use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{SignedRecord, verify_record};
use uuid::Uuid;

use super::table::{Cbor, Table, table};
use super::{Store, StoreError, trees};

table! {
    /// Known peers' signed records.
    pub(crate) PeersTable = trees::PEERS; Uuid => Cbor<SignedRecord>
}

/// The peers repository (see the module documentation). Cheap to clone.
#[derive(Clone, Debug)]
pub struct PeerRecords {
    peers: Table<PeersTable>,
}

impl PeerRecords {
    /// Opens the repository's table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(PeerRecords {
            peers: store.table()?,
        })
    }

    /// A known peer's latest record, as it was stored (not verified here).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn get(&self, uuid: &InstanceId) -> Result<Option<SignedRecord>, StoreError> {
        Ok(self.peers.get(&uuid.0)?.map(|Cbor(r)| r))
    }

    /// Stores a peer's record (already verified as carrying `seq`) if it is new or newer than
    /// the one known; a stored record that no longer verifies is replaced.
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
        let known = self.get(uuid)?;
        let newer = match known.as_ref().map(verify_record) {
            Some(Ok(old)) => seq > old.seq,
            _ => true,
        };
        if newer {
            self.peers.put(&uuid.0, &Cbor(signed.clone()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::identity::IdentityKey;
    use ochat_protocol::record::InstanceRecord;

    use super::*;
    use crate::store::encode;

    fn signed(key: &IdentityKey, uuid: InstanceId, seq: u64) -> SignedRecord {
        InstanceRecord {
            uuid,
            name: "Acme".into(),
            identity: key.public(),
            prekey: [7; 32],
            addresses: Vec::new(),
            seq,
            signed_at_ms: 1,
        }
        .sign(key)
        .unwrap()
    }

    #[test]
    fn only_a_newer_record_replaces_the_known_one_in_the_earlier_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let peers = PeerRecords::open(&store).unwrap();
        let key = IdentityKey::generate().unwrap();
        let uuid = InstanceId::generate();
        let (two, one) = (signed(&key, uuid, 2), signed(&key, uuid, 1));
        peers.remember(&uuid, &two, 2).unwrap();
        peers.remember(&uuid, &one, 1).unwrap();
        assert_eq!(peers.get(&uuid).unwrap().unwrap(), two);
        let raw = store.tree(trees::PEERS).unwrap();
        assert_eq!(
            raw.get(uuid.as_bytes()).unwrap().unwrap(),
            encode(trees::PEERS, &two).unwrap()
        );
    }
}
