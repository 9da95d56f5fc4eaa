//! Helpers for the settings tests (`tests/tests/settings.rs`): the real `ochat` binary started
//! with chosen environment variables and a settings file, a webhook receiver that keeps each
//! request's raw body and signature, a MaxMind-format country database written by PyPI's
//! `mmdb-writer`, and a small HTTP client for the live chat calls an operator and a visitor
//! make.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::node::WAIT;
use crate::process::{NodeProcess, ochat_bin};

/// `ochat ARGS` with these environment variables (and no OCHAT_DATA_DIR from the caller).
pub fn ochat_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    Command::new(ochat_bin())
        .args(args)
        .env_remove("OCHAT_DATA_DIR")
        .envs(env.iter().copied())
        .output()
        .context("running ochat")
}

/// Starts `ochat run --data-dir DIR --api-listen 127.0.0.1:0 EXTRA…` with these variables and
/// waits (at most `timeout`) for its API address; fails with its stderr if it exits first.
pub fn start_node(
    data_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<NodeProcess> {
    let mut command = Command::new(ochat_bin());
    command
        .arg("run")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--api-listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("OCHAT_DATA_DIR")
        .envs(env.iter().copied());
    NodeProcess::spawn(command, data_dir, timeout)
}

/// Runs `ochat ARGS` that is expected to stop by itself, killing it after `timeout`.
pub fn run_until_exit(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Result<Output> {
    let mut child = Command::new(ochat_bin())
        .args(args)
        .env_remove("OCHAT_DATA_DIR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning ochat")?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output()?;
            bail!(
                "ochat {args:?} was still running after {timeout:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(child.wait_with_output()?)
}

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
    /// The `X-Ochat-Signature` header, if any.
    pub signature: Option<String>,
}

/// A webhook receiver on 127.0.0.1: answers 200 to `POST /hook` and passes each request on.
pub async fn webhook_receiver() -> Result<(String, mpsc::UnboundedReceiver<Hook>)> {
    let (tx, rx) = mpsc::unbounded_channel::<Hook>();
    let app =
        axum::Router::new()
            .route(
                "/hook",
                post(
                    |State(tx): State<mpsc::UnboundedSender<Hook>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let signature = headers
                            .get("x-ochat-signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let _ = tx.send(Hook {
                            body: body.to_vec(),
                            signature,
                        });
                    },
                ),
            )
            .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}

/// Writes a MaxMind-format country database mapping each CIDR block to an ISO code, with
/// PyPI's `mmdb-writer` (`.ci/run` installs it).
pub fn write_country_db(path: &Path, networks: &[(&str, &str)]) -> Result<()> {
    let mut script = String::from(
        "import sys\nfrom netaddr import IPSet\nfrom mmdb_writer import MMDBWriter\n\
         w = MMDBWriter(ip_version=4, database_type='GeoLite2-Country', languages=['en'], \
         description='ochat test countries')\n",
    );
    for (cidr, iso) in networks {
        script.push_str(&format!(
            "w.insert_network(IPSet(['{cidr}']), {{'country': {{'iso_code': '{iso}'}}}})\n"
        ));
    }
    script.push_str("w.to_db_file(sys.argv[1])\n");
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .arg(path)
        .output()
        .context("running python3 (needed to write the test's GeoIP database)")?;
    if !out.status.success() {
        bail!(
            "writing the country database failed (is PyPI's mmdb-writer installed? \
             `python3 -m pip install mmdb-writer`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A client of a running node's API.
#[derive(Debug, Clone)]
pub struct Api {
    /// Base URL.
    pub base: String,
    /// The admin token.
    pub admin: String,
    http: reqwest::Client,
}

impl Api {
    /// A client for a node started with [`start_node`].
    pub fn of(node: &NodeProcess) -> Result<Api> {
        Ok(Api {
            base: node.api.clone(),
            admin: node.admin_token()?,
            http: reqwest::Client::new(),
        })
    }

    /// Calls `path` with a token and extra headers; answers (status, JSON).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("calling the API")?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// Calls and insists on 2xx.
    pub async fn ok(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let (status, value) = self.call(Some(token), method, path, body, &[]).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// The admin creates an operator who logs in, and a channel they operate; answers
    /// (operator token, channel id).
    pub async fn operator_and_channel(&self, login: &str) -> Result<(String, String)> {
        let password = format!("pw-{login}-long-enough");
        let admin = self.admin.clone();
        let user = self
            .ok(
                &admin,
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": login, "login": login, "password": password})),
            )
            .await?;
        let (status, session) = self
            .call(
                None,
                Method::POST,
                "/api/v1/login",
                Some(json!({"login": login, "password": password})),
                &[],
            )
            .await?;
        if status != 200 {
            bail!("login answered {status}: {session}");
        }
        let channel = self
            .ok(
                &admin,
                Method::POST,
                "/api/v1/livechat/channels",
                Some(json!({"name": "Website", "operators": [user["id"]]})),
            )
            .await?;
        Ok((
            session["token"].as_str().context("token")?.to_string(),
            channel["id"].as_str().context("channel id")?.to_string(),
        ))
    }

    /// A visitor opens the chat with these request headers; answers the 201 body.
    pub async fn visit(&self, channel: &str, headers: &[(&str, &str)]) -> Result<Value> {
        let (status, answer) = self
            .call(
                None,
                Method::POST,
                &format!("/api/v1/livechat/{channel}/sessions"),
                Some(json!({"page_url": "https://shop.example/", "visitor_id": null})),
                headers,
            )
            .await?;
        if status != 201 {
            bail!("starting a chat answered {status}: {answer}");
        }
        Ok(answer)
    }
}

/// `ochat directory run ARGS…` as a child process, killed when dropped.
#[derive(Debug)]
pub struct DirectoryProcess {
    child: std::process::Child,
    /// Its base URL, as it printed it (`Directory:   http://…`).
    pub url: String,
}

impl DirectoryProcess {
    /// Starts it and waits (at most `timeout`) for the line that gives its address.
    pub fn start(args: &[&str], timeout: Duration) -> Result<DirectoryProcess> {
        use std::io::BufRead;
        let mut child = Command::new(ochat_bin())
            .args(["directory", "run"])
            .args(args)
            .env_remove("OCHAT_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning ochat directory run")?;
        let stdout = child.stdout.take().context("the directory's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Directory:") {
                        return Ok(DirectoryProcess {
                            child,
                            url: url.trim().to_string(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("ochat directory run printed no address within {timeout:?}");
                }
            }
        }
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
