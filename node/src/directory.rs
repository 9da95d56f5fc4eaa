//! The optional **UUID directory**: an HTTP rendezvous service that maps an Instance UUID to the
//! instance's self-signed record, so a node that only knows a UUID can find the key and the
//! addresses to connect to.
//!
//! - [`server`] — [`DirectoryServer`]: axum over its own database folder (locked against a
//!   second process; its records in `store/directory_records.rs`). It verifies every record it is given and applies trust on first use: the first
//!   key to claim a UUID keeps it, and later versions must be signed by that key and carry a
//!   strictly higher `seq`. Requests pass a per-client-IP token bucket ([`RateLimit`]).
//! - [`client`] — [`DirectoryClient`]: publishes a node's record and looks others up. A lookup
//!   verifies what it receives against the UUID asked for, so a lying or compromised directory
//!   can withhold records but never hand out a forged one.
//!
//! The wire format, shared by both sides:
//!
//! | request                      | answer                                                        |
//! |------------------------------|---------------------------------------------------------------|
//! | `PUT /v1/instances/{uuid}`   | 201 first claim, 200 update or identical re-publish;          |
//! |   body [`RecordDto`]         | 400 malformed / bad signature / wrong UUID, 403 `key_mismatch`,|
//! |                              | 409 `stale_seq`, 413 too large, 429 `rate_limited`            |
//! | `GET /v1/instances/{uuid}`   | 200 [`RecordDto`], 404 `not_found`, 400 malformed UUID        |
//! | `GET /v1/health`             | 200 `{"status": "ok"}`                                        |
//! | `GET /v1/p2p`                | 200 [`P2pInfo`] `{peer_id, addresses}` of its libp2p node     |
//! |                              | (relay, AutoNAT, DHT bootstrap: [`p2p`]), 404 when it runs none|
//!
//! Errors are the node API's `{"error": {"code", "message"}}` ([`crate::api::ApiError`]).

pub mod client;
pub mod p2p;
mod rate_limit;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{RecordError, SignedRecord};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use client::DirectoryClient;
pub use p2p::{DirectoryP2p, P2pInfo};
pub use rate_limit::RateLimit;
pub use server::{DirectoryConfig, DirectoryServer, RunningDirectory};

/// The default data folder of `ochat directory run`, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "ochat-directory";
/// The default listen address of `ochat directory run` (loopback; put a TLS reverse proxy in
/// front to serve it publicly).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7490";
/// The largest request body the server accepts, in bytes. A record at every limit of
/// `ochat_protocol::record` is about 9 KiB in hex.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A signed record as JSON: the CBOR body and the Ed25519 signature, both in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDto {
    /// Hex of [`SignedRecord::body`], the CBOR bytes exactly as signed.
    pub body: String,
    /// Hex of [`SignedRecord::signature`].
    pub signature: String,
}

impl From<&SignedRecord> for RecordDto {
    fn from(signed: &SignedRecord) -> Self {
        RecordDto {
            body: hex::encode(&signed.body),
            signature: hex::encode(&signed.signature),
        }
    }
}

impl TryFrom<&RecordDto> for SignedRecord {
    type Error = DtoError;

    /// Decodes the hex; the signature is NOT checked here (see `record::verify_record`).
    fn try_from(dto: &RecordDto) -> Result<Self, DtoError> {
        let body = hex::decode(dto.body.trim()).map_err(|e| DtoError::Hex {
            field: "body",
            reason: e.to_string(),
        })?;
        let signature = hex::decode(dto.signature.trim()).map_err(|e| DtoError::Hex {
            field: "signature",
            reason: e.to_string(),
        })?;
        Ok(SignedRecord::from_parts(body, signature))
    }
}

/// Why a [`RecordDto`] could not be turned into a [`SignedRecord`].
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DtoError {
    /// A field is not hex.
    #[error("`{field}` is not hex: {reason}")]
    Hex {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Everything that can go wrong running or using a directory.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// Another process holds the data folder's lock.
    #[error(
        "another ochat directory is already running on the data folder {dir}{pid}; stop it first or pass another --data-dir"
    )]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// " (pid N)" when known.
        pid: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory's database failed.
    #[error("directory database error: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The server could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the directory server stopped: {0}")]
    Server(String),
    /// The directory URL given to the client is not usable.
    #[error("'{url}' is not a usable directory URL: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The UUID is already claimed by another identity key (trust on first use).
    #[error("the directory keeps {uuid} for another identity key; a UUID cannot change keys")]
    KeyMismatch {
        /// The UUID concerned.
        uuid: InstanceId,
    },
    /// The directory holds a record for the UUID with the same or a higher `seq`.
    #[error(
        "the directory already holds a record for {uuid} with the same or a higher seq; sign the new version with a higher seq"
    )]
    StaleSeq {
        /// The UUID concerned.
        uuid: InstanceId,
    },
    /// The directory asks this client to slow down.
    #[error("the directory is rate limiting this client; try again later")]
    RateLimited,
    /// The directory refused the request (malformed or invalid record, …).
    #[error("the directory refused the record: {0}")]
    Rejected(String),
    /// The directory could not be reached, timed out, or failed internally.
    #[error("the directory is unreachable: {0}")]
    Unreachable(String),
    /// The directory answered something that is not the directory protocol.
    #[error("the directory answered something unexpected: {0}")]
    BadAnswer(String),
    /// The directory handed out a record that does not verify for the UUID asked for.
    #[error("the directory returned a record for {uuid} that does not verify: {source}")]
    Forged {
        /// The UUID that was looked up.
        uuid: InstanceId,
        /// Why the record was refused.
        source: RecordError,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::identity::IdentityKey;
    use ochat_protocol::record::InstanceRecord;

    use super::*;

    fn signed() -> SignedRecord {
        let key = IdentityKey::generate().unwrap();
        InstanceRecord {
            uuid: InstanceId::generate(),
            name: "Acme".into(),
            identity: key.public(),
            prekey: [7; 32],
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            seq: 1,
            signed_at_ms: 1_700_000_000_000,
        }
        .sign(&key)
        .unwrap()
    }

    #[test]
    fn a_record_survives_the_trip_through_json() {
        let signed = signed();
        let dto = RecordDto::from(&signed);
        let json = serde_json::to_string(&dto).unwrap();
        let back: RecordDto = serde_json::from_str(&json).unwrap();
        assert_eq!(SignedRecord::try_from(&back).unwrap(), signed);
    }

    #[test]
    fn a_dto_that_is_not_hex_names_the_field() {
        let mut dto = RecordDto::from(&signed());
        dto.signature = "zz".into();
        let err = SignedRecord::try_from(&dto).unwrap_err();
        assert!(err.to_string().contains("`signature`"), "{err}");
    }

    #[test]
    fn the_documented_defaults_parse() {
        assert!(DEFAULT_LISTEN.parse::<SocketAddr>().is_ok());
    }
}
