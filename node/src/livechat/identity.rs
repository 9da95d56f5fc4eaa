//! Visitors the website already knows. Each channel may have an identity secret, made by the
//! node when the admin asks (and made again to rotate it, which invalidates every signature
//! made with the old one). The website's backend signs its logged-in visitor's identity with
//! it; the widget passes the claim on when the visitor starts a chat; the node checks it here
//! and stores the result with the session ([`VisitorIdentity`]).
//!
//! The signed text is, with `\n` a line feed and no trailing one:
//!
//! ```text
//! v1\n{channel}\n{timestamp}\n{id}\n{name}\n{email}
//! ```
//!
//! `channel` is the channel's UUID in lowercase hyphenated form, `timestamp` the signing time
//! in Unix seconds (decimal), `id`, `name` and `email` as sent (UTF-8; empty when absent; no
//! line breaks). The signature is HMAC-SHA256 over it with the secret's ASCII text as the key,
//! in lowercase hex ([`signature`]). The node recomputes it and compares in constant time.
//!
//! A claim is **verified** when the signature matches the channel's current secret, the
//! timestamp is at most the configured age old (10 minutes by default) and at most
//! [`FUTURE_SKEW_S`] ahead of the node's clock. Any other claim (unsigned, wrong secret,
//! another channel's secret, a rotated secret, altered fields, stale or future) is kept as an
//! **unverified** claim with its reason, so operators see what the visitor says and that
//! nobody vouched for it. A malformed claim (no id, over-long fields, line breaks) is refused
//! with 400: that is the website's bug, not a visitor's.
//!
//! The history an operator sees of a visitor ([`LiveChat::visitor_history`]) links a
//! verified session only to other sessions verified for the same external id in the same
//! channel; an unverified or anonymous session only to other unverified or anonymous sessions
//! of the same browser. An unverified claim is never merged into a verified visitor's history.
//!
//! Neither the secret nor a signature is ever logged: [`IdentityClaim`] and the secret's
//! types print them redacted. Used by `session_start` (the check), `api::livechat_identity`
//! (the secret's routes, the history) and the CLI.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::sessions::{Session, SessionView};
use super::{LiveChat, LiveChatError, Who};
use crate::store::livechat::identity::IdentitySecretRecord;

pub use crate::model::livechat_identity::{IdentityProblem, VisitorIdentity};

/// How old a signature may be by default (seconds).
pub const DEFAULT_MAX_AGE_S: u64 = 600;
/// How far ahead of the node's clock a signature's timestamp may be (seconds).
pub const FUTURE_SKEW_S: u64 = 60;
/// Longest external id (bytes).
const MAX_ID: usize = 200;
/// Longest name (bytes).
const MAX_NAME: usize = 200;
/// Longest email (bytes).
const MAX_EMAIL: usize = 320;
/// Longest signature text accepted (a SHA-256 HMAC is 64 hex characters).
const MAX_SIGNATURE: usize = 128;
/// At most this many past sessions in a visitor's history.
const MAX_HISTORY: usize = 50;

/// What the widget passes on from the page: the identity the website's backend signed.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct IdentityClaim {
    /// The website's id of the visitor (1 to 200 bytes).
    pub id: String,
    /// The visitor's name (up to 200 bytes).
    #[serde(default)]
    pub name: String,
    /// The visitor's email (up to 320 bytes).
    #[serde(default)]
    pub email: String,
    /// When the backend signed it (Unix seconds).
    #[serde(default)]
    pub timestamp: Option<u64>,
    /// HMAC-SHA256 of the canonical text under the channel's secret, lowercase hex.
    #[serde(default)]
    pub signature: Option<String>,
}

impl std::fmt::Debug for IdentityClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityClaim")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("signature", &self.signature.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A channel's identity secret, as the admin is shown it. `Debug` shows no byte of it.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct IdentitySecretView {
    /// The channel.
    pub channel_id: Uuid,
    /// The secret: its ASCII text is the HMAC key (keep it on the website's server only).
    pub secret: String,
    /// When it was made (ms); a rotation makes a new one.
    pub created_at_ms: u64,
}

impl std::fmt::Debug for IdentitySecretView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySecretView")
            .field("channel_id", &self.channel_id)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The text a website signs (see the module notes).
pub fn canonical(channel: Uuid, timestamp: u64, id: &str, name: &str, email: &str) -> String {
    format!(
        "v1\n{}\n{timestamp}\n{id}\n{name}\n{email}",
        channel.as_hyphenated()
    )
}

/// HMAC-SHA256 of `text` under `secret` (its UTF-8 bytes), lowercase hex: what a website's
/// backend computes (tests use it as one).
pub fn signature(secret: &str, text: &str) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(text.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes a key of any length: this does not happen.
        Err(_) => String::new(),
    }
}

/// Whether `sig` (hex) is the HMAC of `text` under `secret`, compared in constant time.
fn signature_matches(secret: &str, text: &str, sig: &str) -> bool {
    let Ok(given) = hex::decode(sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(text.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Refuses a claim the website built wrongly (400), before anything is stored.
pub(crate) fn check_claim(claim: &IdentityClaim) -> Result<(), LiveChatError> {
    let bad = |m: &str| Err(LiveChatError::BadInput(format!("identity: {m}")));
    if claim.id.is_empty() || claim.id.len() > MAX_ID {
        return bad("id has 1 to 200 bytes");
    }
    if claim.name.len() > MAX_NAME {
        return bad("name has at most 200 bytes");
    }
    if claim.email.len() > MAX_EMAIL {
        return bad("email has at most 320 bytes");
    }
    let broken = |s: &str| s.contains(['\n', '\r']);
    if broken(&claim.id) || broken(&claim.name) || broken(&claim.email) {
        return bad("id, name and email may not contain line breaks");
    }
    if claim
        .signature
        .as_ref()
        .is_some_and(|s| s.len() > MAX_SIGNATURE)
    {
        return bad("signature is too long (64 hex characters expected)");
    }
    Ok(())
}

/// The verdict on a well-formed claim: `None` when verified, else why not.
fn verdict(
    channel: Uuid,
    claim: &IdentityClaim,
    secret: Option<&IdentitySecretRecord>,
    now_ms: u64,
    max_age_s: u64,
) -> Option<IdentityProblem> {
    let (Some(ts), Some(sig)) = (claim.timestamp, claim.signature.as_deref()) else {
        return Some(IdentityProblem::Unsigned);
    };
    let Some(secret) = secret else {
        return Some(IdentityProblem::NoSecret);
    };
    let text = canonical(channel, ts, &claim.id, &claim.name, &claim.email);
    if !signature_matches(&secret.secret, &text, sig) {
        return Some(IdentityProblem::BadSignature);
    }
    let now_s = now_ms / 1000;
    if ts > now_s.saturating_add(FUTURE_SKEW_S) {
        return Some(IdentityProblem::Future);
    }
    if now_s.saturating_sub(ts) > max_age_s {
        return Some(IdentityProblem::Stale);
    }
    None
}

/// Whether a session's identity is verified.
fn verified_id(s: &Session) -> Option<&str> {
    s.identity
        .as_ref()
        .filter(|i| i.verified)
        .map(|i| i.external_id.as_str())
}

impl LiveChat {
    /// Checks a visitor's claimed identity at session start (see the module notes).
    pub(crate) fn verify_identity(
        &self,
        channel: Uuid,
        claim: Option<&IdentityClaim>,
        now_ms: u64,
    ) -> Result<Option<VisitorIdentity>, LiveChatError> {
        let Some(claim) = claim else {
            return Ok(None);
        };
        check_claim(claim)?;
        let secret = self.repo().identity_secret(channel)?;
        let problem = verdict(
            channel,
            claim,
            secret.as_ref(),
            now_ms,
            self.inner.identity_max_age_s,
        );
        Ok(Some(VisitorIdentity {
            external_id: claim.id.clone(),
            name: claim.name.clone(),
            email: claim.email.clone(),
            verified: problem.is_none(),
            problem,
            signed_at_s: claim.timestamp,
        }))
    }

    /// A channel's identity secret (the admin only).
    pub fn identity_secret(
        &self,
        who: Who,
        channel: Uuid,
    ) -> Result<IdentitySecretView, LiveChatError> {
        who.admin()?;
        self.channel(channel)?;
        let record = self.repo().identity_secret(channel)?.ok_or_else(|| {
            LiveChatError::NotFound(format!(
                "channel {channel} has no identity secret yet; make one with POST \
                 /api/v1/livechat/channels/{channel}/identity_secret \
                 (ochat livechat identity-secret CHANNEL --rotate)"
            ))
        })?;
        Ok(view(channel, &record))
    }

    /// Makes a channel's identity secret, replacing the old one (whose signatures stop
    /// verifying at once). The admin only.
    pub async fn rotate_identity_secret(
        &self,
        who: Who,
        channel: Uuid,
    ) -> Result<IdentitySecretView, LiveChatError> {
        who.admin()?;
        self.channel(channel)?;
        let record = IdentitySecretRecord {
            secret: super::random_hex()?,
            created_at_ms: self.now_ms(),
        };
        self.repo().put_identity_secret(channel, &record)?;
        self.flush().await?;
        tracing::info!(%channel, "live chat identity secret made");
        Ok(view(channel, &record))
    }

    /// Removes a channel's identity secret: claims are no longer verified. The admin only.
    pub async fn remove_identity_secret(
        &self,
        who: Who,
        channel: Uuid,
    ) -> Result<(), LiveChatError> {
        who.admin()?;
        self.channel(channel)?;
        if !self.repo().remove_identity_secret(channel)? {
            return Err(LiveChatError::NotFound(format!(
                "channel {channel} has no identity secret"
            )));
        }
        self.flush().await
    }

    /// The visitor's other sessions, newest first, as the caller may see them: for a
    /// verified visitor those verified for the same id in the same channel; otherwise the
    /// unverified and anonymous sessions of the same browser. Never both.
    pub fn visitor_history(&self, who: Who, id: Uuid) -> Result<Vec<SessionView>, LiveChatError> {
        who.staff()?;
        let this = self.session_for(who, id)?;
        let verified = verified_id(&this).map(str::to_string);
        let same_visitor = |s: &Session| match &verified {
            Some(ext) => s.channel_id == this.channel_id && verified_id(s) == Some(ext.as_str()),
            None => {
                this.visitor_id.is_some()
                    && s.visitor_id == this.visitor_id
                    && verified_id(s).is_none()
            }
        };
        let mut out = Vec::new();
        for stored in self.repo().sessions() {
            let stored = stored?;
            if stored.id == id {
                continue;
            }
            let s = self.load_session(stored.id)?.unwrap_or(stored);
            if same_visitor(&s) && self.session_for(who, s.id).is_ok() {
                out.push(SessionView::from(&s));
            }
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at_ms));
        out.truncate(MAX_HISTORY);
        Ok(out)
    }
}

fn view(channel: Uuid, r: &IdentitySecretRecord) -> IdentitySecretView {
    IdentitySecretView {
        channel_id: channel,
        secret: r.secret.clone(),
        created_at_ms: r.created_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

    fn signed(secret: &str, ts: u64) -> IdentityClaim {
        let text = canonical(CHANNEL, ts, "u-42", "Ada", "ada@example.com");
        IdentityClaim {
            id: "u-42".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            timestamp: Some(ts),
            signature: Some(signature(secret, &text)),
        }
    }

    fn secret(s: &str) -> IdentitySecretRecord {
        IdentitySecretRecord {
            secret: s.into(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn the_canonical_text_and_its_signature_are_fixed() {
        let text = canonical(CHANNEL, 1_700_000_000, "u-42", "Ada", "ada@example.com");
        assert_eq!(
            text,
            "v1\n01234567-89ab-cdef-0123-456789abcdef\n1700000000\nu-42\nAda\nada@example.com"
        );
        // The vector the docs' Python and Node examples print.
        assert_eq!(
            signature("s3cret", &text),
            "9c210ce488a308adb6469d3f4ef05f21dae22c0348ecede446fcc85d1ee03275"
        );
    }

    #[test]
    fn only_a_fresh_signature_under_the_current_secret_verifies() {
        let now_ms = 1_700_000_000_000;
        let now_s = now_ms / 1000;
        let s = secret("s3cret");
        let v = |c: &IdentityClaim, sec: Option<&IdentitySecretRecord>| {
            verdict(CHANNEL, c, sec, now_ms, DEFAULT_MAX_AGE_S)
        };
        assert_eq!(v(&signed("s3cret", now_s - 30), Some(&s)), None);
        assert_eq!(
            v(&signed("other", now_s), Some(&s)),
            Some(IdentityProblem::BadSignature)
        );
        assert_eq!(
            v(&signed("s3cret", now_s - 601), Some(&s)),
            Some(IdentityProblem::Stale)
        );
        assert_eq!(
            v(&signed("s3cret", now_s + 61), Some(&s)),
            Some(IdentityProblem::Future)
        );
        assert_eq!(
            v(&signed("s3cret", now_s), None),
            Some(IdentityProblem::NoSecret)
        );
        let mut altered = signed("s3cret", now_s);
        altered.email = "eve@example.com".into();
        assert_eq!(v(&altered, Some(&s)), Some(IdentityProblem::BadSignature));
        let mut unsigned = signed("s3cret", now_s);
        unsigned.signature = None;
        assert_eq!(v(&unsigned, Some(&s)), Some(IdentityProblem::Unsigned));
    }

    #[test]
    fn malformed_claims_are_refused_and_signatures_never_print() {
        let mut c = signed("s3cret", 1);
        assert!(check_claim(&c).is_ok());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains(c.signature.as_deref().unwrap_or("-")),
            "{shown}"
        );
        c.name = "Ada\nEve".into();
        assert!(matches!(check_claim(&c), Err(LiveChatError::BadInput(_))));
        c.name = String::new();
        c.id = String::new();
        assert!(matches!(check_claim(&c), Err(LiveChatError::BadInput(_))));
    }
}
