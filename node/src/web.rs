//! # The web: what people see
//!
//! Everything is served by the node itself, embedded in the binary (plain HTML, CSS and
//! JavaScript, no build step):
//!
//! | path | what |
//! |---|---|
//! | GET /livechat/loader/{channel}.js | the widget script a third-party site embeds |
//! | GET /livechat/support/{channel} | the direct chat link: a full page with the chat |
//! | GET /livechat | the public ratings page: the published channels |
//! | GET /livechat/channel/{id} | a published channel's satisfaction and public ratings |
//! | GET /console | the operator console |
//! | GET /web/{file} | the pages' scripts and styles |
//!
//! The widget's and console's extra API routes (the page check, typing, the embed snippet)
//! are in `api/livechat_widget.rs`.
//! - [`assets`] — the embedded files and how they are answered.
//! - [`ratings_page`] — the public ratings pages, rendered on the node.
//!
//! Pages carry a Content-Security-Policy (`script-src 'self'`, no inline script or style)
//! and `X-Content-Type-Options: nosniff`; the scripts render everything people write with
//! `textContent`. CORS ([`cors`]) is granted only to the API routes the widget calls, for
//! only the methods and headers it uses.

pub mod assets;
pub mod ratings_page;

use std::sync::Arc;

use axum::Router;
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::node::NodeShared;

/// The policy of the node's own pages: only their own scripts, styles and sockets.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The web routes (pages and assets), merged into the API router.
pub fn router() -> Router<Arc<NodeShared>> {
    let pages = Router::new()
        .route("/livechat/support/{channel}", get(assets::support_page))
        .route("/console", get(assets::console_page))
        .route("/livechat", get(ratings_page::index))
        .route("/livechat/channel/{id}", get(ratings_page::channel))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    let files = Router::new()
        .route("/livechat/loader/{file}", get(assets::loader))
        .route("/web/{file}", get(assets::file));
    pages.merge(files).layer(SetResponseHeaderLayer::overriding(
        X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
}

/// Whether a request is one the widget makes from a third-party page.
pub fn is_widget_route(method: &Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/livechat/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [channel, "check" | "sessions" | "offline"] => {
            *channel != "sessions" && *channel != "channels" && method != Method::GET
        }
        ["sessions", _id] => method == Method::GET,
        ["sessions", _id, "messages"] => true,
        ["sessions", _id, "pages" | "typing" | "close" | "rating"] => true,
        // lc-files: the channel's features, a session's files, the transcript by email.
        [channel, "features"] => {
            *channel != "sessions" && *channel != "channels" && method == Method::GET
        }
        ["sessions", _id, "files" | "transcript_email"] | ["sessions", _id, "files", _] => true,
        _ => false,
    }
}

/// CORS for the widget's routes only: any origin (the widget runs on the organisation's
/// website), methods GET/POST, headers `content-type` and `authorization`, no credentials
/// (the widget sends its session token itself). Other routes get no CORS headers, so a
/// browser refuses cross-origin calls to them.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|_origin, parts: &Parts| {
            let method = parts
                .headers
                .get("access-control-request-method")
                .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
                .unwrap_or_else(|| parts.method.clone());
            is_widget_route(&method, parts.uri.path())
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_widget_routes_are_open_to_other_origins() {
        let c = "0190a1b2-0000-7000-8000-000000000001";
        let s = "/api/v1/livechat/sessions/0190a1b2-0000-7000-8000-000000000002";
        assert!(is_widget_route(
            &Method::POST,
            &format!("/api/v1/livechat/{c}/check")
        ));
        assert!(is_widget_route(
            &Method::POST,
            &format!("/api/v1/livechat/{c}/sessions")
        ));
        assert!(is_widget_route(
            &Method::POST,
            &format!("/api/v1/livechat/{c}/offline")
        ));
        assert!(is_widget_route(&Method::GET, &format!("{s}/messages")));
        assert!(is_widget_route(&Method::POST, &format!("{s}/typing")));
        assert!(is_widget_route(&Method::POST, &format!("{s}/rating")));
        assert!(is_widget_route(&Method::GET, s));
        assert!(!is_widget_route(&Method::GET, "/api/v1/livechat/sessions"));
        assert!(!is_widget_route(&Method::POST, "/api/v1/livechat/channels"));
        assert!(!is_widget_route(&Method::GET, "/api/v1/connections"));
        assert!(!is_widget_route(&Method::POST, "/api/v1/login"));
        assert!(!is_widget_route(&Method::GET, &format!("{s}/history")));
        assert!(!is_widget_route(
            &Method::PUT,
            &format!("{s}/rating/visibility")
        ));
    }
}
