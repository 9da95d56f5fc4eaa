//! Creating a channel's Double Ratchet from a finished handshake: X25519 over both signed
//! ephemerals and both static pre-keys, HKDF over the transcript hash.
//!
//! Handshake 2 (bound, this version): the transcript hash covers both identity keys, both
//! pre-keys, the exact signed request and the responder's ephemeral
//! ([`ochat_protocol::agreement::bound_transcript_hash`]), and both sides confirm the root
//! with MACs ([`Confirmation`]). Handshake 1 (a peer of an earlier version, whose request names
//! no pre-key): the hash of the signed request and answer bytes, no confirmation.
//!
//! Used by `actions` (the responder's answer) and `inbound` (the initiator's side).

use ochat_protocol::agreement::{
    BoundTranscript, Confirmation, Role, bound_transcript_hash, derive_root, transcript_hash,
};
use ochat_protocol::ratchet::Ratchet;
use thiserror::Error;
use x25519_dalek::{PublicKey, StaticSecret};

/// The key agreement failed (a peer sent a degenerate key).
#[derive(Debug, Error)]
#[error("the key agreement failed: {0}")]
pub struct KeyError(String);

/// The identity keys of a bound handshake (handshake 2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identities {
    /// The initiator's Ed25519 identity key.
    pub(crate) initiator: [u8; 32],
    /// The responder's Ed25519 identity key.
    pub(crate) responder: [u8; 32],
}

/// The bytes both sides agree on.
pub(crate) struct Handshake<'a> {
    /// The signed request body, exactly as signed.
    pub(crate) request_body: &'a [u8],
    /// Handshake 1 only: the signed answer body, exactly as signed.
    pub(crate) answer_body: &'a [u8],
    /// Our ephemeral secret for this handshake.
    pub(crate) my_ephemeral: [u8; 32],
    /// Our static pre-key secret.
    pub(crate) my_prekey: [u8; 32],
    /// Their ephemeral public key.
    pub(crate) their_ephemeral: [u8; 32],
    /// Their static pre-key.
    pub(crate) their_prekey: [u8; 32],
    /// Handshake 2: both identity keys; `None` for handshake 1.
    pub(crate) bound: Option<Identities>,
}

/// A channel's starting ratchet and, for handshake 2, both confirmation MACs.
pub(crate) struct ChannelKeys {
    pub(crate) ratchet: Ratchet,
    pub(crate) confirmation: Option<Confirmation>,
}

/// Derives the root secret and starts the ratchet for `role`.
pub(crate) fn channel_keys(role: Role, h: &Handshake<'_>) -> Result<ChannelKeys, KeyError> {
    let my_ephemeral = StaticSecret::from(h.my_ephemeral);
    let my_prekey = StaticSecret::from(h.my_prekey);
    let their_ephemeral = PublicKey::from(h.their_ephemeral);
    let transcript = match &h.bound {
        Some(ids) => {
            let my_prekey_public = public_of(&h.my_prekey);
            let my_ephemeral_public = public_of(&h.my_ephemeral);
            let (initiator_prekey, responder_prekey, responder_ephemeral) = match role {
                Role::Initiator => (&my_prekey_public, &h.their_prekey, &h.their_ephemeral),
                Role::Responder => (&h.their_prekey, &my_prekey_public, &my_ephemeral_public),
            };
            bound_transcript_hash(&BoundTranscript {
                initiator_identity: &ids.initiator,
                responder_identity: &ids.responder,
                initiator_prekey,
                responder_prekey,
                request: h.request_body,
                responder_ephemeral,
            })
        }
        None => transcript_hash(&[h.request_body, h.answer_body]),
    };
    let root = derive_root(
        role,
        &my_ephemeral,
        &my_prekey,
        &their_ephemeral,
        &PublicKey::from(h.their_prekey),
        &transcript,
    )
    .map_err(|e| KeyError(e.to_string()))?;
    let confirmation = match h.bound {
        Some(_) => {
            Some(Confirmation::derive(&root, &transcript).map_err(|e| KeyError(e.to_string()))?)
        }
        None => None,
    };
    let ratchet = match role {
        Role::Initiator => Ratchet::init_initiator(root, their_ephemeral),
        Role::Responder => Ratchet::init_responder(root, &my_ephemeral),
    }
    .map_err(|e| KeyError(e.to_string()))?;
    Ok(ChannelKeys {
        ratchet,
        confirmation,
    })
}

/// The public half of an X25519 secret.
pub(crate) fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    // StaticSecret zeroizes itself when dropped.
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ochat_protocol::agreement::request_hash;

    const IDS: Identities = Identities {
        initiator: [8u8; 32],
        responder: [9u8; 32],
    };

    fn sides<'a>(
        initiator_request: &'a [u8],
        responder_request: &'a [u8],
        bound: Option<Identities>,
    ) -> (Handshake<'a>, Handshake<'a>) {
        let (ie, ip, re, rp) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
        (
            Handshake {
                request_body: initiator_request,
                answer_body: b"answer",
                my_ephemeral: ie,
                my_prekey: ip,
                their_ephemeral: public_of(&re),
                their_prekey: public_of(&rp),
                bound,
            },
            Handshake {
                request_body: responder_request,
                answer_body: b"answer",
                my_ephemeral: re,
                my_prekey: rp,
                their_ephemeral: public_of(&ie),
                their_prekey: public_of(&ip),
                bound,
            },
        )
    }

    #[test]
    fn both_sides_of_a_handshake_get_ratchets_that_talk() {
        for bound in [None, Some(IDS)] {
            let (initiator, responder) = sides(b"request", b"request", bound);
            let mut a = channel_keys(Role::Initiator, &initiator).unwrap().ratchet;
            let mut b = channel_keys(Role::Responder, &responder).unwrap().ratchet;
            let sealed = a.seal(b"hello", b"ad").unwrap();
            assert_eq!(b.open(&sealed, b"ad").unwrap(), b"hello");
            let back = b.seal(b"hi", b"ad").unwrap();
            assert_eq!(a.open(&back, b"ad").unwrap(), b"hi");
        }
    }

    #[test]
    fn both_sides_confirm_the_same_keys_of_a_bound_handshake() {
        let (initiator, responder) = sides(b"request", b"request", Some(IDS));
        let a = channel_keys(Role::Initiator, &initiator).unwrap();
        let b = channel_keys(Role::Responder, &responder).unwrap();
        let (a, b) = (a.confirmation.unwrap(), b.confirmation.unwrap());
        assert!(a.responder_matches(&b.responder));
        assert!(b.initiator_matches(&a.initiator));
        assert_ne!(a.responder, a.initiator);
    }

    #[test]
    fn an_answer_to_another_copy_of_the_request_fails_confirmation_instead_of_a_second_root() {
        // Retry Request used to re-sign the request: the responder answered the first copy,
        // the initiator kept the second. The request hash and the MAC both tell.
        let (initiator, responder) =
            sides(b"request, second copy", b"request, first copy", Some(IDS));
        assert_ne!(
            request_hash(initiator.request_body),
            request_hash(responder.request_body)
        );
        let a = channel_keys(Role::Initiator, &initiator).unwrap();
        let b = channel_keys(Role::Responder, &responder).unwrap();
        assert!(
            !a.confirmation
                .unwrap()
                .responder_matches(&b.confirmation.unwrap().responder)
        );
    }

    #[test]
    fn a_different_identity_in_the_transcript_fails_confirmation() {
        let (initiator, mut responder) = sides(b"request", b"request", Some(IDS));
        responder.bound = Some(Identities {
            initiator: [7u8; 32],
            responder: IDS.responder,
        });
        let a = channel_keys(Role::Initiator, &initiator).unwrap();
        let b = channel_keys(Role::Responder, &responder).unwrap();
        assert!(
            !a.confirmation
                .unwrap()
                .responder_matches(&b.confirmation.unwrap().responder)
        );
    }
}
