//! The signed **instance record**: what a directory stores under an Instance UUID and what a
//! peer needs to reach and authenticate an instance.
//!
//! A record is self-signed by the identity key it names. [`verify_record`] checks the
//! signature with that embedded key, the record's limits, and for a self-certifying (version 8)
//! UUID that the key derives to it, so nobody can publish a record for another key's UUID. For
//! older random (v4) UUIDs the directory adds the trust-on-first-use rule (first key wins, higher
//! `seq` to update) and nodes pin the key they met first.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::identity::{IdentityKey, InstanceId, PublicIdentity};
use crate::sign::{Domain, SignError, Signed, SignedType};

/// Longest display name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Most addresses one record may list.
pub const MAX_ADDRESSES: usize = 16;
/// Longest single address accepted, in bytes.
pub const MAX_ADDRESS_LEN: usize = 256;

/// An instance's public description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The Instance UUID.
    pub uuid: InstanceId,
    /// The organisation's display name.
    pub name: String,
    /// The Ed25519 identity key (also the node's libp2p PeerId).
    pub identity: PublicIdentity,
    /// The X25519 signed pre-key used in the handshake's key agreement.
    #[serde(with = "serde_bytes")]
    pub prekey: [u8; 32],
    /// Where the node listens, as libp2p multiaddrs (text form).
    pub addresses: Vec<String>,
    /// Grows with every new version of the record.
    pub seq: u64,
    /// When it was signed, milliseconds since the Unix epoch.
    pub signed_at_ms: u64,
}

impl SignedType for InstanceRecord {
    const DOMAIN: Domain = Domain::InstanceRecord;
}

/// A record with its signature.
pub type SignedRecord = Signed<InstanceRecord>;

/// Why a record was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    /// The signature or the encoding is wrong.
    #[error("invalid record: {0}")]
    Signature(#[from] SignError),
    /// The record was signed by a key other than the one expected for this UUID.
    #[error("the record for {uuid} is signed by a different key than the one already known")]
    KeyMismatch {
        /// The UUID concerned.
        uuid: InstanceId,
    },
    /// The UUID is a derived (version 8) one, and the record's key is not the one it derives from.
    #[error(
        "the record for {uuid} is refused: {uuid} is a self-certifying Instance UUID and the record's key does not derive to it (only the key it was made from can publish under it)"
    )]
    NotDerivedFromKey {
        /// The UUID concerned.
        uuid: InstanceId,
    },
    /// The record is for another UUID than the one asked for.
    #[error("the record is for {found}, not {expected}")]
    WrongUuid {
        /// The UUID that was asked for.
        expected: InstanceId,
        /// The UUID inside the record.
        found: InstanceId,
    },
    /// A field is over its limit or empty.
    #[error("invalid record: {0}")]
    Limits(String),
}

impl InstanceRecord {
    /// Checks the size limits of the record's fields.
    pub fn check_limits(&self) -> Result<(), RecordError> {
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME_LEN {
            return Err(RecordError::Limits(format!(
                "the name must have 1 to {MAX_NAME_LEN} bytes"
            )));
        }
        if self.addresses.len() > MAX_ADDRESSES {
            return Err(RecordError::Limits(format!(
                "at most {MAX_ADDRESSES} addresses"
            )));
        }
        if self.addresses.iter().any(|a| a.len() > MAX_ADDRESS_LEN) {
            return Err(RecordError::Limits(format!(
                "an address has at most {MAX_ADDRESS_LEN} bytes"
            )));
        }
        Ok(())
    }

    /// Signs the record with the identity key it names.
    pub fn sign(&self, key: &IdentityKey) -> Result<SignedRecord, RecordError> {
        if key.public() != self.identity {
            return Err(RecordError::KeyMismatch { uuid: self.uuid });
        }
        self.check_limits()?;
        Ok(Signed::seal(self, key)?)
    }
}

/// Verifies a self-signed record: decodes the embedded key, checks the signature with it, that
/// a derived (version 8) UUID is the key's own, then the limits. Returns the record.
pub fn verify_record(signed: &SignedRecord) -> Result<InstanceRecord, RecordError> {
    let claimed = signed.decode_unverified()?;
    let record = signed.open(&claimed.identity)?;
    if !record.uuid.admits(&record.identity) {
        return Err(RecordError::NotDerivedFromKey { uuid: record.uuid });
    }
    record.check_limits()?;
    Ok(record)
}

/// Verifies a record fetched for `expected` (see [`verify_record`]), and when a key is already
/// known for that UUID (trust on first use), that it is the same key.
pub fn verify_record_for(
    signed: &SignedRecord,
    expected: InstanceId,
    known_key: Option<&PublicIdentity>,
) -> Result<InstanceRecord, RecordError> {
    let record = verify_record(signed)?;
    if record.uuid != expected {
        return Err(RecordError::WrongUuid {
            expected,
            found: record.uuid,
        });
    }
    if known_key.is_some_and(|known| *known != record.identity) {
        return Err(RecordError::KeyMismatch { uuid: expected });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_for(key: &IdentityKey) -> InstanceRecord {
        InstanceRecord {
            uuid: InstanceId::generate(),
            name: "Acme".into(),
            identity: key.public(),
            prekey: [9; 32],
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            seq: 1,
            signed_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_signed_record_verifies_with_its_own_key() {
        let key = IdentityKey::generate().unwrap();
        let record = record_for(&key);
        let signed = record.sign(&key).unwrap();
        assert_eq!(verify_record(&signed).unwrap(), record);
        assert_eq!(
            verify_record_for(&signed, record.uuid, Some(&key.public())).unwrap(),
            record
        );
    }

    #[test]
    fn a_record_claiming_someone_elses_key_is_refused() {
        let key = IdentityKey::generate().unwrap();
        let mallory = IdentityKey::generate().unwrap();
        let mut record = record_for(&key);
        // Mallory signs a record naming Alice's key: the signature cannot verify.
        let body = crate::codec::encode_body(&record).unwrap();
        let sig = crate::sign::sign(&mallory, Domain::InstanceRecord, &body);
        let forged = SignedRecord::from_parts(body, sig.to_vec());
        assert!(matches!(
            verify_record(&forged),
            Err(RecordError::Signature(SignError::BadSignature))
        ));
        // Mallory's own honest record for the same UUID is refused once Alice's key is known.
        record.identity = mallory.public();
        let signed = record.sign(&mallory).unwrap();
        assert_eq!(
            verify_record_for(&signed, record.uuid, Some(&key.public())),
            Err(RecordError::KeyMismatch { uuid: record.uuid })
        );
    }

    #[test]
    fn a_record_for_another_uuid_is_refused() {
        let key = IdentityKey::generate().unwrap();
        let record = record_for(&key);
        let signed = record.sign(&key).unwrap();
        let other = InstanceId::generate();
        assert!(matches!(
            verify_record_for(&signed, other, None),
            Err(RecordError::WrongUuid { .. })
        ));
    }

    #[test]
    fn a_record_under_a_derived_uuid_verifies_only_with_the_key_it_derives_from() {
        let owner = IdentityKey::generate().unwrap();
        let squatter = IdentityKey::generate().unwrap();
        let mut record = record_for(&owner);
        record.uuid = InstanceId::derived_from(&owner.public());
        let genuine = record.sign(&owner).unwrap();
        assert_eq!(verify_record(&genuine).unwrap(), record);
        assert_eq!(
            verify_record_for(&genuine, record.uuid, None).unwrap(),
            record
        );

        // The squatter's honest, self-signed record for the owner's UUID: refused even though
        // nobody has pinned a key for it yet.
        record.identity = squatter.public();
        let squatted = record.sign(&squatter).unwrap();
        let refused = || RecordError::NotDerivedFromKey { uuid: record.uuid };
        assert_eq!(verify_record(&squatted), Err(refused()));
        assert_eq!(
            verify_record_for(&squatted, record.uuid, None),
            Err(refused())
        );
        assert!(refused().to_string().contains("does not derive"));
    }

    #[test]
    fn oversized_fields_are_refused_at_signing() {
        let key = IdentityKey::generate().unwrap();
        let mut record = record_for(&key);
        record.name = "x".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(record.sign(&key), Err(RecordError::Limits(_))));
        let mut record = record_for(&key);
        record.addresses = vec!["/ip4/1.2.3.4".into(); MAX_ADDRESSES + 1];
        assert!(matches!(record.sign(&key), Err(RecordError::Limits(_))));
    }
}
