//! The actor's side of our two request-response protocols, handled once: `/ochat/handshake/1`
//! (handshake envelopes, answered by the federation service) and `/ochat/msg/2` (message
//! batches, acknowledged by the messaging service once its writes are durable).
//!
//! [`Exchange`] is one protocol's bookkeeping in the [`Actor`]: the requests we sent that wait
//! for their answer, the inbound requests that wait for the service, the per-peer rate limit.
//! [`Protocol`] says what differs between the two: which sub-behaviour carries it, what the
//! service receives, and the refusals sent without bothering the service. Everything else —
//! sending, answers, failures, bad frames charged to the peer's bucket — is written once here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use libp2p::request_response::{
    self, InboundFailure, InboundRequestId, Message, OutboundFailure, OutboundRequestId,
    ResponseChannel,
};
use libp2p::{Multiaddr, PeerId};
use ochat_protocol::message::{MessageBatch, MessageResponse};
use ochat_protocol::wire::{Envelope, HandshakeResponse, RefusalCode};
use tokio::sync::{mpsc, oneshot};

use super::actor::Actor;
use super::behaviour::Behaviour;
use super::codec::{HandshakeCodec, MessageCodec};
use super::rate_limit::RateLimiter;
use super::{Inbound, InboundMessages, NetworkError};

/// Why an inbound request is refused before it reaches the service.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal {
    /// The peer's bucket is empty.
    RateLimited,
    /// The service's queue is full.
    Busy,
    /// No service listens.
    Closed,
}

/// What differs between our request-response protocols.
pub(super) trait Protocol: Sized + 'static {
    /// The request on the wire.
    type Request: Send + 'static;
    /// The response on the wire.
    type Response: Send + 'static;
    /// The libp2p codec of the two.
    type Codec: request_response::Codec<Request = Self::Request, Response = Self::Response>
        + Clone
        + Send
        + 'static;
    /// What the service receives: the request and its way back.
    type Inbound: Send + 'static;
    /// The protocol's name in logs ("handshake", "message").
    const NAME: &'static str;

    /// The sub-behaviour that carries the protocol.
    fn behaviour(behaviour: &mut Behaviour) -> &mut request_response::Behaviour<Self::Codec>;
    /// The protocol's bookkeeping in the actor.
    fn exchange(actor: &mut Actor) -> &mut Exchange<Self>;
    /// Wraps an inbound request for the service.
    fn inbound(
        peer: PeerId,
        request: Self::Request,
        reply: oneshot::Sender<Self::Response>,
    ) -> Self::Inbound;
    /// The answer sent for a refusal (these strings are on the wire: keep them).
    fn refusal(refusal: Refusal) -> Self::Response;
}

/// `/ochat/handshake/1`: envelopes to the federation service.
pub(super) enum Handshake {}

impl Protocol for Handshake {
    type Request = Envelope;
    type Response = HandshakeResponse;
    type Codec = HandshakeCodec;
    type Inbound = Inbound;
    const NAME: &'static str = "handshake";

    fn behaviour(behaviour: &mut Behaviour) -> &mut request_response::Behaviour<HandshakeCodec> {
        &mut behaviour.handshake
    }

    fn exchange(actor: &mut Actor) -> &mut Exchange<Self> {
        &mut actor.handshakes
    }

    fn inbound(
        peer: PeerId,
        envelope: Envelope,
        reply: oneshot::Sender<HandshakeResponse>,
    ) -> Inbound {
        Inbound {
            peer,
            envelope,
            reply,
        }
    }

    fn refusal(refusal: Refusal) -> HandshakeResponse {
        let (code, message) = match refusal {
            Refusal::RateLimited => (RefusalCode::RateLimited, "too many requests; retry later"),
            Refusal::Busy => (RefusalCode::Internal, "busy; retry later"),
            Refusal::Closed => (RefusalCode::Internal, "not accepting requests"),
        };
        HandshakeResponse::Refused {
            code,
            message: message.to_string(),
        }
    }
}

/// `/ochat/msg/2`: message batches to the messaging service.
pub(super) enum Batches {}

impl Protocol for Batches {
    type Request = MessageBatch;
    type Response = MessageResponse;
    type Codec = MessageCodec;
    type Inbound = InboundMessages;
    const NAME: &'static str = "message";

    fn behaviour(behaviour: &mut Behaviour) -> &mut request_response::Behaviour<MessageCodec> {
        &mut behaviour.messages
    }

    fn exchange(actor: &mut Actor) -> &mut Exchange<Self> {
        &mut actor.batches
    }

    fn inbound(
        peer: PeerId,
        batch: MessageBatch,
        reply: oneshot::Sender<MessageResponse>,
    ) -> InboundMessages {
        InboundMessages { peer, batch, reply }
    }

    fn refusal(refusal: Refusal) -> MessageResponse {
        MessageResponse::Refused(
            match refusal {
                Refusal::RateLimited => "rate limited",
                Refusal::Busy => "busy; retry later",
                Refusal::Closed => "not accepting messages",
            }
            .into(),
        )
    }
}

/// Where a caller waits for the outcome of a request we sent.
pub(super) type Reply<R> = oneshot::Sender<Result<R, NetworkError>>;

/// The service's answer to an inbound request (or its absence).
enum Answer<R> {
    Given(R),
    Dropped,
    TimedOut,
}

/// An inbound request whose answer has arrived or will never come.
pub(super) struct Answered<P: Protocol> {
    peer: PeerId,
    channel: ResponseChannel<P::Response>,
    answer: Answer<P::Response>,
}

/// One protocol's bookkeeping in the actor.
pub(super) struct Exchange<P: Protocol> {
    service: mpsc::Sender<P::Inbound>,
    outstanding: HashMap<OutboundRequestId, Reply<P::Response>>,
    /// Inbound requests waiting for the service (polled by the actor's loop).
    pub(super) answers: FuturesUnordered<BoxFuture<'static, Answered<P>>>,
    pub(super) limiter: RateLimiter,
    /// How long the service may take to answer.
    timeout: Duration,
}

impl<P: Protocol> Exchange<P> {
    pub(super) fn new(
        service: mpsc::Sender<P::Inbound>,
        max_per_peer_per_minute: u32,
        timeout: Duration,
    ) -> Self {
        Exchange {
            service,
            outstanding: HashMap::new(),
            answers: FuturesUnordered::new(),
            limiter: RateLimiter::new(max_per_peer_per_minute),
            timeout,
        }
    }

    /// Requests sent and not yet answered.
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}

impl Actor {
    /// Sends a request to `peer` (dialling `addrs` if needed); the outcome goes to `reply`.
    pub(super) fn send_request<P: Protocol>(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: P::Request,
        reply: Reply<P::Response>,
    ) {
        if peer == *self.swarm.local_peer_id() {
            let reason = "it is this node".to_string();
            let _ = reply.send(Err(NetworkError::DialFailed { peer, reason }));
            return;
        }
        let id = P::behaviour(self.swarm.behaviour_mut())
            .send_request_with_addresses(&peer, request, addrs);
        tracing::debug!(%peer, request = %id, protocol = P::NAME, "request queued");
        P::exchange(self).outstanding.insert(id, reply);
    }

    /// One event of a request-response protocol.
    pub(super) fn on_exchange<P: Protocol>(
        &mut self,
        event: request_response::Event<P::Request, P::Response>,
    ) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => self.on_inbound_request::<P>(peer, request_id, request, channel),
            request_response::Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                tracing::debug!(%peer, request = %request_id, protocol = P::NAME, "answer received");
                self.complete::<P>(request_id, Ok(response));
            }
            request_response::Event::OutboundFailure {
                peer,
                connection_id,
                request_id,
                error,
            } => {
                if matches!(error, OutboundFailure::Timeout) {
                    // Nothing came back for the whole request timeout: the path is presumed
                    // dead (a cut link keeps a TCP connection "open" for many minutes, and
                    // TCP's own retransmissions back off to minutes). Closing it makes the
                    // next attempt, and the delivery worker's probes, dial afresh, so a link
                    // that comes back is used within seconds.
                    tracing::info!(%peer, protocol = P::NAME, "request timed out; closing its connection");
                    self.swarm.close_connection(connection_id);
                }
                if let OutboundFailure::Io(error) = &error
                    && error.kind() == std::io::ErrorKind::InvalidData
                {
                    tracing::warn!(%peer, request = %request_id, %error, protocol = P::NAME, "refused the peer's answer frame");
                }
                let typed = self.outbound_error(peer, error);
                tracing::debug!(%peer, request = %request_id, error = %typed, protocol = P::NAME, "request failed");
                self.complete::<P>(request_id, Err(typed));
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => match error {
                InboundFailure::Io(error) if is_bad_frame(&error) => {
                    tracing::warn!(%peer, request = %request_id, %error, protocol = P::NAME, "refused an inbound frame");
                    P::exchange(self).limiter.charge(peer, Instant::now());
                }
                other => {
                    tracing::debug!(%peer, request = %request_id, error = %other, protocol = P::NAME, "inbound request failed");
                }
            },
            request_response::Event::ResponseSent {
                peer, request_id, ..
            } => {
                tracing::trace!(%peer, request = %request_id, protocol = P::NAME, "answer sent");
            }
        }
    }

    fn on_inbound_request<P: Protocol>(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: P::Request,
        channel: ResponseChannel<P::Response>,
    ) {
        let exchange = P::exchange(self);
        if !exchange.limiter.allow(peer, Instant::now()) {
            tracing::warn!(%peer, request = %request_id, protocol = P::NAME, "rate limit reached; request refused");
            self.answer::<P>(peer, channel, P::refusal(Refusal::RateLimited));
            return;
        }
        let (reply, answer) = oneshot::channel();
        match exchange.service.try_send(P::inbound(peer, request, reply)) {
            Ok(()) => {
                let timeout = exchange.timeout;
                exchange.answers.push(Box::pin(async move {
                    let answer = match tokio::time::timeout(timeout, answer).await {
                        Ok(Ok(response)) => Answer::Given(response),
                        Ok(Err(_)) => Answer::Dropped,
                        Err(_) => Answer::TimedOut,
                    };
                    Answered {
                        peer,
                        channel,
                        answer,
                    }
                }));
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%peer, request = %request_id, protocol = P::NAME, "service busy; request refused");
                self.answer::<P>(peer, channel, P::refusal(Refusal::Busy));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!(%peer, request = %request_id, protocol = P::NAME, "no service listening; request refused");
                self.answer::<P>(peer, channel, P::refusal(Refusal::Closed));
            }
        }
    }

    /// The service answered an inbound request (or never will).
    pub(super) fn on_answered<P: Protocol>(&mut self, answered: Answered<P>) {
        let Answered {
            peer,
            channel,
            answer,
        } = answered;
        match answer {
            Answer::Given(response) => self.answer::<P>(peer, channel, response),
            // Dropping the channel closes the stream: the requester learns there is no answer
            // (and retries later).
            Answer::Dropped => {
                tracing::debug!(%peer, protocol = P::NAME, "the service dropped a request unanswered")
            }
            Answer::TimedOut => {
                tracing::debug!(%peer, protocol = P::NAME, "the service did not answer in time")
            }
        }
    }

    fn answer<P: Protocol>(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<P::Response>,
        response: P::Response,
    ) {
        if P::behaviour(self.swarm.behaviour_mut())
            .send_response(channel, response)
            .is_err()
        {
            tracing::debug!(%peer, protocol = P::NAME, "answer too late: the request timed out or its stream is gone");
        }
    }

    fn complete<P: Protocol>(
        &mut self,
        id: OutboundRequestId,
        result: Result<P::Response, NetworkError>,
    ) {
        match P::exchange(self).outstanding.remove(&id) {
            // A closed reply channel means the caller gave up (its own deadline): nothing to do.
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => {
                tracing::debug!(request = %id, protocol = P::NAME, "outcome of an unknown request ignored")
            }
        }
    }

    /// The typed error of a failed request.
    fn outbound_error(&self, peer: PeerId, error: OutboundFailure) -> NetworkError {
        match error {
            OutboundFailure::DialFailure => match self.dial_errors.get(&peer) {
                Some((_, typed)) => typed.clone(),
                None => NetworkError::DialFailed {
                    peer,
                    reason: "no connection could be established".to_string(),
                },
            },
            OutboundFailure::Timeout => NetworkError::Timeout,
            OutboundFailure::ConnectionClosed => NetworkError::ConnectionClosed,
            OutboundFailure::UnsupportedProtocols => NetworkError::UnsupportedProtocol,
            OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                NetworkError::NoResponse
            }
            OutboundFailure::Io(e) => NetworkError::Io(e.to_string()),
        }
    }
}

/// Whether a stream failed because of what the peer sent (an oversized, truncated or malformed
/// frame) rather than because the connection went away.
fn is_bad_frame(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
    )
}
