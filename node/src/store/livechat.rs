//! The live chat's repository, [`LiveChatStore`]: its typed tables and every read and write
//! the live chat service makes. The service (`crate::livechat`) holds one and never sees a
//! tree.
//!
//! | table             | key                               | value (CBOR)         |
//! |-------------------|-----------------------------------|----------------------|
//! | `lc_groups`       | group id (16 B)                   | `Group`              |
//! | `lc_channels`     | channel id (16 B)                 | `Channel` (with its rules) |
//! | `lc_canned`       | canned response id (16 B)         | `Canned`             |
//! | `lc_chatbots`     | script id (16 B)                  | `Script`             |
//! | `lc_sessions`     | session id (16 B)                 | `Session`            |
//! | `lc_open_sessions` | session id (16 B) of a session not closed | empty          |
//! | `lc_messages`     | session id (16 B) ‖ sequence (8 B BE) | `Message`        |
//! | `lc_visitors`     | visitor id (utf-8)                | `ReturningEntry`     |
//! | `lc_ratings`      | session id (16 B)                 | `Rating` (compact, [`facts_codec`]) |
//! | `lc_leads`, `lc_tickets` | number (8 B BE)            | `Record`             |
//! | `lc_report_facts` | closed session id (16 B), or the mark `~backfilled` | `SessionFacts` (compact, [`facts_codec`]; the mark: `[1]`) |
//! | `lc_identity_secrets` | channel id (16 B)             | `IdentitySecretRecord` ([`identity`]) |
//! | `lc_presence`     | operator id (16 B)                | `PresenceRecord` ([`presence`]) |
//! | `lc_files`        | session id ‖ file id              | `StoredFile`         |
//! | `lc_file_pieces`  | session id ‖ file id ‖ index (4 B BE) | ≤ 64 KiB of the file (raw) |
//! | `lc_mail_queue`   | job id (UUIDv7)                   | `MailJob`            |
//!
//! Files and the mail queue have their own repository, [`files::LiveChatFiles`].
//!
//! Sessions, messages and returning visitors are in [`sessions`]; ratings, leads and tickets
//! in [`records`]; report facts in [`facts`]. This file has the catalogue data (groups,
//! channels, canned responses, chatbot scripts).

pub mod facts;
pub mod facts_codec;
pub mod files;
pub mod identity;
pub mod presence;
pub mod records;
pub mod sessions;

use uuid::Uuid;

use super::table::{Cbor, Table, TableDef, table};
use super::{Store, StoreError, trees};
use crate::model::livechat::Canned;
use crate::model::livechat::Channel;
use crate::model::livechat::Group;
use crate::model::livechat::Script;

table! {
    /// `lc_groups`: user groups by id.
    pub Groups = trees::LC_GROUPS; Uuid => Cbor<Group>
}

table! {
    /// `lc_channels`: live chat channels (with their rules) by id.
    pub Channels = trees::LC_CHANNELS; Uuid => Cbor<Channel>
}

table! {
    /// `lc_canned`: canned responses by id.
    pub CannedResponses = trees::LC_CANNED; Uuid => Cbor<Canned>
}

table! {
    /// `lc_chatbots`: chatbot scripts by id.
    pub Chatbots = trees::LC_CHATBOTS; Uuid => Cbor<Script>
}

/// The live chat's tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveChatStore {
    store: Store,
    groups: Table<Groups>,
    channels: Table<Channels>,
    canned: Table<CannedResponses>,
    chatbots: Table<Chatbots>,
    sessions: Table<sessions::Sessions>,
    open: Table<sessions::OpenSessions>,
    messages: Table<sessions::Messages>,
    visitors: Table<sessions::Visitors>,
    ratings: Table<records::Ratings>,
    ratings_raw: Table<records::RatingsRaw>,
    leads: Table<records::Leads>,
    tickets: Table<records::Tickets>,
    facts: Table<facts::Facts>,
    /// How many facts and ratings the last report read (to size the next one's lists).
    sizes: std::sync::Arc<facts::Sizes>,
    identity_secrets: Table<identity::IdentitySecrets>,
    presence: Table<presence::Presences>,
}

/// Every value of a table, in key order.
fn values<D: TableDef<Value = Cbor<T>>, T>(table: &Table<D>) -> Result<Vec<T>, StoreError>
where
    Cbor<T>: super::table::Value,
{
    table.iter().map(|e| e.map(|(_, Cbor(v))| v)).collect()
}

impl LiveChatStore {
    /// Opens the live chat's tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(LiveChatStore {
            store: store.clone(),
            groups: store.table()?,
            channels: store.table()?,
            canned: store.table()?,
            chatbots: store.table()?,
            sessions: store.table()?,
            open: store.table()?,
            messages: store.table()?,
            visitors: store.table()?,
            ratings: store.table()?,
            ratings_raw: store.table()?,
            leads: store.table()?,
            tickets: store.table()?,
            facts: store.table()?,
            sizes: std::sync::Arc::default(),
            identity_secrets: store.table()?,
            presence: store.table()?,
        })
    }

    /// One group.
    pub fn group(&self, id: Uuid) -> Result<Option<Group>, StoreError> {
        Ok(self.groups.get(&id)?.map(|Cbor(g)| g))
    }

    /// Every group, by id.
    pub fn groups(&self) -> Result<Vec<Group>, StoreError> {
        values(&self.groups)
    }

    /// Writes a group.
    pub fn put_group(&self, group: &Group) -> Result<(), StoreError> {
        self.groups.put_ref(&group.id, group)
    }

    /// One channel.
    pub fn channel(&self, id: Uuid) -> Result<Option<Channel>, StoreError> {
        Ok(self.channels.get(&id)?.map(|Cbor(c)| c))
    }

    /// Every channel, by id.
    pub fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        values(&self.channels)
    }

    /// Writes a channel.
    pub fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        self.channels.put_ref(&channel.id, channel)
    }

    /// Removes a channel.
    pub fn remove_channel(&self, id: Uuid) -> Result<bool, StoreError> {
        self.channels.remove(&id)
    }

    /// One canned response.
    pub fn canned(&self, id: Uuid) -> Result<Option<Canned>, StoreError> {
        Ok(self.canned.get(&id)?.map(|Cbor(c)| c))
    }

    /// Every canned response, by id.
    pub fn canned_all(&self) -> Result<Vec<Canned>, StoreError> {
        values(&self.canned)
    }

    /// Writes a canned response.
    pub fn put_canned(&self, canned: &Canned) -> Result<(), StoreError> {
        self.canned.put_ref(&canned.id, canned)
    }

    /// Removes a canned response.
    pub fn remove_canned(&self, id: Uuid) -> Result<bool, StoreError> {
        self.canned.remove(&id)
    }

    /// One chatbot script.
    pub fn chatbot(&self, id: Uuid) -> Result<Option<Script>, StoreError> {
        Ok(self.chatbots.get(&id)?.map(|Cbor(s)| s))
    }

    /// Every chatbot script, by id.
    pub fn chatbots(&self) -> Result<Vec<Script>, StoreError> {
        values(&self.chatbots)
    }

    /// Writes a chatbot script.
    pub fn put_chatbot(&self, script: &Script) -> Result<(), StoreError> {
        self.chatbots.put_ref(&script.id, script)
    }

    /// Removes a chatbot script.
    pub fn remove_chatbot(&self, id: Uuid) -> Result<bool, StoreError> {
        self.chatbots.remove(&id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::model::livechat::Message;
    use crate::model::livechat::Rating;
    use crate::model::livechat::ReturningEntry;
    use crate::model::livechat::{Kind, Record};
    use crate::store::encode;

    fn message(session: Uuid, seq: u64, text: &str) -> Message {
        Message {
            id: Uuid::now_v7(),
            session_id: session,
            seq,
            author: "visitor".into(),
            author_id: None,
            author_name: "Visitor".into(),
            text: text.into(),
            at_ms: 1_000 + seq,
            only_for: None,
            answers: Vec::new(),
            file: None,
        }
    }

    /// A data folder written by the code before the repositories (raw trees, keys built by
    /// hand) reads back through them, and what they write is byte for byte what it wrote.
    #[test]
    fn records_in_the_previous_layout_read_back_and_are_written_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
        // The previous layout, as livechat.rs wrote it.
        let raw = |name| store.tree(name).unwrap();
        for (seq, text) in [(1u64, "b"), (0, "a"), (2, "c")] {
            let m = message(s1, seq, text);
            let key = [s1.as_bytes().as_slice(), &seq.to_be_bytes()].concat();
            raw(trees::LC_MESSAGES)
                .insert(key, encode(trees::LC_MESSAGES, &m).unwrap())
                .unwrap();
        }
        let m = message(s2, 0, "other session");
        let key = [s2.as_bytes().as_slice(), &0u64.to_be_bytes()].concat();
        raw(trees::LC_MESSAGES)
            .insert(key, encode(trees::LC_MESSAGES, &m).unwrap())
            .unwrap();
        let entry = ReturningEntry {
            operator: s2,
            at_ms: 7,
        };
        raw(trees::LC_VISITORS)
            .insert(b"browser-1", encode(trees::LC_VISITORS, &entry).unwrap())
            .unwrap();
        let rating = Rating {
            session_id: s1,
            channel_id: s2,
            rating: 5,
            comment: Some("fine".into()),
            operator: None,
            internal_only: false,
            at_ms: 9,
        };
        raw(trees::LC_RATINGS)
            .insert(s1.as_bytes(), encode(trees::LC_RATINGS, &rating).unwrap())
            .unwrap();
        raw(trees::LC_REPORT_FACTS)
            .insert(b"~backfilled", &[1u8])
            .unwrap();

        let repo = LiveChatStore::open(&store).unwrap();
        let texts: Vec<String> = repo
            .messages(s1)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["a", "b", "c"]);
        let newest = repo.session_messages(s1).next_back().unwrap().unwrap();
        assert_eq!(newest.seq, 2);
        assert_eq!(repo.returning("browser-1").unwrap(), Some(entry.clone()));
        assert_eq!(repo.rating(s1).unwrap(), Some(rating.clone()));
        assert_eq!(repo.ratings_parallel().unwrap(), vec![rating.clone()]);
        assert!(repo.facts_backfilled().unwrap());
        assert!(
            repo.all_facts().unwrap().is_empty(),
            "the mark is not a session"
        );

        // Written through the repository: the same keys and bytes.
        let record = Record {
            number: 3,
            kind: "lead".into(),
            title: "t".into(),
            session_id: s1,
            channel_id: s2,
            transcript: String::new(),
            email: None,
            phone: None,
            created_by: None,
            created_by_bot: None,
            created_at_ms: 1,
            visitor_id: None,
        };
        repo.put_record(Kind::Lead, &record).unwrap();
        assert_eq!(
            raw(trees::LC_LEADS)
                .get(3u64.to_be_bytes())
                .unwrap()
                .unwrap(),
            encode(trees::LC_LEADS, &record).unwrap()
        );
        repo.put_returning("browser-2", &entry).unwrap();
        assert_eq!(
            raw(trees::LC_VISITORS).get(b"browser-2").unwrap().unwrap(),
            encode(trees::LC_VISITORS, &entry).unwrap()
        );
        let m = message(s1, 3, "d");
        repo.put_message(s1, &m).unwrap();
        let key = [s1.as_bytes().as_slice(), &3u64.to_be_bytes()].concat();
        assert_eq!(
            raw(trees::LC_MESSAGES).get(key).unwrap().unwrap(),
            encode(trees::LC_MESSAGES, &m).unwrap()
        );
        assert_eq!(repo.remove_messages(s1).unwrap(), 4);
        assert_eq!(repo.messages(s2).unwrap().len(), 1);
    }
}
