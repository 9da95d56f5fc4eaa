//! Reading and writing connections, their request index and their outbox steps, always as one
//! atomic write ([`Store::write_atomically`]) so a crash leaves either the old or the new state
//! of a connection. Every change is made under the federation's lock, so no one else writes
//! these keys while a change is applied; the one key shared with others, a new channel's first
//! ratchet (which messaging then writes on its own), is created only if a replay still finds it
//! absent (`store::channels` adds the channel and its ratchet to the write).

use ochat_protocol::connection::{Direction, Status};
use ochat_protocol::identity::InstanceId;
use uuid::Uuid;

use crate::model::{ConnectionRecord, OutboxItem, Step};
use crate::store::atomic::AtomicWrite;
use crate::store::channels::{Channels, NewChannel};
use crate::store::{Store, StoreError, encode, key, trees};

/// The request index key: remote UUID ‖ request id.
pub(crate) fn request_key(remote: &Uuid, request_id: &Uuid) -> Vec<u8> {
    key(&[remote.as_bytes(), request_id.as_bytes()])
}

/// The pending-incoming index key: remote UUID ‖ connection id.
fn pending_key(remote: &Uuid, id: &Uuid) -> Vec<u8> {
    key(&[remote.as_bytes(), id.as_bytes()])
}

/// Whether a connection is an incoming request waiting for a decision.
fn waits_for_us(c: &ConnectionRecord) -> bool {
    c.state.direction == Direction::Incoming && c.state.status == Status::Pending
}

/// Incoming requests waiting for a decision: (from everyone, from `remote`).
pub(crate) fn pending_incoming(store: &Store, remote: &Uuid) -> Result<(usize, usize), StoreError> {
    let index = store.tree(trees::PENDING_IN)?;
    let mut theirs = 0;
    for entry in index.scan_prefix(remote.as_bytes()) {
        entry?;
        theirs += 1;
    }
    Ok((index.len(), theirs))
}

/// Rebuilds the pending-incoming index from the connections (at start: it also covers a
/// database from a version without the index).
pub(crate) fn rebuild_pending_index(store: &Store) -> Result<usize, StoreError> {
    let index = store.tree(trees::PENDING_IN)?;
    index.clear()?;
    let mut n = 0;
    for c in all(store)?.iter().filter(|c| waits_for_us(c)) {
        index.insert(pending_key(&c.state.remote, &c.id), Vec::<u8>::new())?;
        n += 1;
    }
    Ok(n)
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
    /// A channel to create, with its first ratchet.
    pub(crate) channel: Option<NewChannel>,
    /// `channel` takes over an earlier channel of the same remote (same id, new ratchet and
    /// connection): it replaces the stored one instead of being created.
    pub(crate) channel_reused: bool,
    /// An earlier connection with the same remote whose channel the accepted one takes over:
    /// removed like `delete` (a UUID appears at most once among the connections).
    pub(crate) retire: Option<ConnectionRecord>,
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

/// Applies a change atomically without waiting for it to be durable: only for a write that a
/// later [`commit`] (or flush) covers before anything is acknowledged.
///
/// The operations come in an order that readers outside the lock can live with: a removed
/// connection loses its outbox steps and index entry before itself; a new channel exists before
/// the connection that names it, and a connection before its index entry and outbox steps.
pub(crate) fn write(store: &Store, change: Change) -> Result<(), StoreError> {
    let mut w = AtomicWrite::default();
    for gone in change.delete.iter().chain(change.retire.iter()) {
        for step in [Step::Request, Step::Answer, Step::Cancel] {
            w.remove(trees::OUTBOX, OutboxItem::key(gone.id, step));
        }
        w.remove(
            trees::REQUESTS,
            request_key(&gone.state.remote, &gone.request_id),
        );
        w.remove(trees::PENDING_IN, pending_key(&gone.state.remote, &gone.id));
        w.remove(trees::CONNECTIONS, gone.id.as_bytes().to_vec());
    }
    if let Some(old) = &change.drop_index {
        w.remove(trees::REQUESTS, old.clone());
    }
    if let Some(ch) = &change.channel {
        Channels::open(store)?.create_op(&mut w, ch, change.channel_reused)?;
    }
    if let Some(c) = &change.save {
        w.put(
            trees::CONNECTIONS,
            c.id.as_bytes().to_vec(),
            encode(trees::CONNECTIONS, c)?,
        );
        w.put(
            trees::REQUESTS,
            request_key(&c.state.remote, &c.request_id),
            c.id.as_bytes().to_vec(),
        );
        let pending = pending_key(&c.state.remote, &c.id);
        if waits_for_us(c) {
            w.put(trees::PENDING_IN, pending, Vec::new());
        } else {
            w.remove(trees::PENDING_IN, pending);
        }
    }
    for (id, step) in &change.dequeue {
        w.remove(trees::OUTBOX, OutboxItem::key(*id, *step));
    }
    for item in &change.enqueue {
        w.put(
            trees::OUTBOX,
            OutboxItem::key(item.connection_id, item.step),
            encode(trees::OUTBOX, item)?,
        );
    }
    store.write_atomically(&w)
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
