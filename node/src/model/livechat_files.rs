//! The stored records of visitors' and operators' files in live chat sessions, and of the
//! transcript emails waiting in the mail queue (`store/livechat/files.rs`,
//! `store/livechat/mail_queue.rs`). A leaf like the rest of `model`; the behaviour is in
//! `livechat/files.rs`, `livechat/file_types.rs` and `livechat/mail.rs`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The default size limit of one file: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 << 20;

/// A channel's file settings: off by default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FileSettings {
    /// Whether visitors and operators may send files in the channel's sessions.
    #[serde(default)]
    pub enabled: bool,
    /// The largest file accepted, in bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// The MIME types accepted (each checked against the file's content).
    #[serde(default = "default_types")]
    pub allowed_types: Vec<String>,
}

fn default_max_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn default_types() -> Vec<String> {
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
    ]
    .map(String::from)
    .to_vec()
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            enabled: false,
            max_bytes: DEFAULT_MAX_FILE_BYTES,
            allowed_types: default_types(),
        }
    }
}

/// What a message says about the file it carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FileRef {
    /// File id (download it at `…/sessions/{session}/files/{id}`).
    pub id: Uuid,
    /// File name as sent (path parts removed).
    pub name: String,
    /// MIME type (checked against the content).
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
}

/// A file of a session as stored; its content is in pieces of at most 64 KiB.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StoredFile {
    /// File id.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// "visitor" or "operator".
    pub uploaded_by: String,
    /// The operator who sent it.
    pub author_id: Option<Uuid>,
    /// Stored (ms).
    pub at_ms: u64,
    /// How many pieces hold the content.
    pub pieces: u32,
}

/// A transcript email waiting in the queue (until the SMTP server takes it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MailJob {
    /// Job id (UUIDv7: the queue is in order of asking).
    pub id: Uuid,
    /// The session whose transcript it carries.
    pub session_id: Uuid,
    /// The recipient.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// Failed tries so far.
    pub attempts: u32,
    /// Not tried again before this (ms since the epoch, wall clock).
    pub next_at_ms: u64,
    /// Asked (ms since the epoch).
    pub created_at_ms: u64,
    /// Why the last try failed.
    pub last_error: Option<String>,
}
