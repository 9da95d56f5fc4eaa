//! Token checks: the axum extractors of the API. Every protected route takes one of these, so
//! a handler cannot forget the check. [`Admin`] is the admin token alone; a
//! [`Caller`](crate::accounts::Caller) is whoever the token names (the admin, an operator, or a
//! visitor of one session), read and compared by `crate::accounts::who` (constant-time).
//! An operator's request marks them present in the live chat, unless it says it was made
//! by the page on its own ([`automatic`]): a console catching up after its connection
//! dropped (a node restart, say) does not make an operator who was away available again.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiError;
use crate::accounts::who::{bearer, same_token, token_of};
use crate::accounts::{Caller, Who};
use crate::node::NodeShared;

/// Proof that the request carried the admin token.
#[derive(Debug)]
pub struct Admin;

impl FromRequestParts<Arc<NodeShared>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<NodeShared>,
    ) -> Result<Self, Self::Rejection> {
        match bearer(parts) {
            Some(token) if same_token(token, &state.admin_token) => Ok(Admin),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

impl FromRequestParts<Arc<NodeShared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        node: &Arc<NodeShared>,
    ) -> Result<Self, ApiError> {
        let token = token_of(parts).ok_or_else(ApiError::unauthorized)?;
        let who = if same_token(&token, &node.admin_token) {
            Who::Admin
        } else if let Some(op) = node.accounts.token_user(&token)? {
            if !automatic(&parts.headers) {
                node.livechat.touch(op)?;
            }
            Who::Operator(op)
        } else if let Some(session) = node.livechat.visitor_session(&token)? {
            Who::Visitor(session)
        } else {
            return Err(ApiError::unauthorized());
        };
        Ok(Caller { who, token })
    }
}

/// The header a page sets on requests it makes by itself (catching up after a reconnect).
pub(crate) const BACKGROUND_HEADER: &str = "x-ochat-background";
/// The WebSocket subprotocol a page offers when it reconnects by itself.
pub(crate) const RESUME_PROTOCOL: &str = "ochat.resume";

/// Whether the request was made by the page on its own, not by the operator acting: it
/// carries [`BACKGROUND_HEADER`], or it is a WebSocket upgrade offering [`RESUME_PROTOCOL`].
/// Such requests do not count as the operator's activity (see `livechat::presence`).
pub(crate) fn automatic(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(BACKGROUND_HEADER)
        || headers
            .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == RESUME_PROTOCOL)
}
