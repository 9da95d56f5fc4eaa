//! A consistent snapshot of the whole database, for backups, and loading one into an empty
//! database, for restores.
//!
//! [`Store::snapshot`] closes the write gate ([`super::gate`]) and hands every entry of every
//! tree to the caller, tree by tree in name order, then opens the gate again: the snapshot is
//! one moment of the database, the state a crash at that moment would have left, which every
//! writer is built to recover from. Writes wait while it runs (measured in the backup's notes).
//! [`Store::load_snapshot`] writes entries into a fresh database; the caller flushes.
//!
//! Used by `crate::backup`.

use super::{Store, StoreError};

/// sled's own default tree, which the node does not use.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

/// What [`Store::snapshot`] hands to its visitor.
#[derive(Debug)]
pub enum SnapshotItem<'a> {
    /// The entries that follow belong to this tree.
    Tree(&'a str),
    /// One entry of the current tree.
    Entry(&'a [u8], &'a [u8]),
}

/// Errors of a snapshot: the store's, or the visitor's.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError<E: std::error::Error + 'static> {
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The visitor failed (it stops the snapshot).
    #[error(transparent)]
    Visitor(E),
}

impl Store {
    /// Hands every tree and entry of the database, as of one moment, to `visit` (see the
    /// module documentation); answers how many entries it handed over.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Store`] when sled fails, [`SnapshotError::Visitor`] when `visit` does.
    pub fn snapshot<E, F>(&self, mut visit: F) -> Result<u64, SnapshotError<E>>
    where
        E: std::error::Error + 'static,
        F: FnMut(SnapshotItem<'_>) -> Result<(), E>,
    {
        let _frozen = self.gate.freeze();
        let mut names: Vec<_> = self
            .db
            .tree_names()
            .into_iter()
            .filter(|n| n.as_ref() != SLED_DEFAULT_TREE)
            .collect();
        names.sort();
        let mut entries = 0;
        for name in names {
            let tree = self.db.open_tree(&name).map_err(StoreError::from)?;
            let name = String::from_utf8_lossy(&name);
            visit(SnapshotItem::Tree(&name)).map_err(SnapshotError::Visitor)?;
            for entry in tree.iter() {
                let (k, v) = entry.map_err(StoreError::from)?;
                visit(SnapshotItem::Entry(&k, &v)).map_err(SnapshotError::Visitor)?;
                entries += 1;
            }
        }
        Ok(entries)
    }

    /// Writes `entries` into the tree `name` of this (fresh) database; not durable until a
    /// flush. Values are checked like every write ([`super::Tree::insert`]).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn load_snapshot_tree<'a>(
        &self,
        name: &str,
        entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), StoreError> {
        let tree = super::Tree::new(self.db.open_tree(name)?, "restored", self.gate.clone());
        for (k, v) in entries {
            tree.insert(k, v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_snapshot_sees_every_tree_and_loads_into_another_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a")).unwrap();
        store
            .tree("users")
            .unwrap()
            .insert(b"u1", &b"alice"[..])
            .unwrap();
        store
            .tree("messages")
            .unwrap()
            .insert(b"m1", &b"hello"[..])
            .unwrap();
        let mut seen: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut tree = String::new();
        let n = store
            .snapshot(|item| {
                match item {
                    SnapshotItem::Tree(name) => tree = name.to_string(),
                    SnapshotItem::Entry(k, v) => seen.push((tree.clone(), k.to_vec(), v.to_vec())),
                }
                Ok::<_, std::io::Error>(())
            })
            .unwrap();
        assert_eq!(n, 2);
        assert!(seen.contains(&("users".into(), b"u1".to_vec(), b"alice".to_vec())));
        let other = Store::open(&dir.path().join("b")).unwrap();
        for (t, k, v) in &seen {
            other
                .load_snapshot_tree(t, [(k.as_slice(), v.as_slice())])
                .unwrap();
        }
        assert_eq!(
            other
                .tree("messages")
                .unwrap()
                .get(b"m1")
                .unwrap()
                .unwrap()
                .as_ref(),
            b"hello"
        );
    }

    #[test]
    fn no_write_lands_while_a_snapshot_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let users = store.tree("users").unwrap();
        users.insert(b"before", &b""[..]).unwrap();
        let reading = Arc::new(AtomicBool::new(false));
        let writer = {
            let (users, reading) = (users.clone(), reading.clone());
            std::thread::spawn(move || {
                while !reading.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                users.insert(b"during", &b""[..]).unwrap();
            })
        };
        let mut keys = Vec::new();
        store
            .snapshot(|item| {
                if let SnapshotItem::Entry(k, _) = item {
                    reading.store(true, Ordering::SeqCst);
                    // Long enough for the writer to try; the gate holds it back.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    keys.push(k.to_vec());
                }
                Ok::<_, std::io::Error>(())
            })
            .unwrap();
        writer.join().unwrap();
        assert_eq!(keys, [b"before".to_vec()]);
        assert!(users.contains_key(b"during").unwrap());
    }
}
