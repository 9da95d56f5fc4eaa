//! Key confirmation of handshake 2 (see `keys`): the initiator's refusal of an acceptance
//! whose keys do not match ours, and the responder's check of the initiator's MAC_I from its
//! acknowledgement. Both leave a clear `keys` state on the connection (`confirmed` or
//! `mismatch` with the reason and the way out). Used by `inbound` and `outbox`.

use ochat_protocol::wire::{HandshakeResponse, RefusalCode};

use super::{Federation, FederationError};
use crate::events::EventKind;
use crate::model::{ConnectionRecord, ConnectionView, KeyState, now_ms};
use crate::store::connections::Change;

/// Our acknowledgement of an answer we already stored: `Confirmed` again (with MAC_I) when we
/// confirmed its keys, so a responder whose first acknowledgement went missing (the answer
/// reached us by Sync Status) still gets it.
pub(super) fn acknowledgement(record: &ConnectionRecord) -> HandshakeResponse {
    match (record.keys, record.initiator_mac) {
        (KeyState::Confirmed, Some(mac)) => HandshakeResponse::Confirmed { mac },
        _ => HandshakeResponse::Stored,
    }
}

impl Federation {
    /// The peer's acceptance does not confirm our keys (it answers another copy of our
    /// request, or its MAC does not match): no channel is made, the connection says so, and
    /// the peer is told. The way out: delete the connection and request again.
    pub(super) async fn key_mismatch(
        &self,
        mut record: ConnectionRecord,
        why: &str,
    ) -> Result<HandshakeResponse, FederationError> {
        tracing::warn!(connection = %record.id, "{why}: no channel was made");
        record.keys = KeyState::Mismatch;
        record.delivery_error = Some(format!(
            "{why}: no channel was made; delete this connection and request again"
        ));
        record.updated_at_ms = now_ms();
        let view = ConnectionView::from(&record);
        self.inner.connections.write(Change::save(record))?;
        self.inner.events.connection(EventKind::Updated, view);
        self.inner.connections.flush().await?;
        Ok(HandshakeResponse::Refused {
            code: RefusalCode::Unauthenticated,
            message: format!("key confirmation failed: {why}"),
        })
    }

    /// Responder: the initiator's acknowledgement of our accepted answer, with its MAC_I.
    pub(crate) async fn on_confirmation(
        &self,
        connection: uuid::Uuid,
        mac: &[u8; 32],
    ) -> Result<(), FederationError> {
        let _guard = self.inner.lock.lock().await;
        let Some(mut record) = self.inner.connections.load(&connection)? else {
            return Ok(());
        };
        let (Some(expected), KeyState::Unconfirmed) = (record.initiator_mac, record.keys) else {
            return Ok(());
        };
        let matches = expected.iter().zip(mac).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
        record.keys = if matches {
            KeyState::Confirmed
        } else {
            tracing::warn!(connection = %record.id, "the peer's key confirmation does not match ours");
            record.delivery_error = Some(
                "the peer's key confirmation does not match ours: messages on this channel will not open; delete this connection and request again".into(),
            );
            KeyState::Mismatch
        };
        record.updated_at_ms = now_ms();
        let view = ConnectionView::from(&record);
        self.inner.connections.write(Change::save(record))?;
        self.inner.events.connection(EventKind::Updated, view);
        Ok(())
    }
}
