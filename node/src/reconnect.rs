//! A regained connection wakes the outboxes: the node listens to the network actor's
//! connection events ([`NetworkHandle::watch_connected`]) and tells the message delivery
//! ([`Messaging::peer_connected`]) and the handshake outbox ([`Federation::peer_connected`]),
//! so that work waiting for that peer goes at once instead of at the end of its backoff
//! (which grows to `retry_max`, a minute by default). Started by `node.rs`.

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::federation::Federation;
use crate::messaging::Messaging;
use crate::network::NetworkHandle;

/// Runs until `stop` fires or the network stops.
pub(crate) fn spawn(
    network: &NetworkHandle,
    messaging: Messaging,
    federation: Federation,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let mut connected = network.watch_connected();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = connected.recv() => event,
                _ = stop.changed() => return,
            };
            match event {
                Ok(peer) => {
                    tracing::debug!(%peer, "connected: waking what waits for this peer");
                    messaging.peer_connected(peer);
                    federation.peer_connected(peer);
                }
                // Missed events only cost the normal backoff; later ones still arrive.
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "connection events missed");
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}
