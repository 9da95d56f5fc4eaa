//! What the website widget needs besides sessions: the *check* a page makes before any
//! session exists (which rule applies, the channel's texts and colours, whether someone can
//! answer), and the typing indicator both ways.
//!
//! The check reuses [`matching_rule`] and the same routing and presence facts as
//! [`start_session`](LiveChat::start_session), so the button shows exactly when starting a
//! chat would succeed; it creates nothing and assigns nobody.

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::rules::{Action, matching_rule};
use super::sessions::StartContext;
use super::{LiveChat, LiveChatError, Who};
use crate::model::livechat_offline::OfflineMode;

/// What the widget sends to check a page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckInput {
    /// The page the visitor is on.
    pub page_url: String,
    /// The id the widget keeps for a returning visitor.
    #[serde(default)]
    pub visitor_id: Option<String>,
    /// The browser's languages, best first (`navigator.languages`); the `Accept-Language`
    /// header's first one when empty.
    #[serde(default)]
    pub languages: Vec<String>,
}

/// What the widget shows on a page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// Whether the chat is offered: the action is not `hide` and an operator or a chatbot
    /// can answer.
    pub available: bool,
    /// The matched rule's action ("show" when no rule matched).
    pub action: Action,
    /// Seconds before the chat opens by itself (action `auto_open`).
    pub auto_open_after_s: Option<u32>,
    /// The matched rule.
    pub rule_id: Option<Uuid>,
    /// The channel's name.
    pub channel_name: String,
    /// Button (and notification) text.
    pub button_text: String,
    /// First message shown in the chat window.
    pub welcome_message: String,
    /// Placeholder of the chat input.
    pub input_placeholder: String,
    /// Button colour (CSS).
    pub button_color: String,
    /// Header colour (CSS).
    pub header_color: String,
    /// An operator is available now.
    pub operator_available: bool,
    /// The rule's chatbot, if it would answer.
    pub chatbot_id: Option<String>,
    /// Set while the channel is offline (outside business hours, on a holiday, or nobody can
    /// answer and the channel goes offline then) and the page's rule does not hide the chat.
    pub offline: Option<OfflineView>,
    /// The language the widget speaks to this visitor.
    pub language: String,
    /// Every widget text in that language, by key (`livechat::widget_texts`).
    pub texts: std::collections::BTreeMap<String, String>,
}

/// What the widget needs while the channel is offline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OfflineView {
    /// `closed`, `holiday` or `no_operator`.
    pub reason: String,
    /// Show the offline form (name, email, message); false: show nothing.
    pub form: bool,
}

/// Longest page URL accepted (as for starting a session).
const MAX_URL: usize = 4096;

impl LiveChat {
    /// Which button a page gets, without starting a session.
    pub fn check_page(
        &self,
        channel_id: Uuid,
        input: &CheckInput,
        ctx: &StartContext,
    ) -> Result<CheckAnswer, LiveChatError> {
        let channel = self.channel(channel_id)?;
        if input.page_url.len() > MAX_URL {
            return Err(LiveChatError::BadInput("page_url is too long".into()));
        }
        super::session_start::check_visitor_id(input.visitor_id.as_deref())?;
        let now = self.now_ms();
        let profiles = channel
            .operators
            .iter()
            .filter_map(|op| self.accounts().user(*op).ok())
            .collect::<Vec<_>>();
        let facts = super::routing::VisitorFacts {
            language: ctx.language.clone(),
            country: ctx.country.clone(),
            expertise: Vec::new(),
            previous_operator: None,
        };
        let (operator_available, may_queue) = {
            let state = self.state()?;
            let candidates = state.candidates(&profiles, channel_id, now);
            let chosen = super::routing::choose(
                &candidates,
                &facts,
                channel.max_sessions_per_operator,
                now,
                &mut super::random_below,
            );
            (
                chosen.is_some() && state.queue.is_empty(channel_id),
                super::queue_flow::would_take(&state, &channel, &candidates),
            )
        };
        let rule = matching_rule(
            &channel.rules,
            &input.page_url,
            ctx.country.as_deref(),
            operator_available,
        );
        let action = rule.map(|r| r.action).unwrap_or_default();
        // Only a chatbot that exists can answer (as when a session starts).
        let script = self.script_named(rule.and_then(|r| r.chatbot_id.as_deref()))?;
        let chatbot_id = script.as_ref().map(|s| s.id.to_string());
        let can_answer = operator_available || chatbot_id.is_some() || may_queue;
        let offline = (action != Action::Hide)
            .then(|| super::offline::offline_reason(&channel, now, can_answer))
            .flatten()
            .map(|reason| OfflineView {
                reason: reason.into(),
                form: channel.offline.mode == OfflineMode::Form,
            });
        let language = self.visitor_language(&channel, &input.languages, ctx)?;
        let texts = super::widget_texts::resolved(&channel, &language);
        let text = |key: &str| texts.get(key).cloned().unwrap_or_default();
        Ok(CheckAnswer {
            available: action != Action::Hide && can_answer && offline.is_none(),
            action,
            auto_open_after_s: rule.and_then(|r| r.auto_open_after_s),
            rule_id: rule.map(|r| r.id),
            channel_name: channel.name,
            button_text: text("button"),
            welcome_message: text("welcome"),
            input_placeholder: text("placeholder"),
            button_color: channel.button_color,
            header_color: channel.header_color,
            operator_available,
            chatbot_id,
            offline,
            language,
            texts,
        })
    }

    /// The language to speak to the visitor: the browser's languages in order, else the
    /// `Accept-Language` header's first one, matched against the channel's texts.
    fn visitor_language(
        &self,
        channel: &super::channels::Channel,
        wanted: &[String],
        ctx: &StartContext,
    ) -> Result<String, LiveChatError> {
        if wanted.len() > 20 || wanted.iter().any(|l| l.len() > 35) {
            return Err(LiveChatError::BadInput(
                "languages has at most 20 tags of at most 35 bytes".into(),
            ));
        }
        let wanted: Vec<String> = if wanted.is_empty() {
            ctx.language.iter().cloned().collect()
        } else {
            wanted.to_vec()
        };
        Ok(super::widget_texts::choose_language(channel, &wanted))
    }

    /// The visitor or one of the session's operators starts or stops typing; the other side
    /// gets `{"type":"typing","session_id","author","name","typing"}` live.
    pub fn typing(&self, who: Who, id: Uuid, typing: bool) -> Result<(), LiveChatError> {
        let session = self.session_for(who, id)?;
        if session.closed_at_ms.is_some() {
            return Err(LiveChatError::Conflict("this session is closed".into()));
        }
        match who {
            Who::Visitor(_) => {
                let event = json!({"type": "typing", "session_id": id, "author": "visitor",
                    "name": "Visitor", "typing": typing});
                for op in &session.operators {
                    self.hub().to_operator(*op, &event);
                }
            }
            Who::Operator(op) if session.operators.contains(&op) => {
                self.touch(op)?;
                let event = json!({"type": "typing", "session_id": id, "author": "operator",
                    "author_id": op, "name": self.accounts().chat_name(op), "typing": typing});
                self.hub().to_session(id, &event);
                for other in session.operators.iter().filter(|o| **o != op) {
                    self.hub().to_operator(*other, &event);
                }
            }
            _ => {
                return Err(LiveChatError::Forbidden(
                    "only the visitor and the session's operators type in it".into(),
                ));
            }
        }
        Ok(())
    }
}
