//! The only code that touches sled. Every tree name and key layout is listed here.
//!
//! Repositories over typed tables ([`table`]), one per domain, each with its tables' layouts:
//! [`channels`], [`ratchets`] (each channel's ratchet and rollback mark), [`rekeys`] (each
//! channel's epoch, re-key state and previous ratchet), [`messages`]
//! (history and read marks), [`message_outbox`] (the message outbox and seen marks),
//! [`attachments`], [`meta`] (node-wide counters); [`upgrade`] moves data of earlier layouts
//! when the store opens.
//!
//! | tree          | key                                     | value (CBOR)                    |
//! |---------------|-----------------------------------------|---------------------------------|
//! | `meta`        | utf-8 name                              | a counter (8 B BE)              |
//! | `connections` | connection id (UUIDv7, 16 B)            | [`ConnectionRecord`]            |
//! | `requests`    | remote UUID (16 B) ‖ request id (16 B)  | connection id                   |
//! | `outbox`      | connection id (16 B) ‖ step kind (1 B)  | [`OutboxItem`]                  |
//! | `peers`       | Instance UUID (16 B)                    | the peer's latest signed record |
//! | `channels`    | channel id (UUIDv7, 16 B)               | [`ChannelRecord`]               |
//! | `ratchets`    | channel id                              | the channel's ratchet ([`ratchets::RatchetPickle`]) |
//! | `rollbacks`   | channel id                              | [`RollbackSeen`], once seen     |
//! | `rekeys`      | channel id                              | its epoch and re-key state ([`rekeys::RekeyState`]) |
//! | `previous_ratchets` | channel id                        | the previous epoch's ratchet (opens only) |
//! | `rekey_plans` | restore mark's backup id                | empty: channels flagged after that restore |
//! | `users`       | user id (UUIDv7, 16 B)                  | [`UserRecord`]                  |
//! | `messages`    | channel id ‖ message id (16 B + 16 B)   | [`MessageRecord`]               |
//! | `msg_outbox`  | channel id ‖ message id                 | [`QueuedMessage`] (sealed)      |
//! | `msg_seen`    | channel id ‖ message id                 | empty: incoming chunk and receipt ids (a message's record is its own mark) |
//! | `attachments` | channel id ‖ attachment id ‖ chunk index (4 B BE) | chunk bytes (written once) |
//! | `read_marks`  | channel id ‖ user id (nil = admin)      | last message id read            |
//! | `intents`     | UUIDv7                                  | an atomic write under way ([`atomic`]) |
//!
//! Every tree is a [`Tree`]: no value over [`MAX_VALUE_LEN`] is ever written (sled 0.34.7
//! would put it in an unsynced blob file; see [`tree`]).
//!
//! Keys are big-endian so ranges sort by time (UUIDv7 ids). Writes that must survive a crash
//! are followed by a flush before they are acknowledged; writes to several keys that must land
//! together go through [`Store::write_atomically`] (a redo intent, not a sled transaction), or
//! are plain inserts in an order whose every prefix is safe (messaging, see its module notes).
//!
//! [`ConnectionRecord`]: crate::model::ConnectionRecord
//! [`OutboxItem`]: crate::model::OutboxItem
//! [`ChannelRecord`]: crate::model::ChannelRecord
//! [`RollbackSeen`]: crate::model::RollbackSeen
//! [`UserRecord`]: crate::model::UserRecord
//! [`MessageRecord`]: crate::model::MessageRecord
//! [`QueuedMessage`]: crate::model::QueuedMessage

pub mod accounts;
pub mod atomic;
pub mod attachments;
pub mod channels;
pub mod connections;
pub mod directory_records;
pub mod gate;
pub mod livechat;
pub mod message_outbox;
pub mod messages;
pub mod meta;
pub mod peers;
pub mod ratchets;
pub mod rekeys;
pub mod restore_mark;
pub mod snapshot;
pub mod table;
pub mod tree;
mod upgrade;

pub use tree::{Batch, MAX_VALUE_LEN, Tree};

use std::path::Path;
use std::sync::Arc;

use ochat_protocol::codec::{self, Limits};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Storage failures.
#[derive(Debug, Error)]
pub enum StoreError {
    /// sled reported an error.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value could not be decoded.
    #[error("stored value in {tree} is damaged: {reason}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A value is larger than the store writes (see [`tree`]); nothing was written.
    #[error("a value of {len} bytes for {tree} is over the limit of {max} bytes")]
    TooLarge {
        /// The tree.
        tree: &'static str,
        /// The value's length.
        len: usize,
        /// [`MAX_VALUE_LEN`].
        max: usize,
    },
    /// A value could not be encoded.
    #[error("cannot encode a value for {tree}: {reason}")]
    Encode {
        /// The tree.
        tree: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// The names of every tree, in one place.
pub mod trees {
    /// Node-wide facts.
    pub const META: &str = "meta";
    /// Connections by id.
    pub const CONNECTIONS: &str = "connections";
    /// (remote, request id) → connection id.
    pub const REQUESTS: &str = "requests";
    /// Handshake steps waiting for delivery.
    pub const OUTBOX: &str = "outbox";
    /// Known peers' signed records (the UUID → key binding, trust on first use).
    pub const PEERS: &str = "peers";
    /// Channels by id.
    pub const CHANNELS: &str = "channels";
    /// Each channel's Double Ratchet state.
    pub const RATCHETS: &str = "ratchets";
    /// Each channel's rollback mark: the peer reused a message header (once seen).
    pub const ROLLBACKS: &str = "rollbacks";
    /// Local users by id.
    pub const USERS: &str = "users";
    /// Channel messages.
    pub const MESSAGES: &str = "messages";
    /// Sealed messages waiting for delivery.
    pub const MSG_OUTBOX: &str = "msg_outbox";
    /// Incoming message ids already stored.
    pub const MSG_SEEN: &str = "msg_seen";
    /// The incoming messages of each channel, one entry per received batch holding its ids,
    /// so that unread counts read no message (see [`super::messages`]).
    pub const MSG_INCOMING: &str = "msg_incoming";
    /// Attachment chunks.
    pub const ATTACHMENTS: &str = "attachments";
    /// Per-member read marks.
    pub const READ_MARKS: &str = "read_marks";
    /// Live chat: user id → argon2 password hash.
    pub const LC_PASSWORDS: &str = "lc_passwords";
    /// Live chat: SHA-256 of an operator token → token record.
    pub const LC_TOKENS: &str = "lc_tokens";
    /// Live chat: user groups by id.
    pub const LC_GROUPS: &str = "lc_groups";
    /// Live chat: channels (with their rules) by id.
    pub const LC_CHANNELS: &str = "lc_channels";
    /// Live chat: visitor sessions by id.
    pub const LC_SESSIONS: &str = "lc_sessions";
    /// Live chat: the ids of the sessions not closed (empty values), so that a start reads
    /// those and not every session ever held (see `store::livechat::sessions`).
    pub const LC_OPEN_SESSIONS: &str = "lc_open_sessions";
    /// Live chat: session id (16 B) ‖ sequence (8 B BE) → message.
    pub const LC_MESSAGES: &str = "lc_messages";
    /// Live chat: returning visitor id → previous operator.
    pub const LC_VISITORS: &str = "lc_visitors";
    /// Live chat: canned responses by id.
    pub const LC_CANNED: &str = "lc_canned";
    /// Live chat: session id → rating.
    pub const LC_RATINGS: &str = "lc_ratings";
    /// Live chat: lead number (8 B BE) → lead.
    pub const LC_LEADS: &str = "lc_leads";
    /// Live chat: ticket number (8 B BE) → ticket.
    pub const LC_TICKETS: &str = "lc_tickets";
    /// Live chat: chatbot scripts by id.
    pub const LC_CHATBOTS: &str = "lc_chatbots";
    /// Live chat reports: closed session id → its report facts (see `livechat::reports`).
    pub const LC_REPORT_FACTS: &str = "lc_report_facts";
    /// Live chat: channel id → its visitor identity secret (see `store/livechat/identity.rs`).
    pub const LC_IDENTITY_SECRETS: &str = "lc_identity_secrets";
    /// Live chat: operator id → their presence (see `store/livechat/presence.rs`).
    pub const LC_PRESENCE: &str = "lc_presence";
    /// Live chat files: session id ‖ file id → the file's record (see `store/livechat/files.rs`).
    pub const LC_FILES: &str = "lc_files";
    /// Live chat files' content: session id ‖ file id ‖ piece index (4 B BE) → ≤ 64 KiB.
    pub const LC_FILE_PIECES: &str = "lc_file_pieces";
    /// Transcript emails waiting for the SMTP server: job id (UUIDv7) → the job.
    pub const LC_MAIL_QUEUE: &str = "lc_mail_queue";
    /// Incoming requests waiting for a decision: remote UUID ‖ connection id → empty. Kept by
    /// the federation's writes, rebuilt at start; bounds the pending caps' count by the caps
    /// instead of every connection ever made.
    pub const PENDING_IN: &str = "pending_in";
    /// The restore mark: "restored_from" → which backup (see [`super::restore_mark`]).
    pub const RESTORE: &str = "restore";
    /// Per channel: its ratchet epoch and re-key state (see [`super::rekeys`]).
    pub const REKEYS: &str = "rekeys";
    /// Per channel: the previous epoch's ratchet, only to open (see [`super::rekeys`]).
    pub const PREVIOUS_RATCHETS: &str = "previous_ratchets";
    /// Restore marks whose channels were flagged for a re-key (see [`super::rekeys`]).
    pub const REKEY_PLANS: &str = "rekey_plans";
    /// Atomic writes under way: UUIDv7 → the write (see [`super::atomic`]).
    pub const INTENTS: &str = "intents";
    /// The directory server's database (not a node's): Instance UUID → its signed record
    /// (see `store/directory_records.rs`).
    pub const DIRECTORY_RECORDS: &str = "records";

    /// Every tree above but `intents`: the trees an atomic write may change.
    pub const ALL: &[&str] = &[
        META,
        CONNECTIONS,
        REQUESTS,
        PENDING_IN,
        OUTBOX,
        PEERS,
        CHANNELS,
        RATCHETS,
        ROLLBACKS,
        REKEYS,
        PREVIOUS_RATCHETS,
        REKEY_PLANS,
        USERS,
        MESSAGES,
        MSG_OUTBOX,
        MSG_SEEN,
        MSG_INCOMING,
        ATTACHMENTS,
        READ_MARKS,
        LC_PASSWORDS,
        LC_TOKENS,
        LC_GROUPS,
        LC_CHANNELS,
        LC_SESSIONS,
        LC_OPEN_SESSIONS,
        LC_MESSAGES,
        LC_VISITORS,
        LC_CANNED,
        LC_RATINGS,
        LC_LEADS,
        LC_TICKETS,
        LC_CHATBOTS,
        LC_REPORT_FACTS,
        LC_IDENTITY_SECRETS,
        LC_PRESENCE,
        LC_FILES,
        LC_FILE_PIECES,
        LC_MAIL_QUEUE,
    ];
}

/// Encodes a value for storage.
pub fn encode<T: Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    codec::encode_body(value).map_err(|e| StoreError::Encode {
        tree,
        reason: e.to_string(),
    })
}

/// Decodes a stored value.
pub fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    let limits = Limits {
        max_frame: 64 << 20,
        ..Limits::default()
    };
    codec::decode_body(bytes, &limits).map_err(|e| StoreError::Corrupt {
        tree,
        reason: e.to_string(),
    })
}

/// Concatenates key parts.
pub fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The node's database. Cheap to clone; the database closes when the last clone is dropped
/// (see [`Store::wait_closed`]).
#[derive(Clone)]
pub struct Store(Arc<StoreInner>);

impl std::ops::Deref for Store {
    type Target = StoreInner;

    fn deref(&self) -> &StoreInner {
        &self.0
    }
}

/// The trees of the database.
pub struct StoreInner {
    db: sled::Db,
    /// sled's log file, fsynced after each flush (see [`Store::flush`]).
    log_file: std::path::PathBuf,
    /// The log file, open once it exists (opening it for every flush costs a path lookup).
    log: std::sync::OnceLock<std::fs::File>,
    /// Every write passes it; a backup closes it for its snapshot ([`gate`]).
    gate: gate::WriteGate,
    /// Disk flushes made since the store was opened (`/api/v1/stats`).
    flushes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database in `path`, completes the atomic writes a crash
    /// interrupted ([`atomic`]) and moves data of earlier layouts ([`upgrade`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let gate = gate::WriteGate::default();
        let store = Store(Arc::new(StoreInner {
            db,
            gate,
            log_file: path.join("db"),
            log: std::sync::OnceLock::new(),
            flushes: std::sync::atomic::AtomicU64::new(0),
        }));
        store.replay_intents()?;
        upgrade::split_channel_records(&store)?;
        upgrade::index_open_sessions(&store)?;
        upgrade::index_incoming_messages(&store)?;
        Ok(store)
    }

    /// Waits (at most `limit`) until this is the last handle of the database, then drops it,
    /// which closes sled and releases its lock. Tasks of a stopping node may hold a handle for
    /// a moment; this makes "stopped" mean "the folder can be opened again".
    pub async fn wait_closed(self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while Arc::strong_count(&self.0) > 1 {
            if tokio::time::Instant::now() > deadline {
                tracing::warn!("the database is still in use after shutdown");
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    /// Opens another tree by its catalog name (see [`trees`]); for modules whose trees are not
    /// fields of `Store`.
    pub fn tree(&self, name: &'static str) -> Result<Tree, StoreError> {
        Ok(Tree::new(self.db.open_tree(name)?, name, self.gate.clone()))
    }

    /// Opens a typed table by its definition (see [`table`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn table<D: table::TableDef>(&self) -> Result<table::Table<D>, StoreError> {
        Ok(table::Table::new(Tree::new(
            self.db.open_tree(D::NAME)?,
            D::NAME,
            self.gate.clone(),
        )))
    }

    /// Makes every write so far durable: sled writes its buffers to its log file (sled 0.34
    /// then only calls `sync_file_range`, which survives a process crash but not a power loss
    /// or a kernel crash), and we `fdatasync` the log file so it survives those too.
    ///
    /// The flush runs on a blocking thread: sled 0.34's `flush_async` can hang when several
    /// run at once (sled issues #1241, #1308); its blocking `flush` does not. Writers that
    /// flush often share flushes through [`crate::durable::GroupFlush`] instead.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.flush_blocking())
            .await
            .map_err(|e| StoreError::Corrupt {
                tree: "flush",
                reason: e.to_string(),
            })?
    }

    /// [`Store::flush`] on the calling thread (which it blocks for the flush).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.db.flush()?;
        let io = |e| StoreError::Sled(sled::Error::Io(e));
        if let Some(file) = self.log.get() {
            return file.sync_data().map_err(io);
        }
        match std::fs::File::open(&self.log_file) {
            Ok(file) => {
                file.sync_data().map_err(io)?;
                // Kept open for the next flushes (a race that opens it twice keeps one).
                let _ = self.log.set(file);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// The database's size on disk, in bytes (`/metrics`): every file of its folder (log,
    /// snapshots, blobs). sled's own figure counts only what it has written out so far, and
    /// said 0 for a fresh database.
    pub fn size_on_disk(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        self.log_file.parent().map(walk).unwrap_or(0)
    }

    /// How many disk flushes this store made since it was opened.
    pub fn flush_count(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads and decodes one value.
    pub fn get<T: DeserializeOwned>(
        tree: &crate::store::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key)? {
            Some(bytes) => Ok(Some(decode(name, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Decodes every value of a tree, in key order.
    pub fn all<T: DeserializeOwned>(
        tree: &crate::store::Tree,
        name: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        tree.iter()
            .values()
            .map(|v| decode(name, &v?))
            .collect::<Result<Vec<T>, StoreError>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_values_are_reported_not_panicked_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let users = store.tree(trees::USERS).unwrap();
        users.insert(b"k", &[0xff, 0x00, 0x13][..]).unwrap();
        let got = Store::get::<String>(&users, trees::USERS, b"k");
        assert!(matches!(got, Err(StoreError::Corrupt { .. })));
    }
}
