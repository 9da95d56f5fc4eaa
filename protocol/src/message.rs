//! Channel messages between two connected instances (`/ochat/msg/2`).
//!
//! On the wire only routing facts travel in the clear: the conversation (the handshake's
//! request id, known to both sides), the sender's UUID and the message id (UUIDv7, so the
//! receiver can drop duplicates before decrypting). Everything else — author, time, text,
//! attachment bytes, read receipts — is a [`Content`] sealed with the channel's Double Ratchet;
//! the routing facts are bound into the associated data by [`associated_data`], so changing any
//! of them makes the message fail to open.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::InstanceId;
use crate::ratchet::Sealed;

/// Protocol id of the message protocol.
pub const MESSAGE_PROTOCOL: &str = "/ochat/msg/2";
/// Longest text of one message, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;
/// Size of one attachment chunk: 64 KiB, so that a chunk, and the sealed message that carries
/// it, stay well below the largest value a node stores durably (sled's blob threshold, 131,052
/// bytes). Earlier versions sent 256 KiB; receivers still accept chunks up to
/// [`MAX_MESSAGE_FRAME`].
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Largest attachment.
pub const MAX_ATTACHMENT: usize = 25 * 1024 * 1024;
/// Largest frame on `/ochat/msg/2` (a batch of messages).
pub const MAX_MESSAGE_FRAME: usize = 2 * 1024 * 1024;

/// A sealed message as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    /// The conversation: the request id of the handshake that created the channel.
    pub conversation: Uuid,
    /// The sending instance.
    pub sender: InstanceId,
    /// The message id (UUIDv7, chosen by the sender; the same on every retry).
    pub id: Uuid,
    /// The sealed [`Content`].
    pub sealed: Sealed,
}

/// Several messages in one request (in send order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBatch {
    /// The messages.
    pub messages: Vec<WireMessage>,
}

/// What became of one message at the receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckStatus {
    /// Stored durably now.
    Stored,
    /// Already stored earlier (a retry).
    Duplicate,
    /// Refused for good (does not open, unknown conversation…); the reason is for logs.
    Rejected(String),
    /// Could not be handled now; send it again later.
    Retry(String),
}

/// The receiver's answer for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAck {
    /// The message id.
    pub id: Uuid,
    /// Its fate.
    pub status: AckStatus,
}

/// The answer to a [`MessageBatch`], given only after the receiver's writes are durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageResponse {
    /// One acknowledgement per message, in order.
    Acks(Vec<MessageAck>),
    /// The whole batch was refused (rate limit, unknown peer…).
    Refused(String),
}

/// The sealed part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// The author's display name.
    pub author: String,
    /// When it was written (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// What it says.
    pub body: Body,
}

/// The kinds of content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Plain text.
    Text(String),
    /// One piece of an attachment (sent before its [`Body::Attachment`]).
    Chunk {
        /// The attachment.
        attachment: Uuid,
        /// Position, from 0.
        index: u32,
        /// The bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A file, complete once all its chunks arrived and the hash matches.
    Attachment {
        /// The attachment id.
        attachment: Uuid,
        /// File name.
        name: String,
        /// MIME type.
        mime: String,
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the whole file.
        #[serde(with = "serde_bytes")]
        sha256: [u8; 32],
        /// How many chunks.
        chunks: u32,
    },
    /// The reader's side has seen these messages.
    Receipt {
        /// Ids of messages read.
        read: Vec<Uuid>,
    },
}

/// The associated data of a message: a domain prefix and the routing facts.
pub fn associated_data(conversation: &Uuid, sender: &InstanceId, id: &Uuid) -> Vec<u8> {
    let mut ad = Vec::with_capacity(16 + 48);
    ad.extend_from_slice(b"ochat/v1/msg\0");
    ad.extend_from_slice(conversation.as_bytes());
    ad.extend_from_slice(sender.as_bytes());
    ad.extend_from_slice(id.as_bytes());
    ad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routing_fact_changes_the_associated_data() {
        let (c, s, i) = (Uuid::new_v4(), InstanceId::generate(), Uuid::now_v7());
        let base = associated_data(&c, &s, &i);
        assert_ne!(base, associated_data(&Uuid::new_v4(), &s, &i));
        assert_ne!(base, associated_data(&c, &InstanceId::generate(), &i));
        assert_ne!(base, associated_data(&c, &s, &Uuid::now_v7()));
    }
}
