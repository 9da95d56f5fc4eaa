//! The widget in a real browser outside business hours and in the visitor's language: after
//! closing time the shop's button offers to leave a message, the form says what is wrong with
//! an address the node refuses, and the message becomes a ticket the operator finds (and that
//! an export by the browser's visitor id finds); a browser
//! set to French gets the widget in French, with the channel's own French welcome. Screenshots
//! of both go to `docs/screenshots/` with `OCHAT_SCREENSHOT=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::admin_bots::doc_screenshot;
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_offline::{
    PARIS_WEDNESDAY_18H30, browser_speaking, paris_office, records,
};
use ochat_tests::web::{
    Driver, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_closing_time_the_widget_takes_a_message_that_becomes_a_ticket() {
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
        .channel(
            "Paris shop",
            &[&ann],
            json!({"hours": paris_office(), "offline": {"mode": "form"},
                   "button_color": "#0b7a3e", "header_color": "#123456"}),
        )
        .await
        .unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let (site, _server) = website(vec![(
        "/contact".into(),
        shop_page("Contact", embed["snippet"].as_str().unwrap()),
    )])
    .await
    .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        visitor.goto(&format!("{site}/contact")).await?;
        visitor
            .wait_text("[data-ochat=button]", "Leave us a message")
            .await?;
        visitor.click("[data-ochat=button]").await?;
        visitor
            .wait_text("[data-ochat=status]", "We are away right now")
            .await?;
        visitor.find("[data-ochat=offline-form]").await?;
        ensure!(
            visitor.all("[data-ochat=input]").await?.len() == 1
                && visitor
                    .js("document.querySelector('[data-ochat=input]').offsetParent === null")
                    .await?
                    == json!(true),
            "no chat input while offline"
        );
        visitor
            .find("[data-ochat=offline-name]")
            .await?
            .send_keys("Marie Curie")
            .await?;
        visitor
            .find("[data-ochat=offline-email]")
            .await?
            .send_keys("marie@example.org")
            .await?;
        visitor
            .find("[data-ochat=offline-message]")
            .await?
            .send_keys("Do you ship chairs to Lyon?")
            .await?;
        doc_screenshot(&visitor, "widget-offline-form").await?;
        // The browser accepts an address without a dotted domain; the node does not.
        let email = visitor.find("[data-ochat=offline-email]").await?;
        email.clear().await?;
        email.send_keys("marie@localhost").await?;
        visitor.click("[data-ochat=offline-send]").await?;
        let error = visitor.find("[data-ochat=offline-error]").await?;
        let deadline = std::time::Instant::now() + ochat_tests::node::WAIT;
        while !error.text().await?.contains("valid email") {
            ensure!(std::time::Instant::now() < deadline, "no error shown");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        ensure!(
            records(&chat, &ann.token, "tickets").await?.is_empty(),
            "a refused form creates nothing"
        );
        let email = visitor.find("[data-ochat=offline-email]").await?;
        email.clear().await?;
        email.send_keys("marie@example.org").await?;
        visitor.click("[data-ochat=offline-send]").await?;
        visitor
            .wait_text(
                "[data-ochat=offline-thanks]",
                "Thank you! We received your message and will answer by email.",
            )
            .await?;

        // Ann finds the ticket with the visitor's address and message.
        let tickets = records(&chat, &ann.token, "tickets").await?;
        ensure!(tickets.len() == 1, "{tickets:?}");
        ensure!(tickets[0]["email"] == "marie@example.org", "{}", tickets[0]);
        ensure!(
            tickets[0]["transcript"]
                .as_str()
                .is_some_and(|t| t.contains("Do you ship chairs to Lyon?")
                    && t.contains(&format!("{site}/contact"))),
            "{}",
            tickets[0]
        );
        // The widget sent its visitor id with the form: an export by visitor finds the ticket.
        let browser_id = visitor
            .js("JSON.parse(window.localStorage.getItem('ochat.visitor'))")
            .await?;
        let id = browser_id.as_str().unwrap_or_default().to_string();
        ensure!(
            !id.is_empty() && tickets[0]["visitor_id"] == browser_id,
            "{browser_id} {}",
            tickets[0]
        );
        let export = chat
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/visitors/{id}/export"),
                None,
            )
            .await?;
        ensure!(
            export["tickets"].as_array().map(Vec::len) == Some(1),
            "{export}"
        );
        Ok(())
    }
    .await;
    screenshots_on_failure("offline-form", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_set_to_french_gets_the_widget_in_french() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, _ann, channel) = shop(tmp.path()).await.unwrap();
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(
            json!({"texts": {"fr": {"welcome": "Bienvenue ! Que pouvons-nous faire pour vous ?"}}}),
        ),
    )
    .await
    .unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let (site, _server) = website(vec![(
        "/boutique".into(),
        shop_page("Boutique", embed["snippet"].as_str().unwrap()),
    )])
    .await
    .unwrap();
    until_available(&chat, &channel, &format!("{site}/boutique"))
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = browser_speaking(&driver, "visitor-fr", "fr-FR,fr")
        .await
        .unwrap();
    let story = async {
        visitor.goto(&format!("{site}/boutique")).await?;
        let languages = visitor.js("navigator.languages").await?;
        ensure!(
            languages[0] == "fr-FR",
            "the browser speaks French: {languages}"
        );
        visitor
            .wait_text("[data-ochat=button]", "Une question ? Discutons.")
            .await?;
        visitor.click("[data-ochat=button]").await?;
        visitor
            .wait_text(
                "[data-ochat=welcome] .ochat-text",
                "Bienvenue ! Que pouvons-nous faire pour vous ?",
            )
            .await?;
        visitor.wait_text("[data-ochat=send]", "Envoyer").await?;
        visitor.wait_text("[data-ochat=end]", "Terminer").await?;
        let placeholder = visitor
            .find("[data-ochat=input]")
            .await?
            .attr("placeholder")
            .await?;
        ensure!(
            placeholder.as_deref() == Some("Écrivez votre message…"),
            "{placeholder:?}"
        );
        let lang = visitor
            .js("document.querySelector('[data-ochat=root]').getAttribute('lang')")
            .await?;
        ensure!(lang == "fr", "the widget says its language: {lang}");
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        doc_screenshot(&visitor, "widget-french").await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("french", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}
