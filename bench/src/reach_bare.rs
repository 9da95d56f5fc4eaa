//! The baselines of the `reach` group ([`crate::reach`]) on the test internet: bare libp2p
//! request-response between two public hosts ([`crate::bare_p2p`], TCP) or through the
//! directory host's relay ([`crate::bare_relay`], QUIC to the relay, as the nodes reach it),
//! the responder on one site, the client on another.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use ochat_node::directory::DirectoryClient;

use crate::federation::{ACK_LEN, WIRE_LEN};
use crate::measure::{Sample, histogram, record};
use crate::ns_runtime::NsRuntime;
use crate::reach_nodes::{Site, World, p50_sample};
use crate::{bare_p2p, bare_relay};

/// How a fresh bare client reaches the responder: directly, or through the relay.
#[derive(Debug, Clone)]
pub(crate) enum Dialer {
    Direct(PeerId, Multiaddr),
    Relayed(PeerId, Multiaddr),
}

impl Dialer {
    /// A client with a fresh identity (call it on the client's runtime).
    pub(crate) fn client(&self) -> Result<bare_p2p::Client> {
        match self {
            Dialer::Direct(peer, addr) => bare_p2p::Client::dial(*peer, addr.clone()),
            Dialer::Relayed(peer, addr) => bare_relay::dial(*peer, addr.clone()),
        }
    }
}

/// A bare responder (kept alive here) and a client on another site, over the same internet.
pub(crate) struct Bare {
    pub(crate) _responder: Box<dyn std::any::Any + Send>,
    pub(crate) dialer: Dialer,
    pub(crate) client: bare_p2p::Client,
    pub(crate) rt: Arc<NsRuntime>,
}

/// A bare responder on `server_site` (a public host), dialled directly from `client_site`.
pub(crate) async fn bare_direct(server_site: &Site, client_site: &Site) -> Result<Bare> {
    let server = server_site
        .rt
        .run(async { bare_p2p::Server::start_on(ACK_LEN, "/ip4/0.0.0.0/tcp/0".parse()?).await })
        .await?;
    let port = server
        .addr
        .iter()
        .find_map(|p| match p {
            Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .context("the bare server has no TCP port")?;
    let addr: Multiaddr = format!("/ip4/{}/tcp/{port}", server_site.host.addr).parse()?;
    let dialer = Dialer::Direct(server.peer, addr);
    bare_with(Box::new(server), dialer, client_site).await
}

/// A bare responder on `server_site` with a slot on the directory host's relay (reached over
/// QUIC, as the nodes reach it), dialled through the relay from `client_site`.
pub(crate) async fn bare_relayed(
    world: &World<'_>,
    server_site: &Site,
    client_site: &Site,
) -> Result<Bare> {
    let url = world.url.clone();
    let server = server_site
        .rt
        .run(async move {
            let info = DirectoryClient::new(&url)?
                .p2p_info()
                .await?
                .context("the directory runs no relay")?;
            let relay: Multiaddr = info
                .addresses
                .iter()
                .find(|a| a.contains("/quic-v1") && !a.contains("/127.0.0.1/"))
                .context("the relay offers no QUIC address")?
                .parse()?;
            bare_relay::Server::start(relay, ACK_LEN).await
        })
        .await?;
    let dialer = Dialer::Relayed(server.peer, server.addr.clone());
    bare_with(Box::new(server), dialer, client_site).await
}

pub(crate) async fn bare_with(
    responder: Box<dyn std::any::Any + Send>,
    dialer: Dialer,
    client_site: &Site,
) -> Result<Bare> {
    let fresh = dialer.clone();
    let client = client_site.rt.run(async move { fresh.client() }).await?;
    Ok(Bare {
        _responder: responder,
        dialer,
        client,
        rt: client_site.rt.clone(),
    })
}

impl Bare {
    /// One request-response at a time on the open connection.
    pub(crate) async fn latency(&self, count: usize) -> Result<Sample> {
        let client = self.client.clone();
        self.rt
            .run(async move {
                let mut h = histogram();
                for _ in 0..count {
                    let start = Instant::now();
                    client.request(vec![0x42; WIRE_LEN]).await?;
                    record(&mut h, start.elapsed());
                }
                Ok(p50_sample(h))
            })
            .await
    }

    /// Fresh peers each dial and make one request-response.
    pub(crate) async fn handshakes(&self, count: usize) -> Result<Sample> {
        let dialer = self.dialer.clone();
        self.rt
            .run(async move {
                let mut h = histogram();
                for _ in 0..count {
                    let client = dialer.client()?;
                    let start = Instant::now();
                    client.request(vec![0x42; WIRE_LEN]).await?;
                    record(&mut h, start.elapsed());
                }
                Ok(p50_sample(h))
            })
            .await
    }
}
