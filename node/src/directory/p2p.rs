//! The directory host's libp2p node: a public helper for nodes behind NAT. It serves circuit
//! relay v2 (with [`RelayLimits`]), the AutoNAT v2 server and a Kademlia server for bootstrap,
//! under its own persistent key (`p2p.key` in the directory's data folder, mode 0600), and
//! answers no ochat request itself. `GET /v1/p2p` tells clients its peer id and addresses, so a
//! node started with only `--directory URL` finds its relay and bootstrap peer by itself.
//!
//! Who uses it: `directory::server` starts it when [`DirectoryConfig::p2p`](super::DirectoryConfig)
//! is set (`ochat directory run` does by default); nodes read it with
//! [`DirectoryClient::p2p_info`](super::DirectoryClient::p2p_info).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use libp2p::Multiaddr;
use ochat_protocol::identity::IdentityKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::DirectoryError;
use crate::network::{self, Forced, NetworkConfig, NetworkHandle, ReachConfig, RelayLimits};

/// The key file of the directory's libp2p node.
pub const P2P_KEY_FILE: &str = "p2p.key";
/// The default libp2p listen addresses of `ochat directory run`.
pub const DEFAULT_P2P_LISTEN: [&str; 2] =
    ["/ip4/0.0.0.0/tcp/7491", "/ip4/0.0.0.0/udp/7491/quic-v1"];

/// How the directory's libp2p node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryP2p {
    /// Where it listens.
    pub listen: Vec<Multiaddr>,
    /// Its public addresses when they differ from the listen addresses (behind a port
    /// forward); by default the listen addresses are announced.
    pub external: Vec<Multiaddr>,
    /// The relay's limits.
    pub relay: RelayLimits,
}

impl DirectoryP2p {
    /// The defaults: TCP and QUIC on port 7491 of every interface, [`RelayLimits::default`].
    pub fn with_defaults() -> Self {
        DirectoryP2p {
            listen: DEFAULT_P2P_LISTEN
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            external: Vec::new(),
            relay: RelayLimits::default(),
        }
    }
}

/// The answer of `GET /v1/p2p`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct P2pInfo {
    /// The libp2p node's peer id.
    pub peer_id: String,
    /// Its addresses, each ending with `/p2p/<peer id>`.
    pub addresses: Vec<String>,
}

/// Starts the libp2p node with the key of `data_dir` (created on first start).
pub(crate) async fn start(
    data_dir: &Path,
    config: &DirectoryP2p,
) -> Result<NetworkHandle, DirectoryError> {
    let secret = load_or_create_key(data_dir)?;
    let network_config = NetworkConfig {
        listen: config.listen.clone(),
        reach: ReachConfig {
            external_addresses: config.external.clone(),
            relay_server: Some(config.relay.clone()),
            autonat_server: true,
            forced: Some(Forced::Public),
            hole_punching: false,
            ..ReachConfig::default()
        },
        ..NetworkConfig::default()
    };
    // Nobody answers ochat requests here: they are refused as "not accepting requests".
    let (handle, _requests) = network::start(&secret, network_config)
        .await
        .map_err(|e| DirectoryError::Server(format!("the libp2p node did not start: {e}")))?;
    // Its addresses come a moment after the listeners open; `GET /v1/p2p` should have them.
    let mut addresses = handle.watch_addresses();
    let listening = matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            addresses.wait_for(|a| !a.is_empty()),
        )
        .await,
        Ok(Ok(_))
    );
    if !listening {
        return Err(DirectoryError::Server(
            "the libp2p node has no usable listen address (check --p2p-listen)".into(),
        ));
    }
    tracing::info!(peer_id = %handle.local_peer_id(), "directory libp2p node started (relay, AutoNAT, DHT bootstrap)");
    Ok(handle)
}

/// What `GET /v1/p2p` answers.
pub(crate) fn info(handle: &NetworkHandle) -> P2pInfo {
    P2pInfo {
        peer_id: handle.local_peer_id().to_string(),
        addresses: handle.watch_addresses().borrow().clone(),
    }
}

fn load_or_create_key(dir: &Path) -> Result<Zeroizing<[u8; 32]>, DirectoryError> {
    let path = dir.join(P2P_KEY_FILE);
    let io = |action: &'static str| {
        let path = path.clone();
        move |source| DirectoryError::Io {
            action,
            path,
            source,
        }
    };
    match fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| DirectoryError::Io {
                action: "read the libp2p key (it must be 32 bytes; move it away to make a new one)",
                path: path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            })?;
            Ok(Zeroizing::new(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = IdentityKey::generate().map_err(|e| DirectoryError::Io {
                action: "generate a libp2p key",
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let secret = key.secret_bytes();
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(io("create"))?;
            file.write_all(secret.as_slice()).map_err(io("write"))?;
            file.sync_all().map_err(io("sync"))?;
            Ok(secret)
        }
        Err(e) => Err(io("read")(e)),
    }
}
