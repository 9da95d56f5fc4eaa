//! The API routes the widget and the console need besides the live chat's own: the page
//! check, typing, and the embed snippet. Merged into the router by [`super::router`]; the pages
//! themselves are in `web`.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | /api/v1/livechat/{channel}/check `{"page_url","visitor_id"?}` | anyone (the widget) |
//! | POST | /api/v1/livechat/sessions/{id}/typing `{"typing": bool}` | its visitor, its operators |
//! | GET | /api/v1/livechat/channels/{id}/widget | admin: the embed snippet and the direct link |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ApiError;
use super::error::ApiJson;
use super::livechat_sessions::visitor_context;
use crate::accounts::Caller;
use crate::livechat::widget::{CheckAnswer, CheckInput};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/{channel}/check", post(check))
        .route("/api/v1/livechat/sessions/{id}/typing", post(typing))
        .route("/api/v1/livechat/channels/{id}/widget", get(snippet))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/{channel}/check",
    tag = "web",
    params(("channel" = Uuid, Path, description = "the live chat channel id")),
    request_body = CheckInput,
    security(()),
    responses((status = 200, description = "Whether and how the widget shows on this page", body = CheckAnswer))
)]
async fn check(
    State(node): Shared,
    Path(channel): Path<Uuid>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckInput>,
) -> Result<Json<CheckAnswer>, ApiError> {
    let chat = &node.livechat;
    let ctx = visitor_context(chat, &headers, connect);
    Ok(Json(chat.check_page(channel, &body, &ctx)?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct TypingBody {
    typing: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/typing",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = TypingBody,
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 204, description = "Sent to the others in the session"), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn typing(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<TypingBody>,
) -> Result<StatusCode, ApiError> {
    node.livechat.typing(c.who, id, b.typing)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a website pastes to get the widget, and the direct chat link.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Snippet {
    snippet: String,
    link: String,
    loader: String,
}

/// The node's address as the caller reached it (`Host`), with `X-Forwarded-Proto` when a
/// proxy says the site is served over https (the server loop keeps that header only from a
/// trusted proxy).
fn base_url(headers: &HeaderMap) -> Result<String, ApiError> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .ok_or_else(|| ApiError::bad_request("the request has no usable Host header"))?;
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/widget",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The embed snippet, the loader URL and the direct chat link", body = Snippet))
)]
async fn snippet(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Json<Snippet>, ApiError> {
    c.administering(&node)?.admin()?;
    let channel = node.livechat.channel(id)?;
    let base = base_url(&headers)?;
    let loader = format!("{base}/livechat/loader/{}.js", channel.id);
    Ok(Json(Snippet {
        snippet: format!("<script src=\"{loader}\" async></script>"),
        link: format!("{base}/livechat/support/{}", channel.id),
        loader,
    }))
}
