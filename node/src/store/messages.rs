//! The messages repository: each channel's history (both directions) and its members' read
//! marks.
//!
//! | table        | key                                   | value                       |
//! |--------------|---------------------------------------|-----------------------------|
//! | `messages`   | channel id ‖ message id (16 B + 16 B) | [`MessageRecord`] (CBOR)    |
//! | `read_marks` | channel id ‖ user id (nil = admin)    | last message id read (16 B) |
//! | `msg_incoming` | channel id ‖ message id             | empty: an incoming message  |
//!
//! `msg_incoming` lists the incoming messages of each channel, so that an unread count
//! ([`Messages::incoming_after`]) counts keys after the read mark instead of decoding every
//! message after it, outgoing ones included (a hub that sent thousands of messages on each of
//! its channels decoded them all on every channel listing: about 10 ms per channel). Every
//! incoming record is written with [`Messages::put_incoming_encoded`] or [`Messages::put`],
//! which write the index entry first; folders of earlier releases are indexed once when the
//! store opens (`store::upgrade::index_incoming_messages`).
//!
//! Message ids are UUIDv7, so a channel's history sorts by time. A shown message's record is
//! also its "seen" mark (see [`super::message_outbox`] for the marks of what shows nothing).
//! Writers that must know a record fits before they write anything encode it first
//! ([`Messages::encode`]) and write it later in their order ([`Messages::put_encoded`]).
//!
//! Used by messaging only.

use std::ops::Bound;

use uuid::Uuid;

use super::table::{Cbor, Encoded, Table, Unit, table};
use super::{Store, StoreError, trees};
use crate::model::{AttachmentMeta, MessageRecord};

table! {
    /// `messages`: (channel, message id) → message.
    pub MessagesTable = trees::MESSAGES; (Uuid, Uuid) => Cbor<MessageRecord>
}

table! {
    /// `msg_incoming`: (channel, message id) → nothing: an incoming message is stored.
    pub IncomingTable = trees::MSG_INCOMING; (Uuid, Uuid) => Unit
}

/// The meta mark (a counter, 1 once done) that says the incoming messages of a folder written
/// before `msg_incoming` were indexed (`store::upgrade::index_incoming_messages`).
pub const INCOMING_INDEXED: &str = "msg_incoming_indexed";

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
    incoming: Table<IncomingTable>,
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
            incoming: store.table()?,
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

    /// Writes an encoded incoming record under `channel ‖ id`, its index entry first (not
    /// durable until a flush; a crash between the two leaves an entry whose message comes
    /// again with its redelivery).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn put_incoming_encoded(
        &self,
        channel: Uuid,
        id: Uuid,
        record: EncodedMessage,
    ) -> Result<(), StoreError> {
        self.incoming.put(&(channel, id), &Unit)?;
        self.messages.put_encoded(&(channel, id), record)
    }

    /// Writes `record` (not durable until a flush); an incoming one's index entry first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn put(&self, record: MessageRecord) -> Result<(), StoreError> {
        let key = (record.channel_id, record.id);
        if !record.outgoing {
            self.incoming.put(&key, &Unit)?;
        }
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

    /// How many incoming messages of `channel` came after `mark` (keys of the index only: the
    /// cost is the unread messages', not the history's).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn incoming_after(&self, channel: Uuid, mark: Uuid) -> Result<usize, StoreError> {
        let range = (
            Bound::Excluded((channel, mark)),
            Bound::Excluded((channel, Uuid::max())),
        );
        let mut n = 0;
        for key in self.incoming.range_keys(range) {
            key?;
            n += 1;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::MessageState;
    use crate::store::table::Key;

    fn message(channel: Uuid, outgoing: bool) -> MessageRecord {
        MessageRecord {
            id: Uuid::now_v7(),
            channel_id: channel,
            outgoing,
            author: "Bolt".into(),
            text: "hello".into(),
            attachment: None,
            sent_at_ms: 1,
            stored_at_ms: 1,
            state: MessageState::Delivered,
            failure: None,
            read: false,
        }
    }

    #[tokio::test]
    async fn an_unread_count_reads_the_incoming_index_not_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let messages = Messages::open(&store).unwrap();
        let (channel, other) = (Uuid::now_v7(), Uuid::now_v7());
        // A hub's channel: many messages sent, a few received, one on another channel.
        let mut sent = Vec::new();
        for _ in 0..200 {
            let m = message(channel, true);
            sent.push(m.id);
            messages.put(m).unwrap();
        }
        let first = message(channel, false);
        messages.put(first.clone()).unwrap();
        let second = message(channel, false);
        let encoded = messages.encode(second.clone()).unwrap();
        messages
            .put_incoming_encoded(channel, second.id, encoded)
            .unwrap();
        messages.put(message(other, false)).unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 2);
        assert_eq!(messages.incoming_after(channel, first.id).unwrap(), 1);
        assert_eq!(messages.incoming_after(channel, second.id).unwrap(), 0);
        assert_eq!(messages.incoming_after(other, Uuid::nil()).unwrap(), 1);
        // Rewriting an incoming message (marked read) indexes nothing twice.
        let mut read = first.clone();
        read.read = true;
        messages.put(read).unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 2);
        // No sent message is read to count: a damaged one does not stop the count (it did when
        // every message after the mark was decoded).
        store
            .tree(trees::MESSAGES)
            .unwrap()
            .insert((channel, sent[7]).encode_key(), &b"damaged"[..])
            .unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 2);
    }
}
