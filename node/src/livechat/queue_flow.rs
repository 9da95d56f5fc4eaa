//! How the [`queue`](super::queue) moves: a visitor joins the line when starting a chat finds
//! every fitting operator busy ([`session_start`](super::session_start)); when a slot frees
//! (a conversation closes, an operator leaves one, an operator comes back or connects, the
//! admin changes the channel, and at every [`sweep`](super::sweeper)) the next free operator
//! by the routing rules takes the longest-waiting visitor; a visitor who ends the chat, or
//! whose page has been gone for [`QUEUE_GRACE_MS`], leaves the line (a session nobody wrote
//! in is then removed, one the visitor wrote in is closed). Every change is pushed live: each
//! waiting visitor gets `{"type":"queue", …QueuePlace}` on their session socket, the channel's
//! operators `{"type":"queue","channel_id":…,"queue":QueueView}` on theirs.
//!
//! The line itself is rebuilt at start-up from the open sessions' stored marks, so a visitor
//! waiting when the node stopped keeps their place (and gets the grace period to reconnect).

use serde_json::{Value, json};
use uuid::Uuid;

use super::channels::Channel;
use super::presence::State;
use super::queue::{
    QUEUE_GRACE_MS, Queue, QueueEntry, QueueExit, QueueMark, QueuePlace, QueueView, estimate_wait_s,
};
use super::routing::{Candidate, VisitorFacts};
use super::sessions::Session;
use super::{LiveChat, LiveChatError, Who};

/// Whether a visitor nobody can take now may wait in the channel's line: the queue is on,
/// someone is present (only busy: routing's last tier is everyone, so anyone present fits
/// once free), and the line has room. Call with the state locked.
pub(crate) fn would_take(state: &State, channel: &Channel, candidates: &[Candidate]) -> bool {
    channel.queue_limit > 0
        && candidates.iter().any(|c| c.present)
        && state.queue.len(channel.id) < channel.queue_limit as usize
}

/// Puts a session at the end of its channel's line (`queue`: the locked state's).
pub(crate) fn enqueue(queue: &mut Queue, session: &mut Session, expertise: &[String], now: u64) {
    session.queue = Some(QueueMark {
        joined_at_ms: now,
        expertise: expertise.to_vec(),
        ..QueueMark::default()
    });
    queue.join(session.channel_id, session.id, now, now);
}

/// Puts an open session at the end of its channel's line (a chatbot's forward found every
/// present operator busy); answers whether it was open. Call with the state locked.
pub(crate) fn enqueue_open(state: &mut State, id: Uuid, expertise: &[String], now: u64) -> bool {
    let st = &mut *state;
    let Some(session) = st.open.get_mut(&id) else {
        return false;
    };
    enqueue(&mut st.queue, session, expertise, now);
    true
}

/// Takes a session out of its line if it waits there; answers whether it did.
pub(crate) fn leave_line(
    queue: &mut Queue,
    session: &mut Session,
    exit: QueueExit,
    now: u64,
) -> bool {
    let Some(mark) = session.queue.as_mut().filter(|m| m.waiting()) else {
        return false;
    };
    mark.left_at_ms = Some(now);
    mark.exit = Some(exit);
    queue.remove(session.channel_id, session.id, mark.joined_at_ms);
    true
}

/// [`leave_line`] for a session still open (an operator joins it by hand).
pub(crate) fn leave_line_by_id(state: &mut State, id: Uuid, exit: QueueExit, now: u64) -> bool {
    let st = &mut *state;
    match st.open.get_mut(&id) {
        Some(s) => leave_line(&mut st.queue, s, exit, now),
        None => false,
    }
}

/// How long a closed conversation took from the moment an operator had it (ms).
fn handling_ms(s: &Session, closed_at: u64) -> u64 {
    let served = s
        .queue
        .as_ref()
        .filter(|m| m.exit == Some(QueueExit::Served))
        .and_then(|m| m.left_at_ms);
    let start = served.or(s.handover_at_ms).unwrap_or(s.created_at_ms);
    closed_at.saturating_sub(start)
}

/// Sessions the channel's present operators may hold at once.
fn slots(state: &State, channel: &Channel, now: u64) -> usize {
    let present = channel
        .operators
        .iter()
        .filter(|op| state.present(**op, now))
        .count();
    present * channel.max_sessions_per_operator.map_or(1, |c| c as usize)
}

/// The channel's line as operators see it. Call with the state locked (and pruned).
fn view_of(state: &State, channel: &Channel, now: u64) -> QueueView {
    let slots = slots(state, channel, now);
    let (average, recent) = state.queue.average_handling_ms(channel.id);
    let waiting = state
        .queue
        .line(channel.id)
        .into_iter()
        .filter_map(|id| state.open.get(&id))
        .enumerate()
        .filter_map(|(i, s)| {
            let mark = s.queue.as_ref()?;
            Some(QueueEntry {
                session_id: s.id,
                position: u32::try_from(i + 1).unwrap_or(u32::MAX),
                joined_at_ms: mark.joined_at_ms,
                waited_s: now.saturating_sub(mark.joined_at_ms) / 1000,
                estimated_wait_s: estimate_wait_s(i + 1, average, slots),
                visitor_id: s.visitor_id.clone(),
                language: s.language.clone(),
                country: s.country.clone(),
                page_url: s.page_url.clone(),
                written: s.written,
                connected: state.queue.is_connected(s.id),
            })
        })
        .collect();
    QueueView {
        channel_id: channel.id,
        limit: channel.queue_limit,
        grace_s: QUEUE_GRACE_MS / 1000,
        average_handling_s: average.map(|ms| ms.div_ceil(1000)),
        recent_conversations: recent,
        slots,
        waiting,
    }
}

/// A waiting visitor's place from their line's view.
fn place_in(view: &QueueView, entry: &QueueEntry) -> QueuePlace {
    QueuePlace {
        session_id: entry.session_id,
        status: "waiting".into(),
        position: Some(entry.position),
        queue_length: u32::try_from(view.waiting.len()).unwrap_or(u32::MAX),
        estimated_wait_s: entry.estimated_wait_s,
        joined_at_ms: entry.joined_at_ms,
    }
}

/// A session's place, whether it still waits or not (none if it never queued).
fn place_of(view: &QueueView, s: &Session) -> Option<QueuePlace> {
    let mark = s.queue.as_ref()?;
    if let Some(entry) = view.waiting.iter().find(|e| e.session_id == s.id) {
        return Some(place_in(view, entry));
    }
    let status = match mark.exit {
        Some(QueueExit::Served) => "served",
        _ => "left",
    };
    Some(QueuePlace {
        session_id: s.id,
        status: status.into(),
        position: None,
        queue_length: u32::try_from(view.waiting.len()).unwrap_or(u32::MAX),
        estimated_wait_s: None,
        joined_at_ms: mark.joined_at_ms,
    })
}

/// The visitor's `queue` event.
fn place_event(place: &QueuePlace) -> Value {
    let mut event = serde_json::to_value(place).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut event {
        map.insert("type".into(), json!("queue"));
    }
    event
}

/// At start-up, the handling-time estimate reads at most this many of the newest sessions.
const RECENT_SCAN: usize = 5_000;

impl LiveChat {
    /// The channel's line, pruned of sessions the clean-up removed. Call with the state locked.
    fn current_view(state: &mut State, channel: &Channel, now: u64) -> QueueView {
        let st = &mut *state;
        let open = &st.open;
        st.queue.prune(|id| open.contains_key(&id));
        view_of(st, channel, now)
    }

    /// A session's place in line as its visitor (or staff) may read it.
    pub fn queue_place(&self, who: Who, id: Uuid) -> Result<QueuePlace, LiveChatError> {
        let session = self.session_for(who, id)?;
        let channel = self.channel(session.channel_id)?;
        let now = self.now_ms();
        let view = Self::current_view(&mut *self.state()?, &channel, now);
        place_of(&view, &session)
            .ok_or_else(|| LiveChatError::NotFound("this session did not wait in line".into()))
    }

    /// A channel's line (the admin and the channel's operators). Visitors gone for longer
    /// than the grace period drop out first.
    pub async fn queue_view(&self, who: Who, channel_id: Uuid) -> Result<QueueView, LiveChatError> {
        who.staff()?;
        let channel = self.channel_for(who, channel_id)?;
        self.drop_gone_visitors().await?;
        let now = self.now_ms();
        Ok(Self::current_view(&mut *self.state()?, &channel, now))
    }

    /// The place of a session that just joined the line (for the start's answer).
    pub(crate) fn new_place(&self, session: &Session) -> Result<Option<QueuePlace>, LiveChatError> {
        let channel = self.channel(session.channel_id)?;
        let now = self.now_ms();
        let view = Self::current_view(&mut *self.state()?, &channel, now);
        Ok(place_of(&view, session))
    }

    /// Pushes the channel's line to its waiting visitors and its operators.
    pub(crate) fn publish_queue(&self, channel_id: Uuid) -> Result<(), LiveChatError> {
        let Ok(channel) = self.channel(channel_id) else {
            return Ok(());
        };
        let now = self.now_ms();
        let view = Self::current_view(&mut *self.state()?, &channel, now);
        for entry in &view.waiting {
            self.hub()
                .to_session(entry.session_id, &place_event(&place_in(&view, entry)));
        }
        let event = json!({"type": "queue", "channel_id": channel_id, "queue": view});
        for op in &channel.operators {
            self.hub().to_operator(*op, &event);
        }
        Ok(())
    }

    /// The next free operators take the channel's longest-waiting visitors, as long as
    /// routing finds someone for the first in line. Answers how many were taken.
    pub async fn serve_queue(&self, channel_id: Uuid) -> Result<usize, LiveChatError> {
        let Ok(channel) = self.channel(channel_id) else {
            return Ok(0);
        };
        let profiles = self.operator_profiles(&channel);
        let now = self.now_ms();
        let served: Vec<(Uuid, Uuid)> = {
            let mut state = self.state()?;
            let st = &mut *state;
            let open = &st.open;
            st.queue.prune(|id| open.contains_key(&id));
            let mut served = Vec::new();
            for id in st.queue.line(channel_id) {
                let Some(s) = st.open.get(&id) else {
                    continue;
                };
                let facts = VisitorFacts {
                    language: s.language.clone(),
                    country: s.country.clone(),
                    expertise: s
                        .queue
                        .as_ref()
                        .map(|m| m.expertise.clone())
                        .unwrap_or_default(),
                    previous_operator: self.previous_operator(s.visitor_id.as_deref(), now)?,
                };
                let candidates = st.candidates(&profiles, channel_id, now);
                let Some(op) = super::routing::choose(
                    &candidates,
                    &facts,
                    channel.max_sessions_per_operator,
                    now,
                    &mut super::random_below,
                ) else {
                    break;
                };
                let Some(s) = st.open.get_mut(&id) else {
                    continue;
                };
                leave_line(&mut st.queue, s, QueueExit::Served, now);
                s.operators.push(op);
                if !s.all_operators.contains(&op) {
                    s.all_operators.push(op);
                }
                // Taking the visitor is activity: the session counts against the cap now.
                s.last_activity_ms = now;
                // A chatbot's visitor who waited in line is handed over now.
                if s.bot.is_some() {
                    s.handover_at_ms.get_or_insert(now);
                }
                self.save_session(s)?;
                self.remember_operator(s.visitor_id.as_deref(), op, now)?;
                st.presence.entry(op).or_default().last_assigned_ms = Some(now);
                served.push((id, op));
            }
            served
        };
        if served.is_empty() {
            return Ok(0);
        }
        self.flush().await?;
        for (id, op) in &served {
            if let Some(s) = self.load_session(*id)? {
                let view = Self::current_view(&mut *self.state()?, &channel, now);
                if let Some(place) = place_of(&view, &s) {
                    self.hub().to_session(*id, &place_event(&place));
                }
            }
            self.announce_operator(*id, *op)?;
        }
        self.publish_queue(channel_id)?;
        tracing::debug!(channel = %channel_id, served = served.len(), "live chat: queue served");
        Ok(served.len())
    }

    /// Serves every line, then pushes the lines that did not move (their waits and estimates
    /// changed with time).
    pub async fn serve_all_queues(&self) -> Result<(), LiveChatError> {
        let channels = self.state()?.queue.channels();
        for c in channels {
            if self.serve_queue(c).await? == 0 {
                self.publish_queue(c)?;
            }
        }
        Ok(())
    }

    /// Visitors whose page has been gone for the grace period drop out: a session they wrote
    /// in is closed, one nobody wrote in is removed. Answers how many dropped out.
    pub async fn drop_gone_visitors(&self) -> Result<usize, LiveChatError> {
        let now = self.now_ms();
        let gone = self.state()?.queue.gone(now);
        for id in &gone {
            let written = self.state()?.open.get(id).map(|s| s.written);
            match written {
                Some(true) => {
                    self.close_session(Who::Admin, *id).await?;
                }
                Some(false) => self.forget_unwritten_queued(*id, now)?,
                None => {}
            }
        }
        Ok(gone.len())
    }

    /// Removes a waiting session nobody wrote in (as the one-hour clean-up would).
    fn forget_unwritten_queued(&self, id: Uuid, now: u64) -> Result<(), LiveChatError> {
        let channel = {
            let mut state = self.state()?;
            let st = &mut *state;
            let Some(mut s) = st.open.remove(&id) else {
                return Ok(());
            };
            leave_line(&mut st.queue, &mut s, QueueExit::Left, now);
            st.transcripts.remove(id);
            st.unwritten.remove(&(s.created_at_ms, id));
            s.channel_id
        };
        let mut erased = super::reports::privacy::Erased::default();
        self.delete_session(id, &mut erased)?;
        self.hub()
            .to_session(id, &json!({"type": "closed", "session_id": id}));
        self.publish_queue(channel)
    }

    /// After a close: the conversation's handling time is remembered for the estimates, and
    /// the freed slot takes the next visitor in line (`left_line`: the closed session was
    /// itself waiting). Failures are logged: the close itself is done.
    pub(crate) async fn queue_after_close(&self, closed: &Session, left_line: bool) {
        if let Some(at) = closed.closed_at_ms
            && !closed.all_operators.is_empty()
            && !closed.abandoned
            && let Ok(mut state) = self.state()
        {
            state
                .queue
                .handled(closed.channel_id, handling_ms(closed, at));
        }
        self.queue_moves(closed.channel_id, left_line).await;
    }

    /// A slot may have freed in the channel: serve its line, or push it when someone left.
    pub(crate) async fn queue_moves(&self, channel_id: Uuid, someone_left: bool) {
        let moved = match self.serve_queue(channel_id).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(channel = %channel_id, error = %e, "live chat: serving the queue failed");
                return;
            }
        };
        if moved == 0
            && someone_left
            && let Err(e) = self.publish_queue(channel_id)
        {
            tracing::warn!(channel = %channel_id, error = %e, "live chat: pushing the queue failed");
        }
    }

    /// An operator became present (back, or a new console): serve the lines in the
    /// background (called from synchronous code; nothing happens outside a runtime).
    pub(crate) fn operator_available_again(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let chat = self.clone();
        runtime.spawn(async move {
            if let Err(e) = chat.serve_all_queues().await {
                tracing::warn!(error = %e, "live chat: serving the queues failed");
            }
        });
    }

    /// Rebuilds the lines from the open sessions' marks (everyone's grace starts now) and the
    /// recent handling times from the newest closed sessions (at most
    /// [`RECENT_SCAN`] read, so start-up does not grow with the history). Run once at start-up.
    pub(crate) fn rebuild_queue(&self) -> Result<(), LiveChatError> {
        let now = self.now_ms();
        let mut handled: Vec<(u64, Uuid, u64)> = Vec::new();
        for s in self.repo().sessions_newest_first().take(RECENT_SCAN) {
            // Only an estimate: a damaged old record must not stop the node from starting.
            let s: Session = match s {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "live chat: a session record is unreadable; the wait estimate leaves it out");
                    continue;
                }
            };
            if let Some(at) = s.closed_at_ms
                && !s.abandoned
                && !s.all_operators.is_empty()
            {
                handled.push((at, s.channel_id, handling_ms(&s, at)));
            }
        }
        handled.sort_unstable();
        let mut state = self.state()?;
        let st = &mut *state;
        for (_, channel, ms) in handled {
            st.queue.handled(channel, ms);
        }
        for s in st.open.values() {
            if let Some(mark) = s.queue.as_ref().filter(|m| m.waiting()) {
                st.queue.join(s.channel_id, s.id, mark.joined_at_ms, now);
            }
        }
        Ok(())
    }

    /// A visitor's socket opened: a waiting visitor keeps their place while it is open (and
    /// is told their place at once; operators see their page is open). The guard counts it
    /// out when dropped.
    pub fn visitor_connected(&self, id: Uuid) -> Result<VisitorSocket, LiveChatError> {
        let now = self.now_ms();
        if let Some(channel) = self.waiting_socket(id, now, true)? {
            self.publish_queue(channel)?;
        }
        Ok(VisitorSocket {
            chat: self.clone(),
            id,
        })
    }

    /// Counts a waiting visitor's socket in or out; answers their channel when they wait.
    fn waiting_socket(
        &self,
        id: Uuid,
        now: u64,
        opened: bool,
    ) -> Result<Option<Uuid>, LiveChatError> {
        let mut state = self.state()?;
        if opened {
            state.queue.connected(id, now);
        } else {
            state.queue.disconnected(id, now);
        }
        Ok(state
            .open
            .get(&id)
            .filter(|s| s.queue.as_ref().is_some_and(QueueMark::waiting))
            .map(|s| s.channel_id))
    }
}

/// Held while a visitor's WebSocket is open; dropping it starts their grace period when it
/// was their last socket.
#[derive(Debug)]
pub struct VisitorSocket {
    chat: LiveChat,
    id: Uuid,
}

impl Drop for VisitorSocket {
    fn drop(&mut self) {
        let now = self.chat.now_ms();
        if let Ok(Some(channel)) = self.chat.waiting_socket(self.id, now, false) {
            // Operators see the page closed (the visitor's grace runs).
            let _ = self.chat.publish_queue(channel);
        }
    }
}
