//! [`Tree`]: a sled tree whose every write is checked against sled 0.34.7's blob threshold,
//! the one place where the node's value sizes are enforced.
//!
//! sled 0.34.7 writes a value whose log message exceeds its blob threshold (131,052 bytes with
//! the node's configuration) to a separate blob file, and neither sled's flush nor the node's
//! `fdatasync` of the log makes that file durable: after a power loss an acknowledged value
//! could be gone. So no value above [`MAX_VALUE_LEN`] (a margin below the threshold for the key
//! and sled's message header) is ever written: [`Tree::insert`] refuses it with
//! [`StoreError::TooLarge`] and writes nothing. Writers keep their values below it (attachment
//! chunks are 64 KiB, a ratchet encodes to at most 48 KiB, a message text to 64 KiB); the few
//! values that can be larger by nature (an attachment chunk received from an older peer) are
//! split by their owner before they are written (see `messaging::files`).
//!
//! `Tree` dereferences to `sled::Tree` for reads; its `insert` shadows sled's. Used by every
//! repository through [`super::Store`]'s fields and [`super::Store::tree`].

use std::ops::Deref;

use sled::IVec;

use super::StoreError;
use super::gate::WriteGate;

/// sled 0.34.7's blob threshold with the node's configuration: larger log messages go to
/// unsynced blob files.
pub const SLED_BLOB_THRESHOLD: usize = 131_052;

/// The largest value the node writes: the threshold less 8 KiB for the key and sled's header.
pub const MAX_VALUE_LEN: usize = SLED_BLOB_THRESHOLD - 8 * 1024;

/// Refuses a value of `len` bytes for `tree` above [`MAX_VALUE_LEN`].
///
/// # Errors
///
/// [`StoreError::TooLarge`].
pub fn check_value_len(tree: &'static str, len: usize) -> Result<(), StoreError> {
    if len > MAX_VALUE_LEN {
        return Err(StoreError::TooLarge {
            tree,
            len,
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// A sled tree of the node's database with checked writes (see the module documentation).
#[derive(Clone)]
pub struct Tree {
    inner: sled::Tree,
    name: &'static str,
    gate: WriteGate,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree").field("name", &self.name).finish()
    }
}

impl Deref for Tree {
    type Target = sled::Tree;

    fn deref(&self) -> &sled::Tree {
        &self.inner
    }
}

impl Tree {
    pub(super) fn new(inner: sled::Tree, name: &'static str, gate: WriteGate) -> Self {
        Tree { inner, name, gate }
    }

    /// The tree's catalog name ([`super::trees`]).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Inserts `value` under `key` unless the value is over [`MAX_VALUE_LEN`].
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] (nothing written), [`StoreError::Sled`].
    pub fn insert<K: AsRef<[u8]>, V: Into<IVec>>(
        &self,
        key: K,
        value: V,
    ) -> Result<Option<IVec>, StoreError> {
        let value: IVec = value.into();
        check_value_len(self.name, value.len())?;
        let _pass = self.gate.enter();
        Ok(self.inner.insert(key, value)?)
    }

    /// Removes `key`, answering its old value (shadows sled's to pass the write gate).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn remove<K: AsRef<[u8]>>(&self, key: K) -> Result<Option<IVec>, StoreError> {
        let _pass = self.gate.enter();
        Ok(self.inner.remove(key)?)
    }

    /// Removes every key (shadows sled's to pass the write gate).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn clear(&self) -> Result<(), StoreError> {
        let _pass = self.gate.enter();
        Ok(self.inner.clear()?)
    }

    /// sled's `update_and_fetch`, through the write gate; the new value is checked like
    /// [`Tree::insert`]'s (a value over the limit leaves the key as it was).
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn update_and_fetch<K, F>(&self, key: K, mut f: F) -> Result<Option<IVec>, StoreError>
    where
        K: AsRef<[u8]>,
        F: FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
    {
        let mut too_large = None;
        let got = {
            let _pass = self.gate.enter();
            self.inner.update_and_fetch(key, |old| {
                let new = f(old);
                match new {
                    Some(v) if v.len() > MAX_VALUE_LEN => {
                        too_large = Some(v.len());
                        old.map(<[u8]>::to_vec)
                    }
                    other => other,
                }
            })?
        };
        if let Some(len) = too_large {
            check_value_len(self.name, len)?;
        }
        Ok(got)
    }

    /// sled's `compare_and_swap`, through the write gate; the new value is checked like
    /// [`Tree::insert`]'s.
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] (nothing written), [`StoreError::Sled`].
    pub fn compare_and_swap<K, OV, NV>(
        &self,
        key: K,
        old: Option<OV>,
        new: Option<NV>,
    ) -> Result<Result<(), sled::CompareAndSwapError>, StoreError>
    where
        K: AsRef<[u8]>,
        OV: AsRef<[u8]>,
        NV: Into<IVec>,
    {
        let new: Option<IVec> = new.map(Into::into);
        if let Some(v) = &new {
            check_value_len(self.name, v.len())?;
        }
        let _pass = self.gate.enter();
        Ok(self.inner.compare_and_swap(key, old, new)?)
    }

    /// Applies a batch built with [`Batch`], whose inserts were checked as they were added.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        let _pass = self.gate.enter();
        Ok(self.inner.apply_batch(batch.inner)?)
    }
}

/// A sled batch whose inserts are checked like [`Tree::insert`].
#[derive(Debug, Default)]
pub struct Batch {
    inner: sled::Batch,
}

impl Batch {
    /// Adds an insert of `value` under `key` for `tree` unless the value is too large.
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] (nothing added).
    pub fn insert(
        &mut self,
        tree: &'static str,
        key: impl Into<IVec>,
        value: impl Into<IVec>,
    ) -> Result<(), StoreError> {
        let value: IVec = value.into();
        check_value_len(tree, value.len())?;
        self.inner.insert(key, value);
        Ok(())
    }

    /// Adds a removal of `key`.
    pub fn remove(&mut self, key: impl Into<IVec>) {
        self.inner.remove(key);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::super::{Store, trees};
    use super::*;

    #[test]
    fn a_value_over_the_blob_threshold_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big = vec![7u8; SLED_BLOB_THRESHOLD + 1];
        let attachments = store.tree(trees::ATTACHMENTS).unwrap();
        let refused = attachments.insert(b"k", big);
        assert!(
            matches!(
                refused,
                Err(StoreError::TooLarge {
                    tree: trees::ATTACHMENTS,
                    len,
                    max: MAX_VALUE_LEN
                }) if len == SLED_BLOB_THRESHOLD + 1
            ),
            "{refused:?}"
        );
        assert!(attachments.get(b"k").unwrap().is_none());
        // Just below the limit is fine, in any tree opened by name too.
        attachments.insert(b"k", vec![7u8; MAX_VALUE_LEN]).unwrap();
        let lc = store.tree(trees::LC_MESSAGES).unwrap();
        assert!(matches!(
            lc.insert(b"k", vec![0u8; MAX_VALUE_LEN + 1]),
            Err(StoreError::TooLarge { .. })
        ));
        let mut batch = Batch::default();
        assert!(
            batch
                .insert(trees::ATTACHMENTS, &b"b"[..], vec![0u8; MAX_VALUE_LEN + 1])
                .is_err()
        );
    }
}
