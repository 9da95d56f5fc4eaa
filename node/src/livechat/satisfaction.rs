//! A channel's satisfaction, as Odoo shows it: the share of happy ratings (5) among the
//! ratings given in the last [`DEFAULT_DAYS`] days (the window is a parameter). Staff read it
//! over every rating ([`LiveChat::satisfaction`], the API, the CLI, the console's channel
//! list); the public ratings page over the public ones only, so a rating marked "visible
//! internally only" never shows there in any form.
//!
//! Used by `api::livechat` (`GET …/channels/{id}/satisfaction`, `GET …/satisfaction`),
//! [`channels`](super::channels) (the list) and `web::ratings_page`.

use serde::Serialize;
use uuid::Uuid;

use super::ratings::Rating;
use super::{LiveChat, LiveChatError, Who};

/// The window when none is given (days).
pub const DEFAULT_DAYS: u32 = 14;
/// The longest window (days).
pub const MAX_DAYS: u32 = 3650;
const DAY_MS: u64 = 86_400_000;

/// A channel's satisfaction over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    /// The channel.
    pub channel_id: Uuid,
    /// Its name.
    pub channel_name: String,
    /// The window (days back from now).
    pub days: u32,
    /// Ratings given in the window.
    pub ratings: usize,
    /// Of which happy (5).
    pub happy: usize,
    /// Okay (3).
    pub okay: usize,
    /// Unhappy (1).
    pub unhappy: usize,
    /// Happy ratings as a rounded percentage of all; `None` without ratings.
    pub percent: Option<u32>,
}

/// Checks a window given by a caller (a whole number of days, 1 to [`MAX_DAYS`]);
/// [`DEFAULT_DAYS`] when `None`.
pub fn window(days: Option<&str>) -> Result<u32, LiveChatError> {
    let Some(text) = days else {
        return Ok(DEFAULT_DAYS);
    };
    match text.trim().parse::<u32>() {
        Ok(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
        _ => Err(LiveChatError::BadInput(format!(
            "days is a window of 1 to {MAX_DAYS} whole days (not {text:?})"
        ))),
    }
}

/// The satisfaction of `ratings` (already of one channel) given since `since_ms`.
pub(crate) fn of(
    channel: (Uuid, &str),
    days: u32,
    since_ms: u64,
    ratings: &[Rating],
) -> Satisfaction {
    of_values(
        channel,
        days,
        since_ms,
        ratings.iter().map(|r| (r.rating, r.at_ms)),
    )
}

/// The satisfaction of (rating, given at ms) pairs given since `since_ms`.
pub fn of_values(
    channel: (Uuid, &str),
    days: u32,
    since_ms: u64,
    ratings: impl Iterator<Item = (u8, u64)>,
) -> Satisfaction {
    let recent: Vec<u8> = ratings
        .filter(|(_, at)| *at >= since_ms)
        .map(|(v, _)| v)
        .collect();
    let count = |v: u8| recent.iter().filter(|r| **r == v).count();
    let (happy, okay, unhappy) = (count(5), count(3), count(1));
    let total = recent.len();
    Satisfaction {
        channel_id: channel.0,
        channel_name: channel.1.to_string(),
        days,
        ratings: total,
        happy,
        okay,
        unhappy,
        percent: (total > 0).then(|| ((happy * 200 + total) / (2 * total)) as u32),
    }
}

impl LiveChat {
    /// The start of a window of `days` ending now (ms).
    pub fn window_start(&self, days: u32) -> u64 {
        self.now_ms().saturating_sub(u64::from(days) * DAY_MS)
    }

    /// Every rating, by channel.
    pub fn ratings_by_channel(
        &self,
    ) -> Result<std::collections::HashMap<Uuid, Vec<Rating>>, LiveChatError> {
        let mut map: std::collections::HashMap<Uuid, Vec<Rating>> = Default::default();
        for r in self.repo().ratings()? {
            map.entry(r.channel_id).or_default().push(r);
        }
        Ok(map)
    }

    /// One channel's satisfaction over the last `days` (members of the channel and the admin).
    pub fn satisfaction(
        &self,
        who: Who,
        channel: Uuid,
        days: Option<&str>,
    ) -> Result<Satisfaction, LiveChatError> {
        let days = window(days)?;
        let c = self.channel_for(who, channel)?;
        let ratings = self.channel_ratings(who, channel)?;
        Ok(of((c.id, &c.name), days, self.window_start(days), &ratings))
    }

    /// A published channel's satisfaction over its public ratings only (what the public
    /// ratings page shows).
    pub fn public_satisfaction(
        &self,
        channel: Uuid,
        days: u32,
        public: &[super::ratings::PublicRating],
    ) -> Result<Satisfaction, LiveChatError> {
        let c = self.channel(channel)?;
        Ok(of_values(
            (c.id, &c.name),
            days,
            self.window_start(days),
            public.iter().map(|r| (r.rating, r.at_ms)),
        ))
    }

    /// The published channels (id, name), by name.
    pub fn published_channels(&self) -> Result<Vec<(Uuid, String)>, LiveChatError> {
        let channels: Vec<super::channels::Channel> = self.repo().channels()?;
        let mut out: Vec<(Uuid, String)> = channels
            .into_iter()
            .filter(|c| c.published)
            .map(|c| (c.id, c.name))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The satisfaction of every channel the caller may read, over the last `days`.
    pub fn satisfaction_all(
        &self,
        who: Who,
        days: Option<&str>,
    ) -> Result<Vec<Satisfaction>, LiveChatError> {
        let days = window(days)?;
        let since = self.window_start(days);
        let mut by_channel = self.ratings_by_channel()?;
        let mut out = Vec::new();
        who.staff()?;
        let channels: Vec<super::channels::Channel> = self.repo().channels()?;
        for c in channels {
            if self.channel_for(who, c.id).is_err() {
                continue;
            }
            let ratings = by_channel.remove(&c.id).unwrap_or_default();
            out.push(of((c.id, &c.name), days, since, &ratings));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(value: u8, at_ms: u64) -> Rating {
        Rating {
            session_id: Uuid::now_v7(),
            channel_id: Uuid::nil(),
            rating: value,
            comment: None,
            operator: None,
            internal_only: false,
            at_ms,
        }
    }

    #[test]
    fn the_share_of_happy_ratings_counts_only_the_window() {
        let list = [
            rating(5, 100),
            rating(5, 200),
            rating(1, 300),
            rating(5, 10),
        ];
        let s = of((Uuid::nil(), "Support"), 14, 100, &list);
        assert_eq!((s.ratings, s.happy, s.okay, s.unhappy), (3, 2, 0, 1));
        assert_eq!(s.percent, Some(67));
        assert_eq!(of((Uuid::nil(), "Support"), 14, 1_000, &list).percent, None);
    }

    #[test]
    fn a_window_is_one_day_to_ten_years() {
        assert_eq!(window(None).unwrap(), 14);
        assert_eq!(window(Some("30")).unwrap(), 30);
        assert!(window(Some("0")).is_err());
        assert!(window(Some("3651")).is_err());
        assert!(window(Some("two weeks")).is_err());
    }
}
