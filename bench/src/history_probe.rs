//! The `history` group's reads: one figure's requests to the running node over HTTP, and the
//! same reads on the bare sled copy in the bench's process ([`crate::history_fill::bare_copy`]).
//!
//! - the latest page of the channel's history (`GET /api/v1/channels/{id}/messages?limit=50`)
//!   against a reverse range of 50 values in the bare `messages` tree;
//! - pages deep in the past (`…&before=<id>`, cursors drawn at random from the oldest half)
//!   against the same ranges;
//! - transcripts of sessions drawn at random over the whole history
//!   (`GET /api/v1/livechat/sessions/{id}/messages`) against a prefix scan of `lc_messages`;
//! - reports over every session (`…/reports/stats?group_by=day`, `…/reports/operators`)
//!   against a scan (keys and values, nothing decoded) of `lc_report_facts`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use uuid::Uuid;

use crate::measure::{Sample, histogram, record};
use crate::process::NodeProcess;

/// Messages per history page (the console's page).
pub const PAGE: usize = 50;

/// A small deterministic generator (xorshift), so both sides read the same cursors.
#[derive(Debug, Clone)]
pub struct Draw(u64);

impl Draw {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Draw(seed | 1)
    }

    /// The next index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// An HTTP client of a node process.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    /// A client of `node`.
    pub fn new(node: &NodeProcess) -> Self {
        Client {
            http: reqwest::Client::new(),
            api: node.api.clone(),
            token: node.token.clone(),
        }
    }

    /// GETs `path`; answers the JSON body (an error unless 200).
    pub async fn get(&self, path: &str) -> Result<serde_json::Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// `count` GETs of `path(i)` one after the other; their latencies. Each answer must be a
    /// non-empty array at `field` (the whole body when `field` is empty).
    pub async fn latencies(
        &self,
        count: usize,
        field: &str,
        mut path: impl FnMut(usize) -> String,
    ) -> Result<Sample> {
        let mut h = histogram();
        for i in 0..count {
            let p = path(i);
            let start = Instant::now();
            let v = self.get(&p).await?;
            record(&mut h, start.elapsed());
            let items = if field.is_empty() { &v } else { &v[field] };
            if items.as_array().is_none_or(|a| a.is_empty()) {
                bail!("GET {p} answered nothing: {v}");
            }
        }
        Ok(Sample {
            value: h.value_at_quantile(0.99) as f64 / 1000.0,
            hist: Some(h),
        })
    }

    /// One report, timed (ms); its rows at `field` must not be empty.
    pub async fn report(&self, path: &str, field: &str) -> Result<Sample> {
        let start = Instant::now();
        let v = self.get(path).await?;
        let elapsed = start.elapsed();
        if v[field].as_array().is_none_or(|r| r.is_empty()) {
            bail!("{path} answered no {field}: {v}");
        }
        Ok(Sample::value(elapsed.as_secs_f64() * 1000.0))
    }
}

/// `count` reads of `read(i)` on the bare copy; their latencies (p99 as the value). Each read
/// answers how many values it found, which must not be zero.
pub fn bare_latencies(
    count: usize,
    mut read: impl FnMut(usize) -> Result<usize>,
) -> Result<Sample> {
    let mut h = histogram();
    for i in 0..count {
        let start = Instant::now();
        let found = read(i)?;
        record(&mut h, start.elapsed());
        if found == 0 {
            bail!("a bare read found nothing");
        }
    }
    Ok(Sample {
        value: h.value_at_quantile(0.99) as f64 / 1000.0,
        hist: Some(h),
    })
}

/// A page of `channel` newest first before `before` (to the end when `None`) in the bare
/// `messages` tree: every key and value of the page read.
pub fn bare_page(tree: &sled::Tree, channel: Uuid, before: Option<Uuid>) -> Result<usize> {
    let mut from = channel.as_bytes().to_vec();
    from.extend_from_slice(Uuid::nil().as_bytes());
    let mut to = channel.as_bytes().to_vec();
    to.extend_from_slice(before.unwrap_or(Uuid::max()).as_bytes());
    let mut n = 0;
    for item in tree.range(from..to).rev().take(PAGE) {
        let (k, v) = item?;
        n += usize::from(!k.is_empty() && !v.is_empty());
    }
    Ok(n)
}

/// A session's messages in the bare `lc_messages` tree (prefix scan).
pub fn bare_transcript(tree: &sled::Tree, session: Uuid) -> Result<usize> {
    let mut n = 0;
    for item in tree.scan_prefix(session.as_bytes()) {
        let (k, v) = item?;
        n += usize::from(!k.is_empty() && !v.is_empty());
    }
    Ok(n)
}

/// A scan of every key and value of the bare facts tree (ms); it must hold `count` entries.
pub fn bare_scan(tree: &sled::Tree, count: usize) -> Result<Sample> {
    let start = Instant::now();
    let (mut n, mut bytes) = (0usize, 0usize);
    for item in tree.iter() {
        let (k, v) = item?;
        n += 1;
        bytes += k.len() + v.len();
    }
    let elapsed = start.elapsed();
    if n < count || bytes == 0 {
        bail!("the bare facts tree has {n} entries, expected {count}");
    }
    Ok(Sample::value(elapsed.as_secs_f64() * 1000.0))
}
