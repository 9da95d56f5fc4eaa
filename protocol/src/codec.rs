//! The wire codec: length-prefixed CBOR frames with hard limits.
//!
//! A **frame** is a 4-byte big-endian body length ([`FRAME_HEADER_LEN`]) followed by a CBOR body
//! written by [ciborium](https://docs.rs/ciborium). Two limits ([`Limits`]) protect a node from its
//! peers:
//!
//! - `max_frame` caps the body. A streaming reader (the node's libp2p codec) reads the header,
//!   checks it with [`frame_len`] *before* reading or allocating, reads exactly that many bytes and
//!   hands them to [`decode_body`].
//! - `recursion_limit` caps nesting (arrays, maps, enums, tags): [`DecodeError::RecursionLimit`],
//!   never a stack overflow.
//!
//! Before serde runs, [`decode_body`] walks the CBOR structure once, iteratively, and refuses any
//! array, map or string declaring more items or bytes than remain ([`DecodeError::LengthOverrun`]).
//! ciborium 0.2 does not pre-allocate from declared lengths (strings grow as bytes arrive; serde caps
//! `size_hint` pre-allocation at 1 MiB), but a hand-written `Deserialize` trusting `size_hint` would.
//! So decoded memory stays linear in the body length (a small constant factor: an empty array is
//! one CBOR byte but a 24-byte `Vec`).
//!
//! [`encode_body`] is plain CBOR and deterministic for equal values, provided the value serialises
//! its maps in a fixed order (use `BTreeMap`, not `HashMap`, in anything that gets signed).

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Length of the big-endian `u32` prefix in front of every frame body.
pub const FRAME_HEADER_LEN: usize = 4;

/// Default cap on a frame body: 1 MiB, far above any handshake or chat message (a few KiB).
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Default cap on nesting: 32 levels. ochat's wire types nest fewer than 10; 32 levels of ciborium
/// recursion fit on any thread's stack, even in debug builds.
pub const DEFAULT_RECURSION_LIMIT: usize = 32;

/// The longest error detail kept from a decoder message (they can quote peer-supplied names).
const MAX_DETAIL: usize = 200;

/// Size and depth limits applied to every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body, in bytes, not counting the 4-byte header. Values above `u32::MAX`
    /// behave as `u32::MAX`, the most a header can declare.
    pub max_frame: usize,
    /// Deepest accepted nesting of arrays, maps, enums and tags.
    pub recursion_limit: usize,
}

impl Limits {
    /// Limits with the given body cap and nesting cap.
    pub const fn new(max_frame: usize, recursion_limit: usize) -> Self {
        Self {
            max_frame,
            recursion_limit,
        }
    }
}

impl Default for Limits {
    /// [`DEFAULT_MAX_FRAME`] and [`DEFAULT_RECURSION_LIMIT`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME, DEFAULT_RECURSION_LIMIT)
    }
}

/// Why a value could not be turned into a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The value's `Serialize` implementation failed.
    #[error("the value cannot be encoded as CBOR: {0}")]
    Unserializable(String),
    /// The encoded body is longer than the frame limit allows.
    #[error("the encoded body is {len} bytes, over the frame limit of {max} bytes")]
    FrameTooLarge {
        /// Length of the encoded body.
        len: usize,
        /// The limit in force.
        max: usize,
    },
}

/// Why bytes could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The frame declares (or the body has) more bytes than the limit allows.
    #[error("the frame declares a {declared}-byte body, over the limit of {max} bytes")]
    FrameTooLarge {
        /// Declared (or actual) body length.
        declared: usize,
        /// The limit in force.
        max: usize,
    },
    /// The buffer ends before the frame does; read at least `needed` more bytes and try again.
    #[error("the frame is incomplete: at least {needed} more bytes are needed")]
    Incomplete {
        /// How many more bytes the buffer needs, at least.
        needed: usize,
    },
    /// The body nests deeper than the recursion limit.
    #[error("the body nests deeper than the limit of {limit} levels")]
    RecursionLimit {
        /// The limit in force.
        limit: usize,
    },
    /// An array, map or string declares more items or bytes than the body has left.
    #[error(
        "the item at byte {offset} declares a length of {declared}, but only {remaining} bytes remain"
    )]
    LengthOverrun {
        /// Offset of the item's head in the body.
        offset: usize,
        /// The declared number of items or bytes.
        declared: u64,
        /// Bytes left in the body after the head.
        remaining: usize,
    },
    /// The body is not valid CBOR, or not the CBOR of the expected type.
    #[error("the body is malformed: {0}")]
    Malformed(String),
    /// The body holds one complete value followed by `extra` more bytes.
    #[error("the body has {extra} unexpected bytes after its value")]
    TrailingBytes {
        /// Number of bytes after the value.
        extra: usize,
    },
}

/// Encodes `value` as plain CBOR, without a frame header (the bytes that get signed).
///
/// The same value always gives the same bytes, provided its `Serialize` implementation is itself
/// deterministic (no `HashMap`).
pub fn encode_body<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut body = Vec::new();
    ciborium::ser::into_writer(value, &mut body).map_err(|e| {
        EncodeError::Unserializable(match e {
            ciborium::ser::Error::Io(io) => io.to_string(),
            ciborium::ser::Error::Value(msg) => msg,
        })
    })?;
    Ok(body)
}

/// Encodes `value` as a frame: the body's length as a big-endian `u32`, then the body.
///
/// Refuses bodies longer than `limits.max_frame` (or `u32::MAX`), which a peer would refuse too.
pub fn encode_frame<T: Serialize>(value: &T, limits: &Limits) -> Result<Vec<u8>, EncodeError> {
    let body = encode_body(value)?;
    let (len, max) = (body.len(), effective_max(limits));
    let declared = u32::try_from(len)
        .ok()
        .filter(|_| len <= max)
        .ok_or(EncodeError::FrameTooLarge { len, max })?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    frame.extend_from_slice(&declared.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Reads a frame header and returns the declared body length, refusing it if it is over the limit.
///
/// Call this before reading or allocating anything for the body.
pub fn frame_len(header: [u8; FRAME_HEADER_LEN], limits: &Limits) -> Result<usize, DecodeError> {
    let declared = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    let max = effective_max(limits);
    if declared > max {
        return Err(DecodeError::FrameTooLarge { declared, max });
    }
    Ok(declared)
}

/// Decodes one frame body: exactly one CBOR value, nothing after it.
pub fn decode_body<T: DeserializeOwned>(body: &[u8], limits: &Limits) -> Result<T, DecodeError> {
    let (declared, max) = (body.len(), effective_max(limits));
    if declared > max {
        return Err(DecodeError::FrameTooLarge { declared, max });
    }
    let extra = body.len() - check_structure(body, limits.recursion_limit)?;
    if extra > 0 {
        return Err(DecodeError::TrailingBytes { extra });
    }
    let mut reader = body;
    let value = ciborium::de::from_reader_with_recursion_limit(&mut reader, limits.recursion_limit)
        .map_err(|e| from_ciborium(e, limits.recursion_limit))?;
    match reader.len() {
        0 => Ok(value),
        extra => Err(DecodeError::TrailingBytes { extra }),
    }
}

/// Decodes the frame at the start of `buf`, returning the value and the bytes consumed (header plus
/// body). Bytes after the frame are left alone: they belong to the next frame.
///
/// A declared length over the limit is refused as soon as the header is there, before the body.
pub fn decode_frame<T: DeserializeOwned>(
    buf: &[u8],
    limits: &Limits,
) -> Result<(T, usize), DecodeError> {
    let Some(header) = buf.first_chunk::<FRAME_HEADER_LEN>() else {
        return Err(incomplete(FRAME_HEADER_LEN - buf.len()));
    };
    let len = frame_len(*header, limits)?;
    let total = FRAME_HEADER_LEN.saturating_add(len);
    let Some(body) = buf.get(FRAME_HEADER_LEN..total) else {
        return Err(incomplete(total - buf.len()));
    };
    Ok((decode_body(body, limits)?, total))
}

fn incomplete(needed: usize) -> DecodeError {
    DecodeError::Incomplete { needed }
}

fn effective_max(limits: &Limits) -> usize {
    let wire_max = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
    limits.max_frame.min(wire_max)
}

fn from_ciborium(err: ciborium::de::Error<std::io::Error>, limit: usize) -> DecodeError {
    use ciborium::de::Error;
    let detail = match err {
        Error::RecursionLimitExceeded => return DecodeError::RecursionLimit { limit },
        Error::Io(io) => format!("the body ends early ({io})"),
        Error::Syntax(offset) => format!("invalid CBOR at byte {offset}"),
        Error::Semantic(Some(offset), msg) => format!("{msg} (at byte {offset})"),
        Error::Semantic(None, msg) => msg,
    };
    DecodeError::Malformed(shorten(detail))
}

fn malformed(what: &str, at: usize) -> DecodeError {
    DecodeError::Malformed(format!("{what} at byte {at}"))
}

fn shorten(mut detail: String) -> String {
    if detail.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail.truncate(cut);
        detail.push('…');
    }
    detail
}

/// A container still open while walking the structure.
enum Open {
    /// A definite-length array or map: items (keys and values counted separately) still to come.
    Items(u64),
    /// An indefinite-length array or map, closed by a break.
    Indefinite,
    /// An indefinite-length byte or text string: definite chunks of `major` until a break.
    Chunks { major: u8 },
}

/// Walks the first CBOR item of `body` without building anything and returns where it ends.
///
/// Iterative (its stack holds at most `limit` containers plus one string), it checks every declared
/// length against the bytes that remain and the nesting of arrays and maps against `limit`.
fn check_structure(body: &[u8], limit: usize) -> Result<usize, DecodeError> {
    let truncated = |at: usize| malformed("the body ends inside the item", at);
    let mut stack: Vec<Open> = Vec::new();
    let mut pos = 0usize;
    loop {
        let start = pos;
        let initial = *body.get(pos).ok_or_else(|| truncated(start))?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let arg_len = match info {
            0..=23 | 31 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(malformed("reserved item head", start)),
        };
        let arg_bytes = body
            .get(pos + 1..pos + 1 + arg_len)
            .ok_or_else(|| truncated(start))?;
        let arg = match info {
            0..=23 => u64::from(info),
            _ => arg_bytes
                .iter()
                .fold(0, |acc, b| (acc << 8) | u64::from(*b)),
        };
        pos += 1 + arg_len;
        let remaining = body.len() - pos;
        let overrun = |declared| DecodeError::LengthOverrun {
            offset: start,
            declared,
            remaining,
        };
        let indefinite = info == 31;

        if let Some(Open::Chunks { major: string }) = stack.last() {
            let is_break = initial == 0xff;
            if !is_break && (major != *string || indefinite) {
                return Err(malformed("invalid string chunk", start));
            }
        }

        match (major, indefinite) {
            (0 | 1, false) | (7, false) => {}
            (2 | 3, false) => {
                let len = usize::try_from(arg)
                    .ok()
                    .filter(|n| *n <= remaining)
                    .ok_or_else(|| overrun(arg))?;
                pos += len;
            }
            (2 | 3, true) => {
                stack.push(Open::Chunks { major });
                continue;
            }
            (4 | 5, _) => {
                if stack.len() >= limit {
                    return Err(DecodeError::RecursionLimit { limit });
                }
                if indefinite {
                    stack.push(Open::Indefinite);
                    continue;
                }
                let items = if major == 5 {
                    arg.checked_mul(2)
                } else {
                    Some(arg)
                };
                let items = items
                    .filter(|n| *n <= remaining as u64)
                    .ok_or_else(|| overrun(arg))?;
                if items > 0 {
                    stack.push(Open::Items(items));
                    continue;
                }
            }
            (6, false) => continue, // a tag: its content follows
            (7, true) => match stack.pop() {
                Some(Open::Indefinite | Open::Chunks { .. }) => {}
                _ => return Err(malformed("unexpected break", start)),
            },
            _ => {
                return Err(malformed("invalid item head", start));
            }
        }

        // One item is complete: count it against the enclosing containers.
        loop {
            match stack.last_mut() {
                None => return Ok(pos),
                Some(Open::Items(left)) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    stack.pop();
                }
                Some(Open::Indefinite | Open::Chunks { .. }) => break,
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn body_of<T: Serialize>(value: &T) -> Vec<u8> {
        encode_body(value).unwrap()
    }

    fn decode_value(body: &[u8], limits: &Limits) -> Result<ciborium::Value, DecodeError> {
        decode_body(body, limits)
    }

    #[test]
    fn a_sender_refuses_oversized_or_unserialisable_values() {
        let err = encode_frame(&"a long greeting", &Limits::new(8, 32)).unwrap_err();
        assert_eq!(err, EncodeError::FrameTooLarge { len: 16, max: 8 });

        struct Refuses;
        impl Serialize for Refuses {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("secret keys are never encoded"))
            }
        }
        let err = encode_frame(&Refuses, &Limits::default()).unwrap_err();
        let expected = "the value cannot be encoded as CBOR: secret keys are never encoded";
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn a_header_over_the_limit_is_refused_before_the_body_arrives() {
        let limits = Limits::default();
        let max = DEFAULT_MAX_FRAME;
        let header = |len: usize| u32::try_from(len).unwrap().to_be_bytes();
        assert_eq!(frame_len(header(max), &limits), Ok(max));
        let too_large = DecodeError::FrameTooLarge {
            declared: max + 1,
            max,
        };
        assert_eq!(frame_len(header(max + 1), &limits), Err(too_large.clone()));
        // Only the header has arrived, yet the answer is final: no point waiting for the body.
        assert_eq!(
            decode_frame::<u8>(&header(max + 1), &limits),
            Err(too_large)
        );
        let err = decode_body::<String>(&body_of(&"hello"), &Limits::new(4, 32));
        assert!(matches!(
            err,
            Err(DecodeError::FrameTooLarge {
                declared: 6,
                max: 4
            })
        ));
    }

    #[test]
    fn a_short_buffer_asks_for_more_bytes() {
        let frame = encode_frame(&"hello", &Limits::default()).unwrap();
        let short_header = decode_frame::<String>(&frame[..1], &Limits::default());
        assert_eq!(short_header, Err(DecodeError::Incomplete { needed: 3 }));
        let short_body = decode_frame::<String>(&frame[..frame.len() - 5], &Limits::default());
        assert_eq!(short_body, Err(DecodeError::Incomplete { needed: 5 }));
    }

    #[test]
    fn bytes_after_the_value_are_refused() {
        let mut body = body_of(&"hello");
        body.extend([0x00, 0x01]);
        let err = decode_body::<String>(&body, &Limits::default()).unwrap_err();
        assert_eq!(err, DecodeError::TrailingBytes { extra: 2 });
        let message = "the body has 2 unexpected bytes after its value";
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn nesting_up_to_the_limit_is_fine_and_one_more_level_is_refused() {
        let nested = |depth: usize| [vec![0x81; depth], vec![0x00]].concat();
        let limits = Limits::new(DEFAULT_MAX_FRAME, 5);
        assert!(decode_value(&nested(5), &limits).is_ok());
        assert_eq!(
            decode_value(&nested(6), &limits),
            Err(DecodeError::RecursionLimit { limit: 5 })
        );

        // ciborium counts serde levels too: the enum inside `[ "Ping" ]` is a second level.
        #[derive(Debug, PartialEq, Deserialize)]
        enum Kind {
            Ping,
        }
        let body = [0x81, 0x64, b'P', b'i', b'n', b'g'];
        assert_eq!(
            decode_body(&body, &Limits::new(64, 2)),
            Ok(vec![Kind::Ping])
        );
        let err = decode_body::<Vec<Kind>>(&body, &Limits::new(64, 1)).unwrap_err();
        assert_eq!(err, DecodeError::RecursionLimit { limit: 1 });
    }

    #[test]
    fn broken_or_mistyped_cbor_is_malformed() {
        let err = decode_body::<u64>(&body_of(&"seven"), &Limits::default()).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Malformed(m) if m.contains("integer")),
            "{err}"
        );
        let cases: [(&str, &[u8]); 9] = [
            ("empty body", &[]),
            ("reserved head", &[0x1c]),
            ("cut integer", &[0x19, 0x01]),
            ("stray break", &[0xff]),
            ("indefinite integer", &[0x1f]),
            ("unterminated array", &[0x9f, 0x00]),
            ("map missing a value", &[0xbf, 0x00, 0xff]),
            ("text chunk in bytes", &[0x5f, 0x61, b'a', 0xff]),
            ("tag on a break", &[0x9f, 0xc1, 0xff]),
        ];
        for (story, body) in cases {
            let err = decode_value(body, &Limits::default()).unwrap_err();
            assert!(matches!(err, DecodeError::Malformed(_)), "{story}: {err}");
        }
    }

    #[test]
    fn declared_lengths_beyond_the_body_are_refused_before_allocating() {
        let cases: [(&[u8], usize, u64, usize); 4] = [
            (&[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x00], 0, 1 << 60, 1), // 2^60 items
            (&[0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00], 0, 1 << 63, 1), // 2^63 pairs
            (&[0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3], 0, 0xffff_ffff, 3), // 4 GiB of bytes
            (&[0x82, 0x00, 0x79, 0xff, 0xff], 2, 0xffff, 0),           // 64 KiB of text, nested
        ];
        for (body, offset, declared, remaining) in cases {
            let err = decode_value(body, &Limits::default()).unwrap_err();
            let found = matches!(err, DecodeError::LengthOverrun { offset: o, declared: d, remaining: r }
                if (o, d, r) == (offset, declared, remaining));
            assert!(found, "{err}");
        }
    }
}
