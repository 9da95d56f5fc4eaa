//! Visitor sessions: starting one (rule + routing), the visitor token, who may see which
//! session, and listing them. Messages, pages and closing are in [`messages`](super::messages).
//!
//! Open sessions and operator presence are kept in memory (and every change is written to
//! the store, so a restart reloads open sessions, never closed ones); events go to the
//! [`Hub`](super::hub::Hub). New sessions are rate-limited per address and per visitor id
//! ([`super::limits`]); a session's operator is told of it once someone writes
//! ([`super::expiry`]).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::channels::Channel;
use super::chatbot::engine::BotState;
use super::rules::{Action, matching_rule};
use super::{LiveChat, LiveChatError, Who, random_hex, token_hash};
use crate::livechat::reports::privacy::ReturningEntry;
use crate::model::UserRecord;

const WEEK_MS: u64 = 7 * 24 * 3_600_000;

/// A session as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: Uuid,
    /// Channel.
    pub channel_id: Uuid,
    /// The id the visitor's browser keeps, if any.
    pub visitor_id: Option<String>,
    /// SHA-256 of the visitor's token.
    #[serde(with = "serde_bytes")]
    pub token_hash: Vec<u8>,
    /// Browser language.
    pub language: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Page where the chat started.
    pub page_url: String,
    /// Operators in the conversation now.
    pub operators: Vec<Uuid>,
    /// Every operator who was in it.
    pub all_operators: Vec<Uuid>,
    /// The chatbot of the matched rule, if it answers.
    pub chatbot_id: Option<String>,
    /// Started (ms).
    pub created_at_ms: u64,
    /// Last message (ms).
    pub last_activity_ms: u64,
    /// Closed (ms).
    pub closed_at_ms: Option<u64>,
    /// Last distinct pages visited, oldest first.
    pub pages: Vec<String>,
    /// Next message sequence number.
    pub next_seq: u64,
    /// Where the chatbot is, when one leads (or led) the conversation.
    #[serde(default)]
    pub bot: Option<BotState>,
    /// When the chatbot handed the visitor over to an operator (ms), if it did.
    #[serde(default)]
    pub handover_at_ms: Option<u64>,
    /// Set when no operator was available: at the start (a chatbot took the visitor), or
    /// when a chatbot's forward found nobody.
    #[serde(default)]
    pub no_operator: bool,
    /// Someone (the visitor or an operator) wrote in it: it counts against its operators' cap
    /// and does not expire ([`super::expiry`]).
    #[serde(default)]
    pub written: bool,
    /// Leads and tickets a chatbot created in it.
    #[serde(default)]
    pub bot_records: u32,
    /// Closed by the clean-up after a day in which only the chatbot answered: kept in the
    /// history, not counted in reports ([`super::expiry`]).
    #[serde(default)]
    pub abandoned: bool,
    /// The visitor's address as a rate-limit key, in memory only (never stored).
    #[serde(skip)]
    pub address: Option<IpAddr>,
}

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
        }
    }
}

/// What a visitor's widget sends to start.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct StartInput {
    /// The page the visitor is on.
    pub page_url: String,
    /// The id the widget keeps for a returning visitor.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// Required expertises (widget or chatbot forward).
    #[serde(default)]
    pub expertise: Vec<String>,
}

/// What the request carried besides the body.
#[derive(Debug, Clone, Default)]
pub struct StartContext {
    /// From `Accept-Language`.
    pub language: Option<String>,
    /// From the country header or GeoIP.
    pub country: Option<String>,
    /// The visitor's address (for the rate limits), when known.
    pub address: Option<IpAddr>,
}

/// The answer to a visitor starting a chat.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StartAnswer {
    /// Whether a conversation was opened.
    pub available: bool,
    /// The matched rule's action ("show" when no rule matched).
    pub action: Action,
    /// Seconds before opening automatically.
    pub auto_open_after_s: Option<u32>,
    /// The matched rule.
    pub rule_id: Option<Uuid>,
    /// The channel's widget texts.
    pub button_text: String,
    /// Welcome message.
    pub welcome_message: String,
    /// Input placeholder.
    pub input_placeholder: String,
    /// Button colour.
    pub button_color: String,
    /// Header colour.
    pub header_color: String,
    /// The operator's chat name.
    pub operator: Option<String>,
    /// The chatbot that answers, if any.
    pub chatbot_id: Option<String>,
    /// The chatbot's avatar image, when a chatbot answers and has one.
    pub avatar: Option<String>,
    /// The session.
    pub session: Option<SessionView>,
    /// The token granting only this session.
    pub token: Option<String>,
}

/// The visitor's language from an `Accept-Language` header (its first tag).
pub fn language_from_header(value: &str) -> Option<String> {
    value
        .split(',')
        .next()
        .and_then(|t| t.split(';').next())
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "*")
        .map(str::to_string)
}

impl LiveChat {
    /// A visitor opens the chat on a page.
    pub async fn start_session(
        &self,
        channel_id: Uuid,
        input: StartInput,
        ctx: StartContext,
    ) -> Result<StartAnswer, LiveChatError> {
        let channel = self.channel(channel_id)?;
        if input.page_url.len() > 4096 {
            return Err(LiveChatError::BadInput("page_url is too long".into()));
        }
        if input
            .visitor_id
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > 200)
        {
            return Err(LiveChatError::BadInput(
                "visitor_id has 1 to 200 bytes".into(),
            ));
        }
        let now = self.now_ms();
        self.expire_unwritten()?;
        self.admit_visitor(ctx.address, input.visitor_id.as_deref(), now)?;
        self.room_for_session()?;
        let previous = self.previous_operator(input.visitor_id.as_deref(), now)?;
        let profiles = self.operator_profiles(&channel);
        let facts = super::routing::VisitorFacts {
            language: ctx.language.clone(),
            country: ctx.country.clone(),
            expertise: input.expertise.clone(),
            previous_operator: previous,
        };
        let token = format!("vs_{}", random_hex()?);
        let mut answer = StartAnswer {
            available: false,
            action: Action::Show,
            auto_open_after_s: None,
            rule_id: None,
            button_text: channel.button_text.clone(),
            welcome_message: channel.welcome_message.clone(),
            input_placeholder: channel.input_placeholder.clone(),
            button_color: channel.button_color.clone(),
            header_color: channel.header_color.clone(),
            operator: None,
            chatbot_id: None,
            avatar: None,
            session: None,
            token: None,
        };
        let (script, session) = {
            let mut state = self.state()?;
            let candidates = state.candidates(&profiles, channel_id, now);
            let chosen = super::routing::choose(
                &candidates,
                &facts,
                channel.max_sessions_per_operator,
                now,
                &mut super::random_below,
            );
            let rule = matching_rule(
                &channel.rules,
                &input.page_url,
                ctx.country.as_deref(),
                chosen.is_some(),
            );
            if let Some(rule) = rule {
                answer.action = rule.action;
                answer.auto_open_after_s = rule.auto_open_after_s;
                answer.rule_id = Some(rule.id);
                answer.chatbot_id = rule.chatbot_id.clone();
            }
            if answer.action == Action::Hide {
                return Ok(answer);
            }
            let script = self.script_named(answer.chatbot_id.as_deref())?;
            answer.chatbot_id = script.as_ref().map(|s| s.id.to_string());
            if chosen.is_none() && script.is_none() {
                return Err(LiveChatError::NoOperator);
            }
            // A chatbot leads the conversation; its forward step brings an operator in.
            let assigned = if script.is_some() { None } else { chosen };
            let id = Uuid::now_v7();
            let operators: Vec<Uuid> = assigned.into_iter().collect();
            let session = Session {
                id,
                channel_id,
                visitor_id: input.visitor_id.clone(),
                token_hash: token_hash(&token).to_vec(),
                language: ctx.language,
                country: ctx.country,
                page_url: input.page_url.clone(),
                operators: operators.clone(),
                all_operators: operators,
                chatbot_id: answer.chatbot_id.clone(),
                created_at_ms: now,
                last_activity_ms: now,
                closed_at_ms: None,
                pages: vec![input.page_url.clone()],
                next_seq: 0,
                handover_at_ms: None,
                no_operator: chosen.is_none(),
                bot: script.as_ref().map(|_| BotState::default()),
                written: false,
                bot_records: 0,
                abandoned: false,
                address: ctx.address.map(super::limits::address_key),
            };
            self.save_session(&session)?;
            if let Some(op) = assigned {
                self.remember_operator(input.visitor_id.as_deref(), op, now)?;
                state.presence.entry(op).or_default().last_assigned_ms = Some(now);
            }
            // The operator is only tentatively chosen: they hear of the session (and it
            // counts against their cap) once someone writes in it (see `expiry`).
            state.unwritten.insert((now, id));
            state.open.insert(id, session.clone());
            (script, session)
        };
        let view = SessionView::from(&session);
        if let Some(script) = &script {
            self.bot_start(session.id, script).await?;
        }
        self.flush().await?;
        answer.available = true;
        answer.avatar = script.as_ref().and_then(|s| s.avatar.clone());
        answer.operator = match &script {
            Some(s) => Some(s.operator_name.clone()),
            None => session
                .operators
                .first()
                .map(|op| self.accounts().chat_name(*op)),
        };
        answer.token = Some(format!("vs_{}_{}", id_text(session.id), &token[3..]));
        answer.session = Some(view);
        Ok(answer)
    }

    /// Applies the per-address and per-visitor-id limits on new sessions (429 when over).
    fn admit_visitor(
        &self,
        address: Option<IpAddr>,
        visitor_id: Option<&str>,
        now: u64,
    ) -> Result<(), LiveChatError> {
        let mut state = self.state()?;
        let limits = &mut state.limits;
        let address = address.map(super::limits::address_key);
        let by_address = address.map_or(Ok(()), |a| limits.sessions_by_address.check(&a, now));
        let by_visitor = visitor_id.map_or(Ok(()), |v| {
            limits.sessions_by_visitor.check(&v.to_string(), now)
        });
        if let Err(retry_after_s) = by_address.and(by_visitor) {
            return Err(LiveChatError::RateLimited {
                message: format!(
                    "too many new chat sessions from this visitor; try again in {retry_after_s} s"
                ),
                retry_after_s,
            });
        }
        if let Some(a) = address {
            limits.sessions_by_address.take(a, now);
        }
        if let Some(v) = visitor_id {
            limits.sessions_by_visitor.take(v.to_string(), now);
        }
        Ok(())
    }

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
fn id_text(id: Uuid) -> String {
    id.simple().to_string()
}

/// Open sessions by id, for [`State`](super::presence::State).
pub(crate) type OpenSessions = HashMap<Uuid, Session>;
