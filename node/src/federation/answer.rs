//! The responder's answer to an incoming request: signed, and for an acceptance the channel's
//! keys. Handshake 2 (the request names the initiator's pre-key) binds the answer to the exact
//! request (`request_hash`), names our pre-key and carries MAC_R; we keep MAC_I to check the
//! initiator's acknowledgement. Handshake 1 (an earlier requester) hashes the signed answer
//! into the transcript instead. Used by `actions` (accept, reject) and `inbound` (automatic
//! acceptance).

use ochat_protocol::connection::Status;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{ConnectionAnswer, Verdict};

use super::actions::new_secret;
use super::{Federation, FederationError};
use crate::model::{ConnectionRecord, KeyState, Step, now_ms};
use crate::store::connections::Change;

impl Federation {
    /// Signs our answer to an incoming request; for an acceptance also creates the channel.
    pub(super) fn answer(
        &self,
        record: &mut ConnectionRecord,
        change: &mut Change,
    ) -> Result<(), FederationError> {
        let accepted = record.state.status == Status::Accepted;
        let ephemeral = new_secret()?;
        let verdict = if accepted {
            Verdict::Accepted {
                ephemeral: super::keys::public_of(&ephemeral.0),
            }
        } else {
            Verdict::Rejected {
                reason: record.state.reject_reason.clone().unwrap_or_default(),
            }
        };
        let bound = record.keys != KeyState::Legacy;
        let mut answer = ConnectionAnswer {
            request_id: record.request_id,
            from: self.inner.me.uuid,
            to: InstanceId(record.state.remote),
            verdict,
            sent_at_ms: now_ms(),
            request_hash: None,
            prekey: None,
            confirmation: None,
        };
        if bound {
            answer.request_hash = record
                .request
                .as_ref()
                .map(|r| ochat_protocol::agreement::request_hash(&r.body));
        }
        let mut channel_keys = None;
        if accepted {
            let (request, their_prekey, their_ephemeral) = match (
                &record.request,
                record.remote_prekey,
                record.remote_ephemeral,
            ) {
                (Some(r), Some(p), Some(e)) => (r, p, e),
                _ => {
                    return Err(FederationError::MissingKeys(
                        "the incoming request's keys are missing",
                    ));
                }
            };
            if bound {
                let identities = super::keys::Identities {
                    initiator: record.remote_identity.ok_or_else(|| {
                        FederationError::MissingKeys("the requester's identity key is missing")
                    })?,
                    responder: self.inner.me.identity.public().to_bytes(),
                };
                let keys = super::keys::channel_keys(
                    ochat_protocol::agreement::Role::Responder,
                    &super::keys::Handshake {
                        request_body: &request.body,
                        answer_body: &[],
                        my_ephemeral: ephemeral.0,
                        my_prekey: self.inner.me.prekey.0,
                        their_ephemeral,
                        their_prekey,
                        bound: Some(identities),
                    },
                )?;
                answer.prekey = Some(super::keys::public_of(&self.inner.me.prekey.0));
                if let Some(c) = &keys.confirmation {
                    answer.confirmation = Some(c.responder);
                    record.initiator_mac = Some(c.initiator);
                }
                record.keys = KeyState::Unconfirmed;
                channel_keys = Some(keys.ratchet);
            }
        }
        let signed = Signed::seal(&answer, &self.inner.me.identity)?;
        if accepted && !bound {
            // Handshake 1 (a requester of an earlier version): the answer's bytes are part of
            // the transcript.
            let (Some(request), Some(their_prekey), Some(their_ephemeral)) = (
                &record.request,
                record.remote_prekey,
                record.remote_ephemeral,
            ) else {
                return Err(FederationError::MissingKeys(
                    "the incoming request's keys are missing",
                ));
            };
            let keys = super::keys::channel_keys(
                ochat_protocol::agreement::Role::Responder,
                &super::keys::Handshake {
                    request_body: &request.body,
                    answer_body: &signed.body,
                    my_ephemeral: ephemeral.0,
                    my_prekey: self.inner.me.prekey.0,
                    their_ephemeral,
                    their_prekey,
                    bound: None,
                },
            )?;
            channel_keys = Some(keys.ratchet);
        }
        if let Some(ratchet) = channel_keys {
            self.new_channel(record, &ratchet, change)?;
        }
        record.answer = Some(signed);
        record.delivered = false;
        change.enqueue.push(self.outbox_item(record, Step::Answer));
        Ok(())
    }
}
