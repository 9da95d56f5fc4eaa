//! A visitor starting a chat, in named steps: the request is checked, the visitor admitted
//! (rate limits, room for one more session), the operator chosen and the channel's rule
//! matched, the session opened under the presence lock, then the chatbot started and the whole
//! made durable before the answer. The types the widget sends and receives live here too.
//!
//! Used by the API's `POST /api/v1/livechat/channels/{id}/sessions` handler; the session
//! itself, its token and its listing are in [`sessions`](super::sessions).

use std::net::IpAddr;
use std::sync::MutexGuard;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::channels::Channel;
use super::chatbot::engine::BotState;
use super::chatbot::script::Script;
use super::presence::State;
use super::routing::VisitorFacts;
use super::rules::{Action, Rule, matching_rule};
use super::sessions::{Session, SessionView, id_text};
use super::{LiveChat, LiveChatError, random_hex, token_hash};

/// Longest page URL a visitor may send (bytes).
const MAX_PAGE_URL: usize = 4096;
/// Longest visitor id (bytes).
const MAX_VISITOR_ID: usize = 200;

/// A widget's visitor id, when it sends one, has 1 to [`MAX_VISITOR_ID`] bytes (a session's
/// start, the widget's check, the offline form).
pub(crate) fn check_visitor_id(visitor_id: Option<&str>) -> Result<(), LiveChatError> {
    if visitor_id.is_some_and(|v| v.is_empty() || v.len() > MAX_VISITOR_ID) {
        return Err(LiveChatError::BadInput(format!(
            "visitor_id has 1 to {MAX_VISITOR_ID} bytes"
        )));
    }
    Ok(())
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
    /// The identity the website signed for its logged-in visitor, if any
    /// ([`super::identity`]); verified or kept as an unverified claim.
    #[serde(default)]
    pub identity: Option<super::identity::IdentityClaim>,
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
    /// Every operator was busy: the visitor waits in line (their place and estimated wait;
    /// live updates come on the session's socket as `queue` events).
    pub queue: Option<super::queue::QueuePlace>,
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

/// A start request that passed its checks, with the time it is handled at.
struct Visit {
    channel_id: Uuid,
    channel: Channel,
    input: StartInput,
    ctx: StartContext,
    now: u64,
    /// The visitor's new token (`vs_` and random hex).
    token: String,
    /// The visitor's identity claim, checked ([`super::identity`]).
    identity: Option<super::identity::VisitorIdentity>,
}

/// What opening a session under the lock decided.
struct Opened {
    session: Session,
    script: Option<Script>,
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
        check_input(&input)?;
        self.refuse_when_closed(&channel)?;
        let now = self.now_ms();
        let identity = self.verify_identity(channel_id, input.identity.as_ref(), now)?;
        self.admit(&ctx, input.visitor_id.as_deref(), now)?;
        let facts = self.visitor_facts(&input, &ctx, now)?;
        let profiles = self.operator_profiles(&channel);
        let visit = Visit {
            channel_id,
            token: format!("vs_{}", random_hex()?),
            channel,
            input,
            ctx,
            now,
            identity,
        };
        let mut answer = StartAnswer::for_channel(&visit.channel);
        let opened = {
            let mut state = self.state()?;
            let candidates = state.candidates(&profiles, channel_id, now);
            // Nobody overtakes the visitors already waiting in line.
            let chosen = if state.queue.is_empty(channel_id) {
                super::routing::choose(
                    &candidates,
                    &facts,
                    visit.channel.max_sessions_per_operator,
                    now,
                    &mut super::random_below,
                )
            } else {
                None
            };
            let may_queue = super::queue_flow::would_take(&state, &visit.channel, &candidates);
            answer.follow(matching_rule(
                &visit.channel.rules,
                &visit.input.page_url,
                visit.ctx.country.as_deref(),
                chosen.is_some(),
            ));
            if answer.action == Action::Hide {
                return Ok(answer);
            }
            self.open(&mut state, &visit, (chosen, may_queue), &mut answer)?
        };
        self.opened(visit, opened, answer).await
    }

    /// Clears sessions nobody wrote in, then applies the per-visitor limits and the cap on
    /// open sessions.
    fn admit(
        &self,
        ctx: &StartContext,
        visitor_id: Option<&str>,
        now: u64,
    ) -> Result<(), LiveChatError> {
        self.expire_unwritten()?;
        self.admit_visitor(ctx.address, visitor_id, now)?;
        self.room_for_session()
    }

    /// What routing knows of the visitor, with the operator they had last time.
    fn visitor_facts(
        &self,
        input: &StartInput,
        ctx: &StartContext,
        now: u64,
    ) -> Result<VisitorFacts, LiveChatError> {
        let previous = self.previous_operator(input.visitor_id.as_deref(), now)?;
        Ok(VisitorFacts {
            language: ctx.language.clone(),
            country: ctx.country.clone(),
            expertise: input.expertise.clone(),
            previous_operator: previous,
        })
    }

    /// Under the presence lock: the rule's chatbot or the chosen operator takes the visitor,
    /// the session is written, and the operator is tentatively assigned.
    fn open(
        &self,
        state: &mut MutexGuard<'_, State>,
        visit: &Visit,
        (chosen, may_queue): (Option<Uuid>, bool),
        answer: &mut StartAnswer,
    ) -> Result<Opened, LiveChatError> {
        let script = self.script_named(answer.chatbot_id.as_deref())?;
        answer.chatbot_id = script.as_ref().map(|s| s.id.to_string());
        if chosen.is_none() && script.is_none() && !may_queue {
            return Err(LiveChatError::NoOperator);
        }
        // A chatbot leads the conversation; its forward step brings an operator in.
        let assigned = if script.is_some() { None } else { chosen };
        let mut session = new_session(visit, assigned, chosen.is_none(), answer, script.is_some());
        if chosen.is_none() && script.is_none() {
            // Everyone is busy: the visitor waits in line (see `queue_flow`).
            super::queue_flow::enqueue(
                &mut state.queue,
                &mut session,
                &visit.input.expertise,
                visit.now,
            );
        }
        self.save_session(&session)?;
        let now = visit.now;
        if let Some(op) = assigned {
            self.remember_operator(visit.input.visitor_id.as_deref(), op, now)?;
            state.assigned(self.repo(), op, now)?;
        }
        // The operator is only tentatively chosen: they hear of the session (and it
        // counts against their cap) once someone writes in it (see `expiry`).
        state.unwritten.insert((now, session.id));
        state.open.insert(session.id, session.clone());
        Ok(Opened { session, script })
    }

    /// After the lock: starts the chatbot, makes everything durable and fills the answer.
    async fn opened(
        &self,
        visit: Visit,
        opened: Opened,
        mut answer: StartAnswer,
    ) -> Result<StartAnswer, LiveChatError> {
        let Opened { session, script } = opened;
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
        let token = &visit.token;
        answer.token = Some(format!("vs_{}_{}", id_text(session.id), &token[3..]));
        answer.session = Some(view);
        if session.queue.is_some() {
            answer.queue = self.new_place(&session)?;
            self.publish_queue(session.channel_id)?;
        }
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
}

/// The page URL and visitor id have sane lengths.
fn check_input(input: &StartInput) -> Result<(), LiveChatError> {
    if input.page_url.len() > MAX_PAGE_URL {
        return Err(LiveChatError::BadInput("page_url is too long".into()));
    }
    check_visitor_id(input.visitor_id.as_deref())
}

/// The new session's record.
fn new_session(
    visit: &Visit,
    assigned: Option<Uuid>,
    no_operator: bool,
    answer: &StartAnswer,
    with_bot: bool,
) -> Session {
    let operators: Vec<Uuid> = assigned.into_iter().collect();
    let now = visit.now;
    Session {
        id: Uuid::now_v7(),
        channel_id: visit.channel_id,
        visitor_id: visit.input.visitor_id.clone(),
        token_hash: token_hash(&visit.token).to_vec(),
        language: visit.ctx.language.clone(),
        country: visit.ctx.country.clone(),
        page_url: visit.input.page_url.clone(),
        operators: operators.clone(),
        all_operators: operators,
        chatbot_id: answer.chatbot_id.clone(),
        created_at_ms: now,
        last_activity_ms: now,
        closed_at_ms: None,
        pages: vec![visit.input.page_url.clone()],
        next_seq: 0,
        handover_at_ms: None,
        no_operator,
        bot: with_bot.then(BotState::default),
        written: false,
        bot_records: 0,
        abandoned: false,
        address: visit.ctx.address.map(super::limits::address_key),
        queue: None,
        identity: visit.identity.clone(),
        page_times: vec![now],
    }
}

impl StartAnswer {
    /// The answer before routing: the channel's widget texts, no conversation.
    fn for_channel(channel: &Channel) -> Self {
        StartAnswer {
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
            queue: None,
        }
    }

    /// Takes the matched rule's action, auto-open delay and chatbot ("show" when none).
    fn follow(&mut self, rule: Option<&Rule>) {
        if let Some(rule) = rule {
            self.action = rule.action;
            self.auto_open_after_s = rule.auto_open_after_s;
            self.rule_id = Some(rule.id);
            self.chatbot_id = rule.chatbot_id.clone();
        }
    }
}
