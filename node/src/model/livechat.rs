//! The live chat's stored records: what `store/livechat*` reads and writes and the live chat
//! service works on (sessions and their messages, channels with their rules, chatbot scripts,
//! canned responses, groups, ratings, leads and tickets, report facts). A leaf, like the rest of
//! `model`: the store below the services names these types, never a service module. Their
//! behaviour (`impl` blocks) stays in the service modules named above each type, which also
//! re-export them under their earlier paths.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

// Canned: its behaviour is in `livechat/canned.rs`.
/// A canned response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Canned {
    /// Id.
    pub id: Uuid,
    /// Shortcut (letters, digits, `_`, `-`).
    pub shortcut: String,
    /// What the shortcut becomes.
    pub substitution: String,
    /// The user who made it (None: made by the admin).
    pub owner: Option<Uuid>,
    /// Groups it is shared with.
    pub groups: Vec<Uuid>,
}

// Channel: its behaviour is in `livechat/channels.rs`.
/// A channel as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Channel {
    /// Channel id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Operators (user ids).
    pub operators: Vec<Uuid>,
    /// The button's (notification) text.
    pub button_text: String,
    /// First message a visitor sees.
    pub welcome_message: String,
    /// Placeholder of the chat input.
    pub input_placeholder: String,
    /// Button colour (CSS).
    pub button_color: String,
    /// Header colour (CSS).
    pub header_color: String,
    /// At most this many ongoing sessions per operator.
    pub max_sessions_per_operator: Option<u32>,
    /// Whether the ratings page is public.
    pub published: bool,
    /// Rules, kept sorted by sequence.
    pub rules: Vec<Rule>,
    /// Created (ms).
    pub created_at_ms: u64,
    /// Whether any operator may join by themselves (Odoo's behaviour). Off by default: only
    /// the operators the admin listed ([`Channel::allowed`]) may join.
    #[serde(default)]
    pub self_join: bool,
    /// Operators the admin listed: they may join (again) by themselves, e.g. after leaving.
    #[serde(default)]
    pub allowed: Vec<Uuid>,
    /// Visitors who may wait in line when every operator is busy (0: no queue, the old
    /// "nobody is available" answer). See `livechat/queue.rs`.
    #[serde(default = "super::livechat_queue::default_queue_limit")]
    pub queue_limit: u32,
    // -- business hours, offline mode and widget languages (`livechat/hours.rs`,
    // `livechat/offline.rs`, `livechat/widget_texts.rs`) --
    /// When the channel is open (None: always).
    #[serde(default)]
    pub hours: Option<super::livechat_offline::BusinessHours>,
    /// What the widget does while the channel is offline.
    #[serde(default)]
    pub offline: super::livechat_offline::OfflineSettings,
    /// The language of the channel's own texts and the widget's fallback ("en" when empty).
    #[serde(default)]
    pub default_language: String,
    /// The channel's widget texts per language, over the built-in ones.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub texts: super::livechat_offline::WidgetTexts,
    /// Files in the channel's sessions (lc-files): off by default, size limit, types.
    #[serde(default)]
    pub files: crate::model::livechat_files::FileSettings,
}

// Action: its behaviour is in `livechat/rules.rs`.
/// What the widget does on a matching page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Show the button.
    #[default]
    Show,
    /// Show the button with its notification text.
    ShowWithNotification,
    /// Open the chat window automatically after `auto_open_after_s`.
    AutoOpen,
    /// Hide the button.
    Hide,
}

// ChatbotCondition: its behaviour is in `livechat/rules.rs`.
/// When a rule's chatbot takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatbotCondition {
    /// Always.
    #[default]
    Always,
    /// Only when no operator is available.
    OnlyIfNoOperator,
    /// Only when an operator is available.
    OnlyIfOperator,
}

// Rule: its behaviour is in `livechat/rules.rs`.
/// A channel rule as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Rule {
    /// Rule id.
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Order among the channel's rules (lower first).
    #[serde(default)]
    pub sequence: i32,
    /// What the button does.
    #[serde(default)]
    pub action: Action,
    /// Seconds before opening automatically (action `auto_open`).
    #[serde(default)]
    pub auto_open_after_s: Option<u32>,
    /// Regex searched in the page URL; empty matches every page.
    #[serde(default)]
    pub url_regex: String,
    /// ISO country codes; empty means every country.
    #[serde(default)]
    pub countries: Vec<String>,
    /// The chatbot that answers (the chatbot engine comes later).
    #[serde(default)]
    pub chatbot_id: Option<String>,
    /// When the chatbot takes part.
    #[serde(default)]
    pub chatbot_condition: ChatbotCondition,
}

// StepType: its behaviour is in `livechat/chatbot/script.rs`.
/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    /// Says its message and goes on.
    Text,
    /// Says its message and waits for one of its answers.
    Question,
    /// Asks for an email address (validated; asked again when invalid).
    Email,
    /// Asks for a phone number (checked; asked again when it does not look like one).
    Phone,
    /// Hands the visitor to an operator (with the step's expertise); goes on when nobody is free.
    ForwardToOperator,
    /// Waits for one line of text, stored as typed.
    FreeInput,
    /// Waits for text that may span several lines, stored as typed.
    FreeInputMultiline,
    /// Creates a lead with what was collected and the transcript.
    CreateLead,
    /// Creates a ticket with what was collected and the transcript.
    CreateTicket,
}

// Answer: its behaviour is in `livechat/chatbot/script.rs`.
/// One answer of a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Answer {
    /// Unique in the script; "Only If" refers to it. Default: "<step>.<answer>", e.g. "2.1".
    #[serde(default)]
    pub id: String,
    /// What the visitor clicks or types.
    pub text: String,
    /// A page the answer sends the visitor to; following it ends the script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

// Step: its behaviour is in `livechat/chatbot/script.rs`.
/// One step of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    /// What the step does.
    #[serde(rename = "type")]
    pub kind: StepType,
    /// What the bot says.
    #[serde(default)]
    pub message: String,
    /// A question's answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// "Only If": answer ids; the step runs when, for every question these answers belong to,
    /// the visitor selected at least one of them. Empty: the step always runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_if: Vec<String>,
    /// A forward's required expertise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expertise: Vec<String>,
}

// Script: its behaviour is in `livechat/chatbot/script.rs`.
/// A stored script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Script {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The name visitors see.
    pub operator_name: String,
    /// Avatar image.
    pub avatar: Option<String>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

// Group: its behaviour is in `livechat/groups.rs`.
/// A user group (canned responses are shared with groups).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Group {
    /// Group id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Member user ids.
    pub members: Vec<Uuid>,
}

// SessionFacts: its behaviour is in `livechat/reports/facts.rs`.
/// The summary of one session that every report works from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFacts {
    /// Session id.
    pub id: Uuid,
    /// Channel.
    pub channel_id: Uuid,
    /// The visitor's browser id, if the widget sent one (`None`: anonymous).
    pub visitor_id: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Browser language.
    pub language: Option<String>,
    /// Every operator who was in the conversation, in order of joining.
    pub operators: Vec<Uuid>,
    /// The chatbot that answered, if any.
    pub chatbot_id: Option<String>,
    /// Started (ms).
    pub created_at_ms: u64,
    /// Closed (ms), if closed.
    pub closed_at_ms: Option<u64>,
    /// When the chatbot handed over (ms).
    pub handover_at_ms: Option<u64>,
    /// Nobody was available at the start or at a forward.
    pub no_operator: bool,
    /// Messages that count (neither system notices nor private notices).
    pub messages: u32,
    /// Distinct authors of those messages (the visitor, each operator, the chatbot).
    pub speakers: u32,
    /// The visitor's first message (ms).
    pub first_visitor_ms: Option<u64>,
    /// The last message that counts (ms).
    pub last_message_ms: Option<u64>,
    /// Each operator's first message (ms), in order of writing.
    pub first_by_operator: Vec<(Uuid, u64)>,
    /// Time the visitor waited in the queue (ms), if they did.
    #[serde(default)]
    pub queue_ms: Option<u64>,
}

// Kind: its behaviour is in `livechat/commands.rs`.
/// Which store a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/lead`.
    Lead,
    /// `/ticket`.
    Ticket,
}

// Record: its behaviour is in `livechat/commands.rs`.
/// A lead or a ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Record {
    /// Number (1, 2, … per kind).
    pub number: u64,
    /// "lead" or "ticket".
    pub kind: String,
    /// Title.
    pub title: String,
    /// The conversation it came from.
    pub session_id: Uuid,
    /// Its channel.
    pub channel_id: Uuid,
    /// The conversation, one line per message.
    pub transcript: String,
    /// The visitor's email, when a chatbot collected one.
    #[serde(default)]
    pub email: Option<String>,
    /// The visitor's phone, when a chatbot collected one.
    #[serde(default)]
    pub phone: Option<String>,
    /// The operator who created it (None: a chatbot did).
    pub created_by: Option<Uuid>,
    /// The chatbot that created it, if one did.
    #[serde(default)]
    pub created_by_bot: Option<Uuid>,
    /// Created (ms).
    pub created_at_ms: u64,
    /// The widget's visitor id of whoever it is about: the session's visitor, or the
    /// visitor who sent the offline form (so an export or erase by visitor finds it).
    /// Records stored before this field have none and cannot be linked to a visitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
}

// Rating: its behaviour is in `livechat/ratings.rs`.
/// A rating.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Rating {
    /// The rated session.
    pub session_id: Uuid,
    /// Its channel.
    pub channel_id: Uuid,
    /// 5, 3 or 1.
    pub rating: u8,
    /// Optional comment.
    pub comment: Option<String>,
    /// The operator rated.
    pub operator: Option<Uuid>,
    /// Hidden from the published page.
    pub internal_only: bool,
    /// Given (ms).
    pub at_ms: u64,
}

// AnswerChoice: its behaviour is in `livechat/messages.rs`.
/// One answer a visitor may pick for a chatbot question.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AnswerChoice {
    /// Answer id, unique in its script (send it back as `answer_id`).
    pub id: String,
    /// The answer's text.
    pub text: String,
}

// Message: its behaviour is in `livechat/messages.rs`.
/// One message of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
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
    /// The file this message carries (lc-files), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::model::livechat_files::FileRef>,
}

// ReturningEntry: its behaviour is in `livechat/reports/privacy.rs`.
/// The returning-visitor entry as stored by the sessions module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReturningEntry {
    /// Their previous operator.
    pub operator: Uuid,
    /// When (ms).
    pub at_ms: u64,
}

// Session: its behaviour is in `livechat/sessions.rs`.
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
    /// The visitor's place in the queue, if they waited in line (`livechat/queue.rs`).
    #[serde(default)]
    pub queue: Option<super::livechat_queue::QueueMark>,
    // ---- lc-identity: visitors the website knows, and pages that expire ----
    /// The identity the website claimed for the visitor, verified or not
    /// (`livechat/identity.rs`).
    #[serde(default)]
    pub identity: Option<super::livechat_identity::VisitorIdentity>,
    /// When each of `pages` was visited (ms), same order; older records have none (their
    /// pages count as visited when the session started).
    #[serde(default)]
    pub page_times: Vec<u64>,
}

// End: its behaviour is in `livechat/chatbot/engine.rs`.
/// Why a script stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The last step ran.
    Finished,
    /// The visitor's answer had no step to follow.
    DeadEnd,
    /// An answer's link took the visitor away.
    Link,
    /// An operator took over.
    Forwarded,
}

// BotState: its behaviour is in `livechat/chatbot/engine.rs`.
/// Where a session's bot is, stored with the session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotState {
    /// The last step that ran (index).
    pub position: Option<usize>,
    /// The step at `position` waits for the visitor.
    pub waiting: bool,
    /// A forward is being looked for.
    pub forwarding: bool,
    /// Answer ids the visitor selected, in order.
    pub selected: Vec<String>,
    /// The email given.
    pub email: Option<String>,
    /// The phone number given.
    pub phone: Option<String>,
    /// Free inputs, in order.
    pub inputs: Vec<String>,
    /// Set once the script stopped.
    pub ended: Option<End>,
}
