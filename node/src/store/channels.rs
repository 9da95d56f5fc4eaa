//! The channels repository: the end-to-end encrypted channels between two instances.
//!
//! | table      | key                       | value                    |
//! |------------|---------------------------|--------------------------|
//! | `channels` | channel id (UUIDv7, 16 B) | [`ChannelRecord`] (CBOR) |
//!
//! Only the federation writes channels: it creates one, with its first ratchet, in the atomic
//! write that accepts a connection ([`Channels::create_op`]). Messaging reads them and writes
//! only the channel's ratchet ([`super::ratchets`]). Records written before the ratchets had a
//! table of their own carried the ratchet (and a rollback mark) inside; [`super::upgrade`]
//! moves them out when the store opens.

use uuid::Uuid;

use super::atomic::AtomicWrite;
use super::ratchets::{RatchetPickle, Ratchets};
use super::table::{Cbor, Table, table};
use super::{Store, StoreError, trees};
use crate::model::ChannelRecord;

table! {
    /// `channels`: channel id → channel.
    pub ChannelsTable = trees::CHANNELS; Uuid => Cbor<ChannelRecord>
}

/// A channel about to be created, with its first ratchet.
#[derive(Debug)]
pub struct NewChannel {
    /// The channel.
    pub record: ChannelRecord,
    /// Its first ratchet, from the connection's key agreement.
    pub ratchet: RatchetPickle,
}

/// The channels repository (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Channels {
    table: Table<ChannelsTable>,
    ratchets: Ratchets,
}

impl Channels {
    /// The repository of `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(Channels {
            table: store.table()?,
            ratchets: Ratchets::open(store)?,
        })
    }

    /// One channel.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn get(&self, id: Uuid) -> Result<Option<ChannelRecord>, StoreError> {
        Ok(self.table.get(&id)?.map(|Cbor(c)| c))
    }

    /// Every channel, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn all(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        self.table.iter().map(|e| e.map(|(_, Cbor(c))| c)).collect()
    }

    /// Adds the creation of `channel` and its first ratchet to an atomic write, the ratchet
    /// first (a reader who finds the channel finds its ratchet). Both are created (a replay
    /// leaves alone what messaging wrote since); a `rekeyed` channel (an earlier one reused by
    /// a new connection: same id, fresh keys) replaces the stored one and its ratchet, and
    /// loses its rollback mark.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    pub fn create_op(
        &self,
        write: &mut AtomicWrite,
        channel: &NewChannel,
        rekeyed: bool,
    ) -> Result<(), StoreError> {
        let id = channel.record.id;
        self.ratchets
            .first_op(write, id, &channel.ratchet, rekeyed)?;
        let record = Cbor(channel.record.clone());
        if rekeyed {
            self.table.put_op(write, &id, &record)
        } else {
            self.table.create_op(write, &id, &record)
        }
    }
}
