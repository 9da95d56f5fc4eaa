//! Channel messaging between connected instances: end-to-end encrypted, durable, exactly once.
//!
//! - this file — the [`Messaging`] service and the sends it accepts (text, attachments, read
//!   receipts), checked before they are queued.
//! - [`sending`] — group commit: the sends waiting on a channel are sealed with its Double
//!   Ratchet together, and the new ratchet state, their sealed outbox entries and the messages
//!   are written in that order, made durable by a grouped flush, before the API answers.
//! - [`lease`] — leases of ratchet steps written ahead, which let a message sealed under a
//!   durable lease be delivered before its own flush, and move a restarted node's sending
//!   chains past what they may have used.
//! - `unflushed` — outbox entries written but not yet durable, which delivery leaves alone.
//! - [`delivery`] — the worker that sends outbox entries in batches (send order), retries with
//!   backoff, and records acknowledgements (delivered) or failure after the give-up time.
//! - [`inbound`] — batches from peers: authenticate the peer, drop duplicates by id, open with
//!   the ratchet (tampered, replayed and foreign messages are rejected and counted), store
//!   durably, then acknowledge.
//! - [`rekey`] — a fresh signed key agreement on a channel (a new ratchet epoch) after a
//!   restore or when the peer reused a message number; sends wait for it.
//! - [`history`] — channel list with unread counts, paginated history, read marks and receipts,
//!   attachment download.
//! - `files` — a file's download, checked against its size and hash.
//!
//! Storage goes through the repositories of `store` ([`Channels`], [`Ratchets`], [`Messages`],
//! [`MessageOutbox`], [`Attachments`]); messaging writes a channel's ratchet, never the
//! channel itself (the federation creates it).

pub mod delivery;
mod files;
pub mod history;
pub mod inbound;
pub mod lease;
pub mod rekey;
pub(crate) mod sending;
mod unflushed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use ochat_protocol::connection::Status;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::message::{Body, CHUNK_SIZE, MAX_ATTACHMENT, MAX_TEXT};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use crate::durable::GroupFlush;
use crate::events::Events;
use crate::model::{ChannelRecord, ConnectionRecord, MessageView};
use crate::network::NetworkHandle;
use crate::peers::Peers;
use crate::store::attachments::Attachments;
use crate::store::channels::Channels;
use crate::store::connections::Connections;
use crate::store::message_outbox::MessageOutbox;
use crate::store::messages::Messages;
use crate::store::ratchets::Ratchets;
use crate::store::{Store, StoreError};
use sending::{Job, Queues};

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
    /// A channel is there without its ratchet (a damaged store).
    #[error("channel {0} has no ratchet")]
    NoRatchet(Uuid),
    /// A message could not be sealed.
    #[error("cannot seal: {0}")]
    Seal(#[from] ochat_protocol::ratchet::RatchetError),
    /// A message's contents could not be encoded.
    #[error("cannot encode a message: {0}")]
    Encode(#[from] ochat_protocol::codec::EncodeError),
    /// The committer of a channel stopped before answering (the node is stopping).
    #[error("the sender stopped; try again")]
    SenderStopped,
    /// The channel must be re-keyed first and it could not be done yet (see [`rekey`]).
    #[error("{0}")]
    Rekey(String),
    /// Another job of the same group failed with this (see `sending`).
    #[error("{0}")]
    GroupFailed(String),
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

/// The most message ids in one read receipt (about 36 KB sealed).
pub const MAX_RECEIPT_IDS: usize = 2000;

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
    pub(crate) channels: Channels,
    /// The connections (read only: a channel's members and state).
    pub(crate) connections: Connections,
    pub(crate) ratchets: Ratchets,
    /// Epochs, re-key state and previous ratchets ([`rekey`]).
    pub(crate) rekeys: crate::store::rekeys::Rekeys,
    /// The federation (our record and identity key), set once the node is built.
    pub(crate) federation: std::sync::OnceLock<crate::federation::Federation>,
    /// Wakes the re-key worker.
    pub(crate) rekey_wake: Notify,
    /// One re-key request under way at a time.
    pub(crate) rekey_turns: Mutex<()>,
    pub(crate) messages: Messages,
    pub(crate) outbox: MessageOutbox,
    pub(crate) attachments: Attachments,
    /// Where peers are and which keys they have.
    pub(crate) peers: Peers,
    pub(crate) network: NetworkHandle,
    pub(crate) events: Events,
    pub(crate) flush: GroupFlush,
    pub(crate) config: MessagingConfig,
    /// One lock per channel: the ratchet is used by one sealer or opener at a time.
    locks: StdMutex<HashMap<Uuid, Arc<Mutex<()>>>>,
    /// Wakes the delivery worker.
    pub(crate) wake: Notify,
    /// When each peer last got a connection: a channel whose failed attempt started before
    /// that goes at once (`messaging/delivery.rs`).
    pub(crate) regained: StdMutex<HashMap<crate::network::PeerId, std::time::Instant>>,
    /// Sends waiting for their channel's next group commit.
    pub(crate) queues: Queues,
    /// Outbox entries not yet durable, which the delivery worker leaves alone.
    pub(crate) unflushed: unflushed::Unflushed,
    /// The durable lease of each channel's sending chain.
    pub(crate) leases: lease::Leases,
    pub(crate) me: InstanceId,
    /// Messages acknowledged by their peer, and messages received, since start (`/metrics`).
    pub(crate) counts: Counts,
}

/// Message counters since start, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) delivered: std::sync::atomic::AtomicU64,
    pub(crate) received: std::sync::atomic::AtomicU64,
}

impl Messaging {
    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`]: a table could not be opened.
    pub fn new(
        store: Store,
        peers: Peers,
        me: InstanceId,
        network: NetworkHandle,
        events: Events,
        flush: GroupFlush,
        config: MessagingConfig,
    ) -> Result<Self, StoreError> {
        let attachments = Attachments::open(&store)?;
        if let Err(e) = attachments.migrate_legacy_chunks() {
            tracing::error!(error = %e, "could not move file chunks to the per-channel layout; those files cannot be downloaded until it succeeds");
        }
        Ok(Messaging {
            inner: Arc::new(Inner {
                channels: Channels::open(&store)?,
                connections: Connections::open(&store)?,
                ratchets: Ratchets::open(&store)?,
                rekeys: crate::store::rekeys::Rekeys::open(&store)?,
                federation: std::sync::OnceLock::new(),
                rekey_wake: Notify::new(),
                rekey_turns: Mutex::new(()),
                messages: Messages::open(&store)?,
                outbox: MessageOutbox::open(&store)?,
                attachments,
                store,
                peers,
                network,
                events,
                flush,
                config,
                locks: StdMutex::new(HashMap::new()),
                wake: Notify::new(),
                regained: StdMutex::default(),
                queues: Queues::default(),
                unflushed: unflushed::Unflushed::default(),
                leases: lease::Leases::default(),
                me,
                counts: Counts::default(),
            }),
        })
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
        let ch = self
            .inner
            .channels
            .get(channel)?
            .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        let conn = self
            .inner
            .connections
            .load(&ch.connection_id)?
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
        self.submit(
            channel,
            Job {
                viewer,
                author: author.to_string(),
                bodies: vec![Body::Text(text.to_string())],
                file: None,
            },
        )
        .await
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
        self.submit(
            channel,
            Job {
                viewer,
                author: author.to_string(),
                bodies,
                file: Some((attachment, data.to_vec())),
            },
        )
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
        // Receipts of at most MAX_RECEIPT_IDS ids each, so no sealed receipt (an outbox
        // value) grows past what the store writes.
        let bodies = read
            .chunks(MAX_RECEIPT_IDS)
            .map(|ids| Body::Receipt { read: ids.to_vec() })
            .collect();
        self.submit(
            channel,
            Job {
                viewer: Viewer::Admin,
                author: String::new(),
                bodies,
                file: None,
            },
        )
        .await
        .map(|_| ())
    }
}
