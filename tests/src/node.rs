//! In-process nodes for integration tests: real sockets on 127.0.0.1, real sled folders, fast
//! retry timings, and a small JSON client of the local API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ochat_node::{NodeConfig, RunningNode};
use reqwest::Method;
use serde_json::Value;

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

/// The configuration tests use: loopback only, OS ports, quick retries.
pub fn test_config(data_dir: &Path, name: &str, directory: Option<&str>) -> NodeConfig {
    let mut config = NodeConfig::with_data_dir(data_dir);
    config.api_listen = "127.0.0.1:0".parse().expect("loopback address");
    config.p2p_listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.name = Some(name.to_string());
    config.directory = directory.map(str::to_string);
    config.federation.retry_base = Duration::from_millis(100);
    config.federation.retry_max = Duration::from_millis(500);
    config
}

impl TestNode {
    /// Starts a node with `config`.
    pub async fn start(config: NodeConfig) -> Result<Self> {
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
