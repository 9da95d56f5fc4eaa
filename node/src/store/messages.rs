//! The messages repository: each channel's history (both directions) and its members' read
//! marks.
//!
//! | table        | key                                   | value                       |
//! |--------------|---------------------------------------|-----------------------------|
//! | `messages`   | channel id ‖ message id (16 B + 16 B) | [`MessageRecord`] (CBOR)    |
//! | `read_marks` | channel id ‖ user id (nil = admin)    | last message id read (16 B) |
//! | `msg_incoming` | channel id ‖ greatest message id of a group | the group's ids ([`IdList`]) |
//!
//! `msg_incoming` lists the incoming messages of each channel, so that an unread count
//! ([`Messages::incoming_after`]) reads the index after the read mark instead of decoding
//! every message after it, outgoing ones included (a hub that sent thousands of messages on
//! each of its channels decoded them all on every channel listing: about 10 ms per channel).
//!
//! One entry holds a group of ids: the incoming messages one received batch stored on the
//! channel ([`Messages::index_incoming`]), so a batch of 16 costs one index insert, not 16
//! (one per message cost about 8 % of the 16-in-flight throughput). The entry's key is the
//! group's greatest id, so an entry at or before the mark holds nothing unread and the count
//! reads only the entries after it, keeping their ids after the mark. An empty value is a
//! group of one, the key's id (the first layout of this table, still read). The index entry is
//! written before the records: a crash between the two leaves ids whose messages come again
//! with their redelivery and are indexed again, so the count counts each id once. Folders of
//! earlier releases are indexed once when the store opens
//! (`store::upgrade::index_incoming_messages`).
//!
//! Message ids are UUIDv7, so a channel's history sorts by time. A shown message's record is
//! also its "seen" mark (see [`super::message_outbox`] for the marks of what shows nothing).
//! Writers that must know a record fits before they write anything encode it first
//! ([`Messages::encode`]) and write it later in their order ([`Messages::put_encoded`]).
//!
//! Used by messaging only.

use std::ops::Bound;

use uuid::Uuid;

use super::table::{Cbor, Encoded, Table, Value, table};
use super::{Store, StoreError, trees};
use crate::model::{AttachmentMeta, MessageRecord};

table! {
    /// `messages`: (channel, message id) → message.
    pub MessagesTable = trees::MESSAGES; (Uuid, Uuid) => Cbor<MessageRecord>
}

table! {
    /// `msg_incoming`: (channel, greatest id of the group) → the group's incoming message ids.
    pub IncomingTable = trees::MSG_INCOMING; (Uuid, Uuid) => IdList
}

/// The ids of a group of incoming messages, 16 bytes each; empty for a group of one whose id
/// is the entry's key (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdList(pub Vec<Uuid>);

impl Value for IdList {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.iter().flat_map(|id| *id.as_bytes()).collect())
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        let chunks = bytes.chunks_exact(16);
        if !chunks.remainder().is_empty() {
            return Err(StoreError::Corrupt {
                tree: table,
                reason: format!(
                    "a list of ids of {} bytes, not a multiple of 16",
                    bytes.len()
                ),
            });
        }
        chunks
            .map(|c| {
                Uuid::from_slice(c).map_err(|e| StoreError::Corrupt {
                    tree: table,
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()
            .map(IdList)
    }
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

    /// Indexes `ids`, incoming messages of `channel` about to be written, as one group (not
    /// durable until a flush). Written before their records (see the module documentation).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn index_incoming(&self, channel: Uuid, ids: &[Uuid]) -> Result<(), StoreError> {
        let Some(greatest) = ids.iter().max() else {
            return Ok(());
        };
        let list = if ids.len() == 1 {
            IdList::default()
        } else {
            IdList(ids.to_vec())
        };
        self.incoming.put(&(channel, *greatest), &list)
    }

    /// Writes `record` (not durable until a flush); an incoming one's index entry first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`], [`StoreError::Sled`].
    pub fn put(&self, record: MessageRecord) -> Result<(), StoreError> {
        let key = (record.channel_id, record.id);
        if !record.outgoing {
            self.index_incoming(record.channel_id, &[record.id])?;
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

    /// How many incoming messages of `channel` came after `mark` (the index's entries after
    /// the mark only: the cost is the unread messages', not the history's).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn incoming_after(&self, channel: Uuid, mark: Uuid) -> Result<usize, StoreError> {
        let range = (
            Bound::Excluded((channel, mark)),
            Bound::Excluded((channel, Uuid::max())),
        );
        let mut unread = Vec::new();
        for entry in self.incoming.range(range) {
            let ((_, greatest), IdList(ids)) = entry?;
            if ids.is_empty() {
                unread.push(greatest);
            } else {
                unread.extend(ids.into_iter().filter(|id| *id > mark));
            }
        }
        unread.sort_unstable();
        unread.dedup();
        Ok(unread.len())
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

    /// Removes `reader`'s read marks on every channel (a deleted user); answers how many went.
    /// Not durable until a flush.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (a damaged key).
    pub fn remove_read_marks_of(&self, reader: Uuid) -> Result<usize, StoreError> {
        let mut removed = 0;
        for key in self.marks.keys() {
            let (channel, who) = key?;
            if who == reader && self.marks.remove(&(channel, who))? {
                removed += 1;
            }
        }
        Ok(removed)
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
        messages.index_incoming(channel, &[second.id]).unwrap();
        messages.put_encoded(channel, second.id, encoded).unwrap();
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
        // A received batch is one group: one index entry, and a mark inside it counts only the
        // ids after the mark.
        let batch: Vec<MessageRecord> = (0..5).map(|_| message(channel, false)).collect();
        let ids: Vec<Uuid> = batch.iter().map(|m| m.id).collect();
        let entries = store.tree(trees::MSG_INCOMING).unwrap().len();
        messages.index_incoming(channel, &ids).unwrap();
        for m in &batch {
            let encoded = messages.encode(m.clone()).unwrap();
            messages.put_encoded(channel, m.id, encoded).unwrap();
        }
        assert_eq!(store.tree(trees::MSG_INCOMING).unwrap().len(), entries + 1);
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 7);
        assert_eq!(messages.incoming_after(channel, ids[1]).unwrap(), 3);
        assert_eq!(messages.incoming_after(channel, ids[4]).unwrap(), 0);
        // A crash after the index entry and before the records: the redelivered messages are
        // indexed again in a later group (here with a new one), and each still counts once.
        let late = message(channel, false);
        messages
            .index_incoming(channel, &[ids[3], ids[4], late.id])
            .unwrap();
        assert_eq!(messages.incoming_after(channel, ids[1]).unwrap(), 4);
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 8);
        // No sent message is read to count: a damaged one does not stop the count (it did when
        // every message after the mark was decoded).
        store
            .tree(trees::MESSAGES)
            .unwrap()
            .insert((channel, sent[7]).encode_key(), &b"damaged"[..])
            .unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 8);
        // A damaged index entry is an error, not a wrong count.
        store
            .tree(trees::MSG_INCOMING)
            .unwrap()
            .insert(
                (channel, Uuid::from_u128(u128::MAX - 1)).encode_key(),
                &b"short"[..],
            )
            .unwrap();
        assert!(matches!(
            messages.incoming_after(channel, Uuid::nil()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[tokio::test]
    async fn a_deleted_readers_marks_go_and_everyone_elses_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let messages = Messages::open(&store).unwrap();
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
        for channel in [one, two] {
            for reader in [ann, bob, Uuid::nil()] {
                messages
                    .set_read_mark(channel, reader, Uuid::now_v7())
                    .unwrap();
            }
        }
        let bobs = messages.read_mark(one, bob).unwrap();
        assert_eq!(messages.remove_read_marks_of(ann).unwrap(), 2);
        assert_eq!(messages.read_mark(one, ann).unwrap(), Uuid::nil());
        assert_eq!(messages.read_mark(two, ann).unwrap(), Uuid::nil());
        assert_eq!(messages.read_mark(one, bob).unwrap(), bobs);
        assert_ne!(messages.read_mark(two, Uuid::nil()).unwrap(), Uuid::nil());
        assert_eq!(messages.remove_read_marks_of(ann).unwrap(), 0);
    }
}
