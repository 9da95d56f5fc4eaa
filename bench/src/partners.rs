//! Group `partners`: one node (the hub) linked to many partner instances, measured at several
//! sizes (10, 50, 100, 200 partners; 10 and 50 under `--quick`) and drawn into
//! `docs/charts/partners-*.svg`.
//!
//! The partners are real nodes ([`TestNode`], each with its own sled folder, libp2p listener
//! and API) spread over child processes of 50 ([`partner_host`](crate::partner_host)), their
//! folders on tmpfs (`/dev/shm`) when there is one: in a deployment each partner syncs its own
//! disk on its own machine, so what is measured is the hub, whose folder stays on disk. The hub runs as its own `ochat run` process
//! ([`NodeProcess`], `--auto-accept any`) whenever its memory or its start-up is measured, so
//! that its resident memory is its own; for the fan-out it runs inside the bench's process on
//! the same data folder, and sends both the fan-out and its baseline.
//!
//! At each size, growing from the previous one:
//! - memory per accepted partner: the hub process's settled RSS before and after the new
//!   partners request a channel and it accepts them (their connections still open, idle),
//!   divided by the number of new partners. Target ≤ 64 KiB.
//! - start-up: `ochat run` spawned on the hub's folder until its API answers and
//!   `GET /api/v1/channels` lists every channel (median of the rounds after a clean SIGTERM
//!   stop). Baseline: the same with a fresh folder (no partner). Target ≤ 1 s.
//! - fan-out: 16 senders inside the hub send message `n` on channel `n mod N` until every
//!   message is delivered (durably acknowledged, as in `federation`); msg/s and p50/p99 of
//!   send → delivered. Baseline: the same hub sending as many messages 16 in flight on one
//!   channel (its first partner's: same placement, same process), in turn. Target ≥ 0.8×.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ochat_node::federation::AutoAccept;
use ochat_node::messaging::Viewer;
use ochat_node::node::NodeShared;
use ochat_tests::node::{TestNode, test_config};
use serde_json::Value;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::chart::Chart;
use crate::federation::{self, text};
use crate::measure::{Sample, alternate, histogram, lanes, percentiles, record};
use crate::memory::settled;
use crate::opts::Opts;
use crate::partner_host::Hosts;
use crate::process::NodeProcess;
use crate::table::{Latency, Row, Target};

const GROUP: &str = "partners";
/// Messages in flight, as in the federation group's throughput figure.
const IN_FLIGHT: usize = 16;
/// Target: KiB of hub memory per idle accepted partner.
const MAX_KIB_PER_PARTNER: f64 = 64.0;
/// Target: start-up in ms.
const MAX_STARTUP_MS: f64 = 1000.0;
/// How long one fan-out may take before it fails.
const FAN_OUT_LIMIT: Duration = Duration::from_secs(120);

/// What one size measured.
struct Point {
    size: usize,
    kib_per_partner: f64,
    startup_ms: f64,
    fan_out: (f64, f64),
    latency: Latency,
}

fn chart_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/charts")
        .join(name)
}

/// The hub's API as seen from outside its process.
struct HubApi {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl HubApi {
    fn of(hub: &NodeProcess) -> Self {
        HubApi {
            http: reqwest::Client::new(),
            api: hub.api.clone(),
            token: hub.token.clone(),
        }
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(20))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("hub {path} answered {}", resp.status());
        }
        Ok(resp.json().await?)
    }

    async fn channels(&self) -> Result<usize> {
        Ok(self
            .get("/api/v1/channels")
            .await?
            .as_array()
            .map_or(0, Vec::len))
    }

    /// Waits until the hub lists `n` channels (at most 60 s).
    async fn until_channels(&self, n: usize) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let have = self.channels().await?;
            if have >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the hub lists {have} channels after 60 s, expected {n}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

const HUB_FLAGS: &[&str] = &["--auto-accept", "any", "--name", "Hub"];

/// The hub's p2p address, as its API shows it.
async fn hub_address(api: &HubApi) -> Result<(String, String)> {
    let me = api.get("/api/v1/instance").await?;
    let uuid = me["uuid"].as_str().context("hub uuid")?.to_string();
    let addr = me["addresses"][0]
        .as_str()
        .context("the hub shows no listening address")?
        .to_string();
    Ok((uuid, addr))
}

/// Spawns `ochat run` on `dir` until it lists `channels` channels; answers the time in ms.
async fn startup(dir: &Path, channels: usize) -> Result<f64> {
    let hub = NodeProcess::start_with(dir, HUB_FLAGS).await?;
    let answered = Instant::now();
    HubApi::of(&hub).until_channels(channels).await?;
    let ms = (hub.startup + answered.elapsed()).as_secs_f64() * 1000.0;
    hub.stop().await?;
    Ok(ms)
}

/// Median start-up over `rounds` starts (after one warm-up start).
async fn startup_median(dir: &Path, channels: usize, rounds: usize) -> Result<f64> {
    startup(dir, channels).await?;
    let mut samples = Vec::new();
    for _ in 0..rounds {
        samples.push(Sample::value(startup(dir, channels).await?));
    }
    Ok(crate::measure::median(&samples))
}

/// `count` messages by 16 senders inside `node`, message `n` on `channels[n % len]`, until
/// every one is delivered: msg/s, and send → delivered of each message.
async fn fan_out(node: Arc<NodeShared>, channels: Arc<Vec<Uuid>>, count: usize) -> Result<Sample> {
    let mut events = node.federation.events().subscribe();
    let sent = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let start = Instant::now();
    let senders = {
        let (node, sent) = (node.clone(), sent.clone());
        lanes(IN_FLIGHT, count, move |n| {
            let (node, channels, sent) = (node.clone(), channels.clone(), sent.clone());
            async move {
                let channel = channels[n % channels.len()];
                let at = Instant::now();
                let view = node
                    .messaging
                    .send_text(channel, Viewer::Admin, "Hub", &text(n))
                    .await
                    .map_err(|e| anyhow::anyhow!("send failed: {e}"))?;
                if let Ok(mut sent) = sent.lock() {
                    sent.push((view.id, at));
                }
                Ok(())
            }
        })
    };
    let deadline = tokio::time::Instant::now() + FAN_OUT_LIMIT;
    let mut delivered_at = HashMap::with_capacity(count);
    let mut lagged = false;
    while delivered_at.len() < count {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => bail!(
                "{} of {count} messages delivered after {FAN_OUT_LIMIT:?}",
                delivered_at.len()
            ),
            Ok(Ok(e)) => {
                if let Some(id) = federation::delivered(&e) {
                    delivered_at.insert(id, Instant::now());
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                lagged = true;
                break;
            }
            Ok(Err(e)) => bail!("the hub's event bus closed: {e}"),
        }
    }
    senders.await??;
    if lagged {
        // Some delivered events were missed: wait for the queues instead; the latencies come
        // from the messages whose events were seen.
        until_nothing_queued(&node, deadline).await?;
    }
    let elapsed = start.elapsed();
    let mut h = histogram();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    for (id, at) in sent {
        if let Some(done) = delivered_at.get(&id) {
            record(&mut h, done.saturating_duration_since(at));
        }
    }
    Ok(Sample {
        value: count as f64 / elapsed.as_secs_f64(),
        hist: Some(h),
    })
}

async fn until_nothing_queued(node: &NodeShared, deadline: tokio::time::Instant) -> Result<()> {
    loop {
        let queued: usize = node
            .messaging
            .channels(Viewer::Admin)
            .map_err(|e| anyhow::anyhow!("listing channels: {e}"))?
            .iter()
            .map(|c| c.queued)
            .sum();
        if queued == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{queued} messages still queued after {FAN_OUT_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The hub inside the bench's process, on its folder, knowing where every partner listens.
async fn hub_inside(dir: &Path, partners: &Hosts) -> Result<TestNode> {
    let mut config = test_config(dir, "Hub", None);
    config.federation.auto_accept = AutoAccept::Any;
    for p in &partners.partners {
        config.peers.push((p.uuid.clone(), p.addr.clone()));
    }
    TestNode::start(config).await
}

/// Fan-out at this size: over every channel, against the same hub sending as many messages
/// on one channel (its first partner's), in turn.
async fn measure_fan_out(
    opts: &Opts,
    dir: &Path,
    partners: &Hosts,
) -> Result<crate::measure::Pair> {
    let mut hub = hub_inside(dir, partners).await?;
    let node = hub.node.as_ref().context("hub stopped")?.shared.clone();
    let channels: Vec<Uuid> = node
        .messaging
        .channels(Viewer::Admin)
        .map_err(|e| anyhow::anyhow!("listing channels: {e}"))?
        .iter()
        .map(|c| c.id)
        .collect();
    if channels.len() != partners.partners.len() {
        bail!(
            "the hub holds {} channels, {} partners are linked",
            channels.len(),
            partners.partners.len()
        );
    }
    let one = Arc::new(vec![channels[0]]);
    let channels = Arc::new(channels);
    // Whole rounds over every channel, about as many messages as the federation figure.
    let per_channel = opts.scale(3000).div_ceil(channels.len()).max(1);
    let count = per_channel * channels.len();
    let result = alternate(
        opts,
        async || fan_out(node.clone(), channels.clone(), count).await,
        async || fan_out(node.clone(), one.clone(), count).await,
    )
    .await;
    drop(node);
    hub.stop().await?;
    result
}

/// Measures one size: links partners up to `size` against the hub process, then start-up and
/// fan-out.
async fn measure_size(
    opts: &Opts,
    hub_dir: &Path,
    partners: &mut Hosts,
    size: usize,
) -> Result<Point> {
    let before_count = partners.partners.len();
    let hub = NodeProcess::start_with(hub_dir, HUB_FLAGS).await?;
    let api = HubApi::of(&hub);
    let (hub_uuid, hub_addr) = hub_address(&api).await?;
    let before = settled(|| hub.rss()).await?;
    partners.grow(size, &hub_uuid, &hub_addr).await?;
    api.until_channels(size).await?;
    let after = settled(|| hub.rss()).await?;
    hub.stop().await?;
    let added = (size - before_count).max(1);
    let kib_per_partner = after.saturating_sub(before) as f64 / 1024.0 / added as f64;
    eprintln!(
        "partners: {size} linked; hub RSS {:.1} → {:.1} MiB; load {}",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        load()
    );

    let startup_ms = startup_median(hub_dir, size, opts.rounds()).await?;
    let fan = measure_fan_out(opts, hub_dir, partners)
        .await
        .with_context(|| format!("fan-out over {size} partners"))?;
    eprintln!(
        "partners: {size}: start-up {startup_ms:.0} ms; fan-out {:.0} against {:.0} msg/s; load {}",
        fan.medians().0,
        fan.medians().1,
        load()
    );
    let (ours_p50, ours_p99) = percentiles(&fan.ours);
    let (base_p50, base_p99) = percentiles(&fan.base);
    Ok(Point {
        size,
        kib_per_partner,
        startup_ms,
        fan_out: fan.medians(),
        latency: Latency {
            ours_p50,
            ours_p99,
            base_p50,
            base_p99,
        },
    })
}

/// The machine's load average over the last minute (other sessions share it).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// Where the partners' folders go: tmpfs when there is one (each partner would sync its own
/// disk in a deployment; the hub's folder stays on disk).
fn partners_root() -> Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        Ok(tempfile::tempdir_in(shm)?)
    } else {
        Ok(tempfile::tempdir()?)
    }
}

/// A row with an absolute target (no baseline of its own, or one for information).
fn absolute(figure: &str, unit: &str, ours: f64, base: f64, max: f64, target: &str) -> Row {
    let mut row = Row::informative(GROUP, figure, unit, false, (ours, base));
    row.target = target.to_string();
    row.met = ours <= max;
    row
}

/// Environment variable: other sizes than the group's (e.g. `100` alone, to run one size under
/// a profiler), comma-separated, growing.
pub const SIZES_VAR: &str = "OCHAT_BENCH_PARTNER_SIZES";

/// The sizes measured: 10, 50, 100, 200 (10, 50 under `--quick`), or [`SIZES_VAR`]'s.
fn sizes(opts: &Opts) -> Result<Vec<usize>> {
    if let Ok(spec) = std::env::var(SIZES_VAR) {
        let sizes = spec
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{SIZES_VAR} must be sizes like 10,50"))?;
        if sizes.is_empty() || sizes.contains(&0) || !sizes.is_sorted() {
            bail!("{SIZES_VAR} must be growing sizes above 0, like 10,50");
        }
        return Ok(sizes);
    }
    Ok(if opts.quick {
        vec![10, 50]
    } else {
        vec![10, 50, 100, 200]
    })
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    // The partners live in host processes of 50 each (`partner_host`): one process cannot
    // hold 200 in-process nodes (open files).
    let sizes = sizes(opts)?;
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty");
    let empty_startup = startup_median(&empty, 0, opts.rounds()).await?;
    let hub_dir = dir.path().join("hub");
    let root = partners_root()?;
    let mut partners = Hosts::new(root.path());
    let mut points = Vec::new();
    for &size in &sizes {
        points.push(measure_size(opts, &hub_dir, &mut partners, size).await?);
    }
    partners.stop().await?;

    let mut rows = Vec::new();
    for p in &points {
        rows.push(absolute(
            &format!(
                "memory per idle accepted partner (hub process RSS, {} partners)",
                p.size
            ),
            "KiB",
            p.kib_per_partner,
            f64::NAN,
            MAX_KIB_PER_PARTNER,
            "≤ 64 KiB",
        ));
        rows.push(absolute(
            &format!(
                "start-up with {} channels: spawn → API lists them (base: no channel)",
                p.size
            ),
            "ms",
            p.startup_ms,
            empty_startup,
            MAX_STARTUP_MS,
            "≤ 1000 ms",
        ));
        rows.push(
            Row::new(
                GROUP,
                &format!(
                    "fan-out over {} partners, 16 in flight, delivered (base: the same hub, one channel)",
                    p.size
                ),
                "msg/s",
                true,
                p.fan_out,
                Target::AtLeast(0.8),
            )
            .with_latency(p.latency.clone()),
        );
    }
    draw(&points, empty_startup)?;
    Ok(rows)
}

fn draw(points: &[Point], empty_startup: f64) -> Result<()> {
    let line = |f: &dyn Fn(&Point) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.size as f64, f(p))).collect()
    };
    Chart::new("Hub memory per idle partner", "partners", "KiB")
        .line("ochat hub", line(&|p| p.kib_per_partner))
        .line("target", line(&|_| MAX_KIB_PER_PARTNER))
        .write(&chart_path("partners-memory.svg"))?;
    Chart::new("Hub start-up with N channels", "partners", "ms")
        .line("ochat hub", line(&|p| p.startup_ms))
        .line("no channel", line(&|_| empty_startup))
        .write(&chart_path("partners-startup.svg"))?;
    Chart::new("Fan-out, 16 in flight, delivered", "partners", "msg/s")
        .line("over N channels", line(&|p| p.fan_out.0))
        .line("one channel, same hub", line(&|p| p.fan_out.1))
        .write(&chart_path("partners-fanout.svg"))?;
    Chart::new("Fan-out p99, send → delivered", "partners", "ms")
        .line("over N channels", line(&|p| p.latency.ours_p99))
        .line("one channel, same hub", line(&|p| p.latency.base_p99))
        .write(&chart_path("partners-fanout-p99.svg"))?;
    Ok(())
}
