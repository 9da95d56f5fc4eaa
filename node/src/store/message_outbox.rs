//! The message outbox (sealed messages waiting for their peer's acknowledgement) and the
//! "seen" marks of incoming messages that leave no record of their own.
//!
//! | table        | key                                   | value                       |
//! |--------------|---------------------------------------|-----------------------------|
//! | `msg_outbox` | channel id ‖ message id (16 B + 16 B) | [`QueuedMessage`] (CBOR)    |
//! | `msg_seen`   | channel id ‖ message id               | empty: a file chunk's or a read receipt's id, stored |
//!
//! Message ids are UUIDv7, so a channel's outbox sorts in send order. Used by messaging only
//! (sending queues, the delivery worker reads and settles, inbound marks), and by `/metrics`
//! through messaging.

use uuid::Uuid;

use super::table::{Cbor, Encoded, Table, Unit, table};
use super::{Store, StoreError, trees};
use crate::model::QueuedMessage;

table! {
    /// `msg_outbox`: (channel, message id) → the sealed message.
    pub OutboxTable = trees::MSG_OUTBOX; (Uuid, Uuid) => Cbor<QueuedMessage>
}

table! {
    /// `msg_seen`: (channel, message id) → nothing: the id was stored.
    pub SeenTable = trees::MSG_SEEN; (Uuid, Uuid) => Unit
}

/// A queued message encoded ahead of its write.
pub type EncodedQueued = Encoded<OutboxTable>;

/// The message outbox and the seen marks (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageOutbox {
    outbox: Table<OutboxTable>,
    seen: Table<SeenTable>,
}

impl MessageOutbox {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(MessageOutbox {
            outbox: store.table()?,
            seen: store.table()?,
        })
    }

    /// Encodes `queued` for a later [`MessageOutbox::put_encoded`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`].
    pub fn encode(&self, queued: QueuedMessage) -> Result<EncodedQueued, StoreError> {
        self.outbox.encode(&Cbor(queued))
    }

    /// Queues an encoded message under `channel ‖ id` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn put_encoded(
        &self,
        channel: Uuid,
        id: Uuid,
        queued: EncodedQueued,
    ) -> Result<(), StoreError> {
        self.outbox.put_encoded(&(channel, id), queued)
    }

    /// The first channel at or after `from` with queued messages (keys only).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn next_channel(&self, from: Uuid) -> Result<Option<Uuid>, StoreError> {
        let start = (from, Uuid::nil());
        match self.outbox.range_keys(start..).next() {
            Some(key) => Ok(Some(key?.0)),
            None => Ok(None),
        }
    }

    /// The queued messages of `channel`, in send order, read as the iterator goes.
    pub fn of_channel(
        &self,
        channel: Uuid,
    ) -> impl Iterator<Item = Result<QueuedMessage, StoreError>> + use<> {
        self.outbox.scan(&channel).map(|e| e.map(|(_, Cbor(q))| q))
    }

    /// How many messages of `channel` are queued.
    pub fn count(&self, channel: Uuid) -> usize {
        self.outbox.scan_keys(&channel).count()
    }

    /// Takes message `id` of `channel` off the outbox (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn remove(&self, channel: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.outbox.remove(&(channel, id)).map(|_| ())
    }

    /// How many messages are queued in all, and when the oldest was queued (ms): from its
    /// UUIDv7 id, or from its record for an id that carries no time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (a damaged key).
    pub fn summary(&self) -> Result<(usize, Option<u64>), StoreError> {
        let mut count = 0;
        let mut oldest: Option<u64> = None;
        for key in self.outbox.keys() {
            let key = key?;
            count += 1;
            let at = key
                .1
                .get_timestamp()
                .map(|t| {
                    let (secs, nanos) = t.to_unix();
                    secs * 1000 + u64::from(nanos) / 1_000_000
                })
                .or_else(|| {
                    self.outbox
                        .get(&key)
                        .ok()
                        .flatten()
                        .map(|Cbor(q)| q.queued_at_ms)
                });
            if let Some(at) = at {
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        Ok((count, oldest))
    }

    /// Whether incoming message `id` of `channel` was marked seen.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn seen(&self, channel: Uuid, id: Uuid) -> Result<bool, StoreError> {
        self.seen.contains(&(channel, id))
    }

    /// Marks incoming message `id` of `channel` seen (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn mark_seen(&self, channel: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.seen.put(&(channel, id), &Unit)
    }
}
