//! Live chat sessions over HTTP: a visitor starts a chat (no token needed: the answer carries
//! the session token), then the visitor and the operators read and write with their tokens.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | /api/v1/livechat/{channel}/sessions | anyone (the widget); 429 + `Retry-After` past the per-address or per-visitor-id limit, 503 `busy` when memory for sessions is full |
//! | GET | /api/v1/livechat/sessions?status=open\|closed&channel= | staff |
//! | GET | /api/v1/livechat/sessions/{id} | its visitor, its operators, admin |
//! | GET/POST | /api/v1/livechat/sessions/{id}/messages | same; posting: visitor, operators |
//! | POST | /api/v1/livechat/sessions/{id}/pages | its visitor |
//! | GET | /api/v1/livechat/sessions/{id}/history | its operators, admin |
//! | POST | /api/v1/livechat/sessions/{id}/join | an operator of its channel |
//! | POST | /api/v1/livechat/sessions/{id}/close | its visitor (leaving), operators, admin |
//! | GET/POST | /api/v1/livechat/sessions/{id}/rating | read: same as session; rate: visitor |
//! | PUT | /api/v1/livechat/sessions/{id}/rating/visibility | admin |
//! | GET | /api/v1/livechat/public/channels/{id}/ratings | anyone, when published |

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiError;
use super::error::RetryAfter;
use crate::accounts::Caller;
use crate::livechat::messages::Message;
use crate::livechat::ratings::{PublicRating, Rating, RatingInput};
use crate::livechat::sessions::{SessionView, StartContext, StartInput, language_from_header};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/{channel}/sessions", post(start))
        .route("/api/v1/livechat/sessions", get(list))
        .route("/api/v1/livechat/sessions/{id}", get(show))
        .route(
            "/api/v1/livechat/sessions/{id}/messages",
            get(messages).post(send),
        )
        .route("/api/v1/livechat/sessions/{id}/pages", post(visit))
        .route("/api/v1/livechat/sessions/{id}/history", get(history))
        .route("/api/v1/livechat/sessions/{id}/close", post(close))
        .route("/api/v1/livechat/sessions/{id}/join", post(join))
        .route(
            "/api/v1/livechat/sessions/{id}/rating",
            get(rating).post(rate),
        )
        .route(
            "/api/v1/livechat/sessions/{id}/rating/visibility",
            put(visibility),
        )
        .route(
            "/api/v1/livechat/public/channels/{id}/ratings",
            get(published),
        )
}

/// The visitor's address. The server loop ([`crate::http_server`]) already put the client in
/// `ConnectInfo`: the peer, or what a trusted proxy forwarded; `X-Forwarded-For` is not read
/// here, as anyone can send it.
pub(crate) fn client_ip(peer: Option<SocketAddr>) -> Option<IpAddr> {
    peer.map(|p| p.ip())
}

/// What the request tells about the visitor: the browser's language, and the country from the
/// configured proxy header (which the server loop removed unless a trusted proxy sent it) or
/// GeoIP of their address.
pub(crate) fn visitor_context(
    chat: &crate::livechat::LiveChat,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> StartContext {
    let language = headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(language_from_header);
    let header_value = chat
        .country_header()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok());
    let ip = client_ip(peer.map(|Extension(ConnectInfo(addr))| addr));
    StartContext {
        language,
        country: chat.country(header_value, ip),
        address: ip,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/{channel}/sessions",
    tag = "sessions",
    params(("channel" = Uuid, Path, description = "the live chat channel id")),
    request_body = StartInput,
    security(()),
    responses((status = 201, description = "A conversation was opened: the answer carries the visitor's session token", body = crate::livechat::sessions::StartAnswer), (status = 200, description = "No conversation (no operator or chatbot, or a rule hides the chat)", body = crate::livechat::sessions::StartAnswer), (status = 409, description = "conflict: the channel is outside its business hours", body = crate::api::openapi_shapes::ErrorBody), (status = 429, description = "rate_limited: too many sessions from this address or visitor id (Retry-After)", body = crate::api::openapi_shapes::ErrorBody), (status = 503, description = "busy or no_operator (Retry-After when busy)", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn start(
    State(node): Shared,
    Path(channel): Path<Uuid>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<StartInput>,
) -> Result<Response, ApiError> {
    let chat = &node.livechat;
    let ctx = visitor_context(chat, &headers, connect);
    let answer = match chat.start_session(channel, body, ctx).await {
        Ok(answer) => answer,
        Err(e) => return Ok(RetryAfter::from(e).into_response()),
    };
    let status = if answer.available {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    status: Option<String>,
    channel: Option<Uuid>,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions",
    tag = "sessions",
    params(ListQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Sessions this token sees", body = Vec<SessionView>))
)]
async fn list(
    State(node): Shared,
    c: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let open = match q.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "status is open, closed or all, not {other}"
            )));
        }
    };
    Ok(Json(node.livechat.sessions(c.who, open, q.channel)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The session", body = SessionView))
)]
async fn show(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(SessionView::from(
        &node.livechat.session_for(c.who, id)?,
    )))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/messages",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The transcript this token may see, oldest first", body = Vec<Message>))
)]
async fn messages(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let json = node.livechat.transcript_json(c.who, id)?;
    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = SessionSendBody)]
struct SendBody {
    text: String,
    /// The chatbot answer the visitor clicked, if any.
    #[serde(default)]
    answer_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/messages",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = SendBody,
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 201, description = "The message", body = Message), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody), (status = 429, description = "rate_limited: too many messages (Retry-After)", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn send(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<SendBody>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            node.livechat
                .post_message(c.who, id, &b.text, b.answer_id.as_deref())
                .await?,
        ),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct PageBody {
    url: String,
    /// When the visitor opened it (ms since the Unix epoch; now when absent). Pages older
    /// than a day are not kept.
    #[serde(default)]
    at_ms: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/pages",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = PageBody,
    security(("visitor" = [])),
    responses((status = 200, description = "The pages visited so far", body = crate::api::openapi_shapes::Pages))
)]
async fn visit(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<PageBody>,
) -> Result<Json<Value>, ApiError> {
    let pages = node.livechat.visit_page(c.who, id, &b.url, b.at_ms)?;
    Ok(Json(json!({"pages": pages})))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/history",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The pages the visitor went through in the last day (at most 15, oldest first)", body = crate::api::openapi_shapes::Pages))
)]
async fn history(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    c.who.staff()?;
    let s = node.livechat.session_for(c.who, id)?;
    let pages = crate::livechat::page_history::recent_pages(&s, node.livechat.now_ms());
    Ok(Json(json!({"pages": pages})))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/join",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("operator" = [])),
    responses((status = 200, description = "The session, joined", body = SessionView), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn join(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(node.livechat.join_session(c.who, id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/close",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The session, closed", body = SessionView), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn close(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(node.livechat.close_session(c.who, id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/rating",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The rating, or null", body = Option<Rating>))
)]
async fn rating(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Option<Rating>>, ApiError> {
    Ok(Json(node.livechat.rating(c.who, id)?))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/rating",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = RatingInput,
    security(("visitor" = [])),
    responses((status = 200, description = "The rating (a second one replaces the first)", body = Rating), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn rate(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<RatingInput>,
) -> Result<Json<Rating>, ApiError> {
    Ok(Json(node.livechat.rate(c.who, id, b).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct VisibilityBody {
    internal_only: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/livechat/sessions/{id}/rating/visibility",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = VisibilityBody,
    security(("admin" = [])),
    responses((status = 200, description = "The rating", body = Rating))
)]
async fn visibility(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<VisibilityBody>,
) -> Result<Json<Rating>, ApiError> {
    Ok(Json(
        node.livechat
            .set_rating_internal(c.who, id, b.internal_only)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/public/channels/{id}/ratings",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(()),
    responses((status = 200, description = "The published channel's public ratings", body = Vec<PublicRating>))
)]
async fn published(
    State(node): Shared,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<PublicRating>>, ApiError> {
    Ok(Json(node.livechat.published_ratings(id)?))
}
