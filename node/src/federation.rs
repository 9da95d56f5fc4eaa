//! The federation service: connection requests between instances.
//!
//! - [`actions`] — what a local user does (create, send, sync, cancel, accept, reject, retry,
//!   edit UUID, delete, members), each a transition of the pure state machine in
//!   `ochat_protocol::connection`, stored atomically with the outbox steps it causes.
//! - [`auto_accept`] — which incoming requests are accepted without an administrator.
//! - [`inbound`] — what a peer sends us over `/ochat/handshake/1`: every envelope is checked
//!   (record signature, Noise peer id = record key, known UUID → key, body signature) before
//!   anything changes.
//! - [`outbox`] — the delivery worker: retries every queued step with backoff until the peer
//!   says it stored it; also the periodic Sync Status.
//! - where a peer is and which key it has: [`crate::peers`]; the connections, their indexes
//!   and the handshake outbox, always changed in one atomic write: [`crate::store::connections`].
//! - [`keys`] — the channel's ratchet and key confirmation MACs from the finished handshake
//!   (handshake 2, bound to both identities and pre-keys; handshake 1 for earlier peers).
//! - `answer` — the responder's signed answer and, for an acceptance, the channel's keys.
//! - `confirm` — key confirmation: a mismatch on either side, the responder's check of MAC_I.
//! - `error` — [`FederationError`], one variant per cause, and the [`ErrorKind`] the API
//!   answers it with.

pub mod actions;
mod answer;
pub mod auto_accept;
mod confirm;
mod error;
pub mod inbound;
pub mod keys;
pub mod outbox;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, SignedRecord};
use tokio::sync::{Mutex, Notify};

use crate::events::Events;
use crate::model::{StoredSecret, now_ms};
use crate::network::NetworkHandle;
use crate::peers::Peers;
use crate::store::Store;
use crate::store::connections::Connections;
pub use auto_accept::AutoAccept;
pub use error::{ErrorKind, FederationError};

/// Timings and policy of the federation service.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// Which incoming requests are accepted without an administrator (default: none).
    pub auto_accept: AutoAccept,
    /// The first retry delay of an undelivered step.
    pub retry_base: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
    /// How often pending outgoing requests are synchronised automatically.
    pub sync_interval: Duration,
    /// Incoming requests that may wait for a decision at once; more are refused "try later".
    pub max_pending_incoming: usize,
    /// Incoming requests from one Instance UUID that may wait for a decision at once.
    pub max_pending_per_peer: usize,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            auto_accept: AutoAccept::Off,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
            sync_interval: Duration::from_secs(300),
            max_pending_incoming: 1_000,
            max_pending_per_peer: 5,
        }
    }
}

/// Who we are, for signing.
pub(crate) struct Me {
    pub(crate) uuid: InstanceId,
    pub(crate) name: String,
    pub(crate) identity: IdentityKey,
    pub(crate) prekey: StoredSecret,
    /// The pre-key before the last rotation, for answers to requests sent with it.
    pub(crate) previous_prekey: Option<StoredSecret>,
}

impl Me {
    /// The secret of the pre-key our signed `request` names (handshake 2): the current one or
    /// the one before the last rotation; our current pre-key for a request that names none.
    /// `None` when the named pre-key is no longer kept (rotated twice since).
    pub(crate) fn prekey_for(
        &self,
        request: &ochat_protocol::sign::Signed<ochat_protocol::wire::ConnectionRequest>,
    ) -> Option<[u8; 32]> {
        let named = request.open(&self.identity.public()).ok()?.prekey;
        let Some(public) = named else {
            return Some(self.prekey.0);
        };
        [Some(&self.prekey), self.previous_prekey.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| keys::public_of(&k.0) == public)
            .map(|k| k.0)
    }
}

/// The federation service. Cheap to clone.
#[derive(Clone)]
pub struct Federation {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// For the record's sequence counter.
    pub(crate) store: Store,
    pub(crate) accounts: crate::accounts::Accounts,
    /// The connections, their indexes and the handshake outbox.
    pub(crate) connections: Connections,
    pub(crate) me: Me,
    pub(crate) record: RwLock<SignedRecord>,
    pub(crate) network: NetworkHandle,
    pub(crate) peers: Peers,
    pub(crate) events: Events,
    /// Serialises state changes so an API action and an inbound message never race.
    pub(crate) lock: Mutex<()>,
    /// Wakes the outbox worker when a step is queued.
    pub(crate) wake: Notify,
    pub(crate) config: FederationConfig,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("uuid", &self.inner.me.uuid)
            .finish_non_exhaustive()
    }
}

/// What the node hands the federation service at start.
pub struct FederationParts {
    /// The database.
    pub store: Store,
    /// The local users (connection members are users).
    pub accounts: crate::accounts::Accounts,
    /// Our UUID.
    pub uuid: InstanceId,
    /// Our display name.
    pub name: String,
    /// Our identity key.
    pub identity: IdentityKey,
    /// Our X25519 pre-key secret.
    pub prekey: [u8; 32],
    /// The pre-key before the last rotation, if any.
    pub previous_prekey: Option<[u8; 32]>,
    /// The network actor.
    pub network: NetworkHandle,
    /// Where peers are and which keys they have (directory, DHT, peers given by hand).
    pub peers: Peers,
    /// The event bus.
    pub events: Events,
    /// Timings.
    pub config: FederationConfig,
}

impl Federation {
    /// Builds the service and signs our first record (addresses come later).
    pub fn new(parts: FederationParts) -> Result<Self, FederationError> {
        let me = Me {
            uuid: parts.uuid,
            name: parts.name,
            identity: parts.identity,
            prekey: StoredSecret(parts.prekey),
            previous_prekey: parts.previous_prekey.map(StoredSecret),
        };
        let record = sign_record(&parts.store, &me, Vec::new())?;
        let connections = Connections::open(&parts.store)?;
        connections.rebuild_pending_index()?;
        Ok(Federation {
            inner: Arc::new(Inner {
                peers: parts.peers,
                connections,
                store: parts.store,
                me,
                record: RwLock::new(record),
                network: parts.network,
                events: parts.events,
                lock: Mutex::new(()),
                wake: Notify::new(),
                config: parts.config,
                accounts: parts.accounts,
            }),
        })
    }

    /// Which incoming requests are accepted without an administrator.
    pub fn auto_accept(&self) -> &AutoAccept {
        &self.inner.config.auto_accept
    }

    /// Our current signed record.
    pub fn record(&self) -> SignedRecord {
        match self.inner.record.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-signs our record with new addresses and publishes it to the directory (if any).
    pub async fn set_addresses(&self, addresses: Vec<String>) -> Result<(), FederationError> {
        let record = sign_record(&self.inner.store, &self.inner.me, addresses)?;
        match self.inner.record.write() {
            Ok(mut r) => *r = record.clone(),
            Err(poisoned) => *poisoned.into_inner() = record.clone(),
        }
        self.publish().await
    }

    /// Publishes our current record to the directory (no-op without one).
    pub async fn publish(&self) -> Result<(), FederationError> {
        let record = self.record();
        match self.inner.peers.publish(&record).await {
            Ok(true) => {
                tracing::info!("registered our instance record with the directory");
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(FederationError::Register(e)),
        }
    }

    /// Our Instance UUID.
    pub fn uuid(&self) -> InstanceId {
        self.inner.me.uuid
    }

    /// How many handshake steps wait for delivery, and the most attempts one has had.
    pub fn outbox_stats(&self) -> (usize, u32) {
        self.inner.connections.outbox_stats()
    }

    /// The event bus.
    pub fn events(&self) -> &Events {
        &self.inner.events
    }
}

fn sign_record(
    store: &Store,
    me: &Me,
    addresses: Vec<String>,
) -> Result<SignedRecord, FederationError> {
    let record = InstanceRecord {
        uuid: me.uuid,
        name: me.name.clone(),
        identity: me.identity.public(),
        prekey: keys::public_of(&me.prekey.0),
        addresses,
        // Milliseconds since the epoch, or more: increasing across restarts and crashes.
        seq: store.next_counter_at_least("record_seq", now_ms())?,
        signed_at_ms: now_ms(),
    };
    record
        .sign(&me.identity)
        .map_err(FederationError::SignRecord)
}
