//! Login tokens: a login and password from a client address give a random token (only its
//! SHA-256 is stored); a token expires after an idle lifetime (14 days by default,
//! [`AccountsConfig::token_idle_days`](super::AccountsConfig)), and using it (a request, or
//! an open socket re-checking it) keeps it alive. Revoking tokens (logout, the admin's revoke,
//! a password change) bumps the [`Revocations`](super::Revocations), whose sockets re-check
//! theirs.
//!
//! Logins go through the [`login_guard`](super::login_guard) (failure locks, bounded hashing,
//! the same work for unknown logins). Marking the operator present is the live chat's part:
//! the login handler and the extractors do it after a success.

use uuid::Uuid;

use super::login_guard::LoginError;
use super::{Accounts, AccountsError, Who, random_hex, token_hash};
use crate::model::UserRecord;
use crate::store::accounts::TokenRecord;

/// A login token unused for this long expires (when the config says nothing).
pub const DEFAULT_TOKEN_IDLE_DAYS: u32 = 14;
/// How stale a token's "last used" may get before a use writes it again.
const TOUCH_EVERY_MS: u64 = 5 * 60 * 1000;

impl Accounts {
    /// Checks a login and password from a client address; answers a new token. Locked logins
    /// and addresses are refused before the password is looked at; unknown logins cost the
    /// same hashing as known ones.
    ///
    /// # Errors
    ///
    /// [`LoginError`]: wrong login or password, locked, busy, or storage.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, UserRecord), LoginError> {
        let guard = self.guard();
        guard.check(login, from, self.now_ms())?;
        let ticket = guard.ticket().await?;
        let user = self
            .users()?
            .into_iter()
            .find(|u| u.login.as_deref() == Some(login.trim()));
        let stored = match &user {
            Some(u) => self
                .repo()
                .password_hash(u.id)
                .map_err(AccountsError::from)?,
            None => None,
        };
        let known = stored.is_some();
        let password = password.to_string();
        let (mut ticket, accounts) = (ticket, self.clone());
        let ok = tokio::task::spawn_blocking(move || {
            let against = match stored {
                Some(s) => s,
                None => accounts.guard().dummy_hash()?,
            };
            Ok::<_, AccountsError>(ticket.verify(&password, &against))
        })
        .await
        .map_err(|e| AccountsError::Internal(e.to_string()))??;
        let (true, true, Some(user)) = (ok, known, user) else {
            guard.failed(login, from, self.now_ms());
            return Err(LoginError::Unauthorized);
        };
        guard.succeeded(login);
        let token = format!("op_{}", random_hex()?);
        let now = self.now_ms();
        let record = TokenRecord {
            user_id: user.id,
            created_at_ms: now,
            last_used_ms: now,
        };
        self.remove_expired_tokens()?;
        self.repo()
            .put_token(&token_hash(&token), &record)
            .map_err(AccountsError::from)?;
        self.flush().await?;
        Ok((token, user))
    }

    /// Whether a token unused since `last_used` has expired now.
    fn expired(&self, last_used: u64) -> bool {
        self.now_ms().saturating_sub(last_used) > self.guard().token_idle_ms()
    }

    /// The user a login token belongs to, if it is valid (known and not idle too long); a use
    /// keeps it alive. Does not mark the user present (the live chat does, see
    /// `LiveChat::touch`).
    pub fn token_user(&self, token: &str) -> Result<Option<Uuid>, AccountsError> {
        self.check_token(token, true)
    }

    /// Like [`Accounts::token_user`], without counting as a use (an open socket re-checking
    /// its token does not keep it alive: only requests do).
    pub fn token_valid(&self, token: &str) -> Result<Option<Uuid>, AccountsError> {
        self.check_token(token, false)
    }

    fn check_token(&self, token: &str, used: bool) -> Result<Option<Uuid>, AccountsError> {
        if !token.starts_with("op_") {
            return Ok(None);
        }
        let key = token_hash(token);
        let Some(mut t) = self.repo().token(&key)? else {
            return Ok(None);
        };
        if self.expired(t.last_used()) {
            self.repo().remove_token(&key)?;
            return Ok(None);
        }
        let now = self.now_ms();
        if used && now.saturating_sub(t.last_used()) > TOUCH_EVERY_MS {
            // Not flushed: losing this on a crash only makes the token look older.
            t.last_used_ms = now;
            self.repo().put_token(&key, &t)?;
        }
        Ok(Some(t.user_id))
    }

    /// Revokes one token (its open sockets close).
    pub async fn logout(&self, token: &str) -> Result<(), AccountsError> {
        self.repo().remove_token(&token_hash(token))?;
        self.flush().await?;
        self.revocations().bump();
        Ok(())
    }

    /// Revokes every token of a user (admin only); answers how many. Their sockets close.
    pub async fn revoke_user_tokens(&self, who: Who, user: Uuid) -> Result<usize, AccountsError> {
        who.admin()?;
        self.user(user)?;
        let n = self.remove_user_tokens(user)?;
        self.flush().await?;
        self.revocations().bump();
        Ok(n)
    }

    /// Removes a user's tokens (not flushed); answers how many.
    pub(crate) fn remove_user_tokens(&self, user: Uuid) -> Result<usize, AccountsError> {
        Ok(self.repo().remove_tokens_where(|t| t.user_id == user)?)
    }

    /// Removes every expired token (at each login, so unused ones do not pile up).
    fn remove_expired_tokens(&self) -> Result<(), AccountsError> {
        self.repo()
            .remove_tokens_where(|t| self.expired(t.last_used()))?;
        Ok(())
    }
}
