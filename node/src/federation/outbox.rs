//! Delivery of handshake steps, and Sync Status.
//!
//! The outbox worker scans the `outbox` tree, sends every due step on its own task, and on
//! failure reschedules it with exponential backoff (base × 2^attempts, capped, with jitter).
//! A step leaves the outbox only when the peer answers that it stored it (or refuses it for
//! good). Because steps are stored, a restart resumes delivery where it stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use ochat_protocol::connection::{self, Direction, Event as Transition, Status};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{
    ConnectionCancel, Envelope, HandshakeBody, HandshakeResponse, RefusalCode, RemoteView,
    StatusQuery,
};
use tokio::task::JoinHandle;
use tokio::time::sleep;

use super::{Federation, FederationError};
use crate::backoff::Backoff;
use crate::events::EventKind;
use crate::model::{ConnectionRecord, ConnectionView, OutboxItem, Step, now_ms};
use crate::network::peer_id_of;
use crate::peers::Resolution;
use crate::store::connections::Change;

/// What became of one delivery attempt.
enum Attempt {
    Delivered,
    /// Delivered, and the peer's decision came back with it and is stored (the step is gone).
    Answered,
    /// Give up on this step for good, with a reason for people.
    Dropped(String),
    /// The UUID is unknown: the request goes to Not Found.
    NotFound,
    /// Try again later.
    Retry(String),
}

impl Federation {
    /// Starts the outbox worker and the periodic Sync Status; they stop when `stop` fires.
    pub fn spawn_workers(&self, stop: tokio::sync::watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let outbox = {
            let me = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move { me.outbox_loop(stop).await })
        };
        let sync = {
            let me = self.clone();
            tokio::spawn(async move { me.sync_loop(stop).await })
        };
        vec![outbox, sync]
    }

    /// A connection with `peer` was established: the handshake steps waiting to retry
    /// towards it are due now rather than at the end of their backoff.
    pub fn peer_connected(&self, peer: crate::network::PeerId) {
        let items = match self.inner.connections.outbox() {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return;
            }
        };
        let now = now_ms();
        let mut due = false;
        for mut item in items {
            if item.next_attempt_ms <= now
                || self.inner.peers.pinned_peer(item.remote) != Some(peer)
            {
                continue;
            }
            item.next_attempt_ms = now;
            match self.inner.connections.reschedule(&item) {
                Ok(()) => due = true,
                Err(e) => tracing::error!(error = %e, "cannot reschedule a handshake step"),
            }
        }
        if due {
            self.inner.wake.notify_one();
        }
    }

    async fn outbox_loop(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let in_flight: Arc<StdMutex<HashSet<Vec<u8>>>> = Arc::default();
        loop {
            let mut wait = Duration::from_secs(30);
            match self.inner.connections.outbox() {
                Ok(items) => {
                    let now = now_ms();
                    for item in items {
                        let key = OutboxItem::key(item.connection_id, item.step);
                        if item.next_attempt_ms > now {
                            wait = wait.min(Duration::from_millis(item.next_attempt_ms - now));
                            continue;
                        }
                        let fresh = match in_flight.lock() {
                            Ok(mut set) => set.insert(key.clone()),
                            Err(_) => false,
                        };
                        if !fresh {
                            continue;
                        }
                        let me = self.clone();
                        let in_flight = in_flight.clone();
                        tokio::spawn(async move {
                            me.deliver(item).await;
                            if let Ok(mut set) = in_flight.lock() {
                                set.remove(&key);
                            }
                            me.inner.wake.notify_one();
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the outbox"),
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn sync_loop(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = sleep(self.inner.config.sync_interval) => {}
                _ = stop.changed() => return,
            }
            let pending = match self.inner.connections.all() {
                Ok(all) => all,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list connections for Sync Status");
                    continue;
                }
            };
            for c in pending
                .iter()
                .filter(|c| c.state.direction == Direction::Outgoing)
            {
                let result = match c.state.status {
                    Status::Pending => self.sync(&c.id.to_string()).await.map(|_| ()),
                    // A UUID that was unknown may have registered since: send the request then.
                    Status::NotFound => {
                        match self
                            .inner
                            .peers
                            .resolve(InstanceId(c.state.remote), true)
                            .await
                        {
                            Resolution::Found(_) => self.retry(&c.id.to_string()).await.map(|_| ()),
                            _ => Ok(()),
                        }
                    }
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::info!(connection = %c.id, error = %e, "automatic Sync Status failed");
                }
            }
        }
    }

    async fn deliver(&self, item: OutboxItem) {
        let attempt = self.attempt(&item).await;
        let result = match attempt {
            Attempt::Delivered => self.delivered(&item).await,
            Attempt::Answered => Ok(()),
            Attempt::Dropped(reason) => {
                tracing::warn!(connection = %item.connection_id, step = ?item.step, %reason, "gave up delivering a handshake step");
                self.finish(&item, Some(reason), false).await
            }
            Attempt::NotFound => self.not_found(&item).await,
            Attempt::Retry(reason) => {
                let mut next = item.clone();
                next.attempts = item.attempts.saturating_add(1);
                next.next_attempt_ms = now_ms() + self.backoff(next.attempts);
                tracing::debug!(connection = %item.connection_id, step = ?item.step, %reason, attempts = next.attempts, "delivery will be retried");
                let r = self.inner.connections.reschedule(&next);
                self.note_error(&item, &reason).await;
                r.map_err(FederationError::from)
            }
        };
        if let Err(e) = result {
            tracing::error!(connection = %item.connection_id, error = %e, "outbox bookkeeping failed");
        }
    }

    /// Milliseconds until the next try: base × 2^attempts (exponent at most 20), capped, ±10 %
    /// jitter so many nodes do not retry in lockstep; base and cap at millisecond precision.
    fn backoff(&self, attempts: u32) -> u64 {
        let whole_ms = |d: Duration| Duration::from_millis(d.as_millis() as u64);
        let backoff = Backoff::new(
            whole_ms(self.inner.config.retry_base),
            whole_ms(self.inner.config.retry_max),
        )
        .doublings(20)
        .jittered();
        backoff.delay(attempts).as_millis() as u64
    }

    async fn attempt(&self, item: &OutboxItem) -> Attempt {
        let record = match self.inner.connections.load(&item.connection_id) {
            Ok(Some(r)) => r,
            Ok(None) => return Attempt::Dropped("the connection no longer exists".into()),
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let body = match self.step_body(&record, item.step) {
            Ok(Some(body)) => body,
            Ok(None) => return Attempt::Dropped("nothing left to deliver".into()),
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let target = match self
            .inner
            .peers
            .resolve(item.remote, item.attempts > 0)
            .await
        {
            Resolution::Found(t) => t,
            Resolution::NotFound if item.step == Step::Request => return Attempt::NotFound,
            Resolution::NotFound => return Attempt::Retry("the peer is unknown".into()),
            Resolution::Unavailable(e) => return Attempt::Retry(e.to_string()),
        };
        let envelope = Envelope {
            record: self.record(),
            body,
        };
        let expected_peer = target.peer;
        match self
            .inner
            .network
            .request(target.peer, target.addrs, envelope)
            .await
        {
            Ok(HandshakeResponse::Stored) => Attempt::Delivered,
            Ok(HandshakeResponse::Confirmed { mac }) if item.step == Step::Answer => {
                match self.on_confirmation(record.id, &mac).await {
                    Ok(()) => Attempt::Delivered,
                    Err(e) => Attempt::Retry(e.to_string()),
                }
            }
            Ok(
                HandshakeResponse::Confirmed { .. }
                | HandshakeResponse::Rekeyed(_)
                | HandshakeResponse::RekeyStale { .. },
            ) => Attempt::Retry("the peer answered out of turn".into()),
            Ok(HandshakeResponse::Status { record, view }) if item.step == Step::Request => {
                self.decided_at_once(item, expected_peer, &record, view)
                    .await
            }
            Ok(HandshakeResponse::Refused { code, message }) => match code {
                RefusalCode::RateLimited | RefusalCode::Internal => {
                    Attempt::Retry(format!("the peer refused for now: {message}"))
                }
                _ => Attempt::Dropped(format!("the peer refused it: {message}")),
            },
            Ok(HandshakeResponse::Status { .. }) => {
                Attempt::Retry("the peer answered out of turn".into())
            }
            Err(e) => Attempt::Retry(format!("the peer is unreachable: {e}")),
        }
    }

    /// The peer answered our request with its decision (an automatic acceptance, or a retried
    /// request that was decided meanwhile): store it as if it had been pushed.
    async fn decided_at_once(
        &self,
        item: &OutboxItem,
        expected_peer: libp2p::PeerId,
        record: &ochat_protocol::record::SignedRecord,
        view: RemoteView,
    ) -> Attempt {
        let their = match self.peer_record(record, expected_peer, item.remote) {
            Ok(their) => their,
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        // As for a pushed answer: keep the record (its addresses and pre-key) for later contact.
        if let Err(e) = self.inner.peers.remember(&their.uuid, record, their.seq) {
            tracing::warn!(error = %e, "could not cache a peer record");
        }
        match view {
            RemoteView::Decided(answer) => match self.on_answer(&their, &answer).await {
                Ok(HandshakeResponse::Stored | HandshakeResponse::Confirmed { .. }) => {
                    Attempt::Answered
                }
                // A decision that does not verify or fit is not retried into a loop: the
                // request is ended with the reason (Sync Status can still ask later).
                Ok(HandshakeResponse::Refused { message, .. }) => {
                    Attempt::Dropped(format!("the peer's decision was refused: {message}"))
                }
                Ok(
                    HandshakeResponse::Status { .. }
                    | HandshakeResponse::Rekeyed(_)
                    | HandshakeResponse::RekeyStale { .. },
                ) => Attempt::Delivered,
                // The connection changed here meanwhile (cancelled, say): the request itself
                // was delivered, and the decision no longer applies.
                Err(FederationError::Transition(_)) => Attempt::Delivered,
                Err(e) => Attempt::Retry(e.to_string()),
            },
            RemoteView::Pending => Attempt::Delivered,
            RemoteView::Unknown => Attempt::Retry("the peer does not know the request".into()),
        }
    }

    /// Verifies a record the peer sent in a response: valid, of the instance we asked, and of
    /// the key Noise authenticated.
    fn peer_record(
        &self,
        record: &ochat_protocol::record::SignedRecord,
        expected_peer: libp2p::PeerId,
        remote: InstanceId,
    ) -> Result<ochat_protocol::record::InstanceRecord, FederationError> {
        let their = self
            .inner
            .peers
            .verify(record)
            .map_err(FederationError::InvalidPeerRecord)?;
        if peer_id_of(&their.identity).ok() != Some(expected_peer) || their.uuid != remote {
            return Err(FederationError::WrongPeerRecord);
        }
        Ok(their)
    }

    fn step_body(
        &self,
        record: &ConnectionRecord,
        step: Step,
    ) -> Result<Option<HandshakeBody>, FederationError> {
        Ok(match step {
            Step::Request => record.request.clone().map(HandshakeBody::Request),
            Step::Answer => record.answer.clone().map(HandshakeBody::Answer),
            Step::Cancel => Some(HandshakeBody::Cancel(Signed::seal(
                &ConnectionCancel {
                    request_id: record.request_id,
                    from: self.inner.me.uuid,
                    to: InstanceId(record.state.remote),
                    sent_at_ms: now_ms(),
                },
                &self.inner.me.identity,
            )?)),
        })
    }

    async fn delivered(&self, item: &OutboxItem) -> Result<(), FederationError> {
        self.finish(item, None, true).await
    }

    /// Removes the step; records the outcome on the connection.
    async fn finish(
        &self,
        item: &OutboxItem,
        error: Option<String>,
        delivered: bool,
    ) -> Result<(), FederationError> {
        let _guard = self.inner.lock.lock().await;
        let mut change = Change {
            dequeue: vec![(item.connection_id, item.step)],
            ..Change::default()
        };
        let record = self.inner.connections.load(&item.connection_id)?;
        if let Some(mut record) = record {
            record.delivered = delivered;
            record.delivery_error = error;
            record.updated_at_ms = now_ms();
            change.save = Some(record.clone());
            self.inner.connections.commit(change).await?;
            let kind = if delivered {
                EventKind::Delivered
            } else {
                EventKind::Updated
            };
            self.inner
                .events
                .connection(kind, ConnectionView::from(&record));
        } else {
            self.inner.connections.commit(change).await?;
        }
        Ok(())
    }

    async fn note_error(&self, item: &OutboxItem, reason: &str) {
        let _guard = self.inner.lock.lock().await;
        if let Ok(Some(mut record)) = self.inner.connections.load(&item.connection_id)
            && record.delivery_error.as_deref() != Some(reason)
        {
            record.delivery_error = Some(reason.to_string());
            let _ = self.inner.connections.commit(Change::save(record)).await;
        }
    }

    async fn not_found(&self, item: &OutboxItem) -> Result<(), FederationError> {
        let _guard = self.inner.lock.lock().await;
        let mut change = Change {
            dequeue: vec![(item.connection_id, item.step)],
            ..Change::default()
        };
        if let Some(mut record) = self.inner.connections.load(&item.connection_id)?
            && let Ok(outcome) = connection::apply(&record.state, &Transition::LookupFailed)
        {
            if let Some(next) = outcome.next {
                record.state = next;
            }
            // The signed request and its ephemeral are kept: an earlier attempt may have
            // reached the peer, and Retry Request sends the same ones again.
            record.delivery_error = Some(format!(
                "no instance with UUID {} is known",
                record.state.remote
            ));
            record.updated_at_ms = now_ms();
            change.save = Some(record.clone());
            self.inner.connections.commit(change).await?;
            self.inner
                .events
                .connection(EventKind::NotFound, ConnectionView::from(&record));
            return Ok(());
        }
        self.inner.connections.commit(change).await?;
        Ok(())
    }

    /// Sync Status: asks the peer where our request stands and brings the local status up to
    /// date. Incoming and settled connections have nothing to ask.
    pub async fn sync(&self, id: &str) -> Result<ConnectionView, FederationError> {
        let record = self.find(id)?;
        let outcome = connection::apply(&record.state, &Transition::SyncStatus)?;
        if outcome.effects.is_empty() || record.state.direction != Direction::Outgoing {
            return Ok(ConnectionView::from(&record));
        }
        let remote = InstanceId(record.state.remote);
        let target = match self.inner.peers.resolve(remote, true).await {
            Resolution::Found(t) => t,
            Resolution::NotFound => {
                return Err(FederationError::NotKnownYet(remote));
            }
            Resolution::Unavailable(e) => return Err(FederationError::Peer(e)),
        };
        if record.state.status == Status::NotFound {
            return Err(FederationError::FoundNow(remote));
        }
        let query = Signed::seal(
            &StatusQuery {
                request_id: record.request_id,
                from: self.inner.me.uuid,
                to: remote,
                sent_at_ms: now_ms(),
            },
            &self.inner.me.identity,
        )?;
        let envelope = Envelope {
            record: self.record(),
            body: HandshakeBody::Query(query),
        };
        let expected_peer = target.peer;
        let response = self
            .inner
            .network
            .request(target.peer, target.addrs, envelope)
            .await
            .map_err(FederationError::Unreachable)?;
        let (their_record, view) = match response {
            HandshakeResponse::Status { record, view } => (record, view),
            HandshakeResponse::Refused { message, .. } => {
                return Err(FederationError::QueryRefused(message));
            }
            HandshakeResponse::Stored
            | HandshakeResponse::Confirmed { .. }
            | HandshakeResponse::Rekeyed(_)
            | HandshakeResponse::RekeyStale { .. } => {
                return Err(FederationError::OutOfTurn);
            }
        };
        let their = self.peer_record(&their_record, expected_peer, remote)?;
        match view {
            RemoteView::Decided(answer) => {
                self.on_answer(&their, &answer).await?;
            }
            RemoteView::Pending => self.mark_delivered(&record).await?,
            RemoteView::Unknown => self.requeue_request(&record).await?,
        }
        let now = self
            .inner
            .connections
            .load(&record.id)?
            .ok_or_else(|| FederationError::NoConnection(id.to_string()))?;
        Ok(ConnectionView::from(&now))
    }

    async fn mark_delivered(&self, record: &ConnectionRecord) -> Result<(), FederationError> {
        let _guard = self.inner.lock.lock().await;
        if let Some(mut now) = self.inner.connections.load(&record.id)?
            && !now.delivered
        {
            now.delivered = true;
            now.delivery_error = None;
            self.inner
                .connections
                .commit(Change {
                    save: Some(now.clone()),
                    dequeue: vec![(now.id, Step::Request)],
                    ..Change::default()
                })
                .await?;
            self.inner
                .events
                .connection(EventKind::Delivered, ConnectionView::from(&now));
        }
        Ok(())
    }

    /// The peer does not know our pending request (lost, or deleted there): send it again.
    async fn requeue_request(&self, record: &ConnectionRecord) -> Result<(), FederationError> {
        let _guard = self.inner.lock.lock().await;
        if let Some(mut now) = self.inner.connections.load(&record.id)?
            && now.state.status == Status::Pending
            && now.request.is_some()
        {
            now.delivered = false;
            let item = self.outbox_item(&now, Step::Request);
            self.inner
                .connections
                .commit(Change {
                    save: Some(now),
                    enqueue: vec![item],
                    ..Change::default()
                })
                .await?;
            self.inner.wake.notify_one();
        }
        Ok(())
    }
}

impl Federation {
    /// Tells every accepted peer our current record (with our new addresses), by sending each a
    /// status query: the peer keeps the newer record, so it can reach us again even without a
    /// directory. Failures are only logged; the peers also learn it at our next contact.
    pub async fn announce(&self) {
        let connections = match self.inner.connections.all() {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list connections to announce our addresses");
                return;
            }
        };
        for c in connections
            .into_iter()
            .filter(|c| c.state.status == Status::Accepted)
        {
            let me = self.clone();
            tokio::spawn(async move {
                let remote = InstanceId(c.state.remote);
                let Resolution::Found(target) = me.inner.peers.resolve(remote, false).await else {
                    return;
                };
                let Ok(query) = Signed::seal(
                    &StatusQuery {
                        request_id: c.request_id,
                        from: me.inner.me.uuid,
                        to: remote,
                        sent_at_ms: now_ms(),
                    },
                    &me.inner.me.identity,
                ) else {
                    return;
                };
                let envelope = Envelope {
                    record: me.record(),
                    body: HandshakeBody::Query(query),
                };
                if let Err(e) = me
                    .inner
                    .network
                    .request(target.peer, target.addrs, envelope)
                    .await
                {
                    tracing::debug!(%remote, error = %e, "could not announce our addresses");
                }
            });
        }
    }
}
