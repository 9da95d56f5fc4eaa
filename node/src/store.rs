//! The only code that touches sled. Every tree name and key layout is listed here.
//!
//! | tree            | key                                   | value                          |
//! |-----------------|---------------------------------------|--------------------------------|
//! | `meta`          | utf-8 name                            | CBOR, node-wide facts          |
//!
//! Keys are big-endian so ranges sort by time (UUIDv7 ids). Writes that must survive a crash are
//! one batch or transaction followed by a flush before they are acknowledged.

use std::path::Path;

use thiserror::Error;

/// Storage failures.
#[derive(Debug, Error)]
pub enum StoreError {
    /// sled reported an error.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value could not be decoded.
    #[error("stored value in {tree} is damaged: {reason}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// The names of every tree, in one place.
pub(crate) mod trees {
    pub(crate) const META: &str = "meta";
}

/// The node's database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let meta = db.open_tree(trees::META)?;
        Ok(Store { db, meta })
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Counts how many times this database has been opened by a node (a small fact that shows
    /// the store works end to end and survives restarts).
    pub fn record_start(&self) -> Result<u64, StoreError> {
        let next = self
            .meta
            .update_and_fetch("starts", |old| {
                let n = old
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Some((n + 1).to_be_bytes().to_vec())
            })?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_start_count_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.record_start().unwrap(), 1);
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.record_start().unwrap(), 2);
    }
}
