//! Signatures with domain separation.
//!
//! Every signed type has its own [`Domain`]; the bytes signed are
//! `"ochat/v1/" + domain name + 0x00 + payload`, so a signature made for one type can never be
//! replayed as another. Verification is ed25519-dalek's `verify_strict` (no malleable
//! signatures, no small-order keys).
//!
//! [`Signed<T>`] carries the CBOR body exactly as signed plus the signature; [`Signed::open`]
//! verifies before it decodes, so unauthenticated bytes never reach the decoder of `T`.

use std::fmt;
use std::marker::PhantomData;

use ed25519_dalek::{Signature, Signer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::{self, Limits};
use crate::identity::{IdentityKey, PublicIdentity};

/// What a signature is for. Each variant has a distinct prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A signed instance record (directory entry).
    InstanceRecord,
    /// A connection request from one instance to another.
    ConnectionRequest,
    /// The answer to a connection request (accepted / rejected).
    ConnectionAnswer,
    /// Cancellation of a pending request.
    ConnectionCancel,
    /// A status query (Sync Status) and its answer.
    StatusQuery,
    /// A channel re-key request ([`crate::rekey`]).
    RekeyRequest,
    /// The answer to a channel re-key request.
    RekeyAnswer,
}
// `ochat/v1/channel-message` was reserved here and never used: channel messages are not
// signed but sealed with the channel's ratchet (the sender is authenticated by the ratchet
// keys and the routing facts in the associated data). Removed so no reader assumes otherwise.

impl Domain {
    /// The domain-separation prefix, including the trailing zero byte.
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Domain::InstanceRecord => b"ochat/v1/instance-record\0",
            Domain::ConnectionRequest => b"ochat/v1/connection-request\0",
            Domain::ConnectionAnswer => b"ochat/v1/connection-answer\0",
            Domain::ConnectionCancel => b"ochat/v1/connection-cancel\0",
            Domain::StatusQuery => b"ochat/v1/status-query\0",
            Domain::RekeyRequest => b"ochat/v1/rekey-request\0",
            Domain::RekeyAnswer => b"ochat/v1/rekey-answer\0",
        }
    }

    fn message(self, payload: &[u8]) -> Vec<u8> {
        let prefix = self.prefix();
        let mut m = Vec::with_capacity(prefix.len() + payload.len());
        m.extend_from_slice(prefix);
        m.extend_from_slice(payload);
        m
    }
}

/// A type that travels signed, and under which domain.
pub trait SignedType: Serialize + DeserializeOwned {
    /// The domain its signatures use.
    const DOMAIN: Domain;
}

/// Why a signature or a signed value was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignError {
    /// The signature does not verify under the expected key and domain.
    #[error("the signature does not verify")]
    BadSignature,
    /// The signature field does not have 64 bytes.
    #[error("a signature has 64 bytes, this one has {0}")]
    BadSignatureLength(usize),
    /// The signed body is not a valid encoding of the expected type.
    #[error("the signed body is malformed: {0}")]
    Malformed(String),
}

/// Signs `payload` under `domain`.
pub fn sign(key: &IdentityKey, domain: Domain, payload: &[u8]) -> [u8; 64] {
    key.signing_key().sign(&domain.message(payload)).to_bytes()
}

/// Verifies a signature strictly.
pub fn verify(
    key: &PublicIdentity,
    domain: Domain,
    payload: &[u8],
    signature: &[u8],
) -> Result<(), SignError> {
    let bytes: [u8; 64] = signature
        .try_into()
        .map_err(|_| SignError::BadSignatureLength(signature.len()))?;
    let sig = Signature::from_bytes(&bytes);
    key.0
        .verify_strict(&domain.message(payload), &sig)
        .map_err(|_| SignError::BadSignature)
}

/// A value of type `T` as signed: its CBOR body and the signature over it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The canonical CBOR encoding of the value, exactly as signed.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The Ed25519 signature over the domain prefix and `body`.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
    #[serde(skip)]
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Signed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("type", &std::any::type_name::<T>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<T: SignedType> Signed<T> {
    /// Encodes and signs a value.
    pub fn seal(value: &T, key: &IdentityKey) -> Result<Self, SignError> {
        let body = codec::encode_body(value).map_err(|e| SignError::Malformed(e.to_string()))?;
        let signature = sign(key, T::DOMAIN, &body).to_vec();
        Ok(Signed {
            body,
            signature,
            _type: PhantomData,
        })
    }

    /// Verifies the signature with `key`, then decodes the body.
    pub fn open(&self, key: &PublicIdentity) -> Result<T, SignError> {
        verify(key, T::DOMAIN, &self.body, &self.signature)?;
        self.decode_unverified()
    }

    /// Decodes the body WITHOUT checking the signature: only for reading the signer's key out
    /// of a self-signed value before verifying it (see `record`).
    pub(crate) fn decode_unverified(&self) -> Result<T, SignError> {
        codec::decode_body(&self.body, &Limits::default())
            .map_err(|e| SignError::Malformed(e.to_string()))
    }

    /// Rebuilds a signed value from its parts (as read from storage or the wire).
    pub fn from_parts(body: Vec<u8>, signature: Vec<u8>) -> Self {
        Signed {
            body,
            signature,
            _type: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }
    impl SignedType for Note {
        const DOMAIN: Domain = Domain::ConnectionRequest;
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct OtherNote {
        text: String,
    }
    impl SignedType for OtherNote {
        const DOMAIN: Domain = Domain::ConnectionAnswer;
    }

    fn note(text: &str) -> Note {
        Note { text: text.into() }
    }

    #[test]
    fn a_signed_value_opens_with_the_signers_key_only() {
        let alice = IdentityKey::generate().unwrap();
        let mallory = IdentityKey::generate().unwrap();
        let signed = Signed::seal(&note("hello"), &alice).unwrap();
        assert_eq!(signed.open(&alice.public()).unwrap(), note("hello"));
        assert_eq!(signed.open(&mallory.public()), Err(SignError::BadSignature));
    }

    #[test]
    fn a_signature_for_one_domain_does_not_verify_in_another() {
        let alice = IdentityKey::generate().unwrap();
        let signed = Signed::seal(&note("hello"), &alice).unwrap();
        let replayed: Signed<OtherNote> =
            Signed::from_parts(signed.body.clone(), signed.signature.clone());
        assert_eq!(replayed.open(&alice.public()), Err(SignError::BadSignature));
    }

    #[test]
    fn a_changed_body_or_truncated_signature_is_refused() {
        let alice = IdentityKey::generate().unwrap();
        let mut signed = Signed::seal(&note("hello"), &alice).unwrap();
        let last = signed.body.len() - 1;
        signed.body[last] ^= 1;
        assert_eq!(signed.open(&alice.public()), Err(SignError::BadSignature));
        let short: Signed<Note> = Signed::from_parts(vec![], vec![0; 10]);
        assert_eq!(
            short.open(&alice.public()),
            Err(SignError::BadSignatureLength(10))
        );
    }

    #[test]
    fn all_domain_prefixes_are_distinct() {
        let all = [
            Domain::InstanceRecord,
            Domain::ConnectionRequest,
            Domain::ConnectionAnswer,
            Domain::ConnectionCancel,
            Domain::StatusQuery,
            Domain::RekeyRequest,
            Domain::RekeyAnswer,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.prefix(), b.prefix());
            }
        }
    }
}
