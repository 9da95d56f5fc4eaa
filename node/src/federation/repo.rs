//! Reading and writing connections, their request index and their outbox steps, always in one
//! sled transaction so a crash leaves either the old or the new state of a connection.

use ochat_protocol::identity::InstanceId;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use uuid::Uuid;

use crate::model::{ChannelRecord, ConnectionRecord, OutboxItem, Step};
use crate::store::{Store, StoreError, decode, encode, key, trees};

/// The request index key: remote UUID ‖ request id.
pub(crate) fn request_key(remote: &Uuid, request_id: &Uuid) -> Vec<u8> {
    key(&[remote.as_bytes(), request_id.as_bytes()])
}

/// One atomic change of a connection.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// The connection's new value (`None` with `delete` set removes it).
    pub(crate) save: Option<ConnectionRecord>,
    /// Remove the connection (and its index entry and outbox steps).
    pub(crate) delete: Option<ConnectionRecord>,
    /// An index entry that no longer applies (after Edit UUID).
    pub(crate) drop_index: Option<Vec<u8>>,
    /// Outbox steps to add.
    pub(crate) enqueue: Vec<OutboxItem>,
    /// Outbox steps to remove.
    pub(crate) dequeue: Vec<(Uuid, Step)>,
    /// A channel to create.
    pub(crate) channel: Option<ChannelRecord>,
}

impl Change {
    /// A change that only stores the connection's new value.
    pub(crate) fn save(record: ConnectionRecord) -> Self {
        Change {
            save: Some(record),
            ..Change::default()
        }
    }
}

/// Loads one connection.
pub(crate) fn load(store: &Store, id: &Uuid) -> Result<Option<ConnectionRecord>, StoreError> {
    Store::get(&store.connections, trees::CONNECTIONS, id.as_bytes())
}

/// Finds a connection by the peer's UUID and the request id.
pub(crate) fn by_request(
    store: &Store,
    remote: &Uuid,
    request_id: &Uuid,
) -> Result<Option<ConnectionRecord>, StoreError> {
    match store.requests.get(request_key(remote, request_id))? {
        Some(id) => match Uuid::from_slice(&id) {
            Ok(id) => load(store, &id),
            Err(e) => Err(StoreError::Corrupt {
                tree: trees::REQUESTS,
                reason: e.to_string(),
            }),
        },
        None => Ok(None),
    }
}

/// Every connection, oldest first.
pub(crate) fn all(store: &Store) -> Result<Vec<ConnectionRecord>, StoreError> {
    Store::all(&store.connections, trees::CONNECTIONS)
}

/// Every outbox step.
pub(crate) fn outbox(store: &Store) -> Result<Vec<OutboxItem>, StoreError> {
    Store::all(&store.outbox, trees::OUTBOX)
}

/// Updates one outbox step (after a failed attempt) if it is still there.
pub(crate) fn reschedule(store: &Store, item: &OutboxItem) -> Result<(), StoreError> {
    let k = OutboxItem::key(item.connection_id, item.step);
    let new = encode(trees::OUTBOX, item)?;
    let _ = store
        .outbox
        .update_and_fetch(k, |old| old.map(|_| new.clone()))?;
    Ok(())
}

/// A known peer's latest record.
pub(crate) fn peer_record(
    store: &Store,
    uuid: &InstanceId,
) -> Result<Option<ochat_protocol::record::SignedRecord>, StoreError> {
    Store::get(&store.peers, trees::PEERS, uuid.as_bytes())
}

/// Applies a change atomically, then flushes it to disk.
pub(crate) async fn commit(store: &Store, change: Change) -> Result<(), StoreError> {
    write(store, change)?;
    store.flush().await
}

/// Applies a change in one transaction without waiting for it to be durable: only for a write
/// that a later [`commit`] (or flush) covers before anything is acknowledged.
pub(crate) fn write(store: &Store, change: Change) -> Result<(), StoreError> {
    let save = match &change.save {
        Some(c) => Some((
            c.id,
            c.state.remote,
            c.request_id,
            encode(trees::CONNECTIONS, c)?,
        )),
        None => None,
    };
    let enqueue = change
        .enqueue
        .iter()
        .map(|i| {
            Ok((
                OutboxItem::key(i.connection_id, i.step),
                encode(trees::OUTBOX, i)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let channel = match &change.channel {
        Some(ch) => Some((ch.id, encode(trees::CHANNELS, ch)?)),
        None => None,
    };
    (
        &store.connections,
        &store.requests,
        &store.outbox,
        &store.channels,
    )
        .transaction(|(connections, requests, outbox, channels)| {
            if let Some(gone) = &change.delete {
                connections.remove(gone.id.as_bytes())?;
                requests.remove(request_key(&gone.state.remote, &gone.request_id))?;
                for step in [Step::Request, Step::Answer, Step::Cancel] {
                    outbox.remove(OutboxItem::key(gone.id, step))?;
                }
            }
            if let Some(old) = &change.drop_index {
                requests.remove(old.as_slice())?;
            }
            if let Some((id, remote, request_id, bytes)) = &save {
                connections.insert(id.as_bytes(), bytes.as_slice())?;
                requests.insert(request_key(remote, request_id), id.as_bytes())?;
            }
            for (id, step) in &change.dequeue {
                outbox.remove(OutboxItem::key(*id, *step))?;
            }
            for (k, v) in &enqueue {
                outbox.insert(k.as_slice(), v.as_slice())?;
            }
            if let Some((id, bytes)) = &channel {
                channels.insert(id.as_bytes(), bytes.as_slice())?;
            }
            Ok::<(), ConflictableTransactionError<StoreError>>(())
        })?;
    Ok(())
}

/// Stores a peer's record if it is new or newer than the one known.
pub(crate) fn remember_peer(
    store: &Store,
    uuid: &InstanceId,
    signed: &ochat_protocol::record::SignedRecord,
    seq: u64,
) -> Result<(), StoreError> {
    let known = peer_record(store, uuid)?;
    let newer = match known.as_ref().map(ochat_protocol::record::verify_record) {
        Some(Ok(old)) => seq > old.seq,
        _ => true,
    };
    if newer {
        store
            .peers
            .insert(uuid.as_bytes(), encode(trees::PEERS, signed)?)?;
    }
    Ok(())
}

/// Decodes a channel.
#[allow(dead_code)]
pub(crate) fn channel(store: &Store, id: &Uuid) -> Result<Option<ChannelRecord>, StoreError> {
    match store.channels.get(id.as_bytes())? {
        Some(b) => Ok(Some(decode(trees::CHANNELS, &b)?)),
        None => Ok(None),
    }
}
