//! [`DiskSpace`]: the node stops taking writes before its data folder's disk is full, and
//! takes them again by itself when space comes back.
//!
//! Why before, not at, the full disk: sled 0.34 keeps the first I/O error of its log writer
//! and answers it to every later call, so a database that once hit "no space left" stays
//! unusable until the node restarts. The node therefore keeps a reserve ([`DEFAULT_RESERVE`],
//! `--min-free-space`): when the free space of the data folder's filesystem falls below it,
//! requests that write (HTTP `POST`/`PUT`/`PATCH`, messages and requests from peers, live chat
//! messages) are refused with a clear reason — HTTP 507, and peers are told to try later, so
//! their outbox keeps what they sent. Reads go on. The reserve leaves room for what is already
//! under way (deliveries, acknowledgements, background clean-ups) to finish.
//!
//! The free space is read with `statvfs` at most every [`RECHECK`], so the check costs an
//! atomic load on the hot path. Entering and leaving the low state are each logged once.
//!
//! Used by the API router and the directory's (the [`refuse_writes_when_full`] middleware),
//! and by the services that take writes from peers and sockets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

/// The default reserve: 64 MiB.
pub const DEFAULT_RESERVE: u64 = 64 << 20;

/// How long a reading of the free space is trusted.
pub const RECHECK: Duration = Duration::from_millis(250);

/// A write refused because the disk is (nearly) full.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error(
    "the disk of the data folder is full ({free} bytes free, below the reserve of {reserve} bytes): nothing was written; free some space and try again"
)]
pub struct DiskFull {
    /// Free bytes at the last reading.
    pub free: u64,
    /// The reserve.
    pub reserve: u64,
}

/// Watches the free space of the data folder's filesystem (see the module documentation).
#[derive(Debug)]
pub struct DiskSpace {
    path: PathBuf,
    reserve: u64,
    started: Instant,
    /// When the free space was last read (ms since `started`, plus one; 0: never).
    read_at: AtomicU64,
    free: AtomicU64,
    low: AtomicBool,
}

impl DiskSpace {
    /// Watches the filesystem of `path`, keeping `reserve` bytes free (0 turns the check off).
    pub fn new(path: &Path, reserve: u64) -> Arc<Self> {
        Arc::new(DiskSpace {
            path: path.to_path_buf(),
            reserve,
            started: Instant::now(),
            read_at: AtomicU64::new(0),
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        })
    }

    /// The reserve in bytes.
    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Whether the node takes writes now.
    ///
    /// # Errors
    ///
    /// [`DiskFull`] when the free space is below the reserve.
    pub fn check(&self) -> Result<(), DiskFull> {
        if self.reserve == 0 {
            return Ok(());
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.read_at.load(Ordering::Relaxed);
        if last == 0 || now.saturating_sub(last) >= RECHECK.as_millis() as u64 {
            // One caller reads; the others use the last reading.
            if self
                .read_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.read();
            }
        }
        if self.low.load(Ordering::Acquire) {
            return Err(DiskFull {
                free: self.free.load(Ordering::Relaxed),
                reserve: self.reserve,
            });
        }
        Ok(())
    }

    /// Reads the free space now and logs a change of state.
    fn read(&self) {
        let free = match free_bytes(&self.path) {
            Ok(free) => free,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the data folder's free space");
                return;
            }
        };
        self.free.store(free, Ordering::Relaxed);
        let low = free < self.reserve;
        if self.low.swap(low, Ordering::AcqRel) != low {
            if low {
                tracing::error!(
                    free,
                    reserve = self.reserve,
                    path = %self.path.display(),
                    "the data folder's disk is nearly full: the node refuses writes (HTTP 507, peers are told to try later) until space comes back; reads go on"
                );
            } else {
                tracing::warn!(free, "disk space is back: the node takes writes again");
            }
        }
    }
}

/// Free bytes for unprivileged users on the filesystem of `path`.
fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Middleware: answers 507 to a request that writes (`POST`, `PUT`, `PATCH`) while the disk
/// is full; everything else passes.
pub async fn refuse_writes_when_full(
    State(disk): State<Arc<DiskSpace>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if writes && let Err(full) = disk.check() {
        return crate::api::ApiError::insufficient_storage(full.to_string())
            .with_retry_after(30)
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_free_space_refuses_and_zero_turns_the_check_off() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        let full = DiskSpace::new(dir.path(), u64::MAX);
        let err = full.check().unwrap_err();
        assert_eq!(err.reserve, u64::MAX);
        assert!(err.to_string().contains("free some space"), "{err}");
        assert!(DiskSpace::new(dir.path(), 1).check().is_ok());
        assert!(DiskSpace::new(dir.path(), 0).check().is_ok());
    }
}
