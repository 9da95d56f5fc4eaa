//! The live chat queue over HTTP: operators read a channel's line, a visitor reads their own
//! place. The live updates travel on the existing WebSockets (`queue` events, see
//! `livechat::queue_flow`). Merged into the router by [`super::router`].
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | /api/v1/livechat/channels/{id}/queue | the admin, the channel's operators |
//! | GET | /api/v1/livechat/sessions/{id}/queue | its visitor, its channel's operators, admin |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use super::ApiError;
use crate::accounts::Caller;
use crate::livechat::queue::{QueuePlace, QueueView};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/channels/{id}/queue", get(channel_queue))
        .route("/api/v1/livechat/sessions/{id}/queue", get(session_place))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/queue",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The visitors waiting in line, longest waiting first, with the estimate's basis", body = QueueView), (status = 403, description = "forbidden: not an operator of this channel", body = crate::api::openapi_shapes::ErrorBody), (status = 404, description = "not_found: no such channel", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(super) async fn channel_queue(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<QueueView>, ApiError> {
    Ok(Json(node.livechat.queue_view(c.who, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/queue",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The session's place in line (`waiting` with its position and estimated wait, or `served` / `left`)", body = QueuePlace), (status = 404, description = "not_found: no such session, or it never waited in line", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(super) async fn session_place(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<QueuePlace>, ApiError> {
    Ok(Json(node.livechat.queue_place(c.who, id)?))
}
