//! Starting and stopping a node: open the data folder (locked), open sled, start the API, and
//! on shutdown stop accepting requests, flush sled and release the lock.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::api;
use crate::config::NodeConfig;
use crate::data_dir::{DataDir, DataDirError, InstanceInfo};
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
    addresses: RwLock<Vec<String>>,
}

impl NodeShared {
    /// The addresses peers can reach this node at.
    pub fn addresses(&self) -> Vec<String> {
        self.addresses.read().map(|a| a.clone()).unwrap_or_default()
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
        let data_dir = DataDir::open(&config.data_dir, config.name.as_deref())?;
        let store = Store::open(&data_dir.db_path())?;
        store.record_start()?;
        let peer_id = peer_id_of(&data_dir.secrets.identity.secret_bytes());
        let shared = Arc::new(NodeShared {
            instance: data_dir.instance.clone(),
            peer_id,
            admin_token: data_dir.admin_token.clone(),
            store,
            addresses: RwLock::new(Vec::new()),
        });
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
        let app = api::router(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(uuid = %shared.instance.uuid, %api_addr, "node started");
        Ok(RunningNode {
            created: data_dir.created,
            shared,
            api_addr,
            data_dir,
            stop: Some(stop),
            server,
        })
    }

    /// Stops the API, flushes the database and releases the data folder.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.server).await;
        self.shared.store.flush().await?;
        self.data_dir.clear_api_addr();
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NodeError::ApiServer(e.to_string())),
            Err(e) => Err(NodeError::ApiServer(e.to_string())),
        }
    }
}
