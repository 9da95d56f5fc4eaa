//! The mark a restore leaves in the database (table `restore`): which backup the node came
//! back from, and when. Written by `crate::backup::restore`, read at start
//! (`crate::backup::Backups`) and shown by `GET /api/v1/instance`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::table::{Cbor, Table, table};
use super::{Store, StoreError, trees};

/// Which backup a node was restored from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RestoredFrom {
    /// The backup's id.
    pub backup: Uuid,
    /// When the backup was taken (ms since the Unix epoch).
    pub backup_created_ms: u64,
    /// When it was restored (ms since the Unix epoch).
    pub restored_ms: u64,
}

table! {
    /// `restore`: "restored_from" → [`RestoredFrom`].
    RestoreTable = trees::RESTORE; String => Cbor<RestoredFrom>
}

const KEY: &str = "restored_from";

impl Store {
    /// The restore mark, if this database was restored from a backup.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn restored_from(&self) -> Result<Option<RestoredFrom>, StoreError> {
        let table: Table<RestoreTable> = self.table()?;
        Ok(table.get(&KEY.to_string())?.map(|Cbor(mark)| mark))
    }

    /// Marks this database as restored (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn mark_restored(&self, mark: &RestoredFrom) -> Result<(), StoreError> {
        let table: Table<RestoreTable> = self.table()?;
        table.put(&KEY.to_string(), &Cbor(mark.clone()))
    }
}
