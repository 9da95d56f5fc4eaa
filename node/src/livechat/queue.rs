//! The queue: when every fitting operator of a channel is busy (at the channel's cap), a new
//! visitor waits in line instead of being told that nobody is free. This module holds the line
//! itself (in memory, rebuilt from the sessions' stored [`QueueMark`]s at start-up), the
//! visitors' sockets (a visitor who leaves the page keeps their place for [`QUEUE_GRACE_MS`]),
//! the recent handling times the wait is estimated from, and the views the widget, the console
//! and the API show. What moves the line (joining, serving, leaving) is in
//! [`queue_flow`](super::queue_flow).
//!
//! **The estimate.** A channel remembers how long its last [`RECENT_HANDLED`] conversations
//! took, from the moment an operator got them (taken from the line, handed over by the chatbot,
//! or the start) to their close. With `T` their average and `S` the slots of the operators
//! present (their number times the channel's cap), a slot frees every `T / S` on average, so
//! the visitor at position `p` waits about `p × T / S`. Without any closed conversation yet, or
//! with nobody present, the estimate is *unknown* (`null`): the widget then says so rather
//! than guess.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LiveChatError;
pub use crate::model::livechat_queue::{DEFAULT_QUEUE_LIMIT, QueueExit, QueueMark};

/// A visitor whose page is gone keeps their place this long (ms), then drops out.
pub const QUEUE_GRACE_MS: u64 = 120_000;
/// The largest line an admin may allow per channel.
pub const MAX_QUEUE_LIMIT: u32 = 1_000;
/// How many recent conversations per channel the estimate averages.
pub const RECENT_HANDLED: usize = 20;

/// The live chat's lines, one per channel, with what they need.
#[derive(Debug, Default)]
pub struct Queue {
    /// Per channel: (joined at ms, session id), longest waiting first.
    lines: HashMap<Uuid, BTreeSet<(u64, Uuid)>>,
    /// Per waiting session: the visitor's open sockets and since when that count holds.
    seen: HashMap<Uuid, Seen>,
    /// Per open session with a visitor socket open, waiting or not: how many. A session that
    /// joins the line later (a chatbot's forward) starts with the sockets it already has.
    sockets: HashMap<Uuid, usize>,
    /// Per channel: how long its recent conversations took (ms), oldest first.
    handled: HashMap<Uuid, VecDeque<u64>>,
}

/// A waiting visitor's sockets.
#[derive(Debug, Clone, Copy)]
struct Seen {
    sockets: usize,
    since_ms: u64,
}

impl Queue {
    /// Puts a session at the end of its channel's line (`now`: when its grace starts).
    pub fn join(&mut self, channel: Uuid, session: Uuid, joined_at_ms: u64, now: u64) {
        self.lines
            .entry(channel)
            .or_default()
            .insert((joined_at_ms, session));
        self.seen.insert(
            session,
            Seen {
                sockets: self.sockets.get(&session).copied().unwrap_or(0),
                since_ms: now,
            },
        );
    }

    /// Takes a session out of its channel's line.
    pub fn remove(&mut self, channel: Uuid, session: Uuid, joined_at_ms: u64) {
        if let Some(line) = self.lines.get_mut(&channel) {
            line.remove(&(joined_at_ms, session));
            if line.is_empty() {
                self.lines.remove(&channel);
            }
        }
        self.seen.remove(&session);
    }

    /// A channel's waiting sessions, longest waiting first.
    pub fn line(&self, channel: Uuid) -> Vec<Uuid> {
        self.lines
            .get(&channel)
            .map(|l| l.iter().map(|(_, id)| *id).collect())
            .unwrap_or_default()
    }

    /// How many wait in a channel's line.
    pub fn len(&self, channel: Uuid) -> usize {
        self.lines.get(&channel).map_or(0, BTreeSet::len)
    }

    /// Whether nobody waits in a channel's line.
    pub fn is_empty(&self, channel: Uuid) -> bool {
        self.len(channel) == 0
    }

    /// Forgets waiting sessions that are no longer open (removed by the clean-up).
    pub fn prune(&mut self, is_open: impl Fn(Uuid) -> bool) {
        for line in self.lines.values_mut() {
            line.retain(|(_, id)| is_open(*id));
        }
        self.lines.retain(|_, line| !line.is_empty());
        self.seen.retain(|id, _| is_open(*id));
    }

    /// The channels where someone waits.
    pub fn channels(&self) -> Vec<Uuid> {
        self.lines.keys().copied().collect()
    }

    /// A visitor's socket opened.
    pub fn connected(&mut self, session: Uuid, now: u64) {
        *self.sockets.entry(session).or_default() += 1;
        if let Some(s) = self.seen.get_mut(&session) {
            s.sockets += 1;
            s.since_ms = now;
        }
    }

    /// A visitor's socket closed; with none left, their grace starts now.
    pub fn disconnected(&mut self, session: Uuid, now: u64) {
        if let Some(n) = self.sockets.get_mut(&session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.sockets.remove(&session);
            }
        }
        if let Some(s) = self.seen.get_mut(&session) {
            s.sockets = s.sockets.saturating_sub(1);
            if s.sockets == 0 {
                s.since_ms = now;
            }
        }
    }

    /// Whether a waiting visitor has a socket open.
    pub fn is_connected(&self, session: Uuid) -> bool {
        self.seen.get(&session).is_some_and(|s| s.sockets > 0)
    }

    /// Waiting sessions whose visitor has had no socket for the whole grace period.
    pub fn gone(&self, now: u64) -> Vec<Uuid> {
        self.seen
            .iter()
            .filter(|(_, s)| s.sockets == 0 && now.saturating_sub(s.since_ms) >= QUEUE_GRACE_MS)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Remembers how long one of a channel's conversations took (ms).
    pub fn handled(&mut self, channel: Uuid, ms: u64) {
        let recent = self.handled.entry(channel).or_default();
        recent.push_back(ms);
        while recent.len() > RECENT_HANDLED {
            recent.pop_front();
        }
    }

    /// The average of a channel's recent conversations (ms) and how many it covers.
    pub fn average_handling_ms(&self, channel: Uuid) -> (Option<u64>, usize) {
        let Some(recent) = self.handled.get(&channel).filter(|r| !r.is_empty()) else {
            return (None, 0);
        };
        let sum: u64 = recent.iter().sum();
        (Some(sum / recent.len() as u64), recent.len())
    }
}

/// The estimated wait (seconds) of the visitor at `position` (1 = next), from the average
/// handling time and the slots of the operators present; `None` (unknown) without either.
pub fn estimate_wait_s(position: usize, average_ms: Option<u64>, slots: usize) -> Option<u64> {
    let average = average_ms?;
    if slots == 0 || position == 0 {
        return None;
    }
    let ms = average.saturating_mul(position as u64) / slots as u64;
    Some(ms.div_ceil(1000))
}

/// Checks a channel's queue limit from the admin (0 turns the queue off).
pub fn checked_limit(limit: u32) -> Result<u32, LiveChatError> {
    if limit > MAX_QUEUE_LIMIT {
        return Err(LiveChatError::BadInput(format!(
            "queue_limit is 0 (no queue) to {MAX_QUEUE_LIMIT}"
        )));
    }
    Ok(limit)
}

/// A visitor's place, as the widget shows it (also the `queue` event on their socket).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct QueuePlace {
    /// The session.
    pub session_id: Uuid,
    /// `waiting`, `served` (an operator took the visitor) or `left`.
    pub status: String,
    /// 1 = next; none once not waiting.
    pub position: Option<u32>,
    /// How many wait in the channel's line.
    pub queue_length: u32,
    /// Estimated seconds until an operator takes the visitor; none when unknown.
    pub estimated_wait_s: Option<u64>,
    /// When the visitor joined the line (ms).
    pub joined_at_ms: u64,
}

/// One waiting visitor, as operators see the line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct QueueEntry {
    /// The session.
    pub session_id: Uuid,
    /// 1 = next.
    pub position: u32,
    /// When they joined the line (ms).
    pub joined_at_ms: u64,
    /// Seconds waited so far.
    pub waited_s: u64,
    /// Estimated seconds still to wait; none when unknown.
    pub estimated_wait_s: Option<u64>,
    /// The visitor's id, if the widget sent one.
    pub visitor_id: Option<String>,
    /// Browser language.
    pub language: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// The page they are on.
    pub page_url: String,
    /// Whether they wrote while waiting.
    pub written: bool,
    /// Whether their page is open (a visitor who left keeps the place for two minutes).
    pub connected: bool,
}

/// A channel's line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct QueueView {
    /// The channel.
    pub channel_id: Uuid,
    /// Visitors who may wait at most (0: no queue).
    pub limit: u32,
    /// Seconds a visitor who left the page keeps their place.
    pub grace_s: u64,
    /// Average seconds of the recent conversations the estimate uses; none without any.
    pub average_handling_s: Option<u64>,
    /// How many recent conversations that average covers.
    pub recent_conversations: usize,
    /// Sessions the operators present may hold at once (their number times the cap).
    pub slots: usize,
    /// The waiting visitors, longest waiting first.
    pub waiting: Vec<QueueEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_keeps_the_order_of_joining_and_forgets_who_leaves() {
        let mut q = Queue::default();
        let (c, a, b, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        q.join(c, b, 20, 20);
        q.join(c, a, 10, 10);
        q.join(c, d, 30, 30);
        assert_eq!(q.line(c), vec![a, b, d]);
        q.remove(c, a, 10);
        assert_eq!(q.line(c), vec![b, d]);
        assert_eq!(q.len(c), 2);
        q.remove(c, b, 20);
        q.remove(c, d, 30);
        assert!(q.is_empty(c));
        assert!(q.channels().is_empty());
    }

    #[test]
    fn a_visitor_without_a_page_drops_out_only_after_the_grace() {
        let mut q = Queue::default();
        let (c, a) = (Uuid::from_u128(1), Uuid::from_u128(2));
        q.join(c, a, 0, 0);
        q.connected(a, 1_000);
        assert!(q.gone(1_000_000).is_empty(), "connected visitors stay");
        q.disconnected(a, 5_000);
        assert!(q.gone(5_000 + QUEUE_GRACE_MS - 1).is_empty());
        q.connected(a, 6_000);
        q.disconnected(a, 7_000);
        assert!(
            q.gone(5_000 + QUEUE_GRACE_MS).is_empty(),
            "coming back resets it"
        );
        assert_eq!(q.gone(7_000 + QUEUE_GRACE_MS), vec![a]);
    }

    #[test]
    fn a_visitor_who_joins_the_line_with_the_page_open_keeps_the_place() {
        // A chatbot's visitor opened the page before the bot's forward put them in line.
        let mut q = Queue::default();
        let (c, a) = (Uuid::from_u128(1), Uuid::from_u128(2));
        q.connected(a, 0);
        q.join(c, a, 1_000, 1_000);
        assert!(q.is_connected(a));
        assert!(q.gone(1_000 + 10 * QUEUE_GRACE_MS).is_empty());
        q.disconnected(a, 2_000);
        assert_eq!(q.gone(2_000 + QUEUE_GRACE_MS), vec![a]);
        q.remove(c, a, 1_000);
        assert!(q.sockets.is_empty(), "nothing is kept of a closed page");
    }

    #[test]
    fn the_wait_is_position_times_handling_over_slots_or_unknown() {
        assert_eq!(estimate_wait_s(1, None, 2), None, "no data: unknown");
        assert_eq!(estimate_wait_s(1, Some(600_000), 0), None, "nobody present");
        assert_eq!(estimate_wait_s(1, Some(600_000), 1), Some(600));
        assert_eq!(estimate_wait_s(2, Some(600_000), 1), Some(1_200));
        assert_eq!(estimate_wait_s(3, Some(600_000), 2), Some(900));
        let mut q = Queue::default();
        let c = Uuid::from_u128(1);
        assert_eq!(q.average_handling_ms(c), (None, 0));
        for ms in 0..(RECENT_HANDLED as u64 + 5) {
            q.handled(c, ms * 1_000);
        }
        // Only the last 20 (5 000 … 24 000 ms) count.
        assert_eq!(q.average_handling_ms(c), (Some(14_500), RECENT_HANDLED));
    }

    #[test]
    fn a_limit_past_the_maximum_is_refused() {
        assert!(checked_limit(0).is_ok());
        assert!(checked_limit(MAX_QUEUE_LIMIT).is_ok());
        assert!(checked_limit(MAX_QUEUE_LIMIT + 1).is_err());
    }
}
