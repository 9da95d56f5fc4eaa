//! Live chat WebSockets. Both subscribe before the upgrade, so nothing published after the
//! handshake is missed. Events are JSON text frames:
//! `{"type":"new_session","session":…}`, `{"type":"message","session_id":…,"message":…}`,
//! `{"type":"closed","session_id":…}`; a socket that falls behind gets `{"type":"lagged"}`.
//! Clients may also write: a text frame `{"text":…}` (visitor) or
//! `{"session_id":…,"text":…}` (operator) posts a message like the REST route.
//!
//! | path | who |
//! |---|---|
//! | GET /api/v1/livechat/operator/events | an operator (keeps them present while open) |
//! | GET /api/v1/livechat/sessions/{id}/events | the session's visitor, its operators, admin |
//!
//! Both close with 1009 on a client message over 64 KiB and with 1008 once their token is
//! revoked or expires (see [`socket_guard`](super::socket_guard)).

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::ApiError;
use super::socket_guard::{self, SocketAuth};
use crate::accounts::Caller;
use crate::livechat::LiveChat;
use crate::livechat::hub::OpenSocket;
use crate::livechat::presence::SocketPresence;
use crate::node::NodeShared;

/// Read buffer of a live chat socket. tungstenite allocates 128 KiB by default for every
/// socket; events and client frames are small, so 4 KiB keeps 10,000 idle visitors cheap.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes buffered before a write goes out (frames are flushed at once anyway).
const WRITE_BUFFER: usize = 4 * 1024;

fn buffers(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    socket_guard::limited(ws)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
}

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/operator/events", get(operator_events))
        .route("/api/v1/livechat/sessions/{id}/events", get(session_events))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/operator/events",
    tag = "sessions",
    security(("operator" = [])),
    responses((status = 101, description = "WebSocket of live chat events as JSON text frames (see the schema). The client may write `{\"text\"}` (session socket) or `{\"session_id\", \"text\"}` (operators' socket) to post a message (schema `LiveChatSocketInput`). Closes with 1008 once the token is revoked or expires, 1009 on a client message over 64 KiB.", body = crate::api::openapi_shapes::LiveChatEvent), (status = 426, description = "the request is not a WebSocket upgrade", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn operator_events(
    State(node): State<Arc<NodeShared>>,
    c: Caller,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Some(op) = c.who.operator() else {
        return Err(ApiError::forbidden(
            "operator events need an operator's token",
        ));
    };
    let rx = node.livechat.hub().subscribe_operator(op);
    // A console reconnecting by itself (offering `ochat.resume`) is not the operator acting.
    let resumed = super::auth::automatic(&headers);
    let presence = node.livechat.operator_connected(op, !resumed)?;
    let chat = node.livechat.clone();
    let open = chat.hub().socket_opened();
    let auth = SocketAuth::new(&node, &c.token, c.who);
    Ok(buffers(ws)
        .on_upgrade(move |socket| pump(socket, rx, chat, auth, None, Some(presence), open)))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/events",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 101, description = "WebSocket of live chat events as JSON text frames (see the schema). The client may write `{\"text\"}` (session socket) or `{\"session_id\", \"text\"}` (operators' socket) to post a message (schema `LiveChatSocketInput`). Closes with 1008 once the token is revoked or expires, 1009 on a client message over 64 KiB.", body = crate::api::openapi_shapes::LiveChatEvent), (status = 426, description = "the request is not a WebSocket upgrade", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn session_events(
    State(node): State<Arc<NodeShared>>,
    c: Caller,
    Path(id): Path<Uuid>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    node.livechat.session_for(c.who, id)?;
    let rx = node.livechat.hub().subscribe_session(id);
    // A visitor waiting in line keeps their place while a socket of theirs is open.
    let visitor = match c.who {
        crate::accounts::Who::Visitor(_) => Some(node.livechat.visitor_connected(id)?),
        _ => None,
    };
    let chat = node.livechat.clone();
    let open = chat.hub().socket_opened();
    let auth = SocketAuth::new(&node, &c.token, c.who);
    Ok(buffers(ws).on_upgrade(move |socket| async move {
        pump(socket, rx, chat, auth, Some(id), None, open).await;
        drop(visitor);
    }))
}

#[derive(Debug, Deserialize)]
struct Incoming {
    session_id: Option<Uuid>,
    text: String,
    #[serde(default)]
    answer_id: Option<String>,
}

/// Serves one socket; the service handles are dropped before the socket counts as closed,
/// so a node shutting down knows none is left.
async fn pump(
    socket: WebSocket,
    rx: Receiver<Arc<str>>,
    chat: LiveChat,
    auth: SocketAuth,
    session: Option<Uuid>,
    presence: Option<SocketPresence>,
    open: OpenSocket,
) {
    let closing = chat.hub().closing();
    serve(socket, rx, &chat, auth, session, closing).await;
    drop(presence);
    drop(chat);
    drop(open);
}

/// Forwards hub events to the socket and posts what the client writes.
async fn serve(
    mut socket: WebSocket,
    mut rx: Receiver<Arc<str>>,
    chat: &LiveChat,
    mut auth: SocketAuth,
    session: Option<Uuid>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    if *closing.borrow_and_update() {
        return;
    }
    let who = auth.who();
    loop {
        tokio::select! {
            _ = closing.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            () = auth.lost() => {
                socket_guard::close_revoked(&mut socket).await;
                return;
            }
            event = rx.recv() => match event {
                Ok(text) => {
                    if socket.send(Message::Text(text.to_string().into())).await.is_err() {
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
                Some(Ok(Message::Text(text))) => {
                    if let Some(op) = who.operator() {
                        let _ = chat.touch(op);
                    }
                    let answer = match (serde_json::from_str::<Incoming>(text.as_str()), auth.writes_allowed()) {
                        (Err(e), _) => Some(format!("expected {{\"text\": …}}: {e}")),
                        (Ok(_), Err(full)) => Some(full.to_string()),
                        (Ok(m), Ok(())) => match m.session_id.or(session) {
                            Some(id) => chat.post_message(who, id, &m.text, m.answer_id.as_deref()).await.err().map(|e| e.to_string()),
                            None => Some("session_id is required".into()),
                        },
                    };
                    if let Some(error) = answer {
                        let note = serde_json::json!({"type": "error", "message": error}).to_string();
                        if socket.send(Message::Text(note.into())).await.is_err() {
                            return;
                        }
                    }
                }
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
