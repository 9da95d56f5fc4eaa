//! The seed behaviours a person sees in a real browser: the console shows an idle operator as
//! away after 30 minutes and back as soon as they touch the page; the console offers only the
//! node's enabled languages; it shows each channel's satisfaction; the public ratings page
//! lists published channels and their public ratings; a new connection request is bold until
//! the administrator opens it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::seeds::{console_login, operator_available, swept_shop, until};
use ochat_tests::web::{Driver, screenshots_on_failure};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_operator_turns_away_after_thirty_minutes_and_is_back_when_they_act() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = swept_shop(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Support", &[&ann], json!({})).await.unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console_login(&console, &chat, "ann").await?;
        console.wait_text("#presence", "Available").await?;
        ensure!(operator_available(&chat, &channel).await?);

        // Ann leaves her console open and does nothing for 31 minutes: the console says she
        // is away and visitors are not routed to her.
        chat.clock.advance_minutes(31);
        console.wait_text("#presence", "Away").await?;
        ensure!(!operator_available(&chat, &channel).await?);

        // She clicks in the console: she is available again, for the console and for visitors.
        console.click("main").await?;
        console.wait_text("#presence", "Available").await?;
        until("Ann is available again", || operator_available(&chat, &channel)).await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("presence", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_offers_only_the_enabled_languages_in_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ochat_tests::livechat::ChatNode::start_with(
        tmp.path(),
        Arc::new(TestClock::new()),
        |c| c.livechat.languages = Some(vec!["en".into(), "fr".into(), "nl".into()]),
    )
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann", "language": "en"}))
        .await
        .unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console_login(&console, &chat, "ann").await?;
        console.click("#profile-open").await?;
        console
            .wait_js(
                "the languages are listed",
                "document.querySelectorAll('#profile-chat-languages input').length === 3",
            )
            .await?;
        let options = console.texts("#profile-language option").await?;
        ensure!(
            options == ["(none)", "English (en)", "French (fr)", "Dutch (nl)"],
            "{options:?}"
        );
        ensure!(console.js("document.querySelector('#profile-language').value").await? == json!("en"));

        // Ann speaks French and Dutch in live chat, Dutch first of all.
        console.click("#profile-chat-languages input[value=fr]").await?;
        console.click("#profile-chat-languages input[value=nl]").await?;
        console
            .js("(function(){var s=document.querySelector('#profile-language'); s.value='nl'; return true;})()")
            .await?;
        console.click("#profile-save").await?;
        console.wait_text("#profile-result", "Saved.").await?;
        let profile = chat
            .ok(
                &ann.token,
                reqwest::Method::GET,
                &format!("/api/v1/users/{}", ann.id),
                None,
            )
            .await?;
        ensure!(profile["language"] == json!("nl"), "{profile}");
        ensure!(profile["chat_languages"] == json!(["fr", "nl"]), "{profile}");
        Ok(())
    }
    .await;
    screenshots_on_failure("languages", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
