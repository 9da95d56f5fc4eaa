//! Group `reach` (not part of `all`; needs root, `ip` and `nft`): handshake and one-message
//! latency between two real nodes in network namespaces of the test internet
//! (`ochat_tests::netns`), on a direct path, on a hole-punched path and through the relay,
//! against bare libp2p request-response ([`crate::bare_p2p`]) between two public hosts of the
//! same internet. Every row is informative.
//!
//! One internet serves the whole group: a public host runs an in-process directory with its
//! libp2p node (relay, AutoNAT server, DHT bootstrap) on the defaults of `ochat directory run`;
//! the nodes start with nothing but its URL (`--directory`), listen on the defaults of `ochat
//! run`, and run in-process on runtimes inside their hosts' namespaces ([`NsRuntime`]), where
//! they are timed as in the `federation` group (the messaging service and the event bus, no
//! HTTP in the clock except the handshake's request).
//!
//! - direct: Acme and Bolt on two public hosts (`--reachability public`, so neither reserves a
//!   relay slot); handshake (a fresh node on Bolt's host → Acme accepts by itself → Accepted on
//!   both sides) and one message at a time (send → delivered). Baselines: a fresh bare peer
//!   dials and makes one request-response; one request-response at a time.
//! - hole punched: Acme and Bolt behind two endpoint-independent NATs; once Bolt sees the path
//!   direct, one message at a time. Baseline: the bare direct path between the public hosts
//!   (a bare stack would need DCUtR of its own to take the same path).
//! - relayed: Acme behind a symmetric NAT, Bolt and the fresh requesters behind an
//!   endpoint-independent one, so every byte goes through the directory host's relay;
//!   handshake and one message. Baselines: the same bare request-response through the same
//!   relay ([`crate::bare_relay`]: the responder on Acme's host holds a slot, the client on
//!   Bolt's host dials its `…/p2p-circuit` address).
//!
//! The directory's per-address rate limit is off and the relay's per-address limits on new
//! reservations and circuits are raised: every fresh requester of a figure comes from one
//! address, which the defaults (made for many homes) would throttle. The rest is default.
//!
//! The figure says which path the node reported (`GET /api/v1/network`) and on which transport.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use ochat_node::NodeConfig;
use ochat_node::config::DEFAULT_P2P_LISTEN;
use ochat_node::directory::{DirectoryClient, DirectoryConfig, DirectoryP2p, DirectoryServer};
use ochat_node::events::{EventKind, Events};
use ochat_node::federation::AutoAccept;
use ochat_node::messaging::Viewer;
use ochat_node::network::Forced;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::verify_record;
use ochat_tests::netns::{DIRECTORY_PORT, Host, Internet, Nat};
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::reach::network;
use reqwest::Method;
use serde_json::json;
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

use crate::federation::{ACK_LEN, WIRE_LEN, delivered, text};
use crate::measure::{self, Sample, alternate, histogram, record};
use crate::ns_runtime::NsRuntime;
use crate::opts::Opts;
use crate::table::Row;
use crate::{bare_p2p, bare_relay};

const GROUP: &str = "reach";
/// Messages one at a time, per round.
const MESSAGES: usize = 200;
/// Fresh requesters per round.
const HANDSHAKES: usize = 7;
/// How long a path, a listing or a link may take to appear.
const WAIT: Duration = Duration::from_secs(40);

/// A host of the test internet with its runtime.
struct Site {
    host: Host,
    rt: Arc<NsRuntime>,
}

impl Site {
    fn new(host: Host) -> Result<Self> {
        let rt = Arc::new(NsRuntime::start(&host.ns)?);
        Ok(Site { host, rt })
    }
}

/// A node running on a site's runtime.
struct Placed {
    rt: Arc<NsRuntime>,
    node: Arc<TestNode>,
}

/// What the scenarios share: the directory's URL and a folder for data.
struct World<'a> {
    url: String,
    dir: &'a Path,
}

fn node_config(dir: &Path, name: &str, url: &str, forced: Option<Forced>) -> NodeConfig {
    let mut config = test_config(dir, name, Some(url));
    config.p2p_listen = DEFAULT_P2P_LISTEN.iter().map(|s| s.to_string()).collect();
    config.reach.forced = forced;
    config
}

/// Starts a node on `site` and waits until the directory lists it (with a relayed address
/// when `relayed`).
async fn place(site: &Site, config: NodeConfig, url: &str, relayed: bool) -> Result<Placed> {
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
    async fn stop(self) -> Result<()> {
        let mut node =
            Arc::try_unwrap(self.node).map_err(|_| anyhow!("the node is still in use"))?;
        self.rt.run(async move { node.stop().await }).await
    }

    fn events(&self) -> Result<Events> {
        let node = self.node.node.as_ref().context("the node is stopped")?;
        Ok(node.shared.federation.events().clone())
    }
}

/// Waits until the directory at `url` holds `node`'s record with an address (a relayed one
/// when `relayed`): until then nobody can reach it.
async fn wait_listed(node: &TestNode, url: &str, relayed: bool) -> Result<()> {
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
async fn link(from: &Placed, to: &Placed) -> Result<Uuid> {
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
async fn path(from: &Placed, to: &Placed, wanted: &'static str) -> Result<String> {
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

/// One message at a time from `from` on `channel`: send → delivered, in µs.
async fn messages(from: &Placed, channel: Uuid, count: usize) -> Result<Sample> {
    let shared = from
        .node
        .node
        .as_ref()
        .context("the node is stopped")?
        .shared
        .clone();
    from.rt
        .run(async move {
            let mut events = shared.federation.events().subscribe();
            let mut h = histogram();
            for n in 0..count {
                let start = Instant::now();
                let view = shared
                    .messaging
                    .send_text(channel, Viewer::Admin, "Bolt", &text(n))
                    .await
                    .map_err(|e| anyhow!("send failed: {e}"))?;
                tokio::time::timeout(WAIT, async {
                    loop {
                        let e = events.recv().await.context("the event bus")?;
                        if delivered(&e) == Some(view.id) {
                            return anyhow::Ok(());
                        }
                    }
                })
                .await
                .context("a message was not delivered in time")??;
                record(&mut h, start.elapsed());
            }
            Ok(p50_sample(h))
        })
        .await
}

fn p50_sample(h: hdrhistogram::Histogram<u64>) -> Sample {
    Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    }
}

/// How a fresh bare client reaches the responder: directly, or through the relay.
#[derive(Debug, Clone)]
enum Dialer {
    Direct(PeerId, Multiaddr),
    Relayed(PeerId, Multiaddr),
}

/// A bare client of either kind.
#[derive(Debug, Clone)]
enum BareClient {
    Direct(bare_p2p::Client),
    Relayed(bare_relay::Client),
}

impl Dialer {
    /// A client with a fresh identity (call it on the client's runtime).
    fn client(&self) -> Result<BareClient> {
        Ok(match self {
            Dialer::Direct(peer, addr) => {
                BareClient::Direct(bare_p2p::Client::dial(*peer, addr.clone())?)
            }
            Dialer::Relayed(peer, addr) => {
                BareClient::Relayed(bare_relay::Client::dial(*peer, addr.clone())?)
            }
        })
    }
}

impl BareClient {
    async fn request(&self) -> Result<Vec<u8>> {
        let body = vec![0x42; WIRE_LEN];
        match self {
            BareClient::Direct(c) => c.request(body).await,
            BareClient::Relayed(c) => c.request(body).await,
        }
    }
}

/// A bare responder (kept alive here) and a client on another site, over the same internet.
struct Bare {
    _responder: Box<dyn std::any::Any + Send>,
    dialer: Dialer,
    client: BareClient,
    rt: Arc<NsRuntime>,
}

/// A bare responder on `server_site` (a public host), dialled directly from `client_site`.
async fn bare_direct(server_site: &Site, client_site: &Site) -> Result<Bare> {
    let server = server_site
        .rt
        .run(async { bare_p2p::Server::start_on(ACK_LEN, "/ip4/0.0.0.0/tcp/0".parse()?).await })
        .await?;
    let port = server
        .addr
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .context("the bare server has no TCP port")?;
    let addr: Multiaddr = format!("/ip4/{}/tcp/{port}", server_site.host.addr).parse()?;
    let dialer = Dialer::Direct(server.peer, addr);
    bare_with(Box::new(server), dialer, client_site).await
}

/// A bare responder on `server_site` with a slot on the directory host's relay (reached over
/// QUIC, as the nodes reach it), dialled through the relay from `client_site`.
async fn bare_relayed(world: &World<'_>, server_site: &Site, client_site: &Site) -> Result<Bare> {
    let url = world.url.clone();
    let server = server_site
        .rt
        .run(async move {
            let info = DirectoryClient::new(&url)?
                .p2p_info()
                .await?
                .context("the directory runs no relay")?;
            let relay: Multiaddr = info
                .addresses
                .iter()
                .find(|a| a.contains("/quic-v1") && !a.contains("/127.0.0.1/"))
                .context("the relay offers no QUIC address")?
                .parse()?;
            bare_relay::Server::start(relay, ACK_LEN).await
        })
        .await?;
    let dialer = Dialer::Relayed(server.peer, server.addr.clone());
    bare_with(Box::new(server), dialer, client_site).await
}

async fn bare_with(
    responder: Box<dyn std::any::Any + Send>,
    dialer: Dialer,
    client_site: &Site,
) -> Result<Bare> {
    let fresh = dialer.clone();
    let client = client_site.rt.run(async move { fresh.client() }).await?;
    Ok(Bare {
        _responder: responder,
        dialer,
        client,
        rt: client_site.rt.clone(),
    })
}

impl Bare {
    /// One request-response at a time on the open connection.
    async fn latency(&self, count: usize) -> Result<Sample> {
        let client = self.client.clone();
        self.rt
            .run(async move {
                let mut h = histogram();
                for _ in 0..count {
                    let start = Instant::now();
                    client.request().await?;
                    record(&mut h, start.elapsed());
                }
                Ok(p50_sample(h))
            })
            .await
    }

    /// Fresh peers each dial and make one request-response.
    async fn handshakes(&self, count: usize) -> Result<Sample> {
        let dialer = self.dialer.clone();
        self.rt
            .run(async move {
                let mut h = histogram();
                for _ in 0..count {
                    let client = dialer.client()?;
                    let start = Instant::now();
                    client.request().await?;
                    record(&mut h, start.elapsed());
                }
                Ok(p50_sample(h))
            })
            .await
    }
}

/// Forwards (requester uuid, when) for every request the answerer accepted by itself.
fn accepted_by(answerer: &Placed) -> Result<mpsc::Receiver<(String, Instant)>> {
    let mut events = answerer.events()?.subscribe();
    let (tx, rx) = mpsc::channel(16);
    answerer.rt.spawn(async move {
        while let Ok(e) = events.recv().await {
            let Some(c) = e.connection.as_ref() else {
                continue;
            };
            if e.event == EventKind::Accepted
                && c.direction == "incoming"
                && tx
                    .send((c.remote_uuid.clone(), Instant::now()))
                    .await
                    .is_err()
            {
                return;
            }
        }
    });
    Ok(rx)
}

/// How fresh requesters are made for a handshake figure.
struct Fresh<'a> {
    site: &'a Site,
    world: &'a World<'a>,
    forced: Option<Forced>,
    relayed: bool,
}

/// `count` fresh nodes on `fresh.site` each request `answerer`, which accepts by itself:
/// request → Accepted on both sides. Each is listed in the directory before the clock starts.
async fn handshakes(
    fresh: &Fresh<'_>,
    answerer: &Placed,
    accepted: &Arc<Mutex<mpsc::Receiver<(String, Instant)>>>,
    count: usize,
) -> Result<Sample> {
    let mut h = histogram();
    for _ in 0..count {
        let dir = tempfile::tempdir_in(fresh.world.dir)?;
        let config = node_config(dir.path(), "Fresh", &fresh.world.url, fresh.forced);
        let node = place(fresh.site, config, &fresh.world.url, fresh.relayed).await?;
        let mut mine = node.events()?.subscribe();
        let (api, remote) = (node.node.clone(), answerer.node.uuid.clone());
        let accepted = accepted.clone();
        let took = node
            .rt
            .run(async move {
                // The API connection is open before the clock starts, as in an operator's
                // console.
                api.ok(Method::GET, "/api/v1/instance", None).await?;
                let start = Instant::now();
                api.ok(
                    Method::POST,
                    "/api/v1/connections",
                    Some(json!({"remote_uuid": remote, "contact": "acme", "send": true})),
                )
                .await?;
                let ours = tokio::time::timeout(WAIT, async {
                    loop {
                        let e = mine.recv().await.context("the event bus")?;
                        if e.event == EventKind::Accepted {
                            return anyhow::Ok(Instant::now());
                        }
                    }
                })
                .await
                .context("the requester did not see Accepted in time")??;
                let (who, theirs) = tokio::time::timeout(WAIT, accepted.lock().await.recv())
                    .await
                    .context("the answerer did not accept in time")?
                    .context("the answerer's watcher stopped")?;
                if who != api.uuid {
                    bail!("the answerer accepted {who}, expected {}", api.uuid);
                }
                Ok(ours.max(theirs) - start)
            })
            .await?;
        record(&mut h, took);
        node.stop().await?;
    }
    Ok(p50_sample(h))
}

fn row(figure: &str, pair: &measure::Pair) -> Row {
    let l = pair.latency();
    Row::informative(GROUP, figure, "ms", false, (l.ours_p50, l.base_p50)).with_latency(l)
}

/// Everything the group needs on the internet.
struct Sites {
    directory: Site,
    public_a: Site,
    public_b: Site,
    home_a: Site,
    home_b: Site,
    symmetric: Site,
    home_c: Site,
}

fn sites(net: &mut Internet) -> Result<Sites> {
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

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let tmp = tempfile::tempdir()?;
    // Declared first, dropped last: the namespaces go after every runtime inside them stopped,
    // also when a step fails.
    let mut net = Internet::new().context("building the test internet (needs root, ip, nft)")?;
    let s = sites(&mut net)?;
    let data = tmp.path().join("directory");
    let directory = s
        .directory
        .rt
        .run(async move {
            let mut config =
                DirectoryConfig::new(&data, format!("0.0.0.0:{DIRECTORY_PORT}").parse()?);
            // Every fresh requester of a figure comes from one address (its host, or its
            // router): the per-address limits of the directory and of the relay, made for
            // many homes, would throttle the bench, not measure ochat. The rest is default.
            config.rate_limit = None;
            let mut p2p = DirectoryP2p::with_defaults();
            p2p.relay.reservations_per_ip_per_minute = 10_000;
            p2p.relay.circuits_per_ip_per_minute = 10_000;
            config.p2p = Some(p2p);
            Ok(DirectoryServer::start_with(config).await?)
        })
        .await
        .context("starting the directory")?;
    let world = World {
        url: format!("http://{}:{DIRECTORY_PORT}", s.directory.host.addr),
        dir: tmp.path(),
    };
    let bare = bare_direct(&s.public_a, &s.public_b)
        .await
        .context("the bare baseline")?;
    let mut rows = Vec::new();
    let result = scenarios(opts, &s, &world, &bare, &mut rows).await;
    drop(bare);
    let stopped = s
        .directory
        .rt
        .run(async move { Ok(directory.shutdown().await?) })
        .await;
    drop(s);
    drop(net);
    result?;
    stopped?;
    Ok(rows)
}

async fn scenarios(
    opts: &Opts,
    s: &Sites,
    world: &World<'_>,
    bare: &Bare,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let n = opts.scale(MESSAGES);
    let hs = opts.scale(HANDSHAKES).max(2);

    let start = Instant::now();
    let public = Some(Forced::Public);
    direct_or_relayed(
        opts,
        world,
        bare,
        rows,
        Setup {
            label: "direct, 2 public hosts",
            answerer: (&s.public_a, public, false),
            requester: (&s.public_b, public, false),
            wanted: "direct",
            messages: n,
            handshakes: hs,
        },
    )
    .await
    .context("direct")?;
    eprintln!("reach: direct {:.1} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let acme = place(
        &s.home_a,
        answerer_config(world, "Acme", None, "acme-punch"),
        &world.url,
        true,
    )
    .await?;
    let bolt = place(
        &s.home_b,
        node_config(&world.dir.join("bolt-punch"), "Bolt", &world.url, None),
        &world.url,
        true,
    )
    .await?;
    let channel = link(&bolt, &acme).await.context("hole punched: link")?;
    let seen = path(&bolt, &acme, "direct").await?;
    let lat = alternate(
        opts,
        async || messages(&bolt, channel, n).await,
        async || bare.latency(n).await,
    )
    .await
    .context("hole punched: messages")?;
    rows.push(row(
        &format!("hole punched, 2 EIM NATs ({seen}): one message, send → delivered (p50; base: bare, 2 public hosts)"),
        &lat,
    ));
    bolt.stop().await?;
    acme.stop().await?;
    eprintln!("reach: hole punched {:.1} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let relayed = bare_relayed(world, &s.symmetric, &s.home_c)
        .await
        .context("the bare baseline through the relay")?;
    direct_or_relayed(
        opts,
        world,
        &relayed,
        rows,
        Setup {
            label: "relayed, symmetric NAT",
            answerer: (&s.symmetric, None, true),
            requester: (&s.home_c, None, true),
            wanted: "relayed",
            messages: n,
            handshakes: hs,
        },
    )
    .await
    .context("relayed")?;
    eprintln!("reach: relayed {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn answerer_config(world: &World<'_>, name: &str, forced: Option<Forced>, dir: &str) -> NodeConfig {
    let mut config = node_config(&world.dir.join(dir), name, &world.url, forced);
    config.federation.auto_accept = AutoAccept::Any;
    config
}

/// A scenario with a handshake figure: where the answerer and the requesters run (site, forced
/// reachability, whether they must be listed behind the relay), the path to wait for.
struct Setup<'a> {
    label: &'a str,
    answerer: (&'a Site, Option<Forced>, bool),
    requester: (&'a Site, Option<Forced>, bool),
    wanted: &'static str,
    messages: usize,
    handshakes: usize,
}

async fn direct_or_relayed(
    opts: &Opts,
    world: &World<'_>,
    bare: &Bare,
    rows: &mut Vec<Row>,
    setup: Setup<'_>,
) -> Result<()> {
    let tag = setup.wanted;
    let (site, forced, relayed) = setup.answerer;
    let acme = place(
        site,
        answerer_config(world, "Acme", forced, &format!("acme-{tag}")),
        &world.url,
        relayed,
    )
    .await?;
    let (site, forced, relayed) = setup.requester;
    let bolt = place(
        site,
        node_config(
            &world.dir.join(format!("bolt-{tag}")),
            "Bolt",
            &world.url,
            forced,
        ),
        &world.url,
        relayed,
    )
    .await?;
    let channel = link(&bolt, &acme).await.context("link")?;
    let seen = path(&bolt, &acme, setup.wanted).await?;
    let via = if setup.wanted == "direct" {
        ""
    } else {
        " via the relay"
    };

    let n = setup.messages;
    let lat = alternate(
        opts,
        async || messages(&bolt, channel, n).await,
        async || bare.latency(n).await,
    )
    .await
    .context("messages")?;
    rows.push(row(
        &format!(
            "{} ({seen}): one message, send → delivered (p50; base: bare{via})",
            setup.label
        ),
        &lat,
    ));
    bolt.stop().await?;

    let accepted = Arc::new(Mutex::new(accepted_by(&acme)?));
    let fresh = Fresh {
        site,
        world,
        forced,
        relayed,
    };
    let hs = setup.handshakes;
    let shakes = alternate(
        opts,
        async || handshakes(&fresh, &acme, &accepted, hs).await,
        async || bare.handshakes(hs * 5).await,
    )
    .await
    .context("handshakes")?;
    rows.push(row(
        &format!(
            "{}: handshake, request → Accepted on both sides (p50; base: a fresh bare peer dials{via}, 1 request)",
            setup.label
        ),
        &shakes,
    ));
    drop(accepted);
    acme.stop().await?;
    Ok(())
}
