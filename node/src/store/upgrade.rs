//! Layout changes made when the store opens, so data folders of earlier releases open.
//!
//! Before the ratchets had a table of their own (issue 26), each channel record carried its
//! Double Ratchet state (`ratchet`, CBOR bytes) and, once seen, the peer's rolled-back state
//! (`rollback`). [`split_channel_records`] moves both out of every such record: the ratchet's
//! bytes to `ratchets` as they are (they are the same encoding), the mark to `rollbacks`, and
//! then writes the record back without them. Until the record is rewritten, its own ratchet is
//! the one that counts, so a crash half way only makes the next opening do it again; once it
//! is rewritten, the table's is. It runs after the interrupted atomic writes are completed
//! (a channel created by an earlier release may come back from its intent) and before
//! anything reads a channel.

use serde::Deserialize;
use uuid::Uuid;

use super::channels::ChannelsTable;
use super::ratchets::{RatchetPickle, Ratchets};
use super::table::{Cbor, Table};
use super::{Store, StoreError, decode, trees};
use crate::model::{ChannelRecord, RollbackSeen};

/// What moved out of a channel record of the earlier layout.
#[derive(Deserialize)]
struct Moved {
    #[serde(default)]
    ratchet: Option<serde_bytes::ByteBuf>,
    #[serde(default)]
    rollback: Option<RollbackSeen>,
}

/// Moves the ratchets (and rollback marks) out of channel records of the earlier layout;
/// answers how many records changed. Flushes when any did.
///
/// # Errors
///
/// [`StoreError`] of any kind: the store should not open then (messaging would find no
/// ratchet for those channels).
pub(super) fn split_channel_records(store: &Store) -> Result<usize, StoreError> {
    let channels: Table<ChannelsTable> = store.table()?;
    let raw = store.tree(trees::CHANNELS)?;
    let ratchets = Ratchets::open(store)?;
    let mut moved = 0;
    for entry in raw.iter() {
        let (key, bytes) = entry?;
        let old: Moved = match decode(trees::CHANNELS, &bytes) {
            Ok(old) => old,
            Err(e) => {
                // Left as it is: reading it reports the damage, as it did before.
                tracing::warn!(error = %e, "a damaged channel record was not split");
                continue;
            }
        };
        let Some(ratchet) = old.ratchet else {
            continue;
        };
        let pickle = RatchetPickle::from_stored(ratchet.into_vec());
        let record: ChannelRecord = decode(trees::CHANNELS, &bytes)?;
        let id = Uuid::from_slice(&key).map_err(|e| StoreError::Corrupt {
            tree: trees::CHANNELS,
            reason: e.to_string(),
        })?;
        ratchets.put_pickle(id, &pickle)?;
        if let Some(seen) = old.rollback {
            ratchets.set_rollback(id, seen)?;
        }
        // Written back as today's record: without the ratchet and the mark.
        channels.put(&id, &Cbor(record))?;
        moved += 1;
    }
    if moved > 0 {
        store.flush_blocking()?;
        tracing::info!(
            channels = moved,
            "moved the channels' ratchets to their own table"
        );
    }
    Ok(moved)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::agreement::RootSecret;
    use ochat_protocol::identity::InstanceId;
    use ochat_protocol::ratchet::{KeySource, OsRandom, Ratchet};
    use serde::Serialize;

    use super::*;
    use crate::store::channels::Channels;
    use crate::store::encode;

    /// A channel record as the release before the ratchets table wrote it.
    #[derive(Serialize)]
    struct EarlierRecord {
        id: Uuid,
        connection_id: Uuid,
        remote: InstanceId,
        name: String,
        #[serde(with = "serde_bytes")]
        ratchet: Vec<u8>,
        created_at_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        rollback: Option<RollbackSeen>,
    }

    #[tokio::test]
    async fn a_channel_record_of_the_earlier_layout_gives_up_its_ratchet_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let secret = OsRandom.next_ratchet_secret().unwrap();
        let mut ratchet =
            Ratchet::init_responder(RootSecret::from_bytes([3; 32]), &secret).unwrap();
        let first = ratchet.seal(b"before the upgrade", b"ad").unwrap();
        let (with_mark, without) = (Uuid::now_v7(), Uuid::now_v7());
        let seen = RollbackSeen {
            first_at_ms: 1,
            last_at_ms: 2,
            last_message_number: 3,
            count: 4,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            let raw = store.tree(trees::CHANNELS).unwrap();
            for (id, rollback) in [(with_mark, Some(seen.clone())), (without, None)] {
                let old = EarlierRecord {
                    id,
                    connection_id: Uuid::now_v7(),
                    remote: InstanceId::generate(),
                    name: "Bolt".into(),
                    ratchet: encode(trees::CHANNELS, &ratchet).unwrap(),
                    created_at_ms: 5,
                    rollback,
                };
                raw.insert(id.as_bytes(), encode(trees::CHANNELS, &old).unwrap())
                    .unwrap();
            }
            raw.insert(Uuid::now_v7().as_bytes(), &b"damaged"[..])
                .unwrap();
            store.flush().await.unwrap();
        }

        let store = Store::open(dir.path()).unwrap();
        let ratchets = Ratchets::open(&store).unwrap();
        for id in [with_mark, without] {
            let mut moved = ratchets.load(id).unwrap().unwrap();
            let next = moved.seal(b"after the upgrade", b"ad").unwrap();
            assert_eq!(
                next.header.n,
                first.header.n + 1,
                "the same ratchet, carried on"
            );
            let record = Channels::open(&store).unwrap().get(id).unwrap().unwrap();
            assert_eq!((record.name.as_str(), record.created_at_ms), ("Bolt", 5));
            let raw = store
                .tree(trees::CHANNELS)
                .unwrap()
                .get(id.as_bytes())
                .unwrap();
            let left: Moved = decode(trees::CHANNELS, &raw.unwrap()).unwrap();
            assert!(left.ratchet.is_none() && left.rollback.is_none());
        }
        assert_eq!(ratchets.rollback(with_mark).unwrap(), Some(seen));
        assert_eq!(ratchets.rollback(without).unwrap(), None);
        // Done once: a second opening has nothing left to move.
        assert_eq!(split_channel_records(&store).unwrap(), 0);
    }
}
