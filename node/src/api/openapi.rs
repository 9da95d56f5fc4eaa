//! The API document: OpenAPI 3.1 generated from the code and served, public, at
//! `GET /api/v1/openapi.json`.
//!
//! Every handler carries a `#[utoipa::path]` annotation (method, path, parameters, body,
//! answers, which tokens it takes) and the request and answer types derive `ToSchema`; this
//! file gathers them into [`ApiDoc`] and adds what every operation shares:
//!
//! - the three kinds of token as security schemes (`admin`, `operator`, `visitor`; all sent as
//!   `Authorization: Bearer <token>`, and on WebSocket upgrades also as the subprotocol
//!   `ochat.token.<token>` or `?token=`);
//! - the error answers every operation can give (`{"error": {"code", "message"}}`), added by
//!   [`CommonErrors`] so that handlers only list the codes particular to them.
//!
//! The answer shapes that handlers build with `json!` (and the WebSocket events) are
//! described by the document-only types of [`super::openapi_shapes`]. The test
//! `tests/tests/api_document.rs` checks that the document and the router list the same
//! routes; Schemathesis checks that the answers match it.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::openapi_shapes::{ConnectionAction, ErrorBody, LiveChatSocketInput};

/// The document's root: every annotated handler and the shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ochat node API",
        description = "The local HTTP API of an ochat node: federation (connections and \
            their end-to-end encrypted channels), accounts, and the website live chat. Errors \
            are `{\"error\": {\"code\", \"message\"}}` with the HTTP status; `code` is one of \
            `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, \
            `method_not_allowed`, `too_large`, `unsupported_media_type`, `too_many_requests`, \
            `rate_limited`, `no_operator`, `busy`, `unavailable`, `internal`. 429 and 503 \
            answers carry `Retry-After` (seconds).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        serve,
        super::metrics::metrics,
        super::instance::get_instance,
        super::backup::take,
        super::network::get_network,
        super::connections::create,
        super::connections::list,
        super::connections::show,
        super::connections::delete,
        super::connections::action,
        super::connections::add_member,
        super::connections::remove_member,
        super::events::events,
        super::channels::list,
        super::channels::history,
        super::channels::send,
        super::channels::upload,
        super::channels::download,
        super::channels::read,
        super::channels::stats,
        super::livechat::login,
        super::livechat::logout,
        super::livechat::create_user,
        super::livechat::list_users,
        super::livechat::me,
        super::livechat::show_user,
        super::livechat::update_user,
        super::livechat::revoke_tokens,
        super::livechat::delete_user,
        super::livechat::create_group,
        super::livechat::list_groups,
        super::livechat::update_group,
        super::livechat::create_channel,
        super::livechat::list_channels,
        super::livechat::show_channel,
        super::livechat::update_channel,
        super::livechat::delete_channel,
        super::livechat::join,
        super::livechat::leave,
        super::livechat::add_rule,
        super::livechat::update_rule,
        super::livechat::delete_rule,
        super::livechat::channel_ratings,
        super::livechat::create_canned,
        super::livechat::list_canned,
        super::livechat::canned_matches,
        super::livechat::delete_canned,
        super::livechat::leads,
        super::livechat::tickets,
        super::livechat::activity,
        super::livechat::languages,
        super::livechat::channel_satisfaction,
        super::livechat::all_satisfaction,
        crate::web::ratings_page::index,
        crate::web::ratings_page::channel,
        super::livechat_sessions::start,
        super::livechat_sessions::list,
        super::livechat_sessions::show,
        super::livechat_sessions::messages,
        super::livechat_sessions::send,
        super::livechat_sessions::visit,
        super::livechat_sessions::history,
        super::livechat_sessions::close,
        super::livechat_sessions::join,
        super::livechat_sessions::rating,
        super::livechat_sessions::rate,
        super::livechat_sessions::visibility,
        super::livechat_sessions::published,
        super::livechat_ws::operator_events,
        super::livechat_ws::session_events,
        super::livechat_chatbots::create,
        super::livechat_chatbots::list,
        super::livechat_chatbots::show,
        super::livechat_chatbots::update,
        super::livechat_chatbots::remove,
        super::livechat_chatbots::test,
        super::livechat_chatbots::check,
        super::livechat_reports::sessions,
        super::livechat_reports::transcript,
        super::livechat_reports::statistics,
        super::livechat_reports::operator_analysis,
        super::livechat_reports::rating_list,
        super::livechat_reports::rating_shares,
        super::livechat_reports::export,
        super::livechat_reports::erase,
        super::livechat_reports::page_html,
        super::livechat_reports::page_js,
        super::livechat_reports::page_css,
        super::livechat_widget::check,
        super::livechat_queue::channel_queue,
        super::livechat_queue::session_place,
        super::livechat_widget::typing,
        super::livechat_widget::snippet,
        super::livechat_offline::offline,
        super::livechat_offline::widget_texts,
        super::livechat_files::features,
        super::livechat_files::settings,
        super::livechat_files::set_settings,
        super::livechat_files::list,
        super::livechat_files::upload,
        super::livechat_files::download,
        super::livechat_files::transcript_email,
        super::livechat_files::mail_queue,
        super::livechat_rule_test::test,
        super::livechat_identity::show_secret,
        super::livechat_identity::rotate_secret,
        super::livechat_identity::remove_secret,
        super::livechat_identity::visitor_history,
        crate::web::assets::support_page,
        crate::web::assets::console_page,
        crate::web::assets::loader,
        crate::web::assets::file,
    ),
    components(schemas(ErrorBody, ConnectionAction, LiveChatSocketInput)),
    modifiers(&Security, &CommonErrors),
    tags(
        (name = "meta", description = "The document itself and monitoring."),
        (name = "federation", description = "This node, its network, and connections to other nodes."),
        (name = "channels", description = "End-to-end encrypted channels of accepted connections."),
        (name = "accounts", description = "Login, operators and groups."),
        (name = "livechat", description = "Live chat channels, rules, canned responses, leads and tickets."),
        (name = "sessions", description = "Live chat sessions: visitors and operators talking."),
        (name = "chatbots", description = "Chatbot scripts."),
        (name = "reports", description = "Live chat reports and a visitor's data."),
        (name = "operations", description = "Backups of the running node."),
        (name = "web", description = "Pages and scripts for people: the widget, the chat page, the console."),
    )
)]
pub struct ApiDoc;

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Adds the three kinds of token.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let schemes = [
            (
                "admin",
                "The admin token: created at `ochat init`, in the data folder's `admin.token` \
                 (mode 0600). Sees everything.",
            ),
            (
                "operator",
                "An operator's token, from `POST /api/v1/login`. Sees the operator's own \
                 channels and sessions; revoked at logout or by the admin. The token of a user \
                 flagged `administrator` also acts as the admin token on the live chat \
                 administration routes (users, groups, channels, rules, canned responses, \
                 chatbots, reports, the widget snippet); only the admin token sets that flag.",
            ),
            (
                "visitor",
                "A visitor's session token, from `POST /api/v1/livechat/{channel}/sessions`. \
                 Sees only that session.",
            ),
        ];
        for (name, what) in schemes {
            let description = format!(
                "{what} Sent as `Authorization: Bearer <token>`; on a WebSocket upgrade a \
                 browser may send it instead as the subprotocol `ochat.token.<token>` (offered \
                 with `ochat`, answered `ochat`) or, for older clients, as `?token=`."
            );
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

/// Adds to every operation the error answers it can give whatever it does: 400 (a bad path
/// segment, query or body), 401 and 403 (when it takes a token), 404 (when its path has
/// parameters or it takes a token), 409 (when it changes something: the object's state may
/// not allow it), 413, 415 and 422 (when it takes a body) and 500.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_params = path.contains('{');
            // Outside /api/ (pages and scripts), axum's own rejections stay plain text.
            let page = !path.starts_with("/api/");
            for (op_mutates, op) in operations(item) {
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(is_empty_requirement));
                let has_body = op.request_body.is_some();
                let mut add = vec![(
                    400,
                    "bad_request: a path segment, query or body is not valid",
                )];
                if !public {
                    add.push((401, "unauthorized: no token, or not a valid one"));
                    add.push((403, "forbidden: the token's holder may not do this"));
                }
                if has_params || !public {
                    add.push((
                        404,
                        "not_found: no such object (or not visible to this token)",
                    ));
                }
                if op_mutates {
                    add.push((
                        409,
                        "conflict: the object is not in a state that allows this",
                    ));
                }
                if has_body {
                    add.push((413, "too_large: the body is over the limit"));
                    add.push((
                        415,
                        "unsupported_media_type: the body is not `application/json`",
                    ));
                    add.push((
                        422,
                        "bad_request: the JSON does not have the expected fields",
                    ));
                }
                add.push((500, "internal: see the node's log (details are never sent)"));
                for (status, description) in add {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(error_response(description, page)));
                }
            }
        }
    }
}

/// An error answer with the API's error body (or, for a page, also plain text).
fn error_response(description: &str, page: bool) -> utoipa::openapi::Response {
    let mut answer = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if page {
        answer = answer.content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String),
                ))
                .build(),
        );
    }
    answer.build()
}

fn is_empty_requirement(r: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

/// The operations of a path, whatever their method, and whether they change something.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (bool, &mut utoipa::openapi::path::Operation)> {
    [
        (false, item.get.as_mut()),
        (true, item.put.as_mut()),
        (true, item.post.as_mut()),
        (true, item.delete.as_mut()),
        (true, item.patch.as_mut()),
        (false, item.head.as_mut()),
        (false, item.options.as_mut()),
    ]
    .into_iter()
    .filter_map(|(mutates, op)| op.map(|op| (mutates, op)))
}

/// The API document (OpenAPI 3.1, JSON). Public: it describes routes, never data.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This document", content_type = "application/json", body = Object))
)]
pub(crate) async fn serve() -> Result<Response, super::ApiError> {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = match TEXT.get() {
        Some(text) => text,
        None => {
            let text = document()
                .to_pretty_json()
                .map_err(super::ApiError::internal)?;
            TEXT.get_or_init(|| text)
        }
    };
    Ok(([(CONTENT_TYPE, "application/json")], text.as_str()).into_response())
}
