//! In-process nodes for integration tests: real sockets on 127.0.0.1, real sled folders, fast
//! retry timings, and a small JSON client of the local API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ochat_node::{NodeConfig, RunningNode};
use reqwest::Method;
use serde_json::Value;

/// A config for a node in `dir` that knows where `target` listens; and `target`'s instance.
pub async fn reaching(target: &TestNode, dir: &Path, name: &str) -> Result<(NodeConfig, Value)> {
    let me = target.ok(Method::GET, "/api/v1/instance", None).await?;
    let mut config = test_config(dir, name, None);
    let addr = me["addresses"][0]
        .as_str()
        .context("the target has no listening address")?;
    config.peers = vec![(target.uuid.clone(), addr.to_string())];
    Ok((config, me))
}

/// Opens a stopped node's database and data folder, waiting (up to 30 s) for its tasks to let
/// go of the database.
pub fn open_stopped(
    dir: &Path,
) -> Result<(ochat_node::store::Store, ochat_node::data_dir::DataDir)> {
    let data = ochat_node::data_dir::DataDir::open(dir, None)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match ochat_node::store::Store::open(&data.db_path()) {
            Ok(s) => return Ok((s, data)),
            Err(e) if std::time::Instant::now() > deadline => {
                bail!("the stopped node's database stays locked: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// How long any wait in a test may last before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A node running inside the test process.
#[derive(Debug)]
pub struct TestNode {
    /// The running node (None once stopped).
    pub node: Option<RunningNode>,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// API base URL.
    pub api: String,
    /// Admin token.
    pub token: String,
    /// Instance UUID.
    pub uuid: String,
    http: reqwest::Client,
}

/// Sends the logs of the nodes started in this process to `eprint!`: a test's captured output,
/// shown only when it fails (the bench's standard error): warnings and errors, or what
/// `OCHAT_LOG` asks for (tracing filter syntax, e.g. `OCHAT_LOG=ochat_node::federation=debug`).
fn test_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OCHAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| CapturedStderr)
        .try_init();
}

/// Writes through `eprint!`, which a test's output capture sees (a raw `stderr` it does not).
struct CapturedStderr;

impl std::io::Write for CapturedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        eprint!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The configuration tests use: loopback only, OS ports, quick retries.
pub fn test_config(data_dir: &Path, name: &str, directory: Option<&str>) -> NodeConfig {
    let mut config = NodeConfig::with_data_dir(data_dir);
    config.api_listen = "127.0.0.1:0".parse().expect("loopback address");
    config.p2p_listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.name = Some(name.to_string());
    config.directory = directory.map(str::to_string);
    config.federation.retry_base = Duration::from_millis(100);
    config.federation.retry_max = Duration::from_millis(500);
    config.messaging.retry_base = Duration::from_millis(50);
    config.messaging.retry_max = Duration::from_millis(500);
    config
}

/// Links `a` to `b` (request, accept) and returns their channel ids (a's, b's).
pub async fn link(a: &TestNode, b: &TestNode) -> Result<(String, String)> {
    let c = a
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": b.uuid, "contact": "peer", "send": true})),
        )
        .await?;
    let id = c["id"].as_str().unwrap_or_default().to_string();
    let incoming = match b.wait_incoming_from(&a.uuid, "Pending").await {
        Ok(incoming) => incoming,
        // The sender's side of the story: its connection's status and last delivery error.
        Err(e) => bail!(
            "{e:#}; the sender's connection: {}",
            a.connections()
                .await
                .map(|all| Value::Array(all).to_string())
                .unwrap_or_else(|e| format!("unreadable: {e:#}"))
        ),
    };
    let accepted = b
        .ok(
            Method::POST,
            &format!(
                "/api/v1/connections/{}/accept",
                incoming["id"].as_str().unwrap_or_default()
            ),
            Some(serde_json::json!({"contact": "peer"})),
        )
        .await?;
    let done = a.wait_status(&id, "Accepted").await?;
    Ok((
        done["channel_id"].as_str().unwrap_or_default().to_string(),
        accepted["channel_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// Links `a` to `b` when `b` accepts requests by itself (`--auto-accept`): `a` requests, both
/// become Accepted without a click; returns their channel ids (a's, b's).
pub async fn link_auto(a: &TestNode, b: &TestNode) -> Result<(String, String)> {
    let c = a
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": b.uuid, "send": true})),
        )
        .await?;
    let id = c["id"].as_str().unwrap_or_default().to_string();
    let mine = a.wait_status(&id, "Accepted").await?;
    let theirs = b.wait_incoming_from(&a.uuid, "Accepted").await?;
    Ok((
        mine["channel_id"].as_str().unwrap_or_default().to_string(),
        theirs["channel_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

impl TestNode {
    /// Starts a node with `config`.
    pub async fn start(config: NodeConfig) -> Result<Self> {
        test_logs();
        let data_dir = config.data_dir.clone();
        let node = RunningNode::start(config).await?;
        let api = format!("http://{}", node.api_addr);
        let token = node.shared.admin_token.to_string();
        let uuid = node.shared.instance.uuid.to_string();
        Ok(TestNode {
            node: Some(node),
            data_dir,
            api,
            token,
            uuid,
            http: reqwest::Client::new(),
        })
    }

    /// Stops the node cleanly.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(node) = self.node.take() {
            node.shutdown().await?;
        }
        Ok(())
    }

    /// Calls the API with the admin token; returns (status, JSON body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .timeout(WAIT);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("calling the API")?;
        let status = resp.status().as_u16();
        let value = resp.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// Calls the API and insists on a 2xx answer.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// One connection by id.
    pub async fn connection(&self, id: &str) -> Result<Value> {
        self.ok(Method::GET, &format!("/api/v1/connections/{id}"), None)
            .await
    }

    /// Every connection.
    pub async fn connections(&self) -> Result<Vec<Value>> {
        let v = self.ok(Method::GET, "/api/v1/connections", None).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Sends a text message on a channel.
    pub async fn send(&self, channel: &str, text: &str) -> Result<Value> {
        self.ok(
            Method::POST,
            &format!("/api/v1/channels/{channel}/messages"),
            Some(serde_json::json!({"text": text})),
        )
        .await
    }

    /// The whole history of a channel, oldest first.
    pub async fn history(&self, channel: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let path = match &before {
                Some(b) => format!("/api/v1/channels/{channel}/messages?limit=500&before={b}"),
                None => format!("/api/v1/channels/{channel}/messages?limit=500"),
            };
            let page = self.ok(Method::GET, &path, None).await?;
            all.extend(page["messages"].as_array().cloned().unwrap_or_default());
            match page["next_before"].as_str() {
                Some(b) => before = Some(b.to_string()),
                None => break,
            }
        }
        all.reverse();
        Ok(all)
    }

    /// Waits until a channel's history holds at least `n` messages, failing after `limit`.
    pub async fn wait_history(
        &self,
        channel: &str,
        n: usize,
        limit: Duration,
    ) -> Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let h = self.history(channel).await?;
            if h.len() >= n {
                return Ok(h);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "channel {channel} holds {} messages after {limit:?}, expected {n}",
                    h.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the connection `id` has `status`, failing after [`WAIT`].
    pub async fn wait_status(&self, id: &str, status: &str) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let c = self.connection(id).await?;
            if c["status"] == status {
                return Ok(c);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "connection {id} is {} after {WAIT:?}, expected {status}: {c}",
                    c["status"]
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until a connection from `remote_uuid` satisfies `pred`, failing after [`WAIT`].
    pub async fn wait_incoming_from(&self, remote_uuid: &str, status: &str) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.connections().await?.into_iter().find(|c| {
                c["remote_uuid"] == remote_uuid
                    && c["direction"] == "incoming"
                    && c["status"] == status
            });
            if let Some(c) = found {
                return Ok(c);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no incoming {status} connection from {remote_uuid} after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until no connection from `remote_uuid` exists, failing after [`WAIT`].
    pub async fn wait_gone(&self, remote_uuid: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if !self
                .connections()
                .await?
                .iter()
                .any(|c| c["remote_uuid"] == remote_uuid)
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("a connection from {remote_uuid} is still there after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
