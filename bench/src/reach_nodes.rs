//! The hosts and nodes of the `reach` group ([`crate::reach`]): a site is a host of the test
//! internet with a runtime inside its namespace ([`crate::ns_runtime::NsRuntime`]); a node is
//! placed on a site, runs there, and is driven there (its API client, its directory listing,
//! its link, its path).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use ochat_node::NodeConfig;
use ochat_node::config::DEFAULT_P2P_LISTEN;
use ochat_node::directory::DirectoryClient;
use ochat_node::events::Events;
use ochat_node::federation::AutoAccept;
use ochat_node::network::Forced;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::verify_record;
use ochat_tests::netns::{Host, Internet, Nat};
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::reach::network;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::measure::Sample;
use crate::ns_runtime::NsRuntime;

/// How long a path, a listing or a link may take to appear.
pub(crate) const WAIT: Duration = Duration::from_secs(40);

/// A host of the test internet with its runtime.
pub(crate) struct Site {
    pub(crate) host: Host,
    pub(crate) rt: Arc<NsRuntime>,
}

impl Site {
    pub(crate) fn new(host: Host) -> Result<Self> {
        let rt = Arc::new(NsRuntime::start(&host.ns)?);
        Ok(Site { host, rt })
    }
}

/// A node running on a site's runtime.
pub(crate) struct Placed {
    pub(crate) rt: Arc<NsRuntime>,
    pub(crate) node: Arc<TestNode>,
}

/// What the scenarios share: the directory's URL and a folder for data.
pub(crate) struct World<'a> {
    pub(crate) url: String,
    pub(crate) dir: &'a Path,
}

pub(crate) fn node_config(dir: &Path, name: &str, url: &str, forced: Option<Forced>) -> NodeConfig {
    let mut config = test_config(dir, name, Some(url));
    config.p2p_listen = DEFAULT_P2P_LISTEN.iter().map(|s| s.to_string()).collect();
    config.reach.forced = forced;
    config
}

/// Starts a node on `site` and waits until the directory lists it (with a relayed address
/// when `relayed`).
pub(crate) async fn place(
    site: &Site,
    config: NodeConfig,
    url: &str,
    relayed: bool,
) -> Result<Placed> {
    let url = url.to_string();
    let node = site
        .rt
        .run(async move {
            let node = Arc::new(TestNode::start(config).await?);
            wait_listed(&node, &url, relayed).await?;
            Ok(node)
        })
        .await?;
    Ok(Placed {
        rt: site.rt.clone(),
        node,
    })
}

impl Placed {
    pub(crate) async fn stop(self) -> Result<()> {
        let mut node =
            Arc::try_unwrap(self.node).map_err(|_| anyhow!("the node is still in use"))?;
        self.rt.run(async move { node.stop().await }).await
    }

    pub(crate) fn events(&self) -> Result<Events> {
        let node = self.node.node.as_ref().context("the node is stopped")?;
        Ok(node.shared.federation.events().clone())
    }
}

/// Waits until the directory at `url` holds `node`'s record with an address (a relayed one
/// when `relayed`): until then nobody can reach it.
pub(crate) async fn wait_listed(node: &TestNode, url: &str, relayed: bool) -> Result<()> {
    let client = DirectoryClient::new(url)?;
    let uuid: InstanceId = node.uuid.parse()?;
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(signed)) = client.lookup(uuid).await {
            let listed = verify_record(&signed)?;
            if listed
                .addresses
                .iter()
                .any(|a| !relayed || a.contains("/p2p-circuit"))
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{} is not listed after {WAIT:?}", node.uuid);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `from` requests `to` (which accepts by itself); returns `from`'s channel once Accepted.
pub(crate) async fn link(from: &Placed, to: &Placed) -> Result<Uuid> {
    let (node, uuid) = (from.node.clone(), to.node.uuid.clone());
    from.rt
        .run(async move {
            let c = node
                .ok(
                    Method::POST,
                    "/api/v1/connections",
                    Some(json!({"remote_uuid": uuid, "send": true})),
                )
                .await?;
            let id = c["id"].as_str().context("connection id")?;
            let done = node.wait_status(id, "Accepted").await?;
            Ok(done["channel_id"].as_str().context("channel id")?.parse()?)
        })
        .await
}

/// Waits (up to [`WAIT`]) until `from` reports the path to `to` as `wanted`; returns what it
/// reports last, as "direct, QUIC" or "relayed, TCP".
pub(crate) async fn path(from: &Placed, to: &Placed, wanted: &'static str) -> Result<String> {
    let (node, uuid) = (from.node.clone(), to.node.uuid.clone());
    from.rt
        .run(async move {
            let deadline = Instant::now() + WAIT;
            loop {
                let n = network(&node).await?;
                let peer = n["peers"]
                    .as_array()
                    .and_then(|a| a.iter().find(|p| p["remote_uuid"] == uuid.as_str()))
                    .cloned()
                    .unwrap_or_default();
                let seen = peer["path"].as_str().unwrap_or("none").to_string();
                if seen == wanted || Instant::now() > deadline {
                    let quic = peer["remote_addresses"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(is_quic)));
                    let transport = if quic { "QUIC" } else { "TCP" };
                    return Ok(format!("{seen}, {transport}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
}

fn is_quic(addr: &str) -> bool {
    addr.contains("/quic")
}

pub(crate) fn p50_sample(h: hdrhistogram::Histogram<u64>) -> Sample {
    Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    }
}

/// Everything the group needs on the internet.
pub(crate) struct Sites {
    pub(crate) directory: Site,
    pub(crate) public_a: Site,
    pub(crate) public_b: Site,
    pub(crate) home_a: Site,
    pub(crate) home_b: Site,
    pub(crate) symmetric: Site,
    pub(crate) home_c: Site,
}

pub(crate) fn sites(net: &mut Internet) -> Result<Sites> {
    let directory = Site::new(net.public_host("dir")?)?;
    let public_a = Site::new(net.public_host("pa")?)?;
    let public_b = Site::new(net.public_host("pb")?)?;
    let mut ra = net.home_router("ra", Nat::EndpointIndependent)?;
    let mut rb = net.home_router("rb", Nat::EndpointIndependent)?;
    let mut rs = net.home_router("rs", Nat::Symmetric)?;
    let mut rc = net.home_router("rc", Nat::EndpointIndependent)?;
    Ok(Sites {
        directory,
        public_a,
        public_b,
        home_a: Site::new(net.host_behind(&mut ra, "ha")?)?,
        home_b: Site::new(net.host_behind(&mut rb, "hb")?)?,
        symmetric: Site::new(net.host_behind(&mut rs, "hs")?)?,
        home_c: Site::new(net.host_behind(&mut rc, "hc")?)?,
    })
}

pub(crate) fn answerer_config(
    world: &World<'_>,
    name: &str,
    forced: Option<Forced>,
    dir: &str,
) -> NodeConfig {
    let mut config = node_config(&world.dir.join(dir), name, &world.url, forced);
    config.federation.auto_accept = AutoAccept::Any;
    config
}
