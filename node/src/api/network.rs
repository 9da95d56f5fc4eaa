//! `GET /api/v1/network` (admin token): where the node stands on the network — reachability,
//! listen, external and published addresses, relay reservations, the DHT — and, for each
//! accepted connection, whether its peer is connected directly, through a relay or not at all,
//! with the last round-trip time. `ochat network` prints it; `ochat connection show` prints its
//! peer's line.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use ochat_protocol::connection::Status;
use serde::Serialize;

use super::ApiError;
use super::auth::Admin;
use crate::federation::actions::ListFilter;
use crate::network::{NetworkStatus, Path};
use crate::node::NodeShared;

/// The answer of `GET /api/v1/network`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetworkView {
    /// The node's own state.
    #[serde(flatten)]
    pub status: NetworkStatus,
    /// One line per accepted connection.
    pub peers: Vec<PeerView>,
}

/// How the peer of one accepted connection is reached.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeerView {
    /// The connection's local id.
    pub connection_id: String,
    /// The peer's Instance UUID.
    pub remote_uuid: String,
    /// Its display name.
    pub remote_name: Option<String>,
    /// Its libp2p peer id (from its pinned key), when known.
    pub peer_id: Option<String>,
    /// direct, relayed or none.
    pub path: Path,
    /// The last round-trip time, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The remote addresses of the open connections.
    pub remote_addresses: Vec<String>,
}

/// Returns the network view (admin token required).
#[utoipa::path(
    get,
    path = "/api/v1/network",
    tag = "federation",
    security(("admin" = [])),
    responses((status = 200, description = "Reachability, relays, DHT and each accepted peer's path", body = NetworkView))
)]
pub(crate) async fn get_network(
    _admin: Admin,
    State(node): State<Arc<NodeShared>>,
) -> Result<Json<NetworkView>, ApiError> {
    let status = node.network.status().await.map_err(ApiError::internal)?;
    let accepted = node
        .federation
        .list(&ListFilter {
            direction: None,
            status: Some(Status::Accepted),
        })
        .map_err(ApiError::internal)?;
    let mut lines: Vec<(crate::model::ConnectionView, Option<libp2p::PeerId>)> = accepted
        .into_iter()
        .map(|c| {
            let peer = c
                .remote_uuid
                .parse()
                .ok()
                .and_then(|uuid| node.peers.pinned_peer(uuid));
            (c, peer)
        })
        .collect();
    let known: Vec<libp2p::PeerId> = lines.iter().filter_map(|(_, p)| *p).collect();
    let mut paths = node
        .network
        .peer_paths(known)
        .await
        .map_err(ApiError::internal)?
        .into_iter();
    let peers = lines
        .drain(..)
        .map(|(c, peer)| {
            let path = peer.and_then(|_| paths.next());
            PeerView {
                connection_id: c.id.to_string(),
                remote_uuid: c.remote_uuid,
                remote_name: c.remote_name,
                peer_id: peer.map(|p| p.to_string()),
                path: path.as_ref().map(|p| p.path).unwrap_or(Path::None),
                rtt_ms: path.as_ref().and_then(|p| p.rtt_ms),
                remote_addresses: path.map(|p| p.remote_addresses).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Json(NetworkView { status, peers }))
}
