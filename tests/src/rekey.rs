//! Helpers for the restore-and-re-key stories (`tests/tests/restore_rekey.rs`): a node backed
//! up and restored with the real `ochat backup` / `ochat restore`, a channel's epoch and
//! re-key state read from the API, and the protocol's test hook that logs every (message key,
//! nonce) pair sealed in this process (`ochat_protocol::ratchet::seal_log`, feature
//! `seal-log`, enabled for this crate only).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ochat_protocol::ratchet::seal_log;
use reqwest::Method;
use serde_json::Value;

use crate::node::TestNode;
use crate::process::ochat;

/// Starts recording every (key, nonce) pair sealed in this process.
pub fn record_seals() {
    seal_log::start();
}

/// What the seal log holds: how many seals, how many used a key already used, and how many
/// repeated a (key, nonce) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealReport {
    /// Seals recorded.
    pub sealed: usize,
    /// Seals whose message key had sealed before.
    pub repeated_keys: usize,
    /// Seals whose (key, nonce) pair had sealed before.
    pub repeated_pairs: usize,
}

/// Checks the seal log for repeats.
pub fn seal_report() -> SealReport {
    let log = seal_log::snapshot();
    let (mut keys, mut pairs) = (HashSet::new(), HashSet::new());
    let (mut repeated_keys, mut repeated_pairs) = (0, 0);
    for (key, nonce) in &log {
        if !keys.insert(*key) {
            repeated_keys += 1;
        }
        if !pairs.insert((*key, *nonce)) {
            repeated_pairs += 1;
        }
    }
    SealReport {
        sealed: log.len(),
        repeated_keys,
        repeated_pairs,
    }
}

/// `ochat backup` of a running node into `file`.
pub async fn backup(node: &TestNode, file: &Path) -> Result<()> {
    let (dir, to) = (
        node.data_dir.display().to_string(),
        file.display().to_string(),
    );
    let out =
        tokio::task::spawn_blocking(move || ochat(&["backup", "--data-dir", &dir, "--to", &to]))
            .await??;
    if !out.status.success() {
        bail!(
            "ochat backup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `ochat restore` of `file` into the new folder `dir`.
pub async fn restore(file: &Path, dir: &Path) -> Result<()> {
    let (from, dir) = (file.display().to_string(), dir.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        ochat(&["restore", "--from", &from, "--data-dir", &dir])
    })
    .await??;
    if !out.status.success() {
        bail!(
            "ochat restore failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The channel as `GET /api/v1/channels` shows it.
pub async fn channel(node: &TestNode, id: &str) -> Result<Value> {
    let all = node.ok(Method::GET, "/api/v1/channels", None).await?;
    all.as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .cloned()
        .context("no such channel")
}

/// Waits until the channel is at `epoch` or later with no re-key pending.
pub async fn wait_rekeyed(
    node: &TestNode,
    id: &str,
    epoch: u64,
    within: Duration,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ch = channel(node, id).await?;
        if ch["epoch"].as_u64().unwrap_or(0) >= epoch && ch.get("rekey_needed").is_none() {
            return Ok(ch);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("channel {id} not re-keyed to epoch {epoch} in {within:?}: {ch}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the channel's history holds every text of `texts`.
pub async fn wait_texts(
    node: &TestNode,
    id: &str,
    texts: &[String],
    within: Duration,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let have: HashSet<String> = node
            .history(id)
            .await?
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect();
        let missing: Vec<&String> = texts.iter().filter(|t| !have.contains(*t)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} messages never arrived, first {:?}",
                missing.len(),
                missing.first()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Incoming messages the node refused since its database was created.
pub async fn rejected(node: &TestNode) -> Result<u64> {
    let stats = node.ok(Method::GET, "/api/v1/stats", None).await?;
    stats["rejected_messages"]
        .as_u64()
        .context("no rejected_messages in the stats")
}

/// The body of the re-key request a stopped node stored for `channel` and still waits on.
pub fn stopped_pending_request(dir: &Path, channel: &str) -> Result<Option<Vec<u8>>> {
    let (store, _) = crate::node::open_stopped(dir)?;
    let state = ochat_node::store::rekeys::Rekeys::open(&store)?.state(channel.parse()?)?;
    Ok(state.pending.map(|p| p.request.body.clone()))
}

/// The request hash of the last re-key request a stopped node answered on `channel`.
pub fn stopped_answered_hash(dir: &Path, channel: &str) -> Result<Option<[u8; 32]>> {
    let (store, _) = crate::node::open_stopped(dir)?;
    let state = ochat_node::store::rekeys::Rekeys::open(&store)?.state(channel.parse()?)?;
    Ok(state.answered.map(|(hash, _)| hash))
}

/// The p2p listen address (`/ip4/…/tcp/PORT`) of a running node, to start it again there.
pub async fn p2p_listen_of(node: &TestNode) -> Result<String> {
    let me = node.ok(Method::GET, "/api/v1/instance", None).await?;
    let addr = me["addresses"][0]
        .as_str()
        .context("the node has no listening address")?;
    Ok(addr.split("/p2p/").next().unwrap_or(addr).to_string())
}
