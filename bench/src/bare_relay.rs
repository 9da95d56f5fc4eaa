//! The relayed baseline of the `reach` group ([`crate::reach`]): the bare request-response of
//! [`crate::bare_p2p`] (same codec, same sizes, answered at once) carried through a circuit
//! relay v2 — the directory host's relay, as ochat's relayed path is. The responder reserves a
//! slot on the relay and is dialled at its `…/p2p-circuit/p2p/<id>` address; nothing upgrades
//! the circuit (no DCUtR), so every byte goes through the relay.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::prelude::*;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, noise, relay, tcp, yamux};
use tokio::sync::mpsc;

use crate::bare_p2p::{self, BytesCodec, PROTOCOL, Reply};

/// A relay client and the bare request-response.
#[derive(NetworkBehaviour)]
struct Relayed {
    relay: relay::client::Behaviour,
    bare: request_response::Behaviour<BytesCodec>,
}

fn swarm() -> Result<Swarm<Relayed>> {
    Ok(SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)?
        .with_behaviour(|_, relay| Relayed {
            relay,
            bare: request_response::Behaviour::with_codec(
                BytesCodec,
                [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            ),
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// A responder reachable only through the relay; runs until dropped.
#[derive(Debug)]
pub struct Server {
    /// Its peer id.
    pub peer: PeerId,
    /// Its relayed address (`<relay>/p2p-circuit/p2p/<peer>`).
    pub addr: Multiaddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Reserves a slot on `relay` (`…/p2p/<relay id>`), waits (20 s at most) until the relay
    /// accepts, then answers every request with `response_size` bytes.
    pub async fn start(relay: Multiaddr, response_size: usize) -> Result<Self> {
        let mut swarm = swarm()?;
        swarm.listen_on(relay.clone().with(Protocol::P2pCircuit))?;
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::Behaviour(RelayedEvent::Relay(
                        relay::client::Event::ReservationReqAccepted { .. },
                    )) => return Ok(()),
                    SwarmEvent::ListenerClosed { reason, .. } => {
                        bail!("the relay refused the reservation: {reason:?}")
                    }
                    _ => {}
                }
            }
        })
        .await
        .context("no reservation on the relay within 20 s")??;
        let peer = *swarm.local_peer_id();
        let addr = relay.with(Protocol::P2pCircuit).with(Protocol::P2p(peer));
        let response = vec![0xa5u8; response_size];
        let task = tokio::spawn(async move {
            loop {
                if let SwarmEvent::Behaviour(RelayedEvent::Bare(
                    request_response::Event::Message {
                        message: request_response::Message::Request { channel, .. },
                        ..
                    },
                )) = swarm.select_next_some().await
                {
                    let _ = swarm
                        .behaviour_mut()
                        .bare
                        .send_response(channel, response.clone());
                }
            }
        });
        Ok(Server { peer, addr, task })
    }
}

/// A requester with a fresh identity that reaches a [`Server`] through the relay: it dials
/// `peer` at its relayed address `addr` (a [`Server`]'s) on first use.
pub fn dial(peer: PeerId, addr: Multiaddr) -> Result<bare_p2p::Client> {
    let mut swarm = swarm()?;
    swarm.add_peer_address(peer, addr);
    let (tx, mut rx) = mpsc::channel::<(Vec<u8>, Reply)>(64);
    tokio::spawn(async move {
        let mut pending: HashMap<OutboundRequestId, Reply> = HashMap::new();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some((body, reply)) => {
                        let id = swarm.behaviour_mut().bare.send_request(&peer, body);
                        pending.insert(id, reply);
                    }
                    None => return,
                },
                event = swarm.select_next_some() => match event {
                    SwarmEvent::Behaviour(RelayedEvent::Bare(request_response::Event::Message {
                        message: request_response::Message::Response { request_id, response },
                        ..
                    })) => {
                        if let Some(r) = pending.remove(&request_id) {
                            let _ = r.send(Ok(response));
                        }
                    }
                    SwarmEvent::Behaviour(RelayedEvent::Bare(
                        request_response::Event::OutboundFailure { request_id, error, .. },
                    )) => {
                        if let Some(r) = pending.remove(&request_id) {
                            let _ = r.send(Err(anyhow!("request failed: {error}")));
                        }
                    }
                    _ => {}
                },
            }
        }
    });
    Ok(bare_p2p::Client::from_sender(tx))
}
