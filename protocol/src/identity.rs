//! An instance's identity: its permanent Instance UUID and its Ed25519 identity key.
//!
//! A new identity's UUID is **self-certifying**: a version-8 UUID (RFC 9562) made from a
//! domain-separated SHA-256 of the Ed25519 public key ([`InstanceId::derived_from`]), so anyone
//! holding a record can check that its key is the one the UUID names. Older instances keep the
//! random version-4 UUID they were created with; for them the binding to a key is learnt (pinned,
//! or the directory's first-come rule).
//!
//! The secret key never prints: [`IdentityKey`]'s `Debug` is redacted, and the key is zeroized
//! when dropped (ed25519-dalek does it for the inner key; the bytes we hand out are wrapped in
//! [`zeroize::Zeroizing`]).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::random::{RandomError, random_bytes};

/// Errors about identities and Instance UUIDs.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The text is not a UUID.
    #[error(
        "'{0}' is not an Instance UUID (expected the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
    )]
    NotAUuid(String),
    /// The bytes are not a valid Ed25519 public key, or the key is a weak (small-order) one.
    #[error("not a valid Ed25519 public key")]
    BadPublicKey,
    /// The random generator failed while making a key.
    #[error("could not generate a key: {0}")]
    Random(String),
}

impl From<RandomError> for IdentityError {
    fn from(e: RandomError) -> Self {
        IdentityError::Random(e.to_string())
    }
}

/// The domain that separates the UUID derivation's hash from every other use of SHA-256 over an
/// identity key: `SHA-256(INSTANCE_UUID_DOMAIN || public key)`.
pub const INSTANCE_UUID_DOMAIN: &[u8] = b"ochat/v1/instance-uuid";

/// The permanent, public identifier of an instance, shown in Settings and shared with other
/// organisations so they can send a connection request: a version-8 UUID derived from the
/// identity key for instances created since self-certifying UUIDs, a random version-4 UUID for
/// older ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(pub Uuid);

impl InstanceId {
    /// A fresh random Instance UUID (version 4): what instances were given before UUIDs were
    /// derived from keys, still used by tests that need a UUID bound to no key.
    pub fn generate() -> Self {
        InstanceId(Uuid::new_v4())
    }

    /// The self-certifying Instance UUID of `key`: the first 16 bytes of
    /// `SHA-256("ochat/v1/instance-uuid" || key)` with the version set to 8 and the variant to
    /// RFC 9562's `10` (122 bits of the hash remain).
    pub fn derived_from(key: &PublicIdentity) -> Self {
        let mut hash = Sha256::new();
        hash.update(INSTANCE_UUID_DOMAIN);
        hash.update(key.0.as_bytes());
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        InstanceId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// Whether this UUID is of the derived kind (version 8, RFC 9562 variant): a record under it
    /// is valid only with the key it derives from.
    pub fn is_derived(&self) -> bool {
        self.0.get_version_num() == 8 && self.0.get_variant() == uuid::Variant::RFC4122
    }

    /// Whether `key` may speak for this UUID on the UUID's own evidence: for a derived UUID only
    /// the key it derives from; a random (v4) UUID says nothing about its key, so any key passes
    /// here and the caller's pinning or first-come rule decides.
    pub fn admits(&self, key: &PublicIdentity) -> bool {
        !self.is_derived() || InstanceId::derived_from(key) == *self
    }

    /// The UUID's 16 bytes, big-endian, as used in store keys and signed payloads.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({})", self.0.hyphenated())
    }
}

impl FromStr for InstanceId {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(InstanceId)
            .map_err(|_| IdentityError::NotAUuid(s.to_string()))
    }
}

/// An instance's Ed25519 identity key (secret). Signs instance records and handshake messages;
/// the same key is the node's libp2p identity, so its PeerId is derived from it.
pub struct IdentityKey {
    key: SigningKey,
}

impl IdentityKey {
    /// A new random identity key.
    pub fn generate() -> Result<Self, IdentityError> {
        let secret = Zeroizing::new(random_bytes::<32>()?);
        Ok(Self::from_secret_bytes(&secret))
    }

    /// Rebuilds a key from its 32 secret bytes (as stored in the node's key file).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        IdentityKey {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// The 32 secret bytes, zeroized when the returned value is dropped.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity(self.key.verifying_key())
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKey")
            .field("public", &self.public())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The public Ed25519 key of an instance.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicIdentity(pub(crate) VerifyingKey);

impl PublicIdentity {
    /// Parses 32 bytes, refusing invalid and weak (small-order) keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdentityError::BadPublicKey)?;
        if key.is_weak() {
            return Err(IdentityError::BadPublicKey);
        }
        Ok(PublicIdentity(key))
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicIdentity(")?;
        for b in self.0.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Serialize for PublicIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for PublicIdentity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = serde_bytes::ByteBuf::deserialize(d)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("an Ed25519 public key has 32 bytes"))?;
        PublicIdentity::from_bytes(&arr).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_instance_uuid_is_a_v4_uuid_shown_hyphenated() {
        let id = InstanceId::generate();
        assert_eq!(id.0.get_version_num(), 4);
        assert!(!id.is_derived());
        let shown = id.to_string();
        assert_eq!(shown.len(), 36);
        assert_eq!(shown.parse::<InstanceId>(), Ok(id));
    }

    #[test]
    fn a_derived_uuid_is_version_8_and_admits_only_its_own_key() {
        let key = IdentityKey::generate().unwrap().public();
        let other = IdentityKey::generate().unwrap().public();
        let id = InstanceId::derived_from(&key);
        assert_eq!(id.0.get_version_num(), 8);
        assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
        assert!(id.is_derived());
        assert_eq!(id, InstanceId::derived_from(&key), "deterministic");
        assert!(id.admits(&key));
        assert!(!id.admits(&other));
        // A v4 UUID is bound by no key of its own.
        assert!(InstanceId::generate().admits(&other));
        assert_eq!(id.to_string().parse::<InstanceId>(), Ok(id));
    }

    #[test]
    fn a_mistyped_uuid_is_refused_with_a_clear_message() {
        let err = "not-a-uuid".parse::<InstanceId>().unwrap_err();
        assert!(err.to_string().contains("not an Instance UUID"));
    }

    #[test]
    fn the_secret_key_never_shows_in_debug_output() {
        let key = IdentityKey::generate().unwrap();
        let secret = key.secret_bytes();
        let shown = format!("{key:?}");
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&hex), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &secret[..])), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn a_key_survives_a_round_trip_through_its_secret_bytes() {
        let key = IdentityKey::generate().unwrap();
        let again = IdentityKey::from_secret_bytes(&key.secret_bytes());
        assert_eq!(key.public(), again.public());
    }

    #[test]
    fn a_small_order_public_key_is_refused() {
        // The identity point (a weak key) encodes as 1 followed by zeros.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert_eq!(
            PublicIdentity::from_bytes(&weak),
            Err(IdentityError::BadPublicKey)
        );
    }
}
