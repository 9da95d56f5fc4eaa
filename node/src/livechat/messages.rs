//! Messages of a session: the visitor and its operators write, operators' `/commands` and
//! `:shortcuts` are handled, every message is stored (session id ‖ sequence) and pushed to
//! whoever may see it (the session's record is not rewritten: [`caught_up`] reads its next
//! sequence number and activity back from the messages at start); the visitor's visited
//! pages; leaving and closing.

use axum::body::Bytes;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::queue::QueueExit;
use super::sessions::{Session, SessionView};
use super::transcripts::{Cached, shown_to};
use super::{LiveChat, LiveChatError, Who};
use crate::store::livechat::LiveChatStore;

/// Pages kept for `/history`.
pub use super::page_history::HISTORY_PAGES;
const MAX_MESSAGE: usize = 10_000;

/// The event that pushes a new message: `{"type": "message", "session_id", "message"}`.
#[derive(Serialize)]
struct MessageEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    session_id: Uuid,
    message: &'a Message,
}

pub use crate::model::livechat::{AnswerChoice, Message};

/// A message about to be stored.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage<'a> {
    pub(crate) author: &'a str,
    pub(crate) author_id: Option<Uuid>,
    pub(crate) author_name: String,
    pub(crate) text: String,
    pub(crate) only_for: Option<Uuid>,
    pub(crate) answers: Vec<AnswerChoice>,
    /// The file the message carries (lc-files).
    pub(crate) file: Option<crate::model::livechat_files::FileRef>,
}

impl LiveChat {
    /// The transcript as the caller may see it (command answers only to their operator).
    pub fn transcript(&self, who: Who, id: Uuid) -> Result<Vec<Message>, LiveChatError> {
        self.session_for(who, id)?;
        Ok(self
            .stored_messages(id)?
            .into_iter()
            .filter(|m| shown_to(m, who))
            .collect())
    }

    /// The transcript as the caller may see it, as the JSON array the API answers. Open
    /// sessions are answered from memory ([`super::transcripts`]).
    pub fn transcript_json(&self, who: Who, id: Uuid) -> Result<Bytes, LiveChatError> {
        let session = self.session_for(who, id)?;
        let cached = if session.closed_at_ms.is_some() {
            Cached::Missing
        } else {
            let mut state = self.state()?;
            match state.transcripts.read(id, who) {
                Cached::Missing if state.open.contains_key(&id) => {
                    // Loaded under the lock that appends take: no message slips in between.
                    let stored = self.stored_messages(id)?;
                    state.transcripts.load(id, who, stored)
                }
                cached => cached,
            }
        };
        match cached {
            Cached::Json(json) => Ok(json),
            Cached::Messages { all, public_view } => {
                let json = messages_json(all.iter().filter(|m| shown_to(m, who)))?;
                if public_view {
                    self.state()?
                        .transcripts
                        .store_public_json(id, all.len(), json.clone());
                }
                Ok(json)
            }
            Cached::Missing => {
                let stored = self.stored_messages(id)?;
                messages_json(stored.iter().filter(|m| shown_to(m, who)))
            }
        }
    }

    /// Every stored message of a session, in order.
    fn stored_messages(&self, id: Uuid) -> Result<Vec<Message>, LiveChatError> {
        Ok(self.repo().messages(id)?)
    }

    /// The visitor or an operator of the session writes. Operators' `/commands` run and answer
    /// only them; `:shortcut`s expand. While a chatbot leads, the visitor's message goes to it
    /// (`answer_id` names a clicked answer). Answers once the message is durable.
    pub async fn post_message(
        &self,
        who: Who,
        id: Uuid,
        text: &str,
        answer_id: Option<&str>,
    ) -> Result<Message, LiveChatError> {
        let session = self.session_for(who, id)?;
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_MESSAGE {
            return Err(LiveChatError::BadInput(format!(
                "a message has 1 to {MAX_MESSAGE} bytes"
            )));
        }
        if session.closed_at_ms.is_some() {
            return Err(LiveChatError::Conflict("this session is closed".into()));
        }
        let message = match who {
            Who::Visitor(_) => {
                let m = self.append(id, "visitor", None, "Visitor".into(), text.into(), None)?;
                self.bot_hears(id, text, answer_id).await?;
                m
            }
            Who::Operator(op) if session.operators.contains(&op) => {
                if text.starts_with('/') {
                    return self.run_command(&session, op, text).await;
                }
                let expanded = self.expand_canned(op, text)?;
                self.append(
                    id,
                    "operator",
                    Some(op),
                    self.accounts().chat_name(op),
                    expanded,
                    None,
                )?
            }
            _ => {
                return Err(LiveChatError::Forbidden(
                    "only the visitor and the session's operators write in it".into(),
                ));
            }
        };
        self.flush().await?;
        Ok(message)
    }

    /// Stores a message and pushes it to whoever may see it.
    pub(crate) fn append(
        &self,
        id: Uuid,
        author: &str,
        author_id: Option<Uuid>,
        author_name: String,
        text: String,
        only_for: Option<Uuid>,
    ) -> Result<Message, LiveChatError> {
        self.append_message(
            id,
            NewMessage {
                author,
                author_id,
                author_name,
                text,
                only_for,
                answers: Vec::new(),
                file: None,
            },
        )
    }

    /// Stores a message (with a question's answers, for the bot) and pushes it. The session's
    /// next sequence number and last activity change in memory only (see [`caught_up`]).
    pub(crate) fn append_message(
        &self,
        id: Uuid,
        new: NewMessage<'_>,
    ) -> Result<Message, LiveChatError> {
        let now = self.now_ms();
        let (message, operators, announce) = {
            let mut state = self.state()?;
            // The first message of the visitor or an operator makes the session count.
            let announce = if matches!(new.author, "visitor" | "operator") {
                let first = LiveChat::mark_written(&mut state, id);
                if let Some(s) = first.as_ref().and_then(|_| state.open.get(&id)) {
                    self.save_session(s)?;
                }
                first
            } else {
                None
            };
            let session = state
                .open
                .get_mut(&id)
                .ok_or_else(|| LiveChatError::Conflict("this session is closed".into()))?;
            let message = Message {
                id: Uuid::now_v7(),
                session_id: id,
                seq: session.next_seq,
                author: new.author.into(),
                author_id: new.author_id,
                author_name: new.author_name,
                text: new.text,
                at_ms: now,
                only_for: new.only_for,
                answers: new.answers,
                file: new.file,
            };
            session.next_seq += 1;
            if message.only_for.is_none() {
                session.last_activity_ms = now;
            }
            // Only the message is written: the session's record is not rewritten for its
            // new sequence number and activity, which `caught_up` reads back from the
            // messages when the node starts.
            self.repo().put_message(id, &message)?;
            let operators = session.operators.clone();
            state.transcripts.append(id, &message);
            (message, operators, announce)
        };
        if let Some(view) = announce {
            let event = json!({"type": "new_session", "session": view});
            for op in &operators {
                self.hub().to_operator(*op, &event);
            }
        }
        let event = MessageEvent {
            kind: "message",
            session_id: id,
            message: &message,
        };
        match message.only_for {
            Some(op) => self.hub().to_operator(op, &event),
            None => self.hub().to_session_and_operators(id, &operators, &event),
        }
        Ok(message)
    }

    /// The visitor reports a page they opened, at `at_ms` (now when unset): kept are the
    /// last 15 distinct of the last day ([`super::page_history`]).
    pub fn visit_page(
        &self,
        who: Who,
        id: Uuid,
        url: &str,
        at_ms: Option<u64>,
    ) -> Result<Vec<String>, LiveChatError> {
        if who != Who::Visitor(id) {
            return Err(LiveChatError::Forbidden(
                "only the session's visitor reports pages".into(),
            ));
        }
        if url.is_empty() || url.len() > 4096 {
            return Err(LiveChatError::BadInput("url has 1 to 4096 bytes".into()));
        }
        let now = self.now_ms();
        let mut state = self.state()?;
        let session = state
            .open
            .get_mut(&id)
            .ok_or_else(|| LiveChatError::Conflict("this session is closed".into()))?;
        super::page_history::record_page(session, url, at_ms, now);
        self.save_session(&*session)?;
        Ok(session.pages.clone())
    }

    /// Closes a session: its visitor leaving, an operator of it, or the admin.
    pub async fn close_session(&self, who: Who, id: Uuid) -> Result<SessionView, LiveChatError> {
        let session = self.session_for(who, id)?;
        if let Who::Operator(op) = who
            && !session.operators.contains(&op)
        {
            return Err(LiveChatError::Forbidden(
                "only the session's operators close it".into(),
            ));
        }
        if session.closed_at_ms.is_some() {
            return Ok(SessionView::from(&session));
        }
        let closed = {
            let mut state = self.state()?;
            let Some(mut s) = state.open.remove(&id) else {
                return Err(LiveChatError::Conflict("this session is closed".into()));
            };
            state.transcripts.remove(id);
            state.unwritten.remove(&(s.created_at_ms, id));
            let now = self.now_ms();
            let left =
                super::queue_flow::leave_line(&mut state.queue, &mut s, QueueExit::Left, now);
            s.closed_at_ms = Some(now);
            self.save_session(&s)?;
            (s, left)
        };
        let (closed, left_line) = closed;
        if let Err(e) = self.index_session(&closed) {
            tracing::warn!(session = %id, error = %e, "could not keep the session's report facts");
        }
        self.flush().await?;
        let event = json!({"type": "closed", "session_id": id});
        self.hub().to_session(id, &event);
        for op in &closed.operators {
            self.hub().to_operator(*op, &event);
        }
        self.queue_after_close(&closed, left_line).await;
        Ok(SessionView::from(&closed))
    }

    /// An operator leaves; the session closes when the last one has left.
    pub(crate) async fn operator_leaves(&self, id: Uuid, op: Uuid) -> Result<bool, LiveChatError> {
        let name = self.accounts().chat_name(op);
        self.append(
            id,
            "system",
            None,
            "System".into(),
            format!("{name} left the conversation"),
            None,
        )?;
        let last = {
            let mut state = self.state()?;
            let Some(s) = state.open.get_mut(&id) else {
                return Ok(true);
            };
            if s.operators.len() > 1 {
                s.operators.retain(|o| *o != op);
                self.save_session(&*s)?;
                false
            } else {
                true
            }
        };
        if last {
            self.close_session(Who::Admin, id).await?;
        } else if let Some(channel) = self.load_session(id)?.map(|s| s.channel_id) {
            // One of their slots freed: the next visitor in line may be theirs.
            self.queue_moves(channel, false).await;
        }
        Ok(last)
    }
}

/// Encodes messages as the API's JSON array.
fn messages_json<'a>(messages: impl Iterator<Item = &'a Message>) -> Result<Bytes, LiveChatError> {
    let shown: Vec<&Message> = messages.collect();
    serde_json::to_vec(&shown)
        .map(Bytes::from)
        .map_err(|e| LiveChatError::Internal(format!("encoding a transcript: {e}")))
}

/// An open session as its stored messages leave it. A message does not rewrite its session's
/// record, so after a restart (or a crash) the next sequence number follows the session's
/// last message, and its last activity is that of its last message shown to everyone
/// (answers only for one operator do not count as activity).
pub(crate) fn caught_up(repo: &LiveChatStore, mut s: Session) -> Result<Session, LiveChatError> {
    if !s.written {
        // Records from before the flag existed: written if the visitor or an operator wrote.
        for m in repo.session_messages(s.id) {
            let m = m?;
            if m.author == "visitor" || m.author == "operator" {
                s.written = true;
                break;
            }
        }
    }
    let mut newest = true;
    for m in repo.session_messages(s.id).rev() {
        let m = m?;
        if newest {
            s.next_seq = s.next_seq.max(m.seq + 1);
            newest = false;
        }
        if m.only_for.is_none() {
            s.last_activity_ms = s.last_activity_ms.max(m.at_ms);
            break;
        }
    }
    Ok(s)
}
