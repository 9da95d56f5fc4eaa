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
//! - [`privacy`] — the retention sweep, a visitor's export and erasure;
//!   [`privacy_files`] — the export's files with their content, within a budget.
//! - [`page`] — the console page with the charts (HTML, CSS and JS embedded).
//!
//! How it stays fast: a closed session's messages never change, so its [`SessionFacts`] are
//! written to the `lc_report_facts` table when it closes; a report decodes one small record per
//! closed session (open sessions are summarised from memory and their messages). Sessions
//! closed before the index existed are summarised once, on the first report.

pub mod facts;
pub mod filter;
pub mod history;
pub mod page;
pub mod people;
pub mod privacy;
pub mod privacy_files;
pub mod stats;

use std::collections::HashMap;

use thiserror::Error;
use uuid::Uuid;

use self::facts::SessionFacts;
use self::filter::{Filter, rfc3339};
use self::history::{ChannelName, Dataset, Entry};
use super::channels::Channel;
use super::messages::Message;
use super::sessions::Session;
use super::{LiveChat, LiveChatError, Who};
use crate::store::StoreError;
use crate::store::livechat::facts_codec::decode_facts;
use crate::store::table::Raw;
use crate::store::trees;

/// A report's failures of its own (the live chat's are [`LiveChatError`]).
#[derive(Debug, Error)]
pub enum ReportError {
    /// The query is invalid; the message says what is wrong (answered 400).
    #[error("{0}")]
    BadQuery(String),
    /// A report could not be written as CSV.
    #[error("cannot write the CSV: {0}")]
    Csv(String),
}

impl LiveChat {
    /// A session's messages, in order.
    pub(crate) fn messages_of(&self, id: Uuid) -> Result<Vec<Message>, LiveChatError> {
        Ok(self.repo().messages(id)?)
    }

    /// Summarises a session from its messages.
    fn summarise(&self, s: &Session) -> Result<SessionFacts, LiveChatError> {
        Ok(SessionFacts::new(s, &self.messages_of(s.id)?))
    }

    /// Keeps the facts of a closed session for the reports (called when it closes).
    pub(crate) fn index_session(&self, s: &Session) -> Result<(), LiveChatError> {
        let facts = self.summarise(s)?;
        Ok(self.repo().put_facts(&facts)?)
    }

    /// Forgets a session's facts (retention, erasure).
    pub(crate) fn unindex_session(&self, id: Uuid) -> Result<(), LiveChatError> {
        self.repo().remove_facts(id)?;
        Ok(())
    }

    /// Summarises closed sessions that have no facts yet (those closed before the index), and
    /// rewrites the facts and ratings an earlier release stored as CBOR in the compact layout
    /// (both once).
    fn backfill(&self) -> Result<(), LiveChatError> {
        let repo = self.repo();
        if !repo.facts_backfilled()? {
            for s in repo.sessions() {
                let s: Session = s?;
                if s.closed_at_ms.is_some() && !s.abandoned && !repo.has_facts(s.id)? {
                    self.index_session(&s)?;
                }
            }
            repo.mark_facts_backfilled()?;
        }
        repo.compact_stored()?;
        Ok(())
    }

    /// The open sessions' facts, summarised now. An open session nobody wrote in is not a
    /// conversation (see `expiry`).
    fn open_facts(&self) -> Result<Vec<SessionFacts>, LiveChatError> {
        let open: Vec<Session> = self.state()?.open.values().cloned().collect();
        open.iter()
            .filter(|s| s.written)
            .map(|s| self.summarise(s))
            .collect()
    }

    /// The sessions (with ratings, names and now) a report over `filter` reads, as `who`
    /// may see them.
    ///
    /// How it stays quick over a million sessions (see docs/benchmarks-scale-history.md):
    /// the ratings are read on one thread while this one reads the facts in batches that a
    /// third thread decodes; no list of every stored record or every decoded session is
    /// built besides the selected entries, which get their rating by reference.
    pub fn report_data(&self, who: Who, filter: &Filter) -> Result<Dataset, LiveChatError> {
        who.staff()?;
        if let Some(c) = filter.channel {
            self.channel_for(who, c)?;
        }
        let channels: Vec<Channel> = self.repo().channels()?;
        let visible = |f: &SessionFacts| match who {
            Who::Operator(op) => {
                f.operators.contains(&op)
                    || channels
                        .iter()
                        .any(|c| c.id == f.channel_id && c.operators.contains(&op))
            }
            _ => true,
        };
        // Everything but the rating is decided first; the rating once the ratings are read.
        let without_rating = Filter {
            rating: None,
            ..filter.clone()
        };
        let selected = |f: &SessionFacts| visible(f) && without_rating.keeps(f, None);
        self.backfill()?;
        // The open sessions before the closed ones: one that closes meanwhile is counted, not
        // lost.
        let open = self.open_facts()?;
        let repo = self.repo();
        let expected = repo.facts_last_read() + open.len();
        let (ratings, mut entries) = std::thread::scope(|scope| {
            let ratings = scope.spawn(|| repo.ratings_by_session());
            let (batches, decoder_in) = std::sync::mpsc::sync_channel::<Vec<Raw>>(2);
            let decoder = scope.spawn(move || -> Result<Vec<Entry>, LiveChatError> {
                // Sized from the last report's count: untouched room costs no memory.
                let mut entries = Vec::with_capacity(expected);
                for raw in decoder_in {
                    for v in &raw {
                        let f = decode_facts(trees::LC_REPORT_FACTS, &v.0)?;
                        if selected(&f) {
                            entries.push(Entry {
                                facts: f,
                                rating: None,
                            });
                        }
                    }
                }
                Ok(entries)
            });
            // The decoder stops at a damaged record: reading stops then too.
            let read = repo.facts_batches(|raw| Ok(batches.send(raw).is_ok()));
            drop(batches);
            let joined = |what: &str| {
                LiveChatError::Store(StoreError::Corrupt {
                    tree: trees::LC_REPORT_FACTS,
                    reason: format!("the thread reading the {what} failed"),
                })
            };
            let entries = decoder.join().map_err(|_| joined("facts"))?;
            let ratings = ratings.join().map_err(|_| joined("ratings"))?;
            read?;
            Ok::<_, LiveChatError>((ratings?, entries?))
        })?;
        entries.extend(open.into_iter().filter(|f| selected(f)).map(|f| Entry {
            facts: f,
            rating: None,
        }));
        for e in &mut entries {
            e.rating = ratings.get(&e.facts.id).cloned();
        }
        if filter.rating.is_some() {
            entries.retain(|e| filter.keeps(&e.facts, e.rating.as_ref().map(|r| r.rating)));
        }
        drop(ratings);
        if entries.capacity() > 2 * entries.len() {
            entries.shrink_to_fit();
        }
        entries.sort_by_key(|e| (e.facts.created_at_ms, e.facts.id));
        let mut operators = HashMap::new();
        for e in &entries {
            for op in e
                .facts
                .operators
                .iter()
                .chain(e.rating.as_ref().and_then(|r| r.operator.as_ref()))
            {
                operators
                    .entry(*op)
                    .or_insert_with(|| self.accounts().chat_name(*op));
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
