//! Outbox entries written but not yet durable. The delivery worker must not send them: if the
//! node crashed before their flush, its ratchet would come back without them and seal the next
//! message with the same key, so a peer (or a listener on the wire) would see two different
//! messages under one key. The committer holds a group's ids from before its writes until its
//! flush has finished; after a restart nothing is held, because everything left in the outbox
//! was recovered from disk.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// Per channel, the ids of sealed messages whose flush has not finished.
#[derive(Debug, Default)]
pub(crate) struct Unflushed {
    map: StdMutex<HashMap<Uuid, HashSet<Uuid>>>,
    /// Counts releases, so a delivery that found only held entries can tell whether any was
    /// let go while it looked (then it must look again) or not (the release will wake it).
    releases: AtomicU64,
}

impl Unflushed {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Uuid, HashSet<Uuid>>) -> R) -> R {
        match self.map.lock() {
            Ok(mut map) => f(&mut map),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Holds `ids` of `channel` back from delivery.
    pub(crate) fn hold(&self, channel: Uuid, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        self.with(|map| map.entry(channel).or_default().extend(ids.iter().copied()));
    }

    /// Lets `ids` go: their flush has finished.
    pub(crate) fn release(&self, channel: Uuid, ids: &[Uuid]) {
        self.with(|map| {
            if let Some(held) = map.get_mut(&channel) {
                for id in ids {
                    held.remove(id);
                }
                if held.is_empty() {
                    map.remove(&channel);
                }
            }
            // Under the lock, so a reader of `held` after this sees the new count too.
            self.releases.fetch_add(1, Ordering::SeqCst);
        });
    }

    /// How many releases there have been. Read it before [`Unflushed::held`]: if it has not
    /// changed afterwards, nothing was released in between.
    pub(crate) fn releases(&self) -> u64 {
        self.releases.load(Ordering::SeqCst)
    }

    /// The ids of `channel` still held (usually none).
    pub(crate) fn held(&self, channel: Uuid) -> HashSet<Uuid> {
        self.with(|map| map.get(&channel).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_ids_stay_back_until_released_and_channels_are_apart() {
        let unflushed = Unflushed::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (m1, m2, m3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        unflushed.hold(a, &[m1, m2]);
        unflushed.hold(b, &[m3]);
        assert_eq!(unflushed.held(a), HashSet::from([m1, m2]));
        unflushed.release(a, &[m1]);
        assert_eq!(unflushed.held(a), HashSet::from([m2]));
        assert_eq!(unflushed.held(b), HashSet::from([m3]));
        let before = unflushed.releases();
        unflushed.release(a, &[m2]);
        assert_eq!(unflushed.releases(), before + 1);
        assert!(unflushed.held(a).is_empty());
        assert!(unflushed.map.lock().unwrap().get(&a).is_none());
    }
}
