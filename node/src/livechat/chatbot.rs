//! # Chatbots
//!
//! Scripted dialogues that greet a channel's visitors, ask questions, collect an email or a
//! phone, hand over to an operator, and create leads and tickets.
//!
//! - [`script`] — the script as written (steps, answers, Only If) and its validation.
//! - [`engine`] — the pure runtime: start, visitor input, forward outcome → effects.
//! - [`checker`] — dead ends, steps that never run, Only If answers pointing forward.
//! - [`simulator`] — the "Test" button: a transcript for a list of inputs, nothing stored.
//! - [`runtime`] — the engine inside a live session: messages, routing, leads and tickets.
//!
//! This file holds the scripts' storage and their admin API (create, list, show, replace,
//! delete, test). Who talks to whom: `api::livechat_chatbots` → here → its repository (`store::livechat`, table
//! `lc_chatbots`; `sessions`/`messages` call [`runtime`] when a rule's chatbot answers.

pub mod checker;
pub mod engine;
pub mod runtime;
pub mod script;
pub mod simulator;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use checker::{Warning, check};
use script::{Script, ScriptInput};
use simulator::{SimInput, SimResult, simulate};

use super::channels::Channel;
use super::{LiveChat, LiveChatError, Who};

/// A script as the API shows it: the script and what the checker found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatbotView {
    /// The script.
    #[serde(flatten)]
    pub script: Script,
    /// Dead ends, unreachable steps, Only If answers pointing forward (the script is saved anyway).
    pub warnings: Vec<Warning>,
}

impl From<Script> for ChatbotView {
    fn from(script: Script) -> Self {
        ChatbotView {
            warnings: check(&script),
            script,
        }
    }
}

impl LiveChat {
    /// Creates a script (admin only).
    pub async fn create_chatbot(
        &self,
        who: Who,
        input: ScriptInput,
    ) -> Result<ChatbotView, LiveChatError> {
        who.admin()?;
        let script = Script::from_input(Uuid::now_v7(), input)?;
        self.save_script(&script).await?;
        Ok(script.into())
    }

    /// Replaces a script (admin only); running conversations keep their place by step index.
    pub async fn update_chatbot(
        &self,
        who: Who,
        id: Uuid,
        input: ScriptInput,
    ) -> Result<ChatbotView, LiveChatError> {
        who.admin()?;
        self.stored_script(id)?;
        let script = Script::from_input(id, input)?;
        self.save_script(&script).await?;
        Ok(script.into())
    }

    /// Every script (staff).
    pub fn chatbots(&self, who: Who) -> Result<Vec<ChatbotView>, LiveChatError> {
        who.staff()?;
        let scripts: Vec<Script> = self.repo().chatbots()?;
        Ok(scripts.into_iter().map(ChatbotView::from).collect())
    }

    /// One script (staff).
    pub fn chatbot(&self, who: Who, id: Uuid) -> Result<ChatbotView, LiveChatError> {
        who.staff()?;
        Ok(self.stored_script(id)?.into())
    }

    /// Deletes a script (admin only); refused while a channel rule names it.
    pub async fn delete_chatbot(&self, who: Who, id: Uuid) -> Result<(), LiveChatError> {
        who.admin()?;
        self.stored_script(id)?;
        let wanted = id.to_string();
        let channels: Vec<Channel> = self.repo().channels()?;
        for channel in channels {
            if channel
                .rules
                .iter()
                .any(|r| r.chatbot_id.as_deref() == Some(wanted.as_str()))
            {
                return Err(LiveChatError::Conflict(format!(
                    "chatbot {id} is used by a rule of channel {:?}; change that rule first",
                    channel.name
                )));
            }
        }
        self.repo().remove_chatbot(id)?;
        self.flush().await
    }

    /// Runs a script against visitor inputs without storing anything (staff).
    pub fn test_chatbot(
        &self,
        who: Who,
        id: Uuid,
        input: &SimInput,
    ) -> Result<SimResult, LiveChatError> {
        who.staff()?;
        simulate(&self.stored_script(id)?, input)
    }

    /// Refuses a rule that names a chatbot that does not exist.
    pub(crate) fn check_rule_chatbot(&self, chatbot_id: Option<&str>) -> Result<(), LiveChatError> {
        if let Some(text) = chatbot_id {
            let id = Uuid::parse_str(text).map_err(|_| {
                LiveChatError::BadInput(format!("chatbot_id {text:?} is not a chatbot id"))
            })?;
            self.stored_script(id)
                .map_err(|_| LiveChatError::BadInput(format!("no chatbot {id}")))?;
        }
        Ok(())
    }

    /// The script named by a rule, if it exists.
    pub(crate) fn script_named(
        &self,
        chatbot_id: Option<&str>,
    ) -> Result<Option<Script>, LiveChatError> {
        let Some(id) = chatbot_id.and_then(|t| Uuid::parse_str(t).ok()) else {
            return Ok(None);
        };
        Ok(self.repo().chatbot(id)?)
    }

    fn stored_script(&self, id: Uuid) -> Result<Script, LiveChatError> {
        self.repo()
            .chatbot(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no chatbot {id}")))
    }

    async fn save_script(&self, script: &Script) -> Result<(), LiveChatError> {
        self.repo().put_chatbot(script)?;
        self.flush().await
    }
}
