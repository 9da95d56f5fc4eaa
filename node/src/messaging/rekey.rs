//! Re-keying a channel (protocol: `ochat_protocol::rekey`): a fresh key agreement signed by
//! both identity keys, giving the channel a new ratchet (a new epoch), so that nothing sealed
//! afterwards uses a key from before.
//!
//! When: after a restore (at start, before the API or any worker runs, every channel of a
//! database with a restore mark not yet planned is flagged,
//! [`Messaging::plan_rekeys_after_restore`]), and when the peer reused a
//! message number with other contents (`inbound` flags the channel). A flagged channel seals
//! nothing: its sends wait in the committer (`Messaging::ensure_rekeyed`) until the re-key is
//! done; a background worker ([`Messaging::spawn_rekeys`]) re-keys flagged channels too.
//!
//! Crash safety: the request (with its ephemeral secret) is stored durably before it is sent
//! and sent again as it is after a crash; the answerer stores its answer with the new ratchet
//! in one atomic write and gives the same answer to the same request again. Installing a new
//! epoch is one atomic write (`store::rekeys`). The previous epoch's ratchet is kept to open
//! what the peer sealed before the re-key; it never seals.
//!
//! Crossing requests (both sides ask at once): the request of the instance with the lower
//! UUID wins; the other side drops its own and answers.

use std::time::Duration;

use ochat_protocol::connection::Status;
use ochat_protocol::ratchet::Ratchet;
use ochat_protocol::record::InstanceRecord;
use ochat_protocol::rekey::{
    RekeyAnswer, RekeyRequest, RekeyTranscript, rekey_request_hash, rekey_root,
};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{Envelope, HandshakeBody, HandshakeResponse, RefusalCode};
use uuid::Uuid;
use x25519_dalek::{PublicKey, StaticSecret};

use super::{Messaging, MessagingError};
use crate::federation::Federation;
use crate::model::now_ms;
use crate::store::ratchets::RatchetPickle;
use crate::store::rekeys::{PendingRekey, RekeyState};

/// How long a send waits for its channel's re-key before it fails (the caller may retry).
pub const REKEY_WAIT: Duration = Duration::from_secs(30);

fn refused(code: RefusalCode, message: impl Into<String>) -> HandshakeResponse {
    HandshakeResponse::Refused {
        code,
        message: message.into(),
    }
}

impl Messaging {
    /// Gives messaging the federation (our record and identity key, to sign re-keys).
    pub fn set_federation(&self, federation: Federation) {
        let _ = self.inner.federation.set(federation);
    }

    fn federation(&self) -> Result<&Federation, MessagingError> {
        self.inner
            .federation
            .get()
            .ok_or_else(|| MessagingError::Rekey("the node is still starting".into()))
    }

    /// After a restore: flags every channel for a re-key, once per restore mark.
    ///
    /// # Errors
    ///
    /// [`MessagingError::Store`].
    pub fn plan_rekeys_after_restore(&self) -> Result<usize, MessagingError> {
        let Some(mark) = self.inner.store.restored_from()? else {
            return Ok(0);
        };
        if self.inner.rekeys.planned(mark.backup)? {
            return Ok(0);
        }
        let channels = self.inner.channels.all()?;
        for ch in &channels {
            self.flag(ch.id, "this node was restored from a backup")?;
        }
        self.inner.rekeys.set_planned(mark.backup)?;
        self.inner.store.flush_blocking()?;
        tracing::warn!(
            channels = channels.len(),
            "restored from a backup: every channel is re-keyed before it sends again"
        );
        Ok(channels.len())
    }

    /// Marks `channel` as needing a re-key (not durable until a flush).
    pub(crate) fn flag(&self, channel: Uuid, reason: &str) -> Result<(), MessagingError> {
        let mut state = self.inner.rekeys.state(channel)?;
        if !state.needed {
            state.needed = true;
            state.reason = reason.to_string();
            self.inner.rekeys.set_state(channel, &state)?;
        }
        Ok(())
    }

    /// Whether `channel` may seal now (not flagged for a re-key).
    pub(crate) fn may_seal(&self, channel: Uuid) -> Result<bool, MessagingError> {
        Ok(!self.inner.rekeys.state(channel)?.needed)
    }

    /// Waits until `channel` is re-keyed if it needs it (runs the re-key, retrying, for at
    /// most [`REKEY_WAIT`]).
    ///
    /// # Errors
    ///
    /// [`MessagingError::Rekey`] when it could not be done in time.
    pub(crate) async fn ensure_rekeyed(&self, channel: Uuid) -> Result<(), MessagingError> {
        let deadline = tokio::time::Instant::now() + REKEY_WAIT;
        let mut wait = Duration::from_millis(100);
        loop {
            if self.may_seal(channel)? {
                return Ok(());
            }
            let error = match self.rekey(channel).await {
                Ok(()) => continue,
                Err(e) => e,
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(MessagingError::Rekey(format!(
                    "the channel is being re-keyed with the peer and it did not answer yet ({error}); try again later"
                )));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Re-keys every flagged channel, retrying, until `stop`.
    pub fn spawn_rekeys(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let mut left = 0;
                for ch in me.inner.channels.all().unwrap_or_default() {
                    if me.may_seal(ch.id).unwrap_or(true) {
                        continue;
                    }
                    if let Err(e) = me.rekey(ch.id).await {
                        left += 1;
                        tracing::debug!(channel = %ch.id, error = %e, "re-key not done yet");
                    }
                }
                let wait = if left > 0 { 1 } else { 5 };
                tokio::select! {
                    _ = stop.changed() => return,
                    () = me.inner.rekey_wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(wait)) => {}
                }
            }
        })
    }

    /// One re-key attempt as the requester.
    async fn rekey(&self, channel: Uuid) -> Result<(), MessagingError> {
        let turn = self.inner.rekey_turns.lock().await;
        let federation = self.federation()?.clone();
        let (ch, conn) = self.channel_for(channel, super::Viewer::Admin)?;
        let mut state = self.inner.rekeys.state(channel)?;
        if !state.needed {
            return Ok(());
        }
        let pending = match state.pending.clone() {
            Some(p) => p,
            None => {
                let secret: [u8; 32] = ochat_protocol::random::random_bytes::<32>()
                    .map_err(|e| MessagingError::Rekey(e.to_string()))?;
                let request = RekeyRequest {
                    conversation: conn.request_id,
                    from: self.inner.me,
                    to: ch.remote,
                    epoch: state.epoch.saturating_add(1),
                    ephemeral: PublicKey::from(&StaticSecret::from(secret)).to_bytes(),
                    sent_at_ms: now_ms(),
                };
                let signed = Signed::seal(&request, &federation.inner.me.identity)
                    .map_err(|e| MessagingError::Rekey(e.to_string()))?;
                let pending = PendingRekey {
                    secret,
                    request: signed,
                };
                state.pending = Some(pending.clone());
                self.inner.rekeys.set_state(channel, &state)?;
                self.inner.flush.wait().await?;
                pending
            }
        };
        let target = self
            .inner
            .peers
            .target(ch.remote, true)
            .await
            .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        let envelope = Envelope {
            record: federation.record(),
            body: HandshakeBody::Rekey(pending.request.clone()),
        };
        let response = self
            .inner
            .network
            .request(target.peer, target.addrs, envelope)
            .await
            .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        let signed = match response {
            HandshakeResponse::Rekeyed(signed) => signed,
            HandshakeResponse::RekeyStale { epoch } => {
                let mut state = self.inner.rekeys.state(channel)?;
                state.epoch = state.epoch.max(epoch);
                state.pending = None;
                self.inner.rekeys.set_state(channel, &state)?;
                return Err(MessagingError::Rekey(format!(
                    "the peer is at epoch {epoch}; asking again above it"
                )));
            }
            HandshakeResponse::Refused { message, .. } => {
                return Err(MessagingError::Rekey(format!(
                    "the peer refused: {message}"
                )));
            }
            _ => {
                return Err(MessagingError::Rekey(
                    "the peer answered out of turn".into(),
                ));
            }
        };
        let their = self
            .inner
            .peers
            .stored(&ch.remote)?
            .ok_or_else(|| MessagingError::Rekey("the peer's key is not known".into()))?;
        let answer = signed
            .open(&their.identity)
            .map_err(|e| MessagingError::Rekey(format!("the answer does not verify: {e}")))?;
        let request: RekeyRequest = Signed::<RekeyRequest>::from_parts(
            pending.request.body.clone(),
            pending.request.signature.clone(),
        )
        .open(&federation.inner.me.identity.public())
        .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        if answer.conversation != conn.request_id
            || answer.from != ch.remote
            || answer.to != self.inner.me
            || answer.request_hash != rekey_request_hash(&pending.request.body)
            || answer.epoch < request.epoch
        {
            return Err(MessagingError::Rekey(
                "the answer does not answer our request".into(),
            ));
        }
        let mine = federation.inner.me.identity.public().to_bytes();
        let theirs = their.identity.to_bytes();
        let transcript = RekeyTranscript {
            requester_identity: &mine,
            answerer_identity: &theirs,
            request: &pending.request.body,
            answerer_ephemeral: &answer.ephemeral,
        };
        let their_eph = PublicKey::from(answer.ephemeral);
        let root = rekey_root(&StaticSecret::from(pending.secret), &their_eph, &transcript)
            .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        let ratchet = Ratchet::init_initiator(root, their_eph)?;
        {
            let lock = self.channel_lock(channel);
            let _held = lock.lock().await;
            let mut state = self.inner.rekeys.state(channel)?;
            let old = self
                .inner
                .ratchets
                .pickle(channel)?
                .ok_or(MessagingError::NoRatchet(channel))?;
            state.epoch = answer.epoch;
            state.needed = false;
            state.reason.clear();
            state.pending = None;
            self.inner
                .rekeys
                .install(channel, &old, &RatchetPickle::pickle(&ratchet)?, &state)?;
        }
        self.inner.flush.wait().await?;
        drop(turn);
        tracing::info!(%channel, epoch = answer.epoch, "channel re-keyed (we asked)");
        Ok(())
    }

    /// Answers a peer's re-key request (`record` is the authenticated sender's record).
    pub async fn handle_rekey(
        &self,
        record: &InstanceRecord,
        signed: &Signed<RekeyRequest>,
    ) -> HandshakeResponse {
        match self.answer_rekey(record, signed).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = %e, "failed to answer a re-key request");
                refused(
                    RefusalCode::Internal,
                    "the receiver failed; try again later",
                )
            }
        }
    }

    async fn answer_rekey(
        &self,
        record: &InstanceRecord,
        signed: &Signed<RekeyRequest>,
    ) -> Result<HandshakeResponse, MessagingError> {
        let Ok(request) = signed.open(&record.identity) else {
            return Ok(refused(
                RefusalCode::Unauthenticated,
                "the signature does not verify",
            ));
        };
        if request.to != self.inner.me || request.from != record.uuid {
            return Ok(refused(RefusalCode::WrongRecipient, "not addressed to us"));
        }
        let federation = self.federation()?.clone();
        let Some(conn) = self
            .inner
            .connections
            .by_request(&request.from.0, &request.conversation)?
        else {
            return Ok(refused(RefusalCode::UnknownRequest, "unknown conversation"));
        };
        let (Some(channel), Status::Accepted) = (conn.channel_id, conn.state.status) else {
            return Ok(refused(
                RefusalCode::InvalidState,
                "the connection is not accepted here",
            ));
        };
        let hash = rekey_request_hash(&signed.body);
        let lock = self.channel_lock(channel);
        let held = lock.lock().await;
        let mut state: RekeyState = self.inner.rekeys.state(channel)?;
        if let Some((answered, answer)) = &state.answered
            && *answered == hash
        {
            return Ok(HandshakeResponse::Rekeyed(answer.clone()));
        }
        if state.pending.is_some() && self.inner.me.as_bytes() < request.from.as_bytes() {
            return Ok(refused(
                RefusalCode::InvalidState,
                "our own re-key request is under way; answer it",
            ));
        }
        if request.epoch <= state.epoch {
            return Ok(HandshakeResponse::RekeyStale { epoch: state.epoch });
        }
        let secret = StaticSecret::from(
            ochat_protocol::random::random_bytes::<32>()
                .map_err(|e| MessagingError::Rekey(e.to_string()))?,
        );
        let ephemeral = PublicKey::from(&secret).to_bytes();
        let answer = Signed::seal(
            &RekeyAnswer {
                conversation: request.conversation,
                from: self.inner.me,
                to: request.from,
                epoch: request.epoch,
                request_hash: hash,
                ephemeral,
                sent_at_ms: now_ms(),
            },
            &federation.inner.me.identity,
        )
        .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        let theirs = record.identity.to_bytes();
        let mine = federation.inner.me.identity.public().to_bytes();
        let transcript = RekeyTranscript {
            requester_identity: &theirs,
            answerer_identity: &mine,
            request: &signed.body,
            answerer_ephemeral: &ephemeral,
        };
        let root = rekey_root(&secret, &PublicKey::from(request.ephemeral), &transcript)
            .map_err(|e| MessagingError::Rekey(e.to_string()))?;
        let ratchet = Ratchet::init_responder(root, &secret)?;
        let old = self
            .inner
            .ratchets
            .pickle(channel)?
            .ok_or(MessagingError::NoRatchet(channel))?;
        state.epoch = request.epoch;
        state.needed = false;
        state.reason.clear();
        state.pending = None;
        state.answered = Some((hash, answer.clone()));
        self.inner
            .rekeys
            .install(channel, &old, &RatchetPickle::pickle(&ratchet)?, &state)?;
        drop(held);
        self.inner.flush.wait().await?;
        tracing::info!(%channel, epoch = request.epoch, "channel re-keyed (the peer asked)");
        Ok(HandshakeResponse::Rekeyed(answer))
    }

    /// The peer reused a message number with other contents: flag the channel and wake the
    /// re-key worker (we ask for the re-key).
    pub(crate) fn peer_needs_rekey(&self, channel: Uuid, n: u32) -> Result<(), MessagingError> {
        self.flag(
            channel,
            &format!("the peer reused message number {n} with other contents"),
        )?;
        self.inner.rekey_wake.notify_one();
        Ok(())
    }
}
