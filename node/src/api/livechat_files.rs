//! Files in live chat sessions and the transcript by email, over HTTP (see
//! `livechat::files` and `livechat::mail` for the rules).
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | /api/v1/livechat/{channel}/features | anyone (the widget): files allowed? transcript by email? |
//! | GET/PUT | /api/v1/livechat/channels/{id}/files | read: member or admin; change: admin |
//! | GET | /api/v1/livechat/sessions/{id}/files | its visitor, its operators, the channel's operators, admin |
//! | POST | /api/v1/livechat/sessions/{id}/files?name= | its visitor, its operators (raw body; 413 too large, 415 type) |
//! | GET | /api/v1/livechat/sessions/{id}/files/{file} | as the list; always a download (`attachment`, `nosniff`) |
//! | POST | /api/v1/livechat/sessions/{id}/transcript_email | its visitor (503 `smtp_not_configured`, 429) |
//! | GET | /api/v1/livechat/mail_queue | admin: transcript emails not sent yet |
//!
//! Downloads carry `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff` and a
//! `Content-Security-Policy: sandbox` so a browser never renders a file as a page of the
//! node's origin. The upload route has no body limit of its own: the service counts the
//! streamed body against the channel's limit.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ApiError;
use super::error::{ApiJson, RetryAfter};
use crate::accounts::Caller;
use crate::livechat::files::{FileError, FileSettingsInput, Upload};
use crate::livechat::mail::{MailError, TranscriptEmailInput, TranscriptEmailQueued};
use crate::model::livechat::Message;
use crate::model::livechat_files::{FileSettings, MailJob, StoredFile};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/{channel}/features", get(features))
        .route(
            "/api/v1/livechat/channels/{id}/files",
            get(settings).put(set_settings),
        )
        .route(
            "/api/v1/livechat/sessions/{id}/files",
            get(list).post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/livechat/sessions/{id}/files/{file}", get(download))
        .route(
            "/api/v1/livechat/sessions/{id}/transcript_email",
            post(transcript_email),
        )
        .route("/api/v1/livechat/mail_queue", get(mail_queue))
}

/// A file error as the API answers it.
fn file_error(e: FileError) -> Response {
    let message = e.to_string();
    let (status, code) = match e {
        FileError::LiveChat(e) => return RetryAfter::from(e).into_response(),
        FileError::Disabled => (StatusCode::FORBIDDEN, "files_disabled"),
        FileError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        FileError::NotAllowed(..) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "type_not_allowed"),
        FileError::Mismatch(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "type_mismatch"),
        FileError::Body(_) => (StatusCode::BAD_REQUEST, "bad_request"),
    };
    ApiError {
        status,
        code,
        message,
    }
    .into_response()
}

/// A mail error as the API answers it.
fn mail_error(e: MailError) -> Response {
    match e {
        MailError::LiveChat(e) => RetryAfter::from(e).into_response(),
        MailError::NotConfigured => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "smtp_not_configured",
            message: e.to_string(),
        }
        .into_response(),
        MailError::Settings(_) => ApiError::internal(e).into_response(),
    }
}

/// What the widget may offer in a channel.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
struct Features {
    /// Files: whether they are accepted, the size limit, the allowed types.
    files: FileSettings,
    /// Whether the visitor may ask for the transcript by email (SMTP is configured).
    transcript_email: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/{channel}/features",
    tag = "web",
    params(("channel" = Uuid, Path, description = "the live chat channel id")),
    security(()),
    responses((status = 200, description = "What the widget offers: files (switch, limit, types) and the transcript by email", body = Features))
)]
async fn features(
    State(node): Shared,
    Path(channel): Path<Uuid>,
) -> Result<Json<Features>, ApiError> {
    let chat = &node.livechat;
    Ok(Json(Features {
        files: chat.channel(channel)?.files,
        transcript_email: chat.transcript_email_available(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/files",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel's file settings", body = FileSettings))
)]
async fn settings(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<FileSettings>, ApiError> {
    let who = c.administering(&node)?;
    Ok(Json(node.livechat.file_settings(who, id)?))
}

#[utoipa::path(
    put,
    path = "/api/v1/livechat/channels/{id}/files",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    request_body = FileSettingsInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel's new file settings", body = FileSettings))
)]
async fn set_settings(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<FileSettingsInput>,
) -> Result<Json<FileSettings>, ApiError> {
    let who = c.administering(&node)?;
    Ok(Json(node.livechat.set_file_settings(who, id, body).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/files",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The session's files, oldest first", body = Vec<StoredFile>))
)]
async fn list(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<StoredFile>>, ApiError> {
    Ok(Json(node.livechat.session_files(c.who, id)?))
}

/// Query of the upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The file name.
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/files",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id"), UploadQuery),
    request_body(content = Vec<u8>, description = "The file; its Content-Type (or, when absent or application/octet-stream, its name's extension) is the declared type, which its first bytes must show", content_type = "application/octet-stream"),
    security(("operator" = []), ("visitor" = [])),
    responses(
        (status = 201, description = "The message carrying the file", body = Message),
        (status = 413, description = "too_large: over the channel's size limit", body = crate::api::openapi_shapes::ErrorBody),
        (status = 415, description = "type_not_allowed or type_mismatch: the type is not allowed, or the content is not of the declared type", body = crate::api::openapi_shapes::ErrorBody),
    )
)]
async fn upload(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let upload = Upload {
        name: q.name,
        declared: header(CONTENT_TYPE).map(str::to_string),
        length: header(CONTENT_LENGTH).and_then(|l| l.parse().ok()),
    };
    match node
        .livechat
        .upload_file(c.who, id, upload, body.into_data_stream())
        .await
    {
        Ok(m) => (StatusCode::CREATED, Json(m)).into_response(),
        Err(e) => {
            let mut response = file_error(e);
            // The rest of a refused body is not read: close the connection after answering.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/files/{file}",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id"), ("file" = Uuid, Path, description = "the file id")),
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 200, description = "The file, as a download (Content-Disposition: attachment, X-Content-Type-Options: nosniff)", content_type = "application/octet-stream", body = Vec<u8>))
)]
async fn download(
    State(node): Shared,
    c: Caller,
    Path((id, file)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let (record, pieces) = node.livechat.file_download(c.who, id, file)?;
    let ascii: String = record
        .name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "._- ()".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = record
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let stream = futures::stream::iter(pieces.map(|p| {
        p.map(axum::body::Bytes::from)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }));
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    let value = |v: String| HeaderValue::from_str(&v).map_err(ApiError::internal);
    h.insert(CONTENT_TYPE, value(record.mime.clone())?);
    h.insert(CONTENT_LENGTH, value(record.size.to_string())?);
    h.insert(header::CONTENT_DISPOSITION, value(disposition)?);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::HeaderName::from_static("x-content-sha256"),
        value(record.sha256.clone())?,
    );
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/sessions/{id}/transcript_email",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    request_body = TranscriptEmailInput,
    security(("visitor" = [])),
    responses(
        (status = 202, description = "Queued: the node sends it (and retries until the SMTP server takes it)", body = TranscriptEmailQueued),
        (status = 429, description = "rate_limited: asked too often for this session (Retry-After)", body = crate::api::openapi_shapes::ErrorBody),
        (status = 503, description = "smtp_not_configured: this node does not send email", body = crate::api::openapi_shapes::ErrorBody),
    )
)]
async fn transcript_email(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<TranscriptEmailInput>,
) -> Response {
    match node
        .livechat
        .request_transcript_email(c.who, id, body)
        .await
    {
        Ok(q) => (StatusCode::ACCEPTED, Json(q)).into_response(),
        Err(e) => mail_error(e),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/mail_queue",
    tag = "livechat",
    security(("admin" = [])),
    responses((status = 200, description = "Transcript emails not sent yet, oldest first (attempts, next try, last error)", body = Vec<MailJob>))
)]
async fn mail_queue(State(node): Shared, c: Caller) -> Result<Json<Vec<MailJob>>, ApiError> {
    let who = c.administering(&node)?;
    Ok(Json(node.livechat.mail_queue(who)?))
}

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::LiveChat(e) => ApiError::from(e),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}
