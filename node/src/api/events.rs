//! `GET /api/v1/events`: a WebSocket that pushes connection and message events as JSON text
//! frames. The token is checked before the upgrade: the admin sees every event; a local user
//! (operator token) sees the message events of channels whose connection they are a member of.
//! A visitor token is refused. The socket closes with 1008 once its token is revoked or
//! expires, and with 1009 on a client message over 64 KiB (see `socket_guard`).

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::ApiError;
use super::socket_guard::{self, SocketAuth};
use crate::accounts::Caller;
use crate::accounts::Who;
use crate::events::Event;
use crate::messaging::Viewer;
use crate::node::NodeShared;

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "federation",
    security(("admin" = []), ("operator" = [])),
    responses((status = 101, description = "WebSocket of connection and message events as JSON text frames (the admin sees all, an operator the messages of channels they are a member of). Closes with 1008 once the token is revoked or expires, 1009 on a client message over 64 KiB.", body = crate::api::openapi_shapes::FederationEvent), (status = 426, description = "the request is not a WebSocket upgrade", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(crate) async fn events(
    caller: Caller,
    State(node): State<Arc<NodeShared>>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let viewer = match caller.who {
        Who::Admin => Viewer::Admin,
        Who::Operator(id) => Viewer::User(id),
        Who::Visitor(_) => {
            return Err(ApiError::forbidden(
                "a visitor token cannot use organisation channels",
            ));
        }
    };
    let rx = node.federation.events().subscribe();
    let auth = SocketAuth::new(&node, &caller.token, caller.who);
    Ok(socket_guard::limited(ws)
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| forward(socket, rx, Arc::downgrade(&node), viewer, auth)))
}

/// Whether `viewer` may see `event`.
fn visible(node: &NodeShared, viewer: Viewer, event: &Event) -> bool {
    let Viewer::User(_) = viewer else {
        return true;
    };
    let Some(message) = &event.message else {
        return false;
    };
    node.messaging.may_read(message.channel_id, viewer)
}

async fn forward(
    mut socket: WebSocket,
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    // Weak: an open socket must not keep a stopped node (and its database) alive.
    node: std::sync::Weak<NodeShared>,
    viewer: Viewer,
    mut auth: SocketAuth,
) {
    loop {
        tokio::select! {
            () = auth.lost() => {
                socket_guard::close_revoked(&mut socket).await;
                return;
            }
            event = rx.recv() => match event {
                Ok(event) => {
                    let Some(shared) = node.upgrade() else { return };
                    let shown = visible(&shared, viewer, &event);
                    drop(shared);
                    if !shown {
                        continue;
                    }
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
                Some(Err(e)) => {
                    socket_guard::close_after_error(&mut socket, e).await;
                    return;
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
