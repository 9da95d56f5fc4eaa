//! `docs/wire.cddl` is the wire format: real frames validate against it.
//!
//! Three sources of frames, each validated with the `cddl` crate (RFC 8610) against the rule
//! that docs/wire.md names for its stream:
//! - the published vectors (`tests/vectors/end_to_end.json`): the signed request and answer
//!   envelopes, the acknowledgement, their signed bodies, the sealed `WireMessage`s and the
//!   `Content` inside them;
//! - every message type encoded here with the real types and codec (every enum variant, every
//!   optional field present and absent), including a `Sealed` made by the real ratchet;
//! - frames with one field of the wrong type, which must be refused (so the schema is not
//!   vacuous), also inside a signed body (`.cbor`).
//!
//! When a wire type changes, this test fails until docs/wire.cddl says the same.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ciborium::Value;
use ochat_protocol::agreement::RootSecret;
use ochat_protocol::codec::{FRAME_HEADER_LEN, Limits, encode_body, encode_frame};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageAck, MessageBatch, MessageResponse, WireMessage,
    associated_data,
};
use ochat_protocol::ratchet::{Header, Ratchet, Sealed};
use ochat_protocol::record::{InstanceRecord, SignedRecord};
use ochat_protocol::rekey::{RekeyAnswer, RekeyRequest};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{
    ConnectionAnswer, ConnectionCancel, ConnectionRequest, Envelope, HandshakeBody,
    HandshakeResponse, RefusalCode, RemoteView, StatusQuery, Verdict,
};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;
use x25519_dalek::StaticSecret;

const WIRE_CDDL: &str = include_str!("../../docs/wire.cddl");
const VECTOR_JSON: &str = include_str!("vectors/end_to_end.json");
const T0: u64 = 1_767_225_600_000;

/// Validates `cbor` against `rule` of docs/wire.cddl (made the root rule).
fn check(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let schema = format!("root = {rule}\n\n{WIRE_CDDL}");
    cddl::validate_cbor_from_slice(&schema, cbor, None).map_err(|e| e.to_string())
}

fn assert_valid(rule: &str, what: &str, cbor: &[u8]) {
    if let Err(e) = check(rule, cbor) {
        panic!("{what} does not match rule `{rule}` of docs/wire.cddl:\n{e}");
    }
}

/// Encodes `value` as a real frame (u32be length || CBOR) and validates its body.
fn assert_frame_valid<T: Serialize>(rule: &str, what: &str, value: &T) {
    let frame = encode_frame(value, &Limits::default()).unwrap();
    assert_valid(rule, what, body_of_frame(&frame));
}

fn body_of_frame(frame: &[u8]) -> &[u8] {
    let (header, body) = frame.split_at(FRAME_HEADER_LEN);
    let declared = u32::from_be_bytes(header.try_into().unwrap()) as usize;
    assert_eq!(
        declared,
        body.len(),
        "the frame header declares its body length"
    );
    body
}

fn unhex(v: &Json) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn record(key: &IdentityKey, name: &str, addresses: Vec<String>) -> SignedRecord {
    InstanceRecord {
        uuid: InstanceId::derived_from(&key.public()),
        name: name.into(),
        identity: key.public(),
        prekey: [3; 32],
        addresses,
        seq: 4,
        signed_at_ms: T0,
    }
    .sign(key)
    .unwrap()
}

/// A small conversation of parties and their signed records.
struct Parties {
    alice: IdentityKey,
    bob: IdentityKey,
    alice_id: InstanceId,
    bob_id: InstanceId,
    alice_record: SignedRecord,
    bob_record: SignedRecord,
}

fn parties() -> Parties {
    let alice = IdentityKey::from_secret_bytes(&[1; 32]);
    let bob = IdentityKey::from_secret_bytes(&[2; 32]);
    Parties {
        alice_id: InstanceId::derived_from(&alice.public()),
        bob_id: InstanceId::derived_from(&bob.public()),
        alice_record: record(&alice, "Acme", vec!["/ip4/127.0.0.1/tcp/4001".into()]),
        bob_record: record(&bob, "Bolt", vec![]),
        alice,
        bob,
    }
}

fn answer(p: &Parties, verdict: Verdict, bound: bool) -> Signed<ConnectionAnswer> {
    let accepted = matches!(verdict, Verdict::Accepted { .. });
    Signed::seal(
        &ConnectionAnswer {
            request_id: Uuid::from_bytes([9; 16]),
            from: p.bob_id,
            to: p.alice_id,
            verdict,
            sent_at_ms: T0 + 1,
            request_hash: bound.then_some([5; 32]),
            prekey: (bound && accepted).then_some([6; 32]),
            confirmation: (bound && accepted).then_some([7; 32]),
        },
        &p.bob,
    )
    .unwrap()
}

#[test]
fn the_published_vector_frames_match_the_schema() {
    let v: Json = serde_json::from_str(VECTOR_JSON).unwrap();
    let hs = &v["handshake"];
    for name in ["request_frame", "answer_frame"] {
        assert_valid("envelope", name, body_of_frame(&unhex(&hs[name])));
    }
    assert_valid(
        "handshake-response",
        "acknowledgement_frame",
        body_of_frame(&unhex(&hs["acknowledgement_frame"])),
    );
    // The file as published: its first rule (`ochat-wire`) accepts any top-level frame.
    let request = unhex(&hs["request_frame"]);
    cddl::validate_cbor_from_slice(WIRE_CDDL, body_of_frame(&request), None)
        .expect("the request frame matches the first rule of docs/wire.cddl");
    assert_valid(
        "connection-request",
        "request_body",
        &unhex(&hs["request_body"]),
    );
    assert_valid(
        "connection-answer",
        "answer_body",
        &unhex(&hs["answer_body"]),
    );

    let messages = v["ratchet"]["messages"].as_array().unwrap();
    assert!(!messages.is_empty());
    let mut batch = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let wire = unhex(&m["wire_message_cbor"]);
        assert_valid("wire-message", &format!("message {i}"), &wire);
        assert_valid(
            "content",
            &format!("content {i}"),
            &unhex(&m["content_cbor"]),
        );
        batch.push(ciborium::from_reader::<WireMessage, _>(wire.as_slice()).unwrap());
    }
    // The same messages as they travel on /ochat/msg/2: one batch.
    assert_frame_valid(
        "message-batch",
        "the vector batch",
        &MessageBatch { messages: batch },
    );
}

#[test]
fn every_handshake_message_the_code_encodes_matches_the_schema() {
    let p = parties();
    let request = |message: Option<String>, prekey: Option<[u8; 32]>| {
        Signed::seal(
            &ConnectionRequest {
                request_id: Uuid::from_bytes([9; 16]),
                from: p.alice_id,
                to: p.bob_id,
                from_name: "Acme".into(),
                message,
                ephemeral: [4; 32],
                sent_at_ms: T0,
                prekey,
            },
            &p.alice,
        )
        .unwrap()
    };
    let bodies = [
        (
            "request, handshake 1, no note",
            HandshakeBody::Request(request(None, None)),
        ),
        (
            "request, handshake 2, with a note",
            HandshakeBody::Request(request(Some("Hello from Acme".into()), Some([8; 32]))),
        ),
        (
            "bound acceptance",
            HandshakeBody::Answer(answer(&p, Verdict::Accepted { ephemeral: [4; 32] }, true)),
        ),
        (
            "handshake 1 acceptance",
            HandshakeBody::Answer(answer(&p, Verdict::Accepted { ephemeral: [4; 32] }, false)),
        ),
        (
            "bound rejection",
            HandshakeBody::Answer(answer(
                &p,
                Verdict::Rejected {
                    reason: "no".into(),
                },
                true,
            )),
        ),
        (
            "cancel",
            HandshakeBody::Cancel(
                Signed::seal(
                    &ConnectionCancel {
                        request_id: Uuid::from_bytes([9; 16]),
                        from: p.alice_id,
                        to: p.bob_id,
                        sent_at_ms: T0 + 2,
                    },
                    &p.alice,
                )
                .unwrap(),
            ),
        ),
        (
            "status query",
            HandshakeBody::Query(
                Signed::seal(
                    &StatusQuery {
                        request_id: Uuid::from_bytes([9; 16]),
                        from: p.alice_id,
                        to: p.bob_id,
                        sent_at_ms: T0 + 3,
                    },
                    &p.alice,
                )
                .unwrap(),
            ),
        ),
        (
            "re-key request",
            HandshakeBody::Rekey(
                Signed::seal(
                    &RekeyRequest {
                        conversation: Uuid::from_bytes([9; 16]),
                        from: p.alice_id,
                        to: p.bob_id,
                        epoch: 1,
                        ephemeral: [5; 32],
                        sent_at_ms: T0 + 4,
                    },
                    &p.alice,
                )
                .unwrap(),
            ),
        ),
    ];
    for (what, body) in bodies {
        let envelope = Envelope {
            record: p.alice_record.clone(),
            body,
        };
        assert_frame_valid("envelope", what, &envelope);
    }

    let status = |view| HandshakeResponse::Status {
        record: p.bob_record.clone(),
        view,
    };
    let mut responses = vec![
        ("stored", HandshakeResponse::Stored),
        ("status pending", status(RemoteView::Pending)),
        ("status unknown", status(RemoteView::Unknown)),
        (
            "status decided",
            status(RemoteView::Decided(answer(
                &p,
                Verdict::Accepted { ephemeral: [4; 32] },
                true,
            ))),
        ),
        ("confirmed", HandshakeResponse::Confirmed { mac: [7; 32] }),
        (
            "re-keyed",
            HandshakeResponse::Rekeyed(
                Signed::seal(
                    &RekeyAnswer {
                        conversation: Uuid::from_bytes([9; 16]),
                        from: p.bob_id,
                        to: p.alice_id,
                        epoch: 1,
                        request_hash: [6; 32],
                        ephemeral: [7; 32],
                        sent_at_ms: T0 + 5,
                    },
                    &p.bob,
                )
                .unwrap(),
            ),
        ),
        ("re-key stale", HandshakeResponse::RekeyStale { epoch: 3 }),
    ];
    for code in [
        RefusalCode::Unauthenticated,
        RefusalCode::WrongRecipient,
        RefusalCode::UnknownRequest,
        RefusalCode::InvalidState,
        RefusalCode::RateLimited,
        RefusalCode::Malformed,
        RefusalCode::Internal,
    ] {
        responses.push((
            "refused",
            HandshakeResponse::Refused {
                code,
                message: format!("{code:?}"),
            },
        ));
    }
    for (what, response) in responses {
        assert_frame_valid("handshake-response", what, &response);
    }

    // The DHT value under "/ochat/rec/" || uuid || peer id is the CBOR of the signed record.
    assert_valid(
        "signed-record",
        "DHT value",
        &encode_body(&p.alice_record).unwrap(),
    );
}

#[test]
fn every_message_and_content_the_code_encodes_matches_the_schema() {
    let p = parties();
    let conversation = Uuid::from_bytes([9; 16]);
    let attachment = Uuid::now_v7();
    let contents = [
        Body::Text("Hello Bob.".into()),
        Body::Chunk {
            attachment,
            index: 0,
            data: vec![0xAB; 1000],
        },
        Body::Attachment {
            attachment,
            name: "report.pdf".into(),
            mime: "application/pdf".into(),
            size: 1000,
            sha256: [1; 32],
            chunks: 1,
        },
        Body::Receipt {
            read: vec![Uuid::now_v7(), Uuid::now_v7()],
        },
    ];
    // The real ratchet seals each content (construction 3, with its nonce).
    let mut ratchet = Ratchet::init_responder(
        RootSecret::from_bytes([8; 32]),
        &StaticSecret::from([4; 32]),
    )
    .unwrap();
    let mut messages = Vec::new();
    for body in contents {
        let content = Content {
            author: "Bolt".into(),
            sent_at_ms: T0,
            body,
        };
        let plaintext = encode_body(&content).unwrap();
        assert_valid("content", &format!("{:?}", content.body), &plaintext);
        let id = Uuid::now_v7();
        let sealed = ratchet
            .seal(&plaintext, &associated_data(&conversation, &p.bob_id, &id))
            .unwrap();
        assert!(sealed.nonce.is_some());
        messages.push(WireMessage {
            conversation,
            sender: p.bob_id,
            id,
            sealed,
        });
    }
    // A construction-2 message as earlier versions sent it: no nonce.
    messages.push(WireMessage {
        conversation,
        sender: p.bob_id,
        id: Uuid::now_v7(),
        sealed: Sealed {
            header: Header {
                dh: [4; 32],
                prev_chain_len: 0,
                n: u32::MAX,
            },
            ciphertext: vec![0; 40],
            nonce: None,
        },
    });
    for m in &messages {
        assert_valid("wire-message", "a sealed message", &encode_body(m).unwrap());
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    assert_frame_valid("message-batch", "a batch", &MessageBatch { messages });
    assert_frame_valid(
        "message-batch",
        "an empty batch",
        &MessageBatch { messages: vec![] },
    );

    let statuses = [
        AckStatus::Stored,
        AckStatus::Duplicate,
        AckStatus::Rejected("does not open".into()),
        AckStatus::Retry("busy".into()),
    ];
    let acks = ids
        .iter()
        .zip(statuses.into_iter().cycle())
        .map(|(id, status)| MessageAck { id: *id, status })
        .collect();
    assert_frame_valid("message-response", "acks", &MessageResponse::Acks(acks));
    assert_frame_valid(
        "message-response",
        "refused",
        &MessageResponse::Refused("rate limited".into()),
    );
}

/// Re-encodes a CBOR map with `key`'s value replaced.
fn with_field(cbor: &[u8], key: &str, value: Value) -> Vec<u8> {
    let mut map: Value = ciborium::from_reader(cbor).unwrap();
    let entries = map.as_map_mut().unwrap();
    let slot = entries
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some(key))
        .unwrap_or_else(|| panic!("no field {key}"));
    slot.1 = value;
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).unwrap();
    out
}

#[test]
fn a_field_of_the_wrong_type_is_refused() {
    let v: Json = serde_json::from_str(VECTOR_JSON).unwrap();

    // A message id as text instead of 16 bytes.
    let wire = unhex(&v["ratchet"]["messages"][0]["wire_message_cbor"]);
    assert_valid("wire-message", "the original", &wire);
    let bad_id = with_field(&wire, "id", Value::Text("0192d1c4-5e6f-7a8b".into()));
    assert!(check("wire-message", &bad_id).is_err(), "a text id passed");

    // A message id of 15 bytes: right type, wrong size.
    let short_id = with_field(&wire, "id", Value::Bytes(vec![0; 15]));
    assert!(
        check("wire-message", &short_id).is_err(),
        "a 15-byte id passed"
    );

    // Inside a signed body: the request's time as text, re-wrapped in the envelope's Signed.
    let request_body = unhex(&v["handshake"]["request_body"]);
    let bad_body = with_field(&request_body, "sent_at_ms", Value::Text("today".into()));
    assert!(check("connection-request", &bad_body).is_err());
    let envelope = body_of_frame(&unhex(&v["handshake"]["request_frame"])).to_vec();
    let mut map: Value = ciborium::from_reader(envelope.as_slice()).unwrap();
    let body = map
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("body"));
    let request = body.unwrap().1.as_map_mut().unwrap()[0]
        .1
        .as_map_mut()
        .unwrap();
    let signed_body = request
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("body"));
    signed_body.unwrap().1 = Value::Bytes(bad_body);
    let mut bad_envelope = Vec::new();
    ciborium::into_writer(&map, &mut bad_envelope).unwrap();
    let err = check("envelope", &bad_envelope).unwrap_err();
    assert!(
        err.contains("sent_at_ms"),
        "refused for another reason: {err}"
    );

    // An unknown response variant.
    let mut unknown = Vec::new();
    ciborium::into_writer(&Value::Text("Maybe".into()), &mut unknown).unwrap();
    assert!(check("handshake-response", &unknown).is_err());
}

/// Wraps `body` in a `Signed` map with a 64-byte signature.
fn signed_map(body: Vec<u8>) -> Value {
    Value::Map(vec![
        (Value::Text("body".into()), Value::Bytes(body)),
        (Value::Text("signature".into()), Value::Bytes(vec![0; 64])),
    ])
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

#[test]
fn a_signed_body_of_the_wrong_type_is_refused() {
    let v: Json = serde_json::from_str(VECTOR_JSON).unwrap();
    let answer_body = unhex(&v["handshake"]["answer_body"]);
    let signed_answer = signed_map(answer_body);
    assert_valid(
        "signed<connection-answer>",
        "a signed answer",
        &cbor(&signed_answer),
    );
    // The bytes inside `body` are checked too: an answer is not a record...
    let as_record = check("signed-record", &cbor(&signed_answer)).unwrap_err();
    assert!(as_record.contains("missing key: \"uuid\""), "{as_record}");
    // ...nor a request, even under the right outer shape.
    let as_request = Value::Map(vec![(Value::Text("Request".into()), signed_answer)]);
    let err = check("handshake-body", &cbor(&as_request)).unwrap_err();
    assert!(err.contains("missing key: \"from_name\""), "{err}");
}
