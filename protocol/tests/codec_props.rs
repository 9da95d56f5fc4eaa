//! Property tests for the wire codec: what a node can rely on whatever its peers send.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;

use ochat_protocol::codec::{
    DEFAULT_MAX_FRAME, DEFAULT_RECURSION_LIMIT, DecodeError, FRAME_HEADER_LEN, Limits, decode_body,
    decode_frame, encode_body, encode_frame, frame_len,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

/// A message shaped like ochat's wire types: strings, bytes, vectors, options, maps, UUIDs and a
/// recursive enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Envelope {
    id: Uuid,
    from: String,
    sent_at: u64,
    #[serde(serialize_with = "as_bytes")]
    payload: Vec<u8>,
    note: Option<String>,
    score: Option<f64>,
    headers: BTreeMap<String, i64>,
    body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Body {
    Ping,
    Text {
        text: String,
        reply_to: Option<Uuid>,
    },
    Keys(Vec<Uuid>),
    Quote(Box<Body>),
    Thread(Vec<Body>),
}

/// Writes bytes as a CBOR byte string (ciborium reads it back into a `Vec<u8>` unaided).
fn as_bytes<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn body() -> impl Strategy<Value = Body> {
    let leaf = prop_oneof![
        Just(Body::Ping),
        (".{0,40}", option::of(uuid())).prop_map(|(text, reply_to)| Body::Text { text, reply_to }),
        vec(uuid(), 0..4).prop_map(Body::Keys),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|quoted| Body::Quote(Box::new(quoted))),
            vec(inner, 0..4).prop_map(Body::Thread),
        ]
    })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        (uuid(), ".{0,20}", any::<u64>(), vec(any::<u8>(), 0..300)),
        (option::of(".{0,20}"), option::of(-1e9f64..1e9)),
        (btree_map(".{0,8}", any::<i64>(), 0..5), body()),
    )
        .prop_map(
            |((id, from, sent_at, payload), (note, score), (headers, body))| Envelope {
                id,
                from,
                sent_at,
                payload,
                note,
                score,
                headers,
                body,
            },
        )
}

fn header(len: u32) -> [u8; FRAME_HEADER_LEN] {
    len.to_be_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_message_arrives_as_it_was_sent(message in envelope()) {
        let frame = encode_frame(&message, &Limits::default()).unwrap();
        let (back, used): (Envelope, usize) = decode_frame(&frame, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &message);
        prop_assert_eq!(used, frame.len());
        // Signing relies on this: decoding and re-encoding gives the very same bytes.
        prop_assert_eq!(encode_body(&back).unwrap(), &frame[FRAME_HEADER_LEN..]);
    }

    #[test]
    fn frames_back_to_back_in_a_stream_come_out_one_by_one(messages in vec(envelope(), 1..4)) {
        let stream: Vec<u8> = messages
            .iter()
            .flat_map(|m| encode_frame(m, &Limits::default()).unwrap())
            .collect();
        let mut rest = &stream[..];
        for message in &messages {
            let (back, used): (Envelope, usize) = decode_frame(rest, &Limits::default()).unwrap();
            prop_assert_eq!(&back, message);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn a_frame_cut_short_says_how_much_is_missing(message in envelope(), cut in any::<prop::sample::Index>()) {
        let frame = encode_frame(&message, &Limits::default()).unwrap();
        let keep = cut.index(frame.len());
        let missing = decode_frame::<Envelope>(&frame[..keep], &Limits::default()).unwrap_err();
        let needed = if keep < FRAME_HEADER_LEN { FRAME_HEADER_LEN - keep } else { frame.len() - keep };
        prop_assert_eq!(missing, DecodeError::Incomplete { needed });
        // A body cut short is never mistaken for a complete value: CBOR items are self-delimiting.
        let body = &frame[FRAME_HEADER_LEN..];
        let cut_body = &body[..cut.index(body.len())];
        prop_assert!(decode_body::<ciborium::Value>(cut_body, &Limits::default()).is_err());
    }

    #[test]
    fn junk_after_a_message_is_counted_and_refused(message in envelope(), junk in vec(any::<u8>(), 1..32)) {
        let mut body = encode_body(&message).unwrap();
        body.extend(&junk);
        let err = decode_body::<Envelope>(&body, &Limits::default()).unwrap_err();
        prop_assert_eq!(err, DecodeError::TrailingBytes { extra: junk.len() });
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..600), max in 0usize..700, depth in 0usize..40) {
        for limits in [Limits::default(), Limits::new(max, depth)] {
            let _ = decode_body::<Envelope>(&bytes, &limits);
            let _ = decode_body::<ciborium::Value>(&bytes, &limits);
            let _ = decode_frame::<Envelope>(&bytes, &limits);
            let _ = decode_frame::<ciborium::Value>(&bytes, &limits);
        }
    }

    #[test]
    fn damaged_messages_never_panic(
        message in envelope(),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut body = encode_body(&message).unwrap();
        for (at, byte) in damage {
            let at = at.index(body.len());
            body[at] = byte;
        }
        let _ = decode_body::<Envelope>(&body, &Limits::default());
        let _ = decode_body::<ciborium::Value>(&body, &Limits::default());
    }

    #[test]
    fn a_frame_declaring_more_than_the_limit_is_refused_before_its_body(
        max in 0usize..(1 << 21),
        over in 1u64..(1 << 32),
        tail in vec(any::<u8>(), 0..16),
    ) {
        let limits = Limits::new(max, DEFAULT_RECURSION_LIMIT);
        let Ok(declared) = u32::try_from(max as u64 + over) else { return Ok(()) };
        let too_large = DecodeError::FrameTooLarge { declared: declared as usize, max };
        prop_assert_eq!(frame_len(header(declared), &limits), Err(too_large.clone()));
        let frame = [&header(declared)[..], &tail].concat();
        prop_assert_eq!(decode_frame::<Envelope>(&frame, &limits).unwrap_err(), too_large);
    }
}

/// Runs `story` on a thread with a deliberately small stack: a recursion bug would overflow it.
fn on_a_small_stack(story: impl FnOnce() + Send + 'static) {
    let small = std::thread::Builder::new().stack_size(256 * 1024);
    let Ok(thread) = small.spawn(story) else {
        panic!("cannot start a thread")
    };
    if let Err(failure) = thread.join() {
        std::panic::resume_unwind(failure);
    }
}

#[test]
fn ten_thousand_nested_containers_hit_the_recursion_limit_not_the_stack() {
    on_a_small_stack(|| {
        let depth = 10_000;
        let arrays = [vec![0x81; depth], vec![0x00]].concat();
        let indefinite = [vec![0x9f; depth], vec![0x00], vec![0xff; depth]].concat();
        let maps = [[0xa1, 0x00].repeat(depth), vec![0x00]].concat();
        let limit = DecodeError::RecursionLimit {
            limit: DEFAULT_RECURSION_LIMIT,
        };
        for body in [&arrays, &indefinite, &maps] {
            let frame = [&header(body.len() as u32)[..], body].concat();
            assert_eq!(
                decode_frame::<Envelope>(&frame, &Limits::default()).unwrap_err(),
                limit
            );
            assert_eq!(
                decode_body::<ciborium::Value>(body, &Limits::default()).unwrap_err(),
                limit
            );
        }
        // Tags nest too: ciborium counts them when building a generic value, and skips them in a
        // loop (no recursion at all) when the expected type is known.
        let tags = [vec![0xc6; depth], vec![0x00]].concat();
        assert_eq!(
            decode_body::<ciborium::Value>(&tags, &Limits::default()).unwrap_err(),
            limit
        );
        assert_eq!(decode_body::<u64>(&tags, &Limits::default()), Ok(0));
    });
}

#[test]
fn nesting_right_at_the_default_limit_fits_on_a_small_stack() {
    on_a_small_stack(|| {
        let body = [vec![0x81; DEFAULT_RECURSION_LIMIT], vec![0x00]].concat();
        assert!(decode_body::<ciborium::Value>(&body, &Limits::default()).is_ok());
    });
}

#[test]
fn the_wire_format_is_stable() {
    #[derive(Serialize)]
    struct Hello {
        name: String,
        seq: u8,
    }
    let hello = Hello {
        name: "Acme".into(),
        seq: 7,
    };
    let frame = encode_frame(&hello, &Limits::default()).unwrap();
    // 16-byte body: map(2) { "name": "Acme", "seq": 7 }
    assert_eq!(
        hex::encode(frame),
        "00000010a2646e616d656441636d656373657107"
    );
}

#[test]
fn a_full_size_frame_is_accepted_and_one_byte_more_is_not() {
    let payload = vec![7u8; DEFAULT_MAX_FRAME - 5]; // byte-string head: 5 bytes
    let bytes = serde_bytes_frame(&payload);
    assert_eq!(bytes.len(), FRAME_HEADER_LEN + DEFAULT_MAX_FRAME);
    let (back, _): (Vec<u8>, usize) = decode_frame(&bytes, &Limits::default()).unwrap();
    assert_eq!(back, payload);
    let one_more = serde_bytes_frame(&[payload, vec![7]].concat());
    let err = decode_frame::<Vec<u8>>(&one_more, &Limits::default()).unwrap_err();
    assert!(matches!(err, DecodeError::FrameTooLarge { .. }), "{err}");
}

fn serde_bytes_frame(payload: &[u8]) -> Vec<u8> {
    struct Bytes<'a>(&'a [u8]);
    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }
    let Ok(body) = encode_body(&Bytes(payload)) else {
        panic!("bytes always encode")
    };
    [&header(body.len() as u32)[..], &body].concat()
}

/// An array declaring 2^60 items, a map declaring 2^60 pairs, byte and text strings declaring
/// 4 GiB: each a handful of bytes.
const HUGE: [&[u8]; 4] = [
    &[0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x00],
    &[0xbb, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00],
    &[0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3],
    &[0x7a, 0xff, 0xff, 0xff, 0xff, b'a', b'b', b'c'],
];

/// The investigation behind the codec's length check. Without it, ciborium 0.2 and serde still
/// cope: strings grow as their bytes arrive (4 KiB at a time) and serde caps pre-allocation from a
/// declared length at 1 MiB. Had either pre-allocated, this test binary would abort.
#[test]
fn ciborium_alone_does_not_preallocate_from_declared_lengths() {
    assert!(ciborium::from_reader::<Vec<u64>, _>(HUGE[0]).is_err());
    assert!(ciborium::from_reader::<BTreeMap<u64, u64>, _>(HUGE[1]).is_err());
    assert!(ciborium::from_reader::<Vec<u8>, _>(HUGE[2]).is_err());
    assert!(ciborium::from_reader::<String, _>(HUGE[3]).is_err());
    for body in HUGE {
        assert!(ciborium::from_reader::<ciborium::Value, _>(body).is_err());
        let err = decode_body::<ciborium::Value>(body, &Limits::default()).unwrap_err();
        assert!(
            matches!(err, DecodeError::LengthOverrun { offset: 0, .. }),
            "{err}"
        );
    }
}

/// A `Vec<u64>` whose `Deserialize` trusts the declared length, as hand-written impls often do.
/// Fed straight to ciborium, `HUGE[0]` would make it ask for 8 × 2^60 bytes.
#[derive(Debug)]
struct Trusting(Vec<u64>);

impl<'de> Deserialize<'de> for Trusting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Greedy;
        impl<'de> Visitor<'de> for Greedy {
            type Value = Trusting;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of integers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Trusting, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Trusting(items))
            }
        }
        deserializer.deserialize_seq(Greedy)
    }
}

#[test]
fn a_trusting_deserialize_impl_is_safe_behind_the_codec() {
    let err = decode_body::<Trusting>(HUGE[0], &Limits::default()).unwrap_err();
    let expected = DecodeError::LengthOverrun {
        offset: 0,
        declared: 1 << 60,
        remaining: 1,
    };
    assert_eq!(err, expected);
    let fine = decode_body::<Trusting>(&[0x83, 1, 2, 3], &Limits::default()).unwrap();
    assert_eq!(fine.0, [1, 2, 3]);
}

#[test]
fn a_peer_cannot_flood_our_logs_through_error_messages() {
    let long_variant = encode_body(&"x".repeat(3000)).unwrap();
    let err = decode_body::<Body>(&long_variant, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Malformed(m) if m.chars().count() < 300),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("the body is malformed: unknown variant"),
        "{err}"
    );
}
