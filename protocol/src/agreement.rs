//! Key agreement: the channel's root secret from the connection handshake.
//!
//! Each instance publishes a static X25519 **signed pre-key** in its signed instance record and
//! makes a fresh X25519 **ephemeral** per handshake, carried in the signed `ConnectionRequest`
//! (initiator) and `Accepted` (responder). Signatures are checked elsewhere; this module receives
//! already-verified public keys and the transcript bytes.
//!
//! Construction (both sides compute the same bytes):
//!
//! ```text
//! DH1 = X25519(eph_I,    eph_R)
//! DH2 = X25519(eph_I,    prekey_R)
//! DH3 = X25519(prekey_I, eph_R)
//! IKM = DH1 || DH2 || DH3
//! root = HKDF-SHA256(salt = transcript_hash, ikm = IKM, info = "ochat/v1/channel-root"), 32 bytes
//! ```
//!
//! where [`transcript_hash`] is SHA-256 over the domain `"ochat/v1/transcript"` and the
//! transcript parts, each prefixed by its length as a big-endian `u64`.
//!
//! **Bound handshake (handshake 2).** When the request carries the initiator's pre-key (and so
//! the answer a request hash, the responder's pre-key and a confirmation), the transcript hash
//! is [`bound_transcript_hash`] instead: domain `"ochat/v2/transcript"`, then the initiator's
//! and the responder's Ed25519 identity keys, the initiator's and the responder's X25519
//! pre-keys, the signed request bytes and the responder's ephemeral, each length-prefixed as
//! above. Both sides then confirm the root ([`Confirmation`]):
//!
//! ```text
//! K_R || K_I = HKDF-SHA256(salt = none, ikm = root, info = "ochat/v2/key-confirmation"), 64 bytes
//! MAC_R = HMAC-SHA256(K_R, "ochat/v2/responder" || transcript_hash)   (in the signed answer)
//! MAC_I = HMAC-SHA256(K_I, "ochat/v2/initiator" || transcript_hash)   (in the acknowledgement)
//! request_hash = SHA-256("ochat/v2/request\0" || signed request bytes) (in the signed answer)
//! ```
//!
//! Every DH output must be contributory (not the all-zero result of a low-order point),
//! otherwise [`derive_root`] fails with [`AgreementError::NonContributory`].
//! The resulting [`RootSecret`] feeds [`crate::ratchet::Ratchet`].

use std::fmt;

use hkdf::Hkdf;
use hkdf::hmac::digest::KeyInit;
use hkdf::hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Domain-separation prefix hashed first into every transcript hash.
pub const TRANSCRIPT_DOMAIN: &[u8] = b"ochat/v1/transcript";

/// HKDF `info` used to derive the channel's root secret.
pub const ROOT_INFO: &[u8] = b"ochat/v1/channel-root";

/// Domain of the bound handshake's transcript hash ([`bound_transcript_hash`]).
pub const BOUND_TRANSCRIPT_DOMAIN: &[u8] = b"ochat/v2/transcript";

/// HKDF `info` of the key-confirmation keys ([`Confirmation`]).
pub const CONFIRM_INFO: &[u8] = b"ochat/v2/key-confirmation";

/// Prefix of [`request_hash`].
pub const REQUEST_HASH_DOMAIN: &[u8] = b"ochat/v2/request\0";

/// Label of the responder's confirmation MAC.
pub const RESPONDER_LABEL: &[u8] = b"ochat/v2/responder";

/// Label of the initiator's confirmation MAC.
pub const INITIATOR_LABEL: &[u8] = b"ochat/v2/initiator";

/// What the bound transcript hash covers (all public).
#[derive(Debug, Clone, Copy)]
pub struct BoundTranscript<'a> {
    /// The initiator's Ed25519 identity key.
    pub initiator_identity: &'a [u8; 32],
    /// The responder's Ed25519 identity key.
    pub responder_identity: &'a [u8; 32],
    /// The initiator's X25519 pre-key (named in the signed request).
    pub initiator_prekey: &'a [u8; 32],
    /// The responder's X25519 pre-key (named in the signed answer).
    pub responder_prekey: &'a [u8; 32],
    /// The signed request's bytes, exactly as signed.
    pub request: &'a [u8],
    /// The responder's ephemeral X25519 public key (from the answer).
    pub responder_ephemeral: &'a [u8; 32],
}

/// The bound handshake's transcript hash (see the module documentation).
pub fn bound_transcript_hash(t: &BoundTranscript<'_>) -> [u8; 32] {
    let parts: [&[u8]; 7] = [
        BOUND_TRANSCRIPT_DOMAIN,
        t.initiator_identity,
        t.responder_identity,
        t.initiator_prekey,
        t.responder_prekey,
        t.request,
        t.responder_ephemeral,
    ];
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// SHA-256 of the exact signed request bytes an answer answers, under its domain.
pub fn request_hash(signed_request_body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(REQUEST_HASH_DOMAIN);
    hasher.update(signed_request_body);
    hasher.finalize().into()
}

/// Both sides' key-confirmation MACs for one root and transcript.
pub struct Confirmation {
    /// MAC_R: sent by the responder in its signed answer.
    pub responder: [u8; 32],
    /// MAC_I: sent by the initiator in its acknowledgement of the answer.
    pub initiator: [u8; 32],
}

impl fmt::Debug for Confirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Confirmation(..)")
    }
}

impl Confirmation {
    /// Derives both MACs from the root secret and the bound transcript hash.
    ///
    /// # Errors
    ///
    /// [`AgreementError::KeyDerivation`] (cannot happen with the fixed sizes).
    pub fn derive(root: &RootSecret, transcript_hash: &[u8; 32]) -> Result<Self, AgreementError> {
        let mut keys = Zeroizing::new([0u8; 64]);
        Hkdf::<Sha256>::new(None, root.as_bytes())
            .expand(CONFIRM_INFO, keys.as_mut_slice())
            .map_err(|_| AgreementError::KeyDerivation)?;
        let mac = |key: &[u8], label: &[u8]| -> Result<[u8; 32], AgreementError> {
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .map_err(|_| AgreementError::KeyDerivation)?;
            m.update(label);
            m.update(transcript_hash);
            Ok(m.finalize().into_bytes().into())
        };
        Ok(Confirmation {
            responder: mac(&keys[..32], RESPONDER_LABEL)?,
            initiator: mac(&keys[32..], INITIATOR_LABEL)?,
        })
    }

    /// Whether `got` equals the responder's MAC (compared in constant time).
    pub fn responder_matches(&self, got: &[u8; 32]) -> bool {
        constant_time_eq(&self.responder, got)
    }

    /// Whether `got` equals the initiator's MAC (compared in constant time).
    pub fn initiator_matches(&self, got: &[u8; 32]) -> bool {
        constant_time_eq(&self.initiator, got)
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Which side of the connection handshake this instance played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The instance that sent the `ConnectionRequest`.
    Initiator,
    /// The instance that answered with `Accepted`.
    Responder,
}

/// Why key agreement failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AgreementError {
    /// A Diffie-Hellman result was all zeros: the peer sent a low-order (or zero) public key,
    /// so the shared secret would not depend on our secret key.
    #[error("a Diffie-Hellman result was non-contributory (low-order public key)")]
    NonContributory,
    /// HKDF refused the requested output length (cannot happen for the fixed sizes used here).
    #[error("key derivation failed")]
    KeyDerivation,
}

/// A channel's 32-byte root secret, shared by both instances after the handshake.
///
/// Zeroized on drop; its `Debug` output is `RootSecret(REDACTED)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootSecret([u8; 32]);

impl RootSecret {
    /// Wraps 32 secret bytes (for tests, vectors and restoring persisted state).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Handle with care: do not log or persist them unencrypted lightly.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootSecret(REDACTED)")
    }
}

/// Hashes the handshake transcript: SHA-256 over `len(domain) || domain` followed by
/// `len(part) || part` for every part, each length a big-endian `u64`.
///
/// The parts are normally the signed request bytes and the signed answer bytes, in that order.
/// Length prefixes make the encoding unambiguous: moving bytes between parts changes the hash.
pub fn transcript_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in std::iter::once(&TRANSCRIPT_DOMAIN).chain(parts.iter()) {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Derives the channel's root secret from this side's secrets and the peer's verified public keys.
///
/// `role` orders the three Diffie-Hellman results so that initiator and responder feed HKDF the
/// same input (see the module documentation). Intermediate secrets are zeroized.
///
/// # Errors
///
/// [`AgreementError::NonContributory`] if any of the three DH results is all zeros.
pub fn derive_root(
    role: Role,
    my_ephemeral: &StaticSecret,
    my_prekey: &StaticSecret,
    their_ephemeral: &PublicKey,
    their_prekey: &PublicKey,
    transcript_hash: &[u8; 32],
) -> Result<RootSecret, AgreementError> {
    let dh1 = my_ephemeral.diffie_hellman(their_ephemeral);
    let (dh2, dh3) = match role {
        Role::Initiator => (
            my_ephemeral.diffie_hellman(their_prekey),
            my_prekey.diffie_hellman(their_ephemeral),
        ),
        Role::Responder => (
            my_prekey.diffie_hellman(their_ephemeral),
            my_ephemeral.diffie_hellman(their_prekey),
        ),
    };
    if !(dh1.was_contributory() && dh2.was_contributory() && dh3.was_contributory()) {
        return Err(AgreementError::NonContributory);
    }

    let mut ikm = Zeroizing::new([0u8; 96]);
    ikm[..32].copy_from_slice(dh1.as_bytes());
    ikm[32..64].copy_from_slice(dh2.as_bytes());
    ikm[64..].copy_from_slice(dh3.as_bytes());

    let mut root = RootSecret([0u8; 32]);
    Hkdf::<Sha256>::new(Some(transcript_hash), ikm.as_slice())
        .expand(ROOT_INFO, &mut root.0)
        .map_err(|_| AgreementError::KeyDerivation)?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Party {
        ephemeral: StaticSecret,
        prekey: StaticSecret,
    }

    impl Party {
        fn new(seed: u8) -> Self {
            Self {
                ephemeral: StaticSecret::from([seed; 32]),
                prekey: StaticSecret::from([seed.wrapping_add(100); 32]),
            }
        }
        fn ephemeral_public(&self) -> PublicKey {
            PublicKey::from(&self.ephemeral)
        }
        fn prekey_public(&self) -> PublicKey {
            PublicKey::from(&self.prekey)
        }
    }

    fn derive(me: &Party, role: Role, them: &Party, th: &[u8; 32]) -> RootSecret {
        derive_root(
            role,
            &me.ephemeral,
            &me.prekey,
            &them.ephemeral_public(),
            &them.prekey_public(),
            th,
        )
        .expect("contributory keys")
    }

    #[test]
    fn initiator_and_responder_arrive_at_the_same_root() {
        let (alice, bob) = (Party::new(1), Party::new(2));
        let th = transcript_hash(&[b"request", b"accepted"]);
        let a = derive(&alice, Role::Initiator, &bob, &th);
        let b = derive(&bob, Role::Responder, &alice, &th);
        assert_eq!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn a_different_transcript_gives_a_different_root() {
        let (alice, bob) = (Party::new(1), Party::new(2));
        let a = derive(
            &alice,
            Role::Initiator,
            &bob,
            &transcript_hash(&[b"req", b"ok"]),
        );
        let b = derive(
            &bob,
            Role::Responder,
            &alice,
            &transcript_hash(&[b"req", b"ko"]),
        );
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn both_sides_claiming_the_same_role_do_not_agree() {
        let (alice, bob) = (Party::new(1), Party::new(2));
        let th = transcript_hash(&[b"request", b"accepted"]);
        let a = derive(&alice, Role::Initiator, &bob, &th);
        let b = derive(&bob, Role::Initiator, &alice, &th);
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn a_swapped_ephemeral_from_a_third_party_does_not_agree() {
        let (alice, bob, mallory) = (Party::new(1), Party::new(2), Party::new(3));
        let th = transcript_hash(&[b"request", b"accepted"]);
        let a = derive(&alice, Role::Initiator, &bob, &th);
        let forged = Party {
            ephemeral: mallory.ephemeral.clone(),
            prekey: bob.prekey.clone(),
        };
        let m = derive(&forged, Role::Responder, &alice, &th);
        assert_ne!(a.as_bytes(), m.as_bytes());
    }

    #[test]
    fn transcript_parts_are_length_prefixed() {
        assert_ne!(
            transcript_hash(&[b"ab", b"c"]),
            transcript_hash(&[b"a", b"bc"])
        );
        assert_ne!(transcript_hash(&[b"abc"]), transcript_hash(&[b"abc", b""]));
        assert_eq!(
            transcript_hash(&[b"x", b"y"]),
            transcript_hash(&[b"x", b"y"])
        );
    }

    #[test]
    fn a_low_order_public_key_from_the_peer_is_refused() {
        let alice = Party::new(1);
        let bob = Party::new(2);
        let th = transcript_hash(&[b"request", b"accepted"]);
        for low_order in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            let bad = PublicKey::from(low_order);
            assert_eq!(
                derive_root(
                    Role::Initiator,
                    &alice.ephemeral,
                    &alice.prekey,
                    &bad,
                    &bob.prekey_public(),
                    &th
                )
                .map(|_| ()),
                Err(AgreementError::NonContributory)
            );
            assert_eq!(
                derive_root(
                    Role::Initiator,
                    &alice.ephemeral,
                    &alice.prekey,
                    &bob.ephemeral_public(),
                    &bad,
                    &th
                )
                .map(|_| ()),
                Err(AgreementError::NonContributory)
            );
        }
    }

    #[test]
    fn root_secret_debug_output_is_redacted() {
        let root = RootSecret::from_bytes([0xAB; 32]);
        let shown = format!("{root:?}");
        assert!(shown.contains("REDACTED"));
        assert!(!shown.to_lowercase().contains("abab"));
        assert!(!shown.contains("171"));
    }
}
