//! Brakes on password guessing, used by [`Accounts::login`](super::Accounts::login) and, for
//! the bounded hashing, by every password hash the accounts compute.
//!
//! - **Failures per login and per client address.** Five wrong passwords for one login within
//!   15 minutes lock that login for 15 minutes; thirty failures from one address (an IPv6
//!   address counts by its /64) within 15 minutes lock that address for 15 minutes. A locked
//!   login or address is answered 429 with the seconds left, *before* any password is checked,
//!   so the right password is refused too while the lock lasts. Unknown logins count like
//!   known ones (a lock that only known logins get would tell which logins exist). A success
//!   clears the login's count, not the address's.
//! - **Bounded hashing.** argon2 takes about 19 MiB and tens of milliseconds per check; at most
//!   one check per core runs at once, a few more wait, and the rest are answered 503 at once
//!   (busy, retry in a second). Each running check works in one of a few argon2 memory areas
//!   kept for reuse (one per core, made on first use), instead of asking the allocator for 19
//!   MiB each time (which malloc's per-thread arenas keep), so memory stays flat however many
//!   logins arrive.
//! - **Same work for unknown logins.** A login that does not exist (or has no password) is
//!   checked against a dummy hash made with the same parameters, so it takes as long as a
//!   wrong password for a real login.
//!
//! Time comes from the accounts' [`Clock`](crate::clock::Clock), so tests move it instead of waiting.
//! Both failure tables are bounded ([`MAX_TRACKED`] entries each; the stalest goes first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AccountsError;

/// Wrong passwords for one login that lock it.
pub const LOGIN_MAX_FAILURES: u32 = 5;
/// Failures from one client address that lock it.
pub const ADDRESS_MAX_FAILURES: u32 = 30;
/// The window failures are counted in, and how long a lock lasts (15 minutes).
pub const LOCK_MS: u64 = 15 * 60 * 1000;
/// Entries each failure table keeps at most.
pub const MAX_TRACKED: usize = 65_536;
/// Password checks that may wait for a core, per core, before more are refused.
const QUEUE_PER_CORE: usize = 4;
/// What a client refused because the hashing queue is full is told to wait (seconds).
pub const BUSY_RETRY_SECS: u64 = 1;

/// Why a login was refused.
#[derive(Debug, Error)]
pub enum LoginError {
    /// Wrong login or password (the same answer for both).
    #[error("wrong login or password")]
    Unauthorized,
    /// Too many failures for this login or from this address.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Locked {
        /// Seconds until the lock ends.
        retry_after_secs: u64,
    },
    /// Too many password checks in flight.
    #[error("the server is busy checking passwords; try again in {retry_after_secs} s")]
    Busy {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Anything else.
    #[error(transparent)]
    Other(#[from] AccountsError),
}

/// Failures of one login or address.
#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    window_start_ms: u64,
    locked_until_ms: u64,
    last_ms: u64,
}

/// A bounded table of failures.
#[derive(Debug, Default)]
struct Table<K> {
    entries: HashMap<K, Failures>,
}

impl<K: std::hash::Hash + Eq + Copy> Table<K> {
    /// Milliseconds of lock left for `key`.
    fn locked(&self, key: &K, now: u64) -> Option<u64> {
        let f = self.entries.get(key)?;
        (f.locked_until_ms > now).then(|| f.locked_until_ms - now)
    }

    /// Counts a failure; locks the key when it reaches `max` within the window.
    fn fail(&mut self, key: K, now: u64, max: u32) {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let f = self.entries.entry(key).or_default();
        if now.saturating_sub(f.window_start_ms) > LOCK_MS {
            f.count = 0;
            f.window_start_ms = now;
        }
        f.count += 1;
        f.last_ms = now;
        if f.count >= max {
            f.locked_until_ms = now + LOCK_MS;
            f.count = 0;
            f.window_start_ms = now;
        }
    }

    /// Forgets entries with nothing left to remember, else the stalest one.
    fn make_room(&mut self, now: u64) {
        self.entries.retain(|_, f| {
            f.locked_until_ms > now || now.saturating_sub(f.window_start_ms) <= LOCK_MS
        });
        if self.entries.len() >= MAX_TRACKED
            && let Some(stalest) = self
                .entries
                .iter()
                .min_by_key(|(_, f)| f.last_ms)
                .map(|(k, _)| *k)
        {
            self.entries.remove(&stalest);
        }
    }

    fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (one host gets a whole /64).
fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return u128::from(u32::from(v4));
            }
            (u128::from(v6) & !((1u128 << 64) - 1)) | 1
        }
    }
}

/// The key of a login (hashed: the table keeps no attacker-chosen strings).
fn login_key(login: &str) -> [u8; 32] {
    Sha256::digest(login.trim().as_bytes()).into()
}

/// argon2 memory areas kept for reuse.
type Pool = Arc<Mutex<Vec<Vec<Block>>>>;

/// Leave to run one password hash; holds a core (and a memory area) until dropped.
pub(crate) struct HashTicket {
    memory: Vec<Block>,
    pool: Pool,
    _permit: OwnedSemaphorePermit,
    _queued: Queued,
}

impl std::fmt::Debug for HashTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashTicket")
            .field("memory_blocks", &self.memory.len())
            .finish_non_exhaustive()
    }
}

impl Drop for HashTicket {
    fn drop(&mut self) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(std::mem::take(&mut self.memory));
        }
    }
}

/// Stored hashes asking for more than this many KiB are refused (ours use 19 MiB).
const MAX_BLOCKS: usize = 256 * 1024;

impl HashTicket {
    /// Whether `password` matches a stored PHC string, computed in this ticket's memory area.
    pub(crate) fn verify(&mut self, password: &str, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
            return false;
        };
        let version = match hash.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        let blocks = params.block_count();
        if blocks > MAX_BLOCKS {
            return false;
        }
        if self.memory.len() < blocks {
            self.memory.resize(blocks, Block::default());
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params);
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut self.memory[..blocks],
            )
            .is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }
}

/// Counts one admitted check (waiting or running) until dropped.
#[derive(Debug)]
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Login failure tables, the hashing semaphore and the dummy hash.
#[derive(Debug)]
pub(crate) struct LoginGuard {
    logins: Mutex<Table<[u8; 32]>>,
    addresses: Mutex<Table<u128>>,
    cores: Arc<Semaphore>,
    memory: Pool,
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    dummy: OnceLock<String>,
    token_idle_ms: u64,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new(super::DEFAULT_TOKEN_IDLE_DAYS)
    }
}

impl LoginGuard {
    /// A guard whose login tokens expire after `token_idle_days` unused.
    pub(crate) fn new(token_idle_days: u32) -> Self {
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        LoginGuard {
            logins: Mutex::default(),
            addresses: Mutex::default(),
            cores: Arc::new(Semaphore::new(cores)),
            memory: Pool::default(),
            admitted: Arc::new(AtomicUsize::new(0)),
            max_admitted: cores * (1 + QUEUE_PER_CORE),
            dummy: OnceLock::new(),
            token_idle_ms: u64::from(token_idle_days) * 24 * 3600 * 1000,
        }
    }

    /// How long a login token may go unused (ms).
    pub(crate) fn token_idle_ms(&self) -> u64 {
        self.token_idle_ms
    }
}

fn poisoned() -> LoginError {
    LoginError::Other(AccountsError::Internal("login guard lock poisoned".into()))
}

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

impl LoginGuard {
    /// Refuses a login or address that is locked (checked before any password).
    pub(crate) fn check(
        &self,
        login: &str,
        ip: Option<IpAddr>,
        now: u64,
    ) -> Result<(), LoginError> {
        let by_login = self
            .logins
            .lock()
            .map_err(|_| poisoned())?
            .locked(&login_key(login), now);
        let by_address = match ip {
            Some(ip) => self
                .addresses
                .lock()
                .map_err(|_| poisoned())?
                .locked(&address_key(ip), now),
            None => None,
        };
        match by_login.max(by_address) {
            Some(ms) => Err(LoginError::Locked {
                retry_after_secs: secs(ms),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failed login.
    pub(crate) fn failed(&self, login: &str, ip: Option<IpAddr>, now: u64) {
        if let Ok(mut t) = self.logins.lock() {
            t.fail(login_key(login), now, LOGIN_MAX_FAILURES);
        }
        if let (Some(ip), Ok(mut t)) = (ip, self.addresses.lock()) {
            t.fail(address_key(ip), now, ADDRESS_MAX_FAILURES);
        }
    }

    /// Clears a login's failures after it succeeded.
    pub(crate) fn succeeded(&self, login: &str) {
        if let Ok(mut t) = self.logins.lock() {
            t.clear(&login_key(login));
        }
    }

    /// Waits for a core to hash on, or refuses at once when too many checks are in flight.
    pub(crate) async fn ticket(&self) -> Result<HashTicket, LoginError> {
        let queued = Queued(self.admitted.clone());
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.max_admitted {
            return Err(LoginError::Busy {
                retry_after_secs: BUSY_RETRY_SECS,
            });
        }
        self.wait_ticket(queued).await
    }

    /// Waits for a core however long the queue is (the admin's own password changes).
    pub(crate) async fn ticket_unbounded(&self) -> Result<HashTicket, LoginError> {
        self.admitted.fetch_add(1, Ordering::SeqCst);
        self.wait_ticket(Queued(self.admitted.clone())).await
    }

    async fn wait_ticket(&self, queued: Queued) -> Result<HashTicket, LoginError> {
        let permit = self.cores.clone().acquire_owned().await.map_err(|_| {
            LoginError::Other(AccountsError::Internal("hashing semaphore closed".into()))
        })?;
        let memory = match self.memory.lock() {
            Ok(mut pool) => pool.pop().unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        Ok(HashTicket {
            memory,
            pool: self.memory.clone(),
            _permit: permit,
            _queued: queued,
        })
    }

    /// The dummy hash unknown logins are checked against (made once, like a real one).
    pub(crate) fn dummy_hash(&self) -> Result<String, AccountsError> {
        if let Some(h) = self.dummy.get() {
            return Ok(h.clone());
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| AccountsError::Internal(e.to_string()))?;
        let made = super::hash_password(&hex::encode(secret))?;
        Ok(self.dummy.get_or_init(|| made).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_locks_after_five_failures_and_unlocks_after_the_window() {
        let g = LoginGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..LOGIN_MAX_FAILURES - 1 {
            g.failed("ann", Some(ip), 1_000);
            assert!(g.check("ann", Some(ip), 1_000).is_ok());
        }
        g.failed("ann", Some(ip), 1_000);
        let Err(LoginError::Locked { retry_after_secs }) = g.check(" ann ", None, 2_000) else {
            panic!("ann should be locked");
        };
        assert_eq!(retry_after_secs, (LOCK_MS - 1_000) / 1000);
        assert!(
            g.check("bob", Some(ip), 2_000).is_ok(),
            "the address is not locked yet"
        );
        assert!(g.check("ann", None, 1_000 + LOCK_MS + 1).is_ok());
    }

    #[test]
    fn an_address_locks_after_thirty_failures_over_any_logins() {
        let g = LoginGuard::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::ffff".parse().unwrap();
        for i in 0..ADDRESS_MAX_FAILURES {
            g.failed(&format!("user{i}"), Some(ip), 5);
        }
        assert!(matches!(
            g.check("someone", Some(neighbour), 6),
            Err(LoginError::Locked { .. })
        ));
        assert!(
            g.check("someone", Some("2001:db9::1".parse().unwrap()), 6)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_ticket_verifies_like_argon2_itself_and_keeps_its_memory_for_the_next() {
        let g = LoginGuard::default();
        let stored = crate::accounts::hash_password("correct horse").unwrap();
        let mut t = g.ticket().await.unwrap();
        assert!(t.verify("correct horse", &stored));
        assert!(!t.verify("correct hors", &stored));
        assert!(!t.verify("correct horse", "not a hash"));
        drop(t);
        let kept = g.memory.lock().unwrap().iter().map(Vec::len).max();
        assert_eq!(kept, Some(Params::default().block_count()));
        let mut t = g.ticket().await.unwrap();
        assert_eq!(t.memory.len(), Params::default().block_count(), "reused");
        assert!(t.verify("correct horse", &stored));
    }

    #[test]
    fn the_failure_tables_stay_bounded() {
        let mut t = Table::<u128>::default();
        for i in 0..(MAX_TRACKED as u128 + 10) {
            t.fail(i, 1, 100);
        }
        assert!(t.entries.len() <= MAX_TRACKED);
    }

    #[tokio::test]
    async fn checks_beyond_the_queue_are_refused_at_once() {
        let g = LoginGuard::default();
        let mut held = Vec::new();
        for _ in 0..g.cores.available_permits() {
            held.push(g.ticket().await.unwrap());
        }
        let mut waiting = Vec::new();
        while g.admitted.load(Ordering::SeqCst) < g.max_admitted {
            let ticket = g.ticket();
            waiting.push(Box::pin(ticket));
            // Register the waiter.
            let _ = futures::poll!(waiting.last_mut().unwrap());
        }
        assert!(matches!(g.ticket().await, Err(LoginError::Busy { .. })));
        drop(held);
        drop(waiting);
        assert_eq!(g.admitted.load(Ordering::SeqCst), 0);
    }
}
