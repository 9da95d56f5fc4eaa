//! The accounts' repository, [`AccountsStore`]: local users, their password hashes and their
//! login tokens. The `accounts` service holds one; messaging and federation ask it (through
//! `accounts`) whether a user exists.
//!
//! | table          | key                              | value                          |
//! |----------------|----------------------------------|--------------------------------|
//! | `users`        | user id (UUIDv7, 16 B)           | [`UserRecord`] (CBOR)          |
//! | `lc_passwords` | user id (16 B)                   | the argon2 PHC string (utf-8)  |
//! | `lc_tokens`    | SHA-256 of a login token (32 B)  | [`TokenRecord`] (CBOR)         |
//!
//! Password hashes live in their own table so a `UserRecord` never carries one; only a token's
//! SHA-256 is stored, never the token.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::table::{Cbor, Raw, Table, table};
use super::{Store, StoreError, trees};
use crate::model::UserRecord;

table! {
    /// `users`: local users by id.
    pub Users = trees::USERS; Uuid => Cbor<UserRecord>
}

table! {
    /// `lc_passwords`: user id → argon2 password hash (its PHC string).
    pub Passwords = trees::LC_PASSWORDS; Uuid => Raw
}

table! {
    /// `lc_tokens`: SHA-256 of a login token → the token's record.
    pub Tokens = trees::LC_TOKENS; [u8; 32] => Cbor<TokenRecord>
}

/// A stored login token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Whose token.
    pub user_id: Uuid,
    /// Created (ms).
    pub created_at_ms: u64,
    /// When it was last used (0 for tokens from before this was kept: their creation counts).
    #[serde(default)]
    pub last_used_ms: u64,
}

impl TokenRecord {
    /// When it was last used, or created if never.
    pub fn last_used(&self) -> u64 {
        self.last_used_ms.max(self.created_at_ms)
    }
}

/// The accounts' tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountsStore {
    users: Table<Users>,
    passwords: Table<Passwords>,
    tokens: Table<Tokens>,
}

impl AccountsStore {
    /// Opens the accounts' tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(AccountsStore {
            users: store.table()?,
            passwords: store.table()?,
            tokens: store.table()?,
        })
    }

    /// Every user, by id.
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.users.iter().map(|e| e.map(|(_, Cbor(u))| u)).collect()
    }

    /// One user.
    pub fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.users.get(&id)?.map(|Cbor(u)| u))
    }

    /// Writes a user (not durable until a flush).
    pub fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.users.put_ref(&user.id, user)
    }

    /// Removes a user and their password hash; answers whether the user was there.
    pub fn remove_user(&self, id: Uuid) -> Result<bool, StoreError> {
        self.passwords.remove(&id)?;
        self.users.remove(&id)
    }

    /// A user's password hash, if they have one.
    pub fn password_hash(&self, user: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self
            .passwords
            .get(&user)?
            .map(|Raw(s)| String::from_utf8_lossy(&s).into_owned()))
    }

    /// Sets a user's password hash.
    pub fn put_password_hash(&self, user: Uuid, hash: &str) -> Result<(), StoreError> {
        self.passwords.put(&user, &Raw(hash.as_bytes().to_vec()))
    }

    /// The record of the token whose SHA-256 is `hash`.
    pub fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.tokens.get(hash)?.map(|Cbor(t)| t))
    }

    /// Writes a token's record under its SHA-256.
    pub fn put_token(&self, hash: &[u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        self.tokens.put_ref(hash, record)
    }

    /// Removes a token; answers whether it was there.
    pub fn remove_token(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        self.tokens.remove(hash)
    }

    /// Removes every token `doomed` picks; answers how many went.
    pub fn remove_tokens_where(
        &self,
        mut doomed: impl FnMut(&TokenRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in self.tokens.iter() {
            let (k, Cbor(t)) = entry?;
            if doomed(&t) {
                self.tokens.remove(&k)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::store::encode;

    /// Users, password hashes and tokens written by the code before the repository (raw trees)
    /// read back through it, and it writes the same bytes.
    #[test]
    fn accounts_in_the_previous_layout_read_back_and_are_written_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let raw = |name| store.tree(name).unwrap();
        let user = UserRecord {
            id: Uuid::now_v7(),
            name: "Ann".into(),
            login: Some("ann".into()),
            ..UserRecord::default()
        };
        raw(trees::USERS)
            .insert(user.id.as_bytes(), encode(trees::USERS, &user).unwrap())
            .unwrap();
        raw(trees::LC_PASSWORDS)
            .insert(
                user.id.as_bytes(),
                b"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".as_slice(),
            )
            .unwrap();
        let hash: [u8; 32] = Sha256::digest(b"op_secret").into();
        let token = TokenRecord {
            user_id: user.id,
            created_at_ms: 5,
            last_used_ms: 0,
        };
        raw(trees::LC_TOKENS)
            .insert(hash, encode(trees::LC_TOKENS, &token).unwrap())
            .unwrap();

        let repo = AccountsStore::open(&store).unwrap();
        assert_eq!(repo.users().unwrap(), vec![user.clone()]);
        assert_eq!(
            repo.password_hash(user.id).unwrap().as_deref(),
            Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        );
        let back = repo.token(&hash).unwrap().unwrap();
        assert_eq!((back.user_id, back.last_used()), (user.id, 5));

        repo.put_password_hash(user.id, "new").unwrap();
        assert_eq!(
            raw(trees::LC_PASSWORDS)
                .get(user.id.as_bytes())
                .unwrap()
                .unwrap(),
            b"new".as_slice()
        );
        repo.put_token(&hash, &token).unwrap();
        assert_eq!(
            raw(trees::LC_TOKENS).get(hash).unwrap().unwrap(),
            encode(trees::LC_TOKENS, &token).unwrap()
        );
        assert_eq!(
            repo.remove_tokens_where(|t| t.user_id == user.id).unwrap(),
            1
        );
        assert!(repo.token(&hash).unwrap().is_none());
    }
}
