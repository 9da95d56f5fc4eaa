//! Group `history`: a node with a long history, at 10,000, 100,000 and 1,000,000 messages
//! (`--quick`: 10,000 only). At size `n` the node holds `n` messages on one federation channel
//! and `n` closed live chat sessions with `2 n` messages (see [`crate::history_fill`]), written
//! through its own store repositories into a stopped node's folder; then the real node runs on
//! it as an `ochat run` process ([`crate::process::NodeProcess`]).
//!
//! Figures at each size, and their baselines in the same run:
//! - start-up: spawn → `GET /api/v1/instance` answers, after a clean stop (SIGTERM), against
//!   opening the same sled folder bare (the floor: nothing starts before sled is open).
//!   Target ≤ 1 s.
//! - history page p99: the latest page, and pages deep in the past, of the channel; a live
//!   chat transcript; against the same reads on the bare copy ([`crate::history_probe`]).
//!   Target ≤ 5 ms.
//! - disk: the growth of the node's sled folder from the fill, against the same keys and values
//!   written to a bare sled database. Target ≤ 1.3×.
//! - reports over every session (statistics by day, operator analysis) against a bare scan of
//!   the facts. Target ≤ 2 s.
//!
//! A full run draws each figure against the size into `docs/charts/history-*.svg` (a quick run
//! draws nothing: one size is no line). Every folder is deleted at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ochat_node::federation::AutoAccept;
use ochat_tests::node::{TestNode, link_auto, open_stopped, reaching, test_config};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::chart::Chart;
use crate::history_fill::{self, Filled};
use crate::history_probe::{self as probe, Client, Draw, PAGE};
use crate::measure::{Pair, Sample, alternate};
use crate::opts::Opts;
use crate::process::{NodeProcess, disk_usage};
use crate::table::{Row, Target};

const GROUP: &str = "history";
const STATS: &str = "/api/v1/livechat/reports/stats?group_by=day";
const OPERATORS: &str = "/api/v1/livechat/reports/operators";

/// A stopped node's folder ready to fill: its channel, live chat channels and operators.
struct Prepared {
    acme: PathBuf,
    channel: Uuid,
    lc_channels: Vec<Uuid>,
    operators: Vec<Uuid>,
}

/// Everything measured at one size.
struct Measured {
    n: usize,
    startup: Pair,
    first_start_ms: f64,
    latest: Pair,
    deep: Pair,
    transcript: Pair,
    disk: (f64, f64),
    stats: Pair,
    operators: Pair,
}

fn uuid_of(v: &serde_json::Value) -> Result<Uuid> {
    Ok(Uuid::parse_str(v["id"].as_str().context("an id")?)?)
}

/// Starts Acme and Bolt in `root`, links them, gives Acme five operators and three live chat
/// channels, and stops both.
async fn prepare(root: &Path) -> Result<Prepared> {
    let mut config = test_config(&root.join("acme"), "Acme", None);
    config.federation.auto_accept = AutoAccept::Any;
    let mut acme = TestNode::start(config).await?;
    // The listener may report its address a moment after the API answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let bolt_config = loop {
        match reaching(&acme, &root.join("bolt"), "Bolt").await {
            Ok((config, _)) => break config,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let mut bolt = TestNode::start(bolt_config).await?;
    let (_, channel) = link_auto(&bolt, &acme).await?;
    let mut operators = Vec::new();
    for name in ["ann", "bob", "cem", "dee", "eli"] {
        let body = json!({"name": name, "login": name, "password": format!("pw-{name}-long")});
        operators.push(uuid_of(
            &acme.ok(Method::POST, "/api/v1/users", Some(body)).await?,
        )?);
    }
    let mut lc_channels = Vec::new();
    for name in ["Website", "Shop", "Support"] {
        let body = json!({"name": name, "operators": operators});
        lc_channels.push(uuid_of(
            &acme
                .ok(Method::POST, "/api/v1/livechat/channels", Some(body))
                .await?,
        )?);
    }
    bolt.stop().await?;
    acme.stop().await?;
    Ok(Prepared {
        acme: acme.data_dir.clone(),
        channel: channel.parse()?,
        lc_channels,
        operators,
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One size: prepare, fill, copy, run the node, measure, stop, delete.
async fn measure(opts: &Opts, n: usize) -> Result<Measured> {
    let root = tempfile::tempdir()?;
    let p = prepare(root.path()).await.context("preparing the node")?;
    let db = p.acme.join("db");
    let filling = Instant::now();
    let (store, data) = open_stopped(&p.acme)?;
    let ours_before = disk_usage(&db)?;
    let now = now_ms();
    let filled = Filled {
        message_ids: history_fill::fill_channel(&store, p.channel, n, now)?,
        session_ids: history_fill::fill_livechat(&store, n, &p.lc_channels, &p.operators, now)?,
    };
    store.flush().await?;
    let fill_s = filling.elapsed().as_secs_f64();
    let (bare, bare_before) = history_fill::bare_copy(&store, &root.path().join("bare"))?;
    if !store.wait_closed(Duration::from_secs(30)).await {
        bail!("the filled database is still open");
    }
    // The data folder's lock: the node process takes it.
    drop(data);
    eprintln!("history: {n}: filled in {fill_s:.1} s");

    let node = NodeProcess::start(&p.acme).await?;
    let first_start_ms = node.startup.as_secs_f64() * 1000.0;
    let client = Client::new(&node);
    let requests = if opts.quick { 100 } else { 500 };
    let messages = bare.open_tree(ochat_node::store::trees::MESSAGES)?;
    let lc_messages = bare.open_tree(ochat_node::store::trees::LC_MESSAGES)?;
    let facts = bare.open_tree(ochat_node::store::trees::LC_REPORT_FACTS)?;
    let channel = p.channel;
    let latest = alternate(
        opts,
        async || {
            client
                .latencies(requests, "messages", |_| {
                    format!("/api/v1/channels/{channel}/messages?limit={PAGE}")
                })
                .await
        },
        async || probe::bare_latencies(requests, |_| probe::bare_page(&messages, channel, None)),
    )
    .await
    .context("latest page")?;
    // Cursors in the oldest half, past the first page; the same ones on both sides.
    let ids = &filled.message_ids;
    let deep_cursor = |draw: &mut Draw| ids[PAGE + draw.below((ids.len() / 2).max(1))];
    let deep = {
        let (mut ours_draw, mut base_draw) = (Draw::new(7), Draw::new(7));
        alternate(
            opts,
            async || {
                client
                    .latencies(requests, "messages", |_| {
                        let before = deep_cursor(&mut ours_draw);
                        format!("/api/v1/channels/{channel}/messages?limit={PAGE}&before={before}")
                    })
                    .await
            },
            async || {
                probe::bare_latencies(requests, |_| {
                    probe::bare_page(&messages, channel, Some(deep_cursor(&mut base_draw)))
                })
            },
        )
        .await
        .context("deep page")?
    };
    let sessions = &filled.session_ids;
    let transcript = {
        let (mut ours_draw, mut base_draw) = (Draw::new(11), Draw::new(11));
        alternate(
            opts,
            async || {
                client
                    .latencies(requests, "", |_| {
                        let id = sessions[ours_draw.below(sessions.len())];
                        format!("/api/v1/livechat/sessions/{id}/messages")
                    })
                    .await
            },
            async || {
                probe::bare_latencies(requests, |_| {
                    probe::bare_transcript(&lc_messages, sessions[base_draw.below(sessions.len())])
                })
            },
        )
        .await
        .context("transcript")?
    };
    let stats = alternate(
        opts,
        async || client.report(STATS, "rows").await,
        async || probe::bare_scan(&facts, n),
    )
    .await
    .context("statistics report")?;
    let operators = alternate(
        opts,
        async || client.report(OPERATORS, "operators").await,
        async || probe::bare_scan(&facts, n),
    )
    .await
    .context("operator analysis")?;
    node.stop().await?;

    // Start-up after a clean stop, against opening the same folder bare.
    let startup = alternate(
        opts,
        async || {
            let node = NodeProcess::start(&p.acme).await?;
            let ms = node.startup.as_secs_f64() * 1000.0;
            node.stop().await?;
            Ok(Sample::value(ms))
        },
        async || {
            let start = Instant::now();
            let db = sled::Config::new()
                .path(&db)
                .mode(sled::Mode::HighThroughput)
                .open()?;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            drop(db);
            Ok(Sample::value(ms))
        },
    )
    .await
    .context("start-up")?;

    let ours_disk = disk_usage(&db)?.saturating_sub(ours_before) as f64 / 1e6;
    drop((messages, lc_messages, facts));
    bare.flush()?;
    drop(bare);
    let bare_disk = disk_usage(&root.path().join("bare"))?.saturating_sub(bare_before) as f64 / 1e6;
    drop(root);
    eprintln!(
        "history: {n}: first start {first_start_ms:.0} ms; disk {ours_disk:.1} MB (bare {bare_disk:.1} MB); {:.1} s in all",
        filling.elapsed().as_secs_f64()
    );
    Ok(Measured {
        n,
        startup,
        first_start_ms,
        latest,
        deep,
        transcript,
        disk: (ours_disk, bare_disk),
        stats,
        operators,
    })
}

/// The table's rows of one size.
fn rows(m: &Measured) -> Vec<Row> {
    let n = m.n;
    let within = |limit: f64, base: f64| Target::WithinPlus((limit - base).max(0.0).floor());
    let mut rows = Vec::new();
    let (ours, base) = m.startup.medians();
    rows.push(Row::new(
        GROUP,
        &format!("start-up with {n}+{n} messages, spawn → API answers, vs bare sled open"),
        "ms",
        false,
        (ours, base),
        within(1000.0, base),
    ));
    for (what, pair) in [
        ("latest history page", &m.latest),
        ("history page deep in the past", &m.deep),
        ("live chat transcript", &m.transcript),
    ] {
        let latency = pair.latency();
        let (ours, base) = (latency.ours_p99, latency.base_p99);
        rows.push(
            Row::new(
                GROUP,
                &format!("{what} p99 of {n} messages, HTTP vs bare sled read"),
                "ms",
                false,
                (ours, base),
                Target::WithinPlus(((5.0 - base).max(0.0) * 1000.0).floor() / 1000.0),
            )
            .with_latency(latency),
        );
    }
    rows.push(Row::new(
        GROUP,
        &format!("disk for {n}+{n} messages and {n} sessions, vs the same bytes in bare sled"),
        "MB",
        false,
        m.disk,
        Target::AtMost(1.3),
    ));
    for (what, pair) in [
        ("statistics by day", &m.stats),
        ("operator analysis", &m.operators),
    ] {
        let (ours, base) = pair.medians();
        rows.push(Row::new(
            GROUP,
            &format!("{what} over {n} sessions, HTTP vs bare scan of the facts"),
            "ms",
            false,
            (ours, base),
            within(2000.0, base),
        ));
    }
    rows
}

/// Writes the charts of a full run into `docs/charts/`.
fn charts(all: &[Measured]) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/charts");
    let at = |f: &dyn Fn(&Measured) -> f64| -> Vec<(f64, f64)> {
        all.iter().map(|m| (m.n as f64, f(m))).collect()
    };
    Chart::new(
        "Start-up with a long history",
        "channel messages (and as many sessions)",
        "ms, spawn → API answers",
    )
    .line("ochat (clean restart)", at(&|m| m.startup.medians().0))
    .line("ochat (first start)", at(&|m| m.first_start_ms))
    .line("bare sled open", at(&|m| m.startup.medians().1))
    .write(&dir.join("history-startup.svg"))?;
    Chart::new("History pages (p99)", "messages", "ms, p99")
        .line("latest page", at(&|m| m.latest.latency().ours_p99))
        .line("deep page", at(&|m| m.deep.latency().ours_p99))
        .line("transcript", at(&|m| m.transcript.latency().ours_p99))
        .line("bare sled page", at(&|m| m.deep.latency().base_p99))
        .write(&dir.join("history-pages.svg"))?;
    Chart::new("Disk", "channel messages (and as many sessions)", "MB")
        .line("ochat", at(&|m| m.disk.0))
        .line("bare sled, same bytes", at(&|m| m.disk.1))
        .write(&dir.join("history-disk.svg"))?;
    Chart::new("Reports over every session", "sessions", "ms")
        .line("statistics by day", at(&|m| m.stats.medians().0))
        .line("operator analysis", at(&|m| m.operators.medians().0))
        .line("bare scan of the facts", at(&|m| m.stats.medians().1))
        .write(&dir.join("history-reports.svg"))?;
    Ok(())
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let sizes: Vec<usize> = match std::env::var("OCHAT_BENCH_HISTORY_SIZES") {
        // Profiling one size: `OCHAT_BENCH_HISTORY_SIZES=1000000` (no chart is drawn).
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .context("OCHAT_BENCH_HISTORY_SIZES is a comma-separated list of sizes")?,
        Err(_) if opts.quick => vec![10_000],
        Err(_) => vec![10_000, 100_000, 1_000_000],
    };
    let full = sizes.len() == 3 && !opts.quick;
    let mut all = Vec::new();
    for &n in &sizes {
        all.push(
            measure(opts, n)
                .await
                .with_context(|| format!("{n} messages"))?,
        );
    }
    if full {
        charts(&all)?;
    }
    Ok(all.iter().flat_map(rows).collect())
}
