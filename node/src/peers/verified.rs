//! Records already verified: a peer's signed record is checked again on every batch it sends or
//! receives (its key pins the peer id), but the same bytes always verify the same way, so the
//! outcome is kept by body and signature and the Ed25519 check runs once per record. Used by
//! [`super::Peers`] for every record a peer sends or a lookup finds.

use std::collections::HashMap;
use std::sync::Mutex;

use ochat_protocol::record::{InstanceRecord, RecordError, SignedRecord, verify_record};

/// At most this many records are kept; beyond it the cache starts again empty.
const MAX_KEPT: usize = 1024;

/// A record's signature and what verifying it gave.
type Verified = (Vec<u8>, InstanceRecord);

/// Verified records by their signed bytes.
#[derive(Debug, Default)]
pub(super) struct VerifiedRecords {
    by_body: Mutex<HashMap<Vec<u8>, Verified>>,
}

impl VerifiedRecords {
    /// [`verify_record`], answered from memory for bytes verified before.
    pub(super) fn verify(&self, signed: &SignedRecord) -> Result<InstanceRecord, RecordError> {
        if let Ok(map) = self.by_body.lock()
            && let Some((signature, record)) = map.get(&signed.body)
            && *signature == signed.signature
        {
            return Ok(record.clone());
        }
        let record = verify_record(signed)?;
        if let Ok(mut map) = self.by_body.lock() {
            if map.len() >= MAX_KEPT {
                map.clear();
            }
            map.insert(
                signed.body.clone(),
                (signed.signature.clone(), record.clone()),
            );
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ochat_protocol::identity::{IdentityKey, InstanceId};

    fn record(name: &str) -> SignedRecord {
        let identity = IdentityKey::generate().unwrap();
        InstanceRecord {
            uuid: InstanceId::generate(),
            name: name.into(),
            identity: identity.public(),
            prekey: [9u8; 32],
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            seq: 1,
            signed_at_ms: 1,
        }
        .sign(&identity)
        .unwrap()
    }

    #[test]
    fn a_record_verified_once_is_answered_again_and_a_forged_one_never() {
        let cache = VerifiedRecords::default();
        let good = record("Acme");
        assert_eq!(cache.verify(&good).unwrap().name, "Acme");
        assert_eq!(cache.verify(&good).unwrap().name, "Acme");
        let mut forged = good.clone();
        forged.signature[0] ^= 1;
        assert!(cache.verify(&forged).is_err(), "same body, other signature");
        let mut altered = good.clone();
        let last = altered.body.len() - 1;
        altered.body[last] ^= 1;
        assert!(
            cache.verify(&altered).is_err(),
            "other body, same signature"
        );
        assert!(cache.verify(&good).is_ok());
    }
}
