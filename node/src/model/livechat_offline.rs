//! A channel's business hours, its offline mode and its widget translations as stored with the
//! channel ([`super::livechat::Channel`]). The behaviour is elsewhere: the schedule's parsing
//! and evaluation in `livechat/hours.rs`, the offline form in `livechat/offline.rs`, the text
//! table and its lookup in `livechat/widget_texts.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One opening slot of the weekly schedule: days `first..=last` (0 = Monday … 6 = Sunday),
/// open from `open_min` to `close_min` minutes after local midnight. Written and read as text,
/// e.g. `"mon-fri 09:00-17:30"` or `"sat 10:00-12:00"` (see `livechat/hours.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slot {
    /// First day (0 = Monday).
    pub first: u8,
    /// Last day, inclusive (6 = Sunday).
    pub last: u8,
    /// Opens, minutes after local midnight.
    pub open_min: u16,
    /// Closes (exclusive), minutes after local midnight; at most 24:00.
    pub close_min: u16,
}

/// When a channel is open: a weekly schedule in an IANA time zone, and holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BusinessHours {
    /// IANA time zone, e.g. `Europe/Paris` (daylight saving time follows the zone's rules).
    pub time_zone: String,
    /// Opening slots, each `"<day>[-<day>] HH:MM-HH:MM"` with days `mon tue wed thu fri sat
    /// sun`; a day in no slot is closed all day. Slots do not cross midnight (use two).
    #[schema(value_type = Vec<String>, example = json!(["mon-fri 09:00-17:30", "sat 10:00-12:00"]))]
    pub weekly: Vec<Slot>,
    /// Dates (`YYYY-MM-DD`, in the channel's time zone) on which the channel stays closed.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// What the widget does while the channel is offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfflineMode {
    /// Show nothing.
    #[default]
    Hide,
    /// Show the button; it opens a form (name, email, message) that creates a ticket or lead.
    Form,
}

/// Which record the offline form creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfflineRecord {
    /// A ticket.
    #[default]
    Ticket,
    /// A lead.
    Lead,
}

/// A channel's offline behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfflineSettings {
    /// What the widget shows outside business hours (and when nobody can answer, if
    /// `when_no_operator`).
    #[serde(default)]
    pub mode: OfflineMode,
    /// Also go offline when no operator is available and no chatbot answers (default false:
    /// the button is then hidden, as before).
    #[serde(default)]
    pub when_no_operator: bool,
    /// What the form creates (default a ticket).
    #[serde(default)]
    pub record: OfflineRecord,
}

/// A channel's own widget texts: language code → text key → text. They win over the
/// built-in texts of that language.
pub type WidgetTexts = BTreeMap<String, BTreeMap<String, String>>;
