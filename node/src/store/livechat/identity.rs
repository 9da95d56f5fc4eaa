//! Each live chat channel's visitor identity secret: the key the website's backend signs
//! visitors' identities with (see `livechat/identity.rs`). One table, `lc_identity_secrets`:
//! channel id (16 B) → [`IdentitySecretRecord`] (CBOR). Kept apart from the channel record,
//! which operators read, so the secret never travels with a channel.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::LiveChatStore;
use crate::store::StoreError;
use crate::store::table::{Cbor, table};
use crate::store::trees;

/// A channel's identity secret as stored. Zeroized on drop; `Debug` shows no byte of it.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct IdentitySecretRecord {
    /// The secret as the admin is shown it (64 lowercase hex characters); its ASCII bytes
    /// are the HMAC key.
    pub secret: String,
    /// When it was made (ms).
    pub created_at_ms: u64,
}

impl std::fmt::Debug for IdentitySecretRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySecretRecord")
            .field("secret", &"<redacted>")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

table! {
    /// `lc_identity_secrets`: channel id → its visitor identity secret.
    pub IdentitySecrets = trees::LC_IDENTITY_SECRETS; Uuid => Cbor<IdentitySecretRecord>
}

impl LiveChatStore {
    /// A channel's identity secret, if it has one.
    pub fn identity_secret(
        &self,
        channel: Uuid,
    ) -> Result<Option<IdentitySecretRecord>, StoreError> {
        Ok(self.identity_secrets.get(&channel)?.map(|Cbor(s)| s))
    }

    /// Sets (or replaces: a rotation) a channel's identity secret (not durable until a flush).
    pub fn put_identity_secret(
        &self,
        channel: Uuid,
        secret: &IdentitySecretRecord,
    ) -> Result<(), StoreError> {
        self.identity_secrets.put_ref(&channel, secret)
    }

    /// Removes a channel's identity secret; answers whether it had one.
    pub fn remove_identity_secret(&self, channel: Uuid) -> Result<bool, StoreError> {
        self.identity_secrets.remove(&channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_shows_in_debug() {
        let r = IdentitySecretRecord {
            secret: "abcdef0123".into(),
            created_at_ms: 5,
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("abcdef0123"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
