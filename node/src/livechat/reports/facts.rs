//! What the reports know about one session: a compact summary of the session and its
//! messages ([`SessionFacts`]), and the measures derived from it (outcome, duration, time to
//! answer, speakers, message count). Pure: built from a [`Session`] and its [`Message`]s.
//!
//! Closed sessions never change their messages, so their facts are computed once (at close)
//! and kept in the `lc_report_facts` table; the reports then read one small record per
//! session instead of every message.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::livechat::messages::Message;
use crate::livechat::sessions::Session;

use super::ReportError;

/// How a session ended up, in the order the rules are tried (first that holds wins):
///
/// 1. `forwarded` — the chatbot handed the visitor over to an operator (`handover_at_ms`).
/// 2. `answered` — an operator wrote at least one message.
/// 3. `no_answer` — an operator was in the conversation but never wrote.
/// 4. `no_agent` — no operator was available (at the start or at a chatbot's forward) and
///    none ever joined.
/// 5. `bot_only` — a chatbot handled it alone while operators were available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The chatbot handed over to an operator.
    Forwarded,
    /// An operator wrote.
    Answered,
    /// An operator was in it and never wrote.
    NoAnswer,
    /// Nobody was available and no operator joined.
    NoAgent,
    /// Only the chatbot spoke for the company.
    BotOnly,
}

impl Outcome {
    /// Every outcome, in precedence order.
    pub const ALL: [Outcome; 5] = [
        Outcome::Forwarded,
        Outcome::Answered,
        Outcome::NoAnswer,
        Outcome::NoAgent,
        Outcome::BotOnly,
    ];

    /// The name used in the API, the CLI and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Answered => "answered",
            Outcome::NoAnswer => "no_answer",
            Outcome::NoAgent => "no_agent",
            Outcome::BotOnly => "bot_only",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, ReportError> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                ReportError::BadQuery(format!(
                    "outcome is one of forwarded, answered, no_answer, no_agent, bot_only (not {s:?})"
                ))
            })
    }
}

pub use crate::model::livechat::SessionFacts;

/// Whether a message counts in the reports: not a system notice, not a private notice.
pub fn counts(m: &Message) -> bool {
    m.author != "system" && m.only_for.is_none()
}

impl SessionFacts {
    /// Summarises a session and its messages (in any order).
    pub fn new(session: &Session, messages: &[Message]) -> SessionFacts {
        let mut counted: Vec<&Message> = messages.iter().filter(|m| counts(m)).collect();
        counted.sort_by_key(|m| (m.at_ms, m.seq));
        let speakers: BTreeSet<(&str, Option<Uuid>)> = counted
            .iter()
            .map(|m| (m.author.as_str(), m.author_id))
            .collect();
        let mut first_by_operator: Vec<(Uuid, u64)> = Vec::new();
        for m in counted.iter().filter(|m| m.author == "operator") {
            if let Some(op) = m.author_id
                && !first_by_operator.iter().any(|(o, _)| *o == op)
            {
                first_by_operator.push((op, m.at_ms));
            }
        }
        SessionFacts {
            id: session.id,
            channel_id: session.channel_id,
            visitor_id: session.visitor_id.clone(),
            country: session.country.clone(),
            language: session.language.clone(),
            operators: session.all_operators.clone(),
            chatbot_id: session.chatbot_id.clone(),
            created_at_ms: session.created_at_ms,
            closed_at_ms: session.closed_at_ms,
            handover_at_ms: session.handover_at_ms,
            no_operator: session.no_operator,
            messages: u32::try_from(counted.len()).unwrap_or(u32::MAX),
            speakers: u32::try_from(speakers.len()).unwrap_or(u32::MAX),
            first_visitor_ms: counted
                .iter()
                .find(|m| m.author == "visitor")
                .map(|m| m.at_ms),
            last_message_ms: counted.last().map(|m| m.at_ms),
            first_by_operator,
            queue_ms: queue_ms(session),
        }
    }

    /// The outcome (see [`Outcome`] for the precedence).
    pub fn outcome(&self) -> Outcome {
        if self.handover_at_ms.is_some() {
            Outcome::Forwarded
        } else if !self.first_by_operator.is_empty() {
            Outcome::Answered
        } else if !self.operators.is_empty() {
            Outcome::NoAnswer
        } else if self.no_operator || self.chatbot_id.is_none() {
            Outcome::NoAgent
        } else {
            Outcome::BotOnly
        }
    }

    /// Whether the visitor was anonymous (the widget sent no visitor id).
    pub fn anonymous(&self) -> bool {
        self.visitor_id.is_none()
    }

    /// Minutes from the start to the last message (0 without messages).
    pub fn duration_min(&self) -> f64 {
        let end = self.last_message_ms.unwrap_or(self.created_at_ms);
        end.saturating_sub(self.created_at_ms) as f64 / 60_000.0
    }

    /// What an operator's answer is measured from: the chatbot's hand-over, else the
    /// visitor's first message, else the start.
    fn answer_reference_ms(&self) -> u64 {
        self.handover_at_ms
            .or(self.first_visitor_ms)
            .unwrap_or(self.created_at_ms)
    }

    /// Seconds from the visitor's first message (or the hand-over) to the first operator
    /// message; `None` when no operator wrote.
    pub fn time_to_answer_s(&self) -> Option<f64> {
        let first = self.first_by_operator.iter().map(|(_, at)| *at).min()?;
        Some(first.saturating_sub(self.answer_reference_ms()) as f64 / 1000.0)
    }

    /// Seconds the visitor waited in the queue, if they did (and have stopped waiting).
    pub fn time_in_queue_s(&self) -> Option<f64> {
        self.queue_ms.map(|ms| ms as f64 / 1000.0)
    }

    /// The same, for one operator's first message.
    pub fn time_to_answer_of(&self, op: Uuid) -> Option<f64> {
        let (_, first) = self.first_by_operator.iter().find(|(o, _)| *o == op)?;
        Some(first.saturating_sub(self.answer_reference_ms()) as f64 / 1000.0)
    }
}

/// Time in the queue (ms): until an operator took the visitor or they left (or the session
/// closed); a visitor still waiting has no figure yet.
fn queue_ms(s: &Session) -> Option<u64> {
    let mark = s.queue.as_ref()?;
    let end = mark.left_at_ms.or(s.closed_at_ms)?;
    Some(end.saturating_sub(mark.joined_at_ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn session(operators: &[Uuid], chatbot: bool) -> Session {
        Session {
            id: Uuid::now_v7(),
            channel_id: Uuid::nil(),
            visitor_id: None,
            token_hash: Vec::new(),
            language: None,
            country: None,
            page_url: "/".into(),
            operators: operators.to_vec(),
            all_operators: operators.to_vec(),
            chatbot_id: chatbot.then(|| "bot".to_string()),
            created_at_ms: 1_000_000,
            last_activity_ms: 1_000_000,
            closed_at_ms: None,
            pages: Vec::new(),
            next_seq: 0,
            bot: None,
            handover_at_ms: None,
            no_operator: false,
            written: true,
            bot_records: 0,
            abandoned: false,
            address: None,
            queue: None,
            identity: None,
            page_times: Vec::new(),
        }
    }

    fn msg(seq: u64, author: &str, id: Option<Uuid>, at_ms: u64) -> Message {
        Message {
            id: Uuid::now_v7(),
            session_id: Uuid::nil(),
            seq,
            author: author.into(),
            author_id: id,
            author_name: author.into(),
            text: "x".into(),
            at_ms,
            only_for: None,
            answers: Vec::new(),
            file: None,
        }
    }

    #[test]
    fn an_answered_session_measures_from_the_visitors_first_message() {
        let ann = Uuid::from_u128(1);
        let s = session(&[ann], false);
        let mut notice = msg(3, "operator", Some(ann), 1_200_000);
        notice.only_for = Some(ann);
        let messages = vec![
            msg(0, "visitor", None, 1_030_000),
            msg(1, "operator", Some(ann), 1_075_000),
            msg(2, "visitor", None, 1_150_000),
            notice,
            msg(4, "system", None, 1_300_000),
        ];
        let f = SessionFacts::new(&s, &messages);
        assert_eq!(f.messages, 3, "system and private notices do not count");
        assert_eq!(f.speakers, 2);
        assert_eq!(f.outcome(), Outcome::Answered);
        assert_eq!(f.time_to_answer_s(), Some(45.0));
        assert_eq!(f.time_to_answer_of(ann), Some(45.0));
        assert_eq!(f.duration_min(), 2.5, "start to the last counted message");
    }

    #[test]
    fn outcomes_follow_their_precedence() {
        let ann = Uuid::from_u128(1);
        let silent = SessionFacts::new(&session(&[ann], false), &[]);
        assert_eq!(silent.outcome(), Outcome::NoAnswer);
        assert_eq!(silent.time_to_answer_s(), None);
        assert_eq!(silent.duration_min(), 0.0);

        let bot = session(&[], true);
        let only_bot = SessionFacts::new(&bot, &[msg(0, "bot", None, 1_000_000)]);
        assert_eq!(only_bot.outcome(), Outcome::BotOnly);
        assert_eq!(only_bot.speakers, 1);

        let mut nobody = session(&[], true);
        nobody.no_operator = true;
        assert_eq!(SessionFacts::new(&nobody, &[]).outcome(), Outcome::NoAgent);

        let mut handed = session(&[ann], true);
        handed.handover_at_ms = Some(1_100_000);
        let messages = vec![
            msg(0, "bot", None, 1_000_000),
            msg(1, "visitor", None, 1_010_000),
            msg(2, "operator", Some(ann), 1_112_000),
        ];
        let f = SessionFacts::new(&handed, &messages);
        assert_eq!(
            f.outcome(),
            Outcome::Forwarded,
            "forwarded wins over answered"
        );
        assert_eq!(
            f.time_to_answer_s(),
            Some(12.0),
            "measured from the hand-over"
        );
        assert_eq!(f.speakers, 3);
    }

    #[test]
    fn outcome_names_round_trip_and_bad_ones_are_explained() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
        let err = "won".parse::<Outcome>().unwrap_err();
        assert!(err.to_string().contains("no_answer"), "{err}");
    }
}
