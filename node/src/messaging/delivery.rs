//! The delivery worker: sends each channel's outbox in send order, in batches, one batch in
//! flight per channel; an acknowledged message leaves the outbox and becomes delivered; an
//! unreachable peer is retried with backoff; a message undelivered after the give-up time is
//! marked failed.
//!
//! A channel backing off does not wait for its whole backoff once its peer is back: while it
//! waits (or an attempt hangs on a dial begun during a cut), the worker asks the network to
//! dial the peer every [`PROBE_EVERY`] (nothing is sent), and a connection established with
//! the peer (by that probe, by the peer, by anything) ends the wait at once
//! ([`Messaging::peer_connected`], fed by `node/src/reconnect.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use ochat_protocol::message::{AckStatus, MAX_MESSAGE_FRAME, MessageBatch, MessageResponse};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Messaging, MessagingError};
use crate::backoff::Backoff;
use crate::events::EventKind;
use crate::model::{MessageState, MessageView, QueuedMessage, now_ms};
use crate::network::PeerId;
use crate::peers::Target;

/// Per-channel retry bookkeeping (in memory: after a restart every channel is tried at once).
#[derive(Debug, Default)]
struct Failures {
    attempts: u32,
    not_before: Option<Instant>,
    /// The peer the last attempt went to, and its addresses (unknown when it could not be
    /// resolved).
    peer: Option<Target>,
    /// When the peer was last probed (asked to connect) while the channel failed.
    probed: Option<Instant>,
    /// When the last (failed) attempt began.
    started: Option<Instant>,
}

/// How often a channel that waits for its backoff asks the network to connect to its peer: a
/// dial that succeeds wakes the channel, so delivery resumes within about this long after a
/// link comes back, whatever the backoff has grown to.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How long a batch may go unanswered before its messages are shown as sent.
const SENT_AFTER: Duration = Duration::from_millis(100);

/// How a message of a batch was settled by its peer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Settled {
    /// The peer stored it (or had it already).
    Delivered,
    /// It will not be delivered: why, for people.
    Failed(String),
}

/// What one delivery attempt on a channel came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// A batch went and every message in it was settled.
    Sent,
    /// Nothing could go: the outbox was empty, or what is left is still being flushed.
    NothingReady,
    /// The peer could not be reached or asked for some again: the channel backs off.
    Failed,
}

impl Messaging {
    /// A connection with `peer` was established: the channels waiting to retry towards it go
    /// now rather than at the end of their backoff.
    pub fn peer_connected(&self, peer: PeerId) {
        if let Ok(mut regained) = self.inner.regained.lock() {
            regained.insert(peer, Instant::now());
        }
        self.inner.wake.notify_one();
    }

    /// Starts the delivery worker; it stops when `stop` fires.
    pub fn spawn_delivery(&self, mut stop: tokio::sync::watch::Receiver<bool>) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let in_flight: Arc<StdMutex<HashSet<Uuid>>> = Arc::default();
            let backoff: Arc<StdMutex<HashMap<Uuid, Failures>>> = Arc::default();
            loop {
                let wait = me.dispatch(&in_flight, &backoff);
                tokio::select! {
                    _ = me.inner.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        })
    }

    /// Starts a delivery for every channel with queued messages that is not busy or waiting;
    /// returns how long until the next backoff ends.
    fn dispatch(
        &self,
        in_flight: &Arc<StdMutex<HashSet<Uuid>>>,
        backoff: &Arc<StdMutex<HashMap<Uuid, Failures>>>,
    ) -> Duration {
        let mut wait = Duration::from_secs(30);
        let mut from = Some(Uuid::nil());
        let now = Instant::now();
        let regained = self
            .inner
            .regained
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        while let Some(start) = from {
            let channel = match self.inner.outbox.next_channel(start) {
                Ok(Some(channel)) => channel,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the message outbox");
                    break;
                }
            };
            // The next channel after this one, if there can be one.
            from = channel.as_u128().checked_add(1).map(Uuid::from_u128);
            let mut failing = false;
            if let Ok(mut b) = backoff.lock()
                && let Some(entry) = b.get_mut(&channel)
            {
                failing = true;
                // Connected since the failed attempt began: the peer is back.
                let back = entry.peer.as_ref().is_some_and(|t| {
                    regained
                        .get(&t.peer)
                        .is_some_and(|at| entry.started.is_some_and(|s| *at >= s))
                });
                // While the channel waits, and while an attempt hangs on a dial begun during
                // a cut, its peer is probed (a no-op once connected).
                if let Some(target) = &entry.peer {
                    if entry.probed.is_none_or(|at| now >= at + PROBE_EVERY) {
                        self.inner.network.probe(target.peer, target.addrs.clone());
                        entry.probed = Some(now);
                    }
                    wait = wait.min(PROBE_EVERY);
                }
                if let Some(until) = entry.not_before
                    && until > now
                    && !back
                {
                    wait = wait.min(until - now);
                    continue;
                }
            }
            let fresh = in_flight
                .lock()
                .map(|mut s| s.insert(channel))
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            let me = self.clone();
            let in_flight = in_flight.clone();
            let backoff = backoff.clone();
            tokio::spawn(async move {
                let releases = me.inner.unflushed.releases();
                let started = Instant::now();
                let (attempt, target) = me.deliver_batch(channel, failing).await;
                let ok = attempt != Attempt::Failed;
                if let Ok(mut b) = backoff.lock() {
                    if ok {
                        b.remove(&channel);
                    } else {
                        let entry = b.entry(channel).or_default();
                        entry.attempts = entry.attempts.saturating_add(1);
                        entry.not_before = Some(Instant::now() + me.backoff(entry.attempts));
                        entry.started = Some(started);
                        if target.is_some() {
                            entry.peer = target;
                        }
                    }
                }
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&channel);
                }
                // When everything left was still being flushed, the release that ends the
                // flush wakes the worker; looking again now would only spin until then. Unless
                // a release came while this task looked (and its wake found the channel busy).
                if attempt != Attempt::NothingReady || me.inner.unflushed.releases() != releases {
                    me.inner.wake.notify_one();
                }
            });
        }
        wait
    }

    /// base × 2^attempts (exponent at most 16), capped at `retry_max`.
    fn backoff(&self, attempts: u32) -> Duration {
        let config = &self.inner.config;
        Backoff::new(config.retry_base, config.retry_max)
            .doublings(16)
            .delay(attempts)
    }

    /// Sends the oldest queued messages of one channel. Answers [`Attempt::Failed`] when the
    /// peer could not be reached or asked for some again (the channel then backs off), and
    /// the peer it went to when it was resolved.
    /// `failing`: earlier attempts failed, so the peer's address is looked up afresh.
    async fn deliver_batch(&self, channel: Uuid, failing: bool) -> (Attempt, Option<Target>) {
        let mut target = None;
        let attempt = self.attempt_batch(channel, failing, &mut target).await;
        (attempt, target)
    }

    /// [`Messaging::deliver_batch`]'s work; `resolved` receives the peer once it is known.
    async fn attempt_batch(
        &self,
        channel: Uuid,
        failing: bool,
        resolved: &mut Option<Target>,
    ) -> Attempt {
        let (batch, expired) = match self.next_batch(channel) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(%channel, error = %e, "cannot read a channel's outbox");
                return Attempt::Failed;
            }
        };
        if !expired.is_empty() {
            let reason = format!(
                "not delivered within {} s",
                self.inner.config.give_up_after.as_secs()
            );
            if let Err(e) = self
                .settle(channel, &expired, |_| Some(Settled::Failed(reason.clone())))
                .await
            {
                tracing::error!(%channel, error = %e, "cannot record failed messages");
            }
        }
        let Some(first) = batch.first() else {
            return Attempt::NothingReady;
        };
        let remote = first.remote;
        let ids: Vec<Uuid> = batch.iter().map(|q| q.wire.id).collect();
        let tracked: Vec<Uuid> = batch
            .iter()
            .filter(|q| q.tracked)
            .map(|q| q.wire.id)
            .collect();
        let target = match self.inner.peers.target(remote, failing).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(%channel, error = %e, "peer not resolvable now");
                return Attempt::Failed;
            }
        };
        let request = MessageBatch {
            messages: batch.into_iter().map(|q| q.wire).collect(),
        };
        *resolved = Some(target.clone());
        let delivery = self
            .inner
            .network
            .deliver(target.peer, target.addrs, request);
        tokio::pin!(delivery);
        // Most batches are acknowledged within a millisecond and go straight from pending to
        // delivered; "sent" is written only for those still unanswered after a while.
        let answer = tokio::select! {
            answer = &mut delivery => answer,
            () = tokio::time::sleep(SENT_AFTER) => {
                self.mark_sent(channel, &tracked).await;
                delivery.await
            }
        };
        match answer {
            Ok(MessageResponse::Acks(acks)) => {
                let by_id: HashMap<Uuid, AckStatus> =
                    acks.into_iter().map(|a| (a.id, a.status)).collect();
                let mut retry = false;
                let result = self
                    .settle(channel, &ids, |id| match by_id.get(id) {
                        Some(AckStatus::Stored) | Some(AckStatus::Duplicate) => {
                            Some(Settled::Delivered)
                        }
                        Some(AckStatus::Rejected(reason)) => {
                            Some(Settled::Failed(format!("the peer refused it: {reason}")))
                        }
                        Some(AckStatus::Retry(_)) | None => {
                            retry = true;
                            None
                        }
                    })
                    .await;
                if let Err(e) = result {
                    tracing::error!(%channel, error = %e, "cannot record acknowledgements");
                    return Attempt::Failed;
                }
                if retry {
                    Attempt::Failed
                } else {
                    Attempt::Sent
                }
            }
            Ok(MessageResponse::Refused(reason)) => {
                tracing::debug!(%channel, %reason, "the peer refused a batch for now");
                Attempt::Failed
            }
            Err(e) => {
                tracing::debug!(%channel, error = %e, "message delivery failed; will retry");
                Attempt::Failed
            }
        }
    }

    /// The oldest queued messages of a channel, within the batch limits, up to the first that
    /// is not durable yet; and those expired.
    fn next_batch(&self, channel: Uuid) -> Result<(Vec<QueuedMessage>, Vec<Uuid>), MessagingError> {
        let give_up = self.inner.config.give_up_after.as_millis() as u64;
        let now = now_ms();
        let mut batch = Vec::new();
        let mut expired = Vec::new();
        let mut bytes = 0usize;
        let unflushed = self.inner.unflushed.held(channel);
        for q in self.inner.outbox.of_channel(channel) {
            let q = q?;
            if unflushed.contains(&q.wire.id) {
                // Not durable yet, and nothing after it is sent before it (send order).
                break;
            }
            if now.saturating_sub(q.queued_at_ms) > give_up {
                expired.push(q.wire.id);
                continue;
            }
            if !batch.is_empty()
                && (batch.len() >= self.inner.config.max_batch
                    || bytes + q.size > MAX_MESSAGE_FRAME * 3 / 4)
            {
                break;
            }
            bytes += q.size;
            batch.push(q);
        }
        Ok((batch, expired))
    }

    /// Pending → sent for the tracked messages of a batch, under the channel's lock (not
    /// flushed: a lost "sent" only shows the message as pending until its acknowledgement).
    async fn mark_sent(&self, channel: Uuid, ids: &[Uuid]) {
        let lock = self.channel_lock(channel);
        let _guard = lock.lock().await;
        let messages = &self.inner.messages;
        let mut writes = Vec::new();
        for id in ids {
            match messages.get(channel, *id) {
                Ok(Some(mut m)) if m.state == MessageState::Pending => {
                    m.state = MessageState::Sent;
                    if let Ok(record) = messages.encode(m) {
                        writes.push((*id, record));
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(%channel, error = %e, "cannot mark a message sent"),
            }
        }
        for (id, record) in writes {
            if let Err(e) = messages.put_encoded(channel, id, record) {
                tracing::warn!(%channel, error = %e, "cannot mark messages sent");
                break;
            }
        }
    }

    /// Removes settled messages from the outbox and records delivered / failed, under the
    /// channel's lock.
    /// `outcome(id)`: how it was settled, or `None` to keep it queued.
    async fn settle(
        &self,
        channel: Uuid,
        ids: &[Uuid],
        mut outcome: impl FnMut(&Uuid) -> Option<Settled>,
    ) -> Result<(), MessagingError> {
        let lock = self.channel_lock(channel);
        let guard = lock.lock().await;
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut updated = Vec::new();
        let messages = &self.inner.messages;
        for id in ids {
            let Some(result) = outcome(id) else { continue };
            if let Some(mut m) = messages.get(channel, *id)? {
                match result {
                    Settled::Delivered if m.state != MessageState::Read => {
                        m.state = MessageState::Delivered;
                        self.inner
                            .counts
                            .delivered
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Settled::Delivered => {}
                    Settled::Failed(reason) => {
                        m.state = MessageState::Failed;
                        m.failure = Some(reason);
                    }
                }
                changed.push(MessageView::from(&m));
                updated.push((*id, messages.encode(m)?));
            }
            removed.push(*id);
        }
        // Plain inserts in order, the state first (sled recovers a prefix of its log): a crash
        // in between leaves the message queued, so it is sent again and acknowledged as a
        // duplicate.
        for (id, record) in updated {
            messages.put_encoded(channel, id, record)?;
        }
        for id in removed {
            self.inner.outbox.remove(channel, id)?;
        }
        drop(guard);
        for view in changed {
            self.inner.events.message(EventKind::State, view);
        }
        Ok(())
    }

    /// Messages still queued for the channel (for tests and diagnostics).
    pub fn queued(&self, channel: Uuid) -> usize {
        self.inner.outbox.count(channel)
    }

    /// How many messages wait in the outbox in all, and when the oldest was queued (ms), for
    /// `/metrics`.
    ///
    /// # Errors
    ///
    /// [`MessagingError::Store`].
    pub fn outbox_stats(&self) -> Result<(usize, Option<u64>), MessagingError> {
        Ok(self.inner.outbox.summary()?)
    }
}
