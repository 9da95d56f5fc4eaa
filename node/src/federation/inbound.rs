//! What peers send us on `/ochat/handshake/1`. Nothing changes until the envelope is fully
//! authenticated; the answer goes back only after our own write is durable. A request that
//! the [`super::AutoAccept`] policy accepts is answered with the decision itself.

use libp2p::PeerId;
use ochat_protocol::agreement::Role;
use ochat_protocol::connection::{self, Direction, Event as Transition, Status};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{InstanceRecord, RecordError};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{
    ConnectionAnswer, Envelope, HandshakeBody, HandshakeResponse, MAX_REASON, MAX_REQUEST_MESSAGE,
    RefusalCode, RemoteView, Verdict,
};

use super::{Federation, FederationError};
use crate::events::EventKind;
use crate::model::{ConnectionRecord, ConnectionView, KeyState, Step, now_ms};
use crate::network::peer_id_of;
use crate::store::connections::Change;

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn refused(code: RefusalCode, message: impl Into<String>) -> HandshakeResponse {
    HandshakeResponse::Refused {
        code,
        message: message.into(),
    }
}

impl Federation {
    /// Handles one envelope from `peer` (the Noise-authenticated peer id) and returns the answer.
    pub async fn handle_envelope(&self, peer: PeerId, envelope: Envelope) -> HandshakeResponse {
        let record = match self.authenticate(peer, &envelope).await {
            Ok(record) => record,
            Err(response) => return response,
        };
        let result = match &envelope.body {
            HandshakeBody::Request(signed) => self.on_request(&record, &envelope, signed).await,
            HandshakeBody::Answer(signed) => self.on_answer(&record, signed).await,
            HandshakeBody::Cancel(signed) => match signed.open(&record.identity) {
                Ok(cancel) if cancel.to == self.inner.me.uuid && cancel.from == record.uuid => {
                    self.on_cancel(&record, cancel.request_id).await
                }
                Ok(_) => Ok(refused(RefusalCode::WrongRecipient, "not addressed to us")),
                Err(_) => Ok(self.bad_signature(peer)),
            },
            HandshakeBody::Query(signed) => match signed.open(&record.identity) {
                Ok(query) if query.to == self.inner.me.uuid && query.from == record.uuid => {
                    self.on_query(&record, query.request_id)
                }
                Ok(_) => Ok(refused(RefusalCode::WrongRecipient, "not addressed to us")),
                Err(_) => Ok(self.bad_signature(peer)),
            },
            // Channel re-keys belong to messaging (the node hands them there after
            // `authenticated`); one that reaches us finds no channel service.
            HandshakeBody::Rekey(_) => Ok(refused(
                RefusalCode::InvalidState,
                "re-keys are not handled here",
            )),
        };
        match result {
            Ok(response) => response,
            Err(FederationError::Transition(e)) => {
                refused(RefusalCode::InvalidState, e.to_string())
            }
            Err(e) => {
                tracing::error!(%peer, error = %e, "failed to handle a handshake message");
                refused(
                    RefusalCode::Internal,
                    "the receiver failed; try again later",
                )
            }
        }
    }

    fn bad_signature(&self, peer: PeerId) -> HandshakeResponse {
        tracing::warn!(%peer, "dropped a handshake message whose signature does not verify");
        refused(
            RefusalCode::Unauthenticated,
            "the signature does not verify",
        )
    }

    /// The sender's record once the envelope is authenticated (as for every handshake
    /// message), or the refusal to answer: for messages other services handle (re-keys).
    pub async fn authenticated(
        &self,
        peer: PeerId,
        envelope: &Envelope,
    ) -> Result<InstanceRecord, HandshakeResponse> {
        self.authenticate(peer, envelope).await
    }

    /// Record self-signature, Noise peer id = record key, UUID → key as known before.
    async fn authenticate(
        &self,
        peer: PeerId,
        envelope: &Envelope,
    ) -> Result<InstanceRecord, HandshakeResponse> {
        let record = self.inner.peers.verify(&envelope.record).map_err(|e| {
            tracing::warn!(%peer, error = %e, "refused a handshake message with an invalid record");
            match e {
                RecordError::NotDerivedFromKey { uuid } => refused(
                    RefusalCode::Unauthenticated,
                    format!("this UUID belongs to another key: {uuid} is derived from its owner's key, not from this one"),
                ),
                _ => refused(RefusalCode::Unauthenticated, "invalid instance record"),
            }
        })?;
        if peer_id_of(&record.identity).ok() != Some(peer) {
            tracing::warn!(%peer, uuid = %record.uuid, "refused a peer that presents another instance's record");
            return Err(refused(
                RefusalCode::Unauthenticated,
                "the record's key is not the key of this connection",
            ));
        }
        // The key pinned for this UUID: ours from an earlier contact, else the directory's. A
        // lookup that fails is not "unknown": nothing is pinned and the sender is told to try
        // later (its outbox retries), so a directory that is down or rate-limits us can never
        // let a stranger's key become the partner's.
        let known = self.inner.peers.stored(&record.uuid).map_err(|e| {
            tracing::warn!(%peer, uuid = %record.uuid, error = %e, "cannot read the pinned key of a UUID; the sender will retry");
            refused(RefusalCode::Internal, "the receiver cannot check this UUID's key now; try again later")
        })?;
        let pinned = match &known {
            Some(known) => Some(known.identity),
            // A self-certifying UUID names its key (verified above): no directory to ask.
            None if record.uuid.is_derived() => Some(record.identity),
            None => self
                .inner
                .peers
                .directory_key(record.uuid)
                .await
                .map_err(|e| {
                    tracing::warn!(%peer, uuid = %record.uuid, error = %e, "the directory lookup of a new peer's UUID failed; nothing pinned, the sender will retry");
                    refused(RefusalCode::Internal, "the receiver cannot check this UUID's key with its directory now; try again later")
                })?,
        };
        if pinned.is_some_and(|key| key != record.identity) {
            tracing::warn!(%peer, uuid = %record.uuid, "refused a peer claiming a UUID that belongs to another key");
            return Err(refused(
                RefusalCode::Unauthenticated,
                "this UUID belongs to another key",
            ));
        }
        if let Err(e) = self
            .inner
            .peers
            .remember(&record.uuid, &envelope.record, record.seq)
        {
            tracing::warn!(error = %e, "could not cache a peer record");
        }
        Ok(record)
    }

    async fn on_request(
        &self,
        from: &InstanceRecord,
        _envelope: &Envelope,
        signed: &Signed<ochat_protocol::wire::ConnectionRequest>,
    ) -> Result<HandshakeResponse, FederationError> {
        let Ok(request) = signed.open(&from.identity) else {
            return Ok(refused(
                RefusalCode::Unauthenticated,
                "the signature does not verify",
            ));
        };
        if request.to != self.inner.me.uuid || request.from != from.uuid {
            return Ok(refused(RefusalCode::WrongRecipient, "not addressed to us"));
        }
        if request
            .message
            .as_ref()
            .is_some_and(|m| m.len() > MAX_REQUEST_MESSAGE)
        {
            return Ok(refused(RefusalCode::Malformed, "the message is too long"));
        }
        let _guard = self.inner.lock.lock().await;
        if let Some(known) = self
            .inner
            .connections
            .by_request(&from.uuid.0, &request.request_id)?
        {
            // A retry after a lost answer: already stored, nothing new; if it is decided,
            // the decision goes back at once.
            return Ok(match (&known.answer, known.state.status) {
                (Some(answer), Status::Accepted | Status::Rejected) => self.decided(answer),
                _ => HandshakeResponse::Stored,
            });
        }
        let automatic = self.inner.config.auto_accept.accepts(&from.uuid);
        if !automatic && let Some(full) = self.pending_incoming_full(&from.uuid)? {
            tracing::warn!(remote = %from.uuid, "refused a connection request: {full}");
            return Ok(refused(RefusalCode::RateLimited, full));
        }
        let now = now_ms();
        let mut record = ConnectionRecord {
            id: uuid::Uuid::now_v7(),
            request_id: request.request_id,
            state: connection::new_incoming(from.uuid.0, request.message.clone()),
            remote_name: Some(request.from_name.clone()),
            request: Some(signed.clone()),
            answer: None,
            ephemeral: None,
            // Handshake 2 names the pre-key the initiator uses; earlier versions use the
            // pre-key of their record.
            remote_prekey: Some(request.prekey.unwrap_or(from.prekey)),
            remote_ephemeral: Some(request.ephemeral),
            channel_id: None,
            delivered: true,
            delivery_error: None,
            members: Vec::new(),
            created_at_ms: now,
            updated_at_ms: now,
            seen: false,
            remote_identity: Some(from.identity.to_bytes()),
            keys: if request.prekey.is_some() {
                KeyState::Pending
            } else {
                KeyState::Legacy
            },
            initiator_mac: None,
        };
        let incoming = ConnectionView::from(&record);
        let mut change = Change::default();
        if automatic {
            self.accept_at_once(&mut record, &request.from_name, &mut change)?;
        }
        change.save = Some(record.clone());
        self.inner.connections.commit(change).await?;
        self.inner
            .events
            .connection(EventKind::IncomingRequest, incoming);
        match (&record.answer, automatic) {
            (Some(answer), true) => {
                self.inner.wake.notify_one();
                self.inner
                    .events
                    .connection(EventKind::Accepted, ConnectionView::from(&record));
                Ok(self.decided(answer))
            }
            _ => Ok(HandshakeResponse::Stored),
        }
    }

    /// Why a new incoming request from `remote` cannot be stored now, if it cannot: too many
    /// incoming requests wait for a decision, in all or from this UUID. Request ids, UUIDs and
    /// peer ids cost a sender nothing, so only these caps bound what strangers can make us keep.
    fn pending_incoming_full(
        &self,
        remote: &InstanceId,
    ) -> Result<Option<String>, FederationError> {
        let (total, theirs) = self.inner.connections.pending_incoming(&remote.0)?;
        let config = &self.inner.config;
        Ok(if theirs >= config.max_pending_per_peer {
            Some(format!(
                "{theirs} requests from this instance already wait for a decision; try again later"
            ))
        } else if total >= config.max_pending_incoming {
            Some(format!(
                "{total} incoming requests already wait for a decision; try again later"
            ))
        } else {
            None
        })
    }

    /// The automatic acceptance: the Accept transition with the requester's name as contact,
    /// in the same `change` as the request. The signed answer travels back in the response;
    /// the outbox pushes it again only after the first retry delay, in case that response
    /// was lost (a repeated answer changes nothing at the requester).
    fn accept_at_once(
        &self,
        record: &mut ConnectionRecord,
        from_name: &str,
        change: &mut Change,
    ) -> Result<(), FederationError> {
        let contact = truncate(from_name, super::actions::MAX_CONTACT).to_string();
        let outcome = connection::apply(&record.state, &Transition::Accept { contact })?;
        if let Some(next) = outcome.next {
            record.state = next;
        }
        self.answer(record, change)?;
        let retry_at = now_ms() + self.inner.config.retry_base.as_millis() as u64;
        for item in &mut change.enqueue {
            item.next_attempt_ms = retry_at;
        }
        tracing::info!(remote = %record.state.remote, connection = %record.id, "accepted a connection request automatically");
        Ok(())
    }

    /// The response that carries a decision already taken: our record (the requester needs
    /// our pre-key for the key agreement) and the signed answer.
    fn decided(&self, answer: &Signed<ConnectionAnswer>) -> HandshakeResponse {
        HandshakeResponse::Status {
            record: self.record(),
            view: RemoteView::Decided(answer.clone()),
        }
    }

    /// An answer to one of our requests, pushed by the peer or fetched by Sync Status.
    pub(crate) async fn on_answer(
        &self,
        from: &InstanceRecord,
        signed: &Signed<ConnectionAnswer>,
    ) -> Result<HandshakeResponse, FederationError> {
        let Ok(answer) = signed.open(&from.identity) else {
            return Ok(refused(
                RefusalCode::Unauthenticated,
                "the signature does not verify",
            ));
        };
        if answer.to != self.inner.me.uuid || answer.from != from.uuid {
            return Ok(refused(RefusalCode::WrongRecipient, "not addressed to us"));
        }
        let _guard = self.inner.lock.lock().await;
        let Some(mut record) = self
            .inner
            .connections
            .by_request(&from.uuid.0, &answer.request_id)?
        else {
            return Ok(refused(RefusalCode::UnknownRequest, "no such request"));
        };
        if record.state.direction != Direction::Outgoing {
            return Ok(refused(
                RefusalCode::InvalidState,
                "that request was not ours",
            ));
        }
        let (event, kind) = match &answer.verdict {
            Verdict::Accepted { .. } => (Transition::RemoteAccepted, EventKind::Accepted),
            Verdict::Rejected { reason } => {
                // A peer's reason may be longer than ours, and cut inside a character.
                let reason = truncate(reason, MAX_REASON).to_string();
                (Transition::RemoteRejected { reason }, EventKind::Rejected)
            }
        };
        let before = record.state.status;
        let outcome = connection::apply(&record.state, &event)?;
        let Some(next) = outcome.next else {
            return Ok(super::confirm::acknowledgement(&record));
        };
        if next.status == before {
            return Ok(super::confirm::acknowledgement(&record)); // a repeated answer
        }
        let mut change = Change::default();
        let mut reply = HandshakeResponse::Stored;
        if let Verdict::Accepted { ephemeral } = answer.verdict {
            let (Some(request), Some(mine)) = (&record.request, &record.ephemeral) else {
                return Err(FederationError::MissingKeys(
                    "our request's keys are missing",
                ));
            };
            let bound = answer.confirmation.is_some();
            let their_prekey = answer.prekey.unwrap_or(from.prekey);
            let Some(my_prekey) = self.inner.me.prekey_for(request) else {
                return self
                    .key_mismatch(
                        record,
                        "the pre-key our request named was rotated away before the answer came",
                    )
                    .await;
            };
            let keys = super::keys::channel_keys(
                Role::Initiator,
                &super::keys::Handshake {
                    request_body: &request.body,
                    answer_body: &signed.body,
                    my_ephemeral: mine.0,
                    my_prekey,
                    their_ephemeral: ephemeral,
                    their_prekey,
                    bound: bound.then_some(super::keys::Identities {
                        initiator: self.inner.me.identity.public().to_bytes(),
                        responder: from.identity.to_bytes(),
                    }),
                },
            )?;
            if bound {
                let answers_ours = answer.request_hash
                    == Some(ochat_protocol::agreement::request_hash(&request.body));
                let confirmed = match (&keys.confirmation, &answer.confirmation) {
                    (Some(c), Some(mac)) => answers_ours && c.responder_matches(mac),
                    _ => false,
                };
                if !confirmed {
                    let why = if answers_ours {
                        "the peer's key confirmation does not match ours"
                    } else {
                        "the peer accepted another copy of our request"
                    };
                    return self.key_mismatch(record, why).await;
                }
                record.keys = KeyState::Confirmed;
                record.initiator_mac = keys.confirmation.as_ref().map(|c| c.initiator);
                reply = super::confirm::acknowledgement(&record);
            }
            record.remote_prekey = Some(their_prekey);
            record.remote_ephemeral = Some(ephemeral);
            record.remote_identity = Some(from.identity.to_bytes());
            self.new_channel(&mut record, &keys.ratchet, &mut change)?;
        }
        record.state = next;
        record.remote_name = Some(from.name.clone());
        record.ephemeral = None;
        record.answer = Some(signed.clone());
        record.delivered = true;
        record.delivery_error = None;
        record.updated_at_ms = now_ms();
        change.dequeue.push((record.id, Step::Request));
        change.save = Some(record.clone());
        // The event goes out as soon as the change is written, while it is flushed: it shows
        // what the API already reads. What waits for the flush is the acknowledgement to the
        // peer (`Stored`), and the lock, so a repeated answer cannot be acknowledged before
        // this one is durable. Anything acknowledged later (a message on the new channel, say)
        // waits for a flush that covers this write too: the store's log is written in order.
        self.inner.connections.write(change)?;
        self.inner
            .events
            .connection(kind, ConnectionView::from(&record));
        self.inner.connections.flush().await?;
        Ok(reply)
    }

    async fn on_cancel(
        &self,
        from: &InstanceRecord,
        request_id: uuid::Uuid,
    ) -> Result<HandshakeResponse, FederationError> {
        let _guard = self.inner.lock.lock().await;
        let Some(record) = self
            .inner
            .connections
            .by_request(&from.uuid.0, &request_id)?
        else {
            return Ok(HandshakeResponse::Stored); // already gone
        };
        if record.state.direction != Direction::Incoming {
            return Ok(refused(
                RefusalCode::InvalidState,
                "that request was not yours",
            ));
        }
        let outcome = connection::apply(&record.state, &Transition::RemoteCancelled)?;
        let mut change = Change::default();
        let mut view = ConnectionView::from(&record);
        match outcome.next {
            Some(next) => {
                let mut record = record;
                record.state = next;
                record.updated_at_ms = now_ms();
                view = ConnectionView::from(&record);
                change.save = Some(record);
            }
            None => change.delete = Some(record),
        }
        view.status = Status::Cancelled.to_string();
        self.inner.connections.commit(change).await?;
        self.inner.events.connection(EventKind::Cancelled, view);
        Ok(HandshakeResponse::Stored)
    }

    fn on_query(
        &self,
        from: &InstanceRecord,
        request_id: uuid::Uuid,
    ) -> Result<HandshakeResponse, FederationError> {
        let view = match self
            .inner
            .connections
            .by_request(&from.uuid.0, &request_id)?
        {
            Some(r) if r.state.direction == Direction::Incoming => {
                match (&r.answer, r.state.status) {
                    (Some(answer), Status::Accepted | Status::Rejected) => {
                        RemoteView::Decided(answer.clone())
                    }
                    (_, Status::Pending) => RemoteView::Pending,
                    _ => RemoteView::Unknown,
                }
            }
            _ => RemoteView::Unknown,
        };
        Ok(HandshakeResponse::Status {
            record: self.record(),
            view,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn a_long_text_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("short", 200), "short");
    }
}
