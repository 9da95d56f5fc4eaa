//! Live chat channels: name, operators, the widget's texts and colours, the per-operator
//! session cap, whether its ratings are published, and its rules. The admin manages channels
//! and rules; operators read only the channels they are in, and join by themselves only where
//! the admin listed them or allowed self-join (`self_join`, off by default).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rules::Rule;
use super::{LiveChat, LiveChatError, Who, text};
use crate::model::livechat_offline::{OfflineMode, OfflineRecord, OfflineSettings, WidgetTexts};

const MAX_TEXT: usize = 2000;

pub use crate::model::livechat::Channel;

impl Channel {
    /// Whether `op` may join this channel by themselves.
    pub fn may_join(&self, op: Uuid) -> bool {
        self.self_join || self.allowed.contains(&op) || self.operators.contains(&op)
    }
}

/// Body to create or change a channel; absent fields keep their value (or the default).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ChannelInput {
    /// Name.
    pub name: Option<String>,
    /// Operators.
    pub operators: Option<Vec<Uuid>>,
    /// Button text.
    pub button_text: Option<String>,
    /// Welcome message.
    pub welcome_message: Option<String>,
    /// Input placeholder.
    pub input_placeholder: Option<String>,
    /// Button colour.
    pub button_color: Option<String>,
    /// Header colour.
    pub header_color: Option<String>,
    /// Session cap per operator (0 or null: no cap).
    pub max_sessions_per_operator: Option<u32>,
    /// Ratings published.
    pub published: Option<bool>,
    /// Any operator may join by themselves (default false).
    pub self_join: Option<bool>,
    /// Operators who may join by themselves (the listed `operators` always may). Setting
    /// `operators` without `allowed` makes the allowed list those operators.
    pub allowed: Option<Vec<Uuid>>,
    /// Visitors who may wait in line when every operator is busy (0: no queue; 20 when
    /// never set).
    pub queue_limit: Option<u32>,
    /// Business hours (`null`: always open again).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<super::hours::HoursInput>)]
    pub hours: Option<Option<super::hours::HoursInput>>,
    /// What the widget does while offline (absent fields keep their value).
    pub offline: Option<OfflineChange>,
    /// The language of the channel's own texts and the widget's fallback (e.g. "en").
    pub default_language: Option<String>,
    /// The channel's widget texts, language → key → text; replaces all of them (`{}` removes
    /// them). Keys: `GET /api/v1/livechat/widget-texts`.
    #[schema(value_type = Option<Object>)]
    pub texts: Option<WidgetTexts>,
}

/// A change of a channel's offline behaviour; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OfflineChange {
    /// `hide` or `form`.
    pub mode: Option<OfflineMode>,
    /// Also offline when nobody can answer.
    pub when_no_operator: Option<bool>,
    /// `ticket` or `lead`.
    pub record: Option<OfflineRecord>,
}

/// A field that may be set to `null` (`Some(None)`), unlike an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A line of the channel list: enough to find and join a channel.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelListItem {
    /// Channel id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Whether the caller is one of its operators.
    pub joined: bool,
    /// How many operators it has.
    pub operators: usize,
    /// Whether the caller may join it (always false for the admin token).
    pub can_join: bool,
    /// Happy ratings as a percentage over the last 14 days (for the admin and the channel's
    /// operators; `None` without ratings or for others).
    pub satisfaction: Option<u32>,
}

fn optional_text(field: &str, v: Option<String>, into: &mut String) -> Result<(), LiveChatError> {
    if let Some(v) = v {
        if v.len() > MAX_TEXT {
            return Err(LiveChatError::BadInput(format!(
                "{field} has at most {MAX_TEXT} bytes"
            )));
        }
        *into = v;
    }
    Ok(())
}

impl LiveChat {
    fn save_channel(&self, c: &Channel) -> Result<(), LiveChatError> {
        Ok(self.repo().put_channel(c)?)
    }

    /// A channel, without access checks.
    pub fn channel(&self, id: Uuid) -> Result<Channel, LiveChatError> {
        self.repo()
            .channel(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no channel {id}")))
    }

    /// A channel the caller may read: the admin, or one of its operators.
    pub fn channel_for(&self, who: Who, id: Uuid) -> Result<Channel, LiveChatError> {
        let channel = self.channel(id)?;
        match who {
            Who::Admin => Ok(channel),
            Who::Operator(op) if channel.operators.contains(&op) => Ok(channel),
            Who::Operator(_) => Err(LiveChatError::Forbidden(
                "you are not an operator of this channel".into(),
            )),
            Who::Visitor(_) => Err(LiveChatError::Forbidden(
                "a visitor token grants only its own session".into(),
            )),
        }
    }

    /// Every channel, as list lines.
    pub fn channel_list(&self, who: Who) -> Result<Vec<ChannelListItem>, LiveChatError> {
        who.staff()?;
        let channels: Vec<Channel> = self.repo().channels()?;
        let days = super::satisfaction::DEFAULT_DAYS;
        let since = self.window_start(days);
        let mut ratings = self.ratings_by_channel()?;
        Ok(channels
            .into_iter()
            .map(|c| {
                let joined = who.operator().is_some_and(|op| c.operators.contains(&op));
                let satisfaction = (who == Who::Admin || joined)
                    .then(|| ratings.remove(&c.id).unwrap_or_default())
                    .and_then(|r| {
                        super::satisfaction::of((c.id, &c.name), days, since, &r).percent
                    });
                ChannelListItem {
                    can_join: who.operator().is_some_and(|op| c.may_join(op)),
                    id: c.id,
                    name: c.name,
                    joined,
                    operators: c.operators.len(),
                    satisfaction,
                }
            })
            .collect())
    }

    /// Creates a channel (admin only).
    pub async fn create_channel(
        &self,
        who: Who,
        input: ChannelInput,
    ) -> Result<Channel, LiveChatError> {
        who.admin()?;
        let mut channel = Channel {
            id: Uuid::now_v7(),
            name: String::new(),
            operators: Vec::new(),
            button_text: "Have a question? Chat with us.".into(),
            welcome_message: "How may I help you?".into(),
            input_placeholder: "Say something...".into(),
            button_color: "#875A7B".into(),
            header_color: "#875A7B".into(),
            max_sessions_per_operator: None,
            published: false,
            rules: Vec::new(),
            created_at_ms: self.now_ms(),
            self_join: false,
            allowed: Vec::new(),
            queue_limit: crate::model::livechat_queue::DEFAULT_QUEUE_LIMIT,
            hours: None,
            offline: OfflineSettings::default(),
            default_language: String::new(),
            texts: WidgetTexts::new(),
            files: Default::default(),
        };
        if input.name.is_none() {
            return Err(LiveChatError::BadInput("a channel needs a name".into()));
        }
        self.apply_channel(&mut channel, input)?;
        self.save_channel(&channel)?;
        self.flush().await?;
        Ok(channel)
    }

    /// Changes a channel (admin only).
    pub async fn update_channel(
        &self,
        who: Who,
        id: Uuid,
        input: ChannelInput,
    ) -> Result<Channel, LiveChatError> {
        who.admin()?;
        let mut channel = self.channel(id)?;
        self.apply_channel(&mut channel, input)?;
        self.save_channel(&channel)?;
        self.flush().await?;
        // A higher cap or more operators may take visitors waiting in line.
        self.queue_moves(id, false).await;
        Ok(channel)
    }

    fn apply_channel(&self, c: &mut Channel, input: ChannelInput) -> Result<(), LiveChatError> {
        if let Some(name) = input.name {
            c.name = text("name", &name, 200)?;
        }
        if let Some(ops) = input.operators {
            for op in &ops {
                self.accounts().user(*op)?;
            }
            c.operators = ops;
            c.operators.dedup();
            if input.allowed.is_none() {
                c.allowed = c.operators.clone();
            }
        }
        if let Some(allowed) = input.allowed {
            for op in &allowed {
                self.accounts().user(*op)?;
            }
            c.allowed = allowed;
            c.allowed.extend(c.operators.iter().copied());
            c.allowed.sort();
            c.allowed.dedup();
        }
        if let Some(s) = input.self_join {
            c.self_join = s;
        }
        optional_text("button_text", input.button_text, &mut c.button_text)?;
        optional_text(
            "welcome_message",
            input.welcome_message,
            &mut c.welcome_message,
        )?;
        optional_text(
            "input_placeholder",
            input.input_placeholder,
            &mut c.input_placeholder,
        )?;
        optional_text("button_color", input.button_color, &mut c.button_color)?;
        optional_text("header_color", input.header_color, &mut c.header_color)?;
        if let Some(cap) = input.max_sessions_per_operator {
            c.max_sessions_per_operator = (cap > 0).then_some(cap);
        }
        if let Some(p) = input.published {
            c.published = p;
        }
        if let Some(limit) = input.queue_limit {
            c.queue_limit = super::queue::checked_limit(limit)?;
        }
        if let Some(hours) = input.hours {
            c.hours = hours.map(super::hours::HoursInput::checked).transpose()?;
        }
        if let Some(o) = input.offline {
            c.offline.mode = o.mode.unwrap_or(c.offline.mode);
            c.offline.when_no_operator = o.when_no_operator.unwrap_or(c.offline.when_no_operator);
            c.offline.record = o.record.unwrap_or(c.offline.record);
        }
        if let Some(lang) = input.default_language {
            c.default_language = super::widget_texts::language_code(&lang)?;
        }
        if let Some(texts) = input.texts {
            c.texts = super::widget_texts::validated(texts)?;
        }
        Ok(())
    }

    /// Deletes a channel (admin only); its sessions stay readable by the admin.
    pub async fn delete_channel(&self, who: Who, id: Uuid) -> Result<(), LiveChatError> {
        who.admin()?;
        self.channel(id)?;
        self.repo().remove_channel(id)?;
        self.repo().remove_identity_secret(id)?;
        self.flush().await
    }

    /// The caller joins (or leaves) a channel as an operator.
    pub async fn set_joined(
        &self,
        who: Who,
        id: Uuid,
        joined: bool,
    ) -> Result<Channel, LiveChatError> {
        let Some(op) = who.operator() else {
            return Err(LiveChatError::Forbidden(
                "only an operator (a user token) joins or leaves a channel".into(),
            ));
        };
        let mut channel = self.channel(id)?;
        if joined && !channel.may_join(op) {
            return Err(LiveChatError::Forbidden(
                "only the operators the admin listed may join this channel".into(),
            ));
        }
        let was_operator = channel.operators.contains(&op);
        channel.operators.retain(|o| *o != op);
        if joined {
            channel.operators.push(op);
        } else if was_operator && !channel.allowed.contains(&op) {
            // Whoever was an operator may come back after leaving.
            channel.allowed.push(op);
        }
        self.save_channel(&channel)?;
        self.flush().await?;
        if joined {
            // A new operator of the channel may take a visitor waiting in line.
            self.queue_moves(id, false).await;
        }
        Ok(channel)
    }

    /// Adds a rule (admin only); the regex is checked.
    pub async fn add_rule(
        &self,
        who: Who,
        channel: Uuid,
        rule: Rule,
    ) -> Result<Rule, LiveChatError> {
        who.admin()?;
        let mut c = self.channel(channel)?;
        if c.rules.len() >= super::rules::MAX_RULES {
            return Err(LiveChatError::BadInput(format!(
                "a channel has at most {} rules",
                super::rules::MAX_RULES
            )));
        }
        let mut rule = rule.validated()?;
        self.check_rule_chatbot(rule.chatbot_id.as_deref())?;
        rule.id = Uuid::now_v7();
        c.rules.push(rule.clone());
        c.rules.sort_by_key(|r| r.sequence);
        self.save_channel(&c)?;
        self.flush().await?;
        Ok(rule)
    }

    /// Replaces a rule (admin only).
    pub async fn update_rule(
        &self,
        who: Who,
        channel: Uuid,
        id: Uuid,
        rule: Rule,
    ) -> Result<Rule, LiveChatError> {
        who.admin()?;
        let mut c = self.channel(channel)?;
        let mut rule = rule.validated()?;
        self.check_rule_chatbot(rule.chatbot_id.as_deref())?;
        rule.id = id;
        let slot = c
            .rules
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| LiveChatError::NotFound(format!("no rule {id}")))?;
        *slot = rule.clone();
        c.rules.sort_by_key(|r| r.sequence);
        self.save_channel(&c)?;
        self.flush().await?;
        Ok(rule)
    }

    /// Deletes a rule (admin only).
    pub async fn delete_rule(
        &self,
        who: Who,
        channel: Uuid,
        id: Uuid,
    ) -> Result<(), LiveChatError> {
        who.admin()?;
        let mut c = self.channel(channel)?;
        let before = c.rules.len();
        c.rules.retain(|r| r.id != id);
        if c.rules.len() == before {
            return Err(LiveChatError::NotFound(format!("no rule {id}")));
        }
        self.save_channel(&c)?;
        self.flush().await
    }
}
