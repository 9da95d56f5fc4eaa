//! Node-wide counters in the `meta` table: utf-8 name → u64 (8 B BE).
//!
//! | counter             | what it counts                                           |
//! |---------------------|----------------------------------------------------------|
//! | `starts`            | node starts                                              |
//! | `record_seq`        | the sequence number of our signed instance record        |
//! | `rejected_messages` | incoming channel messages refused (`/metrics`)           |
//! | live chat's         | lead and ticket numbers (named after their tables)       |
//! | `lc_open_sessions_indexed` | 1 once the open live chat sessions are indexed (`upgrade`) |
//!
//! Used through [`Store::next_counter`], [`Store::next_counter_at_least`] and
//! [`Store::counter`] by the node, federation, messaging and live chat.

use super::table::{Table, table};
use super::{Store, StoreError, trees};

table! {
    /// `meta`: counter name → value.
    pub MetaTable = trees::META; String => u64
}

impl Store {
    fn meta(&self) -> Result<Table<MetaTable>, StoreError> {
        self.table()
    }

    /// Raises a counter to at least `floor` (and at least by one) and returns it: stays
    /// increasing even if the last increments were lost in a crash.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (a damaged counter: nothing written).
    pub fn next_counter_at_least(&self, name: &str, floor: u64) -> Result<u64, StoreError> {
        let next = self.meta()?.update(&name.to_string(), |old| {
            Some((old.unwrap_or(0) + 1).max(floor))
        })?;
        Ok(next.unwrap_or(floor))
    }

    /// Increments a counter and returns the new value.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (a damaged counter: nothing written).
    pub fn next_counter(&self, name: &str) -> Result<u64, StoreError> {
        let next = self
            .meta()?
            .update(&name.to_string(), |old| Some(old.unwrap_or(0) + 1))?;
        Ok(next.unwrap_or(0))
    }

    /// A counter's value (0 before its first increment).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self.meta()?.get(&name.to_string())?.unwrap_or(0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_counter_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.counter("starts").unwrap(), 0);
            assert_eq!(store.next_counter("starts").unwrap(), 1);
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.next_counter("starts").unwrap(), 2);
        assert_eq!(store.next_counter_at_least("starts", 10).unwrap(), 10);
        assert_eq!(store.next_counter_at_least("starts", 5).unwrap(), 11);
        assert_eq!(store.counter("starts").unwrap(), 11);
    }
}
