//! # ochat-protocol
//!
//! Everything two ochat nodes must agree on, with no I/O and no async runtime:
//!
//! - [`identity`] — an instance's Ed25519 identity key and its Instance UUID.
//! - [`sign`] — signatures with one domain-separation prefix per signed type, strict verification.
//! - [`record`] — the signed **instance record** a directory stores under a UUID.
//! - [`codec`] — length-prefixed CBOR frames with a size limit checked before decoding and a
//!   recursion limit; every failure is a typed [`codec::DecodeError`].
//! - [`connection`] — the connection handshake as a pure state machine
//!   (`apply(state, event) -> Result<outcome, InvalidTransition>`).
//! - [`agreement`] — X25519 key agreement over the signed handshake ephemerals and the static
//!   pre-keys, HKDF-SHA256 over the transcript hash, giving a channel's root secret.
//! - [`ratchet`] — the Double Ratchet (Signal's public specification) sealing channel messages
//!   with ChaCha20-Poly1305, the header bound as associated data.
//! - [`message`] — channel messages (`/ochat/msg/2`): routing facts in the clear, the rest sealed.
//! - [`wire`] — the handshake messages that travel between nodes (`/ochat/handshake/1`).
//! - [`rekey`] — a fresh signed key agreement on an existing channel (a new ratchet epoch),
//!   after a restore or when the peer reused a message number.
//! - [`random`] — the one place that asks the operating system for random bytes.
//!
//! Who uses what: `record` builds on `identity` and `sign`; `agreement` feeds `ratchet`;
//! the node wraps `codec` in its libp2p request-response codec and drives `connection`
//! from its service layer.

pub mod agreement;
pub mod codec;
pub mod connection;
pub mod identity;
pub mod message;
pub mod random;
pub mod ratchet;
pub mod record;
pub mod rekey;
pub mod sign;
pub mod wire;
