//! What a report is asked for: the query (date range, channel, operator, rating, outcome,
//! grouping) as the API and the CLI send it, its validation into a [`Filter`], and the UTC
//! calendar helpers (days, weekdays, hours) the reports group by.
//!
//! Dates are UTC. `from` and `to` take a day (`2026-11-02`, both ends included) or an RFC 3339
//! time (`2026-11-02T09:30:00Z`, `to` excluded).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use super::ReportError;
use super::facts::{Outcome, SessionFacts};

/// One day (ms).
pub const DAY_MS: u64 = 86_400_000;

/// The query string of every report route (all optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day or time (UTC).
    pub from: Option<String>,
    /// Last day (included) or time (excluded), UTC.
    pub to: Option<String>,
    /// A channel id.
    pub channel: Option<String>,
    /// An operator (user) id.
    pub operator: Option<String>,
    /// 5/happy, 3/okay, 1/unhappy, 0/none (not rated).
    pub rating: Option<String>,
    /// An [`Outcome`] name.
    pub outcome: Option<String>,
    /// A [`GroupBy`] name (statistics).
    pub group_by: Option<String>,
    /// Ratings: only what the published page shows.
    pub public: Option<bool>,
    /// `csv` or `json`.
    pub format: Option<String>,
}

/// A validated selection of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Sessions started at or after this (ms).
    pub from_ms: Option<u64>,
    /// Sessions started before this (ms).
    pub to_ms: Option<u64>,
    /// Only this channel.
    pub channel: Option<Uuid>,
    /// Only sessions this operator was in.
    pub operator: Option<Uuid>,
    /// Only this rating (0: not rated).
    pub rating: Option<u8>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
}

impl Filter {
    /// Validates a query; the message says what is wrong.
    pub fn parse(q: &ReportQuery) -> Result<Filter, ReportError> {
        let from_ms = q
            .from
            .as_deref()
            .map(|s| parse_time("from", s, false))
            .transpose()?;
        let to_ms =
            q.to.as_deref()
                .map(|s| parse_time("to", s, true))
                .transpose()?;
        if let (Some(f), Some(t)) = (from_ms, to_ms)
            && f >= t
        {
            return Err(ReportError::BadQuery("from must be before to".into()));
        }
        Ok(Filter {
            from_ms,
            to_ms,
            channel: q
                .channel
                .as_deref()
                .map(|s| parse_id("channel", s))
                .transpose()?,
            operator: q
                .operator
                .as_deref()
                .map(|s| parse_id("operator", s))
                .transpose()?,
            rating: q.rating.as_deref().map(parse_rating).transpose()?,
            outcome: q.outcome.as_deref().map(str::parse).transpose()?,
        })
    }

    /// Whether a session (with its rating, if any) is selected.
    pub fn keeps(&self, f: &SessionFacts, rating: Option<u8>) -> bool {
        self.from_ms.is_none_or(|from| f.created_at_ms >= from)
            && self.to_ms.is_none_or(|to| f.created_at_ms < to)
            && self.channel.is_none_or(|c| c == f.channel_id)
            && self.operator.is_none_or(|op| f.operators.contains(&op))
            && self.rating.is_none_or(|r| r == rating.unwrap_or(0))
            && self.outcome.is_none_or(|o| o == f.outcome())
    }
}

fn parse_id(field: &str, s: &str) -> Result<Uuid, ReportError> {
    Uuid::parse_str(s.trim())
        .map_err(|_| ReportError::BadQuery(format!("{field} must be an id (a UUID), not {s:?}")))
}

/// A rating as a query names it.
pub fn parse_rating(s: &str) -> Result<u8, ReportError> {
    match s.trim() {
        "5" | "happy" => Ok(5),
        "3" | "okay" => Ok(3),
        "1" | "unhappy" => Ok(1),
        "0" | "none" => Ok(0),
        other => Err(ReportError::BadQuery(format!(
            "rating is 5 (happy), 3 (okay), 1 (unhappy) or 0 (none), not {other:?}"
        ))),
    }
}

/// A day (`YYYY-MM-DD`, its midnight; with `end`, the next midnight) or an RFC 3339 time, as
/// milliseconds since the epoch.
pub fn parse_time(field: &str, s: &str, end: bool) -> Result<u64, ReportError> {
    let s = s.trim();
    let at = if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        t
    } else {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let day = Date::parse(s, &format).map_err(|_| {
            ReportError::BadQuery(format!(
                "{field} must be a day (2026-11-02) or an RFC 3339 time, not {s:?}"
            ))
        })?;
        let midnight = day.midnight().assume_utc();
        if end {
            midnight + time::Duration::days(1)
        } else {
            midnight
        }
    };
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| ReportError::BadQuery(format!("{field} must not be before 1970")))
}

/// A time in UTC.
pub fn utc(ms: u64) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(UtcOffset::UTC)
}

/// A time as RFC 3339 (UTC).
pub fn rfc3339(ms: u64) -> String {
    utc(ms).format(&Rfc3339).unwrap_or_default()
}

/// The UTC day of a time, `YYYY-MM-DD`.
pub fn day(ms: u64) -> String {
    let d = utc(ms).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Days between the session's (UTC) day and today's, plus one.
pub fn days_of_activity(created_ms: u64, now_ms: u64) -> u64 {
    (now_ms / DAY_MS).saturating_sub(created_ms / DAY_MS) + 1
}

/// What statistics can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The channel.
    Channel,
    /// Each operator who was in the session (a session with two counts for both).
    Operator,
    /// The UTC day of the start.
    Day,
    /// The UTC weekday of the start (monday … sunday).
    Weekday,
    /// The UTC hour of the start (0 … 23).
    Hour,
    /// The visitor's country.
    Country,
    /// The visitor's language.
    Language,
    /// The outcome.
    Outcome,
}

impl GroupBy {
    const NAMES: [(&'static str, GroupBy); 8] = [
        ("channel", GroupBy::Channel),
        ("operator", GroupBy::Operator),
        ("day", GroupBy::Day),
        ("weekday", GroupBy::Weekday),
        ("hour", GroupBy::Hour),
        ("country", GroupBy::Country),
        ("language", GroupBy::Language),
        ("outcome", GroupBy::Outcome),
    ];

    /// Every grouping, in the order the CLI lists them.
    pub fn all() -> impl Iterator<Item = GroupBy> {
        GroupBy::NAMES.into_iter().map(|(_, g)| g)
    }

    /// Its name in the API's `group_by` and the CLI's `--group-by`.
    pub fn name(self) -> &'static str {
        GroupBy::NAMES
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("", |(n, _)| n)
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GroupBy {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, ReportError> {
        GroupBy::NAMES
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                ReportError::BadQuery(format!(
                    "group_by is one of channel, operator, day, weekday, hour, country, language, outcome (not {s:?})"
                ))
            })
    }
}

/// The UTC weekday of a time: its number (0 = Monday) and name.
pub fn weekday(ms: u64) -> (u8, &'static str) {
    let n = utc(ms).weekday().number_days_from_monday();
    let names = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (n, names[usize::from(n) % 7])
}

/// The UTC hour of a time.
pub fn hour(ms: u64) -> u8 {
    utc(ms).hour()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    // 2026-11-02 is a Monday.
    const NOV2: u64 = 1_793_577_600_000;

    #[test]
    fn days_are_utc_and_the_last_day_is_included() {
        assert_eq!(parse_time("from", "2026-11-02", false).unwrap(), NOV2);
        assert_eq!(parse_time("to", "2026-11-02", true).unwrap(), NOV2 + DAY_MS);
        assert_eq!(
            parse_time("from", "2026-11-02T01:00:00+01:00", false).unwrap(),
            NOV2,
            "an RFC 3339 time is exact"
        );
        assert_eq!(day(NOV2 + DAY_MS - 1), "2026-11-02");
        assert_eq!(weekday(NOV2), (0, "monday"));
        assert_eq!(weekday(NOV2 + 6 * DAY_MS).1, "sunday");
        assert_eq!(hour(NOV2 + 13 * 3_600_000 + 59 * 60_000), 13);
        assert_eq!(rfc3339(NOV2 + 1500), "2026-11-02T00:00:01.5Z");
        assert_eq!(days_of_activity(NOV2 + 23 * 3_600_000, NOV2 + DAY_MS), 2);
        assert_eq!(days_of_activity(NOV2, NOV2 + 1), 1);
    }

    #[test]
    fn a_bad_query_says_what_is_wrong() {
        let q = |f: fn(&mut ReportQuery)| {
            let mut q = ReportQuery::default();
            f(&mut q);
            Filter::parse(&q).unwrap_err().to_string()
        };
        assert!(q(|q| q.from = Some("yesterday".into())).contains("from must be a day"));
        assert!(q(|q| q.channel = Some("web".into())).contains("channel must be an id"));
        assert!(q(|q| q.rating = Some("4".into())).contains("rating is 5"));
        assert!(q(|q| q.outcome = Some("won".into())).contains("outcome is one of"));
        assert!(
            q(|q| {
                q.from = Some("2026-11-03".into());
                q.to = Some("2026-11-02".into());
            })
            .contains("before")
        );
        assert_eq!("weekday".parse::<GroupBy>().unwrap(), GroupBy::Weekday);
        assert!(
            "year"
                .parse::<GroupBy>()
                .unwrap_err()
                .to_string()
                .contains("group_by")
        );
        let ok = Filter::parse(&ReportQuery {
            from: Some("2026-11-02".into()),
            to: Some("2026-11-02".into()),
            rating: Some("none".into()),
            ..ReportQuery::default()
        })
        .unwrap();
        assert_eq!(ok.from_ms, Some(NOV2));
        assert_eq!(ok.to_ms, Some(NOV2 + DAY_MS));
        assert_eq!(ok.rating, Some(0));
    }
}
