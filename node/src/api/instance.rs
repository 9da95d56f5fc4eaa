//! `GET /api/v1/instance`: who this node is.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::auth::Admin;
use crate::node::NodeShared;

/// The answer of `GET /api/v1/instance`.
#[derive(Debug, Serialize)]
pub struct InstanceView {
    /// The Instance UUID.
    pub uuid: String,
    /// The display name.
    pub name: String,
    /// The libp2p peer id.
    pub peer_id: String,
    /// Where peers can reach this node.
    pub addresses: Vec<String>,
}

/// Returns the instance's identity (admin token required).
pub(crate) async fn get_instance(
    _admin: Admin,
    State(node): State<Arc<NodeShared>>,
) -> Json<InstanceView> {
    Json(InstanceView {
        uuid: node.instance.uuid.to_string(),
        name: node.instance.name.clone(),
        peer_id: node.peer_id.clone(),
        addresses: node.addresses(),
    })
}
