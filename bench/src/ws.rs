//! A small WebSocket client for the node's event streams: connects with a bearer token (header
//! or `?token=`), reads JSON text frames with a timeout.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a bench waits for any one event before it fails.
pub const EVENT_WAIT: Duration = Duration::from_secs(30);

/// An open socket.
#[derive(Debug)]
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Opens `ws://…{path}` of the API at `api` (`http://host:port`) with a bearer header.
    pub async fn bearer(api: &str, path: &str, token: &str) -> Result<Self> {
        let url = format!("{}{path}", api.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let (stream, _) =
            tokio::time::timeout(EVENT_WAIT, tokio_tungstenite::connect_async(request))
                .await
                .context("WebSocket connect timed out")??;
        Ok(Socket { stream })
    }

    /// Opens `ws://…{path}?token=…`.
    pub async fn query(api: &str, path: &str, token: &str) -> Result<Self> {
        let url = format!(
            "{}{path}?token={token}",
            api.replacen("http://", "ws://", 1)
        );
        let (stream, _) = tokio::time::timeout(EVENT_WAIT, tokio_tungstenite::connect_async(url))
            .await
            .context("WebSocket connect timed out")??;
        Ok(Socket { stream })
    }

    /// The next JSON text frame, failing after [`EVENT_WAIT`].
    pub async fn next(&mut self) -> Result<Value> {
        loop {
            let msg = tokio::time::timeout(EVENT_WAIT, self.stream.next())
                .await
                .context("no event within the wait")?
                .context("socket closed")??;
            if let Message::Text(t) = msg {
                return Ok(serde_json::from_str(t.as_str())?);
            }
        }
    }

    /// Skips events until one satisfies `pred`.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        loop {
            let v = self.next().await?;
            if pred(&v) {
                return Ok(v);
            }
        }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: String) -> Result<()> {
        self.stream.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// The next text frame as a string.
    pub async fn next_text(&mut self) -> Result<String> {
        loop {
            let msg = tokio::time::timeout(EVENT_WAIT, self.stream.next())
                .await
                .context("no frame within the wait")?
                .context("socket closed")??;
            if let Message::Text(t) = msg {
                return Ok(t.as_str().to_string());
            }
        }
    }
}
