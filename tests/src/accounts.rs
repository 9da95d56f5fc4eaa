//! Helpers for the account and socket security tests (`tests/tests/accounts_security.rs`):
//! logging in while reading `Retry-After`, raw WebSockets whose close code the test reads, a
//! node run as its own `ochat` process (so its memory is its own), and the resident memory of
//! a process, sampled while something runs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::node::WAIT;
use crate::process::NodeProcess;

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a login answered.
#[derive(Debug, Clone)]
pub struct LoginAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, in seconds, if sent.
    pub retry_after: Option<u64>,
    /// The JSON body.
    pub body: Value,
}

/// `POST /api/v1/login` on `api` (a base URL) with `login` and `password`.
pub async fn login(
    http: &reqwest::Client,
    api: &str,
    login: &str,
    password: &str,
) -> Result<LoginAnswer> {
    let resp = http
        .post(format!("{api}/api/v1/login"))
        .json(&json!({"login": login, "password": password}))
        .timeout(WAIT)
        .send()
        .await
        .context("calling /api/v1/login")?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok(LoginAnswer {
        status,
        retry_after,
        body,
    })
}

/// Opens `ws://…{path}?token=…` on `api` (a base URL).
pub async fn socket(api: &str, path: &str, token: &str) -> Result<Ws> {
    let url = format!(
        "{}{path}?token={token}",
        api.replacen("http://", "ws://", 1)
    );
    let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .context("WebSocket connect timed out")??;
    Ok(stream)
}

/// Opens `ws://…{path}` on `api` with the token in the subprotocol header, as browsers do
/// (`Sec-WebSocket-Protocol: ochat, ochat.token.<token>`); answers the socket and the
/// subprotocol the server chose.
pub async fn socket_by_protocol(
    api: &str,
    path: &str,
    token: &str,
) -> Result<(Ws, Option<String>)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}{path}", api.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("ochat, ochat.token.{token}").parse()?,
    );
    let (stream, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .context("WebSocket connect timed out")??;
    let chosen = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((stream, chosen))
}

/// How a socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The server sent a close frame with this code.
    Closed(u16),
    /// The connection ended without a close frame (or with a read error).
    Dropped,
}

/// Reads (and ignores) events until the server ends the socket; fails if it is still open
/// after `within`.
pub async fn ended_within(ws: &mut Ws, within: Duration) -> Result<Ended> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .with_context(|| format!("the socket was still open after {within:?}"))?;
        match next {
            Some(Ok(Message::Close(frame))) => {
                return Ok(Ended::Closed(
                    frame.map(|f| u16::from(f.code)).unwrap_or(1005),
                ));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Ok(Ended::Dropped),
        }
    }
}

/// The next JSON text event of a socket, failing after [`WAIT`].
pub async fn next_event(ws: &mut Ws) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .context("no event within the wait")?
            .context("socket closed")??;
        if let Message::Text(t) = msg {
            return Ok(serde_json::from_str(t.as_str())?);
        }
    }
}

/// Resident memory (KiB) of a process (`None`: this one), from `/proc/<pid>/status`.
pub fn rss_kib(pid: Option<u32>) -> Result<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

/// Samples a process's resident memory every few milliseconds until dropped or read.
#[derive(Debug)]
pub struct RssPeak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssPeak {
    /// Starts sampling `pid` (`None`: this process).
    pub fn start(pid: Option<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Ok(kib) = rss_kib(pid) {
                    p.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssPeak {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// Stops sampling; answers the highest resident memory seen (KiB).
    pub fn finish(mut self) -> u64 {
        self.halt();
        self.peak.load(Ordering::SeqCst)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A live chat node run as its own `ochat run` process, with a JSON client.
#[derive(Debug)]
pub struct ChatProcess {
    /// The process.
    pub process: NodeProcess,
    /// The admin token.
    pub admin: String,
    /// A client.
    pub http: reqwest::Client,
}

impl ChatProcess {
    /// Starts `ochat run` in `dir`.
    pub fn start(dir: &Path) -> Result<Self> {
        let process = NodeProcess::start(dir, &[], Duration::from_secs(60))?;
        let admin = process.admin_token()?;
        Ok(ChatProcess {
            process,
            admin,
            http: reqwest::Client::new(),
        })
    }

    /// The API base URL.
    pub fn api(&self) -> &str {
        &self.process.api
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Calls the API with `token` (or none) and insists on 2xx.
    pub async fn ok(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api()))
            .timeout(WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("calling the API")?;
        let status = resp.status().as_u16();
        let value = resp.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// The admin creates `login` (password `pw-<login>`) and a channel with them; they log in.
    /// Answers (operator token, channel id).
    pub async fn operator_and_channel(&self, login: &str) -> Result<(String, String)> {
        let admin = self.admin.clone();
        let user = self
            .ok(
                Some(&admin),
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": login, "login": login, "password": format!("pw-{login}")})),
            )
            .await?;
        let answer = self::login(&self.http, self.api(), login, &format!("pw-{login}")).await?;
        let token = answer.body["token"]
            .as_str()
            .with_context(|| format!("login answered {}: {}", answer.status, answer.body))?
            .to_string();
        let channel = self
            .ok(
                Some(&admin),
                Method::POST,
                "/api/v1/livechat/channels",
                Some(json!({"name": "Sales", "operators": [user["id"]]})),
            )
            .await?;
        Ok((
            token,
            channel["id"].as_str().context("channel id")?.to_string(),
        ))
    }

    /// A visitor starts a chat in `channel`; answers (session id, visitor token).
    pub async fn visit(&self, channel: &str) -> Result<(String, String)> {
        let answer = self
            .ok(
                None,
                Method::POST,
                &format!("/api/v1/livechat/{channel}/sessions"),
                Some(json!({"page_url": "/"})),
            )
            .await?;
        Ok((
            answer["session"]["id"]
                .as_str()
                .context("session id")?
                .to_string(),
            answer["token"].as_str().context("token")?.to_string(),
        ))
    }
}
