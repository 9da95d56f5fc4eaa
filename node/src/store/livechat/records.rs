//! Ratings, leads and tickets: the tables and the [`LiveChatStore`] methods the ratings,
//! commands, satisfaction, reports and privacy code use.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::LiveChatStore;
use super::facts::decode_parallel;
use super::facts_codec::{decode_rating, encode_rating};
use crate::model::livechat::Rating;
use crate::model::livechat::{Kind, Record};
use crate::store::table::{Cbor, Raw, Table, Value, table};
use crate::store::{StoreError, trees};

/// A rating as `lc_ratings` stores it: the compact layout of [`super::facts_codec`] (ratings
/// written by earlier releases are CBOR and read as well).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRating(pub Rating);

impl Value for StoredRating {
    fn encode_value(&self, table: &'static str) -> Result<Vec<u8>, StoreError> {
        encode_rating(table, &self.0)
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        decode_rating(table, bytes).map(StoredRating)
    }
}

table! {
    /// `lc_ratings`: session id → its rating.
    pub Ratings = trees::LC_RATINGS; Uuid => StoredRating
}

table! {
    /// `lc_ratings` read as bytes, decoded over several cores by the reports.
    pub RatingsRaw = trees::LC_RATINGS; Uuid => Raw
}

table! {
    /// `lc_leads`: lead number (8 B BE) → lead.
    pub Leads = trees::LC_LEADS; u64 => Cbor<Record>
}

table! {
    /// `lc_tickets`: ticket number (8 B BE) → ticket.
    pub Tickets = trees::LC_TICKETS; u64 => Cbor<Record>
}

impl LiveChatStore {
    /// A session's rating.
    pub fn rating(&self, session: Uuid) -> Result<Option<Rating>, StoreError> {
        Ok(self.ratings.get(&session)?.map(|StoredRating(r)| r))
    }

    /// Every rating, by session id.
    pub fn ratings(&self) -> Result<Vec<Rating>, StoreError> {
        self.ratings
            .iter()
            .map(|e| e.map(|(_, StoredRating(r))| r))
            .collect()
    }

    /// Every rating by its session, each shared (a report hands them to its sessions
    /// without copying them).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn ratings_by_session(&self) -> Result<HashMap<Uuid, Arc<Rating>>, StoreError> {
        let mut out = HashMap::with_capacity(self.sizes.ratings.load(Ordering::Relaxed));
        for item in self.ratings_raw.iter() {
            let (id, Raw(bytes)) = item?;
            out.insert(id, Arc::new(decode_rating(trees::LC_RATINGS, &bytes)?));
        }
        self.sizes.ratings.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }

    /// Every rating, decoded over several cores (a report over many sessions).
    pub fn ratings_parallel(&self) -> Result<Vec<Rating>, StoreError> {
        let raw: Vec<Raw> = self.ratings_raw.values()?;
        decode_parallel(&raw, |v| decode_rating(trees::LC_RATINGS, v))
    }

    /// Writes a session's rating (replacing the previous one).
    pub fn put_rating(&self, rating: &Rating) -> Result<(), StoreError> {
        self.ratings
            .put(&rating.session_id, &StoredRating(rating.clone()))
    }

    /// Removes a session's rating; answers whether there was one.
    pub fn remove_rating(&self, session: Uuid) -> Result<bool, StoreError> {
        self.ratings.remove(&session)
    }

    fn book(&self, kind: Kind) -> Book<'_> {
        match kind {
            Kind::Lead => Book::Leads(&self.leads),
            Kind::Ticket => Book::Tickets(&self.tickets),
        }
    }

    /// The next number of a lead or ticket (a counter in `meta`, named after the table).
    pub fn next_record_number(&self, kind: Kind) -> Result<u64, StoreError> {
        self.store.next_counter(match kind {
            Kind::Lead => trees::LC_LEADS,
            Kind::Ticket => trees::LC_TICKETS,
        })
    }

    /// Every lead or ticket, by number.
    pub fn records(&self, kind: Kind) -> Result<Vec<Record>, StoreError> {
        match self.book(kind) {
            Book::Leads(t) => t.values().map(|v| v.into_iter().map(|Cbor(r)| r).collect()),
            Book::Tickets(t) => t.values().map(|v| v.into_iter().map(|Cbor(r)| r).collect()),
        }
    }

    /// Writes a lead or ticket under its number.
    pub fn put_record(&self, kind: Kind, record: &Record) -> Result<(), StoreError> {
        match self.book(kind) {
            Book::Leads(t) => t.put_ref(&record.number, record),
            Book::Tickets(t) => t.put_ref(&record.number, record),
        }
    }

    /// Removes a lead or ticket; answers whether it was there.
    pub fn remove_record(&self, kind: Kind, number: u64) -> Result<bool, StoreError> {
        match self.book(kind) {
            Book::Leads(t) => t.remove(&number),
            Book::Tickets(t) => t.remove(&number),
        }
    }
}

/// The table of one kind of record.
enum Book<'a> {
    Leads(&'a Table<Leads>),
    Tickets(&'a Table<Tickets>),
}
