//! A website's live chat set up through the admin API of a node in its own process: one
//! operator, one channel, visitors with sessions and tokens.

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use serde_json::{Value, json};

/// An admin API client.
#[derive(Debug, Clone)]
pub struct Api {
    /// `http://127.0.0.1:port`
    pub base: String,
    http: reqwest::Client,
}

/// A visitor's session.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Session id.
    pub session: String,
    /// Visitor token.
    pub token: String,
}

/// The shop: operator token and channel id.
#[derive(Debug, Clone)]
pub struct Shop {
    /// The operator's login token.
    pub operator_token: String,
    /// The live chat channel.
    pub channel: String,
}

impl Api {
    /// A client of the API at `base`.
    pub fn new(base: &str) -> Self {
        Api {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// A call that must answer 2xx.
    pub async fn ok(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.context("calling the API")?;
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// The admin creates operator "alice" and a channel she serves; she logs in.
    pub async fn shop(&self, admin: &str) -> Result<Shop> {
        use reqwest::Method;
        let user = self
            .ok(
                Some(admin),
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": "alice", "login": "alice", "password": "pw-alice-bench"})),
            )
            .await?;
        let id = user["id"].as_str().context("user id")?;
        let login = self
            .ok(
                None,
                Method::POST,
                "/api/v1/login",
                Some(json!({"login": "alice", "password": "pw-alice-bench"})),
            )
            .await?;
        let channel = self
            .ok(
                Some(admin),
                Method::POST,
                "/api/v1/livechat/channels",
                Some(json!({"name": "Website", "operators": [id]})),
            )
            .await?;
        Ok(Shop {
            operator_token: login["token"].as_str().context("token")?.to_string(),
            channel: channel["id"].as_str().context("channel id")?.to_string(),
        })
    }

    /// `count` visitors start chats, 32 at a time.
    pub async fn visitors(&self, shop: &Shop, count: usize) -> Result<Vec<Visitor>> {
        let results: Vec<Result<Visitor>> = futures::stream::iter(0..count)
            .map(|i| async move {
                let v = self
                    .ok(
                        None,
                        reqwest::Method::POST,
                        &format!("/api/v1/livechat/{}/sessions", shop.channel),
                        Some(json!({"page_url": format!("/shop/{i}")})),
                    )
                    .await?;
                Ok(Visitor {
                    session: v["session"]["id"]
                        .as_str()
                        .context("session id")?
                        .to_string(),
                    token: v["token"].as_str().context("token")?.to_string(),
                })
            })
            .buffer_unordered(32)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// A visitor posts `text`; answers the message id.
    pub async fn say(&self, v: &Visitor, text: &str) -> Result<String> {
        let m = self
            .ok(
                Some(&v.token),
                reqwest::Method::POST,
                &format!("/api/v1/livechat/sessions/{}/messages", v.session),
                Some(json!({"text": text})),
            )
            .await?;
        Ok(m["id"].as_str().context("message id")?.to_string())
    }

    /// The ids of a session's messages.
    pub async fn transcript_ids(&self, token: &str, session: &str) -> Result<Vec<String>> {
        let t = self
            .ok(
                Some(token),
                reqwest::Method::GET,
                &format!("/api/v1/livechat/sessions/{session}/messages"),
                None,
            )
            .await?;
        Ok(t.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}
