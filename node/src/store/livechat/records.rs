//! Ratings, leads and tickets: the tables and the [`LiveChatStore`] methods the ratings,
//! commands, satisfaction, reports and privacy code use.

use uuid::Uuid;

use super::LiveChatStore;
use super::facts::decode_parallel;
use crate::model::livechat::Rating;
use crate::model::livechat::{Kind, Record};
use crate::store::table::{Cbor, Raw, Table, table};
use crate::store::{StoreError, trees};

table! {
    /// `lc_ratings`: session id → its rating.
    pub Ratings = trees::LC_RATINGS; Uuid => Cbor<Rating>
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
        Ok(self.ratings.get(&session)?.map(|Cbor(r)| r))
    }

    /// Every rating, by session id.
    pub fn ratings(&self) -> Result<Vec<Rating>, StoreError> {
        self.ratings
            .iter()
            .map(|e| e.map(|(_, Cbor(r))| r))
            .collect()
    }

    /// Every rating, decoded over several cores (a report over many sessions).
    pub fn ratings_parallel(&self) -> Result<Vec<Rating>, StoreError> {
        let raw: Vec<Raw> = self.ratings_raw.values()?;
        decode_parallel(trees::LC_RATINGS, &raw)
    }

    /// Writes a session's rating (replacing the previous one).
    pub fn put_rating(&self, rating: &Rating) -> Result<(), StoreError> {
        self.ratings.put_ref(&rating.session_id, rating)
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
