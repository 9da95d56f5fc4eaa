//! What the node stores: connections, outbox steps, channels and users, and the JSON views the
//! API shows of them. Secrets inside stored values print redacted.

pub mod livechat;
pub mod livechat_files;
pub mod livechat_identity;
pub mod livechat_offline;
pub mod livechat_queue;

use std::time::{SystemTime, UNIX_EPOCH};

use ochat_protocol::connection::{Connection, Direction};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{ConnectionAnswer, ConnectionRequest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 32 secret bytes kept in a stored value; zeroized on drop, redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
#[serde(transparent)]
pub struct StoredSecret(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecret(<redacted>)")
    }
}

/// A connection as the node keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Local id (UUIDv7).
    pub id: Uuid,
    /// The handshake's request id, shared with the peer.
    pub request_id: Uuid,
    /// Direction, status, remote UUID, contact, message, reject reason.
    pub state: Connection,
    /// The remote instance's display name, once known.
    pub remote_name: Option<String>,
    /// The signed request (as sent, or as received).
    pub request: Option<Signed<ConnectionRequest>>,
    /// The signed answer (as sent, or as received).
    pub answer: Option<Signed<ConnectionAnswer>>,
    /// Our handshake ephemeral secret, kept only until the key agreement is done.
    pub ephemeral: Option<StoredSecret>,
    /// The peer's X25519 pre-key (from its signed record), for the key agreement.
    #[serde(with = "serde_bytes")]
    pub remote_prekey: Option<[u8; 32]>,
    /// The peer's handshake ephemeral public key (from its signed request or answer).
    #[serde(with = "serde_bytes")]
    pub remote_ephemeral: Option<[u8; 32]>,
    /// The channel created when the connection was accepted.
    pub channel_id: Option<Uuid>,
    /// Whether the peer has stored the latest step we sent it.
    pub delivered: bool,
    /// Last delivery problem, for people.
    pub delivery_error: Option<String>,
    /// Local users who belong to the connection's channel.
    pub members: Vec<Uuid>,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
    /// The administrator opened this (incoming) request: it is no longer marked new.
    #[serde(default)]
    pub seen: bool,
    /// The peer's Ed25519 identity key (handshake 2 binds it into the transcript).
    #[serde(default, with = "serde_bytes")]
    pub remote_identity: Option<[u8; 32]>,
    /// Whether the channel's keys were confirmed by both sides (see [`KeyState`]).
    #[serde(default)]
    pub keys: KeyState,
    /// Handshake 2: MAC_I, the initiator's key confirmation: the one we expect (responder) or
    /// the one we send again with a repeated answer's acknowledgement (initiator). Not secret.
    #[serde(default, with = "serde_bytes")]
    pub initiator_mac: Option<[u8; 32]>,
}

impl ConnectionRecord {
    /// An incoming request waiting for a decision that the administrator has not opened yet.
    pub fn is_new(&self) -> bool {
        self.state.direction == Direction::Incoming
            && self.state.status == ochat_protocol::connection::Status::Pending
            && !self.seen
    }
}

/// Key confirmation of a connection's channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// No channel keys yet (not accepted).
    Pending,
    /// Keys derived; the peer's confirmation has not arrived yet.
    Unconfirmed,
    /// Both sides proved they derived the same keys.
    Confirmed,
    /// The peer's confirmation did not match (or answered another copy of our request): no
    /// channel is made; delete the connection and request again.
    Mismatch,
    /// Made by an earlier version (handshake 1), which has no key confirmation.
    #[default]
    Legacy,
}

impl KeyState {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Unconfirmed => "unconfirmed",
            KeyState::Confirmed => "confirmed",
            KeyState::Mismatch => "mismatch",
            KeyState::Legacy => "legacy",
        }
    }
}

/// A handshake step that must reach the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// The connection request.
    Request = 1,
    /// Our answer (accepted or rejected).
    Answer = 2,
    /// Our cancellation.
    Cancel = 3,
}

/// An outbox entry: retried with backoff until the peer has stored it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxItem {
    /// The connection.
    pub connection_id: Uuid,
    /// The remote instance.
    pub remote: InstanceId,
    /// What to deliver.
    pub step: Step,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before (ms).
    pub next_attempt_ms: u64,
}

impl OutboxItem {
    /// The outbox key: connection id ‖ step.
    pub fn key(connection_id: Uuid, step: Step) -> Vec<u8> {
        let mut k = connection_id.as_bytes().to_vec();
        k.push(step as u8);
        k
    }
}

/// The peer reused a message header with other contents: its ratchet state was rolled back
/// (a restored backup or snapshot). Such messages are refused; the channel needs a re-key.
/// Kept per channel in `store::ratchets` until the channel is re-keyed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RollbackSeen {
    /// When it was first seen (ms).
    pub first_at_ms: u64,
    /// When it was last seen (ms).
    pub last_at_ms: u64,
    /// The number (`n`) of the last refused header.
    pub last_message_number: u32,
    /// How many messages were refused for it.
    pub count: u64,
}

/// An end-to-end encrypted channel between two instances. Its ratchet and its rollback mark
/// live in tables of their own (`store::ratchets`); records of the earlier layout carried
/// them inside and are split when the store opens (`store::upgrade`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Channel id (UUIDv7, local).
    pub id: Uuid,
    /// The connection it belongs to.
    pub connection_id: Uuid,
    /// The other instance.
    pub remote: InstanceId,
    /// The channel's name (the contact or the remote's name).
    pub name: String,
    /// Created (ms).
    pub created_at_ms: u64,
}

/// A local user (an operator once they have a login). The password hash lives elsewhere.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserRecord {
    /// User id (UUIDv7).
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Login for `POST /api/v1/login`.
    #[serde(default)]
    pub login: Option<String>,
    /// Name shown to visitors (defaults to `name`).
    #[serde(default)]
    pub chat_name: Option<String>,
    /// Main language.
    #[serde(default)]
    pub language: Option<String>,
    /// Other languages spoken in live chat.
    #[serde(default)]
    pub chat_languages: Vec<String>,
    /// Live chat expertise tags.
    #[serde(default)]
    pub expertise: Vec<String>,
    /// ISO country code.
    #[serde(default)]
    pub country: Option<String>,
    /// A live chat administrator (Odoo's "Administrator" vs "User"): their operator token
    /// acts as the admin token on the live chat administration routes. Only the admin token
    /// sets it. Absent in data from before roles: false.
    #[serde(default)]
    pub administrator: bool,
}

/// How the API shows a connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ConnectionView {
    /// Local id.
    pub id: Uuid,
    /// "outgoing" or "incoming".
    pub direction: String,
    /// "Draft", "Pending", "Accepted", "Rejected", "Not Found", "Cancelled".
    pub status: String,
    /// The remote Instance UUID.
    pub remote_uuid: String,
    /// The remote's display name, once known.
    pub remote_name: Option<String>,
    /// The contact assigned to this connection.
    pub contact: Option<String>,
    /// The request message.
    pub message: Option<String>,
    /// Why it was rejected (View Reason).
    pub reject_reason: Option<String>,
    /// The channel, once accepted.
    pub channel_id: Option<Uuid>,
    /// Whether the peer has stored the latest step.
    pub delivered: bool,
    /// The last delivery problem.
    pub delivery_error: Option<String>,
    /// Member user ids.
    pub members: Vec<Uuid>,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Last change (ms).
    pub updated_at_ms: u64,
    /// An incoming request waiting for a decision that the administrator has not opened yet
    /// (`POST /api/v1/connections/{id}/seen` opens it).
    pub new: bool,
    /// Key confirmation: `pending`, `unconfirmed`, `confirmed`, `mismatch` (no channel; delete
    /// and request again) or `legacy` (made by an earlier version, no confirmation).
    pub keys: &'static str,
}

impl From<&ConnectionRecord> for ConnectionView {
    fn from(c: &ConnectionRecord) -> Self {
        ConnectionView {
            id: c.id,
            direction: match c.state.direction {
                Direction::Outgoing => "outgoing".into(),
                Direction::Incoming => "incoming".into(),
            },
            status: c.state.status.to_string(),
            remote_uuid: c.state.remote.to_string(),
            remote_name: c.remote_name.clone(),
            contact: c.state.contact.clone(),
            message: c.state.message.clone(),
            reject_reason: c.state.reject_reason.clone(),
            channel_id: c.channel_id,
            delivered: c.delivered,
            delivery_error: c.delivery_error.clone(),
            members: c.members.clone(),
            created_at_ms: c.created_at_ms,
            updated_at_ms: c.updated_at_ms,
            new: c.is_new(),
            keys: c.keys.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_secret_never_prints() {
        let s = StoredSecret([7; 32]);
        let shown = format!("{s:?}");
        assert!(!shown.contains('7'), "{shown}");
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Stored and queued, not yet handed to the network.
    Pending,
    /// Handed to the network at least once.
    Sent,
    /// The peer stored it.
    Delivered,
    /// A member on the peer's side has seen it.
    Read,
    /// Given up (see `failure`).
    Failed,
    /// Received from the peer.
    Received,
}

/// An attachment's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentMeta {
    /// Attachment id.
    pub id: Uuid,
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// Whether every chunk arrived and the hash matched.
    pub complete: bool,
}

/// A channel message as stored (both directions).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageRecord {
    /// UUIDv7 chosen by the sender.
    pub id: Uuid,
    /// The local channel.
    pub channel_id: Uuid,
    /// Sent by us.
    pub outgoing: bool,
    /// Author's display name.
    pub author: String,
    /// The text (empty for a bare attachment).
    pub text: String,
    /// An attached file.
    pub attachment: Option<AttachmentMeta>,
    /// When the author wrote it (ms).
    pub sent_at_ms: u64,
    /// When it was stored here (ms).
    pub stored_at_ms: u64,
    /// Delivery state.
    pub state: MessageState,
    /// Why it failed.
    pub failure: Option<String>,
    /// Incoming: whether a member here has read it.
    #[serde(default)]
    pub read: bool,
}

/// How the API shows a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MessageView {
    /// Id.
    pub id: Uuid,
    /// Channel.
    pub channel_id: Uuid,
    /// "out" or "in".
    pub direction: String,
    /// Author.
    pub author: String,
    /// Text.
    pub text: String,
    /// Attachment.
    pub attachment: Option<AttachmentMeta>,
    /// Written at (ms).
    pub sent_at_ms: u64,
    /// State: pending, sent, delivered, read, failed, received.
    pub state: MessageState,
    /// Failure reason.
    pub failure: Option<String>,
    /// Incoming and read here.
    pub read: bool,
}

impl From<&MessageRecord> for MessageView {
    fn from(m: &MessageRecord) -> Self {
        MessageView {
            id: m.id,
            channel_id: m.channel_id,
            direction: if m.outgoing { "out" } else { "in" }.into(),
            author: m.author.clone(),
            text: m.text.clone(),
            attachment: m.attachment.clone(),
            sent_at_ms: m.sent_at_ms,
            state: m.state,
            failure: m.failure.clone(),
            read: m.read,
        }
    }
}

/// A sealed message waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// What goes on the wire (sealed once; retries resend the same bytes).
    pub wire: ochat_protocol::message::WireMessage,
    /// The remote instance.
    pub remote: InstanceId,
    /// Whether a [`MessageRecord`] tracks it (chunks and receipts have none).
    pub tracked: bool,
    /// Queued at (ms), for the give-up time.
    pub queued_at_ms: u64,
    /// Its size on the wire, for batching.
    pub size: usize,
}
