//! Helpers for the seed-behaviour stories (presence, languages, satisfaction, the public
//! ratings page, clean-up): a shop node whose background sweep runs every 50 ms, so a story
//! that moves the test clock sees the time rules applied at once, and the console's login.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ochat_node::livechat::TestClock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::livechat::ChatNode;
use crate::node::WAIT;
use crate::web::Browser;

/// How often the sweep runs in these stories.
pub const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// A shop node with a test clock and a fast sweep.
pub async fn swept_shop(dir: &std::path::Path, clock: Arc<TestClock>) -> Result<ChatNode> {
    ChatNode::start_with(dir, clock, |c| c.livechat.sweep_every = Some(SWEEP_EVERY)).await
}

/// Whether a visitor on `channel` would get an operator now (the widget's page check).
pub async fn operator_available(chat: &ChatNode, channel: &str) -> Result<bool> {
    let (_, answer) = chat
        .call(
            None,
            Method::POST,
            &format!("/api/v1/livechat/{channel}/check"),
            Some(json!({"page_url": "https://shop.example/"})),
        )
        .await?;
    Ok(answer["operator_available"] == json!(true))
}

/// Polls `f` until it answers true, for at most [`WAIT`].
pub async fn until<F, Fut>(what: &str, mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if f().await? {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs an operator into the console with the login form (password "pw-" + login).
pub async fn console_login(console: &Browser, chat: &ChatNode, login: &str) -> Result<()> {
    console.goto(&format!("{}/console", chat.node.api)).await?;
    console.find("#login-name").await?.send_keys(login).await?;
    console
        .find("#login-password")
        .await?
        .send_keys(&format!("pw-{login}"))
        .await?;
    console.find("#login-submit").await?.click().await?;
    console
        .wait_js(
            "the console opens",
            "!document.querySelector('#app').hidden",
        )
        .await?;
    Ok(())
}

/// A JSON value's string field, or an error naming it.
pub fn field(v: &Value, name: &str) -> Result<String> {
    v[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no {name} in {v}"))
}

/// A visitor talks with the operator of `channel` (who answers), the operator closes the
/// conversation and the visitor rates it `rating` with `comment`; answers the session id.
pub async fn rated_session(
    chat: &ChatNode,
    channel: &str,
    operator_token: &str,
    rating: u8,
    comment: &str,
) -> Result<String> {
    let v = chat
        .visit(channel, "https://shop.example/", "en", None, None)
        .await?;
    chat.say(&v.token, &v.session, "Hello, where is my parcel?")
        .await?;
    chat.say(operator_token, &v.session, "It ships today.")
        .await?;
    chat.ok(
        operator_token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", v.session),
        None,
    )
    .await?;
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/rating", v.session),
        Some(json!({"rating": rating, "comment": comment})),
    )
    .await?;
    Ok(v.session)
}
