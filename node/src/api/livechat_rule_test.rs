//! `POST /api/v1/livechat/rules/test`: whether a rule's URL regex finds a sample page URL,
//! answered by the same code that saves and applies rules, so the console's rule form can
//! say "matches", "does not match" or the exact reason a save would be refused, as the
//! administrator types (the admin token or an administrator's). Nothing is stored. Used by the
//! console's admin area (`admin_rules.js`).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::api::ApiError;
use crate::api::error::ApiJson;
use crate::livechat::rules::{Action, ChatbotCondition, Rule, matching_rule};
use crate::node::NodeShared;

/// Longest sample URL accepted (browsers' practical limit).
const MAX_URL: usize = 8 * 1024;

pub(crate) fn router() -> Router<Arc<NodeShared>> {
    Router::new().route("/api/v1/livechat/rules/test", post(test))
}

/// A pattern and a page URL to try it on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct RuleTestInput {
    /// The rule's `url_regex` (empty matches every page).
    url_regex: String,
    /// A page URL, e.g. `https://shop.example/cart`.
    url: String,
}

/// Whether the pattern is found in the URL.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RuleTestAnswer {
    /// True when a rule with this pattern would apply to the page (URL-wise).
    matches: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/rules/test",
    tag = "livechat",
    request_body = RuleTestInput,
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 200, description = "Whether the regex is found in the URL", body = RuleTestAnswer),
        (status = 400, description = "bad_request: the regex would be refused by a rule save (the message says why)", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
async fn test(
    State(node): State<Arc<NodeShared>>,
    c: Caller,
    ApiJson(b): ApiJson<RuleTestInput>,
) -> Result<Json<RuleTestAnswer>, ApiError> {
    c.administering(&node)?.admin()?;
    if b.url.len() > MAX_URL {
        return Err(ApiError::bad_request(format!(
            "the sample URL has at most {MAX_URL} bytes"
        )));
    }
    let rule = Rule {
        id: Uuid::nil(),
        sequence: 0,
        action: Action::Show,
        auto_open_after_s: None,
        url_regex: b.url_regex,
        countries: Vec::new(),
        chatbot_id: None,
        chatbot_condition: ChatbotCondition::Always,
    }
    .validated()?;
    let matches = matching_rule(std::slice::from_ref(&rule), &b.url, None, true).is_some();
    Ok(Json(RuleTestAnswer { matches }))
}
