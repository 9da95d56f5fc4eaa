//! Peers given by hand (`--peer UUID=/ip4/…/tcp/…/p2p/PEERID`): an address that names the
//! peer id, used before any lookup (see [`super::resolve`]). Parsed once when the node starts.

use std::collections::HashMap;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use ochat_protocol::identity::{IdentityError, InstanceId};
use thiserror::Error;

/// Peers given by hand: Instance UUID → its peer id and address.
pub type ManualPeers = HashMap<InstanceId, (PeerId, Multiaddr)>;

/// Why a peer given by hand is refused.
#[derive(Debug, Error)]
pub enum ManualPeerError {
    /// The UUID is not one.
    #[error("--peer {uuid}: {source}")]
    Uuid {
        /// As given.
        uuid: String,
        /// Why.
        source: IdentityError,
    },
    /// The address is not a multiaddress.
    #[error("--peer {uuid}: invalid address {addr}: {source}")]
    Address {
        /// The UUID.
        uuid: InstanceId,
        /// As given.
        addr: String,
        /// Why.
        source: libp2p::multiaddr::Error,
    },
    /// The address does not name the peer id.
    #[error("--peer {uuid}: the address must end with /p2p/<peer id>")]
    NoPeerId {
        /// The UUID.
        uuid: InstanceId,
    },
}

/// Parses `(UUID, address)` pairs given by hand.
///
/// # Errors
///
/// [`ManualPeerError`] for the first pair that is not usable.
pub fn parse(peers: &[(String, String)]) -> Result<ManualPeers, ManualPeerError> {
    let mut out = HashMap::new();
    for (uuid, addr) in peers {
        let uuid: InstanceId = uuid.parse().map_err(|source| ManualPeerError::Uuid {
            uuid: uuid.clone(),
            source,
        })?;
        let addr: Multiaddr = addr.parse().map_err(|source| ManualPeerError::Address {
            uuid,
            addr: addr.clone(),
            source,
        })?;
        let peer = addr
            .iter()
            .find_map(|p| match p {
                Protocol::P2p(peer) => Some(peer),
                _ => None,
            })
            .ok_or(ManualPeerError::NoPeerId { uuid })?;
        out.insert(uuid, (peer, addr));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_peer_needs_a_uuid_and_an_address_that_names_its_peer_id() {
        let uuid = InstanceId::generate();
        let peer = PeerId::random();
        let good = format!("/ip4/127.0.0.1/tcp/4001/p2p/{peer}");
        let parsed = parse(&[(uuid.to_string(), good.clone())]).unwrap();
        assert_eq!(parsed[&uuid], (peer, good.parse().unwrap()));
        let no_peer = parse(&[(uuid.to_string(), "/ip4/127.0.0.1/tcp/4001".into())]);
        assert_eq!(
            no_peer.unwrap_err().to_string(),
            format!("--peer {uuid}: the address must end with /p2p/<peer id>")
        );
        let bad_uuid = parse(&[("nope".into(), good)]).unwrap_err();
        assert!(
            bad_uuid.to_string().starts_with("--peer nope: "),
            "{bad_uuid}"
        );
        let bad_addr = parse(&[(uuid.to_string(), "here".into())]).unwrap_err();
        assert!(
            bad_addr
                .to_string()
                .starts_with(&format!("--peer {uuid}: invalid address here: ")),
            "{bad_addr}"
        );
    }
}
