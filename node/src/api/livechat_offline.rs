//! The routes of a channel's offline mode and its widget languages: the offline form a
//! visitor sends while the channel is closed or nobody can answer, and the table of widget
//! texts the admin console shows next to a channel's own texts. Merged into the router by
//! [`super::router`]; the service side is `livechat::offline` and `livechat::widget_texts`.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | /api/v1/livechat/{channel}/offline `{"name","email","message","page_url"?}` | anyone (the widget), rate-limited per address |
//! | GET | /api/v1/livechat/widget-texts | admin and operators |

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;
use uuid::Uuid;

use super::ApiError;
use super::error::{ApiJson, RetryAfter};
use super::livechat_sessions::visitor_context;
use crate::accounts::Caller;
use crate::livechat::offline::{OfflineInput, OfflineReceipt};
use crate::livechat::widget_texts::{BUILT_IN, TEXTS};
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/{channel}/offline", post(offline))
        .route("/api/v1/livechat/widget-texts", get(widget_texts))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/{channel}/offline",
    tag = "web",
    params(("channel" = Uuid, Path, description = "the live chat channel id")),
    request_body = OfflineInput,
    security(()),
    responses(
        (status = 201, description = "The message is stored as a ticket or lead (and sent to the webhook)", body = OfflineReceipt),
        (status = 400, description = "bad_request: a missing name or message, an invalid email, a text too long", body = crate::api::openapi_shapes::ErrorBody),
        (status = 409, description = "conflict: the channel has no offline form", body = crate::api::openapi_shapes::ErrorBody),
        (status = 429, description = "rate_limited: too many messages from this address (Retry-After)", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
async fn offline(
    State(node): Shared,
    Path(channel): Path<Uuid>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OfflineInput>,
) -> Result<(StatusCode, Json<OfflineReceipt>), RetryAfter> {
    let chat = &node.livechat;
    let ctx = visitor_context(chat, &headers, connect);
    let receipt = chat.leave_offline_message(channel, body, &ctx).await?;
    Ok((StatusCode::CREATED, Json(receipt)))
}

/// The built-in widget texts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WidgetTextTable {
    /// The languages with built-in texts.
    languages: Vec<String>,
    /// Each key's built-in text by language, in the widget's order.
    texts: Vec<WidgetText>,
}

/// One widget text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WidgetText {
    /// The key (as in a channel's `texts`).
    key: String,
    /// Language → built-in text.
    #[schema(value_type = Object)]
    built_in: BTreeMap<String, String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/widget-texts",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Every widget text key with its built-in texts", body = WidgetTextTable))
)]
async fn widget_texts(c: Caller) -> Result<Json<WidgetTextTable>, ApiError> {
    c.who.staff()?;
    Ok(Json(WidgetTextTable {
        languages: BUILT_IN.iter().map(|l| l.to_string()).collect(),
        texts: TEXTS
            .iter()
            .map(|(key, texts)| WidgetText {
                key: key.to_string(),
                built_in: BUILT_IN
                    .iter()
                    .zip(texts.iter())
                    .map(|(l, t)| (l.to_string(), t.to_string()))
                    .collect(),
            })
            .collect(),
    }))
}
