//! Business hours: a channel's weekly schedule in its IANA time zone, and its holidays.
//! Parses and checks what the admin writes (`"mon-fri 09:00-17:30"`, `Europe/Paris`,
//! `2026-12-25`) and answers whether the channel is open at a given instant.
//!
//! The evaluation takes `now` (ms since the epoch) so that tests can check daylight saving
//! time edges and holidays without waiting for them; the zone rules come from the `jiff`
//! crate's bundled copy of the IANA database (the same answer on every host). Local wall-clock
//! time decides: a slot of 09:00-17:00 opens at 09:00 local time in summer and in winter.
//! Used by [`super::offline`] (the widget's check and the start of a session) and by
//! [`super::channels`] (validation of the admin's input).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::LiveChatError;
pub use crate::model::livechat_offline::{BusinessHours, Slot};

/// At most this many slots in a schedule.
pub const MAX_SLOTS: usize = 50;
/// At most this many holidays.
pub const MAX_HOLIDAYS: usize = 400;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Why a channel is closed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Outside the weekly schedule.
    OutsideHours,
    /// Today is one of the channel's holidays.
    Holiday,
}

impl Closed {
    /// The name the API shows (`closed`, `holiday`).
    pub fn name(self) -> &'static str {
        match self {
            Closed::OutsideHours => "closed",
            Closed::Holiday => "holiday",
        }
    }
}

fn day(text: &str) -> Option<u8> {
    let t = text.to_ascii_lowercase();
    FULL_DAYS
        .iter()
        .position(|f| t == *f || f.get(..3) == Some(t.as_str()))
        .and_then(|i| u8::try_from(i).ok())
}

fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl TryFrom<String> for Slot {
    type Error = String;

    fn try_from(text: String) -> Result<Slot, String> {
        Slot::parse(&text)
    }
}

impl From<Slot> for String {
    fn from(s: Slot) -> String {
        s.to_string()
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = |i: u8| DAYS.get(usize::from(i)).copied().unwrap_or("?");
        let t = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        if self.first == self.last {
            write!(f, "{} ", d(self.first))?;
        } else {
            write!(f, "{}-{} ", d(self.first), d(self.last))?;
        }
        write!(f, "{}-{}", t(self.open_min), t(self.close_min))
    }
}

impl Slot {
    /// Parses `"<day>[-<day>] HH:MM-HH:MM"`: days `mon`…`sun` (or their full English names),
    /// a range of days in week order, a closing time after the opening one (at most 24:00).
    pub fn parse(text: &str) -> Result<Slot, String> {
        let bad = |why: &str| {
            format!("schedule slot {text:?}: {why} (expected e.g. \"mon-fri 09:00-17:30\")")
        };
        let mut parts = text.split_whitespace();
        let (Some(days), Some(times), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("days and hours separated by one space"));
        };
        let (first, last) = match days.split_once('-') {
            Some((a, b)) => (day(a), day(b)),
            None => (day(days), day(days)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(bad("days are mon, tue, wed, thu, fri, sat, sun"));
        };
        if first > last {
            return Err(bad("a range of days goes from Monday towards Sunday"));
        }
        let Some((open, close)) = times.split_once('-') else {
            return Err(bad("hours are HH:MM-HH:MM"));
        };
        let (Some(open_min), Some(close_min)) = (minutes(open), minutes(close)) else {
            return Err(bad("hours are HH:MM-HH:MM, from 00:00 to 24:00"));
        };
        if close_min <= open_min {
            return Err(bad(
                "it closes after it opens (split a night into two slots)",
            ));
        }
        Ok(Slot {
            first,
            last,
            open_min,
            close_min,
        })
    }
}

/// The zone named `name` from the bundled IANA database.
pub fn time_zone(name: &str) -> Result<TimeZone, LiveChatError> {
    TimeZone::get(name).map_err(|_| {
        LiveChatError::BadInput(format!(
            "unknown time zone {name:?} (use an IANA name such as Europe/Paris)"
        ))
    })
}

fn holiday(text: &str) -> Result<Date, LiveChatError> {
    let ok = text.len() == 10 && text.as_bytes().get(4) == Some(&b'-');
    ok.then(|| text.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| {
            LiveChatError::BadInput(format!("holiday {text:?} is not a YYYY-MM-DD date"))
        })
}

/// Business hours as the admin sends them (slots as text, checked by [`validated`]).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct HoursInput {
    /// IANA time zone, e.g. `Europe/Paris`.
    #[serde(default)]
    pub time_zone: String,
    /// Opening slots, e.g. `["mon-fri 09:00-17:30", "sat 10:00-12:00"]`.
    #[serde(default)]
    pub weekly: Vec<String>,
    /// Closed dates, `YYYY-MM-DD` in the channel's zone.
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl HoursInput {
    /// The checked business hours (400 with the reason otherwise).
    pub fn checked(self) -> Result<BusinessHours, LiveChatError> {
        if self.weekly.len() > MAX_SLOTS {
            return Err(LiveChatError::BadInput(format!(
                "business hours have at most {MAX_SLOTS} slots"
            )));
        }
        let weekly = self
            .weekly
            .iter()
            .map(|s| Slot::parse(s).map_err(LiveChatError::BadInput))
            .collect::<Result<Vec<_>, _>>()?;
        validated(BusinessHours {
            time_zone: self.time_zone,
            weekly,
            holidays: self.holidays,
        })
    }
}

/// Checks what the admin gave: a known zone, at least one slot and not too many, valid
/// holidays (sorted and without repeats afterwards).
pub fn validated(mut hours: BusinessHours) -> Result<BusinessHours, LiveChatError> {
    time_zone(&hours.time_zone)?;
    if hours.weekly.is_empty() {
        return Err(LiveChatError::BadInput(
            "business hours need at least one slot (remove them to be always open)".into(),
        ));
    }
    if hours.weekly.len() > MAX_SLOTS || hours.holidays.len() > MAX_HOLIDAYS {
        return Err(LiveChatError::BadInput(format!(
            "business hours have at most {MAX_SLOTS} slots and {MAX_HOLIDAYS} holidays"
        )));
    }
    for h in &hours.holidays {
        holiday(h)?;
    }
    hours.holidays.sort();
    hours.holidays.dedup();
    Ok(hours)
}

/// Whether the channel is open at `now_ms`: `Ok(None)` when open, else why not. A zone that
/// no longer exists (stored before a database change) counts as UTC.
pub fn closed_at(hours: &BusinessHours, now_ms: u64) -> Option<Closed> {
    let tz = TimeZone::get(&hours.time_zone).unwrap_or(TimeZone::UTC);
    let ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let Ok(ts) = Timestamp::from_millisecond(ms) else {
        return Some(Closed::OutsideHours);
    };
    let local = ts.to_zoned(tz);
    let date = local.date();
    if hours
        .holidays
        .iter()
        .any(|h| h.parse::<Date>().ok() == Some(date))
    {
        return Some(Closed::Holiday);
    }
    let weekday = u8::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    let minute =
        u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    let open = hours.weekly.iter().any(|s| {
        (s.first..=s.last).contains(&weekday) && s.open_min <= minute && minute < s.close_min
    });
    (!open).then_some(Closed::OutsideHours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(utc: &str) -> u64 {
        let ts: Timestamp = utc.parse().unwrap_or_else(|e| panic!("{utc}: {e}"));
        u64::try_from(ts.as_millisecond()).unwrap_or(0)
    }

    fn paris(slots: &[&str], holidays: &[&str]) -> BusinessHours {
        validated(BusinessHours {
            time_zone: "Europe/Paris".into(),
            weekly: slots
                .iter()
                .map(|s| Slot::parse(s).unwrap_or_else(|e| panic!("{e}")))
                .collect(),
            holidays: holidays.iter().map(|h| h.to_string()).collect(),
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn slots_read_and_write_the_same_text() {
        for text in ["mon-fri 09:00-17:30", "sat 10:00-12:00", "sun 00:00-24:00"] {
            let slot = Slot::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(slot.to_string(), text);
        }
        let long = Slot::parse("Monday-Friday 9:00-17:00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(long.to_string(), "mon-fri 09:00-17:00");
    }

    #[test]
    fn bad_slots_say_what_is_wrong() {
        for (text, why) in [
            ("fri-mon 09:00-17:00", "Monday towards Sunday"),
            ("mon 17:00-09:00", "closes after it opens"),
            ("mon 09:00-25:00", "HH:MM-HH:MM"),
            ("someday 09:00-10:00", "days are"),
            ("mon09:00-10:00", "separated"),
            ("mon 9-10", "HH:MM-HH:MM"),
        ] {
            let err = Slot::parse(text).err().unwrap_or_default();
            assert!(err.contains(why), "{text}: {err}");
        }
        let bad_zone = validated(BusinessHours {
            time_zone: "Mars/Olympus".into(),
            weekly: vec![Slot::parse("mon 09:00-10:00").unwrap_or_else(|e| panic!("{e}"))],
            holidays: vec![],
        });
        assert!(matches!(bad_zone, Err(LiveChatError::BadInput(m)) if m.contains("Mars")));
        let bad_day = validated(BusinessHours {
            time_zone: "UTC".into(),
            weekly: vec![Slot::parse("mon 09:00-10:00").unwrap_or_else(|e| panic!("{e}"))],
            holidays: vec!["2026-02-30".into()],
        });
        assert!(bad_day.is_err());
    }

    #[test]
    fn the_schedule_follows_local_time_across_the_spring_dst_change() {
        // Paris moves from UTC+1 to UTC+2 at 01:00 UTC on Sunday 29 March 2026.
        let h = paris(&["sun 09:00-17:00"], &[]);
        // A week before, 08:30 UTC is 09:30 in Paris (open); 07:30 UTC is 08:30 (closed).
        assert_eq!(closed_at(&h, at("2026-03-22T08:30:00Z")), None);
        assert_eq!(
            closed_at(&h, at("2026-03-22T07:30:00Z")),
            Some(Closed::OutsideHours)
        );
        // On the day of the change 07:30 UTC is already 09:30 in Paris: open.
        assert_eq!(closed_at(&h, at("2026-03-29T07:30:00Z")), None);
        assert_eq!(
            closed_at(&h, at("2026-03-29T06:59:00Z")),
            Some(Closed::OutsideHours)
        );
        // It closes at 17:00 local, 15:00 UTC in summer.
        assert_eq!(closed_at(&h, at("2026-03-29T14:59:00Z")), None);
        assert_eq!(
            closed_at(&h, at("2026-03-29T15:00:00Z")),
            Some(Closed::OutsideHours)
        );
    }

    #[test]
    fn the_autumn_change_and_a_slot_over_the_repeated_hour() {
        // Paris goes back from UTC+2 to UTC+1 at 01:00 UTC on Sunday 25 October 2026: the
        // local hour 02:00-03:00 happens twice; a slot 02:00-03:00 is open both times.
        let h = paris(&["sun 02:00-03:00"], &[]);
        assert_eq!(
            closed_at(&h, at("2026-10-25T00:30:00Z")),
            None,
            "first 02:30"
        );
        assert_eq!(
            closed_at(&h, at("2026-10-25T01:30:00Z")),
            None,
            "second 02:30"
        );
        assert_eq!(
            closed_at(&h, at("2026-10-25T02:00:00Z")),
            Some(Closed::OutsideHours),
            "03:00 local"
        );
    }

    #[test]
    fn a_holiday_closes_the_whole_local_day() {
        let h = paris(&["mon-sun 00:00-24:00"], &["2026-12-25"]);
        // 23:30 UTC on the 24th is already the 25th in Paris.
        assert_eq!(
            closed_at(&h, at("2026-12-24T23:30:00Z")),
            Some(Closed::Holiday)
        );
        assert_eq!(closed_at(&h, at("2026-12-24T22:30:00Z")), None);
        assert_eq!(
            closed_at(&h, at("2026-12-25T22:59:00Z")),
            Some(Closed::Holiday)
        );
        assert_eq!(closed_at(&h, at("2026-12-25T23:00:00Z")), None);
    }

    #[test]
    fn weekdays_outside_every_slot_are_closed() {
        let h = paris(&["mon-fri 09:00-17:00", "sat 10:00-12:00"], &[]);
        // Saturday 5 December 2026, 10:30 Paris = 09:30 UTC (winter).
        assert_eq!(closed_at(&h, at("2026-12-05T09:30:00Z")), None);
        assert_eq!(
            closed_at(&h, at("2026-12-05T11:30:00Z")),
            Some(Closed::OutsideHours)
        );
        // Sunday: no slot.
        assert_eq!(
            closed_at(&h, at("2026-12-06T10:00:00Z")),
            Some(Closed::OutsideHours)
        );
        // Wednesday 9 December, 16:59 Paris.
        assert_eq!(closed_at(&h, at("2026-12-09T15:59:00Z")), None);
    }
}
