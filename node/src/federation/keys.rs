//! Creating a channel's Double Ratchet from a finished handshake: X25519 over both signed
//! ephemerals and both static pre-keys, HKDF over the hash of the signed request and answer.

use ochat_protocol::agreement::{Role, derive_root, transcript_hash};
use ochat_protocol::ratchet::Ratchet;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};

/// The key agreement failed (a peer sent a degenerate key).
#[derive(Debug, Error)]
#[error("the key agreement failed: {0}")]
pub(crate) struct KeyError(String);

/// The bytes both sides agree on.
pub(crate) struct Handshake<'a> {
    /// The signed request body, exactly as signed.
    pub(crate) request_body: &'a [u8],
    /// The signed answer body, exactly as signed.
    pub(crate) answer_body: &'a [u8],
    /// Our ephemeral secret for this handshake.
    pub(crate) my_ephemeral: [u8; 32],
    /// Our static pre-key secret.
    pub(crate) my_prekey: [u8; 32],
    /// Their ephemeral public key.
    pub(crate) their_ephemeral: [u8; 32],
    /// Their static pre-key (from their signed record).
    pub(crate) their_prekey: [u8; 32],
}

/// Derives the root secret and starts the ratchet for `role`.
pub(crate) fn channel_ratchet(role: Role, h: &Handshake<'_>) -> Result<Ratchet, KeyError> {
    let transcript = transcript_hash(&[h.request_body, h.answer_body]);
    let my_ephemeral = StaticSecret::from(h.my_ephemeral);
    let my_prekey = StaticSecret::from(h.my_prekey);
    let their_ephemeral = PublicKey::from(h.their_ephemeral);
    let root = derive_root(
        role,
        &my_ephemeral,
        &my_prekey,
        &their_ephemeral,
        &PublicKey::from(h.their_prekey),
        &transcript,
    )
    .map_err(|e| KeyError(e.to_string()))?;
    let ratchet = match role {
        Role::Initiator => Ratchet::init_initiator(root, their_ephemeral),
        Role::Responder => Ratchet::init_responder(root, &my_ephemeral),
    };
    ratchet.map_err(|e| KeyError(e.to_string()))
}

/// The public half of an X25519 secret.
pub(crate) fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_of_a_handshake_get_ratchets_that_talk() {
        let (ie, ip, re, rp) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
        let initiator = Handshake {
            request_body: b"request",
            answer_body: b"answer",
            my_ephemeral: ie,
            my_prekey: ip,
            their_ephemeral: public_of(&re),
            their_prekey: public_of(&rp),
        };
        let responder = Handshake {
            request_body: b"request",
            answer_body: b"answer",
            my_ephemeral: re,
            my_prekey: rp,
            their_ephemeral: public_of(&ie),
            their_prekey: public_of(&ip),
        };
        let mut a = channel_ratchet(Role::Initiator, &initiator).unwrap();
        let mut b = channel_ratchet(Role::Responder, &responder).unwrap();
        let sealed = a.seal(b"hello", b"ad").unwrap();
        assert_eq!(b.open(&sealed, b"ad").unwrap(), b"hello");
        let back = b.seal(b"hi", b"ad").unwrap();
        assert_eq!(a.open(&back, b"ad").unwrap(), b"hi");
    }
}
