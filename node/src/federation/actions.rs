//! What a local user does with connections. Each action is one transition of the pure state
//! machine; its new state and the outbox steps it causes are stored in one transaction and
//! flushed before the action answers.

use ochat_protocol::connection::{self, Direction, Effect, Event as Transition, Outcome, Status};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::random::random_bytes;
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{ConnectionRequest, MAX_REASON, MAX_REQUEST_MESSAGE};
use uuid::Uuid;

use super::{Federation, FederationError};
use crate::events::EventKind;
use crate::model::{
    ChannelRecord, ConnectionRecord, ConnectionView, KeyState, OutboxItem, Step, StoredSecret,
    now_ms,
};
use crate::peers::Resolution;
use crate::store::channels::NewChannel;
use crate::store::connections::{Change, RequestKey};
use crate::store::ratchets::RatchetPickle;

/// Longest contact name.
pub const MAX_CONTACT: usize = 200;

/// Filters for listing connections.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only this status.
    pub status: Option<Status>,
}

fn check_len(what: &'static str, text: &Option<String>, max: usize) -> Result<(), FederationError> {
    match text {
        Some(t) if t.len() > max => Err(FederationError::TooLong {
            what,
            len: t.len(),
            max,
        }),
        _ => Ok(()),
    }
}

pub(crate) fn new_secret() -> Result<StoredSecret, FederationError> {
    Ok(StoredSecret(random_bytes::<32>()?))
}

impl Federation {
    /// Lists connections, newest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<ConnectionView>, FederationError> {
        let mut all: Vec<ConnectionView> = self
            .inner
            .connections
            .all()?
            .iter()
            .filter(|c| filter.direction.is_none_or(|d| c.state.direction == d))
            .filter(|c| filter.status.is_none_or(|s| c.state.status == s))
            .map(ConnectionView::from)
            .collect();
        all.reverse();
        Ok(all)
    }

    /// Finds a connection by id or by a unique prefix of its id (at least 4 characters).
    pub fn find(&self, id_or_prefix: &str) -> Result<ConnectionRecord, FederationError> {
        let wanted = id_or_prefix.trim().to_ascii_lowercase();
        if let Ok(id) = Uuid::parse_str(&wanted) {
            return self
                .inner
                .connections
                .load(&id)?
                .ok_or(FederationError::NoConnection(wanted));
        }
        if wanted.len() < 4 {
            return Err(FederationError::ShortId);
        }
        let mut found: Vec<ConnectionRecord> = self
            .inner
            .connections
            .all()?
            .into_iter()
            .filter(|c| c.id.to_string().starts_with(&wanted))
            .collect();
        match found.len() {
            0 => Err(FederationError::NoConnection(wanted)),
            1 => Ok(found.remove(0)),
            n => Err(FederationError::Ambiguous {
                matches: n,
                prefix: wanted,
            }),
        }
    }

    /// Creates an outgoing connection in Draft; with `send`, sends the request at once (one
    /// flush covers both writes).
    pub async fn create(
        &self,
        remote: &str,
        contact: Option<String>,
        message: Option<String>,
        send: bool,
    ) -> Result<ConnectionView, FederationError> {
        let remote: InstanceId = remote.parse()?;
        if remote == self.inner.me.uuid {
            return Err(FederationError::OwnUuid);
        }
        check_len("contact", &contact, MAX_CONTACT)?;
        check_len("message", &message, MAX_REQUEST_MESSAGE)?;
        let guard = self.inner.lock.lock().await;
        self.check_unique(remote, None)?;
        let now = now_ms();
        let record = ConnectionRecord {
            id: Uuid::now_v7(),
            request_id: Uuid::new_v4(),
            state: connection::new_outgoing(remote.0, contact, message),
            remote_name: None,
            request: None,
            answer: None,
            ephemeral: None,
            remote_prekey: None,
            remote_ephemeral: None,
            channel_id: None,
            delivered: false,
            delivery_error: None,
            members: Vec::new(),
            created_at_ms: now,
            updated_at_ms: now,
            seen: true,
            remote_identity: None,
            keys: KeyState::Pending,
            initiator_mac: None,
        };
        self.inner.connections.write(Change::save(record.clone()))?;
        drop(guard);
        let view = ConnectionView::from(&record);
        if send {
            // The request's commit makes the draft durable too; its event comes after this one.
            self.inner
                .events
                .connection(EventKind::Created, view.clone());
            let sent = self.send(&record.id.to_string()).await;
            if sent.is_err() {
                self.inner.connections.flush().await?;
            }
            return sent;
        }
        self.inner.connections.flush().await?;
        self.inner
            .events
            .connection(EventKind::Created, view.clone());
        Ok(view)
    }

    /// A UUID appears at most once among an instance's connections.
    fn check_unique(
        &self,
        remote: InstanceId,
        except: Option<Uuid>,
    ) -> Result<(), FederationError> {
        let existing = self
            .inner
            .connections
            .all()?
            .into_iter()
            .find(|c| c.state.remote == remote.0 && Some(c.id) != except);
        match existing {
            Some(c) => Err(FederationError::Duplicate {
                remote,
                id: c.id,
                status: c.state.status,
            }),
            None => Ok(()),
        }
    }

    /// Send Request (Draft → Pending, or Not Found when nobody knows the UUID).
    pub async fn send(&self, id: &str) -> Result<ConnectionView, FederationError> {
        self.transition(id, Transition::SendRequest).await
    }

    /// Retry Request (Not Found → Pending).
    pub async fn retry(&self, id: &str) -> Result<ConnectionView, FederationError> {
        self.transition(id, Transition::RetryRequest).await
    }

    /// Cancel a pending outgoing request.
    pub async fn cancel(&self, id: &str) -> Result<ConnectionView, FederationError> {
        self.transition(id, Transition::Cancel).await
    }

    /// Accept an incoming request, assigning a contact; creates the channel.
    pub async fn accept(&self, id: &str, contact: &str) -> Result<ConnectionView, FederationError> {
        check_len("contact", &Some(contact.to_string()), MAX_CONTACT)?;
        self.transition(
            id,
            Transition::Accept {
                contact: contact.to_string(),
            },
        )
        .await
    }

    /// Reject an incoming request with a reason the requester can read.
    pub async fn reject(&self, id: &str, reason: &str) -> Result<ConnectionView, FederationError> {
        check_len("reason", &Some(reason.to_string()), MAX_REASON)?;
        self.transition(
            id,
            Transition::Reject {
                reason: reason.to_string(),
            },
        )
        .await
    }

    /// Edit UUID (Draft or Not Found).
    pub async fn edit_uuid(
        &self,
        id: &str,
        remote: &str,
    ) -> Result<ConnectionView, FederationError> {
        let remote: InstanceId = remote.parse()?;
        if remote == self.inner.me.uuid {
            return Err(FederationError::OwnUuid);
        }
        let current = self.find(id)?;
        self.check_unique(remote, Some(current.id))?;
        self.transition(id, Transition::EditUuid { remote: remote.0 })
            .await
    }

    /// Delete (Draft, Not Found, Accepted, Rejected, Cancelled). Deleting an Accepted
    /// connection is local: its channel is kept (hidden) and reused if the two instances connect
    /// again.
    pub async fn delete(&self, id: &str) -> Result<ConnectionView, FederationError> {
        self.transition(id, Transition::Delete).await
    }

    /// Applies a user action: check the transition, carry out its effects, store atomically.
    async fn transition(
        &self,
        id: &str,
        event: Transition,
    ) -> Result<ConnectionView, FederationError> {
        let current = self.find(id)?;
        if matches!(event, Transition::SyncStatus) {
            return self.sync(&current.id.to_string()).await;
        }
        // Resolve before taking the lock: the directory may be slow.
        let resolution = if matches!(event, Transition::SendRequest | Transition::RetryRequest) {
            connection::apply(&current.state, &event)?;
            Some(
                self.inner
                    .peers
                    .resolve(InstanceId(current.state.remote), true)
                    .await,
            )
        } else {
            None
        };
        // The dial runs while the request is committed: it is up when the outbox sends.
        if let Some(Resolution::Found(target)) = &resolution {
            self.inner
                .network
                .connect_ahead(target.peer, target.addrs.clone());
        }
        let _guard = self.inner.lock.lock().await;
        let mut record = self
            .inner
            .connections
            .load(&current.id)?
            .ok_or_else(|| FederationError::NoConnection(id.to_string()))?;
        let outcome = connection::apply(&record.state, &event)?;
        let mut change = Change::default();
        let kind = self.carry_out(&mut record, &event, &outcome, &mut change)?;
        let mut kind = kind;
        if let Some(Resolution::NotFound) = resolution {
            let lookup = connection::apply(&record.state, &Transition::LookupFailed)?;
            if let Some(next) = lookup.next {
                record.state = next;
            }
            change.enqueue.clear();
            // The signed request and its ephemeral are kept: Retry Request sends the same ones.
            record.delivery_error = Some(format!(
                "no instance with UUID {} is known (no record in the directory or the local cache)",
                record.state.remote
            ));
            kind = EventKind::NotFound;
        }
        record.updated_at_ms = now_ms();
        if outcome.next.is_some() {
            change.save = Some(record.clone());
        } else {
            change.delete = Some(record.clone());
        }
        let retired = change.retire.as_ref().map(ConnectionView::from);
        self.inner.connections.commit(change).await?;
        self.inner.wake.notify_one();
        if let Some(old) = retired {
            self.inner.events.connection(EventKind::Deleted, old);
        }
        let view = ConnectionView::from(&record);
        self.inner.events.connection(kind, view.clone());
        Ok(view)
    }

    /// Carries out the effects of a local transition on `record` and `change`.
    fn carry_out(
        &self,
        record: &mut ConnectionRecord,
        event: &Transition,
        outcome: &Outcome,
        change: &mut Change,
    ) -> Result<EventKind, FederationError> {
        let old_index = RequestKey::of(record);
        if let Some(next) = &outcome.next {
            record.state = next.clone();
        }
        let mut kind = EventKind::Updated;
        if let Transition::EditUuid { .. } = event {
            // A new remote: a new request id, nothing of the old handshake kept.
            change.drop_index = Some(old_index);
            record.request_id = Uuid::new_v4();
            record.request = None;
            record.ephemeral = None;
            record.delivered = false;
            record.delivery_error = None;
        }
        for effect in &outcome.effects {
            match effect {
                // A Retry Request sends the very request (and ephemeral) it sent before, so the
                // peer, which keeps the first copy it got, and we derive the same root.
                Effect::DeliverRequest
                    if record.request.is_some() && record.ephemeral.is_some() =>
                {
                    record.delivered = false;
                    record.delivery_error = None;
                    change.enqueue.push(self.outbox_item(record, Step::Request));
                }
                Effect::DeliverRequest => {
                    let ephemeral = new_secret()?;
                    let request = ConnectionRequest {
                        request_id: record.request_id,
                        from: self.inner.me.uuid,
                        to: InstanceId(record.state.remote),
                        from_name: self.inner.me.name.clone(),
                        message: record.state.message.clone(),
                        ephemeral: super::keys::public_of(&ephemeral.0),
                        sent_at_ms: now_ms(),
                        prekey: Some(super::keys::public_of(&self.inner.me.prekey.0)),
                    };
                    record.request = Some(Signed::seal(&request, &self.inner.me.identity)?);
                    record.ephemeral = Some(ephemeral);
                    record.delivered = false;
                    record.delivery_error = None;
                    change.enqueue.push(self.outbox_item(record, Step::Request));
                }
                Effect::DeliverCancel => {
                    change.dequeue.push((record.id, Step::Request));
                    change.enqueue.push(self.outbox_item(record, Step::Cancel));
                    record.ephemeral = None;
                    record.delivered = false;
                    kind = EventKind::Cancelled;
                }
                Effect::DeliverAccept | Effect::DeliverReject => {
                    self.answer(record, change)?;
                    kind = if matches!(effect, Effect::DeliverAccept) {
                        EventKind::Accepted
                    } else {
                        EventKind::Rejected
                    };
                }
                Effect::Remove => kind = EventKind::Deleted,
                Effect::CreateChannel | Effect::QueryRemote => {}
            }
        }
        Ok(kind)
    }

    /// The channel of a connection being accepted, put in `change`. As the O'Chat rules say,
    /// an earlier channel with the same remote instance (left when its connection was deleted
    /// here, or still held by an earlier connection the peer deleted on its side) is reused:
    /// same id and history, the fresh key agreement's ratchet, the new connection; an earlier
    /// connection that still holds it is retired, so the UUID appears once. Otherwise a new
    /// channel is created.
    pub(crate) fn new_channel(
        &self,
        record: &mut ConnectionRecord,
        ratchet: &ochat_protocol::ratchet::Ratchet,
        change: &mut Change,
    ) -> Result<(), FederationError> {
        let remote = InstanceId(record.state.remote);
        let earlier = self.inner.connections.latest_channel_with(remote)?;
        let name = record
            .state
            .contact
            .clone()
            .or_else(|| record.remote_name.clone())
            .unwrap_or_else(|| record.state.remote.to_string());
        let (id, created_at_ms) = match &earlier {
            Some(c) => (c.id, c.created_at_ms),
            None => (Uuid::now_v7(), now_ms()),
        };
        if let Some(c) = &earlier {
            change.channel_reused = true;
            change.retire = self
                .inner
                .connections
                .load(&c.connection_id)?
                .filter(|old| old.id != record.id);
            tracing::info!(channel = %c.id, remote = %remote, "an earlier channel with this instance is reused, with fresh keys");
        }
        record.channel_id = Some(id);
        change.channel = Some(NewChannel {
            record: ChannelRecord {
                id,
                connection_id: record.id,
                remote,
                name,
                created_at_ms,
            },
            ratchet: RatchetPickle::pickle(ratchet)?,
        });
        Ok(())
    }

    pub(crate) fn outbox_item(&self, record: &ConnectionRecord, step: Step) -> OutboxItem {
        OutboxItem {
            connection_id: record.id,
            remote: InstanceId(record.state.remote),
            step,
            attempts: 0,
            next_attempt_ms: 0,
        }
    }

    /// The administrator opens a connection: an incoming request is no longer marked new.
    pub async fn mark_seen(&self, id: &str) -> Result<ConnectionView, FederationError> {
        let current = self.find(id)?;
        if current.seen {
            return Ok(ConnectionView::from(&current));
        }
        self.update_stored(current.id, |record| record.seen = true)
            .await
    }

    /// Changes a stored connection under the lock (`change` sees its latest value), stores it
    /// durably and announces it; for changes that are not transitions of the handshake.
    async fn update_stored(
        &self,
        id: Uuid,
        change: impl FnOnce(&mut ConnectionRecord),
    ) -> Result<ConnectionView, FederationError> {
        let _guard = self.inner.lock.lock().await;
        let mut record = self
            .inner
            .connections
            .load(&id)?
            .ok_or_else(|| FederationError::NoConnection(id.to_string()))?;
        change(&mut record);
        self.inner
            .connections
            .commit(Change::save(record.clone()))
            .await?;
        let view = ConnectionView::from(&record);
        self.inner
            .events
            .connection(EventKind::Updated, view.clone());
        Ok(view)
    }

    /// Removes a deleted user from the members of every connection, whatever its status;
    /// answers how many connections had them.
    pub async fn forget_member(&self, user: Uuid) -> Result<usize, FederationError> {
        let theirs: Vec<Uuid> = self
            .inner
            .connections
            .all()?
            .into_iter()
            .filter(|c| c.members.contains(&user))
            .map(|c| c.id)
            .collect();
        for id in &theirs {
            self.update_stored(*id, |record| {
                record.members.retain(|m| *m != user);
                record.updated_at_ms = now_ms();
            })
            .await?;
        }
        Ok(theirs.len())
    }

    /// Adds or removes a member of an accepted connection's channel.
    pub async fn set_member(
        &self,
        id: &str,
        user: Uuid,
        member: bool,
    ) -> Result<ConnectionView, FederationError> {
        let current = self.find(id)?;
        if current.state.status != Status::Accepted {
            return Err(FederationError::NotAccepted(current.state.status));
        }
        let exists = self.inner.accounts.user_exists(user)?;
        if !exists {
            return Err(FederationError::NoUser(user));
        }
        self.update_stored(current.id, |record| {
            record.members.retain(|m| *m != user);
            if member {
                record.members.push(user);
            }
            record.updated_at_ms = now_ms();
        })
        .await
    }
}
