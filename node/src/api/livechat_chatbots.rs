//! Chatbot scripts over HTTP. Saving answers the script with the checker's `warnings` (dead
//! ends, steps that never run, Only If answers pointing forward); the script is saved anyway.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST/GET | /api/v1/livechat/chatbots | admin / staff |
//! | GET/PUT/DELETE | /api/v1/livechat/chatbots/{id} | staff / admin / admin |
//! | POST | /api/v1/livechat/chatbots/{id}/test `{"inputs", "operator_available"}` | staff |
//! | POST | /api/v1/livechat/chatbots/check (a script, not saved) | staff |
//!
//! `check` is the console editor's "as you type": it validates and checks a script that is not
//! saved, answering what saving would answer (answer ids filled in, the warnings) or the
//! validation error, and stores nothing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::ApiError;
use super::error::ApiJson;
use crate::accounts::Caller;
use crate::livechat::chatbot::ChatbotView;
use crate::livechat::chatbot::script::{Script, ScriptInput};
use crate::livechat::chatbot::simulator::{SimInput, SimResult};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/chatbots", post(create).get(list))
        .route(
            "/api/v1/livechat/chatbots/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/livechat/chatbots/{id}/test", post(test))
        .route("/api/v1/livechat/chatbots/check", post(check))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/chatbots",
    tag = "chatbots",
    request_body = ScriptInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The saved script and the checker's warnings", body = ChatbotView))
)]
async fn create(
    State(node): Shared,
    c: Caller,
    ApiJson(b): ApiJson<ScriptInput>,
) -> Result<(StatusCode, Json<ChatbotView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            node.livechat
                .create_chatbot(c.administering(&node)?, b)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/chatbots",
    tag = "chatbots",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Every chatbot", body = Vec<ChatbotView>))
)]
async fn list(State(node): Shared, c: Caller) -> Result<Json<Vec<ChatbotView>>, ApiError> {
    Ok(Json(node.livechat.chatbots(c.administering(&node)?)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/chatbots/{id}",
    tag = "chatbots",
    params(("id" = Uuid, Path, description = "the chatbot id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The chatbot", body = ChatbotView))
)]
async fn show(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ChatbotView>, ApiError> {
    Ok(Json(node.livechat.chatbot(c.administering(&node)?, id)?))
}

#[utoipa::path(
    put,
    path = "/api/v1/livechat/chatbots/{id}",
    tag = "chatbots",
    params(("id" = Uuid, Path, description = "the chatbot id")),
    request_body = ScriptInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The saved script and the checker's warnings", body = ChatbotView))
)]
async fn update(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ScriptInput>,
) -> Result<Json<ChatbotView>, ApiError> {
    Ok(Json(
        node.livechat
            .update_chatbot(c.administering(&node)?, id, b)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/chatbots/{id}",
    tag = "chatbots",
    params(("id" = Uuid, Path, description = "the chatbot id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 204, description = "Deleted"), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn remove(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    node.livechat
        .delete_chatbot(c.administering(&node)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/chatbots/{id}/test",
    tag = "chatbots",
    params(("id" = Uuid, Path, description = "the chatbot id")),
    request_body = SimInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "What the script would say", body = SimResult))
)]
async fn test(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<SimInput>,
) -> Result<Json<SimResult>, ApiError> {
    Ok(Json(node.livechat.test_chatbot(
        c.administering(&node)?,
        id,
        &b,
    )?))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/chatbots/check",
    tag = "chatbots",
    request_body = ScriptInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "What saving this script would answer (nothing is stored): the script with its answer ids filled in, and the checker's warnings", body = ChatbotView), (status = 400, description = "bad_request: the script cannot be run (the message says which step)", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn check(c: Caller, ApiJson(b): ApiJson<ScriptInput>) -> Result<Json<ChatbotView>, ApiError> {
    c.who.staff()?;
    Ok(Json(Script::from_input(Uuid::nil(), b)?.into()))
}
