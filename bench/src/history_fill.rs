//! The `history` group's database: a stopped node's data folder filled with a long history
//! through the node's own store repositories (the records and keys the node writes), and the
//! bare sled copy the group measures against.
//!
//! At size `n` the node holds `n` messages on one federation channel (half sent and delivered,
//! half received, all read, 100-byte texts, two years apart from first to last) and `n` closed
//! live chat sessions over the same two years, each a question by the visitor and an answer by
//! one of five operators (so `2 n` live chat messages), with the facts the node keeps for the
//! reports when a session closes and a rating on every other session. Writing through the API
//! would take hours; the repositories write the same bytes in a few seconds per 100,000.
//!
//! [`bare_copy`] writes the same keys and values, byte for byte, into a bare sled database
//! (sled's default configuration, one tree per node tree, batches of 10,000, one flush): the
//! "raw sled" of the disk figure and the reads the latency figures compare with.

use std::path::Path;

use anyhow::{Context, Result};
use ochat_node::model::livechat::{Message, Rating, Session, SessionFacts};
use ochat_node::model::{MessageRecord, MessageState};
use ochat_node::store::Store;
use ochat_node::store::livechat::LiveChatStore;
use ochat_node::store::messages::Messages;
use ochat_node::store::trees;
use uuid::{NoContext, Timestamp, Uuid};

/// Two years, in ms: the span of the history.
const SPAN_MS: u64 = 2 * 365 * 86_400_000;

/// The trees the fill writes (the copy and the disk figure cover these).
pub const TREES: &[&str] = &[
    trees::MESSAGES,
    trees::READ_MARKS,
    trees::LC_SESSIONS,
    trees::LC_MESSAGES,
    trees::LC_REPORT_FACTS,
    trees::LC_RATINGS,
];

/// What the fill wrote, for the probes.
#[derive(Debug, Clone)]
pub struct Filled {
    /// The federation channel's message ids, oldest first.
    pub message_ids: Vec<Uuid>,
    /// The live chat session ids, oldest first.
    pub session_ids: Vec<Uuid>,
}

/// A UUIDv7 at `ms` since the epoch (random below the millisecond).
fn v7_at(ms: u64) -> Uuid {
    Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        ms / 1000,
        ((ms % 1000) * 1_000_000) as u32,
    ))
}

/// A 100-byte text that differs per message.
fn text(kind: &str, i: usize) -> String {
    let head = format!("{kind} {i}: ");
    format!("{head}{}", "lorem ipsum ".repeat(9))[..100].to_string()
}

/// Writes `n` channel messages of `channel` through the messages repository, and the admin's
/// read mark at the newest.
pub fn fill_channel(store: &Store, channel: Uuid, n: usize, now_ms: u64) -> Result<Vec<Uuid>> {
    let repo = Messages::open(store)?;
    let start = now_ms - SPAN_MS;
    let step = SPAN_MS / n as u64;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + i as u64 * step;
        let outgoing = i % 2 == 0;
        let record = MessageRecord {
            id: v7_at(at),
            channel_id: channel,
            outgoing,
            author: if outgoing { "Acme" } else { "Bolt" }.into(),
            text: text("channel", i),
            attachment: None,
            sent_at_ms: at,
            stored_at_ms: at + 3,
            state: if outgoing {
                MessageState::Delivered
            } else {
                MessageState::Received
            },
            failure: None,
            read: !outgoing,
        };
        ids.push(record.id);
        repo.put(record)?;
    }
    if let Some(last) = ids.last() {
        repo.set_read_mark(channel, Uuid::nil(), *last)?;
    }
    Ok(ids)
}

/// Writes `n` closed live chat sessions (their messages, the session, its report facts and
/// every other one's rating) through the live chat repository, as a session that closes does.
pub fn fill_livechat(
    store: &Store,
    n: usize,
    channels: &[Uuid],
    operators: &[Uuid],
    now_ms: u64,
) -> Result<Vec<Uuid>> {
    let repo = LiveChatStore::open(store)?;
    let start = now_ms - SPAN_MS;
    let step = SPAN_MS / n as u64;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + i as u64 * step;
        let id = v7_at(at);
        let channel = channels[i % channels.len()];
        let op = operators[i % operators.len()];
        let answer_after = 15_000 + (i as u64 % 120) * 1000;
        let messages = [
            Message {
                id: v7_at(at + 10_000),
                session_id: id,
                seq: 0,
                author: "visitor".into(),
                author_id: None,
                author_name: "Visitor".into(),
                text: text("visitor", i),
                at_ms: at + 10_000,
                only_for: None,
                answers: Vec::new(),
                file: None,
            },
            Message {
                id: v7_at(at + answer_after),
                session_id: id,
                seq: 1,
                author: "operator".into(),
                author_id: Some(op),
                author_name: ["Ann", "Bob", "Cem", "Dee", "Eli"][i % 5].into(),
                text: text("operator", i),
                at_ms: at + answer_after,
                only_for: None,
                answers: Vec::new(),
                file: None,
            },
        ];
        for m in &messages {
            repo.put_message(id, m)?;
        }
        let session = Session {
            id,
            channel_id: channel,
            visitor_id: (i % 3 != 0).then(|| format!("visitor-{}", i % 50_000)),
            token_hash: Uuid::new_v4().as_bytes().repeat(2),
            language: Some(["en-US", "fr-BE", "de-DE"][i % 3].into()),
            country: Some(["US", "BE", "DE", "GB"][i % 4].into()),
            page_url: "https://shop.example/chairs".into(),
            operators: vec![op],
            all_operators: vec![op],
            chatbot_id: None,
            created_at_ms: at,
            last_activity_ms: at + answer_after,
            closed_at_ms: Some(at + answer_after + 60_000),
            pages: vec!["https://shop.example/chairs".into()],
            next_seq: 2,
            bot: None,
            handover_at_ms: None,
            no_operator: false,
            written: true,
            bot_records: 0,
            abandoned: false,
            address: None,
            queue: None,
            identity: None,
            page_times: vec![at],
        };
        repo.put_session(&session)?;
        repo.put_facts(&SessionFacts::new(&session, &messages))?;
        if i % 2 == 0 {
            repo.put_rating(&Rating {
                session_id: id,
                channel_id: channel,
                rating: [5, 3, 1][i % 3],
                comment: (i % 6 == 0).then(|| "Quick and kind".to_string()),
                operator: Some(op),
                internal_only: false,
                at_ms: at + answer_after + 60_000,
            })?;
        }
        ids.push(id);
    }
    // Sessions closed by this node have their facts, and their open-session index was kept
    // since the first (a node that grew this history on this release has both marks).
    repo.mark_facts_backfilled()?;
    store.next_counter_at_least(
        ochat_node::store::livechat::sessions::OPEN_SESSIONS_INDEXED,
        1,
    )?;
    Ok(ids)
}

/// Copies the filled trees of `store`, byte for byte, into a bare sled database at `path`
/// (default configuration, batches of 10,000, one flush at the end). Answers the database
/// and what its folder took on disk before the copy.
pub fn bare_copy(store: &Store, path: &Path) -> Result<(sled::Db, u64)> {
    let bare = sled::Config::new().path(path).open()?;
    bare.flush()?;
    let empty = crate::process::disk_usage(path)?;
    for name in TREES {
        let from = store.tree(name)?;
        let to = bare.open_tree(name)?;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for item in from.iter() {
            let (k, v) = item?;
            batch.insert(k, v);
            in_batch += 1;
            if in_batch == 10_000 {
                to.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
        to.apply_batch(batch)?;
    }
    bare.flush().context("flushing the bare copy")?;
    Ok((bare, empty))
}
