//! The local HTTP API (axum): thin handlers that check the token, call a service and map
//! errors to `{"error": {"code", "message"}}`.
//!
//! - [`error`] — [`ApiError`], the one error type every handler returns, and every mapping
//!   of a service error to an HTTP status (with `Retry-After` where the error says when).
//! - [`auth`] — token extractors (admin token for now).
//! - [`instance`] — `GET /api/v1/instance`.
//! - [`backup`] — `POST /api/v1/backup`: a backup of the running node.
//! - [`connections`] — the connection handshake, members and local users.
//! - [`events`] — the `/api/v1/events` WebSocket.
//! - [`network`] — `GET /api/v1/network`: reachability, relays, DHT, each peer's path.
//! - [`channels`] — channel messages, history, attachments, read marks.
//! - [`livechat`] — users, login, live chat channels, sessions, WebSockets, chatbots.
//! - `livechat_identity` — each channel's visitor identity secret and a visitor's history.
//! - `livechat_roles` — live chat administrators: who a caller acts as on admin routes.
//! - `livechat_queue` — a channel's queue of waiting visitors, a visitor's place in it.
//! - `livechat_reports` — live chat reports, a visitor's export and erasure, the charts page.
//! - `livechat_rule_test` — a rule's URL regex tried on a sample URL, for the console's rule form.
//! - `livechat_widget` — the widget's and console's extra routes: the page check, typing, the
//!   embed snippet.
//! - `livechat_offline` — the offline form and the table of widget texts.
//! - `livechat_files` — files in live chat sessions and the transcript by email.
//! - `socket_guard` — every WebSocket's size limits and its token re-checked while open.
//! - [`openapi`] — the API document (`GET /api/v1/openapi.json`), from the handlers'
//!   annotations; `openapi_shapes` — the document-only types it needs.
//! - [`metrics`] — `GET /metrics` (Prometheus) and the HTTP answer counter.

pub mod auth;
pub mod backup;
pub mod channels;
pub mod connections;
pub mod error;
pub mod events;
pub mod instance;
pub mod livechat;
mod livechat_chatbots;
mod livechat_files;
mod livechat_identity;
mod livechat_offline;
mod livechat_queue;
mod livechat_reports;
mod livechat_roles;
mod livechat_rule_test;
pub(crate) mod livechat_sessions;
mod livechat_widget;
mod livechat_ws;
pub mod metrics;
pub mod network;
pub mod openapi;
pub mod openapi_shapes;
pub(crate) mod socket_guard;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use error::ApiError;

use crate::node::NodeShared;

/// Builds the router of the local API.
pub fn router(shared: Arc<NodeShared>) -> Router {
    let http_metrics = Arc::new(metrics::HttpMetrics::new());
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/instance", get(instance::get_instance))
        .route("/api/v1/backup", post(backup::take))
        .route("/api/v1/network", get(network::get_network))
        .route(
            "/api/v1/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/api/v1/connections/{id}",
            get(connections::show).delete(connections::delete),
        )
        .route(
            "/api/v1/connections/{id}/{action}",
            post(connections::action),
        )
        .route(
            "/api/v1/connections/{id}/members/{user}",
            put(connections::add_member).delete(connections::remove_member),
        )
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/channels", get(channels::list))
        .route(
            "/api/v1/channels/{id}/messages",
            get(channels::history).post(channels::send),
        )
        .route(
            "/api/v1/channels/{id}/attachments",
            post(channels::upload).layer(DefaultBodyLimit::max(
                ochat_protocol::message::MAX_ATTACHMENT + 1024,
            )),
        )
        .route(
            "/api/v1/channels/{id}/attachments/{attachment}",
            get(channels::download),
        )
        .route("/api/v1/channels/{id}/read", post(channels::read))
        .route("/api/v1/stats", get(channels::stats))
        .merge(livechat::router())
        .merge(livechat_reports::router())
        .merge(livechat_rule_test::router())
        .merge(livechat_identity::router())
        .merge(livechat_widget::router())
        .merge(livechat_queue::router())
        .merge(livechat_offline::router())
        .merge(livechat_files::router())
        .merge(crate::web::router())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(error::json_rejections))
        .layer(axum::middleware::from_fn_with_state(
            shared.disk.clone(),
            crate::disk_space::refuse_writes_when_full,
        ))
        .layer(crate::web::cors())
        .layer(axum::Extension(http_metrics.clone()))
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            metrics::count_answers,
        ))
        .with_state(shared)
}
