//! The local HTTP API (axum): thin handlers that check the token, call a service and map
//! errors to `{"error": {"code", "message"}}`.
//!
//! - [`error`] — [`ApiError`], the one error type every handler returns.
//! - [`auth`] — token extractors (admin token for now).
//! - [`instance`] — `GET /api/v1/instance`.

pub mod auth;
pub mod error;
pub mod instance;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub use error::ApiError;

use crate::node::NodeShared;

/// Builds the router of the local API.
pub fn router(shared: Arc<NodeShared>) -> Router {
    Router::new()
        .route("/api/v1/instance", get(instance::get_instance))
        .fallback(error::not_found)
        .with_state(shared)
}
