//! Where the ratchet's randomness comes from: new DH ratchet secrets and message nonces.

use x25519_dalek::StaticSecret;

use super::NONCE_LEN;
use crate::random::{RandomError, random_bytes};

/// Where new DH ratchet secrets come from.
///
/// [`OsRandom`] is the production source; tests and vector generators supply fixed keys.
pub trait KeySource {
    /// A fresh X25519 secret for the next DH ratchet step.
    ///
    /// # Errors
    ///
    /// When no randomness is available.
    fn next_ratchet_secret(&mut self) -> Result<StaticSecret, RandomError>;

    /// A fresh random nonce for one sealed message (construction 3).
    ///
    /// # Errors
    ///
    /// When no randomness is available.
    fn next_nonce(&mut self) -> Result<[u8; NONCE_LEN], RandomError> {
        random_bytes::<NONCE_LEN>()
    }
}

/// Draws ratchet secrets from the operating system ([`crate::random`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl KeySource for OsRandom {
    fn next_ratchet_secret(&mut self) -> Result<StaticSecret, RandomError> {
        random_bytes::<32>().map(StaticSecret::from)
    }
}
