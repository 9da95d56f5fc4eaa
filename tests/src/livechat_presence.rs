//! An operator's console as it behaves after its connection dropped (a node restart): it
//! reconnects its events socket offering the `ochat.resume` subprotocol and catches up with
//! requests marked `x-ochat-background`, neither of which is the operator acting. Used by
//! `tests/tests/livechat_presence_restart.rs`.

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::livechat::ChatNode;
use crate::node::WAIT;

/// The console's events socket, reconnected by the page itself.
pub async fn resumed_console(
    node: &ChatNode,
    token: &str,
) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>> {
    let url = format!(
        "{}/api/v1/livechat/operator/events",
        node.node.api.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("ochat, ochat.token.{token}, ochat.resume"))?,
    );
    let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .context("WebSocket connect timed out")??;
    Ok(stream)
}

/// A GET the console makes by itself while catching up (`x-ochat-background: 1`).
pub async fn background_get(node: &ChatNode, token: &str, path: &str) -> Result<Value> {
    let resp = reqwest::Client::new()
        .request(Method::GET, format!("{}{path}", node.node.api))
        .bearer_auth(token)
        .header("x-ochat-background", "1")
        .timeout(WAIT)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("{path} answered {}", resp.status());
    }
    Ok(resp.json().await?)
}
