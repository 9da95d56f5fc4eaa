//! The chatbot inside a live session: the [`engine`](super::engine) decides, this carries out
//! its effects — bot messages (with answer buttons) through the normal message path, a forward
//! through the live chat's routing (limited to the step's expertise; the visitor waits in the
//! channel's line when every present operator is busy), leads and tickets through
//! the same store and webhook as the operators' `/lead` and `/ticket`.
//!
//! The engine runs under the live chat's state lock, so two messages of one visitor are taken
//! one after the other; the effects run after the lock is released.

use std::collections::VecDeque;

use serde_json::json;
use uuid::Uuid;

use super::engine::{self, BotState, Create, Effect};
use super::script::Script;
use super::simulator::record_title;
use crate::livechat::commands::{Kind, RecordDraft};
use crate::livechat::limits::BOT_RECORDS_PER_SESSION;
use crate::livechat::messages::NewMessage;
use crate::livechat::queue_flow::{enqueue_open, would_take};
use crate::livechat::routing::{VisitorFacts, choose};
use crate::livechat::sessions::SessionView;
use crate::livechat::{LiveChat, LiveChatError, random_below};

/// Where a chatbot's forward took the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BotForward {
    /// This operator joins.
    Operator(Uuid),
    /// Every present operator is busy: the visitor waits in this channel's line.
    Queued(Uuid),
    /// Nobody can take them, not even later: the script goes on.
    Nobody,
}

impl LiveChat {
    /// A rule's chatbot takes a new session: it says its welcome steps.
    pub(crate) async fn bot_start(&self, id: Uuid, script: &Script) -> Result<(), LiveChatError> {
        let (state, effects) = engine::start(script);
        self.with_bot(id, |bot| *bot = state)?;
        self.run_effects(id, script, effects).await
    }

    /// The visitor wrote in a session: while its chatbot leads, the bot answers.
    pub(crate) async fn bot_hears(
        &self,
        id: Uuid,
        text: &str,
        answer_id: Option<&str>,
    ) -> Result<(), LiveChatError> {
        let Some(session) = self.load_session(id)? else {
            return Ok(());
        };
        let leads = session.bot.as_ref().is_some_and(BotState::active);
        if !leads || !session.operators.is_empty() {
            return Ok(());
        }
        let Some(script) = self.script_named(session.chatbot_id.as_deref())? else {
            return Ok(()); // the script was deleted: nobody answers until an operator joins
        };
        let effects = self
            .with_bot(id, |bot| engine::input(&script, bot, text, answer_id))?
            .unwrap_or_default();
        self.run_effects(id, &script, effects).await
    }

    /// Changes the bot state of an open session and stores it; None when it has no bot.
    fn with_bot<T>(
        &self,
        id: Uuid,
        change: impl FnOnce(&mut BotState) -> T,
    ) -> Result<Option<T>, LiveChatError> {
        let mut state = self.state()?;
        let Some(session) = state.open.get_mut(&id) else {
            return Ok(None);
        };
        let Some(bot) = session.bot.as_mut() else {
            return Ok(None);
        };
        let out = change(bot);
        self.save_session(&*session)?;
        Ok(Some(out))
    }

    async fn run_effects(
        &self,
        id: Uuid,
        script: &Script,
        effects: Vec<Effect>,
    ) -> Result<(), LiveChatError> {
        // An operator's arrival is announced after the bot's hand-over words.
        enum Work {
            Do(Effect),
            Announce(Uuid),
            Queued(Uuid),
        }
        let mut queue: VecDeque<Work> = effects.into_iter().map(Work::Do).collect();
        while let Some(work) = queue.pop_front() {
            match work {
                Work::Announce(op) => self.announce_operator(id, op)?,
                Work::Do(Effect::Say { text, answers }) => {
                    self.append_message(
                        id,
                        NewMessage {
                            author: "bot",
                            author_id: None,
                            author_name: script.operator_name.clone(),
                            text,
                            only_for: None,
                            answers,
                            file: None,
                        },
                    )?;
                }
                Work::Do(Effect::Forward { expertise }) => {
                    let forward = self.bot_forward(id, &expertise)?;
                    // Waiting in line is a hand-over too: the bot says its words and stops.
                    let handed = forward != BotForward::Nobody;
                    let more = self
                        .with_bot(id, |bot| engine::forwarded(script, bot, handed))?
                        .unwrap_or_default();
                    let mut next: VecDeque<Work> = more.into_iter().map(Work::Do).collect();
                    match forward {
                        BotForward::Operator(op) => next.push_back(Work::Announce(op)),
                        BotForward::Queued(channel) => next.push_back(Work::Queued(channel)),
                        BotForward::Nobody => {}
                    }
                    next.append(&mut queue);
                    queue = next;
                }
                Work::Queued(channel) => self.publish_queue(channel)?,
                Work::Do(Effect::Create(kind)) => self.bot_record(id, script, kind).await?,
            }
        }
        Ok(())
    }

    /// Routes the session to an operator of its channel with the step's expertise; the chosen
    /// operator joins (the bot then leaves). As at the start of a chat, nobody overtakes the
    /// visitors waiting in line, and when every present operator is busy the visitor waits in
    /// the channel's line (when it has one with room). Nobody: no one is present, or the line
    /// is off or full — the script goes on.
    fn bot_forward(&self, id: Uuid, expertise: &[String]) -> Result<BotForward, LiveChatError> {
        let Some(session) = self.load_session(id)? else {
            return Ok(BotForward::Nobody);
        };
        let channel = self.channel(session.channel_id)?;
        let now = self.now_ms();
        let facts = VisitorFacts {
            language: session.language.clone(),
            country: session.country.clone(),
            expertise: expertise.to_vec(),
            previous_operator: self.previous_operator(session.visitor_id.as_deref(), now)?,
        };
        let profiles = self.operator_profiles(&channel);
        let mut state = self.state()?;
        let candidates = state.candidates(&profiles, channel.id, now);
        let chosen = if state.queue.is_empty(channel.id) {
            choose(
                &candidates,
                &facts,
                channel.max_sessions_per_operator,
                now,
                &mut random_below,
            )
        } else {
            None
        };
        let may_queue = chosen.is_none() && would_take(&state, &channel, &candidates);
        let Some(open) = state.open.get_mut(&id) else {
            return Ok(BotForward::Nobody);
        };
        match chosen {
            Some(op) => {
                open.operators = vec![op];
                if !open.all_operators.contains(&op) {
                    open.all_operators.push(op);
                }
                open.handover_at_ms = Some(now);
            }
            None => open.no_operator = true,
        }
        self.save_session(&*open)?;
        let visitor = open.visitor_id.clone();
        if let Some(op) = chosen {
            state.assigned(self.repo(), op, now)?;
            drop(state);
            self.remember_operator(visitor.as_deref(), op, now)?;
            return Ok(BotForward::Operator(op));
        }
        if may_queue && enqueue_open(&mut state, id, expertise, now) {
            if let Some(open) = state.open.get(&id) {
                self.save_session(open)?;
            }
            return Ok(BotForward::Queued(channel.id));
        }
        Ok(BotForward::Nobody)
    }

    /// Counts one more chatbot lead or ticket for the session and its visitor's address;
    /// false when either is over its limit ([`crate::livechat::limits`]).
    fn bot_may_create(&self, id: Uuid) -> Result<bool, LiveChatError> {
        let now = self.now_ms();
        let mut state = self.state()?;
        let Some((count, address)) = state.open.get(&id).map(|s| (s.bot_records, s.address)) else {
            return Ok(false);
        };
        if count >= BOT_RECORDS_PER_SESSION {
            return Ok(false);
        }
        if let Some(a) = address
            && state.limits.records_by_address.hit(a, now).is_err()
        {
            return Ok(false);
        }
        if let Some(open) = state.open.get_mut(&id) {
            open.bot_records += 1;
            self.save_session(&*open)?;
        }
        Ok(true)
    }

    /// Tells the operator about their new session and the visitor who joined.
    pub(crate) fn announce_operator(&self, id: Uuid, op: Uuid) -> Result<(), LiveChatError> {
        let name = self.accounts().chat_name(op);
        if let Some(session) = self.load_session(id)? {
            let view = SessionView::from(&session);
            self.hub()
                .to_operator(op, &json!({"type": "new_session", "session": view}));
        }
        self.hub().to_session(
            id,
            &json!({"type": "operator_joined", "session_id": id,
                    "operator": {"id": op, "name": name}}),
        );
        self.append(
            id,
            "system",
            None,
            "System".into(),
            format!("{name} joined the conversation"),
            None,
        )?;
        Ok(())
    }

    async fn bot_record(
        &self,
        id: Uuid,
        script: &Script,
        kind: Create,
    ) -> Result<(), LiveChatError> {
        let Some(session) = self.load_session(id)? else {
            return Ok(());
        };
        if !self.bot_may_create(id)? {
            // Nothing is said: the visitor (maybe a script restarting the bot in a loop)
            // learns nothing, and neither the store nor the webhook gets another record.
            tracing::warn!(session = %id, "chatbot record refused: over the per-session or per-address limit");
            return Ok(());
        }
        let bot = session.bot.clone().unwrap_or_default();
        let draft = RecordDraft {
            title: record_title(script, &bot, kind),
            email: bot.email.clone(),
            phone: bot.phone.clone(),
            created_by: None,
            created_by_bot: Some(script.id),
        };
        let kind = match kind {
            Create::Lead => Kind::Lead,
            Create::Ticket => Kind::Ticket,
        };
        self.store_record(&session, kind, draft).await?;
        Ok(())
    }
}
