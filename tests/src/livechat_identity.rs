//! A website's backend as the identity tests play it: it signs its logged-in visitor's
//! identity with the channel's secret exactly as `docs/livechat-identity.md` tells a website
//! to (computed here with `hmac` and `sha2`, not with the node's code), and builds the claim
//! the widget passes on. Used by `tests/tests/livechat_identity.rs` and
//! `tests/tests/web_widget_identity.rs`.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::livechat::ChatNode;

/// The signature a website computes: HMAC-SHA256 of
/// `v1\n{channel}\n{timestamp}\n{id}\n{name}\n{email}` under the secret's text, lowercase hex.
pub fn website_signature(
    secret: &str,
    channel: &str,
    timestamp: u64,
    id: &str,
    name: &str,
    email: &str,
) -> String {
    let text = format!("v1\n{channel}\n{timestamp}\n{id}\n{name}\n{email}");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The claim the page hands the widget (`window.ochatIdentity`), signed with `secret` at
/// `timestamp` (Unix seconds).
pub fn signed_claim(
    secret: &str,
    channel: &str,
    timestamp: u64,
    id: &str,
    name: &str,
    email: &str,
) -> Value {
    json!({
        "id": id, "name": name, "email": email, "timestamp": timestamp,
        "signature": website_signature(secret, channel, timestamp, id, name, email),
    })
}

/// The node's clock now, in Unix seconds (what a website's clock would say).
pub fn now_s(node: &ChatNode) -> u64 {
    use ochat_node::livechat::Clock;
    node.clock.now_ms() / 1000
}

/// The admin makes (or rotates) a channel's identity secret; answers the secret.
pub async fn make_secret(node: &ChatNode, channel: &str) -> anyhow::Result<String> {
    let answer = node
        .admin(
            Method::POST,
            &format!("/api/v1/livechat/channels/{channel}/identity_secret"),
            None,
        )
        .await?;
    answer["secret"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no secret in {answer}"))
}
