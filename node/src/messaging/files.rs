//! Attachment files as stored: the chunks of a file live under `channel ‖ attachment ‖ index`
//! in the `attachments` tree, so a file belongs to the one channel it was sent or received on.
//!
//! - A partner can only ever write chunks into its own channel: knowing the id of a file we
//!   sent to someone else gives it no way to touch our copy.
//! - Chunks are written once. A chunk under a key that is already taken is refused (a file,
//!   once here, cannot be changed or extended by a later message).
//! - A download reads the chunks in order up to the file's size and checks the size and the
//!   SHA-256 again before handing the bytes out.
//! - No stored piece is larger than [`STORED_PIECE`] (the store refuses values near sled's
//!   blob threshold, see `store::tree`). Our chunks are 64 KiB; a larger chunk (from an older
//!   peer, which sent 256 KiB) is stored as sub-pieces under `chunk key ‖ u16 BE`, which sort
//!   right after the chunk's own key, so reading a file in key order still reads it in order.
//! - Data folders written before this layout (`attachment ‖ index`, 20-byte keys) are moved to
//!   it when messaging starts ([`migrate_legacy_chunks`]): each file goes to every channel whose
//!   history shows it (the hash check then keeps a forged one from ever opening). Chunks of a
//!   file whose message never arrived have no known channel and stay where they are, unused.
//!
//! Used by `sending` (our own files), `inbound` (a peer's) and `history` (downloads).

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::MessagingError;
use crate::model::{AttachmentMeta, MessageRecord};
use crate::store::{Store, StoreError, decode, key, trees};

/// The length of a key of the layout before chunks were keyed by channel.
const LEGACY_KEY_LEN: usize = 16 + 4;

/// The largest piece of a file stored under one key.
pub(crate) const STORED_PIECE: usize = ochat_protocol::message::CHUNK_SIZE;

/// The writes that store chunk `data` under `k`: itself when it fits in one piece, else
/// its sub-pieces under `k ‖ u16 BE`.
pub(crate) fn chunk_writes(k: Vec<u8>, data: Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
    if data.len() <= STORED_PIECE {
        return vec![(k, data)];
    }
    data.chunks(STORED_PIECE)
        .enumerate()
        .map(|(i, piece)| (key(&[&k, &(i as u16).to_be_bytes()]), piece.to_vec()))
        .collect()
}

/// The sub-pieces stored for chunk `k`, in order.
fn sub_pieces(store: &Store, k: &[u8]) -> impl Iterator<Item = Result<sled::IVec, StoreError>> {
    let len = k.len() + 2;
    store
        .attachments
        .scan_prefix(k)
        .filter(move |item| item.as_ref().map_or(true, |(sk, _)| sk.len() == len))
        .map(|item| item.map(|(_, v)| v).map_err(StoreError::from))
}

/// The key of chunk `index` of `attachment` on `channel`.
pub(crate) fn chunk_key(channel: Uuid, attachment: Uuid, index: u32) -> Vec<u8> {
    key(&[
        channel.as_bytes(),
        attachment.as_bytes(),
        &index.to_be_bytes(),
    ])
}

/// Whether a chunk is stored under `k`.
pub(crate) fn has_chunk(store: &Store, k: &[u8]) -> Result<bool, StoreError> {
    Ok(store.attachments.contains_key(k)? || sub_pieces(store, k).next().transpose()?.is_some())
}

/// Reads chunk `k` (joining its sub-pieces if it was stored in pieces).
pub(crate) fn chunk(store: &Store, k: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
    if let Some(whole) = store.attachments.get(k)? {
        return Ok(Some(whole));
    }
    let mut joined = Vec::new();
    let mut any = false;
    for piece in sub_pieces(store, k) {
        joined.extend_from_slice(&piece?);
        any = true;
    }
    Ok(any.then(|| joined.into()))
}

/// The bytes of a complete file, checked against its size and hash.
pub(crate) fn read_file(
    store: &Store,
    channel: Uuid,
    meta: &AttachmentMeta,
) -> Result<Vec<u8>, MessagingError> {
    let prefix = key(&[channel.as_bytes(), meta.id.as_bytes()]);
    let capacity = usize::try_from(meta.size).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    let mut hasher = Sha256::new();
    for item in store.attachments.scan_prefix(prefix) {
        let (_, piece) = item.map_err(StoreError::from)?;
        if data.len() as u64 >= meta.size {
            break;
        }
        hasher.update(&piece);
        data.extend_from_slice(&piece);
    }
    let digest = hex::encode(hasher.finalize());
    if data.len() as u64 != meta.size || digest != meta.sha256 {
        tracing::error!(%channel, attachment = %meta.id, "a stored file no longer matches its size and hash");
        return Err(MessagingError::NotFound(
            "the stored file does not match its hash; it cannot be downloaded".into(),
        ));
    }
    Ok(data)
}

/// Moves chunks stored under the old `attachment ‖ index` keys to `channel ‖ attachment ‖
/// index`, for every channel whose history shows the attachment. Returns how many chunks moved.
pub(crate) fn migrate_legacy_chunks(store: &Store) -> Result<usize, MessagingError> {
    let legacy = store
        .attachments
        .iter()
        .keys()
        .filter(|k| k.as_ref().map_or(true, |k| k.len() == LEGACY_KEY_LEN));
    let mut old_keys = Vec::new();
    for k in legacy {
        old_keys.push(k.map_err(StoreError::from)?);
    }
    if old_keys.is_empty() {
        return Ok(0);
    }
    let mut channels_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for item in store.messages.iter() {
        let (_, v) = item.map_err(StoreError::from)?;
        let m: MessageRecord = decode(trees::MESSAGES, &v)?;
        if let Some(a) = &m.attachment {
            let channels = channels_of.entry(a.id).or_default();
            if !channels.contains(&m.channel_id) {
                channels.push(m.channel_id);
            }
        }
    }
    let mut moved = 0;
    for old in old_keys {
        let (attachment, index) = old.split_at(16);
        let Ok(attachment) = Uuid::from_slice(attachment) else {
            continue;
        };
        let Some(channels) = channels_of.get(&attachment) else {
            continue;
        };
        let Some(piece) = store.attachments.get(&old).map_err(StoreError::from)? else {
            continue;
        };
        let mut batch = crate::store::Batch::default();
        for channel in channels {
            let k = key(&[channel.as_bytes(), attachment.as_bytes(), index]);
            for (k, v) in chunk_writes(k, piece.to_vec()) {
                batch.insert(trees::ATTACHMENTS, k, v)?;
            }
        }
        batch.remove(old);
        store.attachments.apply_batch(batch)?;
        moved += 1;
    }
    store.flush_blocking()?;
    if moved > 0 {
        tracing::info!(
            chunks = moved,
            "moved file chunks to the per-channel layout"
        );
    }
    Ok(moved)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::MessageState;
    use crate::store::encode;

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

    #[test]
    fn a_folder_of_the_old_layout_keeps_its_files_after_the_move() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (channel, file, orphan) = (Uuid::now_v7(), Uuid::new_v4(), Uuid::new_v4());
        let pieces: [&[u8]; 2] = [b"hello, ", b"world"];
        let meta = AttachmentMeta {
            id: file,
            name: "greeting.txt".into(),
            mime: "text/plain".into(),
            size: 12,
            sha256: hex::encode(Sha256::digest(b"hello, world")),
            complete: true,
        };
        let record = shown(channel, &meta);
        store
            .messages
            .insert(
                key(&[channel.as_bytes(), record.id.as_bytes()]),
                encode(trees::MESSAGES, &record).unwrap(),
            )
            .unwrap();
        // The old layout: attachment ‖ index, for a shown file and for one whose message never came.
        for (i, piece) in pieces.iter().enumerate() {
            let index = (i as u32).to_be_bytes();
            store
                .attachments
                .insert(key(&[file.as_bytes(), &index]), *piece)
                .unwrap();
            store
                .attachments
                .insert(key(&[orphan.as_bytes(), &index]), *piece)
                .unwrap();
        }

        assert_eq!(migrate_legacy_chunks(&store).unwrap(), 2);
        assert_eq!(read_file(&store, channel, &meta).unwrap(), b"hello, world");
        // Moving twice moves nothing more; the orphan's pieces stay where they were.
        assert_eq!(migrate_legacy_chunks(&store).unwrap(), 0);
        assert_eq!(store.attachments.len(), 4);
    }

    #[test]
    fn a_stored_file_that_no_longer_matches_its_hash_is_not_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (channel, file) = (Uuid::now_v7(), Uuid::new_v4());
        let meta = AttachmentMeta {
            id: file,
            name: "a.txt".into(),
            mime: "text/plain".into(),
            size: 5,
            sha256: hex::encode(Sha256::digest(b"hello")),
            complete: true,
        };
        store
            .attachments
            .insert(chunk_key(channel, file, 0), &b"jello"[..])
            .unwrap();
        let refused = read_file(&store, channel, &meta).unwrap_err();
        assert!(refused.to_string().contains("does not match its hash"));
        store
            .attachments
            .insert(chunk_key(channel, file, 0), &b"hello"[..])
            .unwrap();
        // Pieces past the file's size (someone extending it) are not part of it.
        store
            .attachments
            .insert(chunk_key(channel, file, 1), &b" and more"[..])
            .unwrap();
        assert_eq!(read_file(&store, channel, &meta).unwrap(), b"hello");
    }
}
