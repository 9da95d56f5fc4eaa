//! Operators' presence as it survives a restart: the last activity, whether they were told
//! they are away, and when they were last given a visitor (routing skips operators assigned
//! in the last two minutes). One table, `lc_presence`: operator id (16 B) →
//! [`PresenceRecord`] (CBOR).
//!
//! The live chat writes a record only when something routing or the away announcement reads
//! changed, and the last activity at most once a minute per operator (see
//! `livechat/presence.rs`), never with a flush of its own: sled writes its log out in the
//! background (every 500 ms) and at shutdown, so a keystroke never costs a disk flush.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LiveChatStore;
use crate::store::StoreError;
use crate::store::table::{Cbor, table};
use crate::store::trees;

/// One operator's presence as stored.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PresenceRecord {
    /// The last activity (ms).
    pub last_active_ms: u64,
    /// Whether they were told they are away (and not told since that they are back).
    #[serde(default)]
    pub away_announced: bool,
    /// When they were last given a session (ms).
    #[serde(default)]
    pub last_assigned_ms: Option<u64>,
}

table! {
    /// `lc_presence`: operator id → their presence.
    pub Presences = trees::LC_PRESENCE; Uuid => Cbor<PresenceRecord>
}

impl LiveChatStore {
    /// Every stored presence, by operator.
    pub fn presences(&self) -> Result<Vec<(Uuid, PresenceRecord)>, StoreError> {
        self.presence
            .iter()
            .map(|e| e.map(|(k, Cbor(v))| (k, v)))
            .collect()
    }

    /// Writes an operator's presence (not flushed: see the module notes).
    pub fn put_presence(&self, operator: Uuid, record: &PresenceRecord) -> Result<(), StoreError> {
        self.presence.put_ref(&operator, record)
    }

    /// Removes an operator's presence (their user is deleted); answers whether there was one.
    pub fn remove_presence(&self, operator: Uuid) -> Result<bool, StoreError> {
        self.presence.remove(&operator)
    }
}
