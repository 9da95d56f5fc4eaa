//! A visitor on a shop's website finds the only operator busy: the widget shows their place in
//! line and the estimated wait, moves them up live when the visitor ahead is taken, and hands
//! them to the operator when a slot frees; the operator's console lists who is waiting. Real
//! browsers, real node, the widget embedded in a third-party page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use anyhow::ensure;
use ochat_tests::admin_bots::doc_screenshot;
use ochat_tests::console_alerts::console_login;
use ochat_tests::web::{
    Driver, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_waits_in_line_in_the_widget_and_moves_up_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"max_sessions_per_operator": 1})),
    )
    .await
    .unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let code = embed["snippet"].as_str().unwrap();
    let (site, _server) = website(vec![("/shop/cart".into(), shop_page("Cart", code))])
        .await
        .unwrap();

    // Ann is busy with one visitor; another is already waiting.
    let busy = chat
        .visit(&channel, "/shop", "en", None, Some("v-busy"))
        .await
        .unwrap();
    chat.say(&busy.token, &busy.session, "Where is my parcel?")
        .await
        .unwrap();
    let ahead = chat
        .visit(&channel, "/shop/chairs", "en", Some("BE"), Some("v-ahead"))
        .await
        .unwrap();
    assert_eq!(ahead.answer["queue"]["position"], 1);
    let close = |token: String, session: String| {
        let chat = &chat;
        async move {
            chat.ok(
                &token,
                Method::POST,
                &format!("/api/v1/livechat/sessions/{session}/close"),
                None,
            )
            .await
        }
    };

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console_login(&console, "ann", "Ann").await?;
        until_available(&chat, &channel, &format!("{site}/shop/cart")).await?;

        // The visitor opens the chat: everyone is busy, they are second in line.
        visitor.goto(&format!("{site}/shop/cart")).await?;
        visitor
            .wait_text("[data-ochat=button]", "Need help?")
            .await?
            .click()
            .await?;
        visitor
            .wait_text("[data-ochat=queue-position]", "You are number 2 in line")
            .await?;
        visitor
            .wait_text("[data-ochat=queue-wait]", "Estimated wait: unknown")
            .await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("I'd like to order a table").await?;
        input.send_keys("\u{E007}").await?;

        // Ann's console lists both, longest waiting first.
        console
            .wait_js(
                "the console lists two visitors in line",
                "document.querySelectorAll('#queue li.queued').length === 2",
            )
            .await?;
        console
            .wait_js(
                "the console counts 2 waiting",
                "document.getElementById('h-queue').textContent === 'Waiting in line (2)'",
            )
            .await?;
        let first = console
            .js("document.querySelector('#queue li.queued').getAttribute('data-session')")
            .await?;
        ensure!(first == json!(ahead.session), "{first}");
        // Our visitor's page is open; the one ahead (no browser) shows as gone from the page.
        console
            .wait_js(
                "the console shows whose page is open",
                "!document.querySelectorAll('#queue li.queued')[1].textContent.includes('page closed') && \
                 document.querySelectorAll('#queue li.queued')[0].textContent.includes('page closed')",
            )
            .await?;
        doc_screenshot(&console, "console-queue").await?;
        doc_screenshot(&visitor, "widget-queue").await?;

        // Ann finishes with the first visitor: the one ahead is hers, ours moves up live.
        close(ann.token.clone(), busy.session.clone()).await?;
        visitor
            .wait_text("[data-ochat=queue-position]", "You are number 1 in line")
            .await?;
        console
            .wait_js(
                "the console counts 1 waiting",
                "document.getElementById('h-queue').textContent === 'Waiting in line (1)'",
            )
            .await?;

        // Then the one ahead: Ann takes our visitor, the line banner goes.
        close(ann.token.clone(), ahead.session.clone()).await?;
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        visitor
            .wait_js(
                "the line banner is gone",
                "document.querySelector('[data-ochat=queue]').hidden",
            )
            .await?;
        visitor
            .wait_text(".ochat-system .ochat-text", "Ann joined the conversation")
            .await?;
        console
            .wait_js(
                "the console counts 0 waiting",
                "document.getElementById('h-queue').textContent === 'Waiting in line (0)'",
            )
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("widget-queue", &[&console, &visitor], story)
        .await
        .unwrap();
    console.close().await.unwrap();
    visitor.close().await.unwrap();
}
