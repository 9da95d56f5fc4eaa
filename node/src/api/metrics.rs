//! `GET /metrics`: the figures an operator alerts on, in the Prometheus text format (0.0.4).
//!
//! Needs the admin token, like `/api/v1/stats`: the figures are not secret one by one, but
//! together they tell an outsider how busy the organisation's support is, how many partners it
//! has and whether a peer is down; a Prometheus job sends the token with
//! `authorization: { credentials_file: … }`.
//!
//! Gathered on each scrape (cheap reads: counters, outbox lengths, the in-memory live chat
//! state; the message outbox's oldest entry is found from its keys, whose message ids are
//! UUIDv7 and so carry their time). The HTTP answers are counted by [`count_answers`], a
//! middleware on the whole API router, in an [`HttpMetrics`] shared through an `Extension`.
//!
//! Used by [`super::router`].

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ochat_protocol::connection::Status;

use super::ApiError;
use super::auth::Admin;
use crate::federation::actions::ListFilter;
use crate::model::now_ms;
use crate::node::NodeShared;

/// The Prometheus text format's content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters of the HTTP server, since the router was built (the node's start).
#[derive(Debug)]
pub struct HttpMetrics {
    started: Instant,
    /// Answers by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    answers: [AtomicU64; 5],
}

impl HttpMetrics {
    /// Fresh counters; the uptime starts now.
    pub fn new() -> Self {
        HttpMetrics {
            started: Instant::now(),
            answers: Default::default(),
        }
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: counts every answer of the router by its status class.
pub(crate) async fn count_answers(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let class = usize::from(response.status().as_u16() / 100);
    if let Some(counter) = class.checked_sub(1).and_then(|i| metrics.answers.get(i)) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    response
}

/// Prometheus metrics of this node (text format 0.0.4): uptime, connections by status,
/// outboxes, messages sent and received, live chat sessions, HTTP answers by class, store size.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    security(("admin" = [])),
    responses((status = 200, description = "The metrics, in the Prometheus text format", content_type = "text/plain", body = String))
)]
pub(crate) async fn metrics(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Extension(http): Extension<Arc<HttpMetrics>>,
) -> Result<Response, ApiError> {
    let text = tokio::task::spawn_blocking(move || render(&node, &http))
        .await
        .map_err(ApiError::internal)??;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text).into_response())
}

/// One metric family: its help, type and samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) -> &mut Self {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
        self
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, kind, help).sample(name, "", value);
    }
}

fn render(node: &NodeShared, http: &HttpMetrics) -> Result<String, ApiError> {
    let mut out = String::with_capacity(4096);
    let mut m = Family { out: &mut out };
    m.one(
        "ochat_uptime_seconds",
        "gauge",
        "Seconds since the node started.",
        http.started.elapsed().as_secs(),
    );
    m.head(
        "ochat_build_info",
        "gauge",
        "The running version (always 1).",
    )
    .sample(
        "ochat_build_info",
        &format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
        1,
    );

    let connections = node
        .federation
        .list(&ListFilter {
            direction: None,
            status: None,
        })
        .map_err(ApiError::from)?;
    m.head(
        "ochat_connections",
        "gauge",
        "Connections to other nodes, by status.",
    );
    for status in Status::ALL {
        let name = status.to_string();
        let n = connections.iter().filter(|c| c.status == name).count();
        m.sample("ochat_connections", &format!("status=\"{name}\""), n);
    }

    let (outbox_items, max_attempts) = node.federation.outbox_stats();
    m.one(
        "ochat_handshake_outbox_items",
        "gauge",
        "Handshake steps waiting to be delivered to a peer.",
        outbox_items,
    );
    m.one(
        "ochat_handshake_outbox_max_attempts",
        "gauge",
        "Most delivery attempts of a handshake step still waiting.",
        max_attempts,
    );
    let (queued, oldest_ms) = node.messaging.outbox_stats()?;
    m.one(
        "ochat_message_outbox_items",
        "gauge",
        "Messages (and receipts, file chunks) waiting for the peer's acknowledgement.",
        queued,
    );
    let age = oldest_ms.map_or(0.0, |t| now_ms().saturating_sub(t) as f64 / 1000.0);
    m.one(
        "ochat_message_outbox_oldest_age_seconds",
        "gauge",
        "Age of the oldest message waiting for the peer's acknowledgement (0 when none).",
        age,
    );
    m.one(
        "ochat_messages_sent_total",
        "counter",
        "Messages acknowledged by the peer since the node started.",
        node.messaging.delivered_count(),
    );
    m.one(
        "ochat_messages_received_total",
        "counter",
        "Messages received from peers and stored since the node started.",
        node.messaging.received_count(),
    );
    m.one(
        "ochat_messages_rejected_total",
        "counter",
        "Incoming messages rejected (bad signature, replay, unknown channel) since the database was created.",
        node.messaging.rejected_count(),
    );

    let (open, unwritten) = node
        .livechat
        .open_session_counts()
        .map_err(ApiError::from)?;
    let waiting = node
        .livechat
        .state()
        .map_err(ApiError::from)?
        .open
        .values()
        .filter(|s| s.operators.is_empty())
        .count();
    m.one(
        "ochat_livechat_sessions_open",
        "gauge",
        "Live chat sessions open.",
        open,
    );
    m.one(
        "ochat_livechat_sessions_waiting",
        "gauge",
        "Open live chat sessions with no operator in them (a chatbot, or nobody, answers).",
        waiting,
    );
    m.one(
        "ochat_livechat_sessions_unwritten",
        "gauge",
        "Open live chat sessions in which nobody wrote yet.",
        unwritten,
    );

    m.head(
        "ochat_http_responses_total",
        "counter",
        "HTTP answers of the API since the node started, by status class.",
    );
    for (i, counter) in http.answers.iter().enumerate() {
        let class = format!("class=\"{}xx\"", i + 1);
        m.sample(
            "ochat_http_responses_total",
            &class,
            counter.load(Ordering::Relaxed),
        );
    }
    m.one(
        "ochat_store_size_bytes",
        "gauge",
        "Size of the database on disk.",
        node.store.size_on_disk(),
    );
    m.one(
        "ochat_disk_flushes_total",
        "counter",
        "Grouped database flushes since the node started.",
        node.store.flush_count(),
    );
    Ok(out)
}
