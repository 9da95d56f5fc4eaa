//! The bounded store of skipped message keys, for messages that arrive out of order.
//!
//! Keys are kept in arrival order under `(sender ratchet public key, message number)`. When the
//! store would exceed [`super::MAX_SKIPPED_KEYS`] the oldest keys are evicted; a key is deleted
//! as soon as its message has been opened.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::keys::MessageKey;

/// One stored key.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SkippedKey {
    pub(super) dh: [u8; 32],
    pub(super) n: u32,
    pub(super) key: MessageKey,
}

/// Skipped message keys, oldest first.
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct SkippedKeys {
    keys: VecDeque<SkippedKey>,
}

impl SkippedKeys {
    /// The position and key stored for message `n` of the chain of `dh`, if any.
    pub(super) fn find(&self, dh: &[u8; 32], n: u32) -> Option<(usize, &MessageKey)> {
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.n == n && &k.dh == dh)
            .map(|(i, k)| (i, &k.key))
    }

    /// Deletes the key at `position` (after its message was opened).
    pub(super) fn remove(&mut self, position: usize) {
        // The removed key zeroizes itself when dropped here.
        self.keys.remove(position);
    }

    /// Appends newly skipped keys, evicting the oldest beyond `cap`.
    pub(super) fn extend(&mut self, new: Vec<SkippedKey>, cap: usize) {
        self.keys.extend(new);
        while self.keys.len() > cap {
            self.keys.pop_front();
        }
    }

    /// How many keys are stored.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}
