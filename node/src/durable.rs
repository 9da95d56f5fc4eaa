//! Grouped flushes: many writers wait for one flush instead of each paying for its own.
//!
//! A writer first makes its sled write, then calls [`GroupFlush::wait`]: it takes a ticket, wakes
//! the flusher and waits until a flush that *started after the ticket was taken* has finished.
//! Every write made before a ticket is therefore on disk when `wait` returns. Under load one
//! flush covers every writer that arrived while the previous flush ran.
//!
//! The flush runs on one thread of its own (`ochat-flush-0`), not on tokio's blocking pool: a
//! writer's ticket wakes it directly, and the finished flush wakes the writers through a
//! `watch`, with no task in between. Under load the tokio workers are busy, and every task hop
//! on the way to a flush and back added to each writer's wait.
//!
//! One flush at a time. Two at once helped while flushes ran on the blocking pool (a writer
//! arriving just after a flush started no longer waited for it and then for one of its own),
//! and would be safe, since each flush makes durable everything logged before it started. On
//! a thread of its own one is faster: every sled flush seals and writes an IO buffer through
//! sled's IO pool, which wakes all of its idle threads, so two small flushes cost more
//! wake-ups than one that covers both. Measured in the `federation` bench, three strictly
//! alternating pairs on 2026-12-04: 16 in flight 13,117–13,646 msg/s with two flusher threads,
//! 14,564–15,151 with one (docs/benchmarks.md, "What the benchmarks changed in the node").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::store::{Store, StoreError};

/// The group-flush service of a store.
#[derive(Debug, Clone)]
pub struct GroupFlush {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    done: watch::Receiver<(u64, Option<String>)>,
}

/// What the writers and the flusher thread share.
#[derive(Debug)]
struct Shared {
    /// The last ticket taken.
    requested: AtomicU64,
    /// The highest ticket the running or last flush covers, and whether to stop.
    started: Mutex<Started>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Started {
    ticket: u64,
    stop: bool,
}

impl Shared {
    fn started(&self) -> MutexGuard<'_, Started> {
        match self.started.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Waits until a ticket is not covered yet and claims every ticket taken so far; `None`
    /// when the service stops.
    fn next_target(&self) -> Option<u64> {
        let mut started = self.started();
        loop {
            if started.stop {
                return None;
            }
            let target = self.requested.load(Ordering::SeqCst);
            if target > started.ticket {
                started.ticket = target;
                return Some(target);
            }
            started = match self.wake.wait(started) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.started().stop = true;
        self.shared.wake.notify_all();
    }
}

/// The flusher thread: flushes for every ticket not yet covered, until the service stops.
fn flusher(store: Store, shared: Arc<Shared>, done: watch::Sender<(u64, Option<String>)>) {
    while let Some(target) = shared.next_target() {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.flush_blocking()));
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the flush panicked".to_string()),
        };
        if let Some(e) = &error {
            tracing::error!(error = %e, "flush failed");
        }
        done.send_replace((target, error));
    }
}

impl GroupFlush {
    /// Starts the flusher thread for `store`. It stops when every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (done_tx, done_rx) = watch::channel((0u64, None));
        let shared = Arc::new(Shared {
            requested: AtomicU64::new(0),
            started: Mutex::new(Started::default()),
            wake: Condvar::new(),
        });
        let for_thread = shared.clone();
        // If the thread cannot start, `done_tx` is dropped with its closure and every waiter
        // gets "the flusher stopped" instead of waiting forever.
        let spawned = std::thread::Builder::new()
            .name("ochat-flush-0".into())
            .spawn(move || flusher(store, for_thread, done_tx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the flusher thread");
        }
        GroupFlush {
            inner: Arc::new(Inner {
                shared,
                done: done_rx,
            }),
        }
    }

    /// Waits until everything written before this call is durable.
    pub async fn wait(&self) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let ticket = shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // Taking the lock orders this ticket with a flusher's check before it sleeps.
        drop(shared.started());
        shared.wake.notify_one();
        let mut done = self.inner.done.clone();
        let (_, error) = done
            .wait_for(|(flushed, _)| *flushed >= ticket)
            .await
            .map(|v| v.clone())
            .map_err(|_| StoreError::Corrupt {
                tree: "flush",
                reason: "the flusher stopped".into(),
            })?;
        match error {
            Some(reason) => Err(StoreError::Corrupt {
                tree: "flush",
                reason,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_writers_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let flush = GroupFlush::start(store.clone());
        let mut tasks = Vec::new();
        for _ in 0..200u32 {
            let store = store.clone();
            let flush = flush.clone();
            tasks.push(tokio::spawn(async move {
                store.next_counter("writes").unwrap();
                flush.wait().await.unwrap();
            }));
        }
        for t in tasks {
            tokio::time::timeout(std::time::Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(store.counter("writes").unwrap(), 200);
    }
}
