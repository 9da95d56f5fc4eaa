//! [`WriteGate`]: lets a backup see the database as one moment, like a crash would.
//!
//! Every write of a [`super::Tree`] passes the gate (a shared lock, uncontended almost always);
//! [`WriteGate::freeze`] takes it exclusively, so while a snapshot is read no write lands. The
//! snapshot then holds a prefix of every writer's sequence of writes, which is exactly what a
//! crash at that moment would leave, and every writer already orders its writes so that any
//! prefix is safe (messaging's order, the federation's redo intents; see the store's notes).
//! A write is a single sled call, so the gate never waits for more than one of them.
//!
//! Used by `store/tree.rs` (writers) and `store/snapshot.rs` (the backup).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The database's write gate (see the module documentation). Cheap to clone.
#[derive(Clone, Default)]
pub struct WriteGate(Arc<RwLock<()>>);

impl std::fmt::Debug for WriteGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteGate")
    }
}

impl WriteGate {
    /// Passes the gate for one write (waits while a snapshot is being read).
    pub fn enter(&self) -> RwLockReadGuard<'_, ()> {
        // A panic while holding the lock leaves nothing half-done behind it: the lock guards
        // no data, so a poisoned lock is used as it is.
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops every write until the guard is dropped.
    pub fn freeze(&self) -> RwLockWriteGuard<'_, ()> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}
