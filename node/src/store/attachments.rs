//! The attachments repository: the chunks of files, keyed by the channel they were sent or
//! received on, so a file belongs to that one channel.
//!
//! | table         | key                                                  | value              |
//! |---------------|------------------------------------------------------|--------------------|
//! | `attachments` | channel id ‖ attachment id ‖ chunk index (4 B BE)    | the chunk's bytes  |
//! |               | … ‖ piece index (2 B BE): a sub-piece of a large chunk | the piece's bytes |
//! |               | attachment id ‖ chunk index: the layout before channels | the chunk's bytes |
//!
//! - Chunks are written once; the caller checks [`Attachments::has_chunk`] first.
//! - No stored piece is larger than [`STORED_PIECE`] (the store refuses values near sled's
//!   blob threshold, see `store::tree`). Our chunks are 64 KiB; a larger chunk (from an older
//!   peer, which sent 256 KiB) is stored as sub-pieces under `chunk key ‖ u16 BE`, which sort
//!   right after the chunk's own key, so reading a file in key order still reads it in order.
//! - Data folders written before the per-channel layout (`attachment ‖ index`, 20-byte keys)
//!   are moved to it when messaging starts ([`Attachments::migrate_legacy_chunks`]): each file
//!   goes to every channel whose history shows it (the hash check then keeps a forged one from
//!   ever opening). Chunks of a file whose message never arrived have no known channel and
//!   stay where they are, unused.
//!
//! Used by messaging only (`messaging::files` checks a file's size and hash on download).

use std::collections::HashMap;

use uuid::Uuid;

use super::messages::Messages;
use super::table::{Key, Prefix, Raw, Table, table};
use super::{Store, StoreError, trees};

/// The largest piece of a file stored under one key.
pub const STORED_PIECE: usize = ochat_protocol::message::CHUNK_SIZE;

/// One chunk of a file on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkId {
    /// The channel.
    pub channel: Uuid,
    /// The file.
    pub attachment: Uuid,
    /// The chunk's index in the file.
    pub index: u32,
}

/// A key of the `attachments` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKey {
    /// A whole chunk.
    Chunk(ChunkId),
    /// Piece `.1` of a chunk larger than [`STORED_PIECE`].
    SubPiece(ChunkId, u16),
    /// A chunk of the layout before channels: attachment id ‖ index.
    Legacy {
        /// The file.
        attachment: Uuid,
        /// The chunk's index.
        index: u32,
    },
}

impl ChunkId {
    fn bytes(&self) -> Vec<u8> {
        [
            self.channel.as_bytes().as_slice(),
            self.attachment.as_bytes(),
            &self.index.to_be_bytes(),
        ]
        .concat()
    }
}

impl Key for PieceKey {
    fn encode_key(&self) -> Vec<u8> {
        match self {
            PieceKey::Chunk(id) => id.bytes(),
            PieceKey::SubPiece(id, piece) => [id.bytes().as_slice(), &piece.to_be_bytes()].concat(),
            PieceKey::Legacy { attachment, index } => {
                [attachment.as_bytes().as_slice(), &index.to_be_bytes()].concat()
            }
        }
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        let uuid = |at: usize| Uuid::from_slice(bytes.get(at..at + 16)?).ok();
        let u32_at = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        let chunk = || {
            Some(ChunkId {
                channel: uuid(0)?,
                attachment: uuid(16)?,
                index: u32_at(32)?,
            })
        };
        match bytes.len() {
            20 => Some(PieceKey::Legacy {
                attachment: uuid(0)?,
                index: u32_at(16)?,
            }),
            36 => Some(PieceKey::Chunk(chunk()?)),
            38 => Some(PieceKey::SubPiece(
                chunk()?,
                u16::from_be_bytes(bytes.get(36..38)?.try_into().ok()?),
            )),
            _ => None,
        }
    }
}

/// A chunk selects itself and its sub-pieces.
impl Prefix<PieceKey> for ChunkId {
    fn encode_prefix(&self) -> Vec<u8> {
        self.bytes()
    }
}

/// (channel, attachment) selects every piece of a file on a channel.
impl Prefix<PieceKey> for (Uuid, Uuid) {
    fn encode_prefix(&self) -> Vec<u8> {
        [self.0.as_bytes().as_slice(), self.1.as_bytes()].concat()
    }
}

table! {
    /// `attachments`: file pieces (see the module documentation).
    pub AttachmentsTable = trees::ATTACHMENTS; PieceKey => Raw
}

/// The attachments repository (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Attachments {
    table: Table<AttachmentsTable>,
    store: Store,
}

impl Attachments {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Attachments {
            table: store.table()?,
            store: store.clone(),
        })
    }

    /// Stores chunk `id`: itself when it fits in one piece, else its sub-pieces (not durable
    /// until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn put_chunk(&self, id: ChunkId, data: Vec<u8>) -> Result<(), StoreError> {
        if data.len() <= STORED_PIECE {
            return self.table.put(&PieceKey::Chunk(id), &Raw(data));
        }
        for (i, piece) in data.chunks(STORED_PIECE).enumerate() {
            self.table
                .put(&PieceKey::SubPiece(id, i as u16), &Raw(piece.to_vec()))?;
        }
        Ok(())
    }

    /// Whether chunk `id` is stored (whole or in pieces).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn has_chunk(&self, id: ChunkId) -> Result<bool, StoreError> {
        if self.table.contains(&PieceKey::Chunk(id))? {
            return Ok(true);
        }
        for key in self.table.scan_keys(&id) {
            if matches!(key?, PieceKey::SubPiece(..)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Chunk `id` (joining its sub-pieces if it was stored in pieces).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn chunk(&self, id: ChunkId) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(Raw(whole)) = self.table.get(&PieceKey::Chunk(id))? {
            return Ok(Some(whole));
        }
        let mut joined = Vec::new();
        let mut any = false;
        for entry in self.table.scan(&id) {
            if let (PieceKey::SubPiece(..), Raw(piece)) = entry? {
                joined.extend_from_slice(&piece);
                any = true;
            }
        }
        Ok(any.then_some(joined))
    }

    /// The stored pieces of `attachment` on `channel`, in order, read as the iterator goes.
    pub fn pieces(
        &self,
        channel: Uuid,
        attachment: Uuid,
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + use<> {
        self.table
            .scan(&(channel, attachment))
            .map(|e| e.map(|(_, Raw(piece))| piece))
    }

    /// Moves chunks stored under the old `attachment ‖ index` keys to `channel ‖ attachment ‖
    /// index`, for every channel whose history shows the attachment; then flushes. Returns
    /// how many chunks moved.
    ///
    /// # Errors
    ///
    /// [`StoreError`] of any kind.
    pub fn migrate_legacy_chunks(&self) -> Result<usize, StoreError> {
        let mut old_keys = Vec::new();
        for key in self.table.keys() {
            if let PieceKey::Legacy { attachment, index } = key? {
                old_keys.push((attachment, index));
            }
        }
        if old_keys.is_empty() {
            return Ok(0);
        }
        let mut channels_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for m in Messages::open(&self.store)?.all() {
            let m = m?;
            if let Some(a) = &m.attachment {
                let channels = channels_of.entry(a.id).or_default();
                if !channels.contains(&m.channel_id) {
                    channels.push(m.channel_id);
                }
            }
        }
        let mut moved = 0;
        for (attachment, index) in old_keys {
            let Some(channels) = channels_of.get(&attachment) else {
                continue;
            };
            let old = PieceKey::Legacy { attachment, index };
            let Some(Raw(piece)) = self.table.get(&old)? else {
                continue;
            };
            let mut batch = super::Batch::default();
            for channel in channels {
                let id = ChunkId {
                    channel: *channel,
                    attachment,
                    index,
                };
                if piece.len() <= STORED_PIECE {
                    self.table.batch_insert(
                        &mut batch,
                        &PieceKey::Chunk(id),
                        &Raw(piece.clone()),
                    )?;
                } else {
                    for (i, sub) in piece.chunks(STORED_PIECE).enumerate() {
                        self.table.batch_insert(
                            &mut batch,
                            &PieceKey::SubPiece(id, i as u16),
                            &Raw(sub.to_vec()),
                        )?;
                    }
                }
            }
            self.table.batch_remove(&mut batch, &old);
            self.table.apply(batch)?;
            moved += 1;
        }
        self.store.flush_blocking()?;
        if moved > 0 {
            tracing::info!(
                chunks = moved,
                "moved file chunks to the per-channel layout"
            );
        }
        Ok(moved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::{AttachmentMeta, MessageRecord, MessageState};

    fn shown(channel: Uuid, meta: &AttachmentMeta) -> MessageRecord {
        MessageRecord {
            id: Uuid::now_v7(),
            channel_id: channel,
            outgoing: false,
            author: "Bolt".into(),
            text: String::new(),
            attachment: Some(meta.clone()),
            sent_at_ms: 1,
            stored_at_ms: 1,
            state: MessageState::Received,
            failure: None,
            read: false,
        }
    }

    fn file_of(attachments: &Attachments, channel: Uuid, file: Uuid) -> Vec<u8> {
        attachments
            .pieces(channel, file)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn a_folder_of_the_old_layout_keeps_its_files_after_the_move() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let attachments = Attachments::open(&store).unwrap();
        let (channel, file, orphan) = (Uuid::now_v7(), Uuid::new_v4(), Uuid::new_v4());
        let pieces: [&[u8]; 2] = [b"hello, ", b"world"];
        let meta = AttachmentMeta {
            id: file,
            name: "greeting.txt".into(),
            mime: "text/plain".into(),
            size: 12,
            sha256: String::new(),
            complete: true,
        };
        Messages::open(&store)
            .unwrap()
            .put(shown(channel, &meta))
            .unwrap();
        // The old layout: attachment ‖ index, for a shown file and for one whose message never came.
        for (i, piece) in pieces.iter().enumerate() {
            for attachment in [file, orphan] {
                let old = PieceKey::Legacy {
                    attachment,
                    index: i as u32,
                };
                attachments.table.put(&old, &Raw(piece.to_vec())).unwrap();
            }
        }

        assert_eq!(attachments.migrate_legacy_chunks().unwrap(), 2);
        assert_eq!(file_of(&attachments, channel, file), b"hello, world");
        // Moving twice moves nothing more; the orphan's pieces stay where they were.
        assert_eq!(attachments.migrate_legacy_chunks().unwrap(), 0);
        assert_eq!(attachments.table.len(), 4);
    }

    #[test]
    fn a_chunk_over_the_piece_size_is_stored_in_pieces_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let attachments = Attachments::open(&store).unwrap();
        let id = ChunkId {
            channel: Uuid::now_v7(),
            attachment: Uuid::now_v7(),
            index: 0,
        };
        let big: Vec<u8> = (0..STORED_PIECE * 2 + 10).map(|i| i as u8).collect();
        assert!(!attachments.has_chunk(id).unwrap());
        attachments.put_chunk(id, big.clone()).unwrap();
        assert!(attachments.has_chunk(id).unwrap());
        assert_eq!(attachments.table.len(), 3);
        assert_eq!(attachments.chunk(id).unwrap().unwrap(), big);
        assert_eq!(file_of(&attachments, id.channel, id.attachment), big);
    }
}
