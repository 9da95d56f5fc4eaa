//! Who can take a visitor: operators are present while one of their WebSockets is connected
//! or within 30 minutes of their last activity; their load is counted from the open sessions
//! (15 minutes of activity for the cap, counting only sessions someone wrote in; 30 for
//! "least busy"). Kept in memory: after a restart
//! nobody is present until they act again.

use std::collections::HashMap;

use uuid::Uuid;

use super::expiry::Unwritten;
use super::limits::Limits;
use super::routing::Candidate;
use super::sessions::{OpenSessions, Session};
use super::transcripts::Transcripts;
use super::{LiveChat, LiveChatError, Trees};
use crate::model::UserRecord;
use crate::store::{decode, trees};

/// Presence lasts this long after the last activity.
pub const PRESENCE_MS: u64 = 30 * 60_000;
/// A session counts against the cap while it had activity this recently.
pub const ONGOING_MS: u64 = 15 * 60_000;
/// A session counts as "busy" while it had activity this recently.
pub const ACTIVE_MS: u64 = 30 * 60_000;

/// One operator's presence.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    /// Last API call or socket activity (ms).
    pub last_active_ms: u64,
    /// Connected operator WebSockets.
    pub sockets: usize,
    /// Last time a session was assigned to them (ms).
    pub last_assigned_ms: Option<u64>,
}

/// The live chat's in-memory state.
#[derive(Debug, Default)]
pub struct State {
    /// Presence by operator.
    pub presence: HashMap<Uuid, Presence>,
    /// Open sessions by id.
    pub open: OpenSessions,
    /// Open sessions' transcripts read since they opened.
    pub transcripts: Transcripts,
    /// Open sessions nobody wrote in yet, oldest first ([`super::expiry`]).
    pub unwritten: Unwritten,
    /// Rate limits on anonymous visitors.
    pub limits: Limits,
}

impl State {
    /// Loads the sessions that are not closed.
    pub(crate) fn load(t: &Trees) -> Result<State, LiveChatError> {
        let mut open = OpenSessions::new();
        let mut unwritten = Unwritten::new();
        for value in t.sessions.iter().values() {
            let s: Session = decode(trees::LC_SESSIONS, &value?)?;
            if s.closed_at_ms.is_none() {
                let s = super::messages::caught_up(t, s)?;
                if !s.written {
                    unwritten.insert((s.created_at_ms, s.id));
                }
                open.insert(s.id, s);
            }
        }
        Ok(State {
            open,
            unwritten,
            ..State::default()
        })
    }

    /// Whether an operator is present now.
    pub fn present(&self, op: Uuid, now: u64) -> bool {
        self.presence
            .get(&op)
            .is_some_and(|p| p.sockets > 0 || now.saturating_sub(p.last_active_ms) < PRESENCE_MS)
    }

    /// Routing's view of a channel's operators.
    pub fn candidates(&self, profiles: &[UserRecord], channel: Uuid, now: u64) -> Vec<Candidate> {
        profiles
            .iter()
            .map(|u| {
                let mine = || {
                    self.open
                        .values()
                        .filter(move |s| s.operators.contains(&u.id))
                };
                // Against the cap a session counts once someone wrote in it (see `expiry`);
                // for "least busy" the tentative ones count too, so visitors spread evenly.
                let ongoing = mine()
                    .filter(|s| s.written && s.channel_id == channel)
                    .filter(|s| now.saturating_sub(s.last_activity_ms) < ONGOING_MS)
                    .count();
                let active = mine()
                    .filter(|s| now.saturating_sub(s.last_activity_ms) < ACTIVE_MS)
                    .count();
                let mut languages: Vec<String> = u.language.iter().cloned().collect();
                languages.extend(u.chat_languages.iter().cloned());
                Candidate {
                    id: u.id,
                    languages,
                    expertise: u.expertise.clone(),
                    country: u.country.clone(),
                    present: self.present(u.id, now),
                    ongoing,
                    active,
                    last_assigned_ms: self.presence.get(&u.id).and_then(|p| p.last_assigned_ms),
                }
            })
            .collect()
    }
}

/// Held while an operator's WebSocket is open; dropping it ends that connection's presence
/// (the 30 minutes then count from now).
#[derive(Debug)]
pub struct SocketPresence {
    chat: LiveChat,
    op: Uuid,
}

impl Drop for SocketPresence {
    fn drop(&mut self) {
        let now = self.chat.now_ms();
        if let Ok(mut state) = self.chat.state() {
            let p = state.presence.entry(self.op).or_default();
            p.sockets = p.sockets.saturating_sub(1);
            p.last_active_ms = now;
        }
    }
}

impl LiveChat {
    /// An operator's WebSocket opened; presence holds until the guard is dropped.
    pub fn operator_connected(&self, op: Uuid) -> Result<SocketPresence, LiveChatError> {
        let now = self.now_ms();
        let mut state = self.state()?;
        let p = state.presence.entry(op).or_default();
        p.sockets += 1;
        p.last_active_ms = now;
        Ok(SocketPresence {
            chat: self.clone(),
            op,
        })
    }

    /// Whether an operator is present now.
    pub fn is_present(&self, op: Uuid) -> Result<bool, LiveChatError> {
        let now = self.now_ms();
        Ok(self.state()?.present(op, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_ends_thirty_minutes_after_the_last_activity_unless_connected() {
        let mut state = State::default();
        let op = Uuid::from_u128(7);
        state.presence.insert(
            op,
            Presence {
                last_active_ms: 1_000,
                ..Presence::default()
            },
        );
        assert!(state.present(op, 1_000 + PRESENCE_MS - 1));
        assert!(!state.present(op, 1_000 + PRESENCE_MS));
        if let Some(p) = state.presence.get_mut(&op) {
            p.sockets = 1;
        }
        assert!(state.present(op, 1_000 + 10 * PRESENCE_MS));
        assert!(!state.present(Uuid::from_u128(8), 0));
    }
}
