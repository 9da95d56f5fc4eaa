//! Group `federation`: two real nodes on 127.0.0.1 against bare libp2p request-response
//! ([`crate::bare_p2p`]) on the same transport.
//!
//! The figures the targets apply to drive Acme the way the baseline is driven: from inside
//! the process, through the node's own messaging service (the call the HTTP route makes), and
//! watch its event bus (what the event socket forwards). Each figure is also measured through
//! the HTTP API and the event WebSocket, as an operator's console uses it (informative rows):
//! the bench's HTTP clients and the node's HTTP server share the same two cores, and cost more
//! than the federation itself.
//!
//! - throughput: 16 senders post messages on Acme's channel at once, each waiting for its
//!   answer (stored durably) before the next; the figure is messages per second until every
//!   one is *delivered* (Bolt opened it, stored it durably and acknowledged it, and Acme
//!   recorded the acknowledgement durably). Baseline: 16 requests of the same size in flight,
//!   answered at once.
//! - latency: one message at a time, send → Acme reports it delivered.
//!   Baseline: one request-response at a time.
//! - the targets are set against the floor of a durable acknowledgement on this disk (not
//!   ochat): the same bare request-response, 16 in flight and one in flight, against a bare
//!   responder that answers only once the request is `fdatasync`ed to a log file written in
//!   full beforehand (grouped: one sync covers every request that arrived while the previous
//!   one ran; [`bare_p2p::Server::start_durable`]): 16 in flight ≥ 1.0× the floor, one in
//!   flight p50 ≤ 1.5× the floor's, each measured in turn with ours in the same run. Nothing
//!   durable beats the disk. The ratios against bare libp2p are shown for information.
//! - handshake: a fresh node sends a connection request; Acme accepts it by itself
//!   (`--auto-accept any`) and answers with the decision; the figure ends when both sides are
//!   Accepted.
//!   Baseline: a fresh libp2p peer dials and makes one request-response.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ochat_node::events::{Event, EventKind};
use ochat_node::federation::AutoAccept;
use ochat_node::messaging::Viewer;
use ochat_node::model::MessageState;
use ochat_node::node::NodeShared;
use ochat_tests::node::{TestNode, link_auto, test_config};
use reqwest::Method;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::bare_p2p;
use crate::measure::{self, Sample, alternate, histogram, lanes, record};
use crate::opts::Opts;
use crate::table::{Row, Target};
use crate::ws::Socket;

const GROUP: &str = "federation";
/// Messages in flight for the throughput figure.
const IN_FLIGHT: usize = 16;
/// Text of each message.
const TEXT_LEN: usize = 200;
/// Bytes of a baseline request: the sealed wire form of a 200-byte text (header, ids, tag,
/// CBOR framing) is about this large.
pub const WIRE_LEN: usize = 400;
/// Bytes of a baseline answer (an acknowledgement).
pub const ACK_LEN: usize = 40;

/// The `n`th message text ([`TEXT_LEN`] bytes).
pub fn text(n: usize) -> String {
    let head = format!("m{n}-");
    format!("{head}{}", "x".repeat(TEXT_LEN - head.len()))
}

/// Two linked nodes: Acme sends on `channel`.
#[derive(Debug)]
pub struct Pair {
    /// The sender.
    pub acme: Arc<TestNode>,
    /// The receiver.
    pub bolt: TestNode,
    /// Acme's channel to Bolt.
    pub channel: String,
    _dir: tempfile::TempDir,
}

/// Starts Acme and Bolt in folders of their own and links them.
pub async fn pair() -> Result<Pair> {
    let dir = tempfile::tempdir()?;
    // Acme accepts every request by itself (`--auto-accept any`), as the handshake figure asks.
    let mut config = test_config(&dir.path().join("acme"), "Acme", None);
    config.federation.auto_accept = AutoAccept::Any;
    let acme = TestNode::start(config).await?;
    let bolt = TestNode::start(peer_config(&dir.path().join("bolt"), "Bolt", &acme).await?).await?;
    let (_, channel) = link_auto(&bolt, &acme).await?;
    Ok(Pair {
        acme: Arc::new(acme),
        bolt,
        channel,
        _dir: dir,
    })
}

/// A config that knows `acme` by address.
async fn peer_config(
    dir: &std::path::Path,
    name: &str,
    acme: &TestNode,
) -> Result<ochat_node::NodeConfig> {
    // The listener may report its address a moment after the API answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let me = acme.ok(Method::GET, "/api/v1/instance", None).await?;
        if let Some(addr) = me["addresses"][0].as_str() {
            break addr.to_string();
        }
        if Instant::now() > deadline {
            bail!("acme reports no listening address after 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut config = test_config(dir, name, None);
    config.peers = vec![(acme.uuid.clone(), addr)];
    Ok(config)
}

async fn queued(node: &TestNode) -> Result<u64> {
    let list = node.ok(Method::GET, "/api/v1/channels", None).await?;
    Ok(list
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["queued"].as_u64()).sum())
        .unwrap_or(0))
}

/// Acme's node as its own code sees it, and its channel id.
fn inside(p: &Pair) -> Result<(Arc<NodeShared>, Uuid)> {
    let node = p.acme.node.as_ref().context("acme is stopped")?;
    Ok((node.shared.clone(), p.channel.parse()?))
}

/// Whether an event reports one of our (outgoing) messages delivered.
pub fn delivered(e: &Event) -> Option<Uuid> {
    let m = e.message.as_ref()?;
    (e.event == EventKind::State && m.direction == "out" && m.state == MessageState::Delivered)
        .then_some(m.id)
}

/// Sends one text through Acme's messaging service; answers once it is stored durably.
async fn send_inside(node: &NodeShared, channel: Uuid, text: &str) -> Result<Uuid> {
    let view = node
        .messaging
        .send_text(channel, Viewer::Admin, "Acme", text)
        .await
        .map_err(|e| anyhow::anyhow!("send failed: {e}"))?;
    Ok(view.id)
}

/// `count` messages by 16 senders inside the process, until all are delivered.
async fn ours_throughput(p: &Pair, count: usize) -> Result<Sample> {
    let (node, channel) = inside(p)?;
    let mut events = node.federation.events().subscribe();
    let start = Instant::now();
    let senders = lanes(IN_FLIGHT, count, move |n| {
        let node = node.clone();
        async move { send_inside(&node, channel, &text(n)).await.map(drop) }
    });
    let mut count_left = count;
    let mut lagged = false;
    while count_left > 0 {
        match events.recv().await {
            Ok(e) if delivered(&e).is_some() => count_left -= 1,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                lagged = true;
                break;
            }
            Err(e) => bail!("acme's event bus closed: {e}"),
        }
    }
    senders.await??;
    if lagged {
        until_queue_empty(p).await?;
    }
    Ok(Sample::rate(count, start.elapsed()))
}

/// `count` messages by 16 concurrent API clients, until all are delivered.
async fn http_throughput(p: &Pair, count: usize) -> Result<Sample> {
    let start = Instant::now();
    send_all(p, count, Arc::new(text)).await?;
    Ok(Sample::rate(count, start.elapsed()))
}

/// Polls Acme's channels until nothing is queued (after its events lagged).
async fn until_queue_empty(p: &Pair) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while queued(&p.acme).await? > 0 {
        if Instant::now() > deadline {
            bail!("messages still queued after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Acme sends `count` messages (`text(n)`) with 16 API clients at once and waits until every
/// one is delivered: its event socket reports each one `delivered` (if the socket lags, the
/// channel's queue is polled until it is empty).
pub async fn send_all(
    p: &Pair,
    count: usize,
    text: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Result<()> {
    let mut events = Socket::bearer(&p.acme.api, "/api/v1/events", &p.acme.token).await?;
    let (node, channel) = (p.acme.clone(), p.channel.clone());
    let senders = lanes(IN_FLIGHT, count, move |n| {
        let (node, channel, text) = (node.clone(), channel.clone(), text.clone());
        async move { node.send(&channel, &text(n)).await.map(drop) }
    });
    let mut delivered = 0;
    let mut lagged = false;
    while delivered < count {
        let e = events.next().await?;
        if e["type"] == "lagged" {
            lagged = true;
            break;
        }
        if e["event"] == "state"
            && e["message"]["direction"] == "out"
            && e["message"]["state"] == "delivered"
        {
            delivered += 1;
        }
    }
    senders.await??;
    if lagged {
        until_queue_empty(p).await?;
    }
    Ok(())
}

async fn base_throughput(client: &bare_p2p::Client, count: usize) -> Result<Sample> {
    let start = Instant::now();
    let client = client.clone();
    lanes(IN_FLIGHT, count, move |_| {
        let client = client.clone();
        async move { client.request(vec![0x42; WIRE_LEN]).await.map(drop) }
    })
    .await??;
    Ok(Sample::rate(count, start.elapsed()))
}

/// One message at a time, inside the process: send → Acme reports it delivered.
async fn ours_latency(p: &Pair, count: usize) -> Result<Sample> {
    let (node, channel) = inside(p)?;
    let mut events = node.federation.events().subscribe();
    let mut h = histogram();
    for n in 0..count {
        let start = Instant::now();
        let id = send_inside(&node, channel, &text(n)).await?;
        loop {
            let e = events.recv().await.context("acme's event bus")?;
            if delivered(&e) == Some(id) {
                break;
            }
        }
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// One message at a time: POST → "delivered" on Acme's event socket.
async fn http_latency(p: &Pair, events: &mut Socket, count: usize) -> Result<Sample> {
    let mut h = histogram();
    for n in 0..count {
        let start = Instant::now();
        let sent = p.acme.send(&p.channel, &text(n)).await?;
        let id = sent["id"].as_str().context("message id")?.to_string();
        events
            .until(|e| e["message"]["id"] == id.as_str() && e["message"]["state"] == "delivered")
            .await?;
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

async fn base_latency(client: &bare_p2p::Client, count: usize) -> Result<Sample> {
    let mut h = histogram();
    for _ in 0..count {
        let start = Instant::now();
        client.request(vec![0x42; WIRE_LEN]).await?;
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// Reports (requester uuid, when Acme's event socket showed the acceptance) for every request
/// Acme accepted by itself.
async fn accepted_by_acme(
    acme: Arc<TestNode>,
    done: mpsc::Sender<(String, Instant)>,
) -> Result<()> {
    let mut events = Socket::bearer(&acme.api, "/api/v1/events", &acme.token).await?;
    loop {
        let e = match events.next().await {
            Ok(e) => e,
            Err(_) if done.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        };
        if e["type"] == "connection"
            && e["event"] == "accepted"
            && e["connection"]["direction"] == "incoming"
        {
            let remote = e["connection"]["remote_uuid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if done.send((remote, Instant::now())).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// `count` fresh nodes each connect to Acme; request → Accepted on both sides.
async fn ours_handshakes(
    acme: &TestNode,
    accepted: &mut mpsc::Receiver<(String, Instant)>,
    count: usize,
) -> Result<Sample> {
    let mut h = histogram();
    for _ in 0..count {
        let dir = tempfile::tempdir()?;
        let mut node = TestNode::start(peer_config(dir.path(), "Fresh", acme).await?).await?;
        let mut events = Socket::bearer(&node.api, "/api/v1/events", &node.token).await?;
        // The API connection is open before the clock starts, as in an operator's console.
        node.ok(Method::GET, "/api/v1/instance", None).await?;
        let start = Instant::now();
        node.ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": acme.uuid, "contact": "acme", "send": true})),
        )
        .await?;
        events
            .until(|e| e["type"] == "connection" && e["event"] == "accepted")
            .await?;
        let mine = Instant::now();
        let (remote, theirs) = tokio::time::timeout(Duration::from_secs(30), accepted.recv())
            .await
            .context("acme did not accept")?
            .context("the accepting task stopped")?;
        if remote != node.uuid {
            bail!("acme accepted {remote}, expected {}", node.uuid);
        }
        record(&mut h, mine.max(theirs) - start);
        node.stop().await?;
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

async fn base_handshakes(server: &bare_p2p::Server, count: usize) -> Result<Sample> {
    let mut h = histogram();
    for _ in 0..count {
        let client = bare_p2p::Client::new(server)?;
        let start = Instant::now();
        client.request(vec![0x42; WIRE_LEN]).await?;
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// An informative row of p50 latencies in ms, with both sides' p50/p99.
fn informative_latency(figure: &str, pair: &measure::Pair) -> Row {
    let l = pair.latency();
    Row::informative(GROUP, figure, "ms", false, (l.ours_p50, l.base_p50)).with_latency(l)
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let p = pair().await.context("starting two linked nodes")?;
    let server = bare_p2p::Server::start(ACK_LEN).await?;
    let client = bare_p2p::Client::new(&server)?;
    let mut rows = Vec::new();

    let count = opts.scale(3000);
    let floor_dir = tempfile::tempdir()?;
    let durable = bare_p2p::Server::start_durable(ACK_LEN, floor_dir.path(), 64 << 20).await?;
    let durable_client = bare_p2p::Client::new(&durable)?;
    // The targets: against the durable floor, measured in turn with ours in this run.
    let tput = alternate(
        opts,
        async || ours_throughput(&p, count).await,
        async || base_throughput(&durable_client, count).await,
    )
    .await
    .context("throughput against the durable floor")?;
    rows.push(Row::new(
        GROUP,
        "messages/s, 16 in flight, delivered (durably acked) — against the durable floor",
        "msg/s",
        true,
        tput.medians(),
        Target::AtLeast(1.0),
    ));
    let n = opts.scale(200);
    let lat = alternate(
        opts,
        async || ours_latency(&p, n).await,
        async || base_latency(&durable_client, n).await,
    )
    .await
    .context("latency against the durable floor")?;
    let l = lat.latency();
    rows.push(
        Row::new(
            GROUP,
            "one message, one in flight: send → delivered (p50) — against the durable floor",
            "ms",
            false,
            (l.ours_p50, l.base_p50),
            Target::AtMost(1.5),
        )
        .with_latency(l),
    );
    drop(durable_client);
    drop(durable);

    // Against bare libp2p, for information.
    let tput = alternate(
        opts,
        async || ours_throughput(&p, count).await,
        async || base_throughput(&client, count * 4).await,
    )
    .await
    .context("throughput")?;
    rows.push(Row::informative(
        GROUP,
        "messages/s, 16 in flight, delivered (durably acked) — against bare libp2p",
        "msg/s",
        true,
        tput.medians(),
    ));
    let tput = alternate(
        opts,
        async || http_throughput(&p, count).await,
        async || base_throughput(&client, count * 4).await,
    )
    .await
    .context("throughput through the HTTP API")?;
    rows.push(Row::informative(
        GROUP,
        "the same, 16 HTTP API clients and the event WebSocket",
        "msg/s",
        true,
        tput.medians(),
    ));
    let lat = alternate(
        opts,
        async || ours_latency(&p, n).await,
        async || base_latency(&client, n).await,
    )
    .await
    .context("latency")?;
    rows.push(informative_latency(
        "one message, one in flight: send → delivered (p50) — against bare libp2p",
        &lat,
    ));
    let mut events = Socket::bearer(&p.acme.api, "/api/v1/events", &p.acme.token).await?;
    let lat = alternate(
        opts,
        async || http_latency(&p, &mut events, n).await,
        async || base_latency(&client, n).await,
    )
    .await
    .context("latency through the HTTP API")?;
    rows.push(informative_latency(
        "the same, POST → the event WebSocket (p50)",
        &lat,
    ));

    let (tx, mut rx) = mpsc::channel(16);
    let acceptor = tokio::spawn(accepted_by_acme(p.acme.clone(), tx));
    let hs = opts.scale(20).clamp(2, 20);
    let shakes = alternate(
        opts,
        async || ours_handshakes(&p.acme, &mut rx, hs).await,
        async || base_handshakes(&server, hs * 5).await,
    )
    .await
    .context("handshakes")?;
    drop(rx);
    acceptor.abort();
    let _ = acceptor.await;
    let l = shakes.latency();
    rows.push(
        Row::new(
            GROUP,
            "handshake: request → Accepted on both sides (p50)",
            "ms",
            false,
            (l.ours_p50, l.base_p50),
            Target::AtMost(3.0),
        )
        .with_latency(l),
    );

    stop(p).await?;
    Ok(rows)
}

/// Only our side of the 16-in-flight figure, `count` messages after a warm-up, for a profiler
/// (`ochat-bench federation-profile`; docs/benchmarks.md, "Where the federation time goes").
/// Prints the rate to stderr and adds no row: there is no baseline to compare with.
pub async fn profile(opts: &Opts) -> Result<Vec<Row>> {
    let p = pair().await.context("starting two linked nodes")?;
    ours_throughput(&p, opts.scale(3000)).await?;
    let count = opts.scale(30_000);
    let sample = ours_throughput(&p, count).await?;
    eprintln!(
        "federation-profile: {count} messages, 16 in flight, {:.0} msg/s",
        sample.value
    );
    stop(p).await?;
    Ok(Vec::new())
}

/// Stops both nodes.
pub async fn stop(p: Pair) -> Result<()> {
    let Pair { acme, mut bolt, .. } = p;
    bolt.stop().await?;
    if let Ok(mut acme) = Arc::try_unwrap(acme) {
        acme.stop().await?;
    }
    Ok(())
}
