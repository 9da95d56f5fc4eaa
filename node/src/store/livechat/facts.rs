//! Report facts: a closed session's summary (`SessionFacts`), written when it closes so a
//! report decodes one small record per closed session, and the mark that says the sessions
//! closed before the index existed were summarised. Decoding is split over the machine's
//! cores ([`decode_parallel`]): a report over 100,000 sessions spends most of its time there.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::LiveChatStore;
use crate::model::livechat::SessionFacts;
use crate::store::table::{Key, Raw, table};
use crate::store::{StoreError, decode, encode, trees};

/// The key that says the facts of sessions closed before the index existed were added.
const BACKFILLED: &[u8] = b"~backfilled";

/// A key of `lc_report_facts`: a session's id, or another mark (only `~backfilled` is written).
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
    /// `lc_report_facts`: closed session id → its facts (CBOR), and the `~backfilled` mark.
    pub Facts = trees::LC_REPORT_FACTS; FactKey => Raw
}

/// Decodes many stored values, split over the machine's cores (up to four).
///
/// # Errors
///
/// [`StoreError::Corrupt`].
pub fn decode_parallel<T: DeserializeOwned + Send>(
    table: &'static str,
    raw: &[Raw],
) -> Result<Vec<T>, StoreError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(4);
    if threads < 2 || raw.len() < 4096 {
        return raw.iter().map(|v| decode(table, &v.0)).collect();
    }
    let chunk = raw.len().div_ceil(threads);
    let parts: Vec<Result<Vec<T>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = raw
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|v| decode(table, &v.0))
                        .collect::<Result<Vec<T>, StoreError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Corrupt {
                        tree: table,
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
            &Raw(encode(trees::LC_REPORT_FACTS, facts)?),
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
        let mut raw = Vec::new();
        for item in self.facts.iter() {
            let (k, v) = item?;
            if let FactKey::Session(_) = k {
                raw.push(v);
            }
        }
        decode_parallel(trees::LC_REPORT_FACTS, &raw)
    }
}
