//! The live chat queue's stored mark on a session: when the visitor joined the line, when and
//! how they left it, and the expertise they asked for (routing needs it when an operator frees
//! up). Kept inside the session record (`Session::queue`), so a queued visitor survives a
//! restart with the session. Its behaviour is in `livechat/queue.rs`.

use serde::{Deserialize, Serialize};

/// How a visitor left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueExit {
    /// An operator took them (the next free one, or one who joined by hand).
    Served,
    /// They ended the chat, or left the page for longer than the grace period.
    Left,
}

/// A session's place in the queue, as stored with the session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMark {
    /// When the visitor joined the line (ms).
    pub joined_at_ms: u64,
    /// When they left it (ms), if they did.
    #[serde(default)]
    pub left_at_ms: Option<u64>,
    /// How they left it.
    #[serde(default)]
    pub exit: Option<QueueExit>,
    /// Expertise the visitor asked for (routing's input when an operator frees up).
    #[serde(default)]
    pub expertise: Vec<String>,
}

impl QueueMark {
    /// Whether the visitor is still waiting.
    pub fn waiting(&self) -> bool {
        self.left_at_ms.is_none()
    }

    /// Milliseconds spent in the line: up to leaving it, else up to `end_ms` (e.g. the close).
    pub fn waited_ms(&self, end_ms: u64) -> u64 {
        self.left_at_ms
            .unwrap_or(end_ms)
            .saturating_sub(self.joined_at_ms)
    }
}

/// Visitors who may wait in a channel's line unless the admin says otherwise.
pub const DEFAULT_QUEUE_LIMIT: u32 = 20;

/// [`DEFAULT_QUEUE_LIMIT`], for records written before the queue existed.
pub fn default_queue_limit() -> u32 {
    DEFAULT_QUEUE_LIMIT
}
