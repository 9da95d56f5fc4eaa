//! Group `storage`: what a stored message costs on disk, and how long a node takes to answer
//! again after SIGKILL with many stored messages.
//!
//! - storage per 1 KiB message: 1 KiB texts sent between two real nodes, fresh each round; the
//!   figure is the growth of the receiver's sled folder (allocated blocks) per delivered
//!   message. Baseline: raw sled inserts of the same 1 KiB under keys of the same shape, flushed
//!   every 16 inserts, in a fresh folder each round.
//! - recovery: a node in its own process holds 300,000 visitor messages (32 sessions, each
//!   message acknowledged by the API); it is killed with SIGKILL and started again; the figure
//!   is spawn → `GET /api/v1/instance` answers. Baseline: raw `sled::open` of the same folder
//!   after the same SIGKILL. Afterwards every acknowledged message must be in its transcript.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tokio::sync::Mutex;

use crate::federation;
use crate::measure::{Sample, alternate, histogram, record};
use crate::opts::Opts;
use crate::process::{NodeProcess, disk_usage};
use crate::shop::{Api, Visitor};
use crate::table::{Row, Target};

const GROUP: &str = "storage";
const VISITORS: usize = 32;

/// One round on two fresh nodes: bytes per message Bolt's folder grew by while `count` 1 KiB
/// messages were delivered to it. A fresh folder each round, for both sides, keeps sled's
/// reuse of older segments (which swings from round to round) out of the figure.
async fn ours_per_message(count: usize) -> Result<Sample> {
    let p = federation::pair().await?;
    let db = p.bolt.data_dir.join("db");
    let before = disk_usage(&db)?;
    let text = "k".repeat(1024);
    federation::send_all(
        &p,
        count,
        Arc::new(move |n| {
            let mut t = format!("{n}-{text}");
            t.truncate(1024);
            t
        }),
    )
    .await?;
    let after = disk_usage(&db)?;
    federation::stop(p).await?;
    Ok(Sample::value(
        after.saturating_sub(before) as f64 / count as f64 / 1024.0,
    ))
}

/// The same with raw sled in a fresh folder: `count` inserts of 1 KiB values under keys of the
/// node's shape (a 16-byte channel id, then a time-ordered UUID v7), flushed every 16 inserts as
/// the receiver flushes each batch (16 messages are in flight). Bulk inserts with one flush at
/// the end, the earlier baseline, left from 2.1 to 3.9 KiB a value in a fresh folder (1.3 to
/// 1.8 in a reused one) from round to round, depending on how far sled's background writer
/// had got.
fn base_per_message(count: usize) -> Result<Sample> {
    let channel = uuid::Uuid::new_v4();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("raw");
    let db = sled::Config::new().path(&path).open()?;
    db.flush()?;
    let before = disk_usage(&path)?;
    let value = vec![0x6bu8; 1024];
    for n in 0..count {
        let mut key = channel.as_bytes().to_vec();
        key.extend_from_slice(uuid::Uuid::now_v7().as_bytes());
        db.insert(key, value.as_slice())?;
        if n % 16 == 15 {
            db.flush()?;
        }
    }
    db.flush()?;
    let after = disk_usage(&path)?;
    Ok(Sample::value(
        after.saturating_sub(before) as f64 / count as f64 / 1024.0,
    ))
}

/// `count` durable writes one after the other through the node's store: a 1 KiB insert, then
/// `Store::flush` (sled's flush, then fdatasync of sled's log). p50 in ms.
async fn ours_durable(
    store: &ochat_node::store::Store,
    tree: &sled::Tree,
    count: usize,
) -> Result<Sample> {
    let mut h = histogram();
    let value = vec![0x6bu8; 1024];
    for _ in 0..count {
        let start = Instant::now();
        tree.insert(uuid::Uuid::new_v4().as_bytes(), value.as_slice())?;
        store.flush().await?;
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// The same with raw sled: insert, then `flush` (which only calls `sync_file_range`).
fn base_durable(db: &sled::Db, count: usize) -> Result<Sample> {
    let mut h = histogram();
    let value = vec![0x6bu8; 1024];
    for _ in 0..count {
        let start = Instant::now();
        db.insert(uuid::Uuid::new_v4().as_bytes(), value.as_slice())?;
        db.flush()?;
        record(&mut h, start.elapsed());
    }
    Ok(Sample {
        value: h.value_at_quantile(0.5) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// Fills a node with `total` visitor messages; answers the acknowledged ids per visitor.
async fn fill(api: &Api, visitors: &[Visitor], total: usize) -> Result<Vec<HashSet<String>>> {
    let per = total / visitors.len();
    let mut tasks = Vec::new();
    for (i, v) in visitors.iter().enumerate() {
        let api = api.clone();
        let v = v.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = HashSet::new();
            for n in 0..per {
                acked.insert(api.say(&v, &format!("visitor {i} message {n}")).await?);
            }
            anyhow::Ok(acked)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await??);
    }
    Ok(all)
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let mut rows = Vec::new();

    // Storage per message, on fresh folders each round.
    // 10,000 messages of 1 KiB span about 40 of sled's 512 KiB segments a round, so one segment more
    // or less moves the figure by about 2.5 % (3,000 moved it by 8 %).
    let count = opts.scale(10_000);
    let per = alternate(
        opts,
        async || ours_per_message(count).await,
        async || base_per_message(count),
    )
    .await
    .context("storage per message")?;
    rows.push(Row::new(
        GROUP,
        "disk per 1 KiB message (receiver's sled folder)",
        "KiB",
        false,
        per.medians(),
        Target::AtMost(1.3),
    ));

    // What one durable write costs: ours (flush + fdatasync) against sled's own flush.
    let store_dir = tempfile::tempdir()?;
    let store = ochat_node::store::Store::open(store_dir.path())?;
    let base_dir = tempfile::tempdir()?;
    let raw = sled::Config::new()
        .path(base_dir.path().join("raw"))
        .open()?;
    let tree = store.tree("bench")?;
    let n = opts.scale(200);
    let durable = alternate(
        opts,
        async || ours_durable(&store, &tree, n).await,
        async || base_durable(&raw, n),
    )
    .await
    .context("durable writes")?;
    let l = durable.latency();
    rows.push(
        Row::informative(
            GROUP,
            "one durable 1 KiB write: insert + flush + fdatasync vs sled flush (p50)",
            "ms",
            false,
            (l.ours_p50, l.base_p50),
        )
        .with_latency(l),
    );
    drop(tree);
    drop(store);
    drop(raw);

    // Recovery after SIGKILL.
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("shop");
    let first = NodeProcess::start(&data).await?;
    let api = Api::new(&first.api);
    let shop = api.shop(&first.token).await?;
    let visitors = api.visitors(&shop, VISITORS).await?;
    let total = opts.scale(300_000);
    let started = Instant::now();
    let acked = fill(&api, &visitors, total).await.context("filling")?;
    let stored: usize = acked.iter().map(HashSet::len).sum();
    eprintln!(
        "storage: {stored} messages stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let node = Arc::new(Mutex::new(Some(first)));
    let db = data.join("db");
    let rec = alternate(
        opts,
        async || {
            let mut slot = node.lock().await;
            if let Some(n) = slot.take() {
                n.kill9()?;
            }
            let n = NodeProcess::start(&data).await?;
            let secs = n.startup.as_secs_f64();
            *slot = Some(n);
            Ok(Sample::value(secs))
        },
        async || {
            let mut slot = node.lock().await;
            if let Some(n) = slot.take() {
                n.kill9()?;
            }
            let start = Instant::now();
            let raw = sled::Config::new().path(&db).open()?;
            let secs = start.elapsed().as_secs_f64();
            drop(raw);
            Ok(Sample::value(secs))
        },
    )
    .await
    .context("recovery")?;
    // The last round was the baseline: start the node once more and check every message.
    let after = NodeProcess::start(&data).await?;
    let api = Api::new(&after.api);
    let mut lost = 0;
    for (v, ids) in visitors.iter().zip(&acked) {
        let present: HashSet<String> = api
            .transcript_ids(&shop.operator_token, &v.session)
            .await?
            .into_iter()
            .collect();
        lost += ids.iter().filter(|id| !present.contains(*id)).count();
    }
    after.kill9()?;
    if lost > 0 {
        bail!("{lost} of {stored} acknowledged messages were lost after SIGKILL");
    }
    rows.push(Row::new(
        GROUP,
        &format!("SIGKILL with {stored} messages → API answers (none lost)"),
        "s",
        false,
        rec.medians(),
        Target::WithinPlus(0.5),
    ));
    Ok(rows)
}
