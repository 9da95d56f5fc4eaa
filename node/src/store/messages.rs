//! The messages repository: each channel's history (both directions) and its members' read
//! marks.
//!
//! | table        | key                                   | value                       |
//! |--------------|---------------------------------------|-----------------------------|
//! | `messages`   | channel id ‖ message id (16 B + 16 B) | [`MessageRecord`] (CBOR)    |
//! | `read_marks` | channel id ‖ user id (nil = admin)    | last message id read (16 B) |
//!
//! Message ids are UUIDv7, so a channel's history sorts by time. A shown message's record is
//! also its "seen" mark (see [`super::message_outbox`] for the marks of what shows nothing).
//! Writers that must know a record fits before they write anything encode it first
//! ([`Messages::encode`]) and write it later in their order ([`Messages::put_encoded`]).
//!
//! Used by messaging only.

use std::ops::Bound;

use uuid::Uuid;

use super::table::{Cbor, Encoded, Table, table};
use super::{Store, StoreError, trees};
use crate::model::{AttachmentMeta, MessageRecord};

table! {
    /// `messages`: (channel, message id) → message.
    pub MessagesTable = trees::MESSAGES; (Uuid, Uuid) => Cbor<MessageRecord>
}

table! {
    /// `read_marks`: (channel, user id or nil for the admin) → the last message id read.
    pub ReadMarksTable = trees::READ_MARKS; (Uuid, Uuid) => Uuid
}

/// A message record encoded ahead of its write.
pub type EncodedMessage = Encoded<MessagesTable>;

/// The messages repository (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Messages {
    messages: Table<MessagesTable>,
    marks: Table<ReadMarksTable>,
}

impl Messages {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Messages {
            messages: store.table()?,
            marks: store.table()?,
        })
    }

    /// Message `id` of `channel`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn get(&self, channel: Uuid, id: Uuid) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self.messages.get(&(channel, id))?.map(|Cbor(m)| m))
    }

    /// Whether message `id` of `channel` is stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn contains(&self, channel: Uuid, id: Uuid) -> Result<bool, StoreError> {
        self.messages.contains(&(channel, id))
    }

    /// Encodes `record` for a later [`Messages::put_encoded`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`] (the record is over the size limit).
    pub fn encode(&self, record: MessageRecord) -> Result<EncodedMessage, StoreError> {
        self.messages.encode(&Cbor(record))
    }

    /// Writes an encoded record under `channel ‖ id` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn put_encoded(
        &self,
        channel: Uuid,
        id: Uuid,
        record: EncodedMessage,
    ) -> Result<(), StoreError> {
        self.messages.put_encoded(&(channel, id), record)
    }

    /// Writes `record` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn put(&self, record: MessageRecord) -> Result<(), StoreError> {
        let key = (record.channel_id, record.id);
        self.messages.put(&key, &Cbor(record))
    }

    /// Up to `limit` messages of `channel` older than `before` (all when `None`), newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn newest_first(
        &self,
        channel: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let end = (channel, before.unwrap_or(Uuid::max()));
        self.messages
            .range((channel, Uuid::nil())..end)
            .rev()
            .take(limit)
            .map(|e| e.map(|(_, Cbor(m))| m))
            .collect()
    }

    /// The messages of `channel` from `from` (included) up to `up_to` (included; to the end
    /// when `None`), oldest first, read as the iterator goes.
    pub fn from_up_to(
        &self,
        channel: Uuid,
        from: Uuid,
        up_to: Option<Uuid>,
    ) -> impl Iterator<Item = Result<MessageRecord, StoreError>> + use<> {
        let end = match up_to {
            Some(id) => Bound::Included((channel, id)),
            None => Bound::Excluded((channel, Uuid::max())),
        };
        self.messages
            .range((Bound::Included((channel, from)), end))
            .map(|e| e.map(|(_, Cbor(m))| m))
    }

    /// How many incoming messages of `channel` came after `mark`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn incoming_after(&self, channel: Uuid, mark: Uuid) -> Result<usize, StoreError> {
        let mut n = 0;
        let range = (
            Bound::Excluded((channel, mark)),
            Bound::Excluded((channel, Uuid::max())),
        );
        for entry in self.messages.range(range) {
            let (_, Cbor(m)) = entry?;
            if !m.outgoing {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The facts of attachment `attachment` as the history of `channel` shows them.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn attachment(
        &self,
        channel: Uuid,
        attachment: Uuid,
    ) -> Result<Option<AttachmentMeta>, StoreError> {
        for entry in self.messages.scan(&channel) {
            let (_, Cbor(m)) = entry?;
            if let Some(a) = m.attachment.filter(|a| a.id == attachment) {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// Every message of every channel, in key order (for the layout moves at start).
    pub(super) fn all(&self) -> impl Iterator<Item = Result<MessageRecord, StoreError>> + use<> {
        self.messages.iter().map(|e| e.map(|(_, Cbor(m))| m))
    }

    /// The last message `reader` read on `channel` (nil when none, or when the mark is
    /// damaged: everything then counts as unread).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn read_mark(&self, channel: Uuid, reader: Uuid) -> Result<Uuid, StoreError> {
        match self.marks.get(&(channel, reader)) {
            Ok(mark) => Ok(mark.unwrap_or_default()),
            Err(StoreError::Corrupt { .. }) => Ok(Uuid::nil()),
            Err(e) => Err(e),
        }
    }

    /// Sets `reader`'s read mark on `channel` to `last` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn set_read_mark(&self, channel: Uuid, reader: Uuid, last: Uuid) -> Result<(), StoreError> {
        self.marks.put(&(channel, reader), &last)
    }
}
