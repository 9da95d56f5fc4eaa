//! Open sessions' transcripts kept in memory, so that reading a conversation (operators' UIs
//! reload it, visitors' widgets reopen it) neither scans the store nor decodes every message again.
//!
//! A transcript enters the cache the first time it is read, loaded from the store while the state
//! lock is held (messages are appended under the same lock, so nothing slips in between);
//! every later [`LiveChat::append_message`](super::LiveChat) appends to it; closing the
//! session drops it. The JSON of the messages everyone sees is kept as well and rebuilt on the
//! first read after a change. A transcript longer than [`MAX_CACHED`] messages is read from
//! the store each time instead, which bounds the memory to what open sessions hold.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use uuid::Uuid;

use super::Who;
use super::messages::Message;

/// The most messages of one session kept in memory.
pub const MAX_CACHED: usize = 2_000;

/// One open session's messages in sequence order.
#[derive(Debug, Default)]
pub struct Transcript {
    messages: Arc<Vec<Message>>,
    /// Whether any message is seen only by one operator (a command's answer).
    private: bool,
    /// The JSON of the messages without `only_for`, when built since the last change.
    public_json: Option<Bytes>,
}

/// Cached transcripts by session.
#[derive(Debug, Default)]
pub struct Transcripts {
    by_session: HashMap<Uuid, Transcript>,
}

/// What a reader takes from the cache: finished JSON, or the messages to filter and encode.
#[derive(Debug)]
pub enum Cached {
    /// Not cached (never read, or too long): read the store.
    Missing,
    /// The JSON the caller sees, ready to send.
    Json(Bytes),
    /// The messages as of now; the length of `all` is the version to store JSON for.
    Messages {
        /// All of the session's messages.
        all: Arc<Vec<Message>>,
        /// Whether the caller's view is the public one, whose JSON may be stored.
        public_view: bool,
    },
}

/// Whether `who` sees `m`: command answers only to their operator (and the admin).
pub fn shown_to(m: &Message, who: Who) -> bool {
    match (m.only_for, who) {
        (None, _) | (_, Who::Admin) => true,
        (Some(owner), Who::Operator(op)) => owner == op,
        (Some(_), Who::Visitor(_)) => false,
    }
}

impl Transcripts {
    /// What `who` reads of session `id`.
    pub fn read(&self, id: Uuid, who: Who) -> Cached {
        let Some(t) = self.by_session.get(&id) else {
            return Cached::Missing;
        };
        let public_view = !t.private || matches!(who, Who::Visitor(_));
        match (&t.public_json, public_view) {
            (Some(json), true) => Cached::Json(json.clone()),
            _ => Cached::Messages {
                all: t.messages.clone(),
                public_view,
            },
        }
    }

    /// Starts caching a session from its stored messages, and answers what `who` reads of them.
    /// A transcript too long to cache is answered once without being kept.
    pub fn load(&mut self, id: Uuid, who: Who, messages: Vec<Message>) -> Cached {
        if messages.len() > MAX_CACHED {
            return Cached::Messages {
                all: Arc::new(messages),
                public_view: false,
            };
        }
        let private = messages.iter().any(|m| m.only_for.is_some());
        self.by_session.insert(
            id,
            Transcript {
                messages: Arc::new(messages),
                private,
                public_json: None,
            },
        );
        self.read(id, who)
    }

    /// Keeps the public JSON built from the first `version` messages, if nothing was added since.
    pub fn store_public_json(&mut self, id: Uuid, version: usize, json: Bytes) {
        if let Some(t) = self.by_session.get_mut(&id)
            && t.messages.len() == version
        {
            t.public_json = Some(json);
        }
    }

    /// A message was stored for session `id`.
    pub fn append(&mut self, id: Uuid, message: &Message) {
        let Some(t) = self.by_session.get_mut(&id) else {
            return;
        };
        if t.messages.len() >= MAX_CACHED {
            self.by_session.remove(&id);
            return;
        }
        Arc::make_mut(&mut t.messages).push(message.clone());
        if message.only_for.is_some() {
            t.private = true;
        } else {
            t.public_json = None;
        }
    }

    /// The session closed (or its messages were erased): forget it.
    pub fn remove(&mut self, id: Uuid) {
        self.by_session.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, only_for: Option<Uuid>) -> Message {
        Message {
            id: Uuid::now_v7(),
            session_id: Uuid::nil(),
            seq,
            author: "visitor".into(),
            author_id: None,
            author_name: "Visitor".into(),
            text: format!("message {seq}"),
            at_ms: seq,
            only_for,
            answers: Vec::new(),
            file: None,
        }
    }

    #[test]
    fn a_stored_json_is_dropped_when_a_public_message_arrives() {
        let id = Uuid::now_v7();
        let mut t = Transcripts::default();
        t.load(id, Who::Admin, vec![message(0, None)]);
        t.store_public_json(id, 1, Bytes::from_static(b"[0]"));
        assert!(matches!(t.read(id, Who::Admin), Cached::Json(_)));
        t.append(id, &message(1, None));
        match t.read(id, Who::Admin) {
            Cached::Messages { all, public_view } => {
                assert_eq!(all.len(), 2);
                assert!(public_view);
            }
            other => panic!("expected messages, got {other:?}"),
        }
    }

    #[test]
    fn json_built_before_a_change_is_not_kept() {
        let id = Uuid::now_v7();
        let mut t = Transcripts::default();
        t.load(id, Who::Admin, vec![message(0, None)]);
        t.append(id, &message(1, None));
        t.store_public_json(id, 1, Bytes::from_static(b"[0]"));
        assert!(matches!(t.read(id, Who::Admin), Cached::Messages { .. }));
    }

    #[test]
    fn a_private_answer_keeps_the_visitors_json_but_not_the_operators() {
        let id = Uuid::now_v7();
        let op = Uuid::now_v7();
        let mut t = Transcripts::default();
        t.load(id, Who::Admin, vec![message(0, None)]);
        t.store_public_json(id, 1, Bytes::from_static(b"[0]"));
        t.append(id, &message(1, Some(op)));
        assert!(matches!(t.read(id, Who::Visitor(id)), Cached::Json(_)));
        assert!(matches!(
            t.read(id, Who::Operator(op)),
            Cached::Messages {
                public_view: false,
                ..
            }
        ));
    }

    #[test]
    fn a_transcript_too_long_is_not_cached() {
        let id = Uuid::now_v7();
        let mut t = Transcripts::default();
        let first = t.load(
            id,
            Who::Admin,
            (0..=MAX_CACHED as u64).map(|s| message(s, None)).collect(),
        );
        assert!(matches!(
            first,
            Cached::Messages {
                public_view: false,
                ..
            }
        ));
        assert!(matches!(t.read(id, Who::Admin), Cached::Missing));
    }

    #[test]
    fn the_visitor_never_sees_an_operators_private_answer() {
        let op = Uuid::now_v7();
        let private = message(0, Some(op));
        assert!(!shown_to(&private, Who::Visitor(Uuid::nil())));
        assert!(!shown_to(&private, Who::Operator(Uuid::now_v7())));
        assert!(shown_to(&private, Who::Operator(op)));
        assert!(shown_to(&private, Who::Admin));
    }
}
