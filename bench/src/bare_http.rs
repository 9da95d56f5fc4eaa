//! The HTTP baselines: bare axum servers on 127.0.0.1 — a WebSocket echo, a POST route relayed
//! to WebSockets, a route that answers fixed JSON from memory, and an idle WebSocket route with
//! chosen buffer sizes.

use std::net::SocketAddr;

use anyhow::Result;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A server running on a spawned task; stops when dropped.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// The address.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on 127.0.0.1 (OS port).
pub async fn serve(router: Router) -> Result<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Server {
        base: format!("http://{addr}"),
        addr,
        task,
    })
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let Message::Text(t) = msg
            && socket.send(Message::Text(t)).await.is_err()
        {
            return;
        }
    }
}

/// `GET /ws`: echoes every text frame.
pub fn echo_router() -> Router {
    Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
    )
}

async fn relay(mut socket: WebSocket, mut said: broadcast::Receiver<Bytes>) {
    loop {
        let text = match said.recv().await {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            // A reader that falls behind is told so, as the node tells its operators.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                format!("{{\"type\":\"lagged\",\"missed\":{n}}}")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}

/// `POST /say` answers 201 with its JSON body and pushes the body to every `GET /ws` socket:
/// the shape of a visitor's message reaching an operator, with nothing stored or checked.
pub fn relay_router() -> Router {
    let (said, _) = broadcast::channel::<Bytes>(1024);
    let to_sockets = said.clone();
    Router::new()
        .route(
            "/say",
            post(move |body: Bytes| {
                let said = said.clone();
                async move {
                    let _ = said.send(body.clone());
                    (
                        StatusCode::CREATED,
                        [(header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        )
        .route(
            "/ws",
            get(move |ws: WebSocketUpgrade| {
                let said = to_sockets.subscribe();
                async move { ws.on_upgrade(move |socket| relay(socket, said)) }
            }),
        )
}

/// `GET /messages`: answers `body` as JSON.
pub fn json_router(body: Bytes) -> Router {
    Router::new().route(
        "/messages",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    )
}

async fn idle(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if matches!(msg, Message::Close(_)) {
            return;
        }
    }
}

/// `GET /ws`: keeps the socket open and reads until it closes, with these buffer sizes.
pub fn idle_router(read_buffer: usize, write_buffer: usize) -> Router {
    Router::new().route(
        "/ws",
        get(move |ws: WebSocketUpgrade| async move {
            let r: Response = ws
                .read_buffer_size(read_buffer)
                .write_buffer_size(write_buffer)
                .on_upgrade(idle);
            r
        }),
    )
}
