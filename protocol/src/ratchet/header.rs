//! The cleartext message header and the sealed message that carries it.

use serde::{Deserialize, Serialize};

use super::RatchetError;
pub use super::keys::NONCE_LEN;

/// Length of [`Header::to_bytes`]: 32 bytes of DH public key and two big-endian `u32`s.
pub const HEADER_LEN: usize = 40;

/// The Double Ratchet header sent in clear with every message and authenticated as associated
/// data (after the caller's associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The sender's current ratchet public key (X25519).
    #[serde(with = "serde_bytes")]
    pub dh: [u8; 32],
    /// How many messages the sender sent in its previous sending chain (`PN`).
    pub prev_chain_len: u32,
    /// This message's number in the current sending chain (`N`), starting at 0.
    pub n: u32,
}

impl Header {
    /// The fixed encoding: `dh (32) || prev_chain_len (u32 BE) || n (u32 BE)`.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.dh);
        out[32..36].copy_from_slice(&self.prev_chain_len.to_be_bytes());
        out[36..].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    /// Parses the encoding produced by [`Header::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`RatchetError::HeaderLength`] unless `bytes` is exactly [`HEADER_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RatchetError> {
        let bytes: &[u8; HEADER_LEN] =
            bytes.try_into().map_err(|_| RatchetError::HeaderLength {
                expected: HEADER_LEN,
                actual: bytes.len(),
            })?;
        let mut dh = [0u8; 32];
        let mut prev = [0u8; 4];
        let mut n = [0u8; 4];
        dh.copy_from_slice(&bytes[..32]);
        prev.copy_from_slice(&bytes[32..36]);
        n.copy_from_slice(&bytes[36..]);
        Ok(Self {
            dh,
            prev_chain_len: u32::from_be_bytes(prev),
            n: u32::from_be_bytes(n),
        })
    }
}

/// One encrypted channel message: the cleartext header, the nonce and the ciphertext (with its
/// 16-byte tag appended).
///
/// Construction 3 (sealed by this version): `nonce` is present, 24 random bytes, and the
/// cipher is XChaCha20-Poly1305. Construction 2 (earlier versions): no `nonce` field, the
/// cipher is ChaCha20-Poly1305 with 12 zero bytes of nonce; such messages still open until
/// the peer has sent one of construction 3 (see [`super::Ratchet::open_at`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The ratchet header, authenticated but not encrypted.
    pub header: Header,
    /// The ciphertext followed by the Poly1305 tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
    /// The XChaCha20-Poly1305 nonce (construction 3); absent in construction 2.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub nonce: Option<[u8; NONCE_LEN]>,
}

/// Callers' associated data up to this length is joined with the header on the stack.
const INLINE_AD: usize = 128;

/// The AEAD associated data: the caller's associated data followed by the encoded header.
/// The header has a fixed length, so the split point is unambiguous. Kept on the stack when
/// the caller's part is short (channel ids and senders are), so no message allocates for it.
pub(super) enum AssociatedData {
    /// Short: a buffer and the length used.
    Inline([u8; INLINE_AD + HEADER_LEN], usize),
    /// Longer caller data.
    Heap(Vec<u8>),
}

impl AssociatedData {
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            AssociatedData::Inline(buf, len) => &buf[..*len],
            AssociatedData::Heap(v) => v,
        }
    }
}

pub(super) fn associated_data(caller_ad: &[u8], header: &Header) -> AssociatedData {
    let n = caller_ad.len();
    if n <= INLINE_AD {
        let mut buf = [0u8; INLINE_AD + HEADER_LEN];
        buf[..n].copy_from_slice(caller_ad);
        buf[n..n + HEADER_LEN].copy_from_slice(&header.to_bytes());
        AssociatedData::Inline(buf, n + HEADER_LEN)
    } else {
        let mut aad = Vec::with_capacity(n + HEADER_LEN);
        aad.extend_from_slice(caller_ad);
        aad.extend_from_slice(&header.to_bytes());
        AssociatedData::Heap(aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_survives_its_byte_encoding() {
        let header = Header {
            dh: [7; 32],
            prev_chain_len: 0x0102_0304,
            n: 0xA0B0_C0D0,
        };
        let bytes = header.to_bytes();
        assert_eq!(&bytes[32..], &[1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0]);
        assert_eq!(Header::from_bytes(&bytes).ok(), Some(header));
    }

    #[test]
    fn a_header_of_the_wrong_length_is_refused() {
        assert!(matches!(
            Header::from_bytes(&[0u8; 39]),
            Err(RatchetError::HeaderLength {
                expected: 40,
                actual: 39
            })
        ));
        assert!(Header::from_bytes(&[0u8; 41]).is_err());
    }
}
