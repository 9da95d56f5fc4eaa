//! Local user accounts for live chat: the admin creates users (optionally with a login and an
//! argon2-hashed password and a live chat profile); users log in for a token; tokens are
//! revocable (logout, or the admin revoking all of a user's tokens). Also user groups (for
//! canned responses) and operator presence.
//!
//! Tokens are random; only their SHA-256 is stored. Password hashes live in their own tree so
//! a `UserRecord` never carries one.
//!
//! Logins go through the [`login_guard`](super::login_guard) (failure locks, bounded hashing,
//! the same work for unknown logins). A login token expires after an idle lifetime (14 days by
//! default, [`LiveChatConfig::token_idle_days`](super::LiveChatConfig)); using it (a request,
//! or an open socket re-checking it) keeps it alive. Revoking tokens (logout, the admin's
//! revoke, a password change) tells the [`hub`](super::hub), whose sockets re-check theirs.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::login_guard::LoginError;
use super::{LiveChat, LiveChatError, Who, all, get, put, random_hex, text, token_hash};
use crate::model::UserRecord;
use crate::store::trees;

const MAX_NAME: usize = 200;
const MAX_PASSWORD: usize = 1024;
/// A login token unused for this long expires (when the config says nothing).
pub const DEFAULT_TOKEN_IDLE_DAYS: u32 = 14;
/// How stale a token's "last used" may get before a use writes it again.
const TOUCH_EVERY_MS: u64 = 5 * 60 * 1000;

/// A new user, or a profile change (every field optional on change).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UserInput {
    /// Display name (required on create).
    #[serde(default)]
    pub name: Option<String>,
    /// Login.
    #[serde(default)]
    pub login: Option<String>,
    /// Password (hashed with argon2, never stored in clear).
    #[serde(default)]
    pub password: Option<String>,
    /// Name shown to visitors.
    #[serde(default)]
    pub chat_name: Option<String>,
    /// Main language.
    #[serde(default)]
    pub language: Option<String>,
    /// Live chat languages.
    #[serde(default)]
    pub chat_languages: Option<Vec<String>>,
    /// Expertise tags.
    #[serde(default)]
    pub expertise: Option<Vec<String>>,
    /// ISO country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Live chat administrator (only the admin token may set it; the API refuses it from
    /// anyone else).
    #[serde(default)]
    pub administrator: Option<bool>,
}

/// A stored login token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    user_id: Uuid,
    created_at_ms: u64,
    /// When it was last used (0 for tokens from before this was kept: their creation counts).
    #[serde(default)]
    last_used_ms: u64,
}

impl TokenRecord {
    fn last_used(&self) -> u64 {
        self.last_used_ms.max(self.created_at_ms)
    }
}

/// A user group (canned responses are shared with groups).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Group {
    /// Group id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Member user ids.
    pub members: Vec<Uuid>,
}

/// Body to create or change a group.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct GroupInput {
    /// Name.
    pub name: String,
    /// Members.
    #[serde(default)]
    pub members: Vec<Uuid>,
}

pub(crate) fn hash_password(password: &str) -> Result<String, LiveChatError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| LiveChatError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| LiveChatError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| LiveChatError::Internal(e.to_string()))
}

impl LiveChat {
    /// Every local user.
    pub fn users(&self) -> Result<Vec<UserRecord>, LiveChatError> {
        all(&self.trees().users, trees::USERS)
    }

    /// One user.
    pub fn user(&self, id: Uuid) -> Result<UserRecord, LiveChatError> {
        get(&self.trees().users, trees::USERS, id.as_bytes())?
            .ok_or_else(|| LiveChatError::NotFound(format!("no user {id}")))
    }

    /// The name visitors see for an operator.
    pub fn chat_name(&self, id: Uuid) -> String {
        self.user(id)
            .map(|u| u.chat_name.unwrap_or(u.name))
            .unwrap_or_else(|_| "Operator".into())
    }

    /// Creates a user (admin only).
    pub async fn create_user(
        &self,
        who: Who,
        input: UserInput,
    ) -> Result<UserRecord, LiveChatError> {
        who.admin()?;
        let name = text("name", input.name.as_deref().unwrap_or(""), MAX_NAME)?;
        let mut user = UserRecord {
            id: Uuid::now_v7(),
            name,
            created_at_ms: self.now_ms(),
            ..UserRecord::default()
        };
        if input.password.is_some() && input.login.is_none() {
            return Err(LiveChatError::BadInput("a password needs a login".into()));
        }
        self.apply_profile(&mut user, input).await?;
        self.flush().await?;
        Ok(user)
    }

    /// Changes a profile: the user themselves or the admin.
    pub async fn update_user(
        &self,
        who: Who,
        id: Uuid,
        input: UserInput,
    ) -> Result<UserRecord, LiveChatError> {
        if who != Who::Admin && who != Who::Operator(id) {
            return Err(LiveChatError::Forbidden(
                "only the user or the admin may change a profile".into(),
            ));
        }
        let mut user = self.user(id)?;
        if let Some(name) = &input.name {
            user.name = text("name", name, MAX_NAME)?;
        }
        let new_password = input.password.is_some();
        self.apply_profile(&mut user, input).await?;
        if new_password {
            // Whoever held a token of the old password loses it, open sockets included.
            let n = self.remove_user_tokens(id)?;
            tracing::info!(user = %id, revoked = n, "password changed: the user's tokens are revoked");
        }
        self.flush().await?;
        if new_password {
            self.hub().tokens_revoked();
        }
        Ok(user)
    }

    async fn apply_profile(
        &self,
        user: &mut UserRecord,
        input: UserInput,
    ) -> Result<(), LiveChatError> {
        if let Some(login) = &input.login {
            let login = text("login", login, MAX_NAME)?;
            if self
                .users()?
                .iter()
                .any(|u| u.id != user.id && u.login.as_deref() == Some(login.as_str()))
            {
                return Err(LiveChatError::Conflict(format!(
                    "the login {login:?} is taken"
                )));
            }
            user.login = Some(login);
        }
        if let Some(v) = input.chat_name {
            user.chat_name = Some(text("chat_name", &v, MAX_NAME)?);
        }
        if let Some(v) = input.language {
            user.language = Some(self.enabled_language("language", &v)?);
        }
        if let Some(v) = input.chat_languages {
            user.chat_languages = v
                .iter()
                .map(|l| self.enabled_language("chat language", l))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = input.expertise {
            user.expertise = v
                .iter()
                .map(|e| text("expertise", e, 100))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = input.country {
            user.country = Some(text("country", &v, 2)?.to_ascii_uppercase());
        }
        if let Some(v) = input.administrator {
            user.administrator = v;
        }
        if let Some(password) = input.password {
            if password.is_empty() || password.len() > MAX_PASSWORD {
                return Err(LiveChatError::BadInput(format!(
                    "a password has 1 to {MAX_PASSWORD} bytes"
                )));
            }
            let ticket = self.guard().ticket_unbounded().await.map_err(|e| match e {
                LoginError::Other(e) => e,
                other => LiveChatError::Internal(other.to_string()),
            })?;
            let hash = tokio::task::spawn_blocking(move || {
                let _ticket = ticket;
                hash_password(&password)
            })
            .await
            .map_err(|e| LiveChatError::Internal(e.to_string()))??;
            self.trees()
                .passwords
                .insert(user.id.as_bytes(), hash.as_bytes())?;
        }
        put(
            &self.trees().users,
            trees::USERS,
            user.id.as_bytes(),
            &*user,
        )
    }

    /// Checks a login and password from a client address; answers a new token. Locked logins
    /// and addresses are refused before the password is looked at; unknown logins cost the
    /// same hashing as known ones.
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
                .trees()
                .passwords
                .get(u.id.as_bytes())
                .map_err(LiveChatError::from)?,
            None => None,
        };
        let known = stored.is_some();
        let stored = stored.map(|s| String::from_utf8_lossy(&s).into_owned());
        let password = password.to_string();
        let (mut ticket, chat) = (ticket, self.clone());
        let ok = tokio::task::spawn_blocking(move || {
            let against = match stored {
                Some(s) => s,
                None => chat.guard().dummy_hash()?,
            };
            Ok::<_, LiveChatError>(ticket.verify(&password, &against))
        })
        .await
        .map_err(|e| LiveChatError::Internal(e.to_string()))??;
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
        put(
            &self.trees().tokens,
            trees::LC_TOKENS,
            &token_hash(&token),
            &record,
        )?;
        self.flush().await?;
        self.touch(user.id)?;
        Ok((token, user))
    }

    /// Whether a token unused since `last_used` has expired now.
    fn expired(&self, last_used: u64) -> bool {
        self.now_ms().saturating_sub(last_used) > self.guard().token_idle_ms()
    }

    /// The user a login token belongs to, if it is valid (known and not idle too long); a use
    /// keeps it alive. Does not mark the user present (sockets re-check with this).
    pub fn token_user(&self, token: &str) -> Result<Option<Uuid>, LiveChatError> {
        self.check_token(token, true)
    }

    /// Like [`LiveChat::token_user`], without counting as a use (an open socket re-checking
    /// its token does not keep it alive: only requests do).
    pub fn token_valid(&self, token: &str) -> Result<Option<Uuid>, LiveChatError> {
        self.check_token(token, false)
    }

    fn check_token(&self, token: &str, used: bool) -> Result<Option<Uuid>, LiveChatError> {
        if !token.starts_with("op_") {
            return Ok(None);
        }
        let key = token_hash(token);
        let found: Option<TokenRecord> = get(&self.trees().tokens, trees::LC_TOKENS, &key)?;
        let Some(mut t) = found else {
            return Ok(None);
        };
        if self.expired(t.last_used()) {
            self.trees().tokens.remove(key)?;
            return Ok(None);
        }
        let now = self.now_ms();
        if used && now.saturating_sub(t.last_used()) > TOUCH_EVERY_MS {
            // Not flushed: losing this on a crash only makes the token look older.
            t.last_used_ms = now;
            put(&self.trees().tokens, trees::LC_TOKENS, &key, &t)?;
        }
        Ok(Some(t.user_id))
    }

    /// The user a token belongs to (and marks them active), or `None`.
    pub fn authenticate(&self, token: &str) -> Result<Option<Uuid>, LiveChatError> {
        let user = self.token_user(token)?;
        if let Some(user) = user {
            self.touch(user)?;
        }
        Ok(user)
    }

    /// Revokes one token (its open sockets close).
    pub async fn logout(&self, token: &str) -> Result<(), LiveChatError> {
        self.trees().tokens.remove(token_hash(token))?;
        self.flush().await?;
        self.hub().tokens_revoked();
        Ok(())
    }

    /// Revokes every token of a user (admin only); answers how many. Their sockets close.
    pub async fn revoke_user_tokens(&self, who: Who, user: Uuid) -> Result<usize, LiveChatError> {
        who.admin()?;
        self.user(user)?;
        let n = self.remove_user_tokens(user)?;
        self.flush().await?;
        self.hub().tokens_revoked();
        Ok(n)
    }

    /// Removes a user's tokens (not flushed); answers how many.
    fn remove_user_tokens(&self, user: Uuid) -> Result<usize, LiveChatError> {
        let mut n = 0;
        for entry in self.trees().tokens.iter() {
            let (k, v) = entry?;
            let t: TokenRecord = crate::store::decode(trees::LC_TOKENS, &v)?;
            if t.user_id == user {
                self.trees().tokens.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes every expired token (at each login, so unused ones do not pile up).
    fn remove_expired_tokens(&self) -> Result<(), LiveChatError> {
        for entry in self.trees().tokens.iter() {
            let (k, v) = entry?;
            let t: TokenRecord = crate::store::decode(trees::LC_TOKENS, &v)?;
            if self.expired(t.last_used()) {
                self.trees().tokens.remove(k)?;
            }
        }
        Ok(())
    }

    /// Creates a group (admin only).
    pub async fn create_group(&self, who: Who, input: GroupInput) -> Result<Group, LiveChatError> {
        who.admin()?;
        let group = Group {
            id: Uuid::now_v7(),
            name: text("name", &input.name, MAX_NAME)?,
            members: input.members,
        };
        for m in &group.members {
            self.user(*m)?;
        }
        put(
            &self.trees().groups,
            trees::LC_GROUPS,
            group.id.as_bytes(),
            &group,
        )?;
        self.flush().await?;
        Ok(group)
    }

    /// Replaces a group's name and members (admin only).
    pub async fn update_group(
        &self,
        who: Who,
        id: Uuid,
        input: GroupInput,
    ) -> Result<Group, LiveChatError> {
        who.admin()?;
        let mut group = self.group(id)?;
        group.name = text("name", &input.name, MAX_NAME)?;
        for m in &input.members {
            self.user(*m)?;
        }
        group.members = input.members;
        put(
            &self.trees().groups,
            trees::LC_GROUPS,
            group.id.as_bytes(),
            &group,
        )?;
        self.flush().await?;
        Ok(group)
    }

    /// One group.
    pub fn group(&self, id: Uuid) -> Result<Group, LiveChatError> {
        get(&self.trees().groups, trees::LC_GROUPS, id.as_bytes())?
            .ok_or_else(|| LiveChatError::NotFound(format!("no group {id}")))
    }

    /// Every group.
    pub fn groups(&self) -> Result<Vec<Group>, LiveChatError> {
        all(&self.trees().groups, trees::LC_GROUPS)
    }
}
