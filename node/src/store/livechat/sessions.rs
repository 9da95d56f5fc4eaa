//! Live chat sessions, their messages and returning visitors: the tables and the
//! [`LiveChatStore`] methods the sessions, messages, presence and privacy code use.
//!
//! A message is stored under its session id ‖ its sequence number (8 B BE), so a session's
//! messages read back in order with one prefix scan; the session's record is not rewritten per
//! message (see `livechat::messages`).
//!
//! `lc_open_sessions` holds the id of every session not closed, so that a start loads those
//! (a handful) instead of decoding every session ever held (a million after a few years).
//! [`LiveChatStore::put_session`] keeps it in the one order that a crash cannot spoil: an open
//! session's id is indexed before its record is written, a closed one's is dropped after; a
//! stale id (its session closed or gone) is skipped on reading. Folders of earlier releases
//! get the index when the store opens (`store::upgrade::index_open_sessions`).

use uuid::Uuid;

use super::LiveChatStore;
use crate::model::livechat::Message;
use crate::model::livechat::ReturningEntry;
use crate::model::livechat::Session;
use crate::store::StoreError;
use crate::store::table::{Cbor, Unit, table};
use crate::store::trees;

table! {
    /// `lc_sessions`: visitor sessions by id.
    pub Sessions = trees::LC_SESSIONS; Uuid => Cbor<Session>
}

/// The meta mark (a counter, 1 once done) that says the open sessions of a folder written
/// before the index were indexed (`store::upgrade::index_open_sessions`).
pub const OPEN_SESSIONS_INDEXED: &str = "lc_open_sessions_indexed";

table! {
    /// `lc_open_sessions`: the id of every session not closed → nothing.
    pub OpenSessions = trees::LC_OPEN_SESSIONS; Uuid => Unit
}

table! {
    /// `lc_messages`: session id ‖ sequence → message.
    pub Messages = trees::LC_MESSAGES; (Uuid, u64) => Cbor<Message>
}

table! {
    /// `lc_visitors`: returning visitor id → their previous operator.
    pub Visitors = trees::LC_VISITORS; String => Cbor<ReturningEntry>
}

impl LiveChatStore {
    /// One stored session.
    pub fn session(&self, id: Uuid) -> Result<Option<Session>, StoreError> {
        Ok(self.sessions.get(&id)?.map(|Cbor(s)| s))
    }

    /// Every stored session, by id (read as the iterator goes).
    pub fn sessions(&self) -> impl Iterator<Item = Result<Session, StoreError>> + use<> {
        self.sessions.iter().map(|e| e.map(|(_, Cbor(s))| s))
    }

    /// Every stored session, newest first (ids are UUIDv7, so by creation; read as the
    /// iterator goes).
    pub fn sessions_newest_first(
        &self,
    ) -> impl Iterator<Item = Result<Session, StoreError>> + use<> {
        self.sessions.iter().rev().map(|e| e.map(|(_, Cbor(s))| s))
    }

    /// The sessions not closed, by id (read as the iterator goes).
    pub fn open_sessions(&self) -> impl Iterator<Item = Result<Session, StoreError>> + use<> {
        let sessions = self.sessions.clone();
        self.open
            .keys()
            .map(move |id| Ok(sessions.get(&id?)?.map(|Cbor(s)| s)))
            .filter_map(|s| match s {
                Ok(Some(s)) if s.closed_at_ms.is_none() => Some(Ok(s)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
    }

    /// Writes a session record, and keeps the index of open sessions (not durable until a
    /// flush; see the module documentation for the order).
    pub fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        if session.closed_at_ms.is_none() {
            self.open.put(&session.id, &Unit)?;
            self.sessions.put_ref(&session.id, session)
        } else {
            self.sessions.put_ref(&session.id, session)?;
            self.open.remove(&session.id).map(drop)
        }
    }

    /// Removes a session record; answers whether it was there.
    pub fn remove_session(&self, id: Uuid) -> Result<bool, StoreError> {
        let was = self.sessions.remove(&id)?;
        self.open.remove(&id)?;
        Ok(was)
    }

    /// Writes a message of a session under its sequence number.
    pub fn put_message(&self, session: Uuid, message: &Message) -> Result<(), StoreError> {
        self.messages.put_ref(&(session, message.seq), message)
    }

    /// A session's messages, in order.
    pub fn messages(&self, session: Uuid) -> Result<Vec<Message>, StoreError> {
        self.session_messages(session).collect()
    }

    /// A session's messages in order, read as the iterator goes (`.rev()` for newest first).
    pub fn session_messages(
        &self,
        session: Uuid,
    ) -> impl DoubleEndedIterator<Item = Result<Message, StoreError>> + use<> {
        self.messages
            .scan(&session)
            .map(|e| e.map(|(_, Cbor(m))| m))
    }

    /// Removes a session's messages; answers how many went.
    pub fn remove_messages(&self, session: Uuid) -> Result<usize, StoreError> {
        let keys: Vec<(Uuid, u64)> = self
            .messages
            .scan_keys(&session)
            .collect::<Result<_, _>>()?;
        for k in &keys {
            self.messages.remove(k)?;
        }
        Ok(keys.len())
    }

    /// A returning visitor's entry.
    pub fn returning(&self, visitor_id: &str) -> Result<Option<ReturningEntry>, StoreError> {
        Ok(self.visitors.get(&visitor_id.to_string())?.map(|Cbor(r)| r))
    }

    /// Remembers a returning visitor's operator.
    pub fn put_returning(
        &self,
        visitor_id: &str,
        entry: &ReturningEntry,
    ) -> Result<(), StoreError> {
        self.visitors.put_ref(&visitor_id.to_string(), entry)
    }

    /// Forgets a returning visitor; answers whether they were known.
    pub fn remove_returning(&self, visitor_id: &str) -> Result<bool, StoreError> {
        self.visitors.remove(&visitor_id.to_string())
    }

    /// Forgets every returning visitor whose previous operator is `operator` (a deleted
    /// user); answers how many.
    pub fn remove_returning_to(&self, operator: Uuid) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        for entry in self.visitors.iter() {
            let (visitor, Cbor(r)) = entry?;
            if r.operator == operator {
                doomed.push(visitor);
            }
        }
        for visitor in &doomed {
            self.visitors.remove(visitor)?;
        }
        Ok(doomed.len())
    }
}
