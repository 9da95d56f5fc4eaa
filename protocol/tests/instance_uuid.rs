//! Self-certifying Instance UUIDs: the published vectors (`tests/vectors/instance_uuid.json`,
//! computed independently of this crate from the RFC 8032 test keys) and properties every
//! implementation must keep: a derived UUID always verifies with its own key's record and never
//! with any other key's, and records under random (v4) UUIDs keep working as before.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_protocol::identity::{INSTANCE_UUID_DOMAIN, IdentityKey, InstanceId, PublicIdentity};
use ochat_protocol::record::{InstanceRecord, RecordError, verify_record, verify_record_for};
use proptest::prelude::*;
use serde_json::Value;

const VECTORS_JSON: &str = include_str!("vectors/instance_uuid.json");

fn unhex32(value: &Value) -> [u8; 32] {
    hex::decode(value.as_str().expect("hex string"))
        .expect("valid hex")
        .try_into()
        .expect("32 bytes")
}

fn record(uuid: InstanceId, key: &IdentityKey) -> InstanceRecord {
    InstanceRecord {
        uuid,
        name: "Acme".into(),
        identity: key.public(),
        prekey: [4; 32],
        addresses: vec!["/ip4/198.18.0.10/tcp/4001".into()],
        seq: 1,
        signed_at_ms: 1_700_000_000_000,
    }
}

#[test]
fn the_published_vectors_derive_the_published_uuids() {
    let doc: Value = serde_json::from_str(VECTORS_JSON).unwrap();
    assert_eq!(
        doc["domain"].as_str().unwrap().as_bytes(),
        INSTANCE_UUID_DOMAIN
    );
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 3);
    for v in vectors {
        let secret = unhex32(&v["ed25519_secret"]);
        let public = PublicIdentity::from_bytes(&unhex32(&v["ed25519_public"])).unwrap();
        assert_eq!(IdentityKey::from_secret_bytes(&secret).public(), public);
        let expected: InstanceId = v["uuid"].as_str().unwrap().parse().unwrap();
        let derived = InstanceId::derived_from(&public);
        assert_eq!(derived, expected, "{}", v["key_source"]);
        assert_eq!(derived.to_string(), v["uuid"].as_str().unwrap());
        assert!(derived.is_derived());
        // The UUID is the hash's first 16 bytes but for the version and variant bits.
        let hash = hex::decode(v["sha256"].as_str().unwrap()).unwrap();
        let bytes = derived.as_bytes();
        for (i, (b, h)) in bytes.iter().zip(&hash).enumerate() {
            let kept = match i {
                6 => 0x0f,
                8 => 0x3f,
                _ => 0xff,
            };
            assert_eq!(b & kept, h & kept, "byte {i}");
        }
        assert_eq!(bytes[6] >> 4, 8);
        assert_eq!(bytes[8] >> 6, 0b10);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_derived_uuid_always_verifies_with_its_own_key(secret in any::<[u8; 32]>()) {
        let key = IdentityKey::from_secret_bytes(&secret);
        let uuid = InstanceId::derived_from(&key.public());
        prop_assert_eq!(uuid.0.get_version_num(), 8);
        prop_assert!(uuid.is_derived());
        let honest = record(uuid, &key);
        let signed = honest.sign(&key).unwrap();
        prop_assert_eq!(verify_record(&signed).unwrap(), honest.clone());
        prop_assert_eq!(verify_record_for(&signed, uuid, None).unwrap(), honest);
    }

    #[test]
    fn any_other_key_is_refused_under_a_derived_uuid(
        owner in any::<[u8; 32]>(),
        squatter in any::<[u8; 32]>(),
    ) {
        prop_assume!(owner != squatter);
        let owner = IdentityKey::from_secret_bytes(&owner);
        let squatter = IdentityKey::from_secret_bytes(&squatter);
        let uuid = InstanceId::derived_from(&owner.public());
        // The squatter's own, correctly signed record naming the owner's UUID.
        let signed = record(uuid, &squatter).sign(&squatter).unwrap();
        prop_assert_eq!(
            verify_record(&signed),
            Err(RecordError::NotDerivedFromKey { uuid })
        );
        prop_assert_eq!(
            verify_record_for(&signed, uuid, None),
            Err(RecordError::NotDerivedFromKey { uuid })
        );
    }

    #[test]
    fn a_random_v4_uuid_keeps_working_with_whatever_key_first_claims_it(
        secret in any::<[u8; 32]>(),
        uuid_bytes in any::<[u8; 16]>(),
    ) {
        let key = IdentityKey::from_secret_bytes(&secret);
        let uuid = InstanceId(uuid::Builder::from_random_bytes(uuid_bytes).into_uuid());
        prop_assert!(!uuid.is_derived());
        let honest = record(uuid, &key);
        let signed = honest.sign(&key).unwrap();
        prop_assert_eq!(verify_record_for(&signed, uuid, None).unwrap(), honest);
        // Once a key is pinned, another one is refused as before.
        let other = IdentityKey::from_secret_bytes(&[secret[0] ^ 1; 32]).public();
        prop_assume!(other != key.public());
        prop_assert_eq!(
            verify_record_for(&signed, uuid, Some(&other)),
            Err(RecordError::KeyMismatch { uuid })
        );
    }
}
