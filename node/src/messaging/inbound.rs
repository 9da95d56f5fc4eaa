//! Message batches from peers. Each message is checked on its own (one bad message does not sink
//! the batch); the messages of one channel are opened in order with the ratchet decoded once and
//! stored; the acknowledgements go back only after a grouped flush has made every stored message
//! durable.
//!
//! A message is new when its id is neither in `messages` (a text or an attachment: its own
//! record is its mark) nor in `msg_seen` (the marks of what leaves no record under its id: file
//! chunks and read receipts). A peer's id that names one of our own messages is therefore a
//! duplicate too, and cannot overwrite it.
//!
//! A channel's share is written with plain sled inserts in this order: file chunks, messages,
//! the "seen" marks, a rollback mark if one was seen, and the ratchet last (sled's transactions
//! cost far more, see `sending`). sled recovers a prefix of its log, so a crash before the
//! flush (nothing was acknowledged yet) leaves some of the messages, then some of the marks,
//! with the ratchet as before: the sender sends the batch again; a message already stored or
//! marked is acknowledged as a duplicate, the others open again with the old ratchet, and the
//! ratchet skips past the keys of those already there. No id is marked seen without being
//! stored.

use std::collections::{HashMap, HashSet};

use libp2p::PeerId;
use ochat_protocol::codec::Limits;
use ochat_protocol::connection::Status;
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageAck, MessageBatch, MessageResponse, WireMessage,
    associated_data,
};
use ochat_protocol::ratchet::{OsRandom, Ratchet, RatchetError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Messaging, MessagingError};
use crate::events::EventKind;
use crate::model::{
    AttachmentMeta, MessageRecord, MessageState, MessageView, RollbackSeen, now_ms,
};
use crate::store::StoreError;
use crate::store::attachments::ChunkId;
use crate::store::messages::EncodedMessage;

/// What storing one message produced, for events after the flush.
enum Stored {
    Shown(Box<MessageView>),
    Receipts(Vec<MessageView>),
    Quiet,
}

/// Where a message of a batch goes: its channel, or an answer without opening it.
type Route = Result<Uuid, AckStatus>;

/// The writes of one channel's share of a batch, made in order after it is opened.
#[derive(Default)]
struct GroupWrites {
    seen: Vec<Uuid>,
    /// Each record, and whether it is an incoming message (indexed for unread counts) rather
    /// than one of ours a receipt marks read.
    messages: Vec<(Uuid, EncodedMessage, bool)>,
    chunks: HashMap<ChunkId, Vec<u8>>,
    /// The number of a message whose header the peer reused with other contents.
    header_reused: Option<u32>,
    /// The previous epoch's ratchet (after a re-key), loaded when a message does not open
    /// with the current one; `changed` when it opened one and must be saved.
    previous: Option<Ratchet>,
    previous_loaded: bool,
    previous_changed: bool,
}

impl Messaging {
    /// Handles a batch from `peer` (the Noise-authenticated peer id). The messages of each
    /// channel are opened in order under the channel's lock with the ratchet decoded once, and
    /// stored; the acknowledgements go back after one grouped flush.
    pub async fn handle_batch(&self, peer: PeerId, batch: MessageBatch) -> MessageResponse {
        let total = batch.messages.len();
        let mut acks: Vec<Option<AckStatus>> = vec![None; total];
        let mut ids = Vec::with_capacity(total);
        let mut groups: Vec<(Uuid, Vec<(usize, WireMessage)>)> = Vec::new();
        let mut routes: HashMap<(Uuid, Uuid), Route> = HashMap::new();
        for (i, wire) in batch.messages.into_iter().enumerate() {
            ids.push(wire.id);
            let route =
                match routes.get(&(wire.sender.0, wire.conversation)) {
                    Some(route) => route.clone(),
                    None => {
                        let route = self.route(peer, &wire).unwrap_or_else(|e| {
                        tracing::error!(%peer, error = %e, "could not route an incoming message");
                        Err(AckStatus::Retry("the receiver failed; send it again".into()))
                    });
                        routes.insert((wire.sender.0, wire.conversation), route.clone());
                        route
                    }
                };
            match route {
                Ok(channel) => match groups.iter_mut().find(|(c, _)| *c == channel) {
                    Some((_, items)) => items.push((i, wire)),
                    None => groups.push((channel, vec![(i, wire)])),
                },
                Err(status) => acks[i] = Some(status),
            }
        }
        // Only a batch that reached a channel (sent by the partner's own key) may cost us a disk
        // flush: a stranger's batch, refused message by message, never does.
        let must_flush = !groups.is_empty();
        let mut after_flush = Vec::new();
        for (channel, items) in groups {
            let indices: Vec<usize> = items.iter().map(|(i, _)| *i).collect();
            match self.receive_group(channel, items).await {
                Ok(done) => {
                    for (i, status, stored) in done {
                        acks[i] = Some(status);
                        after_flush.push(stored);
                    }
                }
                Err(e) => {
                    tracing::error!(%peer, %channel, error = %e, "could not store incoming messages");
                    for i in indices {
                        acks[i] = Some(AckStatus::Retry(
                            "the receiver failed; send it again".into(),
                        ));
                    }
                }
            }
        }
        let acks: Vec<MessageAck> = ids
            .into_iter()
            .zip(acks)
            .map(|(id, status)| MessageAck {
                id,
                status: status.unwrap_or(AckStatus::Retry("not handled; send it again".into())),
            })
            .collect();
        for ack in &acks {
            if let AckStatus::Rejected(reason) = &ack.status {
                tracing::warn!(%peer, message = %ack.id, %reason, "rejected an incoming message");
                if let Err(e) = self.inner.store.next_counter("rejected_messages") {
                    tracing::error!(error = %e, "cannot count a rejected message");
                }
            }
        }
        if must_flush && let Err(e) = self.inner.flush.wait().await {
            tracing::error!(error = %e, "flush failed: acknowledging nothing");
            return MessageResponse::Refused("the receiver could not store the messages".into());
        }
        for stored in after_flush {
            match stored {
                Stored::Shown(view) => {
                    self.inner
                        .counts
                        .received
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.inner.events.message(EventKind::New, *view)
                }
                Stored::Receipts(views) => {
                    for v in views {
                        self.inner.events.message(EventKind::State, v);
                    }
                }
                Stored::Quiet => {}
            }
        }
        MessageResponse::Acks(acks)
    }

    /// Messages received from peers since the node started.
    pub fn received_count(&self) -> u64 {
        self.inner
            .counts
            .received
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Messages acknowledged by their peer since the node started.
    pub fn delivered_count(&self) -> u64 {
        self.inner
            .counts
            .delivered
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many incoming messages were rejected since the database was created.
    pub fn rejected_count(&self) -> u64 {
        self.inner.store.counter("rejected_messages").unwrap_or(0)
    }

    /// The channel of a message's conversation, checked against the authenticated peer.
    fn route(&self, peer: PeerId, wire: &WireMessage) -> Result<Route, MessagingError> {
        // Not (yet) a channel here: the handshake's answer may still be on its way, so the
        // sender keeps the message and tries again later (until its give-up time).
        let Some(conn) = self
            .inner
            .connections
            .by_request(&wire.sender.0, &wire.conversation)?
        else {
            return Ok(Err(AckStatus::Retry("unknown conversation".into())));
        };
        let (Some(channel), Status::Accepted) = (conn.channel_id, conn.state.status) else {
            return Ok(Err(AckStatus::Retry(
                "the connection is not accepted here yet".into(),
            )));
        };
        // The Noise-authenticated peer must be the key pinned for the sender's UUID.
        if self.inner.peers.pinned_peer(wire.sender) != Some(peer) {
            return Ok(Err(AckStatus::Rejected(
                "sent by a peer that does not hold the sender's key".into(),
            )));
        }
        Ok(Ok(channel))
    }

    /// Opens and stores one channel's messages of a batch, in order.
    async fn receive_group(
        &self,
        channel: Uuid,
        items: Vec<(usize, WireMessage)>,
    ) -> Result<Vec<(usize, AckStatus, Stored)>, MessagingError> {
        let lock = self.channel_lock(channel);
        let _guard = lock.lock().await;
        let mut ratchet = self
            .inner
            .ratchets
            .load(channel)?
            .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        let mut writes = GroupWrites::default();
        let mut here: HashSet<Uuid> = HashSet::new();
        let mut done = Vec::with_capacity(items.len());
        for (i, wire) in items {
            let id = wire.id;
            if here.contains(&id) || self.already_here(channel, id)? {
                // Stored before, but the ratchet may not have kept up (a crash between the
                // message's write and the ratchet's): open it again so its key is used and
                // deleted now, instead of being skipped by the next message and kept.
                let ad = associated_data(&wire.conversation, &wire.sender, &wire.id);
                if let Ok(plain) = ratchet.open_at(&wire.sealed, &ad, &mut OsRandom, now_ms()) {
                    drop(zeroize::Zeroizing::new(plain));
                }
                done.push((i, AckStatus::Duplicate, Stored::Quiet));
                continue;
            }
            let (status, stored) = self.receive(channel, &mut ratchet, &mut writes, wire)?;
            if matches!(status, AckStatus::Stored) {
                here.insert(id);
                // A shown message's record (written under its id) is its mark.
                if !matches!(stored, Stored::Shown(_)) {
                    writes.seen.push(id);
                }
            }
            done.push((i, status, stored));
        }
        let rollback = match writes.header_reused.take() {
            Some(n) => {
                tracing::warn!(%channel, message = n, "the peer reused a message header with other contents: its ratchet state was rolled back; the channel needs a re-key");
                let mut seen = self
                    .inner
                    .ratchets
                    .rollback(channel)?
                    .unwrap_or(RollbackSeen {
                        first_at_ms: now_ms(),
                        last_at_ms: 0,
                        last_message_number: n,
                        count: 0,
                    });
                seen.last_at_ms = now_ms();
                seen.last_message_number = n;
                seen.count = seen.count.saturating_add(1);
                Some(seen)
            }
            None => None,
        };
        // In this order (see the module's notes): what is stored before its mark, the marks
        // before the ratchet.
        let inner = &self.inner;
        for (id, data) in writes.chunks {
            inner.attachments.put_chunk(id, data)?;
        }
        // The incoming ones are indexed as one group, before their records.
        let incoming: Vec<Uuid> = writes
            .messages
            .iter()
            .filter(|(_, _, incoming)| *incoming)
            .map(|(id, _, _)| *id)
            .collect();
        inner.messages.index_incoming(channel, &incoming)?;
        for (id, record, _) in writes.messages {
            inner.messages.put_encoded(channel, id, record)?;
        }
        for id in writes.seen {
            inner.outbox.mark_seen(channel, id)?;
        }
        let reused = rollback.as_ref().map(|seen| seen.last_message_number);
        if let Some(seen) = rollback {
            inner.ratchets.set_rollback(channel, seen)?;
        }
        if writes.previous_changed
            && let Some(previous) = &writes.previous
        {
            inner.rekeys.save_previous(
                channel,
                &crate::store::ratchets::RatchetPickle::pickle(previous)?,
            )?;
        }
        inner.ratchets.save(channel, &ratchet)?;
        if let Some(n) = reused {
            // We ask for a re-key: nothing more is accepted from the rolled-back chain.
            self.peer_needs_rekey(channel, n)?;
        }
        Ok(done)
    }

    /// Whether message `id` of `channel` was stored before: as a record, or marked.
    fn already_here(&self, channel: Uuid, id: Uuid) -> Result<bool, MessagingError> {
        Ok(self.inner.messages.contains(channel, id)? || self.inner.outbox.seen(channel, id)?)
    }

    /// Opens one message with the group's ratchet and adds its writes to the group's.
    fn receive(
        &self,
        channel: Uuid,
        ratchet: &mut Ratchet,
        writes: &mut GroupWrites,
        wire: WireMessage,
    ) -> Result<(AckStatus, Stored), MessagingError> {
        let reject = |why: &str| Ok((AckStatus::Rejected(why.to_string()), Stored::Quiet));
        let ad = associated_data(&wire.conversation, &wire.sender, &wire.id);
        let plain = match ratchet.open_at(&wire.sealed, &ad, &mut OsRandom, now_ms()) {
            Ok(p) => zeroize::Zeroizing::new(p),
            Err(e @ RatchetError::HeaderReused { n }) => {
                writes.header_reused = Some(n);
                return reject(&format!("header reused: {e}"));
            }
            Err(e) => match self.open_previous(channel, writes, &wire, &ad)? {
                Some(p) => zeroize::Zeroizing::new(p),
                None => return reject(&format!("does not open: {e}")),
            },
        };
        let limits = Limits {
            max_frame: ochat_protocol::message::MAX_MESSAGE_FRAME,
            ..Limits::default()
        };
        let content: Content = match ochat_protocol::codec::decode_body(&plain, &limits) {
            Ok(c) => c,
            Err(_) => return reject("the content is malformed"),
        };
        let now = now_ms();
        let mut message: Option<MessageRecord> = None;
        let mut receipts: Vec<MessageView> = Vec::new();
        let author: String = content.author.chars().take(200).collect();
        match content.body {
            Body::Text(text) => {
                message = Some(self.incoming(
                    channel,
                    wire.id,
                    author,
                    text,
                    None,
                    content.sent_at_ms,
                    now,
                ));
            }
            Body::Chunk {
                attachment,
                index,
                data,
            } => {
                // Chunks are written once: a file that is here cannot be changed or extended.
                let ck = ChunkId {
                    channel,
                    attachment,
                    index,
                };
                if writes.chunks.contains_key(&ck) || self.inner.attachments.has_chunk(ck)? {
                    return reject("this piece of the file is already here; files cannot change");
                }
                writes.chunks.insert(ck, data);
            }
            Body::Attachment {
                attachment,
                name,
                mime,
                size,
                sha256,
                chunks,
            } => {
                let complete = self.verify_attachment(
                    &writes.chunks,
                    channel,
                    attachment,
                    chunks,
                    size,
                    &sha256,
                )?;
                let meta = AttachmentMeta {
                    id: attachment,
                    name,
                    mime,
                    size,
                    sha256: hex::encode(sha256),
                    complete,
                };
                message = Some(self.incoming(
                    channel,
                    wire.id,
                    author,
                    String::new(),
                    Some(meta),
                    content.sent_at_ms,
                    now,
                ));
            }
            Body::Receipt { read } => {
                for id in read.iter().take(10_000) {
                    if let Some(mut m) = self.inner.messages.get(channel, *id)?
                        && m.outgoing
                        && m.state != MessageState::Read
                    {
                        m.state = MessageState::Read;
                        receipts.push(MessageView::from(&m));
                        writes
                            .messages
                            .push((*id, self.inner.messages.encode(m)?, false));
                    }
                }
            }
        }
        let stored = match message {
            Some(m) => {
                let view = MessageView::from(&m);
                // Encoded (and its size checked) here, not at the write, so that one oversized
                // message is refused alone instead of failing its whole group.
                match self.inner.messages.encode(m) {
                    Ok(record) => writes.messages.push((wire.id, record, true)),
                    Err(StoreError::TooLarge { .. }) => {
                        return reject("the message is too large to store");
                    }
                    Err(e) => return Err(e.into()),
                }
                Stored::Shown(Box::new(view))
            }
            None if !receipts.is_empty() => Stored::Receipts(receipts),
            None => Stored::Quiet,
        };
        Ok((AckStatus::Stored, stored))
    }

    /// Opens a message sealed before the channel's last re-key with the previous epoch's
    /// ratchet (`None`: there is none, or it does not open there either).
    fn open_previous(
        &self,
        channel: Uuid,
        writes: &mut GroupWrites,
        wire: &WireMessage,
        ad: &[u8],
    ) -> Result<Option<Vec<u8>>, MessagingError> {
        if !writes.previous_loaded {
            writes.previous_loaded = true;
            writes.previous = match self.inner.rekeys.previous(channel)? {
                Some(pickle) => Some(pickle.unpickle()?),
                None => None,
            };
        }
        let Some(previous) = writes.previous.as_mut() else {
            return Ok(None);
        };
        match previous.open_at(&wire.sealed, ad, &mut OsRandom, now_ms()) {
            Ok(plain) => {
                writes.previous_changed = true;
                Ok(Some(plain))
            }
            Err(_) => Ok(None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn incoming(
        &self,
        channel: Uuid,
        id: Uuid,
        author: String,
        text: String,
        attachment: Option<AttachmentMeta>,
        sent_at_ms: u64,
        now: u64,
    ) -> MessageRecord {
        MessageRecord {
            id,
            channel_id: channel,
            outgoing: false,
            author,
            text,
            attachment,
            sent_at_ms,
            stored_at_ms: now,
            state: MessageState::Received,
            failure: None,
            read: false,
        }
    }

    /// Whether every chunk of an attachment is here on `channel` (stored, or `pending` in this
    /// group) and the whole hashes to `sha256`.
    fn verify_attachment(
        &self,
        pending: &HashMap<ChunkId, Vec<u8>>,
        channel: Uuid,
        attachment: Uuid,
        chunks: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> Result<bool, MessagingError> {
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        for index in 0..chunks {
            let ck = ChunkId {
                channel,
                attachment,
                index,
            };
            if let Some(bytes) = pending.get(&ck) {
                total += bytes.len() as u64;
                hasher.update(bytes);
                continue;
            }
            match self.inner.attachments.chunk(ck)? {
                Some(bytes) => {
                    total += bytes.len() as u64;
                    hasher.update(&bytes);
                }
                None => return Ok(false),
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        Ok(total == size && &digest == sha256)
    }
}
