//! Fuzz-style properties for every decoder a peer reaches: handshake envelopes, message batches,
//! instance records, sealed message content and ratchet headers. Whatever arrives, a decoder
//! answers with a value or a clean error (never a panic or an allocation the input only claims),
//! and no change to a signed input yields something different that still authenticates.
//! The inputs in `tests/corpus/` once broke, or could break, a decoder; each is replayed here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_protocol::codec::{DecodeError, FRAME_HEADER_LEN, Limits, decode_body, encode_body};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::message::{Content, MessageBatch};
use ochat_protocol::ratchet::{HEADER_LEN, Header};
use ochat_protocol::record::{InstanceRecord, SignedRecord, verify_record};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{ConnectionRequest, Envelope, HandshakeBody};
use proptest::collection::vec;
use proptest::prelude::*;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Every peer-facing type decoded from `bytes`: whether each refused it.
fn refusals(bytes: &[u8]) -> Vec<(&'static str, bool)> {
    let limits = Limits::default();
    vec![
        ("envelope", decode_body::<Envelope>(bytes, &limits).is_err()),
        (
            "batch",
            decode_body::<MessageBatch>(bytes, &limits).is_err(),
        ),
        (
            "record",
            decode_body::<SignedRecord>(bytes, &limits).is_err(),
        ),
        ("content", decode_body::<Content>(bytes, &limits).is_err()),
        (
            "record body",
            decode_body::<InstanceRecord>(bytes, &limits).is_err(),
        ),
    ]
}

#[test]
fn every_input_of_the_corpus_is_refused_by_every_decoder() {
    let corpus = corpus();
    assert!(corpus.len() >= 10, "the corpus went missing: {corpus:?}");
    for (name, bytes) in &corpus {
        for (decoder, refused) in refusals(bytes) {
            assert!(refused, "{decoder} accepted {name}");
        }
        // As a frame, too: the header declares the file's length.
        let mut frame = (bytes.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(bytes);
        let decoded = ochat_protocol::codec::decode_frame::<Envelope>(&frame, &Limits::default());
        assert!(decoded.is_err(), "a frame of {name} decoded");
    }
}

#[test]
fn a_frame_that_claims_more_than_it_holds_asks_for_the_rest_instead_of_allocating() {
    let mut frame = 1_000u32.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0x80; 10]);
    match ochat_protocol::codec::decode_frame::<Envelope>(&frame, &Limits::default()) {
        Err(DecodeError::Incomplete { needed }) => {
            assert_eq!(needed, FRAME_HEADER_LEN + 1_000 - frame.len())
        }
        other => panic!("{other:?}"),
    }
}

fn key(seed: u8) -> IdentityKey {
    IdentityKey::from_secret_bytes(&[seed; 32])
}

fn signed_record(uuid: InstanceId, key: &IdentityKey) -> SignedRecord {
    InstanceRecord {
        uuid,
        name: "Acme".into(),
        identity: key.public(),
        prekey: [3; 32],
        addresses: vec!["/ip4/198.18.0.2/tcp/4001".into()],
        seq: 7,
        signed_at_ms: 1_700_000_000_000,
    }
    .sign(key)
    .unwrap()
}

fn envelope(uuid: InstanceId, key: &IdentityKey) -> Envelope {
    let request = ConnectionRequest {
        request_id: uuid::Uuid::from_u128(1),
        from: uuid,
        to: InstanceId(uuid::Uuid::from_u128(2)),
        from_name: "Acme".into(),
        message: Some("hello".into()),
        ephemeral: [9; 32],
        sent_at_ms: 1,
        prekey: None,
    };
    Envelope {
        record: signed_record(uuid, key),
        body: HandshakeBody::Request(Signed::seal(&request, key).unwrap()),
    }
}

/// Whether `envelope` authenticates as a node would check it: its record verifies, and its
/// request is signed by the record's key.
fn authenticates(envelope: &Envelope) -> bool {
    let Ok(record) = verify_record(&envelope.record) else {
        return false;
    };
    match &envelope.body {
        HandshakeBody::Request(signed) => signed.open(&record.identity).is_ok(),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused_or_decode_to_a_value_that_encodes_back(
        bytes in vec(any::<u8>(), 0..400)
    ) {
        let limits = Limits::default();
        if let Ok(value) = decode_body::<MessageBatch>(&bytes, &limits) {
            let again: MessageBatch = decode_body(&encode_body(&value).unwrap(), &limits).unwrap();
            prop_assert_eq!(again, value);
        }
        if let Ok(value) = decode_body::<Envelope>(&bytes, &limits) {
            prop_assert!(!authenticates(&value), "random bytes authenticated");
        }
        let forged = SignedRecord::from_parts(bytes.clone(), bytes.clone());
        prop_assert!(verify_record(&forged).is_err());
    }

    #[test]
    fn no_change_to_a_signed_envelope_makes_another_one_that_authenticates(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let uuid = InstanceId(uuid::Uuid::from_u128(0xacde));
        let original = envelope(uuid, &key(5));
        let mut bytes = encode_body(&original).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        match decode_body::<Envelope>(&bytes, &Limits::default()) {
            Err(_) => {}
            Ok(changed) if changed == original => {}
            Ok(changed) => prop_assert!(!authenticates(&changed), "byte {} changed and still authenticates", i),
        }
    }

    #[test]
    fn no_change_to_a_signed_record_verifies(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        in_signature in any::<bool>(),
    ) {
        let mut signed = signed_record(InstanceId(uuid::Uuid::from_u128(0xbeef)), &key(6));
        let target = if in_signature { &mut signed.signature } else { &mut signed.body };
        let i = at.index(target.len());
        target[i] ^= flip;
        prop_assert!(verify_record(&signed).is_err());
    }

    #[test]
    fn exactly_forty_bytes_read_as_a_header_or_are_refused_and_read_back_the_same(
        bytes in vec(any::<u8>(), 0..80)
    ) {
        match Header::from_bytes(&bytes) {
            Ok(header) => {
                prop_assert_eq!(bytes.len(), HEADER_LEN);
                prop_assert_eq!(header.to_bytes().to_vec(), bytes);
            }
            Err(_) => prop_assert_ne!(bytes.len(), HEADER_LEN),
        }
    }
}
