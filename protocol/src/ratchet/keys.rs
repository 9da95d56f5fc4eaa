//! The ratchet's secret key types and the key derivation functions that connect them.
//!
//! ```text
//! KDF_INIT(SK)     = HKDF-SHA256(salt = none, ikm = SK, info = "ochat/v1/ratchet-init")
//!                    -> 64 bytes = root key RK0 || responder's first sending chain key
//! KDF_RK(RK, dh)   = HKDF-SHA256(salt = RK, ikm = dh, info = "ochat/v1/ratchet")
//!                    -> 64 bytes = new root key || new chain key
//! KDF_CK(CK)       = (HMAC-SHA256(CK, 0x02) as next chain key, HMAC-SHA256(CK, 0x01) as message key)
//! message key MK   =  the XChaCha20-Poly1305 key; the nonce is 24 random bytes carried with the
//!                     message (construction 3). Construction 2 (ChaCha20-Poly1305, 12 zero bytes
//!                     of nonce) is still opened, never sealed.
//! ```
//!
//! Every secret type here zeroizes on drop and prints `Name(REDACTED)` in `Debug`.

use std::fmt;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hkdf::hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::RatchetError;
use crate::agreement::RootSecret;

const INIT_INFO: &[u8] = b"ochat/v1/ratchet-init";
const ROOT_INFO: &[u8] = b"ochat/v1/ratchet";
const MESSAGE_KEY_CONSTANT: u8 = 0x01;
const CHAIN_KEY_CONSTANT: u8 = 0x02;

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
        #[serde(transparent)]
        pub(super) struct $name(#[serde(with = "serde_bytes")] [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(REDACTED)"))
            }
        }

        #[cfg(test)]
        impl $name {
            /// Test-only view of the secret bytes.
            pub(super) fn expose(&self) -> &[u8; 32] {
                &self.0
            }
        }
    };
}

secret_key!(
    /// The ratchet's current root key, updated at every DH ratchet step.
    RootKey
);
secret_key!(
    /// A sending or receiving chain key, advanced once per message.
    ChainKey
);
secret_key!(
    /// The single-use key of one message.
    MessageKey
);
secret_key!(
    /// The private half of a DH ratchet key pair.
    RatchetPrivateKey
);

/// A DH ratchet key pair. Persisted as one byte string, the private key then the public key (64
/// bytes), so decoding a stored ratchet needs no X25519 (recomputing the public key was about 4 %
/// of the CPU of a delivered message). State stored by earlier versions, the private key alone
/// (32 bytes), is still read, recomputing the public key. The stored public key is trusted like
/// the private key stored beside it.
#[derive(Clone)]
pub(super) struct RatchetKeyPair {
    secret: RatchetPrivateKey,
    public: [u8; 32],
}

impl From<RatchetPrivateKey> for RatchetKeyPair {
    fn from(secret: RatchetPrivateKey) -> Self {
        let public = PublicKey::from(&StaticSecret::from(secret.0)).to_bytes();
        Self { secret, public }
    }
}

impl Serialize for RatchetKeyPair {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(&self.secret.0);
        both[32..].copy_from_slice(&self.public);
        serializer.serialize_bytes(&both[..])
    }
}

impl<'de> Deserialize<'de> for RatchetKeyPair {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = Zeroizing::new(serde_bytes::ByteBuf::deserialize(deserializer)?.into_vec());
        let mut secret = RatchetPrivateKey([0u8; 32]);
        match bytes.len() {
            32 => {
                secret.0.copy_from_slice(&bytes);
                Ok(secret.into())
            }
            64 => {
                secret.0.copy_from_slice(&bytes[..32]);
                let mut public = [0u8; 32];
                public.copy_from_slice(&bytes[32..]);
                Ok(Self { secret, public })
            }
            n => Err(serde::de::Error::invalid_length(
                n,
                &"a 32-byte private key or 64 bytes of private and public key",
            )),
        }
    }
}

impl fmt::Debug for RatchetKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatchetKeyPair")
            .field("secret", &self.secret)
            .field("public", &Hex(&self.public))
            .finish()
    }
}

impl RatchetKeyPair {
    pub(super) fn from_secret(secret: &StaticSecret) -> Self {
        RatchetPrivateKey(secret.to_bytes()).into()
    }

    pub(super) fn public(&self) -> &[u8; 32] {
        &self.public
    }

    #[cfg(test)]
    pub(super) fn secret(&self) -> &RatchetPrivateKey {
        &self.secret
    }

    /// X25519 with the peer's ratchet public key; refuses non-contributory results.
    pub(super) fn dh(&self, their_public: &[u8; 32]) -> Result<SharedSecret, RatchetError> {
        let shared =
            StaticSecret::from(self.secret.0).diffie_hellman(&PublicKey::from(*their_public));
        if shared.was_contributory() {
            Ok(shared)
        } else {
            Err(RatchetError::NonContributory)
        }
    }
}

/// Lower-case hex for public values in `Debug` output.
pub(super) struct Hex<'a>(pub(super) &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn hkdf_64(
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; 64]>, RatchetError> {
    let mut okm = Zeroizing::new([0u8; 64]);
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm.as_mut_slice())
        .map_err(|_| RatchetError::KeyDerivation)?;
    Ok(okm)
}

fn split(okm: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut first = [0u8; 32];
    let mut second = [0u8; 32];
    first.copy_from_slice(&okm[..32]);
    second.copy_from_slice(&okm[32..]);
    (first, second)
}

/// `KDF_INIT`: the first root key and the responder's first sending chain key.
pub(super) fn kdf_init(root: &RootSecret) -> Result<(RootKey, ChainKey), RatchetError> {
    let okm = hkdf_64(None, root.as_bytes(), INIT_INFO)?;
    let (rk, ck) = split(&okm);
    Ok((RootKey(rk), ChainKey(ck)))
}

/// `KDF_RK`: mixes a DH output into the root key, giving a new root key and chain key.
pub(super) fn kdf_rk(
    root: &RootKey,
    dh: &SharedSecret,
) -> Result<(RootKey, ChainKey), RatchetError> {
    let okm = hkdf_64(Some(&root.0), dh.as_bytes(), ROOT_INFO)?;
    let (rk, ck) = split(&okm);
    Ok((RootKey(rk), ChainKey(ck)))
}

/// `KDF_CK`: the next chain key and this step's message key, both HMAC-SHA256 under the chain
/// key (keyed once, then finished with each constant).
pub(super) fn kdf_ck(chain: &ChainKey) -> Result<(ChainKey, MessageKey), RatchetError> {
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&chain.0)
        .map_err(|_| RatchetError::KeyDerivation)?;
    let step = |constant: u8| -> [u8; 32] {
        keyed
            .clone()
            .chain_update([constant])
            .finalize()
            .into_bytes()
            .into()
    };
    Ok((
        ChainKey(step(CHAIN_KEY_CONSTANT)),
        MessageKey(step(MESSAGE_KEY_CONSTANT)),
    ))
}

/// Length of a construction-3 nonce (XChaCha20-Poly1305).
pub const NONCE_LEN: usize = 24;

impl MessageKey {
    /// Encrypts with XChaCha20-Poly1305 under this message key and the given random nonce
    /// (construction 3). Even if an older copy of the ratchet state seals again with the same
    /// message key, a fresh random 192-bit nonce never repeats a keystream or a Poly1305 key.
    pub(super) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, RatchetError> {
        #[cfg(test)]
        recorder::record(&self.0, nonce);
        #[cfg(feature = "seal-log")]
        super::seal_log::record(&self.0, nonce);
        let key: &Key = (&self.0).into();
        XChaCha20Poly1305::new(key)
            .encrypt(
                &XNonce::from(*nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| RatchetError::MessageTooLong)
    }

    /// Decrypts and authenticates; any mismatch is [`RatchetError::Tampered`]. `nonce` is the
    /// message's construction-3 nonce, or `None` for a construction-2 message (ChaCha20-Poly1305,
    /// 12 zero bytes of nonce), which earlier versions sealed.
    pub(super) fn open(
        &self,
        nonce: Option<&[u8; NONCE_LEN]>,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, RatchetError> {
        let key: &Key = (&self.0).into();
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        match nonce {
            Some(nonce) => XChaCha20Poly1305::new(key).decrypt(&XNonce::from(*nonce), payload),
            None => ChaCha20Poly1305::new(key).decrypt(&Nonce::default(), payload),
        }
        .map_err(|_| RatchetError::Tampered)
    }

    /// Test-only: seals as construction 2 did (zero nonce), to check old messages still open.
    #[cfg(test)]
    pub(super) fn seal_construction_2(
        &self,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, RatchetError> {
        recorder::record(&self.0, &[0u8; NONCE_LEN]);
        let key: &Key = (&self.0).into();
        ChaCha20Poly1305::new(key)
            .encrypt(
                &Nonce::default(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| RatchetError::MessageTooLong)
    }
}

/// Test hook: every (message key, nonce) pair sealed on this thread, in order.
#[cfg(test)]
pub(super) mod recorder {
    use std::cell::RefCell;

    use super::NONCE_LEN;

    thread_local! {
        static SEALED: RefCell<Vec<([u8; 32], [u8; NONCE_LEN])>> = const { RefCell::new(Vec::new()) };
    }

    pub(in crate::ratchet) fn record(key: &[u8; 32], nonce: &[u8; NONCE_LEN]) {
        SEALED.with(|s| s.borrow_mut().push((*key, *nonce)));
    }

    /// Takes (and clears) what this thread sealed so far.
    pub(in crate::ratchet) fn take() -> Vec<([u8; 32], [u8; NONCE_LEN])> {
        SEALED.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}
