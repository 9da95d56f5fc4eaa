//! The directory server's repository: the one signed record it keeps per Instance UUID. The
//! directory opens its own database (its own data folder) through [`Store::open`], and reads
//! and writes only this table.
//!
//! | table     | key                  | value                                       |
//! |-----------|----------------------|---------------------------------------------|
//! | `records` | Instance UUID (16 B) | 64-byte signature ‖ the CBOR body as signed |
//!
//! Trust on first use is decided by the directory ([`crate::directory::server`]) against the
//! stored record and written with [`DirectoryRecords::swap`], so two racing writers for one
//! UUID cannot both win. Used by the directory server only.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::SignedRecord;
use uuid::Uuid;

use super::table::{Table, Value, table};
use super::{Store, StoreError, trees};

/// The length of the signature in front of a stored record's body.
const SIGNATURE_LEN: usize = 64;

/// A signed record as the directory stores it: signature ‖ body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord(pub SignedRecord);

impl Value for StoredRecord {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        let signed = &self.0;
        let mut bytes = Vec::with_capacity(signed.signature.len() + signed.body.len());
        bytes.extend_from_slice(&signed.signature);
        bytes.extend_from_slice(&signed.body);
        Ok(bytes)
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() < SIGNATURE_LEN {
            return Err(StoreError::Corrupt {
                tree: table,
                reason: "a stored directory record is truncated".into(),
            });
        }
        let (signature, body) = bytes.split_at(SIGNATURE_LEN);
        Ok(StoredRecord(SignedRecord::from_parts(
            body.to_vec(),
            signature.to_vec(),
        )))
    }
}

table! {
    /// The directory's records.
    pub(crate) RecordsTable = trees::DIRECTORY_RECORDS; Uuid => StoredRecord
}

/// The directory's records (see the module documentation). Cheap to clone.
#[derive(Clone, Debug)]
pub struct DirectoryRecords {
    store: Store,
    records: Table<RecordsTable>,
    flushes: Arc<Flushes>,
}

/// Grouped flushes: a writer takes a ticket after its write; a flush that starts after the
/// ticket was taken covers the write. While one flush runs the others queue; the next one
/// covers every ticket taken so far, and those it covered return without flushing again.
#[derive(Debug, Default)]
struct Flushes {
    /// The last ticket taken.
    requested: AtomicU64,
    /// The highest ticket a finished flush covers.
    covered: AtomicU64,
    /// One flush at a time.
    running: tokio::sync::Mutex<()>,
}

impl DirectoryRecords {
    /// Opens (or creates) the directory's database in `path`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database cannot be opened.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Store::open(path)?;
        Ok(DirectoryRecords {
            records: store.table()?,
            store,
            flushes: Arc::default(),
        })
    }

    /// The record kept for `uuid`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or the record is damaged.
    pub fn get(&self, uuid: &InstanceId) -> Result<Option<SignedRecord>, StoreError> {
        Ok(self.records.get(&uuid.0)?.map(|StoredRecord(r)| r))
    }

    /// Stores `new` for `uuid` only if the stored record is still `current` (`None`: none);
    /// answers whether it did.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be written.
    pub fn swap(
        &self,
        uuid: &InstanceId,
        current: Option<&SignedRecord>,
        new: &SignedRecord,
    ) -> Result<bool, StoreError> {
        let current = current.map(|r| StoredRecord(r.clone()));
        self.records
            .compare_and_swap(&uuid.0, current.as_ref(), Some(&StoredRecord(new.clone())))
    }

    /// Makes every write so far durable (see [`Store::flush`]). Concurrent callers share
    /// flushes: under many registrations at once, one flush covers every writer that arrived
    /// while the previous one ran (before, each PUT paid for its own: see
    /// docs/benchmarks-scale-partners.md).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        let f = &self.flushes;
        let ticket = f.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = f.running.lock().await;
        if f.covered.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket up to here was taken after its write: this flush covers them all.
        let target = f.requested.load(Ordering::SeqCst);
        self.store.flush().await?;
        f.covered.fetch_max(target, Ordering::SeqCst);
        Ok(())
    }

    /// How many flushes reached the disk (for tests).
    pub fn flush_count(&self) -> u64 {
        self.store.flush_count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_folder_the_earlier_directory_wrote_with_sled_directly_opens() {
        let dir = tempfile::tempdir().unwrap();
        let uuid = InstanceId::generate();
        let signed = SignedRecord::from_parts(b"body".to_vec(), vec![3; 64]);
        {
            // How the directory opened and wrote its database before it used the store.
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let records = db.open_tree("records").unwrap();
            let value = [signed.signature.clone(), signed.body.clone()].concat();
            records.insert(uuid.as_bytes(), value).unwrap();
            db.flush().unwrap();
        }
        let records = DirectoryRecords::open(dir.path()).unwrap();
        assert_eq!(records.get(&uuid).unwrap().unwrap(), signed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_registrations_at_once_share_flushes_and_each_is_covered() {
        let dir = tempfile::tempdir().unwrap();
        let records = DirectoryRecords::open(dir.path()).unwrap();
        let writers = 64u64;
        let tasks: Vec<_> = (0..writers)
            .map(|n| {
                let records = records.clone();
                tokio::spawn(async move {
                    let uuid = InstanceId::generate();
                    let signed = SignedRecord::from_parts(n.to_be_bytes().to_vec(), vec![1; 64]);
                    assert!(records.swap(&uuid, None, &signed).unwrap());
                    records.flush().await.unwrap();
                    uuid
                })
            })
            .collect();
        for t in tasks {
            let uuid = tokio::time::timeout(std::time::Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap();
            assert!(records.get(&uuid).unwrap().is_some());
        }
        let flushes = records.flush_count();
        assert!(
            flushes < writers / 2,
            "{writers} writers at once paid for {flushes} flushes"
        );
    }

    #[test]
    fn a_record_is_stored_as_its_signature_then_its_body() {
        let dir = tempfile::tempdir().unwrap();
        let records = DirectoryRecords::open(dir.path()).unwrap();
        let uuid = InstanceId::generate();
        let signed = SignedRecord::from_parts(b"body".to_vec(), vec![9; 64]);
        assert!(records.swap(&uuid, None, &signed).unwrap());
        assert!(
            !records.swap(&uuid, None, &signed).unwrap(),
            "no longer absent"
        );
        let raw = records.store.tree(trees::DIRECTORY_RECORDS).unwrap();
        let stored = raw.get(uuid.as_bytes()).unwrap().unwrap();
        assert_eq!(stored.as_ref(), [vec![9; 64], b"body".to_vec()].concat());
        assert_eq!(records.get(&uuid).unwrap().unwrap(), signed);
        raw.insert(uuid.as_bytes(), &b"short"[..]).unwrap();
        assert!(matches!(
            records.get(&uuid),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
