//! Who can take a visitor: operators are present within 30 minutes of their last activity
//! (as in Odoo: an idle console does not keep them present). Activity is what the operator
//! does: logging in, opening the console's events socket, any API request or socket message
//! they send, and what the console reports of their input and focus
//! (`POST /api/v1/livechat/operator/activity`); not what the console does by itself (a
//! reconnect after a drop and the catching up that follows say so, see `api::auth`). Thirty minutes without any makes them "away":
//! no new visitors are routed to them, and the [`sweeper`](super::sweeper) tells their open
//! console `{"type":"presence","status":"away"}`; their next activity makes them available
//! again (`"status":"online"`). Their load is counted from the open sessions (15 minutes of
//! activity for the cap, counting only sessions someone wrote in; 30 for "least busy").
//!
//! What routing and the away announcement read survives a restart: the last activity, the
//! "told they are away" flag and the last assignment are written to the store
//! (`store::livechat::presence`) whenever the flag or the assignment changes, and the last
//! activity at most once every [`SAVE_ACTIVITY_EVERY_MS`] per operator, so a busy operator's
//! keystrokes cost no disk write, let alone a flush (sled writes its log out in the background;
//! the node's shutdown writes every operator's exact presence). After a restart an operator
//! who was away is still away, one who was present stays present until 30 minutes after their
//! last activity, and an operator given a visitor just before the restart is still skipped for
//! the next one (routing's 2-minute rule).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::expiry::Unwritten;
use super::limits::Limits;
use super::routing::Candidate;
use super::sessions::{OpenSessions, Session};
use super::transcripts::Transcripts;
use super::{LiveChat, LiveChatError, Who};
use crate::model::UserRecord;
use crate::store::StoreError;
use crate::store::livechat::LiveChatStore;
use crate::store::livechat::presence::PresenceRecord;

/// Presence lasts this long after the last activity.
pub const PRESENCE_MS: u64 = 30 * 60_000;
/// A session counts against the cap while it had activity this recently.
pub const ONGOING_MS: u64 = 15 * 60_000;
/// A session counts as "busy" while it had activity this recently.
pub const ACTIVE_MS: u64 = 30 * 60_000;
/// The stored last activity is brought up to date at most this often per operator (a crash
/// may make an operator turn away this much early).
pub const SAVE_ACTIVITY_EVERY_MS: u64 = 60_000;

/// One operator's presence.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    /// Last API call or socket activity (ms).
    pub last_active_ms: u64,
    /// Connected operator WebSockets (they no longer keep the operator present by themselves).
    pub sockets: usize,
    /// Whether the operator was told they are away (and not told since that they are back).
    pub away_announced: bool,
    /// Last time a session was assigned to them (ms).
    pub last_assigned_ms: Option<u64>,
    /// What the store holds for them (None: nothing yet).
    pub saved: Option<PresenceRecord>,
}

impl Presence {
    /// What is stored of it.
    fn record(&self) -> PresenceRecord {
        PresenceRecord {
            last_active_ms: self.last_active_ms,
            away_announced: self.away_announced,
            last_assigned_ms: self.last_assigned_ms,
        }
    }
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
    /// The lines of visitors waiting for a busy channel ([`super::queue`]).
    pub queue: super::queue::Queue,
}

impl State {
    /// Loads the sessions that are not closed (from their index: closed ones are not read).
    pub(crate) fn load(repo: &LiveChatStore) -> Result<State, LiveChatError> {
        let mut open = OpenSessions::new();
        let mut unwritten = Unwritten::new();
        for s in repo.open_sessions() {
            let s: Session = s?;
            let s = super::messages::caught_up(repo, s)?;
            if !s.written {
                unwritten.insert((s.created_at_ms, s.id));
            }
            open.insert(s.id, s);
        }
        let presence = repo
            .presences()?
            .into_iter()
            .map(|(op, r)| {
                let p = Presence {
                    last_active_ms: r.last_active_ms,
                    sockets: 0,
                    away_announced: r.away_announced,
                    last_assigned_ms: r.last_assigned_ms,
                    saved: Some(r),
                };
                (op, p)
            })
            .collect();
        Ok(State {
            open,
            unwritten,
            presence,
            ..State::default()
        })
    }

    /// Records that `op` was given a session at `now`, and stores it (routing reads it).
    pub(crate) fn assigned(
        &mut self,
        repo: &LiveChatStore,
        op: Uuid,
        now: u64,
    ) -> Result<(), StoreError> {
        self.presence.entry(op).or_default().last_assigned_ms = Some(now);
        self.save_presence(repo, op, false)
    }

    /// Writes `op`'s presence when it changed in a way that matters: the away flag or the
    /// last assignment, or the last activity by a minute or more (`all`: any change, at
    /// shutdown). Never flushes (see the module notes).
    pub(crate) fn save_presence(
        &mut self,
        repo: &LiveChatStore,
        op: Uuid,
        all: bool,
    ) -> Result<(), StoreError> {
        let Some(p) = self.presence.get_mut(&op) else {
            return Ok(());
        };
        let now = p.record();
        let due = match p.saved {
            None => true,
            Some(saved) if saved == now => false,
            Some(saved) => {
                all || saved.away_announced != now.away_announced
                    || saved.last_assigned_ms != now.last_assigned_ms
                    || now.last_active_ms.saturating_sub(saved.last_active_ms)
                        >= SAVE_ACTIVITY_EVERY_MS
            }
        };
        if due {
            repo.put_presence(op, &now)?;
            p.saved = Some(now);
        }
        Ok(())
    }

    /// Whether an operator is present now: active in the last 30 minutes.
    pub fn present(&self, op: Uuid, now: u64) -> bool {
        self.presence
            .get(&op)
            .is_some_and(|p| now.saturating_sub(p.last_active_ms) < PRESENCE_MS)
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
                // A visitor taken from the queue counts at once: they waited for this slot.
                let ongoing = mine()
                    .filter(|s| (s.written || s.queue.is_some()) && s.channel_id == channel)
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

/// An operator's presence as their console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PresenceView {
    /// `online` (available for new visitors) or `away`.
    pub status: PresenceStatus,
    /// The last activity (ms).
    pub last_active_ms: u64,
    /// When they turn away without further activity (ms).
    pub away_at_ms: u64,
}

/// Available for new visitors, or not (30 minutes without activity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Active in the last 30 minutes.
    Online,
    /// Idle for 30 minutes or more.
    Away,
}

/// Held while an operator's WebSocket is open; dropping it counts the socket out.
#[derive(Debug)]
pub struct SocketPresence {
    chat: LiveChat,
    op: Uuid,
}

impl Drop for SocketPresence {
    fn drop(&mut self) {
        if let Ok(mut state) = self.chat.state() {
            // A deleted user's presence is gone: their last socket closing does not bring
            // it back (the shutdown would store it again).
            if let Some(p) = state.presence.get_mut(&self.op) {
                p.sockets = p.sockets.saturating_sub(1);
            }
        }
    }
}

impl LiveChat {
    /// An operator's WebSocket opened (opening the console is activity, `acting`; a console
    /// reconnecting by itself is not); the guard counts it out when dropped.
    pub fn operator_connected(
        &self,
        op: Uuid,
        acting: bool,
    ) -> Result<SocketPresence, LiveChatError> {
        if acting {
            self.touch(op)?;
        }
        self.state()?.presence.entry(op).or_default().sockets += 1;
        Ok(SocketPresence {
            chat: self.clone(),
            op,
        })
    }

    /// Marks an operator active now (presence lasts 30 minutes after the last activity). An
    /// operator who had been told they are away is told they are back.
    pub fn touch(&self, user: Uuid) -> Result<(), LiveChatError> {
        self.touch_view(user).map(|_| ())
    }

    /// [`LiveChat::touch`], answering the operator's presence afterwards.
    fn touch_view(&self, user: Uuid) -> Result<PresenceView, LiveChatError> {
        let now = self.now_ms();
        let (back, was_present) = {
            let mut state = self.state()?;
            let was_present = state.present(user, now);
            let p = state.presence.entry(user).or_default();
            p.last_active_ms = now;
            let back = std::mem::replace(&mut p.away_announced, false);
            state.save_presence(self.repo(), user, false)?;
            (back, was_present)
        };
        if !was_present {
            // Someone waiting in line may be theirs now.
            self.operator_available_again();
        }
        let view = PresenceView {
            status: PresenceStatus::Online,
            last_active_ms: now,
            away_at_ms: now.saturating_add(PRESENCE_MS),
        };
        if back {
            self.hub().to_operator(user, &presence_event(&view));
        }
        Ok(view)
    }

    /// The console reports the operator's input or focus: they are active (available again
    /// if they were away). Operators only.
    pub fn operator_activity(&self, who: Who) -> Result<PresenceView, LiveChatError> {
        let op = who.operator().ok_or_else(|| {
            LiveChatError::Forbidden("activity is reported with an operator's token".into())
        })?;
        self.touch_view(op)
    }

    /// Tells every operator who just passed 30 minutes without activity that they are away
    /// (once); answers how many were told. Run by the [`sweeper`](super::sweeper).
    pub fn announce_away(&self) -> Result<usize, LiveChatError> {
        let now = self.now_ms();
        let gone: Vec<(Uuid, u64)> = {
            let mut state = self.state()?;
            let gone: Vec<(Uuid, u64)> = state
                .presence
                .iter_mut()
                .filter(|(_, p)| {
                    !p.away_announced && now.saturating_sub(p.last_active_ms) >= PRESENCE_MS
                })
                .map(|(op, p)| {
                    p.away_announced = true;
                    (*op, p.last_active_ms)
                })
                .collect();
            for (op, _) in &gone {
                state.save_presence(self.repo(), *op, false)?;
            }
            gone
        };
        for (op, last) in &gone {
            let view = PresenceView {
                status: PresenceStatus::Away,
                last_active_ms: *last,
                away_at_ms: last.saturating_add(PRESENCE_MS),
            };
            self.hub().to_operator(*op, &presence_event(&view));
        }
        Ok(gone.len())
    }

    /// Writes every operator's exact presence (at shutdown; the store's flush follows).
    pub(crate) fn save_all_presence(&self) -> Result<(), LiveChatError> {
        let mut state = self.state()?;
        let ops: Vec<Uuid> = state.presence.keys().copied().collect();
        for op in ops {
            state.save_presence(self.repo(), op, true)?;
        }
        Ok(())
    }

    /// Whether an operator is present now.
    pub fn is_present(&self, op: Uuid) -> Result<bool, LiveChatError> {
        let now = self.now_ms();
        Ok(self.state()?.present(op, now))
    }
}

/// The operator socket's presence event.
fn presence_event(view: &PresenceView) -> Value {
    json!({"type": "presence", "status": view.status, "last_active_ms": view.last_active_ms,
        "away_at_ms": view.away_at_ms})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_ends_thirty_minutes_after_the_last_activity_even_when_connected() {
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
        assert!(!state.present(op, 1_000 + PRESENCE_MS));
        assert!(!state.present(Uuid::from_u128(8), 0));
    }
}
