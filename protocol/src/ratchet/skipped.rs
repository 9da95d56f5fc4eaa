//! The bounded store of skipped message keys, for messages that arrive out of order.
//!
//! Keys are kept in arrival order under `(sender ratchet public key, message number)`, with the
//! time they were stored. Bounds, like vodozemac's:
//!
//! - at most [`super::MAX_SKIPPED_PER_CHAIN`] keys per chain (the oldest of the chain go first);
//! - keys of at most [`super::MAX_SKIPPED_CHAINS`] chains (all keys of the oldest chain go first);
//! - a key older than [`super::SKIPPED_KEY_LIFETIME_MS`] no longer opens anything and is
//!   deleted at the next successful open.
//!
//! A key is deleted as soon as its message has been opened.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::keys::MessageKey;
use super::{MAX_SKIPPED_CHAINS, MAX_SKIPPED_PER_CHAIN, SKIPPED_KEY_LIFETIME_MS};

/// One stored key.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SkippedKey {
    pub(super) dh: [u8; 32],
    pub(super) n: u32,
    pub(super) key: MessageKey,
    /// When it was stored (ms since the Unix epoch); 0 in state written by earlier versions,
    /// which counts as "now" at the next prune.
    #[serde(default)]
    pub(super) at_ms: u64,
}

/// Skipped message keys, oldest first.
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct SkippedKeys {
    keys: VecDeque<SkippedKey>,
}

fn expired(key: &SkippedKey, now_ms: u64) -> bool {
    key.at_ms != 0 && now_ms.saturating_sub(key.at_ms) > SKIPPED_KEY_LIFETIME_MS
}

impl SkippedKeys {
    /// The position and key stored for message `n` of the chain of `dh`, if any and not expired.
    pub(super) fn find(&self, dh: &[u8; 32], n: u32, now_ms: u64) -> Option<(usize, &MessageKey)> {
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.n == n && &k.dh == dh && !expired(k, now_ms))
            .map(|(i, k)| (i, &k.key))
    }

    /// Deletes the key at `position` (after its message was opened).
    pub(super) fn remove(&mut self, position: usize) {
        // The removed key zeroizes itself when dropped here.
        self.keys.remove(position);
    }

    /// Appends newly skipped keys (stamped `now_ms`), deletes expired keys, then applies the
    /// per-chain and per-store bounds, oldest first.
    pub(super) fn extend(&mut self, new: Vec<SkippedKey>, now_ms: u64) {
        self.keys.extend(new.into_iter().map(|mut k| {
            k.at_ms = now_ms;
            k
        }));
        self.prune(now_ms);
    }

    /// Deletes expired keys and applies the bounds.
    pub(super) fn prune(&mut self, now_ms: u64) {
        if self.keys.is_empty() {
            return;
        }
        for k in self.keys.iter_mut().filter(|k| k.at_ms == 0) {
            k.at_ms = now_ms;
        }
        self.keys.retain(|k| !expired(k, now_ms));
        // Per chain: keep the newest MAX_SKIPPED_PER_CHAIN (walk newest first).
        let mut per_chain: HashMap<[u8; 32], usize> = HashMap::new();
        let mut keep = vec![true; self.keys.len()];
        for (i, k) in self.keys.iter().enumerate().rev() {
            let seen = per_chain.entry(k.dh).or_insert(0);
            *seen += 1;
            keep[i] = *seen <= MAX_SKIPPED_PER_CHAIN;
        }
        // Chains: keep the MAX_SKIPPED_CHAINS whose newest key is newest.
        let mut chains: Vec<[u8; 32]> = Vec::new();
        for k in self.keys.iter().rev() {
            if !chains.contains(&k.dh) {
                chains.push(k.dh);
            }
        }
        chains.truncate(MAX_SKIPPED_CHAINS);
        let mut i = 0;
        self.keys.retain(|k| {
            let kept = keep[i] && chains.contains(&k.dh);
            i += 1;
            kept
        });
    }

    /// How many keys are stored.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// How many chains have stored keys.
    #[cfg(test)]
    pub(super) fn chains(&self) -> usize {
        let mut chains: Vec<&[u8; 32]> = self.keys.iter().map(|k| &k.dh).collect();
        chains.sort();
        chains.dedup();
        chains.len()
    }
}
