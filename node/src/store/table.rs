//! Typed tables: a [`Table`] fixes, once per table, its name, its key encoding and its value
//! type, so repositories read and write values of one type under keys of one type and never
//! pair a tree, a label and a hand-built key by hand.
//!
//! A table is described by a type implementing [`TableDef`] (its catalog name, a [`Key`] and a
//! [`Value`]); the catalog of every table is `store/tables.rs`. Keys encode big-endian so
//! ranges sort by time (UUIDv7 ids) and by number; a [`Prefix`] of a key type selects every key
//! that starts with it (a channel's messages, a session's lines). Values are CBOR ([`Cbor`])
//! unless they are raw bytes by nature ([`Raw`], attachment chunks and counters) or only a
//! mark ([`Unit`]).
//!
//! Writes go through [`Tree`], so the value size limit holds for every table. For atomic
//! writes ([`super::atomic`]) and batches a table builds the typed operation
//! ([`Table::put_op`], [`Table::batch_insert`]) so the caller never encodes by hand.
//!
//! Used by the repositories in `store/` only: services get repositories, never a table.

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::atomic::AtomicWrite;
use super::tree::{Batch, Tree};
use super::{StoreError, decode, encode};

/// A table's definition: its catalog name, key and value types.
pub trait TableDef {
    /// The sled tree's name (see [`super::trees`]).
    const NAME: &'static str;
    /// The key type.
    type Key: Key;
    /// The value type.
    type Value: Value;
}

/// A key that encodes to bytes that sort like the key.
pub trait Key: Sized {
    /// The key's bytes.
    fn encode_key(&self) -> Vec<u8>;
    /// The key back from its bytes; `None` when they do not fit the type.
    fn decode_key(bytes: &[u8]) -> Option<Self>;
}

/// A value stored in a table.
pub trait Value: Sized {
    /// The value's bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    fn encode_value(&self, table: &'static str) -> Result<Vec<u8>, StoreError>;
    /// The value back from its bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`].
    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError>;

    /// Hands the value's bytes to `write`. A value that holds its encoding already (a
    /// ratchet's pickle) lends it instead of copying it, and wipes it itself.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    fn with_encoding<R>(
        &self,
        table: &'static str,
        write: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, StoreError> {
        Ok(write(&self.encode_value(table)?))
    }
}

/// A value encoded for table `D` ahead of its write and checked against the size limit, for
/// writers that must know a value fits before they write anything (see [`Table::encode`]).
pub struct Encoded<D: TableDef> {
    bytes: Vec<u8>,
    def: PhantomData<fn() -> D>,
}

impl<D: TableDef> std::fmt::Debug for Encoded<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("table", &D::NAME)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The first part of a key type `K`: selects every key that starts with it.
pub trait Prefix<K> {
    /// The prefix's bytes.
    fn encode_prefix(&self) -> Vec<u8>;
}

/// A CBOR-encoded value of type `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cbor<T>(pub T);

impl<T: Serialize + DeserializeOwned> Value for Cbor<T> {
    fn encode_value(&self, table: &'static str) -> Result<Vec<u8>, StoreError> {
        encode(table, &self.0)
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        decode(table, bytes).map(Cbor)
    }
}

/// Raw bytes stored as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Raw(pub Vec<u8>);

impl Value for Raw {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(self.0.clone())
    }

    fn decode_value(_table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        Ok(Raw(bytes.to_vec()))
    }

    fn with_encoding<R>(
        &self,
        _table: &'static str,
        write: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, StoreError> {
        Ok(write(&self.0))
    }
}

/// An empty value: the key alone is the fact (an index entry, a "seen" mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unit;

impl Value for Unit {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(Vec::new())
    }

    fn decode_value(_table: &'static str, _bytes: &[u8]) -> Result<Self, StoreError> {
        Ok(Unit)
    }
}

impl Value for Uuid {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(self.as_bytes().to_vec())
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        Uuid::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            tree: table,
            reason: e.to_string(),
        })
    }
}

impl Value for u64 {
    fn encode_value(&self, _table: &'static str) -> Result<Vec<u8>, StoreError> {
        Ok(self.to_be_bytes().to_vec())
    }

    fn decode_value(table: &'static str, bytes: &[u8]) -> Result<Self, StoreError> {
        <[u8; 8]>::try_from(bytes)
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt {
                tree: table,
                reason: format!("a counter of {} bytes, not 8", bytes.len()),
            })
    }
}

impl Key for Uuid {
    fn encode_key(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        Uuid::from_slice(bytes).ok()
    }
}

impl Key for u64 {
    fn encode_key(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
    }
}

impl Key for String {
    fn encode_key(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl Key for [u8; 32] {
    fn encode_key(&self) -> Vec<u8> {
        self.to_vec()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok()
    }
}

impl Key for (Uuid, Uuid) {
    fn encode_key(&self) -> Vec<u8> {
        [self.0.as_bytes().as_slice(), self.1.as_bytes()].concat()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        Some((
            Uuid::from_slice(&bytes[..16]).ok()?,
            Uuid::from_slice(&bytes[16..]).ok()?,
        ))
    }
}

impl Key for (Uuid, u64) {
    fn encode_key(&self) -> Vec<u8> {
        [self.0.as_bytes().as_slice(), &self.1.to_be_bytes()].concat()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 24 {
            return None;
        }
        Some((
            Uuid::from_slice(&bytes[..16]).ok()?,
            u64::decode_key(&bytes[16..])?,
        ))
    }
}

impl Key for (Uuid, u8) {
    fn encode_key(&self) -> Vec<u8> {
        [self.0.as_bytes().as_slice(), &[self.1]].concat()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 17 {
            return None;
        }
        Some((Uuid::from_slice(&bytes[..16]).ok()?, bytes[16]))
    }
}

impl Key for (Uuid, Uuid, u32) {
    fn encode_key(&self) -> Vec<u8> {
        [
            self.0.as_bytes().as_slice(),
            self.1.as_bytes(),
            &self.2.to_be_bytes(),
        ]
        .concat()
    }

    fn decode_key(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 36 {
            return None;
        }
        Some((
            Uuid::from_slice(&bytes[..16]).ok()?,
            Uuid::from_slice(&bytes[16..32]).ok()?,
            u32::from_be_bytes(<[u8; 4]>::try_from(&bytes[32..]).ok()?),
        ))
    }
}

impl<T> Prefix<(Uuid, T)> for Uuid {
    fn encode_prefix(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Prefix<(Uuid, Uuid, u32)> for Uuid {
    fn encode_prefix(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Prefix<(Uuid, Uuid, u32)> for (Uuid, Uuid) {
    fn encode_prefix(&self) -> Vec<u8> {
        self.encode_key()
    }
}

/// Defines a table: a unit type implementing [`TableDef`] with its catalog name, key type and
/// value type, written once where its repository lives:
///
/// ```ignore
/// table! {
///     /// `lc_groups`: user groups by id.
///     pub Groups = trees::LC_GROUPS; Uuid => Cbor<Group>
/// }
/// ```
macro_rules! table {
    ($(#[$meta:meta])* $vis:vis $name:ident = $tree:expr; $key:ty => $value:ty) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $name;
        impl $crate::store::table::TableDef for $name {
            const NAME: &'static str = $tree;
            type Key = $key;
            type Value = $value;
        }
    };
}
pub(crate) use table;

/// A typed table (see the module documentation). Cheap to clone.
pub struct Table<D: TableDef> {
    tree: Tree,
    def: PhantomData<fn() -> D>,
}

impl<D: TableDef> Clone for Table<D> {
    fn clone(&self) -> Self {
        Table {
            tree: self.tree.clone(),
            def: PhantomData,
        }
    }
}

impl<D: TableDef> std::fmt::Debug for Table<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &D::NAME).finish()
    }
}

/// One entry read from a table.
pub type Entry<D> = (<D as TableDef>::Key, <D as TableDef>::Value);

impl<D: TableDef> Table<D> {
    pub(super) fn new(tree: Tree) -> Self {
        Table {
            tree,
            def: PhantomData,
        }
    }

    /// The table's catalog name.
    pub fn name(&self) -> &'static str {
        D::NAME
    }

    fn corrupt_key(bytes: &[u8]) -> StoreError {
        StoreError::Corrupt {
            tree: D::NAME,
            reason: format!("a key of {} bytes does not fit the table", bytes.len()),
        }
    }

    fn entry(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Entry<D>, StoreError> {
        let (k, v) = item?;
        let key = D::Key::decode_key(&k).ok_or_else(|| Self::corrupt_key(&k))?;
        Ok((key, D::Value::decode_value(D::NAME, &v)?))
    }

    /// The value under `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn get(&self, key: &D::Key) -> Result<Option<D::Value>, StoreError> {
        match self.tree.get(key.encode_key())? {
            Some(bytes) => Ok(Some(D::Value::decode_value(D::NAME, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether `key` is there.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn contains(&self, key: &D::Key) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(key.encode_key())?)
    }

    /// Sets `key` to `value` (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] (nothing written), [`StoreError::Encode`], [`StoreError::Sled`].
    pub fn put(&self, key: &D::Key, value: &D::Value) -> Result<(), StoreError> {
        value.with_encoding(D::NAME, |bytes| self.tree.insert(key.encode_key(), bytes))??;
        Ok(())
    }

    /// Encodes `value` for a later [`Table::put_encoded`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`] (over the size limit).
    pub fn encode(&self, value: &D::Value) -> Result<Encoded<D>, StoreError> {
        let bytes = value.encode_value(D::NAME)?;
        super::tree::check_value_len(D::NAME, bytes.len())?;
        Ok(Encoded {
            bytes,
            def: PhantomData,
        })
    }

    /// Sets `key` to a value encoded by [`Table::encode`] (not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn put_encoded(&self, key: &D::Key, value: Encoded<D>) -> Result<(), StoreError> {
        self.tree.insert(key.encode_key(), value.bytes)?;
        Ok(())
    }

    /// Removes `key`; answers whether it was there.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn remove(&self, key: &D::Key) -> Result<bool, StoreError> {
        Ok(self.tree.remove(key.encode_key())?.is_some())
    }

    /// Removes `key` and answers the value it had.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn take(&self, key: &D::Key) -> Result<Option<D::Value>, StoreError> {
        match self.tree.remove(key.encode_key())? {
            Some(bytes) => Ok(Some(D::Value::decode_value(D::NAME, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Result<Entry<D>, StoreError>> + use<D> {
        self.tree.iter().map(Self::entry)
    }

    /// Every value, in key order (stops at the first error).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn values(&self) -> Result<Vec<D::Value>, StoreError> {
        self.iter().map(|e| e.map(|(_, v)| v)).collect()
    }

    /// Every key, in order, without decoding values.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = Result<D::Key, StoreError>> + use<D> {
        self.tree.iter().keys().map(|k| {
            let k = k?;
            D::Key::decode_key(&k).ok_or_else(|| Self::corrupt_key(&k))
        })
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub fn scan<P: Prefix<D::Key>>(
        &self,
        prefix: &P,
    ) -> impl DoubleEndedIterator<Item = Result<Entry<D>, StoreError>> + use<D, P> {
        self.tree
            .scan_prefix(prefix.encode_prefix())
            .map(Self::entry)
    }

    /// The keys that start with `prefix`, in order, without decoding values.
    pub fn scan_keys<P: Prefix<D::Key>>(
        &self,
        prefix: &P,
    ) -> impl DoubleEndedIterator<Item = Result<D::Key, StoreError>> + use<D, P> {
        self.tree
            .scan_prefix(prefix.encode_prefix())
            .keys()
            .map(|k| {
                let k = k?;
                D::Key::decode_key(&k).ok_or_else(|| Self::corrupt_key(&k))
            })
    }

    /// The entries whose key lies in `range`, in key order.
    pub fn range<R: RangeBounds<D::Key>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<Entry<D>, StoreError>> + use<D, R> {
        let bound = |b: Bound<&D::Key>| match b {
            Bound::Included(k) => Bound::Included(k.encode_key()),
            Bound::Excluded(k) => Bound::Excluded(k.encode_key()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let bytes = (bound(range.start_bound()), bound(range.end_bound()));
        self.tree.range::<Vec<u8>, _>(bytes).map(Self::entry)
    }

    /// The keys that lie in `range`, in order, without decoding values.
    pub fn range_keys<R: RangeBounds<D::Key>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<D::Key, StoreError>> + use<D, R> {
        let bound = |b: Bound<&D::Key>| match b {
            Bound::Included(k) => Bound::Included(k.encode_key()),
            Bound::Excluded(k) => Bound::Excluded(k.encode_key()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let bytes = (bound(range.start_bound()), bound(range.end_bound()));
        self.tree.range::<Vec<u8>, _>(bytes).keys().map(|k| {
            let k = k?;
            D::Key::decode_key(&k).ok_or_else(|| Self::corrupt_key(&k))
        })
    }

    /// The first entry in key order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn first(&self) -> Result<Option<Entry<D>>, StoreError> {
        self.tree.first().transpose().map(Self::entry).transpose()
    }

    /// The last entry in key order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn last(&self) -> Result<Option<Entry<D>>, StoreError> {
        self.tree.last().transpose().map(Self::entry).transpose()
    }

    /// How many entries (walks the table).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Removes every entry.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn clear(&self) -> Result<(), StoreError> {
        self.tree.clear()
    }

    /// Replaces the value under `key` with what `f` makes of the current one (`None` removes
    /// it), atomically against other writers of the key, and answers the new value.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`] (the stored value did not decode: nothing
    /// written), [`StoreError::Encode`], [`StoreError::TooLarge`].
    pub fn update<F>(&self, key: &D::Key, mut f: F) -> Result<Option<D::Value>, StoreError>
    where
        F: FnMut(Option<D::Value>) -> Option<D::Value>,
    {
        let key = key.encode_key();
        loop {
            let old = self.tree.get(&key)?;
            let current = match &old {
                Some(bytes) => Some(D::Value::decode_value(D::NAME, bytes)?),
                None => None,
            };
            let new = f(current);
            let new_bytes = match &new {
                Some(v) => {
                    let bytes = v.encode_value(D::NAME)?;
                    super::tree::check_value_len(D::NAME, bytes.len())?;
                    Some(bytes)
                }
                None => None,
            };
            if self.tree.compare_and_swap(&key, old, new_bytes)?.is_ok() {
                return Ok(new);
            }
        }
    }

    /// Sets `key` to `new` (`None` removes it) only if it still holds `expected` (`None`:
    /// absent); answers whether it did. For writers that decide against the current value and
    /// must not overwrite a racing writer's (the directory's first-come binding).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Encode`], [`StoreError::TooLarge`] (nothing written).
    pub fn compare_and_swap(
        &self,
        key: &D::Key,
        expected: Option<&D::Value>,
        new: Option<&D::Value>,
    ) -> Result<bool, StoreError> {
        let expected = expected.map(|v| v.encode_value(D::NAME)).transpose()?;
        let new = match new {
            Some(v) => {
                let bytes = v.encode_value(D::NAME)?;
                super::tree::check_value_len(D::NAME, bytes.len())?;
                Some(bytes)
            }
            None => None,
        };
        Ok(self
            .tree
            .compare_and_swap(key.encode_key(), expected, new)?
            .is_ok())
    }

    /// Adds a put of `value` under `key` to an atomic write.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    pub fn put_op(
        &self,
        write: &mut AtomicWrite,
        key: &D::Key,
        value: &D::Value,
    ) -> Result<(), StoreError> {
        write.put(D::NAME, key.encode_key(), value.encode_value(D::NAME)?);
        Ok(())
    }

    /// Adds a create (written on replay only if still absent) to an atomic write.
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`].
    pub fn create_op(
        &self,
        write: &mut AtomicWrite,
        key: &D::Key,
        value: &D::Value,
    ) -> Result<(), StoreError> {
        write.create(D::NAME, key.encode_key(), value.encode_value(D::NAME)?);
        Ok(())
    }

    /// Adds a removal of `key` to an atomic write.
    pub fn remove_op(&self, write: &mut AtomicWrite, key: &D::Key) {
        write.remove(D::NAME, key.encode_key());
    }

    /// Adds an insert to a batch for this table (see [`Table::apply`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Encode`], [`StoreError::TooLarge`] (nothing added).
    pub fn batch_insert(
        &self,
        batch: &mut Batch,
        key: &D::Key,
        value: &D::Value,
    ) -> Result<(), StoreError> {
        batch.insert(D::NAME, key.encode_key(), value.encode_value(D::NAME)?)
    }

    /// Adds a removal to a batch for this table.
    pub fn batch_remove(&self, batch: &mut Batch, key: &D::Key) {
        batch.remove(key.encode_key());
    }

    /// Applies a batch built for this table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.tree.apply_batch(batch)
    }
}

/// Tables of CBOR values can be written from a borrowed value (no clone to wrap it).
impl<D, T> Table<D>
where
    D: TableDef<Value = Cbor<T>>,
    T: Serialize + DeserializeOwned,
{
    /// Sets `key` to `value` (not durable until a flush), like [`Table::put`].
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] (nothing written), [`StoreError::Encode`], [`StoreError::Sled`].
    pub fn put_ref(&self, key: &D::Key, value: &T) -> Result<(), StoreError> {
        self.tree
            .insert(key.encode_key(), encode(D::NAME, value)?)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::super::Store;
    use super::*;

    struct Lines;
    impl TableDef for Lines {
        const NAME: &'static str = "test_lines";
        type Key = (Uuid, u64);
        type Value = Cbor<String>;
    }

    #[test]
    fn a_table_reads_back_typed_values_in_key_order_and_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lines: Table<Lines> = store.table().unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for n in [3u64, 1, 2] {
            lines.put(&(a, n), &Cbor(format!("a{n}"))).unwrap();
        }
        lines.put(&(b, 1), &Cbor("b1".into())).unwrap();
        let of_a: Vec<_> = lines.scan(&a).map(|e| e.unwrap().1.0).collect();
        assert_eq!(of_a, ["a1", "a2", "a3"]);
        let middle: Vec<_> = lines.range((a, 2)..=(b, 0)).map(|e| e.unwrap().0).collect();
        assert_eq!(middle, [(a, 2), (a, 3)]);
        assert_eq!(lines.last().unwrap().unwrap().0, (b, 1));
        assert_eq!(
            lines
                .update(&(b, 1), |v| v.map(|Cbor(s)| Cbor(s + "!")))
                .unwrap(),
            Some(Cbor("b1!".to_string()))
        );
        assert!(lines.remove(&(a, 1)).unwrap());
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_key_that_does_not_fit_the_table_is_reported_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .tree(Lines::NAME)
            .unwrap()
            .insert(b"short", Vec::<u8>::new())
            .unwrap();
        let lines: Table<Lines> = store.table().unwrap();
        let got: Vec<_> = lines.iter().collect();
        assert!(matches!(got[0], Err(StoreError::Corrupt { .. })), "{got:?}");
    }
}
