//! Helpers for the reachability tests (relays, hole punching, the DHT), on 127.0.0.1 only: a
//! directory that also runs its libp2p node (relay, AutoNAT, DHT bootstrap), node configurations
//! that make a node unreachable except through a relay, and waits on `GET /api/v1/network`.
//! The network-namespace tests reuse them with their own addresses.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ochat_node::NodeConfig;
use ochat_node::directory::{DirectoryConfig, DirectoryP2p, DirectoryServer, RunningDirectory};
use ochat_node::network::{Forced, Multiaddr};
use reqwest::Method;
use serde_json::Value;

use crate::node::{TestNode, WAIT, test_config};

/// A directory with its libp2p node (relay, AutoNAT server, DHT bootstrap) listening on
/// `p2p_listen` (e.g. `/ip4/127.0.0.1/tcp/0`), HTTP on `http` (port 0: any).
pub async fn directory_with_relay(
    dir: &Path,
    http: std::net::SocketAddr,
    p2p_listen: &str,
) -> Result<(RunningDirectory, String)> {
    let mut config = DirectoryConfig::new(dir, http);
    let mut p2p = DirectoryP2p::with_defaults();
    p2p.listen = vec![p2p_listen.parse::<Multiaddr>()?];
    config.p2p = Some(p2p);
    let directory = DirectoryServer::start_with(config).await?;
    let url = format!("http://{}", directory.addr);
    Ok((directory, url))
}

/// A test node configuration with only `directory` to go by, which nothing reaches directly:
/// its record carries only relayed addresses, and hole punching is off so the path stays on
/// the relay (on loopback a hole punch would always succeed).
pub fn relay_only_config(dir: &Path, name: &str, directory: &str) -> NodeConfig {
    let mut config = test_config(dir, name, Some(directory));
    config.reach.forced = Some(Forced::Private);
    config.reach.hole_punching = false;
    config
}

/// `GET /api/v1/network`.
pub async fn network(node: &TestNode) -> Result<Value> {
    node.ok(Method::GET, "/api/v1/network", None).await
}

/// Waits until `GET /api/v1/network` satisfies `pred`, failing after `limit`.
pub async fn wait_network(
    node: &TestNode,
    limit: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let n = network(node).await?;
        if pred(&n) {
            return Ok(n);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: not so after {limit:?}: {n:#}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the node publishes a relayed (`…/p2p-circuit/…`) address and returns it.
pub async fn wait_relayed_address(node: &TestNode) -> Result<String> {
    let n = wait_network(node, WAIT, "a relayed address is published", |n| {
        published(n).iter().any(|a| a.contains("/p2p-circuit"))
    })
    .await?;
    published(&n)
        .into_iter()
        .find(|a| a.contains("/p2p-circuit"))
        .context("no relayed address")
}

/// The published addresses of a network view.
pub fn published(n: &Value) -> Vec<String> {
    n["published_addresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The path (`direct`, `relayed`, `none`) to the peer of the accepted connection with
/// `remote_uuid`, from a network view.
pub fn path_to(n: &Value, remote_uuid: &str) -> Option<String> {
    n["peers"]
        .as_array()?
        .iter()
        .find(|p| p["remote_uuid"] == remote_uuid)
        .and_then(|p| p["path"].as_str().map(str::to_string))
}

/// A node's first published address (with its peer id), to give others as `--bootstrap`.
pub async fn p2p_address(node: &TestNode) -> Result<Multiaddr> {
    let n = wait_network(node, WAIT, "the node publishes an address", |n| {
        !published(n).is_empty()
    })
    .await?;
    let first = published(&n).into_iter().next().context("no address")?;
    Ok(first.parse()?)
}
