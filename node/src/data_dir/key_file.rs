//! `identity.key`: the instance's Ed25519 identity and X25519 signed pre-key secrets (hex,
//! JSON), the pre-key's creation time and the previous pre-key. Read and written only by
//! [`super::DataDir::open`]; every copy of a secret read from the file is zeroized on drop.
//!
//! Pre-key rotation: at a start when the pre-key is [`PREKEY_ROTATION_MS`] old, a new one is
//! made and the old one kept as `previous_prekey` until the next rotation, so an answer to a
//! request we sent with it still completes the key agreement.

use std::fs;
use std::path::Path;

use ochat_protocol::identity::IdentityKey;
use ochat_protocol::random::random_bytes;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{DataDirError, Secrets, io, write_atomic};

/// How long a signed pre-key is used: at a start after this long a new one is made, and the
/// previous one is kept (for our requests still in flight, whose answers use it) until the
/// next rotation.
pub const PREKEY_ROTATION_MS: u64 = 7 * 24 * 3600 * 1000;

/// `identity.key` as read and written; its strings are secrets, zeroized when dropped.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(super) struct KeyFile {
    pub(super) identity: String,
    pub(super) prekey: String,
    /// When `prekey` was made (ms); 0 in files of earlier versions (the clock starts then).
    #[serde(default)]
    pub(super) prekey_created_ms: u64,
    /// The pre-key before the last rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) previous_prekey: Option<String>,
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes the key file atomically (the JSON text is zeroized afterwards).
pub(super) fn write_keys(path: &Path, file: &KeyFile) -> Result<(), DataDirError> {
    let text = Zeroizing::new(serde_json::to_string_pretty(file).unwrap_or_default());
    write_atomic(path, text.as_bytes())
}

/// Reads `identity.key` at time `now` (ms), rotating the pre-key when it is due (see
/// [`PREKEY_ROTATION_MS`]) and writing the file back then.
pub(super) fn read_keys(path: &Path, now: u64) -> Result<Secrets, DataDirError> {
    let bytes = Zeroizing::new(fs::read(path).map_err(io("read", path))?);
    let corrupt = |reason: &str| DataDirError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e.to_string()))?;
    let key32 = |hex_text: &str, what: &str| -> Result<Zeroizing<[u8; 32]>, DataDirError> {
        let raw = Zeroizing::new(
            hex::decode(hex_text).map_err(|_| corrupt(&format!("{what} is not hex")))?,
        );
        if raw.len() != 32 {
            return Err(corrupt(&format!("{what} must have 32 bytes")));
        }
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&raw);
        Ok(out)
    };
    let identity = key32(&file.identity, "identity")?;
    let mut prekey = key32(&file.prekey, "prekey")?;
    let mut previous_prekey = match &file.previous_prekey {
        Some(text) => Some(key32(text, "previous_prekey")?),
        None => None,
    };
    if file.prekey_created_ms == 0 {
        // A file of an earlier version: its pre-key's age starts now.
        file.prekey_created_ms = now;
        write_keys(path, &file)?;
    } else if now.saturating_sub(file.prekey_created_ms) >= PREKEY_ROTATION_MS {
        let fresh =
            Zeroizing::new(random_bytes::<32>().map_err(|e| DataDirError::Random(e.to_string()))?);
        file.previous_prekey = Some(std::mem::take(&mut file.prekey));
        file.prekey = hex::encode(*fresh);
        file.prekey_created_ms = now;
        write_keys(path, &file)?;
        previous_prekey = Some(prekey);
        prekey = fresh;
        tracing::info!(
            "rotated the signed pre-key (the previous one is kept for requests in flight)"
        );
    }
    Ok(Secrets {
        identity: IdentityKey::from_secret_bytes(&identity),
        prekey,
        previous_prekey,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    const DAY: u64 = 24 * 3600 * 1000;

    fn write(path: &Path, created: u64) -> [u8; 32] {
        let prekey = [5u8; 32];
        let file = KeyFile {
            identity: hex::encode([1u8; 32]),
            prekey: hex::encode(prekey),
            prekey_created_ms: created,
            previous_prekey: None,
        };
        write_keys(path, &file).unwrap();
        prekey
    }

    #[test]
    fn a_pre_key_a_week_old_is_rotated_and_the_previous_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let now = 100 * DAY;
        let old = write(&path, now - PREKEY_ROTATION_MS);
        let secrets = read_keys(&path, now).unwrap();
        assert_ne!(*secrets.prekey, old);
        assert_eq!(secrets.previous_prekey.as_deref(), Some(&old));
        // The rotation is in the file: the next start keeps both.
        let again = read_keys(&path, now + DAY).unwrap();
        assert_eq!(*again.prekey, *secrets.prekey);
        assert_eq!(again.previous_prekey.as_deref(), Some(&old));
        // A week later the new one becomes the previous one.
        let later = read_keys(&path, now + PREKEY_ROTATION_MS).unwrap();
        assert_eq!(later.previous_prekey.as_deref(), Some(&*secrets.prekey));
    }

    #[test]
    fn a_younger_pre_key_and_an_older_file_are_kept_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let now = 100 * DAY;
        let key = write(&path, now - PREKEY_ROTATION_MS + 1);
        let secrets = read_keys(&path, now).unwrap();
        assert_eq!(*secrets.prekey, key);
        assert!(secrets.previous_prekey.is_none());
        // A file of an earlier version (no creation time): its age starts now.
        let key = write(&path, 0);
        assert_eq!(*read_keys(&path, now).unwrap().prekey, key);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("\"prekey_created_ms\": {now}")),
            "{text}"
        );
    }
}
