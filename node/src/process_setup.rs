//! What a serving process sets once, before it opens its data folder: the file-creation mask
//! (077, so every file and folder ochat creates is its owner's alone) and the open-file limit
//! (the soft limit raised to the hard one, so the API's connection cap, not the kernel, decides
//! when to refuse clients).
//!
//! Called by [`crate::RunningNode::start`] and the directory server's start; both are
//! process-wide and idempotent. [`crate::http_server`] reads [`open_file_limit`] to keep its
//! connection cap below the file limit.

use std::sync::OnceLock;

/// The highest soft limit asked for when the hard limit is "unlimited" (Linux's default
/// `fs.nr_open`).
#[cfg(unix)]
const UNLIMITED_TARGET: u64 = 1 << 20;

/// What [`prepare`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSetup {
    /// The open-file limit after the attempt to raise it (None: unknown on this platform).
    pub open_files: Option<u64>,
    /// The limit before (None: unknown).
    pub open_files_before: Option<u64>,
}

static SETUP: OnceLock<ProcessSetup> = OnceLock::new();

/// Sets the umask to 077 and raises the open-file limit, once per process; later calls return
/// what the first one did.
pub fn prepare() -> ProcessSetup {
    *SETUP.get_or_init(|| {
        restrict_umask();
        let before = open_file_limit();
        let after = raise_open_file_limit();
        if before != after {
            tracing::info!(?before, ?after, "raised the open-file limit");
        }
        ProcessSetup {
            open_files: after,
            open_files_before: before,
        }
    })
}

/// New files are created 0600 and folders 0700, whatever mode the code asks for.
#[cfg(unix)]
fn restrict_umask() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_raw_mode(0o077));
}

#[cfg(not(unix))]
fn restrict_umask() {}

/// The current soft limit on open files.
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit};
    getrlimit(Resource::Nofile).current
}

/// The current soft limit on open files (unknown here).
#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

/// Raises the soft open-file limit to the hard limit where the system allows it; answers the
/// limit in force afterwards.
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let target = limit
        .maximum
        .unwrap_or(UNLIMITED_TARGET)
        .min(UNLIMITED_TARGET);
    match limit.current {
        Some(current) if current >= target => return Some(current),
        None => return None,
        Some(_) => {}
    }
    let wanted = Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, wanted) {
        tracing::warn!(error = %e, ?limit, "could not raise the open-file limit");
    }
    open_file_limit()
}

/// Raises the soft open-file limit (nothing to do here).
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_limit_ends_at_the_hard_limit_and_files_are_private() {
        use rustix::process::{Resource, getrlimit};
        let setup = prepare();
        let hard = getrlimit(Resource::Nofile)
            .maximum
            .unwrap_or(UNLIMITED_TARGET);
        assert_eq!(setup.open_files, Some(hard.min(UNLIMITED_TARGET)));
        assert_eq!(prepare(), setup, "a second call changes nothing");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
