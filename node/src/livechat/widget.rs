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

/// What the widget sends to check a page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckInput {
    /// The page the visitor is on.
    pub page_url: String,
    /// The id the widget keeps for a returning visitor.
    #[serde(default)]
    pub visitor_id: Option<String>,
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
        Ok(CheckAnswer {
            available: action != Action::Hide
                && (operator_available || chatbot_id.is_some() || may_queue),
            action,
            auto_open_after_s: rule.and_then(|r| r.auto_open_after_s),
            rule_id: rule.map(|r| r.id),
            channel_name: channel.name,
            button_text: channel.button_text,
            welcome_message: channel.welcome_message,
            input_placeholder: channel.input_placeholder,
            button_color: channel.button_color,
            header_color: channel.header_color,
            operator_available,
            chatbot_id,
        })
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
