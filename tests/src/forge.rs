//! What an attacker's hand-made peer needs in the federation tests: a bare libp2p node with a
//! key of its choice, a self-signed record under any UUID, a signed connection request, and
//! where a real node listens.

use anyhow::{Context, Result};
use ochat_node::network::{self, Inbound, NetworkConfig, NetworkHandle};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, SignedRecord};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{ConnectionRequest, HandshakeBody};
use reqwest::Method;
use tokio::sync::mpsc::Receiver;

use crate::node::TestNode;

/// A bare libp2p node on 127.0.0.1 with `secret` as its key, and what peers send it.
pub async fn raw_peer(secret: &[u8; 32]) -> Result<(NetworkHandle, Receiver<Inbound>)> {
    let listen = "/ip4/127.0.0.1/tcp/0".parse().context("loopback address")?;
    Ok(network::start(
        secret,
        NetworkConfig {
            listen: vec![listen],
            ..NetworkConfig::default()
        },
    )
    .await?)
}

/// A record for `uuid` named `name`, signed by `key` (whether or not the UUID is its own).
pub fn record(uuid: InstanceId, key: &IdentityKey, name: &str) -> Result<SignedRecord> {
    Ok(InstanceRecord {
        uuid,
        name: name.into(),
        identity: key.public(),
        prekey: [7; 32],
        addresses: vec![],
        seq: 1,
        signed_at_ms: 1,
    }
    .sign(key)?)
}

/// A connection request from `from` to `to` with a fresh request id, signed by `signer`.
pub fn request(
    from: InstanceId,
    to: InstanceId,
    signer: &IdentityKey,
    name: &str,
) -> Result<HandshakeBody> {
    let req = ConnectionRequest {
        request_id: uuid::Uuid::new_v4(),
        from,
        to,
        from_name: name.into(),
        message: Some("please".into()),
        ephemeral: [9; 32],
        sent_at_ms: 1,
        prekey: None,
    };
    Ok(HandshakeBody::Request(Signed::seal(&req, signer)?))
}

/// Where `node` listens: its peer id and addresses, as `GET /api/v1/instance` shows them.
pub async fn where_is(node: &TestNode) -> Result<(libp2p::PeerId, Vec<libp2p::Multiaddr>)> {
    let me = node.ok(Method::GET, "/api/v1/instance", None).await?;
    let peer = me["peer_id"].as_str().context("peer id")?.parse()?;
    let mut addrs = Vec::new();
    for a in me["addresses"].as_array().context("addresses")? {
        addrs.push(a.as_str().context("an address")?.parse()?);
    }
    Ok((peer, addrs))
}
