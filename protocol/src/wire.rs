//! The messages of the connection handshake protocol (`/ochat/handshake/1`).
//!
//! Every request travels in an [`Envelope`] that carries the sender's self-signed instance
//! record, so the receiver can (1) verify the record, (2) check that the libp2p peer id Noise
//! authenticated is the record's key, (3) check the UUID → key binding it already knows (trust
//! on first use), and only then (4) verify the body's own signature with that key.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::InstanceId;
use crate::record::SignedRecord;
use crate::rekey::{RekeyAnswer, RekeyRequest};
use crate::sign::{Domain, Signed, SignedType};

/// Protocol id of the handshake request-response protocol.
pub const HANDSHAKE_PROTOCOL: &str = "/ochat/handshake/1";
/// Longest request message, in bytes.
pub const MAX_REQUEST_MESSAGE: usize = 2_000;
/// Longest reject reason, in bytes.
pub const MAX_REASON: usize = 2_000;

/// "Please connect with us": sent by the initiator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRequest {
    /// Chosen by the initiator; the same id on retries, so a retry never makes two connections.
    pub request_id: Uuid,
    /// The initiator.
    pub from: InstanceId,
    /// The instance asked.
    pub to: InstanceId,
    /// The initiator's display name.
    pub from_name: String,
    /// An optional note for the receiver.
    pub message: Option<String>,
    /// The initiator's X25519 ephemeral public key for this handshake.
    #[serde(with = "serde_bytes")]
    pub ephemeral: [u8; 32],
    /// When it was made (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// Handshake 2 (bound): the initiator's X25519 pre-key this request uses. Absent in
    /// requests of earlier versions, which then use the pre-key of the sender's record.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub prekey: Option<[u8; 32]>,
}

impl SignedType for ConnectionRequest {
    const DOMAIN: Domain = Domain::ConnectionRequest;
}

/// The receiver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Accepted; the responder's X25519 ephemeral public key completes the key agreement.
    Accepted {
        /// The responder's ephemeral public key.
        #[serde(with = "serde_bytes")]
        ephemeral: [u8; 32],
    },
    /// Rejected, with a reason the initiator can read.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// The answer to a [`ConnectionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionAnswer {
    /// The request answered.
    pub request_id: Uuid,
    /// The responder.
    pub from: InstanceId,
    /// The initiator.
    pub to: InstanceId,
    /// Accepted or rejected.
    pub verdict: Verdict,
    /// When it was made.
    pub sent_at_ms: u64,
    /// Handshake 2: [`crate::agreement::request_hash`] of the exact signed request answered.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub request_hash: Option<[u8; 32]>,
    /// Handshake 2, when accepted: the responder's X25519 pre-key used.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub prekey: Option<[u8; 32]>,
    /// Handshake 2, when accepted: the responder's key confirmation MAC_R
    /// ([`crate::agreement::Confirmation`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub confirmation: Option<[u8; 32]>,
}

impl SignedType for ConnectionAnswer {
    const DOMAIN: Domain = Domain::ConnectionAnswer;
}

/// The initiator withdraws a pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCancel {
    /// The request withdrawn.
    pub request_id: Uuid,
    /// The initiator.
    pub from: InstanceId,
    /// The receiver.
    pub to: InstanceId,
    /// When it was made.
    pub sent_at_ms: u64,
}

impl SignedType for ConnectionCancel {
    const DOMAIN: Domain = Domain::ConnectionCancel;
}

/// Sync Status: "what is the state of this request on your side?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusQuery {
    /// The request asked about.
    pub request_id: Uuid,
    /// Who asks.
    pub from: InstanceId,
    /// Who is asked.
    pub to: InstanceId,
    /// When it was made.
    pub sent_at_ms: u64,
}

impl SignedType for StatusQuery {
    const DOMAIN: Domain = Domain::StatusQuery;
}

/// The signed body of a handshake request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandshakeBody {
    /// A connection request.
    Request(Signed<ConnectionRequest>),
    /// An answer to a request we received earlier.
    Answer(Signed<ConnectionAnswer>),
    /// A cancellation.
    Cancel(Signed<ConnectionCancel>),
    /// A status query.
    Query(Signed<StatusQuery>),
    /// A channel re-key request ([`crate::rekey`]), answered by
    /// [`HandshakeResponse::Rekeyed`].
    Rekey(Signed<RekeyRequest>),
}

/// What travels on `/ochat/handshake/1` as a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender's current self-signed instance record.
    pub record: SignedRecord,
    /// The signed message.
    pub body: HandshakeBody,
}

/// The receiver's view of a request, answered to a [`StatusQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteView {
    /// Received, not yet decided.
    Pending,
    /// Decided: the signed answer (accepted or rejected).
    Decided(Signed<ConnectionAnswer>),
    /// The receiver does not know this request (never arrived, or it was deleted).
    Unknown,
}

/// Why a handshake request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalCode {
    /// The record, the signature or the peer id did not verify.
    Unauthenticated,
    /// The message is addressed to another instance.
    WrongRecipient,
    /// The message refers to a request the receiver does not know.
    UnknownRequest,
    /// The message is not allowed in the current state.
    InvalidState,
    /// Too many requests from this peer.
    RateLimited,
    /// The message is malformed or over a limit.
    Malformed,
    /// The receiver failed internally; try again later.
    Internal,
}

/// What travels on `/ochat/handshake/1` as a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandshakeResponse {
    /// Stored durably on the receiver's side.
    Stored,
    /// The answer to a status query, with the answering instance's record (the asker needs
    /// its pre-key to complete the key agreement when the view is an acceptance).
    Status {
        /// The answering instance's current self-signed record.
        record: SignedRecord,
        /// What it knows of the request.
        view: RemoteView,
    },
    /// Handshake 2: the initiator stored the accepted answer and confirms the keys with MAC_I
    /// ([`crate::agreement::Confirmation`]). Sent only in reply to an answer that carried a
    /// confirmation.
    Confirmed {
        /// MAC_I.
        #[serde(with = "serde_bytes")]
        mac: [u8; 32],
    },
    /// The answer to a [`HandshakeBody::Rekey`]: the signed re-key answer.
    Rekeyed(Signed<RekeyAnswer>),
    /// The re-key request's epoch is not above the answerer's: ask again with a higher one.
    RekeyStale {
        /// The answerer's current epoch of the channel.
        epoch: u32,
    },
    /// Refused, with a code and a message for logs.
    Refused {
        /// Why.
        code: RefusalCode,
        /// Details for people.
        message: String,
    },
}
