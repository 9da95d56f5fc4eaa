//! Local users: the admin creates them (optionally with a login and an argon2-hashed password
//! and a live chat profile); a user or the admin changes a profile. Password hashes live in
//! their own table so a `UserRecord` never carries one; a password change revokes the user's
//! tokens (open sockets included); deleting a user removes their record, password and tokens.
//! Hashing is bounded by the [`login_guard`](super::login_guard).
//!
//! A profile's languages must be enabled on the node (the live chat's setting, handed over in
//! [`AccountsConfig::languages`](super::AccountsConfig)); a regional form (`fr_BE`, `pt-BR`) of
//! an enabled language is fine.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use serde::Deserialize;
use uuid::Uuid;

use super::login_guard::LoginError;
use super::{Accounts, AccountsError, Who, text};
use crate::model::UserRecord;

const MAX_NAME: usize = 200;
const MAX_PASSWORD: usize = 1024;

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

/// Hashes a password with argon2 (a fresh salt each time).
///
/// # Errors
///
/// [`AccountsError::Internal`] (no randomness, argon2 failed).
pub fn hash_password(password: &str) -> Result<String, AccountsError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountsError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountsError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountsError::Internal(e.to_string()))
}

/// The primary language subtag, lower case: `fr_BE` and `fr-be` both give `fr`.
pub fn primary_language(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether `tag` is a language tag of the form `fr`, `fr_BE`, `pt-BR`.
pub fn well_formed(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let primary_ok = parts
        .next()
        .is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()));
    primary_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Accounts {
    /// Every local user.
    pub fn users(&self) -> Result<Vec<UserRecord>, AccountsError> {
        Ok(self.repo().users()?)
    }

    /// One user.
    pub fn user(&self, id: Uuid) -> Result<UserRecord, AccountsError> {
        self.repo()
            .user(id)?
            .ok_or_else(|| AccountsError::NotFound(format!("no user {id}")))
    }

    /// Whether a user exists.
    pub fn user_exists(&self, id: Uuid) -> Result<bool, AccountsError> {
        Ok(self.repo().user(id)?.is_some())
    }

    /// The name a user signs messages with, if the user exists.
    pub fn user_name(&self, id: Uuid) -> Option<String> {
        self.repo().user(id).ok().flatten().map(|u| u.name)
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
    ) -> Result<UserRecord, AccountsError> {
        who.admin()?;
        let name = text("name", input.name.as_deref().unwrap_or(""), MAX_NAME)?;
        let mut user = UserRecord {
            id: Uuid::now_v7(),
            name,
            created_at_ms: self.now_ms(),
            ..UserRecord::default()
        };
        if input.password.is_some() && input.login.is_none() {
            return Err(AccountsError::BadInput("a password needs a login".into()));
        }
        self.apply_profile(&mut user, input).await?;
        self.flush().await?;
        Ok(user)
    }

    /// Deletes a user (admin only): their tokens (open sockets close), password and record;
    /// answers the record and how many tokens went. What other modules keep about the user
    /// is theirs to forget first (`livechat::operator_removal`).
    pub async fn delete_user(
        &self,
        who: Who,
        id: Uuid,
    ) -> Result<(UserRecord, usize), AccountsError> {
        who.admin()?;
        let user = self.user(id)?;
        let tokens = self.remove_user_tokens(id)?;
        self.repo().remove_user(id)?;
        self.flush().await?;
        self.revocations().bump();
        tracing::info!(user = %id, tokens, "user deleted");
        Ok((user, tokens))
    }

    /// Changes a profile: the user themselves or the admin.
    pub async fn update_user(
        &self,
        who: Who,
        id: Uuid,
        input: UserInput,
    ) -> Result<UserRecord, AccountsError> {
        if who != Who::Admin && who != Who::Operator(id) {
            return Err(AccountsError::Forbidden(
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
            self.revocations().bump();
        }
        Ok(user)
    }

    /// `tag` trimmed, when it is an enabled language (or a regional form of one); else a
    /// 400 that lists the enabled languages.
    fn enabled_language(&self, field: &str, tag: &str) -> Result<String, AccountsError> {
        let t = tag.trim();
        let enabled = &self.inner.languages;
        if t.len() <= 35 && well_formed(t) && enabled.contains(&primary_language(t)) {
            return Ok(t.to_string());
        }
        Err(AccountsError::BadInput(format!(
            "{field} {tag:?} is not a language enabled on this node; enabled: {}",
            enabled.join(", ")
        )))
    }

    async fn apply_profile(
        &self,
        user: &mut UserRecord,
        input: UserInput,
    ) -> Result<(), AccountsError> {
        if let Some(login) = &input.login {
            let login = text("login", login, MAX_NAME)?;
            if self
                .users()?
                .iter()
                .any(|u| u.id != user.id && u.login.as_deref() == Some(login.as_str()))
            {
                return Err(AccountsError::Conflict(format!(
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
                return Err(AccountsError::BadInput(format!(
                    "a password has 1 to {MAX_PASSWORD} bytes"
                )));
            }
            let ticket = self.guard().ticket_unbounded().await.map_err(|e| match e {
                LoginError::Other(e) => e,
                other => AccountsError::Internal(other.to_string()),
            })?;
            let hash = tokio::task::spawn_blocking(move || {
                let _ticket = ticket;
                hash_password(&password)
            })
            .await
            .map_err(|e| AccountsError::Internal(e.to_string()))??;
            self.repo().put_password_hash(user.id, &hash)?;
        }
        Ok(self.repo().put_user(user)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_forms_are_well_formed_and_nonsense_is_not() {
        assert!(well_formed("fr_BE"));
        assert!(well_formed("pt-BR"));
        assert!(well_formed("en"));
        assert!(!well_formed("klingon-NOTREAL"));
        assert!(!well_formed("e"));
        assert!(!well_formed("fr_"));
    }
}
