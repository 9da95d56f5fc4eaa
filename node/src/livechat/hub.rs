//! Live delivery: one broadcast channel per visitor session and one per operator. Events are
//! serialized once, only if someone is listening, and pushed as JSON text; nobody listening
//! is fine (the transcript is in the store). WebSocket handlers subscribe; the service publishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::accounts::Revocations;

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
    /// Bumped whenever tokens are revoked: open sockets then re-check their token (shared
    /// with the accounts, which revoke operators' tokens).
    revoked: Revocations,
    open_sockets: Arc<watch::Sender<usize>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(Revocations::default())
    }
}

impl Hub {
    /// A hub whose sockets re-check their token when `revoked` is bumped.
    pub fn new(revoked: Revocations) -> Self {
        Hub {
            sessions: Senders::default(),
            operators: Senders::default(),
            closing: watch::channel(false).0,
            revoked,
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

/// An event on its way: serialized at most once, when the first recipient that has a socket
/// listening needs it (nobody listening costs no serialization).
struct Text<'a, T: Serialize> {
    event: &'a T,
    text: Option<Arc<str>>,
}

impl<'a, T: Serialize> Text<'a, T> {
    fn new(event: &'a T) -> Self {
        Text { event, text: None }
    }

    fn get(&mut self) -> Option<Arc<str>> {
        if self.text.is_none() {
            self.text = serde_json::to_string(self.event).ok().map(Arc::from);
        }
        self.text.clone()
    }
}

fn publish<T: Serialize>(map: &Senders, key: Uuid, text: &mut Text<'_, T>) {
    let Ok(mut m) = map.lock() else {
        return;
    };
    let Some(tx) = m.get(&key) else {
        return;
    };
    // Sending fails only when every receiver is gone: forget the channel then.
    if tx.receiver_count() == 0 {
        m.remove(&key);
        return;
    }
    if let Some(text) = text.get()
        && tx.send(text).is_err()
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

    /// Tells open sockets that some tokens were revoked (each re-checks its own).
    pub fn tokens_revoked(&self) {
        self.revoked.bump();
    }

    /// Changes whenever tokens are revoked.
    pub fn revocations(&self) -> watch::Receiver<u64> {
        self.revoked.subscribe()
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
        publish(&self.sessions, session, &mut Text::new(event));
    }

    /// Pushes an event to an operator's sockets.
    pub fn to_operator(&self, operator: Uuid, event: &impl Serialize) {
        publish(&self.operators, operator, &mut Text::new(event));
    }

    /// Pushes one event to a session's visitor sockets and to operators' sockets, serialized
    /// once for all of them.
    pub fn to_session_and_operators(
        &self,
        session: Uuid,
        operators: &[Uuid],
        event: &impl Serialize,
    ) {
        let mut text = Text::new(event);
        publish(&self.sessions, session, &mut text);
        for op in operators {
            publish(&self.operators, *op, &mut text);
        }
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

    /// Counts how often it is serialized.
    struct Counted(std::sync::atomic::AtomicUsize);

    impl Serialize for Counted {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            s.serialize_str("m")
        }
    }

    #[tokio::test]
    async fn one_event_for_a_session_and_its_operators_is_serialized_once_and_only_if_heard() {
        let hub = Hub::default();
        let (session, ann, bea) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let event = Counted(std::sync::atomic::AtomicUsize::new(0));
        let times = || event.0.load(std::sync::atomic::Ordering::SeqCst);

        hub.to_session_and_operators(session, &[ann, bea], &event);
        assert_eq!(times(), 0, "nobody listens");

        let mut visitor = hub.subscribe_session(session);
        let mut ann_rx = hub.subscribe_operator(ann);
        let mut bea_rx = hub.subscribe_operator(bea);
        drop(hub.subscribe_operator(Uuid::from_u128(4)));
        hub.to_session_and_operators(session, &[ann, bea, Uuid::from_u128(4)], &event);
        assert_eq!(times(), 1);
        for rx in [&mut visitor, &mut ann_rx, &mut bea_rx] {
            assert_eq!(&*rx.recv().await.unwrap(), "\"m\"");
        }
    }
}
