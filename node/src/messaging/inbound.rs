//! Message batches from peers. Each message is checked and stored on its own (one bad message
//! does not sink the batch); the acknowledgements go back only after a grouped flush has made
//! every stored message durable.

use libp2p::PeerId;
use ochat_protocol::codec::Limits;
use ochat_protocol::connection::Status;
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageAck, MessageBatch, MessageResponse, WireMessage,
    associated_data,
};
use ochat_protocol::ratchet::Ratchet;
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use uuid::Uuid;

use super::{Messaging, MessagingError};
use crate::events::EventKind;
use crate::federation::repo;
use crate::model::{
    AttachmentMeta, ChannelRecord, MessageRecord, MessageState, MessageView, now_ms,
};
use crate::store::{Store, StoreError, decode, encode, key, trees};

/// What storing one message produced, for events after the flush.
enum Stored {
    Shown(Box<MessageView>),
    Receipts(Vec<MessageView>),
    Quiet,
}

impl Messaging {
    /// Handles a batch from `peer` (the Noise-authenticated peer id).
    pub async fn handle_batch(&self, peer: PeerId, batch: MessageBatch) -> MessageResponse {
        let mut acks = Vec::with_capacity(batch.messages.len());
        let mut after_flush = Vec::new();
        for wire in batch.messages {
            let id = wire.id;
            let status = match self.receive(peer, wire).await {
                Ok((status, stored)) => {
                    after_flush.push(stored);
                    status
                }
                Err(e) => {
                    tracing::error!(%peer, error = %e, "could not store an incoming message");
                    AckStatus::Retry("the receiver failed; send it again".into())
                }
            };
            if let AckStatus::Rejected(reason) = &status {
                tracing::warn!(%peer, message = %id, %reason, "rejected an incoming message");
                if let Err(e) = self.inner.store.next_counter("rejected_messages") {
                    tracing::error!(error = %e, "cannot count a rejected message");
                }
            }
            acks.push(MessageAck { id, status });
        }
        if let Err(e) = self.inner.flush.wait().await {
            tracing::error!(error = %e, "flush failed: acknowledging nothing");
            return MessageResponse::Refused("the receiver could not store the messages".into());
        }
        for stored in after_flush {
            match stored {
                Stored::Shown(view) => self.inner.events.message(EventKind::New, *view),
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

    /// How many incoming messages were rejected since the database was created.
    pub fn rejected_count(&self) -> u64 {
        self.inner
            .store
            .meta
            .get("rejected_messages")
            .ok()
            .flatten()
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    async fn receive(
        &self,
        peer: PeerId,
        wire: WireMessage,
    ) -> Result<(AckStatus, Stored), MessagingError> {
        let reject = |why: &str| Ok((AckStatus::Rejected(why.to_string()), Stored::Quiet));
        // Not (yet) a channel here: the handshake's answer may still be on its way, so the
        // sender keeps the message and tries again later (until its give-up time).
        let later = |why: &str| Ok((AckStatus::Retry(why.to_string()), Stored::Quiet));
        // Which channel: the conversation is the handshake's request id, known to both sides.
        let Some(conn) = repo::by_request(&self.inner.store, &wire.sender.0, &wire.conversation)?
        else {
            return later("unknown conversation");
        };
        let (Some(channel), Status::Accepted) = (conn.channel_id, conn.state.status) else {
            return later("the connection is not accepted here yet");
        };
        // The Noise-authenticated peer must be the key pinned for the sender's UUID.
        if self.inner.federation.pinned_peer(wire.sender) != Some(peer) {
            return reject("sent by a peer that does not hold the sender's key");
        }
        let k = key(&[channel.as_bytes(), wire.id.as_bytes()]);
        let lock = self.channel_lock(channel);
        let _guard = lock.lock().await;
        if self.inner.store.msg_seen.contains_key(&k)? {
            return Ok((AckStatus::Duplicate, Stored::Quiet));
        }
        let mut ch: ChannelRecord = Store::get(
            &self.inner.store.channels,
            trees::CHANNELS,
            channel.as_bytes(),
        )?
        .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        let mut ratchet: Ratchet = decode(trees::CHANNELS, &ch.ratchet)?;
        let ad = associated_data(&wire.conversation, &wire.sender, &wire.id);
        let plain = match ratchet.open(&wire.sealed, &ad) {
            Ok(p) => zeroize::Zeroizing::new(p),
            Err(e) => return reject(&format!("does not open: {e}")),
        };
        let limits = Limits {
            max_frame: ochat_protocol::message::MAX_MESSAGE_FRAME,
            ..Limits::default()
        };
        let content: Content = match ochat_protocol::codec::decode_body(&plain, &limits) {
            Ok(c) => c,
            Err(_) => return reject("the content is malformed"),
        };
        ch.ratchet = encode(trees::CHANNELS, &ratchet)?;
        let now = now_ms();
        let mut message: Option<MessageRecord> = None;
        let mut chunk: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut receipts = Vec::new();
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
                chunk = Some((key(&[attachment.as_bytes(), &index.to_be_bytes()]), data));
            }
            Body::Attachment {
                attachment,
                name,
                mime,
                size,
                sha256,
                chunks,
            } => {
                let complete = self.verify_attachment(attachment, chunks, size, &sha256)?;
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
                    let mk = key(&[channel.as_bytes(), id.as_bytes()]);
                    if let Some(mut m) = Store::get::<MessageRecord>(
                        &self.inner.store.messages,
                        trees::MESSAGES,
                        &mk,
                    )? && m.outgoing
                        && m.state != MessageState::Read
                    {
                        m.state = MessageState::Read;
                        receipts.push(m);
                    }
                }
            }
        }
        let ch_bytes = encode(trees::CHANNELS, &ch)?;
        let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Some(m) = &message {
            writes.push((k.clone(), encode(trees::MESSAGES, m)?));
        }
        for m in &receipts {
            writes.push((
                key(&[channel.as_bytes(), m.id.as_bytes()]),
                encode(trees::MESSAGES, m)?,
            ));
        }
        let s = &self.inner.store;
        (&s.channels, &s.messages, &s.msg_seen, &s.attachments)
            .transaction(|(channels, messages, seen, attachments)| {
                channels.insert(channel.as_bytes(), ch_bytes.as_slice())?;
                seen.insert(k.as_slice(), &[][..])?;
                for (mk, mv) in &writes {
                    messages.insert(mk.as_slice(), mv.as_slice())?;
                }
                if let Some((ck, cv)) = &chunk {
                    attachments.insert(ck.as_slice(), cv.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })
            .map_err(StoreError::from)?;
        let stored = match message {
            Some(m) => Stored::Shown(Box::new(MessageView::from(&m))),
            None if !receipts.is_empty() => {
                Stored::Receipts(receipts.iter().map(MessageView::from).collect())
            }
            None => Stored::Quiet,
        };
        Ok((AckStatus::Stored, stored))
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

    /// Whether every chunk of an attachment is here and the whole hashes to `sha256`.
    fn verify_attachment(
        &self,
        attachment: Uuid,
        chunks: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> Result<bool, MessagingError> {
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        for index in 0..chunks {
            let ck = key(&[attachment.as_bytes(), &index.to_be_bytes()]);
            match self.inner.store.attachments.get(ck)? {
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
