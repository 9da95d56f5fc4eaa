//! `/api/v1/connections…`: the connection handshake and members (users: `api::livechat`).
//!
//! | method | path                                           | action                         |
//! |--------|------------------------------------------------|--------------------------------|
//! | POST   | /api/v1/connections                            | create (Draft); `send: true` also sends |
//! | GET    | /api/v1/connections?direction=&status=         | list                           |
//! | GET    | /api/v1/connections/{id}                       | show                           |
//! | POST   | /api/v1/connections/{id}/seen                  | the admin opened it: no longer `new` |
//! | POST   | /api/v1/connections/{id}/send                  | Send Request                   |
//! | POST   | /api/v1/connections/{id}/sync                  | Sync Status                    |
//! | POST   | /api/v1/connections/{id}/cancel                | Cancel                         |
//! | POST   | /api/v1/connections/{id}/accept  `{contact}`   | Accept                         |
//! | POST   | /api/v1/connections/{id}/reject  `{reason}`    | Reject                         |
//! | POST   | /api/v1/connections/{id}/retry                 | Retry Request                  |
//! | POST   | /api/v1/connections/{id}/edit    `{remote_uuid}` | Edit UUID                    |
//! | DELETE | /api/v1/connections/{id}                       | Delete                         |
//! | PUT/DELETE | /api/v1/connections/{id}/members/{user}    | Manage Members                 |

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ochat_protocol::connection::{Direction, Status};
use serde::Deserialize;
use uuid::Uuid;

use super::ApiError;
use super::auth::Admin;
use super::error::ApiJson;
use crate::federation::actions::ListFilter;
use crate::model::ConnectionView;
use crate::node::NodeShared;

/// Body of `POST /api/v1/connections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateBody {
    /// The other instance's UUID.
    pub remote_uuid: String,
    /// Our name for them.
    pub contact: Option<String>,
    /// A note sent with the request.
    pub message: Option<String>,
    /// Send at once (default false: stays a Draft).
    #[serde(default)]
    pub send: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/connections",
    tag = "federation",
    request_body = CreateBody,
    security(("admin" = [])),
    responses((status = 201, description = "The draft (or, with `send`, pending) connection", body = ConnectionView), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody), (status = 503, description = "unavailable: the network is not answering", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(crate) async fn create(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let fed = &node.federation;
    let view = fed
        .create(&body.remote_uuid, body.contact, body.message, body.send)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Query of `GET /api/v1/connections`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// "incoming" or "outgoing".
    pub direction: Option<String>,
    /// A status name ("Pending", "Not Found", "not_found", …).
    pub status: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "federation",
    params(ListQuery),
    security(("admin" = [])),
    responses((status = 200, description = "Connections, filtered", body = Vec<ConnectionView>))
)]
pub(crate) async fn list(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<ConnectionView>>, ApiError> {
    let direction = match q.direction.as_deref() {
        None | Some("") => None,
        Some("incoming") => Some(Direction::Incoming),
        Some("outgoing") => Some(Direction::Outgoing),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "direction must be incoming or outgoing, not {other}"
            )));
        }
    };
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<Status>()
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
    };
    Ok(Json(
        node.federation.list(&ListFilter { direction, status })?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/connections/{id}",
    tag = "federation",
    params(("id" = String, Path, description = "the connection id")),
    security(("admin" = [])),
    responses((status = 200, description = "The connection", body = ConnectionView))
)]
pub(crate) async fn show(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(ConnectionView::from(&node.federation.find(&id)?)))
}

/// Body of accept.
#[derive(Debug, Deserialize)]
pub struct AcceptBody {
    /// The contact assigned.
    pub contact: String,
}

/// Body of reject.
#[derive(Debug, Deserialize)]
pub struct RejectBody {
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Body of edit.
#[derive(Debug, Deserialize)]
pub struct EditBody {
    /// The corrected remote UUID.
    pub remote_uuid: String,
}

/// `POST /api/v1/connections/{id}/{action}` for actions without a body.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{id}/{action}",
    tag = "federation",
    params(("id" = String, Path, description = "the connection id"), ("action" = crate::api::openapi_shapes::ConnectionAction, Path, description = "send, sync, cancel, retry, accept, reject or edit")),
    request_body(content = Option<crate::api::openapi_shapes::ActionBody>, description = "accept: `contact`; reject: `reason`; edit: `remote_uuid`; other actions: none", content_type = "application/json"),
    security(("admin" = [])),
    responses((status = 200, description = "The connection after the action", body = ConnectionView), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody), (status = 503, description = "unavailable: the network is not answering", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(crate) async fn action(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<serde_json::Value>>,
) -> Result<Json<ConnectionView>, ApiError> {
    let fed = &node.federation;
    let body = body.map(|Json(v)| v).unwrap_or(serde_json::Value::Null);
    let parse = |what: &str| -> Result<serde_json::Value, ApiError> {
        if body.is_null() {
            Err(ApiError::bad_request(format!(
                "this action needs a JSON body with {what}"
            )))
        } else {
            Ok(body.clone())
        }
    };
    let view = match action.as_str() {
        "send" => fed.send(&id).await?,
        "sync" => fed.sync(&id).await?,
        "cancel" => fed.cancel(&id).await?,
        "retry" => fed.retry(&id).await?,
        "seen" => fed.mark_seen(&id).await?,
        "accept" => {
            let b: AcceptBody = serde_json::from_value(parse("\"contact\"")?)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            fed.accept(&id, &b.contact).await?
        }
        "reject" => {
            let b: RejectBody = serde_json::from_value(parse("\"reason\"")?)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            fed.reject(&id, &b.reason).await?
        }
        "edit" => {
            let b: EditBody = serde_json::from_value(parse("\"remote_uuid\"")?)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            fed.edit_uuid(&id, &b.remote_uuid).await?
        }
        other => return Err(ApiError::not_found(format!("no action {other}"))),
    };
    Ok(Json(view))
}

#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}",
    tag = "federation",
    params(("id" = String, Path, description = "the connection id")),
    security(("admin" = [])),
    responses((status = 200, description = "The deleted connection", body = ConnectionView), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
pub(crate) async fn delete(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(node.federation.delete(&id).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/connections/{id}/members/{user}",
    tag = "federation",
    params(("id" = String, Path, description = "the connection id"), ("user" = Uuid, Path, description = "the local user")),
    security(("admin" = [])),
    responses((status = 200, description = "The connection with the user as a member", body = ConnectionView))
)]
pub(crate) async fn add_member(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Path((id, user)): Path<(String, Uuid)>,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(node.federation.set_member(&id, user, true).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/connections/{id}/members/{user}",
    tag = "federation",
    params(("id" = String, Path, description = "the connection id"), ("user" = Uuid, Path, description = "the local user")),
    security(("admin" = [])),
    responses((status = 200, description = "The connection without the user", body = ConnectionView))
)]
pub(crate) async fn remove_member(
    _: Admin,
    State(node): State<Arc<NodeShared>>,
    Path((id, user)): Path<(String, Uuid)>,
) -> Result<Json<ConnectionView>, ApiError> {
    Ok(Json(node.federation.set_member(&id, user, false).await?))
}
