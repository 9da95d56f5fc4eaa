//! The identity a website vouches for, as a live chat session stores it (see
//! `livechat/identity.rs` for the signature, its check and the visitor history it links).
//! A leaf like the rest of `model`: `model::livechat::Session` carries it.

use serde::{Deserialize, Serialize};

/// Who the visitor says they are, and whether the website's signature proved it.
///
/// `verified` is true only when the claim carried a valid HMAC-SHA256 signature under the
/// channel's current secret, made within the allowed age. Anything else is kept as an
/// unverified claim, with the reason in `problem`, and is never linked to a verified
/// visitor's history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct VisitorIdentity {
    /// The website's own id of the visitor (e.g. its user id).
    pub external_id: String,
    /// The visitor's name, as the website gave it (may be empty).
    #[serde(default)]
    pub name: String,
    /// The visitor's email, as the website gave it (may be empty).
    #[serde(default)]
    pub email: String,
    /// Whether the website's signature proved the claim.
    pub verified: bool,
    /// Why an unverified claim is not verified (`None` when verified).
    #[serde(default)]
    pub problem: Option<IdentityProblem>,
    /// The signature's timestamp (Unix seconds), as claimed.
    #[serde(default)]
    pub signed_at_s: Option<u64>,
}

/// Why a claimed identity is not verified.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProblem {
    /// The claim carried no signature or no timestamp.
    Unsigned,
    /// The channel has no identity secret: nothing can be verified.
    NoSecret,
    /// The signature does not match (wrong secret, rotated secret, other channel, altered
    /// fields).
    BadSignature,
    /// The timestamp is older than the allowed age.
    Stale,
    /// The timestamp is further in the future than the allowed clock skew.
    Future,
}
