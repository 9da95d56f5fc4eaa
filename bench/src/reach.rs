//! Group `reach` (not part of `all`; needs root, `ip` and `nft`): handshake and one-message
//! latency between two real nodes in network namespaces of the test internet
//! (`ochat_tests::netns`), on a direct path, on a hole-punched path and through the relay,
//! against bare libp2p request-response between two public hosts of the same internet
//! ([`crate::bare_p2p`]) or through the same relay ([`crate::bare_relay`]). Every row is
//! informative.
//!
//! One internet serves the whole group: a public host runs an in-process directory with its
//! libp2p node (relay, AutoNAT server, DHT bootstrap) on the defaults of `ochat directory run`;
//! the nodes start with nothing but its URL (`--directory`), listen on the defaults of `ochat
//! run`, and run in-process on runtimes inside their hosts' namespaces
//! ([`crate::ns_runtime::NsRuntime`], placed by `reach_nodes`; the baselines are in
//! `reach_bare`), where they are timed as in the `federation` group (the messaging service and
//! the event bus, no HTTP in the clock except the handshake's request).
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

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use ochat_node::directory::{DirectoryConfig, DirectoryP2p, DirectoryServer};
use ochat_node::events::EventKind;
use ochat_node::messaging::Viewer;
use ochat_node::network::Forced;
use ochat_tests::netns::{DIRECTORY_PORT, Internet};
use reqwest::Method;
use serde_json::json;
use tokio::sync::{Mutex, mpsc};
use uuid::Uuid;

use crate::federation::{delivered, text};
use crate::measure::{self, Sample, alternate, histogram, record};
use crate::opts::Opts;
use crate::reach_bare::{Bare, bare_direct, bare_relayed};
use crate::reach_nodes::{
    Placed, Site, Sites, WAIT, World, answerer_config, link, node_config, p50_sample, path, place,
    sites,
};
use crate::table::Row;

const GROUP: &str = "reach";
/// Messages one at a time, per round.
const MESSAGES: usize = 200;
/// Fresh requesters per round.
const HANDSHAKES: usize = 7;

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
