//! A file's download: its pieces read in order from the attachments repository
//! ([`crate::store::attachments`], where chunks are keyed by channel and written once) up to
//! the file's size, and checked against its size and SHA-256 again before the bytes go out.
//!
//! Used by `history` (downloads).

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::MessagingError;
use crate::model::AttachmentMeta;
use crate::store::attachments::Attachments;

/// The bytes of a complete file, checked against its size and hash.
pub(crate) fn read_file(
    attachments: &Attachments,
    channel: Uuid,
    meta: &AttachmentMeta,
) -> Result<Vec<u8>, MessagingError> {
    let capacity = usize::try_from(meta.size).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    let mut hasher = Sha256::new();
    for piece in attachments.pieces(channel, meta.id) {
        let piece = piece?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::attachments::ChunkId;

    #[test]
    fn a_stored_file_that_no_longer_matches_its_hash_is_not_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let attachments = Attachments::open(&store).unwrap();
        let (channel, file) = (Uuid::now_v7(), Uuid::new_v4());
        let meta = AttachmentMeta {
            id: file,
            name: "a.txt".into(),
            mime: "text/plain".into(),
            size: 5,
            sha256: hex::encode(Sha256::digest(b"hello")),
            complete: true,
        };
        let chunk = |index| ChunkId {
            channel,
            attachment: file,
            index,
        };
        attachments.put_chunk(chunk(0), b"jello".to_vec()).unwrap();
        let refused = read_file(&attachments, channel, &meta).unwrap_err();
        assert!(refused.to_string().contains("does not match its hash"));
        attachments.put_chunk(chunk(0), b"hello".to_vec()).unwrap();
        // Pieces past the file's size (someone extending it) are not part of it.
        attachments
            .put_chunk(chunk(1), b" and more".to_vec())
            .unwrap();
        assert_eq!(read_file(&attachments, channel, &meta).unwrap(), b"hello");
    }
}
