//! Group `directory`: the UUID directory holding many signed records, measured at 1k, 10k and
//! 100k records (1k and 10k under `--quick`) and drawn into `docs/charts/directory-*.svg`.
//!
//! The directory is the real server ([`DirectoryServer`], its own sled folder) on 127.0.0.1.
//! Its per-address rate limit stays on but is lifted through its configuration (every request
//! of the bench comes from 127.0.0.1); nothing else is changed. Records are real: each has its
//! own Ed25519 key, a self-certifying UUID and two addresses, and is registered the way a node
//! registers its own ([`DirectoryClient::publish`]: a PUT the directory verifies, stores with
//! trust on first use and flushes before it answers).
//!
//! - registration while filling (informative): 16 clients publish fresh records; per second.
//! - lookups: 16 clients `GET /v1/instances/{uuid}` of registered UUIDs spread over the whole
//!   set; per second, p50/p99. Baseline: a bare axum route answering the same JSON bytes from
//!   an in-memory `HashMap` (same request, same answer size). Target ≥ 0.5×.
//! - registration under load (at the largest size, informative): 16 clients publish fresh
//!   records while 16 others look up; registrations per second against the same alone, and
//!   the lookups' p99 during it against lookups alone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hdrhistogram::Histogram;
use ochat_node::directory::{
    DirectoryClient, DirectoryConfig, DirectoryServer, RateLimit, RecordDto, RunningDirectory,
};
use ochat_node::network::peer_id_of;
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, SignedRecord};

use crate::bare_http;
use crate::chart::Chart;
use crate::measure::{self, Sample, alternate, histogram, lanes, record};
use crate::opts::Opts;
use crate::table::{Row, Target};

const GROUP: &str = "directory";
/// Clients at once, for lookups and for registrations.
const CLIENTS: usize = 16;

/// Records made ahead of time, handed out once each.
struct Pool {
    records: Mutex<Vec<(InstanceId, SignedRecord)>>,
}

impl Pool {
    fn take(&self, n: usize) -> Result<Vec<(InstanceId, SignedRecord)>> {
        let mut all = self
            .records
            .lock()
            .map_err(|_| anyhow::anyhow!("the record pool is poisoned"))?;
        if all.len() < n {
            bail!("the record pool holds {} records, {n} asked", all.len());
        }
        let at = all.len() - n;
        Ok(all.split_off(at))
    }
}

/// A record as a node signs its own: a fresh key, its self-certifying UUID, two addresses.
fn make_record(i: usize) -> Result<(InstanceId, SignedRecord)> {
    let key = IdentityKey::generate()?;
    let public = key.public();
    let uuid = InstanceId::derived_from(&public);
    let peer = peer_id_of(&public)?;
    let host = format!("198.51.{}.{}", (i / 250) % 250, i % 250);
    let record = InstanceRecord {
        uuid,
        name: format!("Organisation {i}"),
        identity: public,
        prekey: [7; 32],
        addresses: vec![
            format!("/ip4/{host}/tcp/4001/p2p/{peer}"),
            format!("/ip4/{host}/udp/4001/quic-v1/p2p/{peer}"),
        ],
        seq: 1_765_000_000_000 + i as u64,
        signed_at_ms: 1_765_000_000_000 + i as u64,
    };
    Ok((uuid, record.sign(&key)?))
}

/// `n` records, made on every core.
async fn make_records(n: usize) -> Result<Vec<(InstanceId, SignedRecord)>> {
    let workers = std::thread::available_parallelism().map_or(2, |c| c.get());
    let chunk = n.div_ceil(workers).max(1);
    let tasks: Vec<_> = (0..n)
        .step_by(chunk)
        .map(|from| {
            let to = (from + chunk).min(n);
            tokio::task::spawn_blocking(move || {
                (from..to).map(make_record).collect::<Result<Vec<_>>>()
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Publishes `records` with 16 clients at once, as nodes do; registrations per second.
async fn register(
    client: &DirectoryClient,
    records: Vec<(InstanceId, SignedRecord)>,
) -> Result<Sample> {
    let count = records.len();
    let records = Arc::new(records);
    let start = Instant::now();
    let client = client.clone();
    lanes(CLIENTS, count, move |n| {
        let (client, records) = (client.clone(), records.clone());
        async move {
            client
                .publish(&records[n].1)
                .await
                .with_context(|| format!("publishing record {n}"))
        }
    })
    .await??;
    Ok(Sample::rate(count, start.elapsed()))
}

/// The lookup URLs of every registered UUID under `base`.
fn urls(base: &str, uuids: &[InstanceId]) -> Arc<Vec<String>> {
    Arc::new(
        uuids
            .iter()
            .map(|u| format!("{base}/v1/instances/{u}"))
            .collect(),
    )
}

/// One lookup: 200 and the record's bytes.
async fn lookup(http: &reqwest::Client, url: &str) -> Result<usize> {
    let resp = http.get(url).send().await?;
    if resp.status() != StatusCode::OK {
        bail!("lookup answered {}", resp.status());
    }
    Ok(resp.bytes().await?.len())
}

/// Spreads job `n` over the whole set (a multiplicative hash of `n`).
fn spread(n: usize, len: usize) -> usize {
    (n.wrapping_mul(2_654_435_761)) % len
}

/// `count` lookups by 16 clients: per second, with latencies.
async fn lookups(http: &reqwest::Client, urls: &Arc<Vec<String>>, count: usize) -> Result<Sample> {
    let hist = Arc::new(Mutex::new(histogram()));
    let start = Instant::now();
    let (http, urls2, hist2) = (http.clone(), urls.clone(), hist.clone());
    lanes(CLIENTS, count, move |n| {
        let (http, urls, hist) = (http.clone(), urls2.clone(), hist2.clone());
        async move {
            let at = Instant::now();
            lookup(&http, &urls[spread(n, urls.len())]).await?;
            if let Ok(mut h) = hist.lock() {
                record(&mut h, at.elapsed());
            }
            Ok(())
        }
    })
    .await??;
    let elapsed = start.elapsed();
    let h = hist
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|_| histogram());
    Ok(Sample {
        value: count as f64 / elapsed.as_secs_f64(),
        hist: Some(h),
    })
}

/// Registers `records` while 16 other clients look up without pause: registrations per
/// second, and the latencies of the lookups made meanwhile.
async fn register_under_load(
    client: &DirectoryClient,
    http: &reqwest::Client,
    urls: &Arc<Vec<String>>,
    records: Vec<(InstanceId, SignedRecord)>,
) -> Result<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..CLIENTS)
        .map(|lane| {
            let (http, urls, stop) = (http.clone(), urls.clone(), stop.clone());
            tokio::spawn(async move {
                let mut h = histogram();
                let mut n = lane;
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    lookup(&http, &urls[spread(n, urls.len())]).await?;
                    record(&mut h, at.elapsed());
                    n += CLIENTS;
                }
                anyhow::Ok(h)
            })
        })
        .collect();
    let written = register(client, records).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = histogram();
    for r in readers {
        let h: Histogram<u64> = r.await??;
        let _ = all.add(&h);
    }
    let written = written?;
    Ok(Sample {
        value: written.value,
        hist: Some(all),
    })
}

/// The baseline: `GET /v1/instances/{uuid}` answering the stored JSON from a `HashMap`.
async fn bare_directory(answers: HashMap<String, Bytes>) -> Result<bare_http::Server> {
    async fn answer(
        State(map): State<Arc<HashMap<String, Bytes>>>,
        UrlPath(uuid): UrlPath<String>,
    ) -> Response {
        match map.get(&uuid) {
            Some(body) => {
                ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let router = Router::new()
        .route("/v1/instances/{uuid}", get(answer))
        .with_state(Arc::new(answers));
    bare_http::serve(router).await
}

/// The same JSON the directory answers for each record.
fn answers(records: &[(InstanceId, SignedRecord)]) -> Result<HashMap<String, Bytes>> {
    records
        .iter()
        .map(|(uuid, signed)| {
            let body = serde_json::to_vec(&RecordDto::from(signed))?;
            Ok((uuid.to_string(), Bytes::from(body)))
        })
        .collect()
}

async fn start_directory(dir: &Path) -> Result<RunningDirectory> {
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let mut config = DirectoryConfig::new(dir, listen);
    // Every request of the bench comes from 127.0.0.1: the limit stays on, lifted.
    config.rate_limit = Some(RateLimit {
        burst: u32::MAX,
        per_minute: u32::MAX,
    });
    Ok(DirectoryServer::start_with(config).await?)
}

/// What one size measured.
struct Point {
    size: usize,
    fill_rate: f64,
    lookups: measure::Pair,
}

fn chart_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/charts")
        .join(name)
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let sizes: &[usize] = if opts.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let largest = sizes.iter().copied().max().unwrap_or(1_000);
    let under_load = opts.scale(2_000);
    // The fill, then one batch per round of registrations alone and under load.
    let spare = under_load * 2 * (opts.rounds() + 1);
    let started = Instant::now();
    let pool = Pool {
        records: Mutex::new(make_records(largest + spare).await?),
    };
    eprintln!(
        "directory: {} records signed in {:.1} s",
        largest + spare,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir()?;
    let directory = start_directory(dir.path()).await?;
    let base = format!("http://{}", directory.addr);
    let client = DirectoryClient::new(&base)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;

    let mut registered: Vec<(InstanceId, SignedRecord)> = Vec::new();
    let mut points = Vec::new();
    let count = opts.scale(20_000);
    for &size in sizes {
        let batch = pool.take(size - registered.len())?;
        let fill = register(&client, batch.clone()).await?;
        registered.extend(batch);
        eprintln!("directory: {size} records, filled at {:.0}/s", fill.value);
        let uuids: Vec<InstanceId> = registered.iter().map(|(u, _)| *u).collect();
        let ours_urls = urls(&base, &uuids);
        let bare = bare_directory(answers(&registered)?).await?;
        let bare_urls = urls(&bare.base, &uuids);
        let pair = alternate(
            opts,
            async || lookups(&http, &ours_urls, count).await,
            async || lookups(&http, &bare_urls, count).await,
        )
        .await
        .with_context(|| format!("lookups among {size} records"))?;
        drop(bare);
        points.push(Point {
            size,
            fill_rate: fill.value,
            lookups: pair,
        });
    }

    let uuids: Vec<InstanceId> = registered.iter().map(|(u, _)| *u).collect();
    let all_urls = urls(&base, &uuids);
    let load = alternate(
        opts,
        async || register_under_load(&client, &http, &all_urls, pool.take(under_load)?).await,
        async || register(&client, pool.take(under_load)?).await,
    )
    .await
    .context("registration under load")?;
    directory.shutdown().await?;

    let mut rows = Vec::new();
    for p in &points {
        let mut row = Row::informative(
            GROUP,
            &format!(
                "registrations/s while filling to {} records (16 clients)",
                p.size
            ),
            "reg/s",
            true,
            (p.fill_rate, f64::NAN),
        );
        row.ratio = f64::NAN;
        row.met = true;
        rows.push(row);
        rows.push(
            Row::new(
                GROUP,
                &format!(
                    "lookups/s among {} records, 16 clients (base: axum + HashMap)",
                    p.size
                ),
                "req/s",
                true,
                p.lookups.medians(),
                Target::AtLeast(0.5),
            )
            .with_latency(p.lookups.latency()),
        );
    }
    let (regs_loaded, regs_alone) = load.medians();
    rows.push(Row::informative(
        GROUP,
        &format!("registrations/s at {largest} records while 16 clients look up (base: alone)"),
        "reg/s",
        true,
        (regs_loaded, regs_alone),
    ));
    let (_, loaded_p99) = measure::percentiles(&load.ours);
    let alone = points.last().map(|p| p.lookups.latency());
    let (alone_p50, alone_p99) = alone.map_or((f64::NAN, f64::NAN), |l| (l.ours_p50, l.ours_p99));
    let (loaded_p50, _) = measure::percentiles(&load.ours);
    rows.push(
        Row::informative(
            GROUP,
            "lookup p99 while registrations run (base: lookups alone)",
            "ms",
            false,
            (loaded_p99, alone_p99),
        )
        .with_latency(crate::table::Latency {
            ours_p50: loaded_p50,
            ours_p99: loaded_p99,
            base_p50: alone_p50,
            base_p99: alone_p99,
        }),
    );
    draw(&points)?;
    Ok(rows)
}

fn draw(points: &[Point]) -> Result<()> {
    let line = |f: &dyn Fn(&Point) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.size as f64, f(p))).collect()
    };
    Chart::new("Directory lookups, 16 clients", "records", "lookups/s")
        .line("ochat directory", line(&|p| p.lookups.medians().0))
        .line("axum + HashMap", line(&|p| p.lookups.medians().1))
        .write(&chart_path("directory-lookups.svg"))?;
    Chart::new("Directory lookup p99, 16 clients", "records", "ms")
        .line("ochat directory", line(&|p| p.lookups.latency().ours_p99))
        .line("axum + HashMap", line(&|p| p.lookups.latency().base_p99))
        .write(&chart_path("directory-lookup-p99.svg"))?;
    Chart::new("Directory registrations while filling", "records", "reg/s")
        .line("ochat directory", line(&|p| p.fill_rate))
        .write(&chart_path("directory-registrations.svg"))?;
    Ok(())
}
