//! Channel messaging between connected instances: end-to-end encrypted, durable, exactly once.
//!
//! - this file — the [`Messaging`] service and sending (text and attachments): the message is
//!   sealed with the channel's Double Ratchet once, and the new ratchet state, the message and
//!   its sealed outbox entry are written in ONE sled transaction, made durable by a grouped
//!   flush, before the API answers.
//! - [`delivery`] — the worker that sends outbox entries in batches (send order), retries with
//!   backoff, and records acknowledgements (delivered) or failure after the give-up time.
//! - [`inbound`] — batches from peers: authenticate the peer, drop duplicates by id, open with
//!   the ratchet (tampered, replayed and foreign messages are rejected and counted), store
//!   durably, then acknowledge.
//! - [`history`] — channel list with unread counts, paginated history, read marks and receipts,
//!   attachment download.

pub mod delivery;
pub mod history;
pub mod inbound;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use ochat_protocol::connection::Status;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::message::{
    Body, CHUNK_SIZE, Content, MAX_ATTACHMENT, MAX_TEXT, WireMessage, associated_data,
};
use ochat_protocol::ratchet::Ratchet;
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use thiserror::Error;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use crate::durable::GroupFlush;
use crate::events::Events;
use crate::federation::Federation;
use crate::model::{
    AttachmentMeta, ChannelRecord, ConnectionRecord, MessageRecord, MessageState, MessageView,
    QueuedMessage, now_ms,
};
use crate::network::NetworkHandle;
use crate::store::{Store, StoreError, decode, encode, key, trees};

/// Why a messaging action failed.
#[derive(Debug, Error)]
pub enum MessagingError {
    /// No such channel, message or attachment.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The input is invalid.
    #[error("{0}")]
    BadInput(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// Something that should not happen.
    #[error("{0}")]
    Internal(String),
}

/// Who is asking: the admin (sees everything) or a local user (only channels they belong to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The admin token.
    Admin,
    /// A local user.
    User(Uuid),
}

impl Viewer {
    /// The id read marks are kept under (nil for the admin).
    pub fn mark_id(&self) -> Uuid {
        match self {
            Viewer::Admin => Uuid::nil(),
            Viewer::User(id) => *id,
        }
    }
}

/// Timings of the messaging service.
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    /// First retry delay when a peer is unreachable.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// After this long undelivered, a message is marked failed.
    pub give_up_after: Duration,
    /// Most messages in one batch.
    pub max_batch: usize,
}

impl Default for MessagingConfig {
    fn default() -> Self {
        MessagingConfig {
            retry_base: Duration::from_millis(250),
            retry_max: Duration::from_secs(30),
            give_up_after: Duration::from_secs(7 * 24 * 3600),
            max_batch: 256,
        }
    }
}

/// The messaging service. Cheap to clone.
#[derive(Clone)]
pub struct Messaging {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) federation: Federation,
    pub(crate) network: NetworkHandle,
    pub(crate) events: Events,
    pub(crate) flush: GroupFlush,
    pub(crate) config: MessagingConfig,
    /// One lock per channel: the ratchet is used by one sealer or opener at a time.
    locks: StdMutex<HashMap<Uuid, Arc<Mutex<()>>>>,
    /// Wakes the delivery worker.
    pub(crate) wake: Notify,
    pub(crate) me: InstanceId,
}

impl Messaging {
    /// Builds the service.
    pub fn new(
        store: Store,
        federation: Federation,
        network: NetworkHandle,
        events: Events,
        flush: GroupFlush,
        config: MessagingConfig,
    ) -> Self {
        let me = federation.uuid();
        Messaging {
            inner: Arc::new(Inner {
                store,
                federation,
                network,
                events,
                flush,
                config,
                locks: StdMutex::new(HashMap::new()),
                wake: Notify::new(),
                me,
            }),
        }
    }

    pub(crate) fn channel_lock(&self, channel: Uuid) -> Arc<Mutex<()>> {
        match self.inner.locks.lock() {
            Ok(mut locks) => locks.entry(channel).or_default().clone(),
            Err(poisoned) => poisoned.into_inner().entry(channel).or_default().clone(),
        }
    }

    /// Loads a channel and its accepted connection, checking the viewer belongs to it.
    pub(crate) fn channel_for(
        &self,
        channel: Uuid,
        viewer: Viewer,
    ) -> Result<(ChannelRecord, ConnectionRecord), MessagingError> {
        let ch: ChannelRecord = Store::get(
            &self.inner.store.channels,
            trees::CHANNELS,
            channel.as_bytes(),
        )?
        .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        let conn: ConnectionRecord = Store::get(
            &self.inner.store.connections,
            trees::CONNECTIONS,
            ch.connection_id.as_bytes(),
        )?
        .ok_or_else(|| {
            MessagingError::NotFound(format!("the connection of channel {channel} is gone"))
        })?;
        if let Viewer::User(user) = viewer
            && !conn.members.contains(&user)
        {
            return Err(MessagingError::Forbidden(
                "only members of the connection can use its channel".into(),
            ));
        }
        if conn.state.status != Status::Accepted {
            return Err(MessagingError::Forbidden(format!(
                "the connection is {}, not Accepted",
                conn.state.status
            )));
        }
        Ok((ch, conn))
    }

    /// Sends a text message. Returns once it is stored durably with its outbox entry.
    pub async fn send_text(
        &self,
        channel: Uuid,
        viewer: Viewer,
        author: &str,
        text: &str,
    ) -> Result<MessageView, MessagingError> {
        if text.trim().is_empty() {
            return Err(MessagingError::BadInput("the message is empty".into()));
        }
        if text.len() > MAX_TEXT {
            return Err(MessagingError::BadInput(format!(
                "the message has {} bytes; at most {MAX_TEXT}",
                text.len()
            )));
        }
        let view = self
            .seal_and_store(
                channel,
                viewer,
                author,
                vec![Body::Text(text.to_string())],
                None,
            )
            .await?;
        Ok(view)
    }

    /// Sends a file (up to 25 MiB) in chunks, then the attachment message that shows it.
    pub async fn send_attachment(
        &self,
        channel: Uuid,
        viewer: Viewer,
        author: &str,
        name: &str,
        mime: &str,
        data: &[u8],
    ) -> Result<MessageView, MessagingError> {
        if data.len() > MAX_ATTACHMENT {
            return Err(MessagingError::BadInput(format!(
                "the file has {} bytes; at most {MAX_ATTACHMENT}",
                data.len()
            )));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 255 || name.contains(['/', '\\', '\0']) {
            return Err(MessagingError::BadInput(
                "give the file a name of 1 to 255 bytes without slashes".into(),
            ));
        }
        let attachment = Uuid::now_v7();
        let digest: [u8; 32] = Sha256::digest(data).into();
        let pieces: Vec<&[u8]> = if data.is_empty() {
            Vec::new()
        } else {
            data.chunks(CHUNK_SIZE).collect()
        };
        let mut bodies: Vec<Body> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| Body::Chunk {
                attachment,
                index: i as u32,
                data: piece.to_vec(),
            })
            .collect();
        bodies.push(Body::Attachment {
            attachment,
            name: name.to_string(),
            mime: mime.to_string(),
            size: data.len() as u64,
            sha256: digest,
            chunks: pieces.len() as u32,
        });
        self.seal_and_store(channel, viewer, author, bodies, Some((attachment, data)))
            .await
    }

    /// Sends read receipts for incoming messages (not shown in history).
    pub(crate) async fn send_receipt(
        &self,
        channel: Uuid,
        read: Vec<Uuid>,
    ) -> Result<(), MessagingError> {
        if read.is_empty() {
            return Ok(());
        }
        self.seal_and_store(
            channel,
            Viewer::Admin,
            "",
            vec![Body::Receipt { read }],
            None,
        )
        .await
        .map(|_| ())
    }

    /// Seals each body in order and stores messages, ratchet and outbox in one transaction.
    /// The last body is the one shown (and returned), unless it is a receipt.
    async fn seal_and_store(
        &self,
        channel: Uuid,
        viewer: Viewer,
        author: &str,
        bodies: Vec<Body>,
        local_file: Option<(Uuid, &[u8])>,
    ) -> Result<MessageView, MessagingError> {
        let lock = self.channel_lock(channel);
        let guard = lock.lock().await;
        let (mut ch, conn) = self.channel_for(channel, viewer)?;
        let mut ratchet: Ratchet = decode(trees::CHANNELS, &ch.ratchet)?;
        let now = now_ms();
        let mut queued = Vec::with_capacity(bodies.len());
        let mut shown: Option<MessageRecord> = None;
        for body in bodies {
            let id = Uuid::now_v7();
            let record = match &body {
                Body::Text(text) => Some(MessageRecord {
                    id,
                    channel_id: channel,
                    outgoing: true,
                    author: author.to_string(),
                    text: text.clone(),
                    attachment: None,
                    sent_at_ms: now,
                    stored_at_ms: now,
                    state: MessageState::Pending,
                    failure: None,
                    read: false,
                }),
                Body::Attachment {
                    attachment,
                    name,
                    mime,
                    size,
                    sha256,
                    ..
                } => Some(MessageRecord {
                    id,
                    channel_id: channel,
                    outgoing: true,
                    author: author.to_string(),
                    text: String::new(),
                    attachment: Some(AttachmentMeta {
                        id: *attachment,
                        name: name.clone(),
                        mime: mime.clone(),
                        size: *size,
                        sha256: hex::encode(sha256),
                        complete: true,
                    }),
                    sent_at_ms: now,
                    stored_at_ms: now,
                    state: MessageState::Pending,
                    failure: None,
                    read: false,
                }),
                Body::Chunk { .. } | Body::Receipt { .. } => None,
            };
            let content = Content {
                author: author.to_string(),
                sent_at_ms: now,
                body,
            };
            let plain = zeroize::Zeroizing::new(encode(trees::MESSAGES, &content)?);
            let ad = associated_data(&conn.request_id, &self.inner.me, &id);
            let sealed = ratchet
                .seal(&plain, &ad)
                .map_err(|e| MessagingError::Internal(format!("cannot seal: {e}")))?;
            let wire = WireMessage {
                conversation: conn.request_id,
                sender: self.inner.me,
                id,
                sealed,
            };
            let size = wire.sealed.ciphertext.len() + 128;
            queued.push(QueuedMessage {
                wire,
                remote: ch.remote,
                tracked: record.is_some(),
                queued_at_ms: now,
                size,
            });
            if record.is_some() {
                shown = record;
            }
        }
        ch.ratchet = encode(trees::CHANNELS, &ratchet)?;
        let ch_bytes = encode(trees::CHANNELS, &ch)?;
        let msg_bytes = match &shown {
            Some(m) => Some((
                key(&[channel.as_bytes(), m.id.as_bytes()]),
                encode(trees::MESSAGES, m)?,
            )),
            None => None,
        };
        let outbox = queued
            .iter()
            .map(|q| {
                Ok((
                    key(&[channel.as_bytes(), q.wire.id.as_bytes()]),
                    encode(trees::MSG_OUTBOX, q)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let chunks: Vec<(Vec<u8>, Vec<u8>)> = match local_file {
            Some((att, data)) => data
                .chunks(CHUNK_SIZE)
                .enumerate()
                .map(|(i, c)| {
                    (
                        key(&[att.as_bytes(), &(i as u32).to_be_bytes()]),
                        c.to_vec(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        let s = &self.inner.store;
        (&s.channels, &s.messages, &s.msg_outbox, &s.attachments)
            .transaction(|(channels, messages, msg_outbox, attachments)| {
                channels.insert(channel.as_bytes(), ch_bytes.as_slice())?;
                if let Some((k, v)) = &msg_bytes {
                    messages.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &outbox {
                    msg_outbox.insert(k.as_slice(), v.as_slice())?;
                }
                for (k, v) in &chunks {
                    attachments.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })
            .map_err(StoreError::from)?;
        drop(guard);
        self.inner.flush.wait().await?;
        self.inner.wake.notify_one();
        match shown {
            Some(m) => {
                let view = MessageView::from(&m);
                self.inner
                    .events
                    .message(crate::events::EventKind::New, view.clone());
                Ok(view)
            }
            None => Ok(MessageView {
                id: queued.last().map(|q| q.wire.id).unwrap_or_default(),
                channel_id: channel,
                direction: "out".into(),
                author: String::new(),
                text: String::new(),
                attachment: None,
                sent_at_ms: now,
                state: MessageState::Pending,
                failure: None,
                read: false,
            }),
        }
    }
}
