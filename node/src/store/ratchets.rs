//! The ratchets repository: each channel's Double Ratchet state, and what the ratchet
//! noticed about the peer's (a rolled-back state).
//!
//! | table       | key                       | value                                     |
//! |-------------|---------------------------|-------------------------------------------|
//! | `ratchets`  | channel id (UUIDv7, 16 B) | [`RatchetPickle`]: the ratchet's CBOR     |
//! | `rollbacks` | channel id (UUIDv7, 16 B) | [`RollbackSeen`] (CBOR), once seen        |
//!
//! The stored form of a ratchet is a [`RatchetPickle`] (vodozemac's name for the stored form
//! of a session): its encoding, which holds every key of the channel. It is not `Clone`, it is
//! zeroized when dropped and its `Debug` shows only its length; the table writes it from the
//! pickle's own buffer, so no copy of the secrets is left behind on the way to sled.
//!
//! The federation creates a channel's first ratchet with the channel, in one atomic write
//! ([`super::channels::Channels::create_op`]); from then on only messaging writes it, once
//! per group of messages sealed or opened ([`Ratchets::save`], one insert). A re-keyed channel
//! (an earlier channel reused by a new connection) gets a fresh ratchet and loses its
//! rollback mark in the same atomic write.

use ochat_protocol::ratchet::Ratchet;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::atomic::AtomicWrite;
use super::table::{Cbor, Table, Value, table};
use super::{Store, StoreError, decode, encode, trees};
use crate::model::RollbackSeen;

/// A channel's ratchet as stored: its encoding. Not `Clone`, zeroized on drop, redacted in
/// `Debug` (see the module documentation).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RatchetPickle(Vec<u8>);

impl RatchetPickle {
    /// The stored form of `ratchet`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    pub fn pickle(ratchet: &Ratchet) -> Result<Self, StoreError> {
        encode(trees::RATCHETS, ratchet).map(RatchetPickle)
    }

    /// The ratchet back from its stored form (the pickle stays as it is: a test may restore
    /// it more than once).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`].
    pub fn unpickle(&self) -> Result<Ratchet, StoreError> {
        decode(trees::RATCHETS, &self.0)
    }

    /// A pickle of bytes stored by an earlier layout (inside a channel record).
    pub(super) fn from_stored(bytes: Vec<u8>) -> Self {
        RatchetPickle(bytes)
    }
}

impl std::fmt::Debug for RatchetPickle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RatchetPickle(<redacted>, {} bytes)", self.0.len())
    }
}

impl Value for RatchetPickle {
    /// A copy, for an atomic write's intent (a channel's creation); [`Table::put`] lends the
    /// pickle's own buffer instead.
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.clone())
    }

    fn decode_value(_table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        Ok(RatchetPickle(bytes.to_vec()))
    }

    fn with_encoding<R>(
        &self,
        _table: &'static str,
        write: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, StoreError> {
        Ok(write(&self.0))
    }
}

table! {
    /// `ratchets`: channel id → the channel's ratchet.
    pub RatchetsTable = trees::RATCHETS; Uuid => RatchetPickle
}

table! {
    /// `rollbacks`: channel id → the peer's rolled-back state, once seen.
    pub RollbacksTable = trees::ROLLBACKS; Uuid => Cbor<RollbackSeen>
}

/// The ratchets repository (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ratchets {
    ratchets: Table<RatchetsTable>,
    rollbacks: Table<RollbacksTable>,
}

impl Ratchets {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Ratchets {
            ratchets: store.table()?,
            rollbacks: store.table()?,
        })
    }

    /// The ratchet of `channel`, as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn pickle(&self, channel: Uuid) -> Result<Option<RatchetPickle>, StoreError> {
        self.ratchets.get(&channel)
    }

    /// The ratchet of `channel`, ready to seal and open.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn load(&self, channel: Uuid) -> Result<Option<Ratchet>, StoreError> {
        match self.ratchets.get(&channel)? {
            Some(pickle) => pickle.unpickle().map(Some),
            None => Ok(None),
        }
    }

    /// Stores the ratchet of `channel` (one insert; not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn save(&self, channel: Uuid, ratchet: &Ratchet) -> Result<(), StoreError> {
        self.put_pickle(channel, &RatchetPickle::pickle(ratchet)?)
    }

    /// Stores a pickled ratchet for `channel` (a test puts an older state back this way).
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn put_pickle(&self, channel: Uuid, pickle: &RatchetPickle) -> Result<(), StoreError> {
        self.ratchets.put(&channel, pickle)
    }

    /// What was seen of the peer's rolled-back state on `channel`, if anything.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn rollback(&self, channel: Uuid) -> Result<Option<RollbackSeen>, StoreError> {
        Ok(self.rollbacks.get(&channel)?.map(|Cbor(seen)| seen))
    }

    /// Records what was seen of the peer's rolled-back state on `channel`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::Sled`].
    pub fn set_rollback(&self, channel: Uuid, seen: RollbackSeen) -> Result<(), StoreError> {
        self.rollbacks.put(&channel, &Cbor(seen))
    }

    /// Adds a channel's first ratchet to an atomic write: created (kept on a replay if
    /// messaging wrote it since), or for a re-keyed channel put over the old one, with its
    /// rollback mark removed.
    pub(super) fn first_op(
        &self,
        write: &mut AtomicWrite,
        channel: Uuid,
        pickle: &RatchetPickle,
        rekeyed: bool,
    ) -> Result<(), StoreError> {
        if rekeyed {
            self.ratchets.put_op(write, &channel, pickle)?;
            self.rollbacks.remove_op(write, &channel);
            Ok(())
        } else {
            self.ratchets.create_op(write, &channel, pickle)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::agreement::RootSecret;
    use ochat_protocol::ratchet::OsRandom;

    use super::*;

    /// Compiles only while `T` is not `Clone` (two candidate impls make the call ambiguous
    /// for a `Clone` type).
    trait NotClone<A> {
        fn check() {}
    }
    impl<T: ?Sized> NotClone<()> for T {}
    impl<T: Clone> NotClone<u8> for T {}

    fn a_ratchet() -> Ratchet {
        let secret =
            ochat_protocol::ratchet::KeySource::next_ratchet_secret(&mut OsRandom).unwrap();
        Ratchet::init_responder(RootSecret::from_bytes([7; 32]), &secret).unwrap()
    }

    #[test]
    fn a_stored_ratchet_never_prints_its_secrets_and_cannot_be_copied() {
        let pickle = RatchetPickle::pickle(&a_ratchet()).unwrap();
        let shown = format!("{pickle:?}");
        let hex: String = pickle.0.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&hex[..32]), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &pickle.0[..8])), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        <RatchetPickle as NotClone<_>>::check();
        // What its drop does: the bytes are wiped.
        let mut wiped = RatchetPickle::pickle(&a_ratchet()).unwrap();
        wiped.zeroize();
        assert!(wiped.0.iter().all(|b| *b == 0));
    }

    #[test]
    fn a_ratchet_saved_and_loaded_goes_on_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ratchets = Ratchets::open(&store).unwrap();
        let channel = Uuid::now_v7();
        assert!(ratchets.load(channel).unwrap().is_none());
        let mut ratchet = a_ratchet();
        let first = ratchet.seal(b"one", b"ad").unwrap();
        ratchets.save(channel, &ratchet).unwrap();
        let mut again = ratchets.load(channel).unwrap().unwrap();
        let second = again.seal(b"two", b"ad").unwrap();
        assert_eq!(
            second.header.n,
            first.header.n + 1,
            "it went on from the saved state"
        );
        assert!(ratchets.rollback(channel).unwrap().is_none());
    }
}
