//! Session statistics: the selected sessions grouped by channel, operator, day, weekday,
//! hour, country, language or outcome, with each measure's count, sum and average, the way a
//! pivot table shows them. A last row (`key` = `"total"`) covers every selected session once.
//!
//! Averages: `rating` over rated sessions only, `time_to_answer_s` over sessions an operator
//! answered, the others over every session of the group.

use std::collections::BTreeMap;

use serde::Serialize;

use super::facts::SessionFacts;
use super::filter::{GroupBy, day, days_of_activity, hour, weekday};
use super::history::{CsvRow, Dataset, Entry, cell};

/// A measure's sum, the number of sessions it was taken over, and their average.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Agg {
    /// Sum.
    pub sum: f64,
    /// Sessions measured.
    pub n: u64,
    /// `sum / n`, none when `n` is 0.
    pub avg: Option<f64>,
}

impl Agg {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
        self.avg = Some(self.sum / self.n as f64);
    }
}

/// One group's measures.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StatRow {
    /// The group's value (day `2026-11-02`, hour `9`, weekday `0`…, an id, a code; `""` when
    /// the session has none, `"total"` for the last row).
    pub key: String,
    /// What people read (a channel's or operator's name, `monday`, `09:00`, …).
    pub label: String,
    /// Sessions.
    pub count: u64,
    /// Distinct authors per session.
    pub speakers: Agg,
    /// Days between the session's day and today, + 1.
    pub days_of_activity: Agg,
    /// Minutes from the start to the last message.
    pub duration_min: Agg,
    /// Sessions whose visitor was anonymous.
    pub anonymous: u64,
    /// Messages per session.
    pub messages: Agg,
    /// Ratings (rated sessions only).
    pub rating: Agg,
    /// Sessions not rated.
    pub not_rated: u64,
    /// Seconds to the first operator answer (answered sessions only).
    pub time_to_answer_s: Agg,
    /// Sessions rated happy (5).
    pub happy: u64,
    /// Seconds visitors waited in the queue (sessions that queued only).
    pub time_in_queue_s: Agg,
}

impl StatRow {
    fn add(&mut self, e: &Entry, now_ms: u64) {
        let f = &e.facts;
        self.count += 1;
        self.speakers.add(f64::from(f.speakers));
        self.days_of_activity
            .add(days_of_activity(f.created_at_ms, now_ms) as f64);
        self.duration_min.add(f.duration_min());
        self.anonymous += u64::from(f.anonymous());
        self.messages.add(f64::from(f.messages));
        match e.rating.as_ref().map(|r| r.rating) {
            Some(r) => {
                self.rating.add(f64::from(r));
                self.happy += u64::from(r == 5);
            }
            None => self.not_rated += 1,
        }
        if let Some(t) = f.time_to_answer_s() {
            self.time_to_answer_s.add(t);
        }
        if let Some(t) = f.time_in_queue_s() {
            self.time_in_queue_s.add(t);
        }
    }
}

/// Sort key and label of each group a session falls in.
fn groups(data: &Dataset, f: &SessionFacts, by: GroupBy) -> Vec<(String, String, String)> {
    let one = |sort: String, key: String, label: String| vec![(sort, key, label)];
    match by {
        GroupBy::Channel => {
            let name = data.channel_name(f.channel_id);
            one(name.clone(), f.channel_id.to_string(), name)
        }
        GroupBy::Operator if f.operators.is_empty() => {
            one("\u{10ffff}".into(), String::new(), "no operator".into())
        }
        GroupBy::Operator => f
            .operators
            .iter()
            .map(|op| {
                let name = data.operator_name(*op);
                (name.clone(), op.to_string(), name)
            })
            .collect(),
        GroupBy::Day => {
            let d = day(f.created_at_ms);
            one(d.clone(), d.clone(), d)
        }
        GroupBy::Weekday => {
            let (n, name) = weekday(f.created_at_ms);
            one(n.to_string(), n.to_string(), name.into())
        }
        GroupBy::Hour => {
            let h = hour(f.created_at_ms);
            one(format!("{h:02}"), h.to_string(), format!("{h:02}:00"))
        }
        GroupBy::Country => {
            let c = f.country.clone().unwrap_or_default();
            let label = if c.is_empty() {
                "unknown".into()
            } else {
                c.clone()
            };
            one(label.clone(), c, label)
        }
        GroupBy::Language => {
            let l = f.language.clone().unwrap_or_default();
            let label = if l.is_empty() {
                "unknown".into()
            } else {
                l.clone()
            };
            one(label.clone(), l, label)
        }
        GroupBy::Outcome => {
            let o = f.outcome();
            let rank = super::facts::Outcome::ALL
                .iter()
                .position(|x| *x == o)
                .unwrap_or(0);
            one(rank.to_string(), o.to_string(), o.to_string())
        }
    }
}

/// The statistics grouped by `by`, groups in their natural order, then the total.
pub fn stats(data: &Dataset, by: GroupBy) -> Vec<StatRow> {
    let mut rows: BTreeMap<(String, String), StatRow> = BTreeMap::new();
    let mut total = StatRow {
        key: "total".into(),
        label: "total".into(),
        ..StatRow::default()
    };
    for e in &data.entries {
        for (sort, key, label) in groups(data, &e.facts, by) {
            rows.entry((sort, key.clone()))
                .or_insert_with(|| StatRow {
                    key,
                    label,
                    ..StatRow::default()
                })
                .add(e, data.now_ms);
        }
        total.add(e, data.now_ms);
    }
    let mut out: Vec<StatRow> = rows.into_values().collect();
    out.push(total);
    out
}

impl CsvRow for StatRow {
    fn header() -> Vec<&'static str> {
        vec![
            "key",
            "label",
            "count",
            "speakers_sum",
            "speakers_avg",
            "days_of_activity_sum",
            "days_of_activity_avg",
            "duration_min_sum",
            "duration_min_avg",
            "anonymous",
            "messages_sum",
            "messages_avg",
            "rated",
            "rating_sum",
            "rating_avg",
            "not_rated",
            "answered",
            "time_to_answer_s_sum",
            "time_to_answer_s_avg",
            "happy",
            "queued",
            "time_in_queue_s_sum",
            "time_in_queue_s_avg",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.key.clone(),
            self.label.clone(),
            self.count.to_string(),
            self.speakers.sum.to_string(),
            cell(self.speakers.avg),
            self.days_of_activity.sum.to_string(),
            cell(self.days_of_activity.avg),
            self.duration_min.sum.to_string(),
            cell(self.duration_min.avg),
            self.anonymous.to_string(),
            self.messages.sum.to_string(),
            cell(self.messages.avg),
            self.rating.n.to_string(),
            self.rating.sum.to_string(),
            cell(self.rating.avg),
            self.not_rated.to_string(),
            self.time_to_answer_s.n.to_string(),
            self.time_to_answer_s.sum.to_string(),
            cell(self.time_to_answer_s.avg),
            self.happy.to_string(),
            self.time_in_queue_s.n.to_string(),
            self.time_in_queue_s.sum.to_string(),
            cell(self.time_in_queue_s.avg),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use uuid::Uuid;

    use super::*;
    use crate::livechat::reports::facts::SessionFacts;

    fn facts(
        operators: &[Uuid],
        created: u64,
        first_visitor: u64,
        answers: &[(Uuid, u64)],
    ) -> SessionFacts {
        SessionFacts {
            id: Uuid::now_v7(),
            channel_id: Uuid::nil(),
            visitor_id: None,
            country: None,
            language: None,
            operators: operators.to_vec(),
            chatbot_id: None,
            created_at_ms: created,
            closed_at_ms: Some(created + 600_000),
            handover_at_ms: None,
            no_operator: false,
            messages: 2,
            speakers: 2,
            first_visitor_ms: Some(first_visitor),
            last_message_ms: Some(created + 120_000),
            first_by_operator: answers.to_vec(),
            queue_ms: None,
        }
    }

    #[test]
    fn a_session_with_two_operators_counts_for_both_and_once_in_the_total() {
        let (ann, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let t = 1_793_610_000_000;
        let data = Dataset {
            entries: vec![
                Entry {
                    facts: facts(
                        &[ann, bob],
                        t,
                        t + 10_000,
                        &[(bob, t + 40_000), (ann, t + 70_000)],
                    ),
                    rating: None,
                },
                Entry {
                    facts: facts(&[], t + 3_600_000, t + 3_610_000, &[]),
                    rating: None,
                },
            ],
            now_ms: t,
            ..Dataset::default()
        };
        let rows = stats(&data, GroupBy::Operator);
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [ann.to_string().as_str(), &bob.to_string(), "", "total"]
        );
        assert_eq!(rows[0].count, 1);
        assert_eq!(rows[2].label, "no operator");
        assert_eq!(rows[3].count, 2);
        assert_eq!(
            rows[3].time_to_answer_s.avg,
            Some(30.0),
            "the first operator message of any"
        );
        assert_eq!(rows[3].not_rated, 2);
        let ops = crate::livechat::reports::people::operators(&data);
        let by_op: Vec<(Uuid, Option<f64>)> = ops
            .iter()
            .map(|r| (r.operator_id, r.avg_time_to_answer_s))
            .collect();
        assert_eq!(
            by_op,
            [(ann, Some(60.0)), (bob, Some(30.0))],
            "each operator's own first message"
        );
    }
}
