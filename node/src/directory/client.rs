//! The directory client: publish this node's signed record, look other instances up.
//!
//! The directory is not trusted with authenticity: [`DirectoryClient::lookup`] verifies every
//! record it receives (self-signature, limits, and that it is for the UUID asked for), so the
//! worst a lying directory can do is withhold a record or serve an old one. Answers are read
//! with a size cap and every request has a timeout (5 s), so a slow or hostile directory cannot
//! stall or flood the node.

use std::time::Duration;

use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{SignedRecord, verify_record, verify_record_for};
use reqwest::StatusCode;
use serde::Deserialize;

use super::{DirectoryError, RecordDto};

/// Connect and whole-request timeout.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer the client reads, in bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A client of one directory.
#[derive(Debug, Clone)]
pub struct DirectoryClient {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl DirectoryClient {
    /// A client of the directory at `base_url` (`http://` or `https://`, optionally with a path
    /// prefix, e.g. `https://directory.example.org/ochat`).
    pub fn new(base_url: &str) -> Result<Self, DirectoryError> {
        let bad = |reason: &str| DirectoryError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let url = reqwest::Url::parse(base_url.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(bad("it needs a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or a fragment"));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("ochat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(&error_chain(&e)))?;
        Ok(DirectoryClient {
            http,
            base: url.as_str().trim_end_matches('/').to_string(),
        })
    }

    /// The directory's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn instance_url(&self, uuid: InstanceId) -> String {
        format!("{}/v1/instances/{uuid}", self.base)
    }

    /// Publishes a record (first claim or a new version with a higher `seq`). Publishing the
    /// very record the directory already holds succeeds.
    pub async fn publish(&self, record: &SignedRecord) -> Result<(), DirectoryError> {
        let uuid = verify_record(record)
            .map_err(|e| {
                DirectoryError::Rejected(format!("the record does not verify locally: {e}"))
            })?
            .uuid;
        let response = self
            .http
            .put(self.instance_url(uuid))
            .json(&RecordDto::from(record))
            .send()
            .await
            .map_err(|e| DirectoryError::Unreachable(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let (code, message) = error_of(response).await;
        Err(match status {
            StatusCode::FORBIDDEN if code == "key_mismatch" => DirectoryError::KeyMismatch { uuid },
            StatusCode::CONFLICT if code == "stale_seq" => DirectoryError::StaleSeq { uuid },
            _ => failure(status, message),
        })
    }

    /// Looks `uuid` up: `None` when the directory does not know it. A record is returned only
    /// once it verifies for `uuid`; one that does not is [`DirectoryError::Forged`].
    pub async fn lookup(&self, uuid: InstanceId) -> Result<Option<SignedRecord>, DirectoryError> {
        let response = self.get(self.instance_url(uuid)).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            let (code, message) = error_of(response).await;
            return if code == "not_found" {
                Ok(None)
            } else {
                Err(DirectoryError::BadAnswer(format!(
                    "404 without the directory's not_found code ({message}); is {} an ochat directory?",
                    self.base
                )))
            };
        }
        if !status.is_success() {
            let (_, message) = error_of(response).await;
            return Err(failure(status, message));
        }
        let bytes = read_capped(response).await?;
        let dto: RecordDto = serde_json::from_slice(&bytes)
            .map_err(|e| DirectoryError::BadAnswer(format!("not a record: {e}")))?;
        let signed = SignedRecord::try_from(&dto)
            .map_err(|e| DirectoryError::BadAnswer(format!("not a record: {e}")))?;
        verify_record_for(&signed, uuid, None)
            .map_err(|source| DirectoryError::Forged { uuid, source })?;
        Ok(Some(signed))
    }

    /// The directory host's libp2p node (relay and DHT bootstrap): `None` when it runs none.
    pub async fn p2p_info(&self) -> Result<Option<super::P2pInfo>, DirectoryError> {
        let response = self.get(format!("{}/v1/p2p", self.base)).await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let (_, message) = error_of(response).await;
            return Err(failure(status, message));
        }
        let bytes = read_capped(response).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DirectoryError::BadAnswer(format!("not the libp2p node's details: {e}")))
    }

    /// A GET of `url`; a transport failure is [`DirectoryError::Unreachable`].
    async fn get(&self, url: String) -> Result<reqwest::Response, DirectoryError> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| DirectoryError::Unreachable(error_chain(&e)))
    }

    /// Whether the directory answers its health check.
    pub async fn health(&self) -> Result<(), DirectoryError> {
        let response = self.get(format!("{}/v1/health", self.base)).await?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let (_, message) = error_of(response).await;
            Err(failure(status, message))
        }
    }
}

/// Maps an unsuccessful status without a more specific meaning.
fn failure(status: StatusCode, message: String) -> DirectoryError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        DirectoryError::RateLimited
    } else if status.is_server_error() {
        DirectoryError::Unreachable(format!("{status}: {message}"))
    } else {
        DirectoryError::Rejected(format!("{status}: {message}"))
    }
}

/// Reads `{"error": {"code", "message"}}`; anything else becomes an empty code and a short
/// description of what came instead.
async fn error_of(response: reqwest::Response) -> (String, String) {
    let status = response.status();
    match read_capped(response).await {
        Ok(bytes) => match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => (String::new(), format!("{status} without an error body")),
        },
        Err(e) => (String::new(), e.to_string()),
    }
}

/// Reads the answer's body, refusing more than [`MAX_ANSWER_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, DirectoryError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| DirectoryError::Unreachable(error_chain(&e)))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(DirectoryError::BadAnswer(format!(
                "an answer larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An error and its causes on one line (reqwest's own message hides the interesting part).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        let client = DirectoryClient::new("https://dir.example.org/ochat/").unwrap();
        assert_eq!(client.base_url(), "https://dir.example.org/ochat");
        assert_eq!(
            DirectoryClient::new("http://127.0.0.1:7490")
                .unwrap()
                .base_url(),
            "http://127.0.0.1:7490"
        );
        for bad in [
            "127.0.0.1:7490",
            "ftp://dir.example.org",
            "http://x/?a=b",
            "nope",
        ] {
            assert!(
                matches!(
                    DirectoryClient::new(bad),
                    Err(DirectoryError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }
}
