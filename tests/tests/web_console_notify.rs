//! An operator never misses a visitor: with the console in a background tab, a new conversation
//! and each new visitor message show a desktop notification, ring, and count in the tab title;
//! permission is asked only when the operator clicks "Enable notifications"; "Mute alerts"
//! silences them and is remembered across reloads. Real browser, real node; only the browser's
//! own Notification and WebAudio APIs are recorded (headless Chromium has neither a screen for
//! notifications nor speakers).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::console_alerts::{console_login, record_browser_alerts, set_tab_hidden};
use ochat_tests::livechat::ChatNode;
use ochat_tests::web::{Driver, screenshots_on_failure};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_console_notifies_rings_and_counts_new_visitor_messages_unless_muted() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", chat.node.api)).await?;
        record_browser_alerts(&console).await?;
        console_login(&console, "ann", "Ann").await?;
        ensure!(
            console.js("window.__asked").await? == json!(0),
            "nothing is asked before the operator clicks"
        );
        // Ann enables notifications: now (a click) the browser asks, and she allows.
        console.click("#alerts-enable").await?;
        console
            .wait_js(
                "the permission was asked and the button went away",
                "window.__asked === 1 && document.getElementById('alerts-enable').hidden",
            )
            .await?;

        // She switches to another tab; a visitor opens the chat and writes.
        set_tab_hidden(&console, true).await?;
        let visit = chat
            .visit(&channel, "https://shop.example/chairs", "en", None, Some("v-1"))
            .await?;
        chat.say(&visit.token, &visit.session, "Is anyone there?")
            .await?;
        console
            .wait_js(
                "the title counts the new conversation",
                "document.title === '(1) ochat console'",
            )
            .await?;
        console
            .wait_js(
                "a notification shows the visitor's words",
                "window.__notes.some(function (n) { return n.body === 'Is anyone there?'; })",
            )
            .await?;
        ensure!(console.js("window.__tones > 0").await? == json!(true), "it rang");

        // Another message: two unread, a second notification.
        chat.say(&visit.token, &visit.session, "I need a chair")
            .await?;
        console
            .wait_js("two unread", "document.title === '(2) ochat console'")
            .await?;
        console
            .wait_js(
                "the new message is notified",
                "window.__notes.some(function (n) { return n.title === 'Visitor: new message' && n.body === 'I need a chair'; })",
            )
            .await?;

        // Muted: the title still counts, but no notification and no sound.
        console.click("#alerts-mute").await?;
        console.wait_text("#alerts-mute", "Unmute alerts").await?;
        let notes = console.js("window.__notes.length").await?;
        let tones = console.js("window.__tones").await?;
        chat.say(&visit.token, &visit.session, "Hello?").await?;
        console
            .wait_js("three unread", "document.title === '(3) ochat console'")
            .await?;
        ensure!(console.js("window.__notes.length").await? == notes, "muted: no notification");
        ensure!(console.js("window.__tones").await? == tones, "muted: no sound");

        // Back on the tab: the count goes; the mute is remembered after a reload.
        set_tab_hidden(&console, false).await?;
        console
            .wait_js("the title is plain again", "document.title === 'ochat console'")
            .await?;
        console.client.refresh().await?;
        console.wait_text("#who", "Ann").await?;
        console.wait_text("#alerts-mute", "Unmute alerts").await?;
        ensure!(
            console.js("localStorage.getItem('ochat.console.muted')").await? == json!("1"),
            "kept in localStorage"
        );
        Ok(())
    }
    .await;
    screenshots_on_failure("console-notify", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
