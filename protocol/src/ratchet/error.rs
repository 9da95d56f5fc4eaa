//! [`super::RatchetError`]: why sealing or opening a channel message failed.

use thiserror::Error;

use crate::random::RandomError;

/// Why sealing or opening a message failed. A failed call never changes the ratchet state.
#[derive(Debug, Error)]
pub enum RatchetError {
    /// Authentication failed: the ciphertext, header or associated data was altered, or the
    /// message was not sealed for this channel.
    #[error("message authentication failed (tampered or not for this channel)")]
    Tampered,
    /// No key exists for this message any more: it was already opened (a replay), or its
    /// skipped key was evicted or belongs to a chain that was discarded.
    #[error("message already opened or its key was discarded")]
    Replay,
    /// Opening the message would skip more than [`super::MAX_SKIP`] keys in one chain.
    #[error("message {requested} is too far ahead (at most {max} skipped messages per chain)")]
    TooManySkipped {
        /// The message number the skip had to reach.
        requested: u32,
        /// The limit, [`super::MAX_SKIP`].
        max: u32,
    },
    /// The peer's ratchet public key gave an all-zero (non-contributory) DH result.
    #[error("the peer's ratchet key is a low-order point")]
    NonContributory,
    /// A chain's message counter would overflow `u32`.
    #[error("message counter overflow")]
    CounterOverflow,
    /// An encoded header did not have the expected length.
    #[error("header must be {expected} bytes, got {actual}")]
    HeaderLength {
        /// [`super::HEADER_LEN`].
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The same header (`dh`, `n`) arrived again with different contents: the sender sealed
    /// from an older copy of its ratchet state (a restored backup or snapshot). Refused; the
    /// channel needs a re-key.
    #[error(
        "message {n} reuses a header already used with other contents: the sender's ratchet was rolled back"
    )]
    HeaderReused {
        /// The repeated message number.
        n: u32,
    },
    /// A construction-2 message (no nonce) after the peer already sent construction 3.
    #[error("an old-format message (no nonce) after the peer switched to the new format")]
    Downgrade,
    /// The plaintext is longer than ChaCha20-Poly1305 can encrypt.
    #[error("message too long to encrypt")]
    MessageTooLong,
    /// A key derivation refused its parameters (cannot happen with the fixed sizes used).
    #[error("key derivation failed")]
    KeyDerivation,
    /// No randomness for a new ratchet key.
    #[error(transparent)]
    Random(#[from] RandomError),
}
