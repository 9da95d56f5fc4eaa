//! Fingerprints of recently opened messages, which tell a repeated header with new contents
//! ([`super::RatchetError::HeaderReused`], a rolled-back sender) from a plain replay; and the
//! system clock the ratchet uses when the caller gives no time.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// SHA-256 over the nonce (if any), the associated data and the ciphertext, cut to 16 bytes.
pub(super) fn fingerprint(sealed: &Sealed, aad: &[u8]) -> [u8; 16] {
    let mut h = Sha256::new();
    if let Some(nonce) = &sealed.nonce {
        h.update(nonce);
    }
    h.update((aad.len() as u64).to_be_bytes());
    h.update(aad);
    h.update(&sealed.ciphertext);
    let full: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// Milliseconds since the Unix epoch by the system clock (0 if it is before 1970).
pub(super) fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
