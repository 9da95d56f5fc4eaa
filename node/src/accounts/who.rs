//! Who is calling: [`Who`] (the admin, an operator, a visitor of one session) and [`Caller`]
//! (who, with the token they sent), and how a request's token is read. Every protected route
//! takes an extractor built on these (`api::auth`), so a handler cannot forget the check;
//! comparison with the admin token is constant-time ([`same_token`]).
//!
//! The token is the bearer header. Browsers cannot set headers on a WebSocket, so an upgrade
//! may carry it as a subprotocol instead (`Sec-WebSocket-Protocol: ochat,
//! ochat.token.<token>`) or, for older clients, as `?token=`. Anywhere else a query token is
//! ignored, so tokens do not end up in proxies' request logs.

use axum::http::request::Parts;
use axum::http::{Method, header};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AccountsError;

/// The WebSocket subprotocol prefix that carries a token (`ochat.token.<token>`).
pub const TOKEN_PROTOCOL: &str = "ochat.token.";

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The admin token.
    Admin,
    /// An operator (user) token.
    Operator(Uuid),
    /// A visitor's session token (grants only that session).
    Visitor(Uuid),
}

impl Who {
    /// The operator's id, if an operator.
    pub fn operator(&self) -> Option<Uuid> {
        match self {
            Who::Operator(id) => Some(*id),
            _ => None,
        }
    }

    /// Refuses visitors and anonymous roles; admins and operators pass.
    ///
    /// # Errors
    ///
    /// [`AccountsError::Forbidden`].
    pub fn staff(&self) -> Result<(), AccountsError> {
        match self {
            Who::Visitor(_) => Err(AccountsError::Forbidden(
                "a visitor token grants only its own session".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses everyone but the admin.
    ///
    /// # Errors
    ///
    /// [`AccountsError::Forbidden`].
    pub fn admin(&self) -> Result<(), AccountsError> {
        match self {
            Who::Admin => Ok(()),
            _ => Err(AccountsError::Forbidden(
                "only the admin may do this".into(),
            )),
        }
    }
}

/// A request's verified caller and the token it used.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub who: Who,
    /// The token as sent.
    pub token: String,
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Constant-time equality of two tokens.
pub fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether a request asks for a WebSocket upgrade (`GET` with `Upgrade: websocket`).
fn is_websocket_upgrade(parts: &Parts) -> bool {
    parts.method == Method::GET
        && parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// The token of a request: the bearer header; on a WebSocket upgrade only, else the
/// `ochat.token.` subprotocol or `?token=` (browsers' WebSockets cannot send headers).
pub fn token_of(parts: &Parts) -> Option<String> {
    if let Some(t) = bearer(parts) {
        return Some(t.to_string());
    }
    if !is_websocket_upgrade(parts) {
        return None;
    }
    let offered = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(TOKEN_PROTOCOL));
    if let Some(t) = offered {
        return Some(t.to_string());
    }
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_string)
}
