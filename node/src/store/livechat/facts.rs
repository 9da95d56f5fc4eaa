//! Report facts: a closed session's summary (`SessionFacts`), written when it closes so a
//! report decodes one small record per closed session, and the mark that says the sessions
//! closed before the index existed were summarised. Decoding is split over the machine's
//! cores ([`decode_parallel`]): a report over 100,000 sessions spends most of its time there.

use std::sync::atomic::{AtomicUsize, Ordering};

use uuid::Uuid;

use super::LiveChatStore;
use super::facts_codec::{COMPACT_V1, decode_facts, decode_rating, encode_facts, encode_rating};
use crate::model::livechat::SessionFacts;
use crate::store::table::{Key, Raw, table};
use crate::store::{StoreError, trees};

/// The key that says the facts of sessions closed before the index existed were added.
const BACKFILLED: &[u8] = b"~backfilled";

/// The key that says the facts and ratings written as CBOR by an earlier release were
/// rewritten in the compact layout ([`LiveChatStore::compact_stored`]).
const COMPACTED: &[u8] = b"~compact-v1";

/// How many facts and ratings the last report read: the next one sizes its lists from them
/// instead of growing them (a million sessions: each doubling copies and faults in hundreds
/// of megabytes).
#[derive(Debug, Default)]
pub struct Sizes {
    /// Facts.
    pub facts: AtomicUsize,
    /// Ratings.
    pub ratings: AtomicUsize,
}

/// How many stored facts a report reads before decoding them ([`LiveChatStore::facts_batches`]).
pub const FACTS_BATCH: usize = 16_384;

/// A key of `lc_report_facts`: a session's id, or a mark (`~backfilled`, `~compact-v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactKey {
    /// A closed session's facts.
    Session(Uuid),
    /// A mark (16 bytes never: those are sessions).
    Mark(Vec<u8>),
}

impl Key for FactKey {
    fn encode_key(&self) -> Vec<u8> {
        match self {
            FactKey::Session(id) => id.as_bytes().to_vec(),
            FactKey::Mark(m) => m.clone(),
        }
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        Some(match Uuid::from_slice(bytes) {
            Ok(id) => FactKey::Session(id),
            Err(_) => FactKey::Mark(bytes.to_vec()),
        })
    }
}

table! {
    /// `lc_report_facts`: closed session id → its facts (compact, see
    /// [`super::facts_codec`]; CBOR when written by an earlier release), and the marks.
    pub Facts = trees::LC_REPORT_FACTS; FactKey => Raw
}

/// Decodes many stored values with `decode`, split over the machine's cores (up to four).
///
/// # Errors
///
/// [`StoreError::Corrupt`].
pub fn decode_parallel<T, F>(raw: &[Raw], decode: F) -> Result<Vec<T>, StoreError>
where
    T: Send,
    F: Fn(&[u8]) -> Result<T, StoreError> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(4);
    if threads < 2 || raw.len() < 4096 {
        return raw.iter().map(|v| decode(&v.0)).collect();
    }
    let chunk = raw.len().div_ceil(threads);
    let decode = &decode;
    let parts: Vec<Result<Vec<T>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|v| decode(&v.0))
                        .collect::<Result<Vec<T>, StoreError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Corrupt {
                        tree: trees::LC_REPORT_FACTS,
                        reason: "a decoding thread failed".into(),
                    })
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

impl LiveChatStore {
    /// Keeps a closed session's facts.
    pub fn put_facts(&self, facts: &SessionFacts) -> Result<(), StoreError> {
        self.facts.put(
            &FactKey::Session(facts.id),
            &Raw(encode_facts(trees::LC_REPORT_FACTS, facts)?),
        )
    }

    /// Forgets a session's facts.
    pub fn remove_facts(&self, session: Uuid) -> Result<bool, StoreError> {
        self.facts.remove(&FactKey::Session(session))
    }

    /// Whether a session's facts are kept.
    pub fn has_facts(&self, session: Uuid) -> Result<bool, StoreError> {
        self.facts.contains(&FactKey::Session(session))
    }

    /// Whether the sessions closed before the index existed were summarised.
    pub fn facts_backfilled(&self) -> Result<bool, StoreError> {
        self.facts.contains(&FactKey::Mark(BACKFILLED.to_vec()))
    }

    /// Marks the sessions closed before the index existed as summarised.
    pub fn mark_facts_backfilled(&self) -> Result<(), StoreError> {
        self.facts
            .put(&FactKey::Mark(BACKFILLED.to_vec()), &Raw(vec![1u8]))
    }

    /// Every closed session's facts, decoded over several cores.
    pub fn all_facts(&self) -> Result<Vec<SessionFacts>, StoreError> {
        let mut out = Vec::new();
        self.facts_batches(|raw| {
            out.extend(decode_parallel(&raw, |v| {
                decode_facts(trees::LC_REPORT_FACTS, v)
            })?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Every closed session's stored facts, undecoded (see [`decode_facts`]), in key order, in
    /// batches of up to [`FACTS_BATCH`] handed to `each` (which answers whether to go on). A
    /// report reads a million of them: batches keep the memory it holds at once small, and
    /// let another thread decode one batch while this one reads the next.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], and what `each` answers.
    pub fn facts_batches(
        &self,
        mut each: impl FnMut(Vec<Raw>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut raw = Vec::with_capacity(FACTS_BATCH);
        let mut seen = 0;
        for item in self.facts.iter() {
            let (k, v) = item?;
            if let FactKey::Session(_) = k {
                raw.push(v);
                seen += 1;
            }
            if raw.len() == FACTS_BATCH
                && !each(std::mem::replace(&mut raw, Vec::with_capacity(FACTS_BATCH)))?
            {
                return Ok(());
            }
        }
        if !raw.is_empty() {
            each(raw)?;
        }
        self.sizes.facts.store(seen, Ordering::Relaxed);
        Ok(())
    }

    /// How many closed sessions' facts the last complete read found (0 before the first).
    pub fn facts_last_read(&self) -> usize {
        self.sizes.facts.load(Ordering::Relaxed)
    }

    /// Rewrites, once, the facts and ratings an earlier release stored as CBOR in the compact
    /// layout (the reports read both; the compact one is several times quicker to decode).
    /// Each record is swapped only if it is still the one read (a rating given meanwhile is
    /// written compact already and stays); the mark is written last, so an interrupted
    /// rewrite starts again. Answers how many records were rewritten.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (a damaged record: nothing more is
    /// rewritten and the mark is not set).
    pub fn compact_stored(&self) -> Result<usize, StoreError> {
        if self.facts.contains(&FactKey::Mark(COMPACTED.to_vec()))? {
            return Ok(0);
        }
        let mut rewritten = 0;
        for (name, is_facts) in [(trees::LC_REPORT_FACTS, true), (trees::LC_RATINGS, false)] {
            let tree = self.store.tree(name)?;
            for item in tree.iter() {
                let (key, old) = item?;
                if key.len() != 16 || old.first() == Some(&COMPACT_V1) {
                    continue;
                }
                let new = if is_facts {
                    encode_facts(name, &decode_facts(name, &old)?)?
                } else {
                    encode_rating(name, &decode_rating(name, &old)?)?
                };
                if new.first() == Some(&COMPACT_V1)
                    && tree.compare_and_swap(&key, Some(&old), Some(new))?.is_ok()
                {
                    rewritten += 1;
                }
            }
        }
        self.facts
            .put(&FactKey::Mark(COMPACTED.to_vec()), &Raw(vec![1u8]))?;
        Ok(rewritten)
    }
}
