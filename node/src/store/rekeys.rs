//! The re-keys repository: per channel, its ratchet **epoch**, whether it needs a re-key, the
//! re-key request we sent and wait on, the last answer we gave, and the previous epoch's
//! ratchet (kept to open what the peer sealed before the re-key; never sealed with).
//!
//! | table               | key                | value                             |
//! |---------------------|--------------------|-----------------------------------|
//! | `rekeys`            | channel id (16 B)  | [`RekeyState`] (CBOR)             |
//! | `previous_ratchets` | channel id (16 B)  | [`RatchetPickle`] of the old epoch |
//! | `rekey_plans`       | restore mark's id  | empty: channels already flagged   |
//!
//! Used by `messaging::rekey` only. A completed re-key is one atomic write
//! ([`Rekeys::install`]): the new ratchet, the old one as previous, the new state.

use ochat_protocol::rekey::{RekeyAnswer, RekeyRequest};
use ochat_protocol::sign::Signed;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

use super::atomic::AtomicWrite;
use super::ratchets::{RatchetPickle, RatchetsTable, RollbacksTable};
use super::table::{Cbor, Table, table};
use super::{Store, StoreError, trees};

/// A re-key request we sent and wait on (its ephemeral secret kept until the answer).
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingRekey {
    /// The ephemeral secret of the request.
    #[serde(with = "serde_bytes")]
    pub secret: [u8; 32],
    /// The signed request, sent again as it is after a crash.
    pub request: Signed<RekeyRequest>,
}

impl Drop for PendingRekey {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for PendingRekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRekey")
            .field("secret", &"REDACTED")
            .finish_non_exhaustive()
    }
}

/// A channel's re-key state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RekeyState {
    /// The current epoch (0: the ratchet of the connection handshake).
    pub epoch: u32,
    /// Nothing may be sealed on the channel until it is re-keyed.
    pub needed: bool,
    /// Why it is needed (for logs and the API).
    #[serde(default)]
    pub reason: String,
    /// Our request under way, if any.
    pub pending: Option<PendingRekey>,
    /// The last answer we gave: its request's hash and the signed answer, given again to the
    /// same request (the requester crashed before it stored it).
    pub answered: Option<([u8; 32], Signed<RekeyAnswer>)>,
}

table! {
    /// `rekeys`: channel id → its [`RekeyState`].
    pub RekeysTable = trees::REKEYS; Uuid => Cbor<RekeyState>
}

table! {
    /// `previous_ratchets`: channel id → the previous epoch's ratchet.
    pub PreviousRatchetsTable = trees::PREVIOUS_RATCHETS; Uuid => RatchetPickle
}

table! {
    /// `rekey_plans`: restore mark's backup id → nothing: the channels were flagged.
    pub RekeyPlansTable = trees::REKEY_PLANS; Uuid => Cbor<()>
}

/// The re-keys repository (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rekeys {
    store: Store,
    states: Table<RekeysTable>,
    previous: Table<PreviousRatchetsTable>,
    plans: Table<RekeyPlansTable>,
    ratchets: Table<RatchetsTable>,
    rollbacks: Table<RollbacksTable>,
}

impl Rekeys {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Rekeys {
            store: store.clone(),
            states: store.table()?,
            previous: store.table()?,
            plans: store.table()?,
            ratchets: store.table()?,
            rollbacks: store.table()?,
        })
    }

    /// The state of `channel` (the default when never re-keyed).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn state(&self, channel: Uuid) -> Result<RekeyState, StoreError> {
        Ok(self
            .states
            .get(&channel)?
            .map(|Cbor(s)| s)
            .unwrap_or_default())
    }

    /// Stores the state of `channel` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn set_state(&self, channel: Uuid, state: &RekeyState) -> Result<(), StoreError> {
        self.states.put(&channel, &Cbor(state.clone()))
    }

    /// Whether the channels were already flagged for the restore `backup`.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn planned(&self, backup: Uuid) -> Result<bool, StoreError> {
        self.plans.contains(&backup)
    }

    /// Records that the channels were flagged for the restore `backup`.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn set_planned(&self, backup: Uuid) -> Result<(), StoreError> {
        self.plans.put(&backup, &Cbor(()))
    }

    /// The previous epoch's ratchet of `channel`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn previous(&self, channel: Uuid) -> Result<Option<RatchetPickle>, StoreError> {
        self.previous.get(&channel)
    }

    /// Stores the previous epoch's ratchet of `channel` (after it opened a message).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn save_previous(&self, channel: Uuid, pickle: &RatchetPickle) -> Result<(), StoreError> {
        self.previous.put(&channel, pickle)
    }

    /// Installs a new epoch in one atomic write: `old` becomes the previous ratchet, `new`
    /// the channel's ratchet, `state` its state; the rollback mark goes (it was about the old
    /// epoch).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn install(
        &self,
        channel: Uuid,
        old: &RatchetPickle,
        new: &RatchetPickle,
        state: &RekeyState,
    ) -> Result<(), StoreError> {
        let mut write = AtomicWrite::default();
        self.previous.put_op(&mut write, &channel, old)?;
        self.ratchets.put_op(&mut write, &channel, new)?;
        self.rollbacks.remove_op(&mut write, &channel);
        self.states
            .put_op(&mut write, &channel, &Cbor(state.clone()))?;
        self.store.write_atomically(&write)
    }
}
