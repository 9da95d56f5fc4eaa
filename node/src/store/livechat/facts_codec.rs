//! The stored form of a closed session's report facts ([`SessionFacts`] in `lc_report_facts`)
//! and of a rating (`lc_ratings`): a compact fixed layout, decoded without a CBOR parser.
//! Used by [`super::facts`] and [`super::records`]; the reports read a million of these.
//!
//! Why: a report over 1,000,000 sessions decoded every facts record and every rating as a
//! CBOR map with its field names (ciborium), several times the cost of reading them from
//! sled. The compact layout has no field names and no parser state: fixed-width fields read
//! in order, then the variable parts.
//!
//! Versioned by its first byte, [`COMPACT_V1`]. Records written before this form are CBOR
//! maps, whose first byte is 0xA0–0xBF (a map header), never 0x01: both forms are read, so a
//! folder written by an earlier release reads as it did (nothing is rewritten). A record
//! whose parts do not fit the layout (a string or a list over 65,534 entries or bytes) is
//! written as CBOR, as before.
//!
//! Layout v1 of the facts (little-endian): `01`, id (16), channel (16), created (8), flags (1:
//! closed, handover, no_operator, first_visitor, last_message, queue, visitor, chatbot), the
//! present times among closed, handover, first visitor, last message and queue (8 each),
//! messages (4), speakers (4), operators (2 + 16 each), first message by operator (2 + 24
//! each), then visitor id, chatbot id, country and language (2 + bytes each; country and
//! language `0` = none, else length + 1; visitor and chatbot only when flagged).
//!
//! Layout v1 of a rating: `01`, session (16), channel (16), rating (1), flags (1: operator,
//! internal only, comment), given at (8), the operator (16) if any, the comment (2 + bytes)
//! if any.

use uuid::Uuid;

use crate::model::livechat::{Rating, SessionFacts};
use crate::store::{StoreError, decode, encode};

/// The first byte of the compact layout (a CBOR map starts with 0xA0–0xBF).
pub const COMPACT_V1: u8 = 0x01;

/// The most entries or bytes a variable part of the layout holds.
const MAX_PART: usize = u16::MAX as usize - 1;

/// Bytes written in the layout.
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: usize) {
        // Callers check `MAX_PART` first.
        self.0
            .extend_from_slice(&u16::try_from(v).unwrap_or(u16::MAX).to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn id(&mut self, v: &Uuid) {
        self.0.extend_from_slice(v.as_bytes());
    }
    fn text(&mut self, s: &str) {
        self.u16(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    /// `0` for none, else length + 1.
    fn opt_text(&mut self, s: Option<&String>) {
        match s {
            None => self.u16(0),
            Some(s) => {
                self.u16(s.len() + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
}

/// Bytes read from the layout; every read checks the length.
struct Reader<'a> {
    bytes: &'a [u8],
    tree: &'static str,
}

impl<'a> Reader<'a> {
    fn short(&self) -> StoreError {
        StoreError::Corrupt {
            tree: self.tree,
            reason: "a compact record ends too early".into(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(self.short());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<usize, StoreError> {
        Ok(usize::from(u16::from_le_bytes(self.array()?)))
    }
    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn id(&mut self) -> Result<Uuid, StoreError> {
        Ok(Uuid::from_bytes(self.array()?))
    }
    fn str_of(&mut self, len: usize) -> Result<String, StoreError> {
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt {
            tree: self.tree,
            reason: "a compact record holds a text that is not UTF-8".into(),
        })
    }
    fn text(&mut self) -> Result<String, StoreError> {
        let len = self.u16()?;
        self.str_of(len)
    }
    fn opt_text(&mut self) -> Result<Option<String>, StoreError> {
        match self.u16()? {
            0 => Ok(None),
            n => self.str_of(n - 1).map(Some),
        }
    }
    fn opt_u64(&mut self, present: bool) -> Result<Option<u64>, StoreError> {
        present.then(|| self.u64()).transpose()
    }
    fn end(&self) -> Result<(), StoreError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                tree: self.tree,
                reason: "a compact record has bytes after its end".into(),
            })
        }
    }
}

const CLOSED: u8 = 1;
const HANDOVER: u8 = 1 << 1;
const NO_OPERATOR: u8 = 1 << 2;
const FIRST_VISITOR: u8 = 1 << 3;
const LAST_MESSAGE: u8 = 1 << 4;
const QUEUE: u8 = 1 << 5;
const VISITOR: u8 = 1 << 6;
const CHATBOT: u8 = 1 << 7;

fn too_long(s: Option<&String>) -> bool {
    s.is_some_and(|s| s.len() > MAX_PART - 1)
}

/// Whether the facts fit the compact layout.
fn fits(f: &SessionFacts) -> bool {
    f.operators.len() <= MAX_PART
        && f.first_by_operator.len() <= MAX_PART
        && ![&f.visitor_id, &f.chatbot_id, &f.country, &f.language]
            .into_iter()
            .any(|s| too_long(s.as_ref()))
}

/// The stored bytes of a session's facts (compact; CBOR when they do not fit).
///
/// # Errors
///
/// [`StoreError::Encode`] (CBOR only).
pub fn encode_facts(tree: &'static str, f: &SessionFacts) -> Result<Vec<u8>, StoreError> {
    if !fits(f) {
        return encode(tree, f);
    }
    let mut w = Writer(Vec::with_capacity(96 + 16 * f.operators.len()));
    w.u8(COMPACT_V1);
    w.id(&f.id);
    w.id(&f.channel_id);
    w.u64(f.created_at_ms);
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    w.u8(flag(f.closed_at_ms.is_some(), CLOSED)
        | flag(f.handover_at_ms.is_some(), HANDOVER)
        | flag(f.no_operator, NO_OPERATOR)
        | flag(f.first_visitor_ms.is_some(), FIRST_VISITOR)
        | flag(f.last_message_ms.is_some(), LAST_MESSAGE)
        | flag(f.queue_ms.is_some(), QUEUE)
        | flag(f.visitor_id.is_some(), VISITOR)
        | flag(f.chatbot_id.is_some(), CHATBOT));
    for t in [
        f.closed_at_ms,
        f.handover_at_ms,
        f.first_visitor_ms,
        f.last_message_ms,
        f.queue_ms,
    ]
    .into_iter()
    .flatten()
    {
        w.u64(t);
    }
    w.u32(f.messages);
    w.u32(f.speakers);
    w.u16(f.operators.len());
    for op in &f.operators {
        w.id(op);
    }
    w.u16(f.first_by_operator.len());
    for (op, at) in &f.first_by_operator {
        w.id(op);
        w.u64(*at);
    }
    if let Some(v) = &f.visitor_id {
        w.text(v);
    }
    if let Some(c) = &f.chatbot_id {
        w.text(c);
    }
    w.opt_text(f.country.as_ref());
    w.opt_text(f.language.as_ref());
    Ok(w.0)
}

/// A session's facts from their stored bytes (compact or CBOR).
///
/// # Errors
///
/// [`StoreError::Corrupt`].
pub fn decode_facts(tree: &'static str, bytes: &[u8]) -> Result<SessionFacts, StoreError> {
    let Some((&COMPACT_V1, rest)) = bytes.split_first() else {
        return decode(tree, bytes);
    };
    let mut r = Reader { bytes: rest, tree };
    let id = r.id()?;
    let channel_id = r.id()?;
    let created_at_ms = r.u64()?;
    let flags = r.u8()?;
    let on = |bit: u8| flags & bit != 0;
    let closed_at_ms = r.opt_u64(on(CLOSED))?;
    let handover_at_ms = r.opt_u64(on(HANDOVER))?;
    let first_visitor_ms = r.opt_u64(on(FIRST_VISITOR))?;
    let last_message_ms = r.opt_u64(on(LAST_MESSAGE))?;
    let queue_ms = r.opt_u64(on(QUEUE))?;
    let messages = r.u32()?;
    let speakers = r.u32()?;
    let n = r.u16()?;
    let mut operators = Vec::with_capacity(n);
    for _ in 0..n {
        operators.push(r.id()?);
    }
    let n = r.u16()?;
    let mut first_by_operator = Vec::with_capacity(n);
    for _ in 0..n {
        first_by_operator.push((r.id()?, r.u64()?));
    }
    let visitor_id = on(VISITOR).then(|| r.text()).transpose()?;
    let chatbot_id = on(CHATBOT).then(|| r.text()).transpose()?;
    let country = r.opt_text()?;
    let language = r.opt_text()?;
    r.end()?;
    Ok(SessionFacts {
        id,
        channel_id,
        visitor_id,
        country,
        language,
        operators,
        chatbot_id,
        created_at_ms,
        closed_at_ms,
        handover_at_ms,
        no_operator: on(NO_OPERATOR),
        messages,
        speakers,
        first_visitor_ms,
        last_message_ms,
        first_by_operator,
        queue_ms,
    })
}

const RATED_OPERATOR: u8 = 1;
const INTERNAL_ONLY: u8 = 1 << 1;
const COMMENT: u8 = 1 << 2;

/// The stored bytes of a rating (compact; CBOR when its comment does not fit).
///
/// # Errors
///
/// [`StoreError::Encode`] (CBOR only).
pub fn encode_rating(tree: &'static str, r: &Rating) -> Result<Vec<u8>, StoreError> {
    if too_long(r.comment.as_ref()) {
        return encode(tree, r);
    }
    let mut w = Writer(Vec::with_capacity(64));
    w.u8(COMPACT_V1);
    w.id(&r.session_id);
    w.id(&r.channel_id);
    w.u8(r.rating);
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    w.u8(flag(r.operator.is_some(), RATED_OPERATOR)
        | flag(r.internal_only, INTERNAL_ONLY)
        | flag(r.comment.is_some(), COMMENT));
    w.u64(r.at_ms);
    if let Some(op) = &r.operator {
        w.id(op);
    }
    if let Some(c) = &r.comment {
        w.text(c);
    }
    Ok(w.0)
}

/// A rating from its stored bytes (compact or CBOR).
///
/// # Errors
///
/// [`StoreError::Corrupt`].
pub fn decode_rating(tree: &'static str, bytes: &[u8]) -> Result<Rating, StoreError> {
    let Some((&COMPACT_V1, rest)) = bytes.split_first() else {
        return decode(tree, bytes);
    };
    let mut r = Reader { bytes: rest, tree };
    let session_id = r.id()?;
    let channel_id = r.id()?;
    let rating = r.u8()?;
    let flags = r.u8()?;
    let at_ms = r.u64()?;
    let operator = (flags & RATED_OPERATOR != 0).then(|| r.id()).transpose()?;
    let comment = (flags & COMMENT != 0).then(|| r.text()).transpose()?;
    r.end()?;
    Ok(Rating {
        session_id,
        channel_id,
        rating,
        comment,
        operator,
        internal_only: flags & INTERNAL_ONLY != 0,
        at_ms,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const T: &str = "lc_report_facts";

    fn facts() -> SessionFacts {
        SessionFacts {
            id: Uuid::now_v7(),
            channel_id: Uuid::from_u128(7),
            visitor_id: Some("visitor-1".into()),
            country: Some("BE".into()),
            language: Some(String::new()),
            operators: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
            chatbot_id: Some("bot".into()),
            created_at_ms: 1_793_577_600_000,
            closed_at_ms: Some(1_793_577_660_000),
            handover_at_ms: None,
            no_operator: true,
            messages: 3,
            speakers: 2,
            first_visitor_ms: Some(1_793_577_610_000),
            last_message_ms: None,
            first_by_operator: vec![(Uuid::from_u128(2), 1_793_577_620_000)],
            queue_ms: Some(4_000),
        }
    }

    #[test]
    fn facts_round_trip_in_both_forms_and_the_compact_one_is_smaller() {
        let mut none = facts();
        none.visitor_id = None;
        none.chatbot_id = None;
        none.country = None;
        none.language = None;
        none.operators.clear();
        none.first_by_operator.clear();
        none.closed_at_ms = None;
        none.queue_ms = None;
        none.handover_at_ms = Some(5);
        for f in [facts(), none] {
            let compact = encode_facts(T, &f).unwrap();
            assert_eq!(compact[0], COMPACT_V1);
            assert_eq!(decode_facts(T, &compact).unwrap(), f);
            let cbor = encode(T, &f).unwrap();
            assert_eq!(decode_facts(T, &cbor).unwrap(), f, "a record of before");
            assert!(
                compact.len() * 2 < cbor.len(),
                "{} {}",
                compact.len(),
                cbor.len()
            );
        }
    }

    #[test]
    fn facts_that_do_not_fit_are_kept_as_cbor() {
        let mut f = facts();
        f.visitor_id = Some("v".repeat(70_000));
        let bytes = encode_facts(T, &f).unwrap();
        assert_ne!(bytes[0], COMPACT_V1);
        assert_eq!(decode_facts(T, &bytes).unwrap(), f);
    }

    #[test]
    fn a_damaged_compact_record_is_an_error_not_a_panic() {
        let bytes = encode_facts(T, &facts()).unwrap();
        for cut in 1..bytes.len() {
            let err = decode_facts(T, &bytes[..cut]).unwrap_err();
            assert!(err.to_string().contains("damaged"), "{err}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_facts(T, &long).is_err());
    }

    #[test]
    fn ratings_round_trip_in_both_forms() {
        let mut r = Rating {
            session_id: Uuid::now_v7(),
            channel_id: Uuid::from_u128(3),
            rating: 5,
            comment: Some("Quick and kind".into()),
            operator: Some(Uuid::from_u128(1)),
            internal_only: true,
            at_ms: 1_793_577_660_000,
        };
        for _ in 0..2 {
            let compact = encode_rating("lc_ratings", &r).unwrap();
            assert_eq!(compact[0], COMPACT_V1);
            assert_eq!(decode_rating("lc_ratings", &compact).unwrap(), r);
            let cbor = encode("lc_ratings", &r).unwrap();
            assert_eq!(decode_rating("lc_ratings", &cbor).unwrap(), r);
            for cut in 1..compact.len() {
                assert!(decode_rating("lc_ratings", &compact[..cut]).is_err());
            }
            r.comment = None;
            r.operator = None;
            r.internal_only = false;
        }
    }
}
