//! # Live chat reports
//!
//! Sessions history, session statistics, operator analysis and customer ratings, over a date
//! range and filters, for staff tokens (the admin sees every session; an operator sees the
//! sessions they were in and those of their channels). Retention and per-visitor export and
//! erasure are in [`privacy`].
//!
//! - [`facts`] — one session's summary and its measures (outcome, duration, time to answer).
//! - [`filter`] — the query, its validation, UTC days, weekdays and hours.
//! - [`history`] — the data a report reads, the sessions history, CSV output.
//! - [`stats`] — grouped statistics (count, sum, average of each measure).
//! - [`people`] — operator analysis, ratings list and shares.
//! - [`privacy`] — the retention sweep, a visitor's export and erasure.
//! - [`page`] — the console page with the charts (HTML, CSS and JS embedded).
//!
//! How it stays fast: a closed session's messages never change, so its [`SessionFacts`] are
//! written to the `lc_report_facts` tree when it closes; a report decodes one small record per
//! closed session (open sessions are summarised from memory and their messages). Sessions
//! closed before the index existed are summarised once, on the first report.

pub mod facts;
pub mod filter;
pub mod history;
pub mod page;
pub mod people;
pub mod privacy;
pub mod stats;

use std::collections::HashMap;

use uuid::Uuid;

use self::facts::SessionFacts;
use self::filter::{Filter, rfc3339};
use self::history::{ChannelName, Dataset, Entry};
use super::channels::Channel;
use super::messages::Message;
use super::ratings::Rating;
use super::sessions::Session;
use super::{LiveChat, LiveChatError, Who, all};
use crate::store::{decode, encode, trees};

/// Decodes many stored values, split over the machine's cores (a report over 100,000
/// sessions spends most of its time decoding).
fn decode_all<T: serde::de::DeserializeOwned + Send>(
    tree: &'static str,
    raw: &[sled::IVec],
) -> Result<Vec<T>, LiveChatError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(4);
    if threads < 2 || raw.len() < 4096 {
        return raw.iter().map(|v| Ok(decode(tree, v)?)).collect();
    }
    let chunk = raw.len().div_ceil(threads);
    let parts: Vec<Result<Vec<T>, LiveChatError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|v| Ok(decode(tree, v)?))
                        .collect::<Result<Vec<T>, LiveChatError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(LiveChatError::Internal("a decoding thread failed".into()))
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(raw.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// The key that says the facts of sessions closed before the index existed were added.
const BACKFILLED: &[u8] = b"~backfilled";

impl LiveChat {
    fn facts_tree(&self) -> Result<crate::store::Tree, LiveChatError> {
        Ok(self.inner.store.tree(trees::LC_REPORT_FACTS)?)
    }

    /// A session's messages, in order.
    pub(crate) fn messages_of(&self, id: Uuid) -> Result<Vec<Message>, LiveChatError> {
        let mut out = Vec::new();
        for value in self.trees().messages.scan_prefix(id.as_bytes()).values() {
            out.push(decode(trees::LC_MESSAGES, &value?)?);
        }
        Ok(out)
    }

    /// Summarises a session from its messages.
    fn summarise(&self, s: &Session) -> Result<SessionFacts, LiveChatError> {
        Ok(SessionFacts::new(s, &self.messages_of(s.id)?))
    }

    /// Keeps the facts of a closed session for the reports (called when it closes).
    pub(crate) fn index_session(&self, s: &Session) -> Result<(), LiveChatError> {
        let facts = self.summarise(s)?;
        self.facts_tree()?
            .insert(s.id.as_bytes(), encode(trees::LC_REPORT_FACTS, &facts)?)?;
        Ok(())
    }

    /// Forgets a session's facts (retention, erasure).
    pub(crate) fn unindex_session(&self, id: Uuid) -> Result<(), LiveChatError> {
        self.facts_tree()?.remove(id.as_bytes())?;
        Ok(())
    }

    /// Summarises closed sessions that have no facts yet (those closed before the index).
    fn backfill(&self, index: &crate::store::Tree) -> Result<(), LiveChatError> {
        if index.contains_key(BACKFILLED)? {
            return Ok(());
        }
        for value in self.trees().sessions.iter().values() {
            let s: Session = decode(trees::LC_SESSIONS, &value?)?;
            if s.closed_at_ms.is_some() && !s.abandoned && !index.contains_key(s.id.as_bytes())? {
                self.index_session(&s)?;
            }
        }
        index.insert(BACKFILLED, &[1u8])?;
        Ok(())
    }

    /// Every session's facts: closed ones from the index, open ones summarised now.
    pub fn all_facts(&self) -> Result<Vec<SessionFacts>, LiveChatError> {
        let index = self.facts_tree()?;
        self.backfill(&index)?;
        let open: Vec<Session> = self.state()?.open.values().cloned().collect();
        let mut raw = Vec::new();
        for item in index.iter() {
            let (k, v) = item?;
            if k.len() == 16 {
                raw.push(v);
            }
        }
        let mut out: Vec<SessionFacts> = decode_all(trees::LC_REPORT_FACTS, &raw)?;
        // An open session nobody wrote in is not a conversation (see `expiry`).
        for s in open.iter().filter(|s| s.written) {
            out.push(self.summarise(s)?);
        }
        Ok(out)
    }

    /// The sessions (with ratings, names and now) a report over `filter` reads, as `who`
    /// may see them.
    pub fn report_data(&self, who: Who, filter: &Filter) -> Result<Dataset, LiveChatError> {
        who.staff()?;
        if let Some(c) = filter.channel {
            self.channel_for(who, c)?;
        }
        let channels: Vec<Channel> = all(&self.trees().channels, trees::LC_CHANNELS)?;
        let visible = |f: &SessionFacts| match who {
            Who::Operator(op) => {
                f.operators.contains(&op)
                    || channels
                        .iter()
                        .any(|c| c.id == f.channel_id && c.operators.contains(&op))
            }
            _ => true,
        };
        let raw = self
            .trees()
            .ratings
            .iter()
            .values()
            .collect::<Result<Vec<_>, _>>()?;
        let ratings: HashMap<Uuid, Rating> = decode_all::<Rating>(trees::LC_RATINGS, &raw)?
            .into_iter()
            .map(|r| (r.session_id, r))
            .collect();
        let mut entries: Vec<Entry> = self
            .all_facts()?
            .into_iter()
            .filter(|f| visible(f))
            .filter_map(|f| {
                let rating = ratings.get(&f.id).cloned();
                filter
                    .keeps(&f, rating.as_ref().map(|r| r.rating))
                    .then_some(Entry { facts: f, rating })
            })
            .collect();
        entries.sort_by_key(|e| (e.facts.created_at_ms, e.facts.id));
        let mut operators = HashMap::new();
        for e in &entries {
            for op in e
                .facts
                .operators
                .iter()
                .chain(e.rating.as_ref().and_then(|r| r.operator.as_ref()))
            {
                operators.entry(*op).or_insert_with(|| self.chat_name(*op));
            }
        }
        Ok(Dataset {
            entries,
            channels: channels
                .into_iter()
                .map(|c| {
                    (
                        c.id,
                        ChannelName {
                            name: c.name,
                            published: c.published,
                        },
                    )
                })
                .collect(),
            operators,
            now_ms: self.now_ms(),
        })
    }

    /// A session's transcript as text, one line per message the caller may see.
    pub fn transcript_text(&self, who: Who, id: Uuid) -> Result<String, LiveChatError> {
        who.staff()?;
        let session = self.session_for(who, id)?;
        let channel = self
            .channel(session.channel_id)
            .map_or_else(|_| session.channel_id.to_string(), |c| c.name);
        let mut out = format!(
            "Session {id}\nChannel: {channel}\nStarted: {}\n\n",
            rfc3339(session.created_at_ms)
        );
        for m in self.transcript(who, id)? {
            let private = if m.only_for.is_some() {
                " (only you)"
            } else {
                ""
            };
            out.push_str(&format!(
                "{} {}{private}: {}\n",
                rfc3339(m.at_ms),
                m.author_name,
                m.text
            ));
        }
        Ok(out)
    }
}
