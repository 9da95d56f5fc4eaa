//! Messages of a session: the visitor and its operators write, operators' `/commands` and
//! `:shortcuts` are handled, every message is stored (session id ‖ sequence) and pushed to
//! whoever may see it; the visitor's visited pages; leaving and closing.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::sessions::SessionView;
use super::{LiveChat, LiveChatError, Who, put};
use crate::store::{decode, key, trees};

/// Pages kept for `/history`.
pub const HISTORY_PAGES: usize = 15;
const MAX_MESSAGE: usize = 10_000;

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Message id.
    pub id: Uuid,
    /// Session.
    pub session_id: Uuid,
    /// Order in the session.
    pub seq: u64,
    /// "visitor", "operator", "bot" (a chatbot step) or "system".
    pub author: String,
    /// The operator's id.
    pub author_id: Option<Uuid>,
    /// Name shown.
    pub author_name: String,
    /// Text.
    pub text: String,
    /// Sent (ms).
    pub at_ms: u64,
    /// Seen only by this operator (command answers), if set.
    pub only_for: Option<Uuid>,
    /// A chatbot question's answers, shown to the visitor as buttons (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<AnswerChoice>,
}

/// One answer a visitor may pick for a chatbot question.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnswerChoice {
    /// Answer id, unique in its script (send it back as `answer_id`).
    pub id: String,
    /// The answer's text.
    pub text: String,
}

impl LiveChat {
    /// The transcript as the caller may see it (command answers only to their operator).
    pub fn transcript(&self, who: Who, id: Uuid) -> Result<Vec<Message>, LiveChatError> {
        self.session_for(who, id)?;
        let mut out = Vec::new();
        for value in self.trees().messages.scan_prefix(id.as_bytes()).values() {
            let m: Message = decode(trees::LC_MESSAGES, &value?)?;
            let shown = match (m.only_for, who) {
                (None, _) | (_, Who::Admin) => true,
                (Some(owner), Who::Operator(op)) => owner == op,
                (Some(_), Who::Visitor(_)) => false,
            };
            if shown {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The visitor or an operator of the session writes. Operators' `/commands` run and answer
    /// only them; `:shortcut`s expand.
    pub async fn post_message(
        &self,
        who: Who,
        id: Uuid,
        text: &str,
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
                self.append(id, "visitor", None, "Visitor".into(), text.into(), None)?
            }
            Who::Operator(op) if session.operators.contains(&op) => {
                if text.starts_with('/') {
                    return self.run_command(&session, op, text).await;
                }
                let expanded = self.expand_canned(op, text)?;
                self.append(id, "operator", Some(op), self.chat_name(op), expanded, None)?
            }
            _ => {
                return Err(LiveChatError::Forbidden(
                    "only the visitor and the session's operators write in it".into(),
                ));
            }
        };
        // Acknowledged means on disk: a SIGKILL right after the answer loses nothing.
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
        let now = self.now_ms();
        let (message, operators) = {
            let mut state = self.state()?;
            let session = state
                .open
                .get_mut(&id)
                .ok_or_else(|| LiveChatError::Conflict("this session is closed".into()))?;
            let message = Message {
                id: Uuid::now_v7(),
                session_id: id,
                seq: session.next_seq,
                author: author.into(),
                author_id,
                author_name,
                text,
                at_ms: now,
                only_for,
                answers: Vec::new(),
            };
            session.next_seq += 1;
            if only_for.is_none() {
                session.last_activity_ms = now;
            }
            let k = key(&[id.as_bytes(), &message.seq.to_be_bytes()]);
            put(&self.trees().messages, trees::LC_MESSAGES, &k, &message)?;
            put(
                &self.trees().sessions,
                trees::LC_SESSIONS,
                id.as_bytes(),
                &*session,
            )?;
            (message, session.operators.clone())
        };
        let event = json!({"type": "message", "session_id": id, "message": message});
        match only_for {
            Some(op) => self.hub().to_operator(op, &event),
            None => {
                self.hub().to_session(id, &event);
                for op in operators {
                    self.hub().to_operator(op, &event);
                }
            }
        }
        Ok(message)
    }

    /// The visitor reports a page they opened (kept: the last 15 distinct).
    pub fn visit_page(&self, who: Who, id: Uuid, url: &str) -> Result<Vec<String>, LiveChatError> {
        if who != Who::Visitor(id) {
            return Err(LiveChatError::Forbidden(
                "only the session's visitor reports pages".into(),
            ));
        }
        if url.is_empty() || url.len() > 4096 {
            return Err(LiveChatError::BadInput("url has 1 to 4096 bytes".into()));
        }
        let mut state = self.state()?;
        let session = state
            .open
            .get_mut(&id)
            .ok_or_else(|| LiveChatError::Conflict("this session is closed".into()))?;
        session.pages.retain(|p| p != url);
        session.pages.push(url.to_string());
        let excess = session.pages.len().saturating_sub(HISTORY_PAGES);
        session.pages.drain(..excess);
        put(
            &self.trees().sessions,
            trees::LC_SESSIONS,
            id.as_bytes(),
            &*session,
        )?;
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
            s.closed_at_ms = Some(self.now_ms());
            put(
                &self.trees().sessions,
                trees::LC_SESSIONS,
                id.as_bytes(),
                &s,
            )?;
            s
        };
        self.flush().await?;
        let event = json!({"type": "closed", "session_id": id});
        self.hub().to_session(id, &event);
        for op in &closed.operators {
            self.hub().to_operator(*op, &event);
        }
        Ok(SessionView::from(&closed))
    }

    /// An operator leaves; the session closes when the last one has left.
    pub(crate) async fn operator_leaves(&self, id: Uuid, op: Uuid) -> Result<bool, LiveChatError> {
        let name = self.chat_name(op);
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
                put(
                    &self.trees().sessions,
                    trees::LC_SESSIONS,
                    id.as_bytes(),
                    &*s,
                )?;
                false
            } else {
                true
            }
        };
        if last {
            self.close_session(Who::Admin, id).await?;
        }
        Ok(last)
    }
}
