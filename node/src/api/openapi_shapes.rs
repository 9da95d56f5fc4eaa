//! Document-only types for the API document ([`super::openapi`]): the error body, the answers
//! that handlers build with `json!`, the bodies they parse by hand, and the WebSocket events.
//! Nothing serialises these; they describe what the handlers send, and Schemathesis checks
//! that the real answers match them.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::livechat::messages::Message;
use crate::livechat::reports::history::SessionRow;
use crate::livechat::reports::people::{OperatorRow, ShareRow};
use crate::livechat::reports::stats::StatRow;
use crate::livechat::sessions::SessionView;
use crate::model::{ConnectionView, MessageView, UserRecord};

/// Every error answer: a stable machine-readable code and a message for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error inside [`ErrorBody`].
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `too_many_requests`, `rate_limited`, `no_operator`, `busy`, `unavailable`, `internal`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The languages enabled on the node.
#[derive(Serialize, ToSchema)]
pub struct LanguageList {
    /// Each enabled language: ISO 639-1 code and English name.
    pub languages: Vec<crate::livechat::languages::Language>,
}

/// A successful login.
#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The operator's token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Who logged in.
    pub user: UserRecord,
}

/// How many tokens were revoked.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// Tokens revoked.
    pub revoked: u64,
}

/// The channel the operator left.
#[derive(Serialize, ToSchema)]
pub struct Left {
    /// The channel's id.
    pub left: Uuid,
}

/// The pages a visitor went through, oldest first.
#[derive(Serialize, ToSchema)]
pub struct Pages {
    /// Page URLs.
    pub pages: Vec<String>,
}

/// Messages marked read.
#[derive(Serialize, ToSchema)]
pub struct MarkedRead {
    /// How many messages were marked read.
    pub marked_read: u64,
}

/// Counters of the node (see also `/metrics`).
#[derive(Serialize, ToSchema)]
pub struct Stats {
    /// Incoming messages rejected (bad signature, replay, unknown channel…).
    pub rejected_messages: u64,
    /// Grouped disk flushes since start.
    pub disk_flushes: u64,
    /// Live chat sessions open in memory.
    pub livechat_open_sessions: u64,
    /// Open sessions nobody wrote in yet.
    pub livechat_unwritten_sessions: u64,
}

/// The body of `POST /api/v1/connections/{id}/{action}`: `accept` needs `contact`, `reject`
/// may give a `reason`, `edit` needs `remote_uuid`; the other actions take no body.
#[derive(Serialize, ToSchema)]
pub struct ActionBody {
    /// For `accept`: how the other side can reach us (shown to them).
    pub contact: Option<String>,
    /// For `reject`: why.
    pub reason: Option<String>,
    /// For `edit`: the corrected UUID of the other node (draft connections).
    pub remote_uuid: Option<String>,
}

/// The actions of `POST /api/v1/connections/{id}/{action}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionAction {
    /// Send a draft request.
    Send,
    /// Ask the peer for the connection's status (Sync Status).
    Sync,
    /// Withdraw a pending request.
    Cancel,
    /// Send a not-found or failed request again.
    Retry,
    /// Accept an incoming request (body: `contact`).
    Accept,
    /// Reject an incoming request (body: optional `reason`).
    Reject,
    /// Correct a draft's remote UUID (body: `remote_uuid`).
    Edit,
    /// Mark an incoming request as opened by the administrator (it is no longer new).
    Seen,
}

/// The sessions report.
#[derive(Serialize, ToSchema)]
pub struct SessionsReport {
    /// One row per session.
    pub sessions: Vec<SessionRow>,
}

/// The statistics report.
#[derive(Serialize, ToSchema)]
pub struct StatsReport {
    /// `day`, `week`, `month`, `channel`, `operator`, `country` or `language`.
    pub group_by: String,
    /// One row per group.
    pub rows: Vec<StatRow>,
}

/// The operators report.
#[derive(Serialize, ToSchema)]
pub struct OperatorsReport {
    /// One row per operator.
    pub operators: Vec<OperatorRow>,
}

/// The rating shares report.
#[derive(Serialize, ToSchema)]
pub struct SharesReport {
    /// Shares of each rating.
    pub shares: Vec<ShareRow>,
}

/// An event of `GET /api/v1/events` (JSON text frames): a connection or a channel message
/// changed. A socket that fell behind gets `{"type": "lagged", "missed": n}` instead.
#[derive(Serialize, ToSchema)]
pub struct FederationEvent {
    /// `connection`, `message` or `lagged`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `created`, `incoming_request`, `delivered`, `accepted`, `rejected`, `not_found`,
    /// `cancelled`, `updated`, `deleted` (connections); `new`, `state` (messages).
    pub event: Option<String>,
    /// The connection, for connection events.
    pub connection: Option<ConnectionView>,
    /// The message, for message events.
    pub message: Option<MessageView>,
    /// For `lagged`: how many events were missed.
    pub missed: Option<u64>,
}

/// An operator's id and chat name.
#[derive(Serialize, ToSchema)]
pub struct OperatorName {
    /// The operator's id.
    pub id: Uuid,
    /// Their chat name.
    pub name: String,
}

/// An event of the live chat WebSockets (JSON text frames).
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveChatEvent {
    /// A session was opened for the operator (operators' socket).
    NewSession {
        /// The session.
        session: SessionView,
    },
    /// A message was written in a session.
    Message {
        /// The session.
        session_id: Uuid,
        /// The message.
        message: Message,
    },
    /// An operator joined the session (session socket).
    OperatorJoined {
        /// The session.
        session_id: Uuid,
        /// Who joined.
        operator: OperatorName,
    },
    /// Someone is typing, or stopped.
    Typing {
        /// The session.
        session_id: Uuid,
        /// `visitor` or `operator`.
        author: String,
        /// The operator, when an operator types.
        author_id: Option<Uuid>,
        /// The writer's name.
        name: Option<String>,
        /// Typing or stopped.
        typing: bool,
    },
    /// The session was closed.
    Closed {
        /// The session.
        session_id: Uuid,
    },
    /// The socket fell behind and missed events: read the transcript again.
    Lagged {
        /// How many events were missed.
        missed: u64,
    },
    /// A message the client wrote on the socket was refused.
    Error {
        /// Why.
        message: String,
    },
}

/// What a client may write on a live chat WebSocket (a JSON text frame): a message, posted
/// like `POST /api/v1/livechat/sessions/{id}/messages`.
#[derive(Serialize, ToSchema)]
pub struct LiveChatSocketInput {
    /// The session (operators' socket only; the session socket writes to its session).
    pub session_id: Option<Uuid>,
    /// The message.
    pub text: String,
    /// The chatbot answer chosen, if any.
    pub answer_id: Option<String>,
}
