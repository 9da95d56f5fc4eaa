//! Starting and stopping a node: open the data folder (locked), open sled, start the API, and
//! on shutdown stop accepting requests, flush sled and release the lock.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use std::time::Duration;

use libp2p::Multiaddr;
use ochat_protocol::identity::IdentityKey;
use ochat_protocol::message::MessageResponse;
use ochat_protocol::wire::{HandshakeBody, HandshakeResponse, RefusalCode};
use tokio::sync::{mpsc, watch};

use crate::api;
use crate::backoff::Backoff;
use crate::config::NodeConfig;
use crate::data_dir::{DataDir, DataDirError, InstanceInfo};
use crate::directory::client::DirectoryClient;
use crate::disk_space::DiskSpace;
use crate::durable::GroupFlush;
use crate::events::Events;
use crate::federation::{Federation, FederationError, FederationParts};
use crate::http_server;
use crate::messaging::Messaging;
use crate::network::{self, Inbound, InboundMessages, NetworkConfig, NetworkError, NetworkHandle};
use crate::peers::Peers;
use crate::store::{Store, StoreError};

/// Why a node could not start or stop cleanly.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The data folder.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The API could not listen.
    #[error("cannot listen for the API on {addr}: {source}")]
    ApiListen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The peer-to-peer network could not start.
    #[error("cannot start the peer-to-peer network: {0}")]
    Network(#[from] NetworkError),
    /// The federation service could not start.
    #[error(transparent)]
    Federation(#[from] FederationError),
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// The API server failed.
    #[error("the API server stopped: {0}")]
    ApiServer(String),
}

/// What every part of a running node shares.
pub struct NodeShared {
    /// The instance's public facts.
    pub instance: InstanceInfo,
    /// The libp2p peer id (derived from the identity key).
    pub peer_id: String,
    /// The admin API token.
    pub admin_token: Zeroizing<String>,
    /// The database.
    pub store: Store,
    /// The federation service.
    pub federation: Federation,
    /// Where peers are and which keys they have.
    pub peers: Peers,
    /// The messaging service.
    pub messaging: Messaging,
    /// The network actor.
    pub network: NetworkHandle,
    /// Users, passwords, tokens: who is calling.
    pub accounts: crate::accounts::Accounts,
    /// The website live chat service.
    pub livechat: crate::livechat::LiveChat,
    /// Backups: the data folder, one at a time, and whether this node was restored.
    pub backups: crate::backup::Backups,
    /// The data folder's free space: writes stop before the disk is full.
    pub disk: Arc<crate::disk_space::DiskSpace>,
    addresses: RwLock<Vec<String>>,
}

impl NodeShared {
    /// The addresses peers can reach this node at.
    pub fn addresses(&self) -> Vec<String> {
        self.addresses.read().map(|a| a.clone()).unwrap_or_default()
    }

    fn set_addresses(&self, addrs: Vec<String>) {
        if let Ok(mut a) = self.addresses.write() {
            *a = addrs;
        }
    }
}

impl std::fmt::Debug for NodeShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeShared")
            .field("instance", &self.instance)
            .field("peer_id", &self.peer_id)
            .finish_non_exhaustive()
    }
}

/// A started node.
#[derive(Debug)]
pub struct RunningNode {
    /// Shared state (instance facts, store).
    pub shared: Arc<NodeShared>,
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// Whether this start created the identity.
    pub created: bool,
    data_dir: DataDir,
    stop: Option<oneshot::Sender<()>>,
    stop_workers: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    server: JoinHandle<Result<(), std::io::Error>>,
}

/// The libp2p peer id of an identity key.
pub fn peer_id_of(secret: &[u8; 32]) -> String {
    let mut bytes = *secret;
    match libp2p::identity::Keypair::ed25519_from_bytes(&mut bytes) {
        Ok(kp) => kp.public().to_peer_id().to_string(),
        Err(_) => String::new(),
    }
}

impl RunningNode {
    /// Starts a node with `config`.
    pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
        crate::process_setup::prepare();
        let data_dir = DataDir::open(&config.data_dir, config.name.as_deref())?;
        let store = Store::open(&data_dir.db_path())?;
        store.next_counter("starts")?;
        let peer_id = peer_id_of(&data_dir.secrets.identity.secret_bytes());
        let secret = data_dir.secrets.identity.secret_bytes();
        let listen = config
            .p2p_listen
            .iter()
            .map(|a| {
                a.parse::<Multiaddr>()
                    .map_err(|e| NodeError::Config(format!("invalid listen address {a}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (network, inbound, inbound_messages) = network::start_with_messages(
            &secret,
            NetworkConfig {
                listen,
                reach: config.reach.clone(),
                ..NetworkConfig::default()
            },
        )
        .await?;
        let directory = match &config.directory {
            Some(url) => Some(
                DirectoryClient::new(url)
                    .map_err(|e| NodeError::Config(format!("invalid directory URL {url}: {e}")))?,
            ),
            None => None,
        };
        let events = Events::new();
        let flush = GroupFlush::start(store.clone());
        let accounts = crate::livechat::LiveChatConfig::accounts_config(&config.livechat)
            .and_then(|c| Ok(crate::accounts::Accounts::new(&store, &c, flush.clone())?))
            .map_err(|e| NodeError::Config(format!("live chat: {e}")))?;
        let peers = Peers::new(
            &store,
            directory,
            crate::peers::manual::parse(&config.peers)
                .map_err(|e| NodeError::Config(e.to_string()))?,
            network.clone(),
        )?;
        let federation = Federation::new(FederationParts {
            store: store.clone(),
            accounts: accounts.clone(),
            uuid: data_dir.instance.uuid,
            name: data_dir.instance.name.clone(),
            identity: IdentityKey::from_secret_bytes(&secret),
            prekey: *data_dir.secrets.prekey,
            previous_prekey: data_dir.secrets.previous_prekey.as_deref().copied(),
            network: network.clone(),
            peers: peers.clone(),
            events: events.clone(),
            config: config.federation.clone(),
        })?;
        let messaging = Messaging::new(
            store.clone(),
            peers.clone(),
            data_dir.instance.uuid,
            network.clone(),
            events.clone(),
            flush.clone(),
            config.messaging.clone(),
        )?;
        let livechat =
            crate::livechat::LiveChat::new(&store, &config.livechat, flush, accounts.clone())
                .map_err(|e| NodeError::Config(format!("live chat: {e}")))?;
        let backups = crate::backup::Backups::new(data_dir.root(), &store)
            .map_err(|e| NodeError::Config(format!("restore mark: {e}")))?;
        let shared = Arc::new(NodeShared {
            instance: data_dir.instance.clone(),
            peer_id,
            admin_token: data_dir.admin_token.clone(),
            store,
            federation: federation.clone(),
            peers,
            messaging: messaging.clone(),
            network: network.clone(),
            accounts,
            livechat,
            backups,
            disk: crate::disk_space::DiskSpace::new(data_dir.root(), config.http.min_free_space),
            addresses: RwLock::new(Vec::new()),
        });
        messaging.set_federation(federation.clone());
        // Before anything can send: a restored node flags its channels for a re-key.
        messaging
            .plan_rekeys_after_restore()
            .map_err(|e| NodeError::Config(format!("re-key plan after a restore: {e}")))?;
        let (stop_workers, stop_rx) = watch::channel(false);
        let mut workers = federation.spawn_workers(stop_rx.clone());
        workers.push(messaging.spawn_rekeys(stop_rx.clone()));
        workers.push(tokio::spawn(serve_inbound(
            federation.clone(),
            messaging.clone(),
            shared.disk.clone(),
            inbound,
        )));
        workers.push(tokio::spawn(serve_messages(
            messaging.clone(),
            shared.disk.clone(),
            inbound_messages,
        )));
        workers.push(messaging.spawn_delivery(stop_rx.clone()));
        workers.push(crate::reconnect::spawn(
            &network,
            messaging.clone(),
            federation.clone(),
            stop_rx.clone(),
        ));
        workers.push(
            shared.livechat.spawn_sweeper(
                config
                    .livechat
                    .sweep_every
                    .unwrap_or(crate::livechat::sweeper::DEFAULT_SWEEP_EVERY),
                stop_rx.clone(),
            ),
        );
        // Transcript emails (lc-files): sends the queue kept in sled, when SMTP is configured.
        workers.extend(shared.livechat.spawn_mail_worker(stop_rx.clone()));
        if let Some(days) = config.livechat.retention_days {
            let every = config
                .livechat
                .retention_sweep_every
                .unwrap_or(crate::livechat::reports::privacy::DEFAULT_SWEEP_EVERY);
            workers.push(
                shared
                    .livechat
                    .spawn_retention(days, every, stop_rx.clone()),
            );
        }
        if let Some(url) = &config.directory
            && let Ok(client) = DirectoryClient::new(url)
        {
            workers.push(tokio::spawn(crate::node_reach::use_directory_p2p(
                client,
                network.clone(),
                stop_rx.clone(),
            )));
        }
        workers.push(tokio::spawn(follow_addresses(shared.clone(), stop_rx)));
        // Known before the API answers, so `GET /api/v1/instance` never shows a started node
        // without addresses (bounded: a node slow to listen starts anyway).
        wait_first_addresses(&shared, FIRST_ADDRESSES_WAIT).await;
        let listener = TcpListener::bind(config.api_listen)
            .await
            .map_err(|source| NodeError::ApiListen {
                addr: config.api_listen,
                source,
            })?;
        let api_addr = listener
            .local_addr()
            .map_err(|source| NodeError::ApiListen {
                addr: config.api_listen,
                source,
            })?;
        data_dir.write_api_addr(&api_addr.to_string())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let mut http = config.http.clone();
        // Only a trusted proxy may tell the visitor's country.
        http.strip_headers
            .extend(config.livechat.country_header.iter().cloned());
        let server = http_server::spawn(listener, api::router(shared.clone()), http, stopped)
            .map_err(|e| NodeError::Config(format!("API server: {e}")))?;
        tracing::info!(uuid = %shared.instance.uuid, %api_addr, "node started");
        Ok(RunningNode {
            created: data_dir.created,
            shared,
            api_addr,
            data_dir,
            stop: Some(stop),
            stop_workers,
            workers,
            server,
        })
    }

    /// Stops the API, flushes the database and releases the data folder.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.server).await;
        self.shared.livechat.shutdown().await;
        let _ = self.stop_workers.send(true);
        self.shared.network.shutdown().await;
        for worker in self.workers.drain(..) {
            worker.abort();
            let _ = worker.await;
        }
        self.shared.store.flush().await?;
        self.data_dir.clear_api_addr();
        let store = self.shared.store.clone();
        let served = served;
        let RunningNode {
            shared, data_dir, ..
        } = self;
        drop(shared);
        store.wait_closed(Duration::from_secs(10)).await;
        drop(data_dir);
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NodeError::ApiServer(e.to_string())),
            Err(e) => Err(NodeError::ApiServer(e.to_string())),
        }
    }
}

/// Hands every inbound handshake message to the federation service, each on its own task.
/// While the disk is full ([`crate::disk_space`]) the peer is told to try later.
async fn serve_inbound(
    federation: Federation,
    messaging: Messaging,
    disk: Arc<DiskSpace>,
    mut inbound: mpsc::Receiver<Inbound>,
) {
    while let Some(request) = inbound.recv().await {
        if let Err(full) = disk.check() {
            let _ = request.respond(HandshakeResponse::Refused {
                code: RefusalCode::Internal,
                message: format!("{full}; try again later"),
            });
            continue;
        }
        let federation = federation.clone();
        let messaging = messaging.clone();
        tokio::spawn(async move {
            let response = match &request.envelope.body {
                // A channel re-key: authenticated like every handshake message, answered by
                // messaging (which owns the ratchets).
                HandshakeBody::Rekey(signed) => {
                    match federation
                        .authenticated(request.peer, &request.envelope)
                        .await
                    {
                        Ok(record) => messaging.handle_rekey(&record, signed).await,
                        Err(refusal) => refusal,
                    }
                }
                _ => {
                    federation
                        .handle_envelope(request.peer, request.envelope.clone())
                        .await
                }
            };
            let _ = request.respond(response);
        });
    }
}

/// Hands every inbound message batch to the messaging service, each on its own task.
/// While the disk is full the batch is refused for now: the sender keeps it and retries.
async fn serve_messages(
    messaging: Messaging,
    disk: Arc<DiskSpace>,
    mut inbound: mpsc::Receiver<InboundMessages>,
) {
    while let Some(request) = inbound.recv().await {
        let messaging = messaging.clone();
        let full = disk.check();
        tokio::spawn(async move {
            let (peer, batch, responder) = request.into_parts();
            if let Err(full) = full {
                let _ = responder.respond(MessageResponse::Refused(full.to_string()));
                return;
            }
            let response = messaging.handle_batch(peer, batch).await;
            let _ = responder.respond(response);
        });
    }
}

/// Waits between tries to register our addresses: 200 ms, doubling up to 30 s.
const REGISTRATION_BACKOFF: Backoff =
    Backoff::new(Duration::from_millis(200), Duration::from_secs(30));

/// Keeps our signed record's addresses current (confirmed external, relayed, then listen
/// addresses: `network/reach.rs`), registered with the directory and stored in the DHT,
/// retrying the registration with backoff while the directory is unreachable.
/// How long a start waits for the network's first addresses before the API answers.
const FIRST_ADDRESSES_WAIT: Duration = Duration::from_secs(2);

/// Waits (at most `limit`) for the network's first addresses and shows them at once; the
/// directory registration and the record follow in [`follow_addresses`].
async fn wait_first_addresses(shared: &NodeShared, limit: Duration) {
    let mut addrs = shared.network.watch_addresses();
    let first = tokio::time::timeout(limit, async {
        addrs.wait_for(|a| !a.is_empty()).await.map(|a| a.clone())
    })
    .await;
    if let Ok(Ok(current)) = first {
        shared.set_addresses(current);
    }
}

async fn follow_addresses(shared: Arc<NodeShared>, mut stop: watch::Receiver<bool>) {
    let mut addrs = shared.network.watch_addresses();
    let mut published: Option<Vec<String>> = None;
    let mut announced: Option<Vec<String>> = None;
    let mut retry = REGISTRATION_BACKOFF.start();
    loop {
        let current: Vec<String> = addrs.borrow_and_update().clone();
        if !current.is_empty() && published.as_ref() != Some(&current) {
            shared.set_addresses(current.clone());
            let result = shared.federation.set_addresses(current.clone()).await;
            let record = shared.federation.record();
            if let Err(e) = shared
                .network
                .dht_publish(shared.federation.uuid(), record)
                .await
            {
                tracing::debug!(error = %e, "could not hand our record to the DHT");
            }
            if announced.as_ref() != Some(&current) {
                shared.federation.announce().await;
                announced = Some(current.clone());
            }
            match result {
                Ok(()) => {
                    published = Some(current);
                    retry.succeeded();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(retry.failed()) => {}
                        _ = stop.changed() => return,
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            changed = addrs.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}
