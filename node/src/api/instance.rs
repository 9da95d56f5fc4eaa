//! `GET /api/v1/instance`: who this node is.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::auth::Admin;
use crate::federation::AutoAccept;
use crate::node::NodeShared;

/// The answer of `GET /api/v1/instance`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    /// The Instance UUID.
    pub uuid: String,
    /// The display name.
    pub name: String,
    /// The libp2p peer id.
    pub peer_id: String,
    /// Where peers can reach this node.
    pub addresses: Vec<String>,
    /// Incoming requests accepted without an administrator: "off", "any", or the listed
    /// Instance UUIDs.
    pub auto_accept: AutoAcceptView,
    /// Set when this node was restored from a backup: which one and when. Messages it
    /// received after that backup was taken were only on the lost disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<crate::backup::RestoredFrom>,
}

/// The automatic-accept policy as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AutoAcceptView {
    /// "off" or "any".
    Word(&'static str),
    /// The partners accepted automatically.
    Listed(Vec<String>),
}

impl From<&AutoAccept> for AutoAcceptView {
    fn from(policy: &AutoAccept) -> Self {
        match policy {
            AutoAccept::Off => AutoAcceptView::Word("off"),
            AutoAccept::Any => AutoAcceptView::Word("any"),
            AutoAccept::Listed(listed) => {
                AutoAcceptView::Listed(listed.iter().map(ToString::to_string).collect())
            }
        }
    }
}

/// Returns the instance's identity (admin token required).
#[utoipa::path(
    get,
    path = "/api/v1/instance",
    tag = "federation",
    security(("admin" = [])),
    responses((status = 200, description = "This node: UUID, name, libp2p peer id, addresses, auto-accept policy", body = InstanceView))
)]
pub(crate) async fn get_instance(
    _admin: Admin,
    State(node): State<Arc<NodeShared>>,
) -> Json<InstanceView> {
    Json(InstanceView {
        uuid: node.instance.uuid.to_string(),
        name: node.instance.name.clone(),
        peer_id: node.peer_id.clone(),
        addresses: node.addresses(),
        auto_accept: node.federation.auto_accept().into(),
        restored_from: node.backups.restored.clone(),
    })
}
