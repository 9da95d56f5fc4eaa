//! Visitor sessions: the record, the visitor token, who may see which session, and listing
//! them. Starting one (rule + routing) is in [`session_start`](super::session_start);
//! messages, pages and closing are in [`messages`](super::messages).
//!
//! Open sessions and operator presence are kept in memory (and every change is written to
//! the store, so a restart reloads open sessions, never closed ones); events go to the
//! [`Hub`](super::hub::Hub). New sessions are rate-limited per address and per visitor id
//! ([`super::limits`]); a session's operator is told of it once someone writes
//! ([`super::expiry`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::channels::Channel;
pub use super::session_start::{StartAnswer, StartContext, StartInput, language_from_header};
use super::{LiveChat, LiveChatError, Who, token_hash};
use crate::livechat::reports::privacy::ReturningEntry;
use crate::model::UserRecord;

const WEEK_MS: u64 = 7 * 24 * 3_600_000;

pub use crate::model::livechat::Session;

/// How the API shows a session.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// Channel.
    pub channel_id: Uuid,
    /// Visitor id.
    pub visitor_id: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Start page.
    pub page_url: String,
    /// Operators now.
    pub operators: Vec<Uuid>,
    /// Chatbot.
    pub chatbot_id: Option<String>,
    /// "open" or "closed".
    pub status: String,
    /// Started (ms).
    pub created_at_ms: u64,
    /// Last activity (ms).
    pub last_activity_ms: u64,
    /// Closed (ms).
    pub closed_at_ms: Option<u64>,
    /// When the chatbot handed over to an operator (ms).
    pub handover_at_ms: Option<u64>,
    /// No operator was available at some point (see [`Session::no_operator`]).
    pub no_operator: bool,
    /// Closed by the clean-up: only the chatbot answered and nothing happened for a day.
    pub abandoned: bool,
    /// Who the website says the visitor is, and whether its signature proved it
    /// ([`super::identity`]); absent when the page sent no identity.
    pub identity: Option<super::identity::VisitorIdentity>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            id: s.id,
            channel_id: s.channel_id,
            visitor_id: s.visitor_id.clone(),
            language: s.language.clone(),
            country: s.country.clone(),
            page_url: s.page_url.clone(),
            operators: s.operators.clone(),
            chatbot_id: s.chatbot_id.clone(),
            status: if s.closed_at_ms.is_some() {
                "closed"
            } else {
                "open"
            }
            .into(),
            created_at_ms: s.created_at_ms,
            last_activity_ms: s.last_activity_ms,
            closed_at_ms: s.closed_at_ms,
            handover_at_ms: s.handover_at_ms,
            no_operator: s.no_operator,
            abandoned: s.abandoned,
            identity: s.identity.clone(),
        }
    }
}

impl LiveChat {
    /// Writes a session record (callers flush before they acknowledge).
    pub(crate) fn save_session(&self, session: &Session) -> Result<(), LiveChatError> {
        Ok(self.repo().put_session(session)?)
    }

    /// The operator a returning visitor had in the last week.
    pub(crate) fn previous_operator(
        &self,
        visitor_id: Option<&str>,
        now: u64,
    ) -> Result<Option<Uuid>, LiveChatError> {
        let Some(v) = visitor_id else {
            return Ok(None);
        };
        Ok(self
            .repo()
            .returning(v)?
            .filter(|r| now.saturating_sub(r.at_ms) < WEEK_MS)
            .map(|r| r.operator))
    }

    /// Remembers a visitor's operator, for their return.
    pub(crate) fn remember_operator(
        &self,
        visitor_id: Option<&str>,
        operator: Uuid,
        now: u64,
    ) -> Result<(), LiveChatError> {
        if let Some(v) = visitor_id {
            let r = ReturningEntry {
                operator,
                at_ms: now,
            };
            self.repo().put_returning(v, &r)?;
        }
        Ok(())
    }

    /// The profiles of a channel's operators (routing's input).
    pub(crate) fn operator_profiles(&self, channel: &Channel) -> Vec<UserRecord> {
        channel
            .operators
            .iter()
            .filter_map(|op| self.accounts().user(*op).ok())
            .collect()
    }

    /// The session a visitor token grants, if the token is a valid visitor token.
    pub fn visitor_session(&self, token: &str) -> Result<Option<Uuid>, LiveChatError> {
        let Some(rest) = token.strip_prefix("vs_") else {
            return Ok(None);
        };
        let Some((id, secret)) = rest.split_once('_') else {
            return Ok(None);
        };
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        let Some(session) = self.load_session(id)? else {
            return Ok(None);
        };
        let given = token_hash(&format!("vs_{secret}"));
        let same = given.len() == session.token_hash.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_slice(),
                session.token_hash.as_slice(),
            ));
        Ok(same.then_some(id))
    }

    /// A session from memory (open) or the store (closed).
    pub(crate) fn load_session(&self, id: Uuid) -> Result<Option<Session>, LiveChatError> {
        if let Some(s) = self.state()?.open.get(&id) {
            return Ok(Some(s.clone()));
        }
        Ok(self.repo().session(id)?)
    }

    /// A session the caller may see: its visitor, its operators, the channel's operators, the admin.
    pub fn session_for(&self, who: Who, id: Uuid) -> Result<Session, LiveChatError> {
        let session = self
            .load_session(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no session {id}")))?;
        match who {
            Who::Admin => Ok(session),
            Who::Visitor(own) if own == id => Ok(session),
            Who::Visitor(_) => Err(LiveChatError::Forbidden(
                "this token grants another session".into(),
            )),
            Who::Operator(op) if session.all_operators.contains(&op) => Ok(session),
            Who::Operator(_) => {
                self.channel_for(who, session.channel_id)?;
                Ok(session)
            }
        }
    }

    /// Sessions the caller may see, open or closed, optionally of one channel.
    pub fn sessions(
        &self,
        who: Who,
        open: Option<bool>,
        channel: Option<Uuid>,
    ) -> Result<Vec<SessionView>, LiveChatError> {
        who.staff()?;
        if let Some(c) = channel {
            self.channel_for(who, c)?;
        }
        self.expire_unwritten()?;
        let mut out = Vec::new();
        for stored in self.repo().sessions() {
            let stored = stored?;
            let s = self.load_session(stored.id)?.unwrap_or(stored);
            let visible = match who {
                Who::Operator(op) => {
                    s.all_operators.contains(&op)
                        || self
                            .channel(s.channel_id)
                            .is_ok_and(|c| c.operators.contains(&op))
                }
                _ => true,
            };
            if visible
                && channel.is_none_or(|c| c == s.channel_id)
                && open.is_none_or(|o| o == s.closed_at_ms.is_none())
            {
                out.push(SessionView::from(&s));
            }
        }
        Ok(out)
    }
}

/// A UUID in the simple (no dashes) form used inside visitor tokens.
pub(super) fn id_text(id: Uuid) -> String {
    id.simple().to_string()
}

/// Open sessions by id, for [`State`](super::presence::State).
pub(crate) type OpenSessions = HashMap<Uuid, Session>;
