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
//!
//! Before the index of open live chat sessions (`lc_open_sessions`, issue 30), a start decoded
//! every session ever held to find the open ones (a second per million sessions).
//! [`index_open_sessions`] indexes the sessions not closed, once: the meta mark
//! `lc_open_sessions_indexed` says it was done (and flushed), so a crash half way only makes
//! the next opening do it again. A folder without sessions gets no mark (nothing to index).
//!
//! Before the index of incoming channel messages (`msg_incoming`, issue 30), an unread count
//! decoded every message after the read mark. [`index_incoming_messages`] indexes them once,
//! in groups of up to 256 ids of a channel, with the meta mark `msg_incoming_indexed`, in the
//! same way.

use serde::Deserialize;
use uuid::Uuid;

use super::channels::ChannelsTable;
use super::livechat::sessions::OPEN_SESSIONS_INDEXED;
use super::messages::{INCOMING_INDEXED, Messages};
use super::ratchets::{RatchetPickle, Ratchets};
use super::table::{Cbor, Table};
use super::{Store, StoreError, decode, trees};
use crate::model::livechat::Session;
use crate::model::{ChannelRecord, MessageRecord, RollbackSeen};

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

/// Indexes the live chat sessions not closed, once per folder (see the module
/// documentation); answers how many were indexed. A damaged session record is left out of the
/// index, with a warning: the start before this index failed on it, now only reading it does.
///
/// # Errors
///
/// [`StoreError`] of any kind: the store should not open then (a start would miss the open
/// sessions).
pub(super) fn index_open_sessions(store: &Store) -> Result<usize, StoreError> {
    let sessions = store.tree(trees::LC_SESSIONS)?;
    // A folder without sessions needs no index (and a fresh one stays untouched); the mark
    // comes with the first opening that finds sessions.
    if sessions.is_empty() || store.counter(OPEN_SESSIONS_INDEXED)? > 0 {
        return Ok(0);
    }
    let index = store.tree(trees::LC_OPEN_SESSIONS)?;
    let mut indexed = 0;
    for entry in sessions.iter() {
        let (key, bytes) = entry?;
        match decode::<Session>(trees::LC_SESSIONS, &bytes) {
            Ok(s) if s.closed_at_ms.is_none() => {
                index.insert(key, Vec::new())?;
                indexed += 1;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "a damaged live chat session was not indexed"),
        }
    }
    store.next_counter(OPEN_SESSIONS_INDEXED)?;
    store.flush_blocking()?;
    if indexed > 0 {
        tracing::info!(sessions = indexed, "indexed the open live chat sessions");
    }
    Ok(indexed)
}

/// Indexes the incoming channel messages once per folder (see the module documentation);
/// answers how many were indexed.
///
/// # Errors
///
/// [`StoreError`] of any kind: the store should not open then (unread counts would miss
/// messages).
pub(super) fn index_incoming_messages(store: &Store) -> Result<usize, StoreError> {
    if store.tree(trees::MESSAGES)?.is_empty() || store.counter(INCOMING_INDEXED)? > 0 {
        return Ok(0);
    }
    let messages = Messages::open(store)?;
    let mut indexed = 0;
    // Groups of up to GROUP ids of one channel, as received batches make them.
    const GROUP: usize = 256;
    let mut group: Option<(Uuid, Vec<Uuid>)> = None;
    for entry in store.tree(trees::MESSAGES)?.iter() {
        let (_, bytes) = entry?;
        match decode::<MessageRecord>(trees::MESSAGES, &bytes) {
            Ok(m) if !m.outgoing => {
                indexed += 1;
                match &mut group {
                    Some((channel, ids)) if *channel == m.channel_id && ids.len() < GROUP => {
                        ids.push(m.id);
                    }
                    _ => {
                        if let Some((channel, ids)) = group.replace((m.channel_id, vec![m.id])) {
                            messages.index_incoming(channel, &ids)?;
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "a damaged channel message was not indexed"),
        }
    }
    if let Some((channel, ids)) = group {
        messages.index_incoming(channel, &ids)?;
    }
    store.next_counter(INCOMING_INDEXED)?;
    store.flush_blocking()?;
    if indexed > 0 {
        tracing::info!(messages = indexed, "indexed the incoming channel messages");
    }
    Ok(indexed)
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

    fn session(closed: Option<u64>) -> Session {
        Session {
            id: Uuid::now_v7(),
            channel_id: Uuid::now_v7(),
            visitor_id: None,
            token_hash: vec![0; 32],
            language: None,
            country: None,
            page_url: String::new(),
            operators: Vec::new(),
            all_operators: Vec::new(),
            chatbot_id: None,
            created_at_ms: 1,
            last_activity_ms: 1,
            closed_at_ms: closed,
            pages: Vec::new(),
            next_seq: 0,
            bot: None,
            handover_at_ms: None,
            no_operator: false,
            written: true,
            bot_records: 0,
            abandoned: false,
            address: None,
            queue: None,
            identity: None,
            page_times: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_open_sessions_of_an_earlier_folder_are_indexed_once_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (open, closed) = (session(None), session(Some(5)));
        {
            // The earlier layout: sessions only, no index and no mark.
            let store = Store::open(dir.path()).unwrap();
            store.tree(trees::META).unwrap().clear().unwrap();
            let raw = store.tree(trees::LC_SESSIONS).unwrap();
            for s in [&open, &closed] {
                raw.insert(s.id.as_bytes(), encode(trees::LC_SESSIONS, s).unwrap())
                    .unwrap();
            }
            raw.insert(Uuid::now_v7().as_bytes(), &b"damaged"[..])
                .unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let repo = crate::store::livechat::LiveChatStore::open(&store).unwrap();
        let ids: Vec<Uuid> = repo.open_sessions().map(|s| s.unwrap().id).collect();
        assert_eq!(ids, [open.id], "only the open session, read from the index");
        assert_eq!(store.counter(OPEN_SESSIONS_INDEXED).unwrap(), 1);
        assert_eq!(index_open_sessions(&store).unwrap(), 0, "done once");

        // From then on the writes keep it: a session that closes leaves it, a new one enters.
        let mut now_closed = open.clone();
        now_closed.closed_at_ms = Some(9);
        repo.put_session(&now_closed).unwrap();
        let fresh = session(None);
        repo.put_session(&fresh).unwrap();
        let ids: Vec<Uuid> = repo.open_sessions().map(|s| s.unwrap().id).collect();
        assert_eq!(ids, [fresh.id]);
        repo.remove_session(fresh.id).unwrap();
        assert_eq!(repo.open_sessions().count(), 0);
    }

    #[tokio::test]
    async fn the_incoming_messages_of_an_earlier_folder_are_indexed_once_when_the_store_opens() {
        use crate::model::MessageState;
        use crate::store::messages::Messages;
        let dir = tempfile::tempdir().unwrap();
        let channel = Uuid::now_v7();
        let record = |outgoing: bool| MessageRecord {
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
        };
        let (sent, received) = (record(true), record(false));
        // 300 more received messages on another channel: two groups there (256 + 44).
        let other = Uuid::now_v7();
        let others: Vec<MessageRecord> = (0..300)
            .map(|_| MessageRecord {
                channel_id: other,
                ..record(false)
            })
            .collect();
        {
            // The earlier layout: messages only, no index and no mark.
            let store = Store::open(dir.path()).unwrap();
            store.tree(trees::META).unwrap().clear().unwrap();
            let raw = store.tree(trees::MESSAGES).unwrap();
            for m in [&sent, &received].into_iter().chain(&others) {
                let mut key = m.channel_id.as_bytes().to_vec();
                key.extend_from_slice(m.id.as_bytes());
                raw.insert(key, encode(trees::MESSAGES, m).unwrap())
                    .unwrap();
            }
            let mut damaged = channel.as_bytes().to_vec();
            damaged.extend_from_slice(Uuid::now_v7().as_bytes());
            raw.insert(damaged, &b"damaged"[..]).unwrap();
            store.flush().await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let messages = Messages::open(&store).unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 1);
        assert_eq!(messages.incoming_after(other, Uuid::nil()).unwrap(), 300);
        assert_eq!(messages.incoming_after(other, others[99].id).unwrap(), 200);
        assert_eq!(store.tree(trees::MSG_INCOMING).unwrap().len(), 3);
        assert_eq!(store.counter(INCOMING_INDEXED).unwrap(), 1);
        assert_eq!(index_incoming_messages(&store).unwrap(), 0, "done once");
        // From then on the writes keep it.
        messages.put(record(false)).unwrap();
        messages.put(record(true)).unwrap();
        assert_eq!(messages.incoming_after(channel, Uuid::nil()).unwrap(), 2);
        assert_eq!(messages.incoming_after(channel, received.id).unwrap(), 1);
    }
}
