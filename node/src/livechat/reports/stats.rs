//! Session statistics: the selected sessions grouped by channel, operator, day, weekday,
//! hour, country, language or outcome, with each measure's count, sum and average, the way a
//! pivot table shows them. A last row (`key` = `"total"`) covers every selected session once.
//!
//! Averages: `rating` over rated sessions only, `time_to_answer_s` over sessions an operator
//! answered, the others over every session of the group.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::facts::{Outcome, SessionFacts};
use super::filter::{DAY_MS, GroupBy, day, days_of_activity, hour, weekday};
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

/// A group as met in the data, cheap to compare: the value a session is grouped by, before
/// it is named. Two sessions with the same `Gid` are in the same group; two `Gid`s may still
/// name the same group (a country `None` and `""` are both "unknown"), which [`stats`]
/// resolves by the group's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Gid<'a> {
    Channel(Uuid),
    Operator(Option<Uuid>),
    /// The UTC day number (ms / one day).
    Day(u64),
    /// The UTC day number modulo 7.
    Weekday(u64),
    /// The UTC hour.
    Hour(u64),
    Text(&'a str),
    Outcome(Outcome),
}

const HOUR_MS: u64 = 3_600_000;

/// The last millisecond [`super::filter::utc`] can show (9999-12-31T23:59:59.999Z); a later
/// time is shown as the epoch, so it is grouped with the epoch's day, weekday and hour.
const LAST_MS: u64 = 253_402_300_799_999;

/// A session's start as the calendar groups see it.
fn start(f: &SessionFacts) -> u64 {
    if f.created_at_ms > LAST_MS {
        0
    } else {
        f.created_at_ms
    }
}

/// The groups a session falls in (one, or one per operator), handed to `each`.
fn gids<'a>(f: &'a SessionFacts, by: GroupBy, mut each: impl FnMut(Gid<'a>)) {
    match by {
        GroupBy::Channel => each(Gid::Channel(f.channel_id)),
        GroupBy::Operator if f.operators.is_empty() => each(Gid::Operator(None)),
        GroupBy::Operator => f
            .operators
            .iter()
            .for_each(|op| each(Gid::Operator(Some(*op)))),
        GroupBy::Day => each(Gid::Day(start(f) / DAY_MS)),
        GroupBy::Weekday => each(Gid::Weekday(start(f) / DAY_MS % 7)),
        GroupBy::Hour => each(Gid::Hour(start(f) % DAY_MS / HOUR_MS)),
        GroupBy::Country => each(Gid::Text(f.country.as_deref().unwrap_or_default())),
        GroupBy::Language => each(Gid::Text(f.language.as_deref().unwrap_or_default())),
        GroupBy::Outcome => each(Gid::Outcome(f.outcome())),
    }
}

/// Sort key, key and label of the group `gid` of session `f` (one of [`gids`]).
fn name(data: &Dataset, f: &SessionFacts, gid: Gid<'_>) -> (String, String, String) {
    let text = |t: &str| {
        let label = if t.is_empty() {
            "unknown".to_string()
        } else {
            t.to_string()
        };
        (label.clone(), t.to_string(), label)
    };
    match gid {
        Gid::Channel(id) => {
            let name = data.channel_name(id);
            (name.clone(), id.to_string(), name)
        }
        Gid::Operator(None) => ("\u{10ffff}".into(), String::new(), "no operator".into()),
        Gid::Operator(Some(op)) => {
            let name = data.operator_name(op);
            (name.clone(), op.to_string(), name)
        }
        Gid::Day(_) => {
            let d = day(f.created_at_ms);
            (d.clone(), d.clone(), d)
        }
        Gid::Weekday(_) => {
            let (n, name) = weekday(f.created_at_ms);
            (n.to_string(), n.to_string(), name.into())
        }
        Gid::Hour(_) => {
            let h = hour(f.created_at_ms);
            (format!("{h:02}"), h.to_string(), format!("{h:02}:00"))
        }
        Gid::Text(t) => text(t),
        Gid::Outcome(o) => {
            let rank = Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0);
            (rank.to_string(), o.to_string(), o.to_string())
        }
    }
}

/// The statistics grouped by `by`, groups in their natural order (by sort key, then key),
/// then the total.
///
/// Each session is added to its groups in the order of `data.entries`, so every sum is the
/// same, to the last bit, as adding them group by group. A group is named (its day formatted,
/// its operator looked up) the first time one of its sessions is met, not once per session.
pub fn stats(data: &Dataset, by: GroupBy) -> Vec<StatRow> {
    let mut seen: HashMap<Gid<'_>, usize> = HashMap::new();
    let mut by_name: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut rows: Vec<StatRow> = Vec::new();
    let mut total = StatRow {
        key: "total".into(),
        label: "total".into(),
        ..StatRow::default()
    };
    for e in &data.entries {
        gids(&e.facts, by, |gid| {
            let row = *seen.entry(gid).or_insert_with(|| {
                let (sort, key, label) = name(data, &e.facts, gid);
                *by_name.entry((sort, key.clone())).or_insert_with(|| {
                    rows.push(StatRow {
                        key,
                        label,
                        ..StatRow::default()
                    });
                    rows.len() - 1
                })
            });
            if let Some(r) = rows.get_mut(row) {
                r.add(e, data.now_ms);
            }
        });
        total.add(e, data.now_ms);
    }
    let mut rows: Vec<Option<StatRow>> = rows.into_iter().map(Some).collect();
    let mut out: Vec<StatRow> = by_name
        .into_values()
        .filter_map(|i| rows.get_mut(i).and_then(Option::take))
        .collect();
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
    fn the_calendar_groups_name_the_times_the_calendar_shows() {
        use crate::livechat::reports::filter::utc;
        assert_ne!(utc(LAST_MS), utc(0));
        assert_eq!(utc(LAST_MS + 1), utc(0), "past the calendar: the epoch");
        // Sessions far apart whose days share a weekday, the same hour on other days, and a
        // time past the calendar: each group counts what the calendar names it.
        let t = 1_793_610_000_000;
        let data = Dataset {
            entries: [t, t + 7 * DAY_MS, t + DAY_MS, LAST_MS + 5, 3_600_000 * 25]
                .into_iter()
                .map(|at| Entry {
                    facts: facts(&[], at, at, &[]),
                    rating: None,
                })
                .collect(),
            now_ms: t,
            ..Dataset::default()
        };
        let count = |by: GroupBy| -> Vec<(String, u64)> {
            stats(&data, by)
                .into_iter()
                .map(|r| (r.key, r.count))
                .collect()
        };
        let k = |s: &str, n: u64| (s.to_string(), n);
        assert_eq!(
            count(GroupBy::Day),
            [
                k("1970-01-01", 1),
                k("1970-01-02", 1),
                k("2026-11-02", 1),
                k("2026-11-03", 1),
                k("2026-11-09", 1),
                k("total", 5)
            ]
        );
        assert_eq!(
            count(GroupBy::Weekday),
            [k("0", 2), k("1", 1), k("3", 1), k("4", 1), k("total", 5)]
        );
        assert_eq!(
            count(GroupBy::Hour),
            [k("0", 1), k("1", 1), k("9", 3), k("total", 5)]
        );
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
