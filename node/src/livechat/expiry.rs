//! The clean-up of sessions nobody talked in, as Odoo does it. One rule each, applied by the
//! [`sweeper`](super::sweeper) every minute, at start-up, and before counting open sessions:
//!
//! - **Nobody wrote** (neither the visitor nor an operator; the chatbot's own messages do not
//!   count): the session is removed [`UNWRITTEN_TTL_MS`] (one hour) after it started, with
//!   whatever the chatbot said in it and its rating. Until someone writes, its operator is
//!   only tentatively chosen, is not told (no `new_session` event), the session does not
//!   count against the channel's cap, and reports do not count it.
//! - **Only the chatbot answered** (the visitor wrote, but no operator ever joined): the
//!   session is closed after [`BOT_ONLY_IDLE_MS`] (one day) without activity, marked
//!   `abandoned`; it stays in the session history but reports do not count it.
//!
//! This one-hour rule replaces the ten-minute expiry of silent sessions that the security
//! work had introduced: what protects memory is the bound below ([`MAX_UNWRITTEN_SESSIONS`])
//! and the rate limits on new sessions ([`limits`](super::limits)), not a shorter expiry.
//!
//! Also here: the bound on open sessions kept in memory. Used by [`sessions`](super::sessions)
//! (starting), [`messages`](super::messages) (the first message), at load and by the sweeper.

use std::collections::BTreeSet;

use serde_json::json;
use uuid::Uuid;

use super::sessions::SessionView;
use super::{LiveChat, LiveChatError};

/// A session nobody wrote in is deleted this long after it started (one hour).
pub const UNWRITTEN_TTL_MS: u64 = 60 * 60_000;
/// A session only the chatbot answered is closed after this long without activity (a day).
pub const BOT_ONLY_IDLE_MS: u64 = 24 * 60 * 60_000;
/// Open sessions kept in memory at most; past this new visitors are asked to come back.
pub const MAX_OPEN_SESSIONS: usize = 10_000;
/// Of which sessions nobody wrote in yet, at most.
pub const MAX_UNWRITTEN_SESSIONS: usize = 5_000;

/// Sessions nobody wrote in yet, oldest first: (started at ms, id).
pub type Unwritten = BTreeSet<(u64, Uuid)>;

impl LiveChat {
    /// Deletes the open sessions nobody wrote in that started more than [`UNWRITTEN_TTL_MS`]
    /// ago (with their messages and rating); answers how many went. Deletions are made durable
    /// by the next flush: one lost in a crash is simply done again at the next start.
    pub fn expire_unwritten(&self) -> Result<usize, LiveChatError> {
        let now = self.now_ms();
        let cutoff = now.saturating_sub(UNWRITTEN_TTL_MS);
        let expired: Vec<Uuid> = {
            let mut state = self.state()?;
            let mut out = Vec::new();
            while let Some(&(at, id)) = state.unwritten.first() {
                if at > cutoff {
                    break;
                }
                state.unwritten.pop_first();
                let gone = state.open.get(&id).is_some_and(|s| !s.written);
                if gone {
                    state.open.remove(&id);
                    state.transcripts.remove(id);
                    out.push(id);
                }
            }
            out
        };
        let mut erased = super::reports::privacy::Erased::default();
        for id in &expired {
            self.delete_session(*id, &mut erased)?;
            self.hub()
                .to_session(*id, &json!({"type": "closed", "session_id": id}));
        }
        if !expired.is_empty() {
            tracing::debug!(
                sessions = expired.len(),
                "live chat: removed sessions nobody wrote in"
            );
        }
        Ok(expired.len())
    }

    /// Closes the sessions only the chatbot answered (the visitor wrote, no operator ever
    /// joined) that had no activity for [`BOT_ONLY_IDLE_MS`]; they are marked `abandoned` and
    /// not counted in reports. Answers how many closed.
    pub async fn close_bot_only(&self) -> Result<usize, LiveChatError> {
        let now = self.now_ms();
        let closed: Vec<Uuid> = {
            let mut state = self.state()?;
            let idle: Vec<Uuid> = state
                .open
                .values()
                .filter(|s| {
                    s.written
                        && s.bot.is_some()
                        && s.all_operators.is_empty()
                        && now.saturating_sub(s.last_activity_ms) >= BOT_ONLY_IDLE_MS
                })
                .map(|s| s.id)
                .collect();
            for id in &idle {
                if let Some(mut s) = state.open.remove(id) {
                    state.transcripts.remove(*id);
                    state.unwritten.remove(&(s.created_at_ms, *id));
                    s.closed_at_ms = Some(now);
                    s.abandoned = true;
                    self.save_session(&s)?;
                }
            }
            idle
        };
        if closed.is_empty() {
            return Ok(0);
        }
        self.flush().await?;
        for id in &closed {
            self.hub()
                .to_session(*id, &json!({"type": "closed", "session_id": id}));
        }
        tracing::debug!(
            sessions = closed.len(),
            "live chat: closed sessions only the chatbot answered"
        );
        Ok(closed.len())
    }

    /// Refuses a new session when memory for sessions is full (after expiring what may go).
    pub(crate) fn room_for_session(&self) -> Result<(), LiveChatError> {
        let state = self.state()?;
        if state.open.len() >= MAX_OPEN_SESSIONS || state.unwritten.len() >= MAX_UNWRITTEN_SESSIONS
        {
            return Err(LiveChatError::Busy { retry_after_s: 60 });
        }
        Ok(())
    }

    /// Open sessions in memory, and how many of them nobody wrote in yet.
    pub fn open_session_counts(&self) -> Result<(usize, usize), LiveChatError> {
        self.expire_unwritten()?;
        let state = self.state()?;
        Ok((state.open.len(), state.unwritten.len()))
    }

    /// Marks the session written (when the visitor or an operator writes): it now counts
    /// against its operators' cap and will not expire. Answers the view to announce as
    /// `new_session` to its operators, the first time only. Call with the state locked.
    pub(crate) fn mark_written(
        state: &mut super::presence::State,
        id: Uuid,
    ) -> Option<SessionView> {
        let session = state.open.get_mut(&id)?;
        if session.written {
            return None;
        }
        session.written = true;
        let key = (session.created_at_ms, id);
        let view = SessionView::from(&*session);
        state.unwritten.remove(&key);
        Some(view)
    }
}
