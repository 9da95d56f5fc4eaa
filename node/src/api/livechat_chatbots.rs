//! Chatbot scripts over HTTP. Saving answers the script with the checker's `warnings` (dead
//! ends, steps that never run, Only If answers pointing forward); the script is saved anyway.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST/GET | /api/v1/livechat/chatbots | admin / staff |
//! | GET/PUT/DELETE | /api/v1/livechat/chatbots/{id} | staff / admin / admin |
//! | POST | /api/v1/livechat/chatbots/{id}/test `{"inputs", "operator_available"}` | staff |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::ApiError;
use super::error::ApiJson;
use super::livechat::Caller;
use crate::livechat::chatbot::ChatbotView;
use crate::livechat::chatbot::script::ScriptInput;
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
}

async fn create(
    State(node): Shared,
    c: Caller,
    ApiJson(b): ApiJson<ScriptInput>,
) -> Result<(StatusCode, Json<ChatbotView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(node.livechat.create_chatbot(c.who, b).await?),
    ))
}

async fn list(State(node): Shared, c: Caller) -> Result<Json<Vec<ChatbotView>>, ApiError> {
    Ok(Json(node.livechat.chatbots(c.who)?))
}

async fn show(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ChatbotView>, ApiError> {
    Ok(Json(node.livechat.chatbot(c.who, id)?))
}

async fn update(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<ScriptInput>,
) -> Result<Json<ChatbotView>, ApiError> {
    Ok(Json(node.livechat.update_chatbot(c.who, id, b).await?))
}

async fn remove(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    node.livechat.delete_chatbot(c.who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    ApiJson(b): ApiJson<SimInput>,
) -> Result<Json<SimResult>, ApiError> {
    Ok(Json(node.livechat.test_chatbot(c.who, id, &b)?))
}
