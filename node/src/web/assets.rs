//! The embedded web files (`include_str!` of `web/assets/*`) and the handlers that answer
//! them. The loader is the widget script itself: it finds the node and the channel from its
//! own `src`, so one cached file serves every channel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::api::ApiError;
use crate::node::NodeShared;

const WIDGET_JS: &str = include_str!("assets/widget.js");
const WIDGET_CSS: &str = include_str!("assets/widget.css");
const SUPPORT_HTML: &str = include_str!("assets/support.html");
const CONSOLE_HTML: &str = include_str!("assets/console.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const API_CLIENT_JS: &str = include_str!("assets/api_client.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const RATINGS_CSS: &str = include_str!("assets/ratings.css");
const ADMIN_JS: &str = include_str!("assets/admin.js");
const ADMIN_PEOPLE_JS: &str = include_str!("assets/admin_people.js");
const ADMIN_CHANNELS_JS: &str = include_str!("assets/admin_channels.js");
const ADMIN_CHANNEL_OFFLINE_JS: &str = include_str!("assets/admin_channel_offline.js");
const ADMIN_CHANNEL_FILES_JS: &str = include_str!("assets/admin_channel_files.js");
const ADMIN_RULES_JS: &str = include_str!("assets/admin_rules.js");
const ADMIN_CSS: &str = include_str!("assets/admin.css");
const ADMIN_BOTS_JS: &str = include_str!("assets/admin_bots.js");
const ADMIN_BOTS_CSS: &str = include_str!("assets/admin_bots.css");
const ADMIN_CHATBOTS_JS: &str = include_str!("assets/admin_chatbots.js");
const ADMIN_FEDERATION_JS: &str = include_str!("assets/admin_federation.js");
const CONSOLE_QUEUE_JS: &str = include_str!("assets/console_queue.js");
const CONSOLE_ALERTS_JS: &str = include_str!("assets/console_alerts.js");
const ADMIN_IDENTITY_JS: &str = include_str!("assets/admin_identity.js");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

fn answer(kind: &'static str, body: String) -> Response {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /livechat/loader/{channel}.js`: the widget, for an existing channel.
#[utoipa::path(
    get,
    path = "/livechat/loader/{file}",
    tag = "web",
    params(("file" = String, Path, description = "`<channel id>.js`")),
    security(()),
    responses((status = 200, description = "The widget script for the channel", content_type = "text/javascript", body = String))
)]
pub(super) async fn loader(
    State(node): State<Arc<NodeShared>>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let channel = file
        .strip_suffix(".js")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| ApiError::not_found("the loader is /livechat/loader/{channel id}.js"))?;
    node.livechat.channel(channel)?;
    Ok(answer(JS, WIDGET_JS.to_string()))
}

/// `GET /livechat/support/{channel}`: the direct chat link, a page that is only the chat.
#[utoipa::path(
    get,
    path = "/livechat/support/{channel}",
    tag = "web",
    params(("channel" = Uuid, Path, description = "the live chat channel id")),
    security(()),
    responses((status = 200, description = "The direct chat page", content_type = "text/html", body = String))
)]
pub(super) async fn support_page(
    State(node): State<Arc<NodeShared>>,
    Path(channel): Path<Uuid>,
) -> Result<Response, ApiError> {
    let channel = node.livechat.channel(channel)?;
    // The id is a parsed UUID and the name is never put in the HTML (the script sets it
    // as text), so nothing user-written reaches the markup.
    let page = SUPPORT_HTML.replace("{{CHANNEL}}", &channel.id.to_string());
    Ok(answer(HTML, page))
}

/// `GET /console`: the operator console.
#[utoipa::path(
    get,
    path = "/console",
    tag = "web",
    security(()),
    responses((status = 200, description = "The operator console", content_type = "text/html", body = String))
)]
pub(super) async fn console_page() -> Response {
    answer(HTML, CONSOLE_HTML.to_string())
}

/// `GET /web/{file}`: the pages' scripts and styles.
#[utoipa::path(
    get,
    path = "/web/{file}",
    tag = "web",
    params(("file" = String, Path, description = "`widget.js`, `widget.css`, `console.js`, `console_queue.js`, `console_alerts.js`, `api_client.js`, `console.css`, `ratings.css`, or the admin sections' `admin.js`, `admin_*.js`, `admin.css`, `admin_bots.css`")),
    security(()),
    responses((status = 200, description = "A script or style of the pages", content((String = "text/javascript"), (String = "text/css"))))
)]
pub(super) async fn file(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (kind, body) = match file.as_str() {
        "widget.js" => (JS, WIDGET_JS),
        "widget.css" => (CSS, WIDGET_CSS),
        "console.js" => (JS, CONSOLE_JS),
        "api_client.js" => (JS, API_CLIENT_JS),
        "console.css" => (CSS, CONSOLE_CSS),
        "ratings.css" => (CSS, RATINGS_CSS),
        "admin.js" => (JS, ADMIN_JS),
        "admin_people.js" => (JS, ADMIN_PEOPLE_JS),
        "admin_channels.js" => (JS, ADMIN_CHANNELS_JS),
        "admin_channel_offline.js" => (JS, ADMIN_CHANNEL_OFFLINE_JS),
        "admin_channel_files.js" => (JS, ADMIN_CHANNEL_FILES_JS),
        "admin_rules.js" => (JS, ADMIN_RULES_JS),
        "admin.css" => (CSS, ADMIN_CSS),
        "admin_bots.js" => (JS, ADMIN_BOTS_JS),
        "admin_bots.css" => (CSS, ADMIN_BOTS_CSS),
        "admin_chatbots.js" => (JS, ADMIN_CHATBOTS_JS),
        "admin_federation.js" => (JS, ADMIN_FEDERATION_JS),
        "console_queue.js" => (JS, CONSOLE_QUEUE_JS),
        "console_alerts.js" => (JS, CONSOLE_ALERTS_JS),
        "admin_identity.js" => (JS, ADMIN_IDENTITY_JS),
        _ => return Err(ApiError::not_found(format!("no web file {file}"))),
    };
    Ok(answer(kind, body.to_string()))
}
