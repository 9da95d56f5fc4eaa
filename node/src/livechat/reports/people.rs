//! Operator analysis (per operator and channel: sessions, average duration, average rating
//! over rated sessions, average time to answer over the sessions that operator answered) and
//! customer ratings (the list with comments, and the happy / okay / unhappy shares per channel
//! and per operator). With `public`, the ratings report keeps only what the published page
//! shows: ratings of published channels that are not "visible internally only".

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::filter::rfc3339;
use super::history::{CsvRow, Dataset, cell};

/// One operator in one channel.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OperatorRow {
    /// Operator id.
    pub operator_id: Uuid,
    /// Chat name.
    pub operator: String,
    /// Channel id.
    pub channel_id: Uuid,
    /// Channel name.
    pub channel: String,
    /// Sessions the operator was in.
    pub sessions: u64,
    /// Average minutes from start to last message.
    pub avg_duration_min: Option<f64>,
    /// Rated sessions.
    pub rated: u64,
    /// Average rating of the rated sessions.
    pub avg_rating: Option<f64>,
    /// Sessions this operator answered.
    pub answered: u64,
    /// Average seconds to this operator's first message.
    pub avg_time_to_answer_s: Option<f64>,
}

#[derive(Default)]
struct Sums {
    sessions: u64,
    duration: f64,
    rated: u64,
    rating: f64,
    answered: u64,
    answer: f64,
}

fn avg(sum: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// The operator analysis, by operator name then channel name.
pub fn operators(data: &Dataset) -> Vec<OperatorRow> {
    // Summed in the order of the entries (the same sums to the last bit), looked up in a hash
    // map (a million sessions), then ordered by (operator, channel) ids as before the sort
    // by names.
    let mut sums: HashMap<(Uuid, Uuid), Sums> = HashMap::new();
    for e in &data.entries {
        let f = &e.facts;
        for op in &f.operators {
            let s = sums.entry((*op, f.channel_id)).or_default();
            s.sessions += 1;
            s.duration += f.duration_min();
            if let Some(r) = &e.rating {
                s.rated += 1;
                s.rating += f64::from(r.rating);
            }
            if let Some(t) = f.time_to_answer_of(*op) {
                s.answered += 1;
                s.answer += t;
            }
        }
    }
    let mut sums: Vec<((Uuid, Uuid), Sums)> = sums.into_iter().collect();
    sums.sort_unstable_by_key(|(ids, _)| *ids);
    let mut rows: Vec<OperatorRow> = sums
        .into_iter()
        .map(|((op, channel), s)| OperatorRow {
            operator_id: op,
            operator: data.operator_name(op),
            channel_id: channel,
            channel: data.channel_name(channel),
            sessions: s.sessions,
            avg_duration_min: avg(s.duration, s.sessions),
            rated: s.rated,
            avg_rating: avg(s.rating, s.rated),
            answered: s.answered,
            avg_time_to_answer_s: avg(s.answer, s.answered),
        })
        .collect();
    rows.sort_by(|a, b| (&a.operator, &a.channel).cmp(&(&b.operator, &b.channel)));
    rows
}

impl CsvRow for OperatorRow {
    fn header() -> Vec<&'static str> {
        vec![
            "operator_id",
            "operator",
            "channel_id",
            "channel",
            "sessions",
            "avg_duration_min",
            "rated",
            "avg_rating",
            "answered",
            "avg_time_to_answer_s",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.operator_id.to_string(),
            self.operator.clone(),
            self.channel_id.to_string(),
            self.channel.clone(),
            self.sessions.to_string(),
            cell(self.avg_duration_min),
            self.rated.to_string(),
            cell(self.avg_rating),
            self.answered.to_string(),
            cell(self.avg_time_to_answer_s),
        ]
    }
}

/// One rating with its comment.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RatingRow {
    /// The rated session.
    pub session_id: Uuid,
    /// Channel name.
    pub channel: String,
    /// Operator rated (chat name).
    pub operator: Option<String>,
    /// 5, 3 or 1.
    pub rating: u8,
    /// "happy", "okay" or "unhappy".
    pub label: String,
    /// Comment.
    pub comment: Option<String>,
    /// Hidden from the published page.
    pub internal_only: bool,
    /// Given (RFC 3339, UTC).
    pub at: String,
}

/// A channel's or operator's rating shares.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ShareRow {
    /// "channel" or "operator".
    pub by: String,
    /// The channel's or operator's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Ratings.
    pub total: u64,
    /// Happy (5) ratings.
    pub happy: u64,
    /// Okay (3) ratings.
    pub okay: u64,
    /// Unhappy (1) ratings.
    pub unhappy: u64,
    /// Happy share, percent.
    pub happy_pct: f64,
    /// Okay share, percent.
    pub okay_pct: f64,
    /// Unhappy share, percent.
    pub unhappy_pct: f64,
}

/// The customer ratings report.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RatingsReport {
    /// Ratings, oldest session first.
    pub ratings: Vec<RatingRow>,
    /// Shares per channel, then per operator.
    pub shares: Vec<ShareRow>,
}

/// A rating's word.
pub fn label(rating: u8) -> &'static str {
    match rating {
        5 => "happy",
        3 => "okay",
        _ => "unhappy",
    }
}

/// The ratings list and shares; `public` keeps only what the published page shows.
pub fn ratings(data: &Dataset, public: bool) -> RatingsReport {
    let mut list = Vec::new();
    let mut counts: BTreeMap<(u8, Uuid), [u64; 3]> = BTreeMap::new();
    for e in &data.entries {
        let Some(r) = &e.rating else { continue };
        let published = data
            .channels
            .get(&r.channel_id)
            .is_some_and(|c| c.published);
        if public && (r.internal_only || !published) {
            continue;
        }
        list.push(RatingRow {
            session_id: r.session_id,
            channel: data.channel_name(r.channel_id),
            operator: r.operator.map(|op| data.operator_name(op)),
            rating: r.rating,
            label: label(r.rating).into(),
            comment: r.comment.clone(),
            internal_only: r.internal_only,
            at: rfc3339(r.at_ms),
        });
        let slot = match r.rating {
            5 => 0,
            3 => 1,
            _ => 2,
        };
        counts.entry((0, r.channel_id)).or_default()[slot] += 1;
        if let Some(op) = r.operator {
            counts.entry((1, op)).or_default()[slot] += 1;
        }
    }
    let pct = |n: u64, total: u64| n as f64 * 100.0 / total as f64;
    let mut shares: Vec<ShareRow> = counts
        .into_iter()
        .map(|((kind, id), [happy, okay, unhappy])| {
            let total = happy + okay + unhappy;
            ShareRow {
                by: if kind == 0 { "channel" } else { "operator" }.into(),
                id,
                name: if kind == 0 {
                    data.channel_name(id)
                } else {
                    data.operator_name(id)
                },
                total,
                happy,
                okay,
                unhappy,
                happy_pct: pct(happy, total),
                okay_pct: pct(okay, total),
                unhappy_pct: pct(unhappy, total),
            }
        })
        .collect();
    shares.sort_by(|a, b| (&a.by, &a.name).cmp(&(&b.by, &b.name)));
    RatingsReport {
        ratings: list,
        shares,
    }
}

impl CsvRow for RatingRow {
    fn header() -> Vec<&'static str> {
        vec![
            "session_id",
            "channel",
            "operator",
            "rating",
            "label",
            "comment",
            "internal_only",
            "at",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.session_id.to_string(),
            self.channel.clone(),
            self.operator.clone().unwrap_or_default(),
            self.rating.to_string(),
            self.label.clone(),
            self.comment.clone().unwrap_or_default(),
            self.internal_only.to_string(),
            self.at.clone(),
        ]
    }
}

impl CsvRow for ShareRow {
    fn header() -> Vec<&'static str> {
        vec![
            "by",
            "id",
            "name",
            "total",
            "happy",
            "okay",
            "unhappy",
            "happy_pct",
            "okay_pct",
            "unhappy_pct",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.by.clone(),
            self.id.to_string(),
            self.name.clone(),
            self.total.to_string(),
            self.happy.to_string(),
            self.okay.to_string(),
            self.unhappy.to_string(),
            self.happy_pct.to_string(),
            self.okay_pct.to_string(),
            self.unhappy_pct.to_string(),
        ]
    }
}
