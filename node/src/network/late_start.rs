//! [`LateStart`]: a behaviour whose connections open no stream of their own during their
//! first moments. identify and ping open streams the instant a connection is up; on a
//! brand-new connection those raced the request it was dialled for (a connection request's
//! handshake measured about 1 ms slower with them, on two busy cores). Wrapped, the first
//! outbound streams of a connection wait [`LateStart`]'s delay; inbound streams (a peer's
//! identify or ping) are served at once, and everything else passes straight through.
//!
//! Used by `network/behaviour.rs` around identify and ping; relays and DHT bootstrap peers
//! ([`Prompt`]) are exempt.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::swarm::handler::ConnectionEvent;
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Peers whose connections start at once (relays and DHT bootstrap peers: what identify learns
/// from them, the address they observe us at, is what hole punching offers, and a partner may
/// come through the relay within moments of our start).
pub(crate) type Prompt = std::sync::Arc<std::sync::RwLock<std::collections::HashSet<PeerId>>>;

/// `inner`, whose connections' own outbound streams start `delay` after the connection,
/// except on connections with [`Prompt`] peers.
pub(crate) struct LateStart<B> {
    inner: B,
    delay: Duration,
    prompt: Prompt,
}

impl<B> LateStart<B> {
    pub(crate) fn new(inner: B, delay: Duration, prompt: Prompt) -> Self {
        LateStart {
            inner,
            delay,
            prompt,
        }
    }

    fn delay_for(&self, peer: &PeerId) -> Duration {
        match self.prompt.read() {
            Ok(prompt) if prompt.contains(peer) => Duration::ZERO,
            _ => self.delay,
        }
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for LateStart<B> {
    type ConnectionHandler = LateHandler<B::ConnectionHandler>;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )?;
        Ok(LateHandler::new(inner, self.delay_for(&peer)))
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )?;
        Ok(LateHandler::new(inner, self.delay_for(&peer)))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer_id, connection_id, event);
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

type HandlerEvent<H> = ConnectionHandlerEvent<
    <H as ConnectionHandler>::OutboundProtocol,
    <H as ConnectionHandler>::OutboundOpenInfo,
    <H as ConnectionHandler>::ToBehaviour,
>;

/// One connection's handler of a [`LateStart`] behaviour: the inner handler, with the outbound
/// stream requests it makes before the start held back until then.
pub(crate) struct LateHandler<H: ConnectionHandler> {
    inner: H,
    /// Until the start; `None` once started.
    start: Option<Pin<Box<tokio::time::Sleep>>>,
    held: VecDeque<HandlerEvent<H>>,
}

impl<H: ConnectionHandler> LateHandler<H> {
    fn new(inner: H, delay: Duration) -> Self {
        LateHandler {
            inner,
            start: Some(Box::pin(tokio::time::sleep(delay))),
            held: VecDeque::new(),
        }
    }
}

impl<H: ConnectionHandler> ConnectionHandler for LateHandler<H> {
    type FromBehaviour = H::FromBehaviour;
    type ToBehaviour = H::ToBehaviour;
    type InboundProtocol = H::InboundProtocol;
    type OutboundProtocol = H::OutboundProtocol;
    type InboundOpenInfo = H::InboundOpenInfo;
    type OutboundOpenInfo = H::OutboundOpenInfo;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        self.inner.listen_protocol()
    }

    fn connection_keep_alive(&self) -> bool {
        self.inner.connection_keep_alive()
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<HandlerEvent<H>> {
        if let Some(start) = self.start.as_mut()
            && start.poll_unpin(cx).is_ready()
        {
            self.start = None;
        }
        if self.start.is_none()
            && let Some(event) = self.held.pop_front()
        {
            return Poll::Ready(event);
        }
        loop {
            match self.inner.poll(cx) {
                Poll::Ready(event @ ConnectionHandlerEvent::OutboundSubstreamRequest { .. })
                    if self.start.is_some() =>
                {
                    self.held.push_back(event);
                }
                other => return other,
            }
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::ToBehaviour>> {
        self.inner.poll_close(cx)
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        self.inner.on_behaviour_event(event);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        self.inner.on_connection_event(event);
    }
}
