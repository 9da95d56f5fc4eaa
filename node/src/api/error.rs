//! The API's error type: a status, a stable code and a human message. Internal details are
//! logged, never sent.
//!
//! Every mapping of an error to an HTTP status lives here: the services' errors
//! ([`FederationError`], [`MessagingError`], [`LiveChatError`]) become [`ApiError`]s, and the
//! errors that say how long to wait (a locked login, a busy node, a rate limit) become
//! [`RetryAfter`] answers with a `Retry-After` header. axum's own rejections are rewritten in
//! the same format by `json_rejections`.

use axum::Json;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::accounts::login_guard::LoginError;
use crate::federation::{ErrorKind, FederationError};
use crate::livechat::LiveChatError;
use crate::messaging::MessagingError;

/// An error answered by the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Message for people.
    pub message: String,
}

impl ApiError {
    /// 401: no or wrong token.
    pub fn unauthorized() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "a valid token is required: send `Authorization: Bearer <token>`".into(),
        }
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// 403 with a message: the token is valid but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
        }
    }

    /// 409 with a message.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// 507: the disk is full; nothing was written.
    pub fn insufficient_storage(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INSUFFICIENT_STORAGE,
            code: "insufficient_storage",
            message: message.into(),
        }
    }

    /// 500: the details go to the log, the caller gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error answering an API call");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; see the node's log".into(),
        }
    }
}

impl From<crate::backup::BackupError> for ApiError {
    fn from(e: crate::backup::BackupError) -> Self {
        use crate::backup::BackupError;
        match &e {
            BackupError::Busy => ApiError::conflict(e.to_string()),
            BackupError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                ApiError::insufficient_storage(format!(
                    "not enough disk space in the data folder for a backup: {e}"
                ))
            }
            _ => ApiError::internal(e),
        }
    }
}

impl ApiError {
    /// The error with a `Retry-After` header (seconds), for 429 and 503 answers.
    pub fn with_retry_after(self, secs: u64) -> Response {
        let mut response = self.into_response();
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        (self.status, body).into_response()
    }
}

impl From<FederationError> for ApiError {
    fn from(e: FederationError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => ApiError::not_found(e.to_string()),
            ErrorKind::BadInput => ApiError::bad_request(e.to_string()),
            ErrorKind::Conflict => ApiError::conflict(e.to_string()),
            ErrorKind::Unavailable => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "unavailable",
                message: e.to_string(),
            },
            // Storage and internal failures: logged, answered 500.
            ErrorKind::Internal => ApiError::internal(e),
        }
    }
}

impl From<MessagingError> for ApiError {
    fn from(e: MessagingError) -> Self {
        match e {
            MessagingError::NotFound(m) => ApiError::not_found(m),
            MessagingError::Forbidden(m) => ApiError::forbidden(m),
            MessagingError::BadInput(m) => ApiError::bad_request(m),
            MessagingError::Rekey(m) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "rekeying",
                message: m,
            },
            // Storage and internal failures: logged, answered 500.
            other => ApiError::internal(other),
        }
    }
}

impl From<LiveChatError> for ApiError {
    fn from(e: LiveChatError) -> Self {
        let (status, code) = match &e {
            LiveChatError::BadInput(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            LiveChatError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            LiveChatError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            LiveChatError::Unauthorized => return ApiError::unauthorized(),
            LiveChatError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            LiveChatError::NoOperator => (StatusCode::SERVICE_UNAVAILABLE, "no_operator"),
            LiveChatError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            LiveChatError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            // Storage and internal failures: logged, answered 500.
            _ => return ApiError::internal(e),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

/// An API error that may say how long to wait before trying again (429 and 503): answered
/// with a `Retry-After` header (seconds) when it does.
#[derive(Debug)]
pub struct RetryAfter {
    error: ApiError,
    secs: Option<u64>,
}

impl IntoResponse for RetryAfter {
    fn into_response(self) -> Response {
        match self.secs {
            Some(secs) => self.error.with_retry_after(secs),
            None => self.error.into_response(),
        }
    }
}

impl From<LiveChatError> for RetryAfter {
    /// A rate limit (429) or a busy node (503) says when to come back.
    fn from(e: LiveChatError) -> Self {
        let secs = match &e {
            LiveChatError::RateLimited { retry_after_s, .. }
            | LiveChatError::Busy { retry_after_s } => Some(*retry_after_s),
            _ => None,
        };
        RetryAfter {
            error: ApiError::from(e),
            secs,
        }
    }
}

impl From<LoginError> for RetryAfter {
    /// A refused login: 401 for a wrong login or password, 429 while locked and 503 when too
    /// many password checks are in flight (both with `Retry-After`).
    fn from(e: LoginError) -> Self {
        let message = e.to_string();
        let (status, code, secs) = match e {
            LoginError::Other(inner) => {
                return RetryAfter {
                    error: ApiError::from(inner),
                    secs: None,
                };
            }
            LoginError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            LoginError::Locked { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                Some(retry_after_secs),
            ),
            LoginError::Busy { retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                Some(retry_after_secs),
            ),
        };
        RetryAfter {
            error: ApiError {
                status,
                code,
                message,
            },
            secs,
        }
    }
}

/// axum answers its extractors' rejections (a path segment that is not a UUID, a bad query
/// string, a WebSocket route called without an upgrade, a wrong method) in plain text; under
/// `/api/` they are answered in the API's error format instead, with the same status and text
/// (or the status's name when axum sent none).
pub(crate) async fn json_rejections(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    // Plain text, or no body at all (a wrong method).
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !api || !plain || !response.status().is_client_error() {
        return response;
    }
    let status = response.status();
    let allow = response.headers().get(ALLOW).cloned();
    let text = match to_bytes(response.into_body(), 16 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_string()
    } else {
        text
    };
    let mut answer = ApiError {
        status,
        code,
        message,
    }
    .into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(ALLOW, allow);
    }
    answer
}

/// The answer for routes that do not exist.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// A JSON body whose rejection (bad JSON, wrong content type, missing field) is answered in
/// the API's error format instead of axum's plain text.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    axum::Json<T>:
        axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError {
                status: rejection.status(),
                code: "bad_request",
                message: rejection.body_text(),
            }),
        }
    }
}

impl From<crate::accounts::AccountsError> for ApiError {
    fn from(e: crate::accounts::AccountsError) -> Self {
        use crate::accounts::AccountsError;
        let (status, code) = match &e {
            AccountsError::Store(_) | AccountsError::Internal(_) => return ApiError::internal(e),
            AccountsError::BadInput(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AccountsError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AccountsError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AccountsError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl From<crate::livechat::reports::ReportError> for ApiError {
    fn from(e: crate::livechat::reports::ReportError) -> Self {
        use crate::livechat::reports::ReportError;
        match e {
            ReportError::BadQuery(message) => ApiError::bad_request(message),
            ReportError::Csv(_) => ApiError::internal(e),
        }
    }
}
