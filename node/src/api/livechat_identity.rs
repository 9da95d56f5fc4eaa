//! The routes of visitors the website knows (`livechat::identity`): each channel's identity
//! secret, which only the admin (the admin token or a live chat administrator) makes, reads,
//! rotates and removes; and a session's visitor history for operators, which links a verified
//! visitor only to their verified sessions. Merged into the router by [`super::router`].
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | /api/v1/livechat/channels/{id}/identity_secret | admin |
//! | POST | /api/v1/livechat/channels/{id}/identity_secret | admin: makes a new secret (rotates) |
//! | DELETE | /api/v1/livechat/channels/{id}/identity_secret | admin: claims stop verifying |
//! | GET | /api/v1/livechat/sessions/{id}/visitor_history | staff who may see the session |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use super::ApiError;
use crate::accounts::Caller;
use crate::livechat::identity::IdentitySecretView;
use crate::livechat::sessions::SessionView;
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(crate) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route(
            "/api/v1/livechat/channels/{id}/identity_secret",
            get(show_secret).post(rotate_secret).delete(remove_secret),
        )
        .route(
            "/api/v1/livechat/sessions/{id}/visitor_history",
            get(visitor_history),
        )
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/identity_secret",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 200, description = "The channel's identity secret (keep it on the website's server)", body = IdentitySecretView),
        (status = 403, description = "forbidden: only the admin reads it", body = crate::api::openapi_shapes::ErrorBody),
        (status = 404, description = "not_found: no such channel, or it has no identity secret", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
pub(crate) async fn show_secret(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<IdentitySecretView>, ApiError> {
    Ok(Json(
        node.livechat.identity_secret(c.administering(&node)?, id)?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/channels/{id}/identity_secret",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 201, description = "A new identity secret; signatures made with the previous one no longer verify", body = IdentitySecretView),
        (status = 403, description = "forbidden: only the admin makes it", body = crate::api::openapi_shapes::ErrorBody),
        (status = 404, description = "not_found: no such channel", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
pub(crate) async fn rotate_secret(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<IdentitySecretView>), ApiError> {
    let view = node
        .livechat
        .rotate_identity_secret(c.administering(&node)?, id)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/channels/{id}/identity_secret",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 204, description = "Removed: identities are no longer verified in this channel"),
        (status = 403, description = "forbidden: only the admin removes it", body = crate::api::openapi_shapes::ErrorBody),
        (status = 404, description = "not_found: no such channel, or it has no identity secret", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
pub(crate) async fn remove_secret(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    node.livechat
        .remove_identity_secret(c.administering(&node)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/sessions/{id}/visitor_history",
    tag = "sessions",
    params(("id" = Uuid, Path, description = "the session id")),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 200, description = "The visitor's other sessions, newest first (at most 50): for a verified visitor only sessions verified for the same id in the same channel; otherwise only unverified or anonymous sessions of the same browser", body = [SessionView]),
        (status = 403, description = "forbidden: not a session the caller may see", body = crate::api::openapi_shapes::ErrorBody),
        (status = 404, description = "not_found: no such session", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
pub(crate) async fn visitor_history(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    Ok(Json(node.livechat.visitor_history(c.who, id)?))
}
