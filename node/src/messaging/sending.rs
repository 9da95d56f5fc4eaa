//! Group commit of sends: every send on a channel (text, attachment, read receipt) becomes a job
//! in the channel's queue; one committer task per channel takes all waiting jobs at once, seals
//! them with the ratchet (decoded once per group), writes the ratchet, the outbox entries and the
//! messages, and goes on with the next group while a grouped flush makes this one durable.
//! Each sender gets its answer only after that flush: an answered send is on this node's disk.
//!
//! Delivery does not wait for that flush when it need not: a message sealed below its chain's
//! durable lease ([`super::lease`]) may leave at once, since a crash cannot make the node seal
//! under its key again (the restarted node moves the chain past the lease). Only messages
//! sealed at or above it (the first group after a start, the first of a new turn's chain) are
//! held back from delivery until their flush ([`super::unflushed`]), as every message was
//! before leases.
//!
//! The writes are plain sled inserts in that order, not a transaction: sled's transactions and
//! batches each seal and write its IO buffer twice, and every such write wakes all of sled's
//! idle IO threads, which cost more than a third of the CPU of a message in flight. sled
//! recovers its log as a prefix (it stops at the first message that is not whole), so a crash
//! before the flush leaves a prefix of the group: the ratchet advanced with none, some or all
//! of the group's messages. None of them was answered, so the caller sends again; a message
//! whose outbox entry came back is delivered, and the peer skips the keys of those that did not
//! (it keeps skipped keys, up to a limit far above a group). The ratchet is never behind a
//! message that exists, and never behind one that left (its lease is ahead of it), so no key
//! seals two messages.
//!
//! A message delivered before its flush is stored at the peer but, if this node crashes before
//! the flush, may be missing from this node's own history and outbox; its sender was not
//! answered (the answer waits for the flush) and sees the call fail.
//!
//! The committer is a task of its own, so a caller that goes away (an HTTP client hanging up)
//! cannot leave the other jobs of its group half done. Before it takes a group it yields once
//! to the runtime, so that senders woken at the same moment (by the answers of the previous
//! flush) join the group instead of each starting one of their own.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

use ochat_protocol::message::{Body, CHUNK_SIZE, Content, WireMessage, associated_data};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::lease::Lease;
use super::{Messaging, MessagingError, Viewer};
use crate::events::EventKind;
use crate::model::{
    AttachmentMeta, MessageRecord, MessageState, MessageView, QueuedMessage, now_ms,
};
use crate::store::attachments::ChunkId;
use crate::store::message_outbox::EncodedQueued;
use crate::store::messages::EncodedMessage;

/// One send: the bodies to seal in order; the last shown body is the one answered.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) viewer: Viewer,
    pub(crate) author: String,
    pub(crate) bodies: Vec<Body>,
    /// The whole file of an attachment, kept locally in chunks.
    pub(crate) file: Option<(Uuid, Vec<u8>)>,
}

type Reply = oneshot::Sender<Result<MessageView, MessagingError>>;

/// The waiting jobs of every channel, and whether its committer runs.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    map: StdMutex<HashMap<Uuid, Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: Vec<(Job, Reply)>,
    running: bool,
}

impl Queues {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Uuid, Queue>) -> R) -> R {
        match self.map.lock() {
            Ok(mut map) => f(&mut map),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// What a group stored: each job's outcome, the outbox ids held back until the flush, the
/// lease written with the group, and whether some of its messages may leave at once.
struct Sealed {
    results: Vec<Result<Committed, MessagingError>>,
    ids: Vec<Uuid>,
    lease: Lease,
    free: bool,
}

/// What one job stored, answered after the flush.
struct Committed {
    shown: Option<MessageView>,
    fallback: MessageView,
}

/// Resets a channel's queue if its committer stops without emptying it (a panic): the waiting
/// senders get an error instead of waiting forever, and the next send starts a new committer.
struct RunningGuard<'a> {
    queues: &'a Queues,
    channel: Uuid,
    finished: bool,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.queues.with(|map| map.remove(&self.channel));
        }
    }
}

impl MessagingError {
    /// The same error for another job of a failed group.
    fn for_each_job(&self) -> MessagingError {
        match self {
            MessagingError::NotFound(m) => MessagingError::NotFound(m.clone()),
            MessagingError::Forbidden(m) => MessagingError::Forbidden(m.clone()),
            MessagingError::BadInput(m) => MessagingError::BadInput(m.clone()),
            MessagingError::SenderStopped => MessagingError::SenderStopped,
            MessagingError::Rekey(m) => MessagingError::Rekey(m.clone()),
            other => MessagingError::GroupFailed(other.to_string()),
        }
    }
}

impl Messaging {
    /// Queues a send and waits until it is sealed, stored and durable.
    pub(crate) async fn submit(
        &self,
        channel: Uuid,
        job: Job,
    ) -> Result<MessageView, MessagingError> {
        let (tx, rx) = oneshot::channel();
        let start = self.inner.queues.with(|map| {
            let queue = map.entry(channel).or_default();
            queue.jobs.push((job, tx));
            !std::mem::replace(&mut queue.running, true)
        });
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.commit_loop(channel).await });
        }
        rx.await.map_err(|_| MessagingError::SenderStopped)?
    }

    /// Commits groups until the channel's queue is empty.
    async fn commit_loop(&self, channel: Uuid) {
        let mut guard = RunningGuard {
            queues: &self.inner.queues,
            channel,
            finished: false,
        };
        loop {
            // Senders whose previous message was just answered are woken together, each in a
            // task of its own; letting them run first puts their sends in this group instead
            // of one group each (1.4 → 9 sends per group at 16 in flight, and each group
            // writes the channel's ratchet once).
            tokio::task::yield_now().await;
            let jobs = self.inner.queues.with(|map| {
                let queue = map.entry(channel).or_default();
                if queue.jobs.is_empty() {
                    map.remove(&channel);
                    None
                } else {
                    Some(std::mem::take(&mut queue.jobs))
                }
            });
            let Some(jobs) = jobs else {
                guard.finished = true;
                return;
            };
            let (jobs, replies): (Vec<Job>, Vec<Reply>) = jobs.into_iter().unzip();
            // A channel flagged for a re-key (a restore, a peer that reused a number) seals
            // nothing until it is re-keyed: these sends wait for it here.
            if let Err(e) = self.ensure_rekeyed(channel).await {
                for reply in replies {
                    let _ = reply.send(Err(e.for_each_job()));
                }
                continue;
            }
            let lock = self.channel_lock(channel);
            let held = lock.lock().await;
            let outcome = self.seal_group(channel, &jobs);
            drop(held);
            if matches!(&outcome, Ok(sealed) if sealed.free) {
                // Sealed under a durable lease: delivery need not wait for the flush.
                self.inner.wake.notify_one();
            }
            let me = self.clone();
            tokio::spawn(async move { me.answer_group(channel, outcome, replies).await });
        }
    }

    /// After the grouped flush: events for the shown messages, then each sender's answer.
    async fn answer_group(
        &self,
        channel: Uuid,
        outcome: Result<Sealed, MessagingError>,
        replies: Vec<Reply>,
    ) {
        let Sealed {
            results,
            ids,
            lease,
            ..
        } = match outcome {
            Ok(sealed) => sealed,
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.for_each_job()));
                }
                return;
            }
        };
        if let Err(e) = self.inner.flush.wait().await {
            // Not known to be durable: the group stays held back from delivery.
            let e = MessagingError::from(e);
            for reply in replies {
                let _ = reply.send(Err(e.for_each_job()));
            }
            return;
        }
        self.inner.leases.durable(channel, lease);
        self.inner.unflushed.release(channel, &ids);
        self.inner.wake.notify_one();
        for (result, reply) in results.into_iter().zip(replies) {
            let answer = result.map(|c| match c.shown {
                Some(mut view) => {
                    // Delivered before the flush ended: the answer and the event say so.
                    if let Ok(Some(m)) = self.inner.messages.get(channel, view.id) {
                        view.state = m.state;
                    }
                    self.inner.events.message(EventKind::New, view.clone());
                    view
                }
                None => c.fallback,
            });
            let _ = reply.send(answer);
        }
    }

    /// Seals every job's bodies in order and stores them with the new ratchet state and their
    /// outbox entries. A job whose viewer may not send fails alone; a channel that cannot be
    /// used fails the whole group before anything is written, and a failed write fails it
    /// with what was written held back from delivery. Answers the outcome of each job and the
    /// ids held back until the flush.
    fn seal_group(&self, channel: Uuid, jobs: &[Job]) -> Result<Sealed, MessagingError> {
        let (ch, conn) = self.channel_for(channel, Viewer::Admin)?;
        if !self.may_seal(channel)? {
            return Err(MessagingError::Rekey(
                "the channel needs a re-key first; try again".into(),
            ));
        }
        let mut ratchet = self
            .inner
            .ratchets
            .load(channel)?
            .ok_or(MessagingError::NoRatchet(channel))?;
        let durable = self.inner.leases.prepare(channel, &mut ratchet)?;
        let mut free = false;
        let mut results = Vec::with_capacity(jobs.len());
        let mut messages: Vec<(Uuid, EncodedMessage)> = Vec::new();
        let mut outbox: Vec<(Uuid, EncodedQueued)> = Vec::new();
        let mut chunks: Vec<(ChunkId, Vec<u8>)> = Vec::new();
        let mut ids: Vec<Uuid> = Vec::new();
        for job in jobs {
            if let Viewer::User(user) = job.viewer
                && !conn.members.contains(&user)
            {
                results.push(Err(MessagingError::Forbidden(
                    "only members of the connection can use its channel".into(),
                )));
                continue;
            }
            let now = now_ms();
            let mut shown: Option<MessageRecord> = None;
            let mut last_id = Uuid::nil();
            for body in &job.bodies {
                let id = Uuid::now_v7();
                last_id = id;
                if let Some(record) = record_of(channel, id, &job.author, body, now) {
                    shown = Some(record);
                }
                let content = Content {
                    author: job.author.clone(),
                    sent_at_ms: now,
                    body: body.clone(),
                };
                let plain = zeroize::Zeroizing::new(ochat_protocol::codec::encode_body(&content)?);
                let ad = associated_data(&conn.request_id, &self.inner.me, &id);
                let sealed = ratchet.seal(&plain, &ad)?;
                let leased = durable.is_some_and(|lease| lease.covers(&sealed.header));
                let size = sealed.ciphertext.len() + 128;
                let queued = QueuedMessage {
                    wire: WireMessage {
                        conversation: conn.request_id,
                        sender: self.inner.me,
                        id,
                        sealed,
                    },
                    remote: ch.remote,
                    tracked: !matches!(body, Body::Chunk { .. } | Body::Receipt { .. }),
                    queued_at_ms: now,
                    size,
                };
                if leased {
                    free = true;
                } else {
                    ids.push(id);
                }
                outbox.push((id, self.inner.outbox.encode(queued)?));
            }
            let shown = match shown {
                Some(m) => {
                    let view = MessageView::from(&m);
                    messages.push((m.id, self.inner.messages.encode(m)?));
                    Some(view)
                }
                None => None,
            };
            if let Some((attachment, data)) = &job.file {
                for (i, piece) in data.chunks(CHUNK_SIZE).enumerate() {
                    let id = ChunkId {
                        channel,
                        attachment: *attachment,
                        index: i as u32,
                    };
                    chunks.push((id, piece.to_vec()));
                }
            }
            results.push(Ok(Committed {
                fallback: MessageView {
                    id: last_id,
                    channel_id: channel,
                    direction: "out".into(),
                    author: String::new(),
                    text: String::new(),
                    attachment: None,
                    sent_at_ms: now,
                    state: MessageState::Pending,
                    failure: None,
                    read: false,
                },
                shown,
            }));
        }
        let lease = self.inner.leases.extend(channel, &mut ratchet)?;
        self.inner.unflushed.hold(channel, &ids);
        // In this order (see the module's notes): the ratchet first, so it is never behind a
        // message that survives a crash; then the file's chunks, the outbox, the history.
        let inner = &self.inner;
        inner.ratchets.save(channel, &ratchet)?;
        inner.leases.stored(channel);
        for (id, data) in chunks {
            inner.attachments.put_chunk(id, data)?;
        }
        for (id, queued) in outbox {
            inner.outbox.put_encoded(channel, id, queued)?;
        }
        for (id, record) in messages {
            inner.messages.put_encoded(channel, id, record)?;
        }
        Ok(Sealed {
            results,
            ids,
            lease,
            free,
        })
    }
}

/// The history record of a shown body (text or attachment); chunks and receipts have none.
fn record_of(
    channel: Uuid,
    id: Uuid,
    author: &str,
    body: &Body,
    now: u64,
) -> Option<MessageRecord> {
    let (text, attachment) = match body {
        Body::Text(text) => (text.clone(), None),
        Body::Attachment {
            attachment,
            name,
            mime,
            size,
            sha256,
            ..
        } => (
            String::new(),
            Some(AttachmentMeta {
                id: *attachment,
                name: name.clone(),
                mime: mime.clone(),
                size: *size,
                sha256: hex::encode(sha256),
                complete: true,
            }),
        ),
        Body::Chunk { .. } | Body::Receipt { .. } => return None,
    };
    Some(MessageRecord {
        id,
        channel_id: channel,
        outgoing: true,
        author: author.to_string(),
        text,
        attachment,
        sent_at_ms: now,
        stored_at_ms: now,
        state: MessageState::Pending,
        failure: None,
        read: false,
    })
}
