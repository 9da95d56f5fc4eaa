//! The data every report reads ([`Dataset`]: sessions' facts with their ratings, channel and
//! operator names, "now"), the sessions history report ([`SessionRow`]), and CSV output
//! shared by every report ([`CsvRow`], [`to_csv`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::ReportError;
use super::facts::SessionFacts;
use super::filter::rfc3339;
use crate::livechat::ratings::Rating;

/// One selected session and its rating.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The session's facts.
    pub facts: SessionFacts,
    /// Its rating, if rated (shared with the ratings read for the report, not copied).
    pub rating: Option<Arc<Rating>>,
}

/// A channel as the reports name it.
#[derive(Debug, Clone, Default)]
pub struct ChannelName {
    /// Name.
    pub name: String,
    /// Whether its ratings page is public.
    pub published: bool,
}

/// What a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The selected sessions, oldest first.
    pub entries: Vec<Entry>,
    /// Channels by id.
    pub channels: HashMap<Uuid, ChannelName>,
    /// Operators' chat names by id.
    pub operators: HashMap<Uuid, String>,
    /// Now (ms), for days of activity.
    pub now_ms: u64,
}

impl Dataset {
    /// A channel's name (its id when it was deleted).
    pub fn channel_name(&self, id: Uuid) -> String {
        self.channels
            .get(&id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    /// An operator's chat name (their id when they were deleted).
    pub fn operator_name(&self, id: Uuid) -> String {
        self.operators
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// A report row that can be written as CSV.
pub trait CsvRow {
    /// Column names.
    fn header() -> Vec<&'static str>;
    /// This row's cells.
    fn record(&self) -> Vec<String>;
}

/// Rows as CSV (a header line, then one line per row).
pub fn to_csv<R: CsvRow>(rows: &[R]) -> Result<String, ReportError> {
    let csv = |e: &dyn std::fmt::Display| ReportError::Csv(e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(R::header()).map_err(|e| csv(&e))?;
    for row in rows {
        w.write_record(row.record()).map_err(|e| csv(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| csv(&e))?;
    String::from_utf8(bytes).map_err(|e| csv(&e))
}

/// An optional number as a CSV cell (empty when absent).
pub(crate) fn cell<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One line of the sessions history.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SessionRow {
    /// Session id.
    pub id: Uuid,
    /// Channel id.
    pub channel_id: Uuid,
    /// Channel name.
    pub channel: String,
    /// The visitor's id, or "Anonymous".
    pub visitor: String,
    /// No visitor id was sent.
    pub anonymous: bool,
    /// Country.
    pub country: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Operators' ids, in order of joining.
    pub operator_ids: Vec<Uuid>,
    /// Operators' chat names.
    pub operators: Vec<String>,
    /// The chatbot, if one answered.
    pub chatbot_id: Option<String>,
    /// Start (ms).
    pub start_ms: u64,
    /// Start (RFC 3339, UTC).
    pub start: String,
    /// Minutes from the start to the last message.
    pub duration_min: f64,
    /// Messages (not system or private notices).
    pub messages: u32,
    /// Distinct authors.
    pub speakers: u32,
    /// Seconds to the first operator answer, if any.
    pub time_to_answer_s: Option<f64>,
    /// 5, 3 or 1 (none: not rated).
    pub rating: Option<u8>,
    /// The rating's comment.
    pub comment: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// "open" or "closed".
    pub status: String,
    /// Seconds the visitor waited in the queue, if they did.
    pub time_in_queue_s: Option<f64>,
}

/// The sessions history, oldest first.
pub fn history(data: &Dataset) -> Vec<SessionRow> {
    data.entries
        .iter()
        .map(|e| {
            let f = &e.facts;
            SessionRow {
                id: f.id,
                channel_id: f.channel_id,
                channel: data.channel_name(f.channel_id),
                visitor: f.visitor_id.clone().unwrap_or_else(|| "Anonymous".into()),
                anonymous: f.anonymous(),
                country: f.country.clone(),
                language: f.language.clone(),
                operator_ids: f.operators.clone(),
                operators: f.operators.iter().map(|o| data.operator_name(*o)).collect(),
                chatbot_id: f.chatbot_id.clone(),
                start_ms: f.created_at_ms,
                start: rfc3339(f.created_at_ms),
                duration_min: f.duration_min(),
                messages: f.messages,
                speakers: f.speakers,
                time_to_answer_s: f.time_to_answer_s(),
                rating: e.rating.as_ref().map(|r| r.rating),
                comment: e.rating.as_ref().and_then(|r| r.comment.clone()),
                outcome: f.outcome().to_string(),
                status: if f.closed_at_ms.is_some() {
                    "closed"
                } else {
                    "open"
                }
                .into(),
                time_in_queue_s: f.time_in_queue_s(),
            }
        })
        .collect()
}

impl CsvRow for SessionRow {
    fn header() -> Vec<&'static str> {
        vec![
            "id",
            "channel",
            "visitor",
            "anonymous",
            "country",
            "language",
            "operators",
            "start",
            "duration_min",
            "messages",
            "speakers",
            "time_to_answer_s",
            "rating",
            "comment",
            "outcome",
            "status",
            "time_in_queue_s",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.channel.clone(),
            self.visitor.clone(),
            self.anonymous.to_string(),
            self.country.clone().unwrap_or_default(),
            self.language.clone().unwrap_or_default(),
            self.operators.join("; "),
            self.start.clone(),
            self.duration_min.to_string(),
            self.messages.to_string(),
            self.speakers.to_string(),
            cell(self.time_to_answer_s),
            cell(self.rating),
            self.comment.clone().unwrap_or_default(),
            self.outcome.clone(),
            self.status.clone(),
            cell(self.time_in_queue_s),
        ]
    }
}
