//! The lead and ticket webhook: where `/lead`, `/ticket` and the chatbot's records are POSTed,
//! and how a receiver can tell the request came from this node.
//!
//! With a secret configured, the JSON body is signed with HMAC-SHA256 under that secret and
//! the signature travels in [`SIGNATURE_HEADER`] as `sha256=<lowercase hex>` (the format
//! GitHub's and Stripe-like receivers already check). The receiver recomputes the HMAC over the
//! raw body bytes it received and compares in constant time. Without a secret the header is
//! absent. Used by `livechat::commands` (the only sender) and configured through
//! [`super::LiveChatConfig`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::LiveChatError;

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "x-ochat-signature";

/// How long a webhook call may take before it is given up.
pub const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The shared secret the body is signed with. Zeroized on drop; `Debug` shows no byte of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A secret from its text (used as UTF-8 bytes, as receivers configure it).
    pub fn new(text: &str) -> Result<WebhookSecret, LiveChatError> {
        if text.is_empty() {
            return Err(LiveChatError::BadInput(
                "the webhook secret is empty".into(),
            ));
        }
        Ok(WebhookSecret(text.as_bytes().to_vec()))
    }

    /// The header value for `body`: `sha256=<hex of HMAC-SHA256(secret, body)>`.
    pub fn sign(&self, body: &[u8]) -> String {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A configured webhook: its URL, its optional secret and the HTTP client that calls it.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: reqwest::Url,
    secret: Option<WebhookSecret>,
    http: reqwest::Client,
}

impl Webhook {
    /// Checks the URL (http or https) and builds the client: a 5-second timeout, and redirects
    /// are not followed (a redirect could send the record, transcript included, somewhere the
    /// admin did not configure).
    pub fn new(url: &str, secret: Option<WebhookSecret>) -> Result<Webhook, LiveChatError> {
        let url = parse_url(url)?;
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LiveChatError::Internal(format!("building the webhook client: {e}")))?;
        Ok(Webhook { url, secret, http })
    }

    /// POSTs `body` as JSON in the background (signed when a secret is set); a failure is
    /// logged, never retried, and never fails the caller: the record is already stored.
    pub fn post(&self, body: &serde_json::Value) {
        let bytes = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "live chat webhook body not encodable");
                return;
            }
        };
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, secret.sign(&bytes));
        }
        tokio::spawn(async move {
            match request.body(bytes).send().await {
                Ok(r) if !r.status().is_success() => {
                    tracing::warn!(status = %r.status(), "live chat webhook refused the record");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "live chat webhook failed"),
            }
        });
    }
}

/// A webhook URL: absolute, http or https.
pub fn parse_url(url: &str) -> Result<reqwest::Url, LiveChatError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| LiveChatError::BadInput(format!("webhook URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(LiveChatError::BadInput(format!(
            "webhook URL {url:?}: the scheme must be http or https, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_rfc_4231_case_2() {
        let secret = WebhookSecret::new("Jefe").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            secret.sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let secret = WebhookSecret::new("hunter2-very-secret").unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{secret:?} {:?}", Some(secret.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn only_http_and_https_urls_are_webhooks() {
        assert!(parse_url("https://crm.example/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:9/hook").is_ok());
        assert!(parse_url("file:///etc/passwd").is_err());
        assert!(parse_url("crm.example/hook").is_err());
        assert!(WebhookSecret::new("").is_err());
    }
}
