//! Live events for operator UIs: a broadcast channel the WebSocket route subscribes to.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{ConnectionView, MessageView};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A connection was created locally.
    Created,
    /// Another instance sent us a connection request.
    IncomingRequest,
    /// The peer stored the step we sent.
    Delivered,
    /// The connection was accepted (a channel exists now).
    Accepted,
    /// The connection was rejected.
    Rejected,
    /// No record exists for the remote UUID.
    NotFound,
    /// The request was cancelled (by us, or the peer withdrew theirs).
    Cancelled,
    /// Some other change (edit, members, sent).
    Updated,
    /// The connection was deleted.
    Deleted,
    /// A new channel message (sent here or received).
    New,
    /// A message's delivery state changed.
    State,
}

/// An event pushed on `/api/v1/events`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// "connection" or "message".
    #[serde(rename = "type")]
    pub kind_of_object: &'static str,
    /// What happened.
    pub event: EventKind,
    /// The connection as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionView>,
    /// The message as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageView>,
}

/// The node's event bus.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A bus that keeps up to 1024 events for slow subscribers.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Events { tx }
    }

    /// Publishes a connection event (nobody listening is fine).
    pub fn connection(&self, event: EventKind, connection: ConnectionView) {
        let _ = self.tx.send(Event {
            kind_of_object: "connection",
            event,
            connection: Some(connection),
            message: None,
        });
    }

    /// Publishes a message event.
    pub fn message(&self, event: EventKind, message: MessageView) {
        let _ = self.tx.send(Event {
            kind_of_object: "message",
            event,
            connection: None,
            message: Some(message),
        });
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
