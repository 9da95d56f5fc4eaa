//! Helpers for the story of a sender killed between a send and its flush
//! (`tests/tests/sender_crash.rs`): a real `ochat run` that writes every (message key, nonce)
//! pair it seals to a file (`OCHAT_SEAL_LOG`, see `src/bin/ochat-under-test.rs`), that file read
//! back, and the node's HTTP API called with its admin token.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ochat_protocol::ratchet::seal_log::SealedPair;
use reqwest::Method;
use serde_json::Value;

use crate::process::{NodeProcess, ochat_bin};
use crate::rekey::SealReport;

/// Bytes of one record of a seal file: SHA-256 of the key, then the 24-byte nonce.
const RECORD: usize = 32 + 24;

/// Starts `ochat run` on `dir` with the directory at `directory`, appending every pair it
/// seals to `seals`.
pub fn start_sealing(dir: &Path, directory: &str, seals: &Path) -> Result<NodeProcess> {
    let mut command = Command::new(ochat_bin());
    command
        .arg("run")
        .arg("--data-dir")
        .arg(dir)
        .args(["--api-listen", "127.0.0.1:0"])
        .args(["--directory", directory])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(["--retry-max", "1"])
        .env("OCHAT_SEAL_LOG", seals)
        .env_remove("OCHAT_DATA_DIR");
    NodeProcess::spawn(command, dir, Duration::from_secs(20))
}

/// The pairs a seal file holds, in order.
pub fn sealed_pairs(seals: &Path) -> Result<Vec<SealedPair>> {
    let bytes = std::fs::read(seals).with_context(|| format!("reading {}", seals.display()))?;
    if bytes.len() % RECORD != 0 {
        bail!(
            "the seal file ends in half a record ({} bytes)",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(RECORD)
        .map(|r| {
            let mut key = [0u8; 32];
            let mut nonce = [0u8; 24];
            key.copy_from_slice(&r[..32]);
            nonce.copy_from_slice(&r[32..]);
            (key, nonce)
        })
        .collect())
}

/// How many of `pairs` repeat a key, or a (key, nonce) pair, sealed before.
pub fn repeats(pairs: &[SealedPair]) -> SealReport {
    let (mut keys, mut seen) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    let (mut repeated_keys, mut repeated_pairs) = (0, 0);
    for (key, nonce) in pairs {
        if !keys.insert(*key) {
            repeated_keys += 1;
        }
        if !seen.insert((*key, *nonce)) {
            repeated_pairs += 1;
        }
    }
    SealReport {
        sealed: pairs.len(),
        repeated_keys,
        repeated_pairs,
    }
}

/// A node process's HTTP API, called with its admin token.
#[derive(Debug, Clone)]
pub struct ProcessApi {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ProcessApi {
    /// The API of `node`.
    pub fn of(node: &NodeProcess) -> Result<Self> {
        Ok(ProcessApi {
            base: node.api.clone(),
            token: node.admin_token()?,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }

    /// Calls `path`; a status other than 2xx is an error.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if !status.is_success() {
            bail!(
                "{path}: {status}: {}",
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(resp.json().await?)
    }

    /// Sends `text` on `channel`; answers once the node acknowledged it.
    pub async fn send(&self, channel: &str, text: &str) -> Result<Value> {
        self.call(
            Method::POST,
            &format!("/api/v1/channels/{channel}/messages"),
            Some(serde_json::json!({ "text": text })),
        )
        .await
    }
}
