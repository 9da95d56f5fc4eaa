//! Re-keying a channel: a fresh authenticated key agreement on an existing channel, giving it
//! a new Double Ratchet (a new **epoch**).
//!
//! A node restored from a backup holds ratchet states older than the ones it used since; it
//! must not seal anything with them. Before it sends on a channel again it asks the peer for a
//! re-key; a peer that sees a message number reused with other contents asks too. Both
//! messages travel on the handshake protocol (`HandshakeBody::Rekey`, answered by
//! `HandshakeResponse::Rekeyed`), each signed with the sender's Ed25519 identity key under its
//! own domain (`ochat/v1/rekey-request`, `ochat/v1/rekey-answer`).
//!
//! ```text
//! request    = {conversation, from, to, epoch, ephemeral E_Q, sent_at_ms}  signed by the requester
//! answer     = {conversation, from, to, epoch, request_hash, ephemeral E_A, sent_at_ms}
//!                                                                         signed by the answerer
//! request_hash = SHA-256("ochat/v1/rekey-request-hash\0" || signed request body)
//! th   = SHA-256 over len-prefixed parts: "ochat/v1/rekey-transcript", requester's and
//!        answerer's Ed25519 keys, the signed request body, E_A
//! root = HKDF-SHA256(salt = th, ikm = X25519(E_Q, E_A), info = "ochat/v1/rekey-root")
//! ```
//!
//! The requester then starts the new epoch with `Ratchet::init_initiator(root, E_A)`, the
//! answerer with `Ratchet::init_responder(root, e_A)`: exactly as after the connection
//! handshake. The old ratchet is kept to open messages sealed before the re-key; nothing is
//! sealed with it again.

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::agreement::{AgreementError, RootSecret};
use crate::identity::InstanceId;
use crate::sign::{Domain, SignedType};

/// Domain of [`rekey_request_hash`].
pub const REKEY_REQUEST_HASH_DOMAIN: &[u8] = b"ochat/v1/rekey-request-hash\0";
/// Domain of the re-key transcript hash.
pub const REKEY_TRANSCRIPT_DOMAIN: &[u8] = b"ochat/v1/rekey-transcript";
/// HKDF `info` of a re-keyed channel's root secret.
pub const REKEY_ROOT_INFO: &[u8] = b"ochat/v1/rekey-root";

/// "Let us agree on fresh keys for this channel": sent by either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyRequest {
    /// The channel's conversation (the request id of the handshake that created it).
    pub conversation: Uuid,
    /// The requester.
    pub from: InstanceId,
    /// The answerer.
    pub to: InstanceId,
    /// The epoch proposed: one more than the requester's current one.
    pub epoch: u32,
    /// The requester's fresh X25519 ephemeral public key.
    #[serde(with = "serde_bytes")]
    pub ephemeral: [u8; 32],
    /// When it was made (ms since the Unix epoch).
    pub sent_at_ms: u64,
}

impl SignedType for RekeyRequest {
    const DOMAIN: Domain = Domain::RekeyRequest;
}

/// The answer to a [`RekeyRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyAnswer {
    /// The channel's conversation.
    pub conversation: Uuid,
    /// The answerer.
    pub from: InstanceId,
    /// The requester.
    pub to: InstanceId,
    /// The new epoch, which both sides adopt: at least the one proposed, above the answerer's.
    pub epoch: u32,
    /// [`rekey_request_hash`] of the exact signed request answered.
    #[serde(with = "serde_bytes")]
    pub request_hash: [u8; 32],
    /// The answerer's fresh X25519 ephemeral public key.
    #[serde(with = "serde_bytes")]
    pub ephemeral: [u8; 32],
    /// When it was made.
    pub sent_at_ms: u64,
}

impl SignedType for RekeyAnswer {
    const DOMAIN: Domain = Domain::RekeyAnswer;
}

/// SHA-256 of a signed re-key request's body, under its domain.
pub fn rekey_request_hash(signed_request_body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(REKEY_REQUEST_HASH_DOMAIN);
    hasher.update(signed_request_body);
    hasher.finalize().into()
}

/// What the re-key transcript covers (all public).
#[derive(Debug, Clone, Copy)]
pub struct RekeyTranscript<'a> {
    /// The requester's Ed25519 identity key.
    pub requester_identity: &'a [u8; 32],
    /// The answerer's Ed25519 identity key.
    pub answerer_identity: &'a [u8; 32],
    /// The signed request's body, exactly as signed.
    pub request: &'a [u8],
    /// The answerer's ephemeral public key.
    pub answerer_ephemeral: &'a [u8; 32],
}

impl RekeyTranscript<'_> {
    /// The transcript hash (see the module documentation).
    pub fn hash(&self) -> [u8; 32] {
        let parts: [&[u8]; 5] = [
            REKEY_TRANSCRIPT_DOMAIN,
            self.requester_identity,
            self.answerer_identity,
            self.request,
            self.answerer_ephemeral,
        ];
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

/// The new epoch's root secret, from this side's ephemeral secret and the peer's ephemeral.
///
/// # Errors
///
/// [`AgreementError::NonContributory`] for a low-order peer key,
/// [`AgreementError::KeyDerivation`] (cannot happen for the fixed sizes).
pub fn rekey_root(
    my_ephemeral: &StaticSecret,
    their_ephemeral: &PublicKey,
    transcript: &RekeyTranscript<'_>,
) -> Result<RootSecret, AgreementError> {
    let dh = my_ephemeral.diffie_hellman(their_ephemeral);
    if !dh.was_contributory() {
        return Err(AgreementError::NonContributory);
    }
    let mut root = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&transcript.hash()), dh.as_bytes())
        .expand(REKEY_ROOT_INFO, &mut root)
        .map_err(|_| AgreementError::KeyDerivation)?;
    Ok(RootSecret::from_bytes(root))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::identity::IdentityKey;
    use crate::ratchet::Ratchet;
    use crate::sign::Signed;

    #[test]
    fn both_sides_derive_one_new_ratchet_that_talks_both_ways() {
        let (q_id, a_id) = (
            IdentityKey::generate().unwrap(),
            IdentityKey::generate().unwrap(),
        );
        let (eq, ea) = (StaticSecret::from([3u8; 32]), StaticSecret::from([9u8; 32]));
        let request = Signed::seal(
            &RekeyRequest {
                conversation: Uuid::now_v7(),
                from: InstanceId::generate(),
                to: InstanceId::generate(),
                epoch: 1,
                ephemeral: PublicKey::from(&eq).to_bytes(),
                sent_at_ms: 1,
            },
            &q_id,
        )
        .unwrap();
        let (qk, ak) = (q_id.public().to_bytes(), a_id.public().to_bytes());
        let ea_pub = PublicKey::from(&ea).to_bytes();
        let t = RekeyTranscript {
            requester_identity: &qk,
            answerer_identity: &ak,
            request: &request.body,
            answerer_ephemeral: &ea_pub,
        };
        let rq = rekey_root(&eq, &PublicKey::from(&ea), &t).unwrap();
        let ra = rekey_root(&ea, &PublicKey::from(&eq), &t).unwrap();
        assert_eq!(rq.as_bytes(), ra.as_bytes());
        let mut q = Ratchet::init_initiator(rq, PublicKey::from(&ea)).unwrap();
        let mut a = Ratchet::init_responder(ra, &ea).unwrap();
        let s = a.seal(b"hello", b"ad").unwrap();
        assert_eq!(q.open(&s, b"ad").unwrap(), b"hello");
        let s = q.seal(b"back", b"ad").unwrap();
        assert_eq!(a.open(&s, b"ad").unwrap(), b"back");
        // Another transcript (another request) gives another root.
        let other = RekeyTranscript {
            request: b"other",
            ..t
        };
        let r2 = rekey_root(&eq, &PublicKey::from(&ea), &other).unwrap();
        let r1 = rekey_root(&eq, &PublicKey::from(&ea), &t).unwrap();
        assert_ne!(r2.as_bytes(), r1.as_bytes());
    }
}
