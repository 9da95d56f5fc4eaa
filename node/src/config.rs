//! How a node is configured: everything has an embedded default so `ochat run` needs no flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::federation::FederationConfig;
use crate::messaging::MessagingConfig;

/// The local HTTP API's default address (loopback only).
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:7480";
/// The default data folder, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "ochat-data";
/// The default peer-to-peer listen addresses: TCP and QUIC on an OS-chosen port, all interfaces.
pub const DEFAULT_P2P_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"];

/// A node's configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the identity, tokens and the database live.
    pub data_dir: PathBuf,
    /// Where the local HTTP API listens.
    pub api_listen: SocketAddr,
    /// libp2p listen addresses (multiaddr text).
    pub p2p_listen: Vec<String>,
    /// The instance's display name used when the identity is first created.
    pub name: Option<String>,
    /// An optional UUID directory (base URL).
    pub directory: Option<String>,
    /// Peers given by hand: (Instance UUID, multiaddr with /p2p/ suffix).
    pub peers: Vec<(String, String)>,
    /// Retry and Sync Status timings.
    pub federation: FederationConfig,
    /// Message delivery timings.
    pub messaging: MessagingConfig,
    /// Live chat: country header, GeoIP database, webhook, clock.
    pub livechat: crate::livechat::LiveChatConfig,
    /// The API server: timeouts, connection caps, trusted proxies.
    pub http: crate::http_server::HttpConfig,
    /// Reachability: external addresses, relays, DHT bootstrap, relay server, mDNS. A
    /// directory's libp2p node (`GET /v1/p2p`) is added as relay and bootstrap peer at start.
    pub reach: crate::network::ReachConfig,
}

impl NodeConfig {
    /// The defaults for a data folder.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        NodeConfig {
            data_dir: data_dir.into(),
            api_listen: default_api_listen(),
            p2p_listen: DEFAULT_P2P_LISTEN.iter().map(|s| s.to_string()).collect(),
            name: None,
            directory: None,
            peers: Vec::new(),
            federation: FederationConfig::default(),
            messaging: MessagingConfig::default(),
            livechat: Default::default(),
            http: Default::default(),
            reach: Default::default(),
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self::with_data_dir(DEFAULT_DATA_DIR)
    }
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7480))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_default_api_address_is_the_one_used() {
        assert_eq!(default_api_listen().to_string(), DEFAULT_API_LISTEN);
    }
}
