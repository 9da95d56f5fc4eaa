//! Live chat helpers for integration tests: a node with a [`TestClock`] and a country header,
//! operators who log in, visitors who start chats, and WebSocket clients that wait with a
//! timeout for the event a test expects.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use ochat_node::livechat::TestClock;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::node::{TestNode, WAIT, test_config};

/// The header tests use to tell a visitor's country.
pub const COUNTRY_HEADER: &str = "x-visitor-country";

/// A node with live chat and a clock the test moves.
#[derive(Debug)]
pub struct ChatNode {
    /// The node.
    pub node: TestNode,
    /// Its clock.
    pub clock: Arc<TestClock>,
    http: reqwest::Client,
}

/// An operator: user id and login token.
#[derive(Debug, Clone)]
pub struct Operator {
    /// User id.
    pub id: String,
    /// Login token.
    pub token: String,
}

/// A visitor's chat: session id and session token.
#[derive(Debug, Clone)]
pub struct Visit {
    /// Session id.
    pub session: String,
    /// Session token.
    pub token: String,
    /// The answer to starting the chat.
    pub answer: Value,
}

impl ChatNode {
    /// Starts a node in `dir` with a test clock (and the same clock on restart).
    pub async fn start(dir: &Path, clock: Arc<TestClock>) -> Result<Self> {
        Self::start_with(dir, clock, |_| {}).await
    }

    /// Like [`ChatNode::start`], with a last change to the configuration (e.g. a webhook).
    pub async fn start_with(
        dir: &Path,
        clock: Arc<TestClock>,
        change: impl FnOnce(&mut ochat_node::NodeConfig),
    ) -> Result<Self> {
        let mut config = test_config(dir, "Shop", None);
        config.livechat.country_header = Some(COUNTRY_HEADER.into());
        // The tests play the reverse proxy that tells the visitor's country.
        config.http.trusted_proxies =
            ochat_node::client_addr::TrustedProxies::parse(&["127.0.0.1"]).expect("an address");
        config.livechat.clock = Some(clock.clone());
        change(&mut config);
        Ok(ChatNode {
            node: TestNode::start(config).await?,
            clock,
            http: reqwest::Client::new(),
        })
    }

    /// Calls the API with `token` (or none); answers (status, JSON).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.node.api))
            .timeout(WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("calling the API")?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// Calls with `token` and insists on 2xx.
    pub async fn ok(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let (status, value) = self.call(Some(token), method, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// Calls as the admin and insists on 2xx.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let token = self.node.token.clone();
        self.ok(&token, method, path, body).await
    }

    /// The admin creates a user with a login (password "pw-" + login) and a profile; they log in.
    pub async fn operator(&self, login: &str, profile: Value) -> Result<Operator> {
        let mut body = json!({"name": login, "login": login, "password": format!("pw-{login}")});
        if let (Some(b), Some(p)) = (body.as_object_mut(), profile.as_object()) {
            b.extend(p.clone());
        }
        let user = self
            .admin(Method::POST, "/api/v1/users", Some(body))
            .await?;
        let (status, login) = self
            .call(
                None,
                Method::POST,
                "/api/v1/login",
                Some(json!({"login": login, "password": format!("pw-{login}")})),
            )
            .await?;
        if status != 200 {
            bail!("login answered {status}: {login}");
        }
        Ok(Operator {
            id: user["id"].as_str().context("user id")?.to_string(),
            token: login["token"].as_str().context("token")?.to_string(),
        })
    }

    /// The admin creates a channel with these operators and settings.
    pub async fn channel(
        &self,
        name: &str,
        operators: &[&Operator],
        extra: Value,
    ) -> Result<String> {
        let ids: Vec<&str> = operators.iter().map(|o| o.id.as_str()).collect();
        let mut body = json!({"name": name, "operators": ids});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let c = self
            .admin(Method::POST, "/api/v1/livechat/channels", Some(body))
            .await?;
        Ok(c["id"].as_str().context("channel id")?.to_string())
    }

    /// A visitor opens the chat; answers (status, body) whatever happens.
    pub async fn try_visit(
        &self,
        channel: &str,
        page: &str,
        language: &str,
        country: Option<&str>,
        visitor_id: Option<&str>,
    ) -> Result<(u16, Value)> {
        self.visit_body(
            channel,
            json!({"page_url": page, "visitor_id": visitor_id}),
            language,
            country,
        )
        .await
    }

    /// A visitor opens the chat with a full body (e.g. required `expertise`).
    pub async fn visit_body(
        &self,
        channel: &str,
        body: Value,
        language: &str,
        country: Option<&str>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .http
            .post(format!(
                "{}/api/v1/livechat/{channel}/sessions",
                self.node.api
            ))
            .header("accept-language", language)
            .json(&body)
            .timeout(WAIT);
        if let Some(c) = country {
            req = req.header(COUNTRY_HEADER, c);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// A visitor opens the chat and gets a session.
    pub async fn visit(
        &self,
        channel: &str,
        page: &str,
        language: &str,
        country: Option<&str>,
        visitor_id: Option<&str>,
    ) -> Result<Visit> {
        let (status, answer) = self
            .try_visit(channel, page, language, country, visitor_id)
            .await?;
        if status != 201 {
            bail!("starting a chat answered {status}: {answer}");
        }
        Ok(Visit {
            session: answer["session"]["id"]
                .as_str()
                .context("session id")?
                .to_string(),
            token: answer["token"].as_str().context("token")?.to_string(),
            answer,
        })
    }

    /// The operator id a session was given.
    pub fn operator_of(visit: &Visit) -> String {
        visit.answer["session"]["operators"][0]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Posts a message as `token` into a session.
    pub async fn say(&self, token: &str, session: &str, text: &str) -> Result<Value> {
        self.ok(
            token,
            Method::POST,
            &format!("/api/v1/livechat/sessions/{session}/messages"),
            Some(json!({"text": text})),
        )
        .await
    }

    /// A session's transcript as `token` may read it.
    pub async fn transcript(&self, token: &str, session: &str) -> Result<Vec<Value>> {
        let all = self
            .ok(
                token,
                Method::GET,
                &format!("/api/v1/livechat/sessions/{session}/messages"),
                None,
            )
            .await?;
        all.as_array()
            .cloned()
            .context("a transcript is a JSON array")
    }

    /// Opens a WebSocket on `path` with `token`.
    pub async fn socket(&self, path: &str, token: &str) -> Result<Socket> {
        let url = format!(
            "{}{path}?token={token}",
            self.node.api.replacen("http://", "ws://", 1)
        );
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .context("WebSocket connect timed out")??;
        Ok(Socket { stream })
    }
}

/// A WebSocket client that reads JSON events.
#[derive(Debug)]
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// The next JSON event, failing after [`WAIT`].
    pub async fn next(&mut self) -> Result<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .context("no event within the wait")?
                .context("socket closed")??;
            if let Message::Text(t) = msg {
                return Ok(serde_json::from_str(t.as_str())?);
            }
        }
    }

    /// Skips events until one satisfies `pred`, failing after [`WAIT`].
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if tokio::time::Instant::now() > deadline {
                bail!("the expected event did not come within {WAIT:?}");
            }
            let v = self.next().await?;
            if pred(&v) {
                return Ok(v);
            }
        }
    }

    /// Sends a JSON text frame.
    pub async fn send(&mut self, value: Value) -> Result<()> {
        self.stream
            .send(Message::Text(value.to_string().into()))
            .await?;
        Ok(())
    }

    /// Closes the socket.
    pub async fn close(mut self) -> Result<()> {
        self.stream.close(None).await?;
        Ok(())
    }
}
