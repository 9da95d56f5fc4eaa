//! Fingerprints of recently opened messages, which tell a repeated header with new contents
//! ([`super::RatchetError::HeaderReused`], a rolled-back sender) from a plain replay; and the
//! system clock the ratchet uses when the caller gives no time.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Sealed;

/// The fingerprint of an opened message, to recognise its header if it comes again.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Opened {
    #[serde(with = "serde_bytes")]
    pub(super) dh: [u8; 32],
    pub(super) n: u32,
    #[serde(with = "serde_bytes")]
    pub(super) digest: [u8; 16],
}

/// The message's Poly1305 tag (the last 16 bytes of the ciphertext). Two messages under the
/// same header share the message key, so their tags are equal exactly when nonce, associated
/// data and ciphertext are (but with negligible probability): the tag fingerprints the whole
/// message without hashing it again.
pub(super) fn fingerprint(sealed: &Sealed) -> [u8; 16] {
    let mut out = [0u8; 16];
    let ct = &sealed.ciphertext;
    let tail = &ct[ct.len().saturating_sub(16)..];
    out[16 - tail.len()..].copy_from_slice(tail);
    out
}

/// Milliseconds since the Unix epoch by the system clock (0 if it is before 1970).
pub(super) fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
