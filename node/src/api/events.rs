//! `GET /api/v1/events`: a WebSocket that pushes connection events as JSON text frames.
//! The admin token is checked before the upgrade.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::ApiError;
use super::auth::Admin;
use crate::node::NodeShared;

pub(crate) async fn events(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let rx = node.federation.events().subscribe();
    Ok(ws
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| forward(socket, rx)))
}

async fn forward(
    mut socket: WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<crate::events::Event>,
) {
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(event) => {
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let note = format!("{{\"type\":\"lagged\",\"missed\":{n}}}");
                    if socket.send(Message::Text(note.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
