//! The actor's side of `/ochat/msg/2`: sending message batches and handing inbound ones to the
//! messaging service, whose acknowledgements go back only once its writes are durable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use libp2p::request_response::{
    self, InboundFailure, Message, OutboundFailure, OutboundRequestId, ResponseChannel,
};
use libp2p::{Multiaddr, PeerId};
use ochat_protocol::message::{MessageBatch, MessageResponse};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Actor, is_bad_frame};
use super::rate_limit::RateLimiter;
use super::{InboundMessages, NetworkConfig, NetworkError};

type Reply = oneshot::Sender<Result<MessageResponse, NetworkError>>;

/// Acknowledgements that arrived from the service (or never will).
pub(super) struct Acked {
    peer: PeerId,
    channel: ResponseChannel<MessageResponse>,
    response: Option<MessageResponse>,
}

/// What the actor keeps for the message protocol.
pub(super) struct MessageState {
    inbound: mpsc::Sender<InboundMessages>,
    outstanding: HashMap<OutboundRequestId, Reply>,
    pub(super) answers: FuturesUnordered<BoxFuture<'static, Acked>>,
    pub(super) limiter: RateLimiter,
    /// The service may take longer than a handshake answer: it flushes before acknowledging.
    timeout: Duration,
}

impl MessageState {
    pub(super) fn new(inbound: mpsc::Sender<InboundMessages>, config: &NetworkConfig) -> Self {
        MessageState {
            inbound,
            outstanding: HashMap::new(),
            answers: FuturesUnordered::new(),
            limiter: RateLimiter::new(config.max_message_batches_per_peer_per_minute),
            timeout: config.request_timeout,
        }
    }
}

impl Actor {
    pub(super) fn deliver(
        &mut self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        batch: MessageBatch,
        reply: Reply,
    ) {
        if peer == *self.swarm.local_peer_id() {
            let reason = "it is this node".to_string();
            let _ = reply.send(Err(NetworkError::DialFailed { peer, reason }));
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .messages
            .send_request_with_addresses(&peer, batch, addrs);
        self.msg.outstanding.insert(id, reply);
    }

    pub(super) fn on_messages(
        &mut self,
        event: request_response::Event<MessageBatch, MessageResponse>,
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
            } => self.on_inbound_batch(peer, request_id, request, channel),
            request_response::Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.complete_delivery(request_id, Ok(response)),
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let OutboundFailure::Io(error) = &error
                    && error.kind() == std::io::ErrorKind::InvalidData
                {
                    tracing::warn!(%peer, request = %request_id, %error, "refused the peer's acknowledgement frame");
                }
                let typed = self.outbound_error(peer, error);
                tracing::debug!(%peer, request = %request_id, error = %typed, "message batch failed");
                self.complete_delivery(request_id, Err(typed));
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => match error {
                InboundFailure::Io(error) if is_bad_frame(&error) => {
                    tracing::warn!(%peer, request = %request_id, %error, "refused an inbound message frame");
                    self.msg.limiter.charge(peer, Instant::now());
                }
                other => {
                    tracing::debug!(%peer, request = %request_id, error = %other, "inbound message batch failed");
                }
            },
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_inbound_batch(
        &mut self,
        peer: PeerId,
        request_id: request_response::InboundRequestId,
        batch: MessageBatch,
        channel: ResponseChannel<MessageResponse>,
    ) {
        if !self.msg.limiter.allow(peer, Instant::now()) {
            tracing::warn!(%peer, request = %request_id, "message rate limit reached; batch refused");
            self.answer_batch(
                peer,
                channel,
                MessageResponse::Refused("rate limited".into()),
            );
            return;
        }
        let (reply, answer) = oneshot::channel();
        let inbound = InboundMessages { peer, batch, reply };
        match self.msg.inbound.try_send(inbound) {
            Ok(()) => {
                let timeout = self.msg.timeout;
                self.msg.answers.push(Box::pin(async move {
                    let response = tokio::time::timeout(timeout, answer)
                        .await
                        .ok()
                        .and_then(Result::ok);
                    Acked {
                        peer,
                        channel,
                        response,
                    }
                }));
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.answer_batch(
                    peer,
                    channel,
                    MessageResponse::Refused("busy; retry later".into()),
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.answer_batch(
                    peer,
                    channel,
                    MessageResponse::Refused("not accepting messages".into()),
                );
            }
        }
    }

    pub(super) fn on_message_answer(&mut self, acked: Acked) {
        match acked.response {
            Some(response) => self.answer_batch(acked.peer, acked.channel, response),
            // Dropping the channel closes the stream: the sender retries later.
            None => tracing::debug!(peer = %acked.peer, "the service did not acknowledge a batch"),
        }
    }

    fn answer_batch(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<MessageResponse>,
        response: MessageResponse,
    ) {
        let messages = &mut self.swarm.behaviour_mut().messages;
        if messages.send_response(channel, response).is_err() {
            tracing::debug!(%peer, "acknowledgement too late: the stream is gone");
        }
    }

    fn complete_delivery(
        &mut self,
        id: OutboundRequestId,
        result: Result<MessageResponse, NetworkError>,
    ) {
        if let Some(reply) = self.msg.outstanding.remove(&id) {
            let _ = reply.send(result);
        }
    }
}
