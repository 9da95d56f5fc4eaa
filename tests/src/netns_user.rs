//! What a user does with a node running in a test namespace ([`crate::netns`]), through the
//! `ochat` command run in the same namespace: link two instances (request, accept), exchange
//! messages, read `ochat network`. Every wait polls with a deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ochat_protocol::identity::IdentityKey;
use serde_json::Value;

use crate::netns::NetnsNode;

/// How long one step of a cross-namespace flow may take.
pub const STEP: Duration = Duration::from_secs(30);

/// Polls `check` every 100 ms until it gives a value, failing after `timeout` with `what` and
/// the last error.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what} {last}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The libp2p peer id of the node whose data folder is `data_dir` (from its `identity.key`).
pub fn peer_id_of_folder(data_dir: &Path) -> Result<String> {
    let text = std::fs::read_to_string(data_dir.join("identity.key"))?;
    let file: Value = serde_json::from_str(&text)?;
    let secret: [u8; 32] = hex::decode(file["identity"].as_str().context("no identity")?)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the identity key has not 32 bytes"))?;
    let public = IdentityKey::from_secret_bytes(&secret).public();
    Ok(ochat_node::network::peer_id_of(&public)?.to_string())
}

impl NetnsNode {
    /// `ochat ARGS --data-dir DIR` in the node's namespace: its stdout, or an error with stderr.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let dir = self.data_dir.to_str().context("data folder path")?;
        let out = self.host.ochat(&[args, &["--data-dir", dir]].concat())?;
        if !out.status.success() {
            bail!(
                "ochat {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ochat ARGS --json`, parsed.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let out = self.cli(&[args, &["--json"]].concat())?;
        serde_json::from_str(&out).with_context(|| format!("ochat {args:?} printed {out}"))
    }

    /// Its Instance UUID (`ochat uuid`).
    pub fn uuid(&self) -> Result<String> {
        Ok(self.cli(&["uuid"])?.trim().to_string())
    }

    /// Its libp2p peer id.
    pub fn peer_id(&self) -> Result<String> {
        peer_id_of_folder(&self.data_dir)
    }

    /// `/ip4/<its address>/tcp/<port>/p2p/<peer id>`, for a node started with that TCP port.
    pub fn multiaddr(&self, tcp_port: u16) -> Result<String> {
        Ok(format!(
            "/ip4/{}/tcp/{tcp_port}/p2p/{}",
            self.host.addr,
            self.peer_id()?
        ))
    }

    /// `ochat connect UUID` and, while the UUID is Not Found (not registered yet), `connection
    /// retry`, until the request is Pending or Accepted; returns the connection id.
    pub fn request(&self, uuid: &str, timeout: Duration) -> Result<String> {
        let sent = self.json(&["connect", uuid, "--message", "hello across the internet"])?;
        let id = sent["id"]
            .as_str()
            .context("connect gave no id")?
            .to_string();
        poll(
            &format!("the request to {uuid} to be delivered"),
            timeout,
            || {
                let now = self.json(&["connection", "show", &id])?;
                match now["status"].as_str() {
                    Some("Pending" | "Accepted") => Ok(Some(())),
                    Some("Not Found") => {
                        self.json(&["connection", "retry", &id])?;
                        Ok(None)
                    }
                    _ => Ok(None),
                }
            },
        )?;
        Ok(id)
    }

    /// Waits for the request from `uuid` and accepts it; returns the channel id.
    pub fn accept_from(&self, uuid: &str, timeout: Duration) -> Result<String> {
        let incoming = poll(&format!("the request from {uuid}"), timeout, || {
            let list = self.json(&["connections", "--incoming"])?;
            Ok(list
                .as_array()
                .and_then(|l| {
                    l.iter()
                        .find(|c| c["remote_uuid"] == uuid && c["status"] == "Pending")
                })
                .cloned())
        })?;
        let id = incoming["id"].as_str().context("no id")?;
        let accepted = self.json(&["connection", "accept", id, "--contact", "partner"])?;
        accepted["channel_id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("the accepted connection has no channel: {accepted}"))
    }

    /// Waits until our connection `id` is Accepted; returns its channel id.
    pub fn wait_accepted(&self, id: &str, timeout: Duration) -> Result<String> {
        poll("the connection to be accepted", timeout, || {
            let now = self.json(&["connection", "show", id])?;
            Ok(match (now["status"].as_str(), now["channel_id"].as_str()) {
                (Some("Accepted"), Some(channel)) => Some(channel.to_string()),
                _ => None,
            })
        })
    }

    /// Sends `text` in `channel`; returns the message id.
    pub fn send(&self, channel: &str, text: &str) -> Result<String> {
        let sent = self.json(&["send", channel, text])?;
        sent["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("send gave {sent}"))
    }

    /// The messages of `channel`, newest first.
    pub fn history(&self, channel: &str) -> Result<Vec<Value>> {
        let page = self.json(&["history", channel])?;
        Ok(page["messages"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until `channel` holds a message with `text` from the peer.
    pub fn wait_received(&self, channel: &str, text: &str, timeout: Duration) -> Result<()> {
        poll(&format!("'{text}' to arrive"), timeout, || {
            Ok(self
                .history(channel)?
                .iter()
                .any(|m| m["text"] == text && m["direction"] == "in")
                .then_some(()))
        })
    }

    /// Waits until our message `id` in `channel` is delivered (or read).
    pub fn wait_delivered(&self, channel: &str, id: &str, timeout: Duration) -> Result<()> {
        poll("the message to be delivered", timeout, || {
            Ok(self
                .history(channel)?
                .iter()
                .any(|m| m["id"] == id && (m["state"] == "delivered" || m["state"] == "read"))
                .then_some(()))
        })
    }

    /// `ochat network` (text): how this node reaches the internet and each peer.
    pub fn network(&self) -> Result<String> {
        self.cli(&["network"])
    }

    /// Waits until the directory at `url` lists this node's relayed address: what anyone who
    /// looks its UUID up will dial. (A partner that looked it up earlier would find only
    /// private addresses and wait for its outbox's next retry.)
    pub fn wait_listed_behind_relay(&self, url: &str, timeout: Duration) -> Result<()> {
        let uuid = self.uuid()?;
        poll(
            &format!("{uuid}'s relayed address in the directory"),
            timeout,
            || {
                let out = self
                    .host
                    .ochat(&["directory", "lookup", &uuid, "--url", url])?;
                let record = String::from_utf8_lossy(&out.stdout);
                Ok((out.status.success() && record.contains("p2p-circuit")).then_some(()))
            },
        )
    }
}

/// `a` requests `b`, `b` accepts, a message each way arrives and is delivered. Returns the
/// channel ids (a's, b's).
/// On failure, the error carries the end of both nodes' logs.
pub fn link_and_talk(a: &NetnsNode, b: &NetnsNode) -> Result<(String, String)> {
    steps_of_link_and_talk(a, b).map_err(|e| {
        let tail = |node: &NetnsNode| {
            let log = node.daemon.log();
            let lines: Vec<&str> = log.lines().collect();
            lines[lines.len().saturating_sub(150)..].join("\n")
        };
        e.context(format!(
            "the requester's log ends:\n{}\nthe partner's log ends:\n{}",
            tail(a),
            tail(b)
        ))
    })
}

fn steps_of_link_and_talk(a: &NetnsNode, b: &NetnsNode) -> Result<(String, String)> {
    let b_uuid = b.uuid()?;
    let a_uuid = a.uuid()?;
    let id = a.request(&b_uuid, STEP)?;
    let b_channel = b.accept_from(&a_uuid, STEP)?;
    let a_channel = a.wait_accepted(&id, STEP)?;
    let there = a.send(&a_channel, "hello from A")?;
    b.wait_received(&b_channel, "hello from A", STEP)?;
    a.wait_delivered(&a_channel, &there, STEP)?;
    let back = b.send(&b_channel, "hello from B")?;
    a.wait_received(&a_channel, "hello from B", STEP)?;
    b.wait_delivered(&b_channel, &back, STEP)?;
    Ok((a_channel, b_channel))
}
