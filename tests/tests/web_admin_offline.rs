//! The admin sets a channel's business hours, offline form and French texts in the console's
//! Administration → Channels section: a bad slot is refused with the node's reason and changes
//! nothing, the saved schedule closes the widget after hours, and the French text reaches a
//! French visitor's check. Screenshot `docs/screenshots/admin-channel-hours.png` with
//! `OCHAT_SCREENSHOT=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::admin_bots::{
    admin_console, choose, doc_screenshot, every_control_is_labelled, fill, open_section, scroll_to,
};
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_offline::{PARIS_WEDNESDAY_18H30, check};
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sets_business_hours_the_offline_form_and_french_texts_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(
        tmp.path(),
        Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_18H30)),
    )
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Paris shop", &[&ann], json!({}))
        .await
        .unwrap();
    let path = format!("/api/v1/livechat/channels/{channel}");
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_console(&console, &chat.node.api, &chat.node.token).await?;
        open_section(&console, "Channels").await?;
        console.find("#ch-hours").await?;
        console.click("#ch-hours-on").await?;
        fill(&console, "#ch-hours-zone", "Europe/Paris").await?;
        fill(&console, "#ch-hours-slots", "mon-fri 9-17").await?;
        fill(&console, "#ch-hours-holidays", "2026-12-25").await?;
        choose(&console, "#ch-offline-mode", "form").await?;
        choose(&console, "#ch-offline-record", "lead").await?;
        console.click("#ch-hours-submit").await?;
        console
            .wait_js(
                "the node's reason is shown",
                "document.getElementById('ch-hours-message').textContent.includes('HH:MM-HH:MM')",
            )
            .await?;
        let c = chat.admin(Method::GET, &path, None).await?;
        ensure!(
            c["hours"].is_null(),
            "a refused schedule changes nothing: {c}"
        );

        fill(
            &console,
            "#ch-hours-slots",
            "mon-fri 09:00-17:00\nsat 10:00-12:00",
        )
        .await?;
        console.click("#ch-hours-submit").await?;
        console
            .wait_js(
                "saved",
                "document.getElementById('ch-hours-message').textContent.startsWith('Saved.')",
            )
            .await?;
        let c = chat.admin(Method::GET, &path, None).await?;
        ensure!(
            c["hours"]
                == json!({"time_zone": "Europe/Paris",
                    "weekly": ["mon-fri 09:00-17:00", "sat 10:00-12:00"],
                    "holidays": ["2026-12-25"]}),
            "{c}"
        );
        ensure!(
            c["offline"]["mode"] == "form" && c["offline"]["record"] == "lead",
            "{c}"
        );
        let (_, closed) = check(&chat, &channel, &["en"], "en").await?;
        ensure!(
            closed["offline"] == json!({"reason": "closed", "form": true}),
            "{closed}"
        );

        // A French text of the offline form.
        fill(&console, "#ch-texts-lang", "fr").await?;
        fill(
            &console,
            "#ch-text-offline_intro",
            "Laissez-nous un mot, nous répondons dès demain matin.",
        )
        .await?;
        scroll_to(&console, "#ch-hours-title").await?;
        doc_screenshot(&console, "admin-channel-hours").await?;
        console.click("#ch-texts-submit").await?;
        console
            .wait_js(
                "texts saved",
                "document.getElementById('ch-texts-message').textContent.startsWith('Saved.')",
            )
            .await?;
        let (_, fr) = check(&chat, &channel, &["fr-FR"], "fr").await?;
        ensure!(
            fr["texts"]["offline_intro"] == "Laissez-nous un mot, nous répondons dès demain matin.",
            "{fr}"
        );
        ensure!(fr["texts"]["offline_send"] == "Envoyer le message", "{fr}");
        every_control_is_labelled(&console).await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-hours", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
