//! Live delivery: one broadcast channel per visitor session and one per operator. Events are
//! serialized once and pushed as JSON text; nobody listening is fine (the transcript is in
//! sled). WebSocket handlers subscribe; the service publishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// How many events a slow operator socket may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;
/// The same for a visitor session. tokio's broadcast channel allocates every slot up front
/// (about 32 bytes each), and a website keeps thousands of mostly idle visitor sockets open;
/// one session sees a few events a second, and a widget told it lagged reads the transcript
/// again.
const SESSION_CAPACITY: usize = 16;

type Senders = Mutex<HashMap<Uuid, broadcast::Sender<Arc<str>>>>;

/// The live event hub.
#[derive(Debug)]
pub struct Hub {
    sessions: Senders,
    operators: Senders,
    closing: watch::Sender<bool>,
    open_sockets: Arc<watch::Sender<usize>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            sessions: Senders::default(),
            operators: Senders::default(),
            closing: watch::channel(false).0,
            open_sockets: Arc::new(watch::channel(0).0),
        }
    }
}

/// Counts one open socket until dropped.
#[derive(Debug)]
pub struct OpenSocket(Arc<watch::Sender<usize>>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

fn subscribe(map: &Senders, key: Uuid, capacity: usize) -> broadcast::Receiver<Arc<str>> {
    match map.lock() {
        Ok(mut m) => m
            .entry(key)
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe(),
        Err(_) => broadcast::channel(1).1,
    }
}

fn publish(map: &Senders, key: Uuid, event: &impl Serialize) {
    let Ok(text) = serde_json::to_string(event) else {
        return;
    };
    if let Ok(mut m) = map.lock()
        && let Some(tx) = m.get(&key)
        && tx.send(Arc::from(text)).is_err()
    {
        m.remove(&key);
    }
}

impl Hub {
    /// Registers an open socket; it must end when [`Hub::closing`] turns true.
    pub fn socket_opened(&self) -> OpenSocket {
        self.open_sockets.send_modify(|n| *n += 1);
        OpenSocket(self.open_sockets.clone())
    }

    /// Turns true when the node shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Asks every socket to end and waits until they have.
    pub async fn close_all(&self) {
        self.closing.send_replace(true);
        let mut open = self.open_sockets.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }

    /// Events of one visitor session.
    pub fn subscribe_session(&self, session: Uuid) -> broadcast::Receiver<Arc<str>> {
        subscribe(&self.sessions, session, SESSION_CAPACITY)
    }

    /// Events for one operator.
    pub fn subscribe_operator(&self, operator: Uuid) -> broadcast::Receiver<Arc<str>> {
        subscribe(&self.operators, operator, CAPACITY)
    }

    /// Pushes an event to a session's visitor sockets.
    pub fn to_session(&self, session: Uuid, event: &impl Serialize) {
        publish(&self.sessions, session, event);
    }

    /// Pushes an event to an operator's sockets.
    pub fn to_operator(&self, operator: Uuid, event: &impl Serialize) {
        publish(&self.operators, operator, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_only_their_subscribers() {
        let hub = Hub::default();
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let mut ra = hub.subscribe_session(a);
        let mut rb = hub.subscribe_session(b);
        hub.to_session(a, &serde_json::json!({"n": 1}));
        assert_eq!(&*ra.recv().await.unwrap(), "{\"n\":1}");
        assert!(rb.try_recv().is_err());
        hub.to_operator(a, &serde_json::json!({"n": 2}));
        assert!(ra.try_recv().is_err());
    }

    #[test]
    fn publishing_with_nobody_listening_is_fine() {
        let hub = Hub::default();
        hub.to_operator(Uuid::from_u128(9), &"hello");
        let rx = hub.subscribe_operator(Uuid::from_u128(9));
        drop(rx);
        hub.to_operator(Uuid::from_u128(9), &"again");
    }
}
