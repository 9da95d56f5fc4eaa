//! Token checks. Every protected route takes one of these extractors, so a handler cannot
//! forget the check. Comparison is constant-time.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::node::NodeShared;

/// Proof that the request carried the admin token.
#[derive(Debug)]
pub struct Admin;

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Constant-time equality of two tokens.
pub(crate) fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

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
