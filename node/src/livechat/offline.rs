//! A channel that is offline: outside its business hours ([`super::hours`]), or, when the
//! channel says so, while nobody can answer. The widget's page check asks
//! [`offline_reason`]; a session cannot start outside business hours; and the offline form
//! (name, email, message) becomes a ticket or lead, stored and POSTed to the webhook like
//! the operators' `/ticket` and `/lead`.
//!
//! The form is an anonymous route: it is rate-limited per address
//! ([`super::limits::OFFLINE_PER_ADDRESS`]) and its input checked (a real email address,
//! bounded lengths) before anything is written. The widget sends its visitor id with the
//! form; the record keeps it so that an export or erase by visitor
//! (`reports::privacy`) reaches it. Used by `api::livechat_offline` and by
//! [`super::widget`] and [`super::session_start`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::channels::Channel;
use super::commands::{Kind, Record};
use super::limits::address_key;
use super::sessions::StartContext;
use super::{LiveChat, LiveChatError};
use crate::model::livechat_offline::{OfflineMode, OfflineRecord};

/// Longest name (characters).
pub const MAX_NAME: usize = 100;
/// Longest message (characters).
pub const MAX_MESSAGE: usize = 4000;
/// Longest page URL (bytes).
const MAX_URL: usize = 4096;

/// What the offline form sends.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OfflineInput {
    /// The visitor's name (1 to 100 characters).
    #[serde(default)]
    pub name: String,
    /// Where to answer (a valid email address).
    #[serde(default)]
    pub email: String,
    /// The message (1 to 4000 characters).
    #[serde(default)]
    pub message: String,
    /// The page the form was sent from.
    #[serde(default)]
    pub page_url: Option<String>,
    /// The widget's visitor id (1 to 200 bytes), kept on the record so that an export or
    /// erase by visitor finds it.
    #[serde(default)]
    pub visitor_id: Option<String>,
}

/// The answer to a sent form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OfflineReceipt {
    /// Always true: the message is stored.
    pub received: bool,
    /// "ticket" or "lead".
    pub kind: String,
}

/// Why the channel is offline now, if it is: `closed` (outside the weekly schedule),
/// `holiday`, or `no_operator` (nobody can answer and the channel goes offline then).
pub fn offline_reason(channel: &Channel, now_ms: u64, can_answer: bool) -> Option<&'static str> {
    if let Some(closed) = channel
        .hours
        .as_ref()
        .and_then(|h| super::hours::closed_at(h, now_ms))
    {
        return Some(closed.name());
    }
    (channel.offline.when_no_operator && !can_answer).then_some("no_operator")
}

fn trimmed(field: &str, text: &str, max: usize) -> Result<String, LiveChatError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(LiveChatError::BadInput(format!("{field} is required")));
    }
    if t.chars().count() > max {
        return Err(LiveChatError::BadInput(format!(
            "{field} has at most {max} characters"
        )));
    }
    Ok(t.to_string())
}

impl LiveChat {
    /// Refuses to start a session outside the channel's business hours.
    pub(crate) fn refuse_when_closed(&self, channel: &Channel) -> Result<(), LiveChatError> {
        match channel
            .hours
            .as_ref()
            .and_then(|h| super::hours::closed_at(h, self.now_ms()))
        {
            None => Ok(()),
            Some(why) => Err(LiveChatError::Conflict(format!(
                "the channel is {} now (outside its business hours); no chat can start",
                if why == super::hours::Closed::Holiday {
                    "closed for a holiday"
                } else {
                    "closed"
                }
            ))),
        }
    }

    /// A visitor leaves a message with the offline form: checked, rate-limited by address,
    /// stored as the channel's kind of record, and POSTed to the webhook.
    pub async fn leave_offline_message(
        &self,
        channel_id: Uuid,
        input: OfflineInput,
        ctx: &StartContext,
    ) -> Result<OfflineReceipt, LiveChatError> {
        let channel = self.channel(channel_id)?;
        if channel.offline.mode != OfflineMode::Form {
            return Err(LiveChatError::Conflict(
                "this channel has no offline form".into(),
            ));
        }
        let now = self.now_ms();
        let key = ctx.address.map(address_key);
        if let Some(a) = key
            && let Err(wait) = self.state()?.limits.offline_by_address.check(&a, now)
        {
            return Err(LiveChatError::RateLimited {
                message: "too many offline messages from this address; please try again later"
                    .into(),
                retry_after_s: wait,
            });
        }
        let name = trimmed("name", &input.name, MAX_NAME)?;
        let email = input.email.trim().to_string();
        if !super::chatbot::engine::valid_email(&email) {
            return Err(LiveChatError::BadInput(format!(
                "email {email:?} does not look like a valid email address"
            )));
        }
        let message = trimmed("message", &input.message, MAX_MESSAGE)?;
        let page = match input.page_url {
            Some(u) if u.len() > MAX_URL => {
                return Err(LiveChatError::BadInput("page_url is too long".into()));
            }
            Some(u) if !u.is_empty() => Some(u),
            _ => None,
        };
        super::session_start::check_visitor_id(input.visitor_id.as_deref())?;
        let visitor_id = input.visitor_id;
        if let Some(a) = key {
            self.state()?.limits.offline_by_address.take(a, now);
        }
        let kind = match channel.offline.record {
            OfflineRecord::Ticket => Kind::Ticket,
            OfflineRecord::Lead => Kind::Lead,
        };
        let mut transcript = format!("[{name} <{email}>] {message}");
        if let Some(p) = &page {
            transcript.push_str(&format!("\nSent with the offline form from {p}"));
        } else {
            transcript.push_str("\nSent with the offline form");
        }
        let title: String = format!("Offline message from {name}: {message}")
            .chars()
            .take(100)
            .collect();
        let record = Record {
            number: self.repo().next_record_number(kind)?,
            kind: kind.name().into(),
            title,
            // No conversation took place: the record's own id stands in for one.
            session_id: Uuid::now_v7(),
            channel_id,
            transcript,
            email: Some(email),
            phone: None,
            created_by: None,
            created_by_bot: None,
            created_at_ms: now,
            visitor_id,
        };
        let record = self.keep_record(kind, record).await?;
        Ok(OfflineReceipt {
            received: true,
            kind: record.kind,
        })
    }
}
