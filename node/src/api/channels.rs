//! `/api/v1/channels…`: the end-to-end encrypted channels of accepted connections.
//!
//! | method | path                                               | what                          |
//! |--------|----------------------------------------------------|-------------------------------|
//! | GET    | /api/v1/channels                                   | channels with unread counts   |
//! | GET    | /api/v1/channels/{id}/messages?before=&limit=      | history, newest first         |
//! | POST   | /api/v1/channels/{id}/messages `{text}`            | send (answers once durable)   |
//! | POST   | /api/v1/channels/{id}/attachments?name=  (raw body, Content-Type = MIME) | send a file (≤ 25 MiB) |
//! | GET    | /api/v1/channels/{id}/attachments/{attachment}     | download                      |
//! | POST   | /api/v1/channels/{id}/read `{up_to?}`              | mark read, send a receipt     |
//! | GET    | /api/v1/stats                                      | counters (rejected messages)  |

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::ApiError;
use super::auth::Admin;
use super::error::ApiJson;
use crate::messaging::Viewer;
use crate::messaging::history::{ChannelView, HistoryPage};
use crate::model::MessageView;
use crate::node::NodeShared;

/// The caller of a channel route: the admin, or a local user (operator token) who must be a
/// member of the connection. Visitor tokens are refused.
#[derive(Debug)]
pub struct Member {
    viewer: Viewer,
}

impl axum::extract::FromRequestParts<Arc<NodeShared>> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        node: &Arc<NodeShared>,
    ) -> Result<Self, ApiError> {
        let caller = crate::accounts::Caller::from_request_parts(parts, node).await?;
        match caller.who {
            crate::accounts::Who::Admin => Ok(Member {
                viewer: Viewer::Admin,
            }),
            crate::accounts::Who::Operator(id) => Ok(Member {
                viewer: Viewer::User(id),
            }),
            crate::accounts::Who::Visitor(_) => Err(ApiError::forbidden(
                "a visitor token cannot use organisation channels",
            )),
        }
    }
}

impl Member {
    /// Who is asking.
    pub fn viewer(&self) -> Viewer {
        self.viewer
    }

    /// The display name messages are signed with: the user's name, or the instance's.
    fn author(&self, node: &NodeShared) -> String {
        match self.viewer {
            Viewer::Admin => node.instance.name.clone(),
            Viewer::User(id) => node
                .accounts
                .user_name(id)
                .unwrap_or_else(|| node.instance.name.clone()),
        }
    }
}

fn channel_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_request(format!("'{raw}' is not a channel id")))
}

#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Channels with unread counts", body = Vec<ChannelView>))
)]
pub(crate) async fn list(
    member: Member,
    State(node): State<Arc<NodeShared>>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(node.messaging.channels(member.viewer)?))
}

/// Query of the history route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages older than this id.
    pub before: Option<Uuid>,
    /// Page size (default 50, at most 500).
    pub limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v1/channels/{id}/messages",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id (a UUID)"), HistoryQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "A page of history, newest first", body = HistoryPage))
)]
pub(crate) async fn history(
    member: Member,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let id = channel_id(&id)?;
    Ok(Json(node.messaging.history(
        id,
        member.viewer,
        q.before,
        q.limit.unwrap_or(50),
    )?))
}

/// Body of a text message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SendBody {
    /// The text.
    pub text: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/messages",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id (a UUID)")),
    request_body = SendBody,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The message, once stored and queued", body = MessageView))
)]
pub(crate) async fn send(
    member: Member,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let id = channel_id(&id)?;
    let author = member.author(&node);
    let view = node
        .messaging
        .send_text(id, member.viewer, &author, &body.text)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Query of the attachment upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name.
    pub name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/attachments",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id (a UUID)"), UploadQuery),
    request_body(content = Vec<u8>, description = "The file (at most 25 MiB); its Content-Type is kept as the MIME type", content_type = "application/octet-stream"),
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The attachment message", body = MessageView))
)]
pub(crate) async fn upload(
    member: Member,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let id = channel_id(&id)?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let author = member.author(&node);
    let view = node
        .messaging
        .send_attachment(id, member.viewer, &author, &q.name, &mime, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/api/v1/channels/{id}/attachments/{attachment}",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id (a UUID)"), ("attachment" = Uuid, Path, description = "the attachment id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The file, with Content-Disposition and X-Content-Sha256", content_type = "application/octet-stream", body = Vec<u8>))
)]
pub(crate) async fn download(
    member: Member,
    State(node): State<Arc<NodeShared>>,
    Path((id, attachment)): Path<(String, Uuid)>,
) -> Result<Response, ApiError> {
    let id = channel_id(&id)?;
    let (meta, data) = node.messaging.attachment(id, member.viewer, attachment)?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.name.replace(['"', '\\', '\r', '\n'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, meta.mime.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-content-sha256"),
                meta.sha256.clone(),
            ),
        ],
        data,
    )
        .into_response())
}

/// Body of the read route.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct ReadBody {
    /// Mark read up to this message (default: all).
    pub up_to: Option<Uuid>,
}

#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/read",
    tag = "channels",
    params(("id" = String, Path, description = "the channel id (a UUID)")),
    request_body(content = Option<ReadBody>, description = "Optional: mark read up to this message (default: all)", content_type = "application/json"),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "How many messages were marked read", body = crate::api::openapi_shapes::MarkedRead))
)]
pub(crate) async fn read(
    member: Member,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = channel_id(&id)?;
    let up_to = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<ReadBody>(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
            .up_to
    };
    let marked = node.messaging.mark_read(id, member.viewer, up_to).await?;
    Ok(Json(json!({"marked_read": marked})))
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "meta",
    security(("admin" = [])),
    responses((status = 200, description = "Counters", body = crate::api::openapi_shapes::Stats))
)]
pub(crate) async fn stats(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
) -> Json<serde_json::Value> {
    let (open, unwritten) = node.livechat.open_session_counts().unwrap_or_default();
    Json(json!({
        "rejected_messages": node.messaging.rejected_count(),
        "disk_flushes": node.store.flush_count(),
        "livechat_open_sessions": open,
        "livechat_unwritten_sessions": unwritten,
    }))
}
