//! Group `memory` and the `load` test.
//!
//! `memory`: idle visitor WebSockets on a node in its own process; the figure is the growth of
//! the node's resident memory per open socket. Baseline: a bare axum WebSocket route with the
//! same buffer settings, in its own process, with as many sockets.
//!
//! `load` (not part of `all`; run it with `ulimit -n` ≥ 20,000): 10,000 idle visitor
//! WebSockets on one node, and two nodes carrying 2,000 messages/s for 60 s with every message
//! delivered once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;

use crate::federation;
use crate::measure::{Sample, alternate, lanes};
use crate::opts::Opts;
use crate::process::{BareWsProcess, NodeProcess};
use crate::shop::{Api, Visitor};
use crate::table::{Row, Target};
use crate::ws::Socket;

const GROUP: &str = "memory";
/// The node's live chat WebSocket buffer sizes (see `node/src/api/livechat_ws.rs`).
pub const READ_BUFFER: usize = 4 * 1024;
/// See [`READ_BUFFER`].
pub const WRITE_BUFFER: usize = 4 * 1024;

/// Resident memory once it stops moving (two samples 250 ms apart within 0.5 %, at most 5 s).
pub async fn settled(rss: impl Fn() -> Result<u64>) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = rss()?;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = rss()?;
        if now.abs_diff(last) * 200 <= last || Instant::now() > deadline {
            return Ok(now);
        }
        last = now;
    }
}

async fn open_all(base: &str, paths: Vec<(String, String)>) -> Result<Vec<Socket>> {
    let results: Vec<Result<Socket>> = futures::stream::iter(paths)
        .map(|(path, token)| async move { Socket::query(base, &path, &token).await })
        .buffer_unordered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

/// KiB of node memory per idle visitor socket.
async fn ours_round(data: &std::path::Path, visitors: &[Visitor]) -> Result<(Sample, u64)> {
    // Every socket comes from 127.0.0.1: the per-address cap (256 by default) is lifted, and
    // the total (4,096 by default) for the load test's 10,000.
    let cap = (visitors.len() + 100).to_string();
    let node = NodeProcess::start_with(
        data,
        &[
            "--http-max-connections-per-ip",
            &cap,
            "--http-max-connections",
            &cap,
        ],
    )
    .await?;
    let before = settled(|| node.rss()).await?;
    let paths = visitors
        .iter()
        .map(|v| {
            (
                format!("/api/v1/livechat/sessions/{}/events", v.session),
                v.token.clone(),
            )
        })
        .collect();
    let sockets = open_all(&node.api, paths).await?;
    let after = settled(|| node.rss()).await?;
    drop(sockets);
    node.kill9()?;
    let per = after.saturating_sub(before) as f64 / visitors.len() as f64 / 1024.0;
    Ok((Sample::value(per), after))
}

async fn base_round(count: usize) -> Result<Sample> {
    let server = BareWsProcess::start(READ_BUFFER, WRITE_BUFFER)?;
    let before = settled(|| server.rss()).await?;
    let paths = (0..count)
        .map(|_| ("/ws".to_string(), "none".to_string()))
        .collect();
    let sockets = open_all(&server.base, paths).await?;
    let after = settled(|| server.rss()).await?;
    drop(sockets);
    Ok(Sample::value(
        after.saturating_sub(before) as f64 / count as f64 / 1024.0,
    ))
}

/// A node folder with a shop and `count` visitor sessions. Every bench visitor comes from
/// 127.0.0.1, so the per-address limit on new sessions (60 at once by default) is lifted for
/// this set-up; nothing else about the node changes.
async fn prepare(data: &std::path::Path, count: usize) -> Result<Vec<Visitor>> {
    let per_address = (count + 100).to_string();
    let node =
        NodeProcess::start_with(data, &["--livechat-sessions-per-address", &per_address]).await?;
    let api = Api::new(&node.api);
    let shop = api.shop(&node.token).await?;
    let visitors = api.visitors(&shop, count).await?;
    node.kill9()?;
    Ok(visitors)
}

fn check_fd_limit(sockets: usize) -> Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    if soft < sockets + 1000 {
        bail!(
            "open files are limited to {soft}; run `ulimit -n {}` first",
            sockets + 2000
        );
    }
    Ok(())
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let count = opts.scale(2000);
    check_fd_limit(count)?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("shop");
    let visitors = prepare(&data, count).await?;
    let pair = alternate(
        opts,
        async || Ok(ours_round(&data, &visitors).await?.0),
        async || base_round(count).await,
    )
    .await
    .context("idle sockets")?;
    let (ours, base) = pair.medians();
    let mut row = Row::new(
        GROUP,
        &format!("idle visitor WebSocket, memory per connection ({count} open)"),
        "KiB",
        false,
        (ours, base),
        Target::AtMost(2.0),
    );
    row.target = "≤ 2.0× and ≤ 16 KiB".into();
    row.met = row.met && ours <= 16.0;
    Ok(vec![row])
}

/// The load test: 10,000 idle visitor sockets, then 2,000 msg/s for 60 s between two nodes.
pub async fn load(opts: &Opts) -> Result<Vec<Row>> {
    let count = opts.scale(10_000);
    check_fd_limit(count)?;
    let mut rows = Vec::new();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("shop");
    let visitors = prepare(&data, count).await?;
    let (per, total) = ours_round(&data, &visitors).await?;
    let base = base_round(count).await?;
    eprintln!(
        "load: {count} visitor sockets open, node RSS {:.1} MiB",
        total as f64 / 1024.0 / 1024.0
    );
    let mut row = Row::new(
        "load",
        &format!(
            "{count} idle visitor WebSockets: KiB each (node RSS {:.0} MiB)",
            total as f64 / 1024.0 / 1024.0
        ),
        "KiB",
        false,
        (per.value, base.value),
        Target::AtMost(2.0),
    );
    row.target = "≤ 2.0× and ≤ 16 KiB".into();
    row.met = row.met && per.value <= 16.0;
    rows.push(row);

    let secs = if opts.quick { 10 } else { 60 };
    rows.push(paced(2000, secs).await?);
    Ok(rows)
}

/// Offers `rate` messages/s for `secs` seconds from Acme to Bolt (64 API clients on a fixed
/// schedule); every message must be delivered and in Bolt's history exactly once.
async fn paced(rate: usize, secs: u64) -> Result<Row> {
    const LANES: usize = 64;
    let p = Arc::new(federation::pair().await?);
    let total = rate * secs as usize;
    let start = tokio::time::Instant::now();
    let sender = p.clone();
    lanes(LANES, total, move |n| {
        let p = sender.clone();
        async move {
            let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            p.acme
                .send(&p.channel, &format!("load-{n}"))
                .await
                .map(drop)
        }
    })
    .await??;
    let sent = start.elapsed();
    federation::send_all(&p, 0, Arc::new(|n| n.to_string())).await?;
    let delivered = start.elapsed();
    let bolt_channel = p
        .bolt
        .ok(reqwest::Method::GET, "/api/v1/channels", None)
        .await?[0]["id"]
        .as_str()
        .context("bolt's channel")?
        .to_string();
    let history = p
        .bolt
        .wait_history(&bolt_channel, total, Duration::from_secs(60))
        .await?;
    let mut seen = std::collections::HashSet::new();
    for m in &history {
        if !seen.insert(m["text"].as_str().unwrap_or_default().to_string()) {
            bail!("a message arrived twice: {m}");
        }
    }
    if history.len() != total {
        bail!("bolt holds {} messages, {total} were sent", history.len());
    }
    eprintln!(
        "load: {total} messages offered at {rate}/s, sent in {:.1} s, all delivered after {:.1} s",
        sent.as_secs_f64(),
        delivered.as_secs_f64()
    );
    let achieved = total as f64 / delivered.as_secs_f64();
    if let Ok(p) = Arc::try_unwrap(p) {
        federation::stop(p).await?;
    }
    let mut row = Row::new(
        "load",
        &format!("{rate} msg/s offered for {secs} s between two nodes: delivered/s, none lost"),
        "msg/s",
        true,
        (achieved, rate as f64),
        Target::AtLeast(0.98),
    );
    row.target = "≥ 0.98× of offered, no loss".into();
    Ok(row)
}
