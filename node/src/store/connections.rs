//! The connections repository: connections, their request index, the pending-incoming index and
//! the handshake outbox, always changed together in one atomic write
//! ([`Store::write_atomically`]) so a crash leaves either the old or the new state of a
//! connection. Every change is made under the federation's lock, so no one else writes these
//! keys while a change is applied; the one key shared with others, a new channel's first
//! ratchet (which messaging then writes on its own), is created only if a replay still finds it
//! absent (`store::channels` adds the channel and its ratchet to the write).
//!
//! | table         | key                                     | value                   |
//! |---------------|-----------------------------------------|-------------------------|
//! | `connections` | connection id (16 B)                    | CBOR [`ConnectionRecord`] |
//! | `requests`    | remote UUID (16 B) ‖ request id (16 B)  | connection id (16 B)    |
//! | `pending_in`  | remote UUID (16 B) ‖ connection id (16 B) | empty                 |
//! | `outbox`      | connection id (16 B) ‖ step (1 B)       | CBOR [`OutboxItem`]     |
//!
//! Used by the federation service (every write, and `/metrics` through it), and by messaging
//! to find the connection of a message's conversation.

use ochat_protocol::connection::{Direction, Status};
use ochat_protocol::identity::InstanceId;
use uuid::Uuid;

use super::atomic::AtomicWrite;
use super::channels::{Channels, NewChannel};
use super::table::{Cbor, Table, Unit, table};
use super::{Store, StoreError, trees};
use crate::model::{ChannelRecord, ConnectionRecord, OutboxItem, Step};

table! {
    /// Connections by id.
    pub(crate) ConnectionsTable = trees::CONNECTIONS; Uuid => Cbor<ConnectionRecord>
}

table! {
    /// (remote UUID, request id) → connection id.
    pub(crate) RequestsTable = trees::REQUESTS; (Uuid, Uuid) => Uuid
}

table! {
    /// Incoming requests waiting for a decision: (remote UUID, connection id) → empty.
    pub(crate) PendingInTable = trees::PENDING_IN; (Uuid, Uuid) => Unit
}

table! {
    /// Handshake steps waiting for delivery: (connection id, step) → the step.
    pub(crate) HandshakeOutboxTable = trees::OUTBOX; (Uuid, u8) => Cbor<OutboxItem>
}

/// Whether a connection is an incoming request waiting for a decision.
fn waits_for_us(c: &ConnectionRecord) -> bool {
    c.state.direction == Direction::Incoming && c.state.status == Status::Pending
}

fn outbox_key(connection: Uuid, step: Step) -> (Uuid, u8) {
    (connection, step as u8)
}

/// The request index entry of a connection (see [`Change::drop_index`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey {
    remote: Uuid,
    request_id: Uuid,
}

impl RequestKey {
    /// The entry of `record` as it is now.
    pub fn of(record: &ConnectionRecord) -> Self {
        RequestKey {
            remote: record.state.remote,
            request_id: record.request_id,
        }
    }
}

/// One atomic change of a connection.
#[derive(Debug, Default)]
pub struct Change {
    /// The connection's new value.
    pub save: Option<ConnectionRecord>,
    /// Remove the connection (and its index entries and outbox steps).
    pub delete: Option<ConnectionRecord>,
    /// An index entry that no longer applies (after Edit UUID).
    pub drop_index: Option<RequestKey>,
    /// Outbox steps to add.
    pub enqueue: Vec<OutboxItem>,
    /// Outbox steps to remove.
    pub dequeue: Vec<(Uuid, Step)>,
    /// A channel to create, with its first ratchet.
    pub channel: Option<NewChannel>,
    /// `channel` takes over an earlier channel of the same remote (same id, new ratchet and
    /// connection): it replaces the stored one instead of being created.
    pub channel_reused: bool,
    /// An earlier connection with the same remote whose channel the accepted one takes over:
    /// removed like `delete` (a UUID appears at most once among the connections).
    pub retire: Option<ConnectionRecord>,
}

impl Change {
    /// A change that only stores the connection's new value.
    pub fn save(record: ConnectionRecord) -> Self {
        Change {
            save: Some(record),
            ..Change::default()
        }
    }
}

/// The connections repository (see the module documentation). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Connections {
    store: Store,
    connections: Table<ConnectionsTable>,
    requests: Table<RequestsTable>,
    pending_in: Table<PendingInTable>,
    outbox: Table<HandshakeOutboxTable>,
    channels: Channels,
}

impl Connections {
    /// Opens the repository's tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Connections {
            store: store.clone(),
            connections: store.table()?,
            requests: store.table()?,
            pending_in: store.table()?,
            outbox: store.table()?,
            channels: Channels::open(store)?,
        })
    }

    /// One connection.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn load(&self, id: &Uuid) -> Result<Option<ConnectionRecord>, StoreError> {
        Ok(self.connections.get(id)?.map(|Cbor(c)| c))
    }

    /// The connection of the peer's UUID and the request id.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn by_request(
        &self,
        remote: &Uuid,
        request_id: &Uuid,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        match self.requests.get(&(*remote, *request_id))? {
            Some(id) => self.load(&id),
            None => Ok(None),
        }
    }

    /// Every connection, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn all(&self) -> Result<Vec<ConnectionRecord>, StoreError> {
        Ok(self
            .connections
            .values()?
            .into_iter()
            .map(|Cbor(c)| c)
            .collect())
    }

    /// Every handshake outbox step.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>, StoreError> {
        Ok(self.outbox.values()?.into_iter().map(|Cbor(i)| i).collect())
    }

    /// How many handshake steps wait, and the most attempts one of them has had (`/metrics`);
    /// a step that does not decode is counted but has no attempts.
    pub fn outbox_stats(&self) -> (usize, u32) {
        let max_attempts = self
            .outbox
            .iter()
            .filter_map(Result::ok)
            .map(|(_, Cbor(item))| item.attempts)
            .max()
            .unwrap_or(0);
        (self.outbox.len(), max_attempts)
    }

    /// Updates one outbox step (after a failed attempt) if it is still there.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written.
    pub fn reschedule(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let key = outbox_key(item.connection_id, item.step);
        self.outbox
            .update(&key, |old| old.map(|_| Cbor(item.clone())))?;
        Ok(())
    }

    /// Incoming requests waiting for a decision: (from everyone, from `remote`).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn pending_incoming(&self, remote: &Uuid) -> Result<(usize, usize), StoreError> {
        let mut theirs = 0;
        for entry in self.pending_in.scan_keys(remote) {
            entry?;
            theirs += 1;
        }
        Ok((self.pending_in.len(), theirs))
    }

    /// Rebuilds the pending-incoming index from the connections (at start: it also covers a
    /// database from a version without the index).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written.
    pub fn rebuild_pending_index(&self) -> Result<usize, StoreError> {
        self.pending_in.clear()?;
        let mut n = 0;
        for c in self.all()?.iter().filter(|c| waits_for_us(c)) {
            self.pending_in.put(&(c.state.remote, c.id), &Unit)?;
            n += 1;
        }
        Ok(n)
    }

    /// The newest channel with `remote`, if any (the handshake reuses it).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub fn latest_channel_with(
        &self,
        remote: InstanceId,
    ) -> Result<Option<ChannelRecord>, StoreError> {
        Ok(self
            .channels
            .all()?
            .into_iter()
            .filter(|c| c.remote == remote)
            .max_by_key(|c| c.created_at_ms))
    }

    /// Applies a change atomically, then flushes it to disk.
    ///
    /// # Errors
    ///
    /// [`StoreError`]: nothing or all of the change was written.
    pub async fn commit(&self, change: Change) -> Result<(), StoreError> {
        self.write(change)?;
        self.store.flush().await
    }

    /// Makes every write so far durable (see [`Store::flush`]).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush().await
    }

    /// Applies a change atomically without waiting for it to be durable: only for a write that
    /// a later [`Connections::commit`] (or flush) covers before anything is acknowledged.
    ///
    /// The operations come in an order that readers outside the lock can live with: a removed
    /// connection loses its outbox steps and index entry before itself; a new channel exists
    /// before the connection that names it, and a connection before its index entry and outbox
    /// steps.
    ///
    /// # Errors
    ///
    /// [`StoreError`]: nothing or all of the change was written.
    pub fn write(&self, change: Change) -> Result<(), StoreError> {
        let mut w = AtomicWrite::default();
        for gone in change.delete.iter().chain(change.retire.iter()) {
            for step in [Step::Request, Step::Answer, Step::Cancel] {
                self.outbox.remove_op(&mut w, &outbox_key(gone.id, step));
            }
            self.requests
                .remove_op(&mut w, &(gone.state.remote, gone.request_id));
            self.pending_in
                .remove_op(&mut w, &(gone.state.remote, gone.id));
            self.connections.remove_op(&mut w, &gone.id);
        }
        if let Some(old) = &change.drop_index {
            self.requests
                .remove_op(&mut w, &(old.remote, old.request_id));
        }
        if let Some(ch) = &change.channel {
            self.channels.create_op(&mut w, ch, change.channel_reused)?;
        }
        if let Some(c) = change.save {
            let pending = (c.state.remote, c.id);
            let waits = waits_for_us(&c);
            let (id, index) = (c.id, (c.state.remote, c.request_id));
            self.connections.put_op(&mut w, &id, &Cbor(c))?;
            self.requests.put_op(&mut w, &index, &id)?;
            if waits {
                self.pending_in.put_op(&mut w, &pending, &Unit)?;
            } else {
                self.pending_in.remove_op(&mut w, &pending);
            }
        }
        for (id, step) in &change.dequeue {
            self.outbox.remove_op(&mut w, &outbox_key(*id, *step));
        }
        for item in change.enqueue {
            let key = outbox_key(item.connection_id, item.step);
            self.outbox.put_op(&mut w, &key, &Cbor(item))?;
        }
        self.store.write_atomically(&w)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::store::encode;

    fn incoming(remote: Uuid) -> ConnectionRecord {
        ConnectionRecord {
            id: Uuid::now_v7(),
            request_id: Uuid::new_v4(),
            state: ochat_protocol::connection::new_incoming(remote, None),
            remote_name: None,
            request: None,
            answer: None,
            ephemeral: None,
            remote_prekey: None,
            remote_ephemeral: None,
            channel_id: None,
            delivered: false,
            delivery_error: None,
            members: Vec::new(),
            created_at_ms: 1,
            updated_at_ms: 1,
            seen: false,
            remote_identity: None,
            keys: Default::default(),
            initiator_mac: None,
        }
    }

    #[test]
    fn the_layout_is_the_one_earlier_versions_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let repo = Connections::open(&store).unwrap();
        let remote = Uuid::new_v4();
        let c = incoming(remote);
        let mut change = Change::save(c.clone());
        change.enqueue.push(OutboxItem {
            connection_id: c.id,
            remote: InstanceId(remote),
            step: Step::Answer,
            attempts: 0,
            next_attempt_ms: 0,
        });
        repo.write(change).unwrap();
        let raw = |name| store.tree(name).unwrap();
        assert_eq!(
            raw(trees::CONNECTIONS)
                .get(c.id.as_bytes())
                .unwrap()
                .unwrap(),
            encode(trees::CONNECTIONS, &c).unwrap()
        );
        let index = [remote.as_bytes().as_slice(), c.request_id.as_bytes()].concat();
        assert_eq!(
            raw(trees::REQUESTS).get(&index).unwrap().unwrap(),
            c.id.as_bytes()
        );
        let pending = [remote.as_bytes().as_slice(), c.id.as_bytes()].concat();
        assert!(
            raw(trees::PENDING_IN)
                .get(&pending)
                .unwrap()
                .unwrap()
                .is_empty()
        );
        let step = OutboxItem::key(c.id, Step::Answer);
        assert!(raw(trees::OUTBOX).get(&step).unwrap().is_some());
        assert_eq!(repo.pending_incoming(&remote).unwrap(), (1, 1));
        assert_eq!(
            repo.by_request(&remote, &c.request_id).unwrap().unwrap().id,
            c.id
        );
        assert_eq!(repo.outbox_stats(), (1, 0));
    }
}
