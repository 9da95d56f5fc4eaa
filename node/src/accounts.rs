//! # Accounts
//!
//! Who may use the node: local users (operators) with a login, an argon2-hashed password and
//! a profile; their login tokens; and, for every request, who is calling ([`Who`]). Live chat,
//! messaging and federation use this module to know who is writing; none of them keeps users
//! of its own.
//!
//! - [`who`] — [`Who`] (admin, operator, visitor) and [`Caller`] (who and the token they
//!   sent), and reading a request's token (bearer header; on a WebSocket upgrade only, the
//!   `ochat.token.` subprotocol or `?token=`). The axum extractors that turn a request into a
//!   `Caller` are in `api::auth`.
//! - [`users`] — users and profiles, password hashing, the profile's language checks.
//! - [`tokens`] — login, token checks (idle expiry), logout and revocation.
//! - [`login_guard`] — failure locks per login and address, bounded password hashing.
//!
//! Who talks to whom: `api` handlers and extractors → [`Accounts`] → its repository
//! `store::accounts` (tables `users`, `lc_passwords`, `lc_tokens`). Live chat holds an
//! `Accounts` (operators' profiles, presence on login) and shares its [`Revocations`], so a
//! revoked token closes the sockets that use it.

pub mod login_guard;
pub mod tokens;
pub mod users;
pub mod who;

use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::watch;

pub use tokens::DEFAULT_TOKEN_IDLE_DAYS;
pub use users::{UserInput, hash_password};
pub use who::{Caller, Who};

use crate::clock::{Clock, SystemClock};
use crate::durable::GroupFlush;
use crate::store::accounts::AccountsStore;
use crate::store::{Store, StoreError};

/// The accounts' failures; the API maps each to a status (see `api::error`).
#[derive(Debug, Error)]
pub enum AccountsError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input is invalid.
    #[error("{0}")]
    BadInput(String),
    /// No such user.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (a login is taken).
    #[error("{0}")]
    Conflict(String),
    /// Something that should not happen.
    #[error("{0}")]
    Internal(String),
}

/// Accounts settings.
#[derive(Debug, Clone, Default)]
pub struct AccountsConfig {
    /// The clock (the system clock when unset).
    pub clock: Option<Arc<dyn Clock>>,
    /// Login tokens unused for this many days expire ([`DEFAULT_TOKEN_IDLE_DAYS`] when unset).
    pub token_idle_days: Option<u32>,
    /// The languages profiles may name (ISO 639-1 codes, already checked).
    pub languages: Vec<String>,
}

/// Bumped whenever tokens are revoked: open sockets then re-check their token. Shared by the
/// accounts (logout, revoke, a password change) and the live chat (a visitor's erasure).
#[derive(Debug, Clone)]
pub struct Revocations(Arc<watch::Sender<u64>>);

impl Default for Revocations {
    fn default() -> Self {
        Revocations(Arc::new(watch::channel(0).0))
    }
}

impl Revocations {
    /// Tells open sockets that some tokens were revoked (each re-checks its own).
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever tokens are revoked.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// The accounts service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    repo: AccountsStore,
    clock: Arc<dyn Clock>,
    guard: login_guard::LoginGuard,
    languages: Vec<String>,
    revocations: Revocations,
    /// Grouped flushes (database flush + fdatasync) for writes that are acknowledged.
    flush: GroupFlush,
}

impl Accounts {
    /// Opens the accounts' tables.
    ///
    /// # Errors
    ///
    /// [`AccountsError::Store`].
    pub fn new(
        store: &Store,
        config: &AccountsConfig,
        flush: GroupFlush,
    ) -> Result<Accounts, AccountsError> {
        Ok(Accounts {
            inner: Arc::new(Inner {
                repo: AccountsStore::open(store)?,
                clock: config
                    .clock
                    .clone()
                    .unwrap_or_else(|| Arc::new(SystemClock)),
                guard: login_guard::LoginGuard::new(
                    config.token_idle_days.unwrap_or(DEFAULT_TOKEN_IDLE_DAYS),
                ),
                languages: config.languages.clone(),
                revocations: Revocations::default(),
                flush,
            }),
        })
    }

    /// Now, by the service's clock (ms).
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The token revocation signal (sockets subscribe to it).
    pub fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    pub(crate) fn guard(&self) -> &login_guard::LoginGuard {
        &self.inner.guard
    }

    pub(crate) fn repo(&self) -> &AccountsStore {
        &self.inner.repo
    }

    /// Makes writes durable before they are acknowledged (a grouped flush).
    pub(crate) async fn flush(&self) -> Result<(), AccountsError> {
        Ok(self.inner.flush.wait().await?)
    }
}

/// A fresh random secret, hex-encoded (32 bytes).
pub(crate) fn random_hex() -> Result<String, AccountsError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| AccountsError::Internal(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// SHA-256 of a token: what is stored instead of the token.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A trimmed, non-empty, bounded text field.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<String, AccountsError> {
    let v = value.trim();
    if v.is_empty() || v.len() > max {
        return Err(AccountsError::BadInput(format!(
            "{field} must have 1 to {max} bytes"
        )));
    }
    Ok(v.to_string())
}
