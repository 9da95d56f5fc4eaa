//! The console's admin area in a real browser. A newcomer opens the console of a fresh node
//! with the admin token, is offered the first operator and the first channel, gets the
//! snippet, logs in as that operator, and a page with the snippet shows the chat button and
//! reaches the operator. An administrator writes a rule and sees, as they type, whether its
//! URL regex applies to a sample page (and why a regex is refused). The admin screens are
//! photographed for the docs (`OCHAT_SCREENSHOT=1` rewrites `docs/screenshots/`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_console::{admin_login, docs_screenshot, fill};
use ochat_tests::livechat::ChatNode;
use ochat_tests::web::{Driver, screenshots_on_failure, shop_page, until_available, website};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_sets_up_live_chat_from_the_console_on_first_run() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        // A fresh node: the console, opened with the admin token, offers the first run.
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console
            .wait_text("#first-run-title", "Welcome! Let's put a live chat on your website")
            .await?;
        fill(&console, "#fr-name", "Ann Example").await?;
        fill(&console, "#fr-login", "ann").await?;
        fill(&console, "#fr-password", "correct horse battery").await?;
        fill(&console, "#fr-chat-name", "Ann").await?;
        fill(&console, "#fr-channel", "Shop").await?;
        fill(&console, "#fr-button-text", "Questions? Ask Ann").await?;
        docs_screenshot(&console, "first-run").await?;
        console.click("#first-run-form-submit").await?;

        // The operator and the channel exist, and the snippet is shown to copy.
        let snippet = console.find("#first-run-snippet").await?;
        let code = snippet.prop("value").await?.context("the snippet's value")?;
        ensure!(
            code.starts_with(&format!("<script src=\"{}/livechat/loader/", chat.node.api)),
            "{code}"
        );
        let link = console.find("#first-run-link").await?.prop("value").await?;
        ensure!(
            link.as_deref()
                .is_some_and(|l| l.starts_with(&format!("{}/livechat/support/", chat.node.api))),
            "{link:?}"
        );
        docs_screenshot(&console, "first-run-done").await?;
        let users = chat.admin(Method::GET, "/api/v1/users", None).await?;
        ensure!(users.as_array().map(Vec::len) == Some(1), "{users}");
        ensure!(users[0]["login"] == json!("ann") && users[0]["chat_name"] == json!("Ann"));
        let channels = chat
            .admin(Method::GET, "/api/v1/livechat/channels", None)
            .await?;
        ensure!(channels.as_array().map(Vec::len) == Some(1), "{channels}");
        let channel = channels[0]["id"].as_str().context("channel id")?.to_string();
        let shown = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        ensure!(shown["operators"] == json!([users[0]["id"]]), "{shown}");
        ensure!(shown["button_text"] == json!("Questions? Ask Ann"), "{shown}");

        // The next time the console is opened there is no first run: an operator exists.
        console.click("#first-run-admin").await?;
        console.find("#ch-edit").await?;

        // As the tour says: log out, log in as the operator.
        console.click("#logout").await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console
            .find("#login-password")
            .await?
            .send_keys("correct horse battery")
            .await?;
        console.find("#login-submit").await?.click().await?;
        console.wait_text("#who", "Ann").await?;
        ensure!(
            console.js("document.getElementById('admin-open').hidden").await? == json!(true),
            "an operator without the administrator role has no admin area"
        );

        // A page with the snippet shows the chat button; the visitor's message reaches Ann.
        let (site, _server) = website(vec![("/".into(), shop_page("My shop", &code))]).await?;
        until_available(&chat, &channel, &format!("{site}/")).await?;
        visitor.goto(&format!("{site}/")).await?;
        visitor
            .wait_text("[data-ochat=button]", "Questions? Ask Ann")
            .await?
            .click()
            .await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Do you ship to Belgium?").await?;
        input.send_keys("\u{E007}").await?; // Enter
        console.click("#sessions li.new button").await?;
        console
            .wait_text("#conv-log [data-author=visitor] .text", "Do you ship to Belgium?")
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("first-run", &[&console, &visitor], story)
        .await
        .unwrap();
    console.close().await.unwrap();
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_url_regex_is_tried_on_a_sample_url_as_it_is_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Shop", &[&ann], json!({})).await.unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console.click("#admin-open").await?;
        console.click("#admin-tab-rules").await?;
        console.find("#rule-form").await?;

        // The sample URL first, then the regex typed key by key: the verdict follows.
        fill(&console, "#rule-sample", "https://shop.example/shop/cart?item=3").await?;
        fill(&console, "#rule-regex", "/shop/(cart|checkout)").await?;
        console
            .wait_text("#rule-verdict", "✓ Matches: the rule applies to this page.")
            .await?;
        fill(&console, "#rule-sample", "https://shop.example/blog/cart").await?;
        console
            .wait_text("#rule-verdict", "✗ No match: the rule does not apply to this page.")
            .await?;
        // An unclosed group: the node's own reason, as a save would give it.
        fill(&console, "#rule-regex", "/shop/(cart").await?;
        console
            .wait_js(
                "the invalid regex is explained",
                "document.getElementById('rule-verdict').textContent.startsWith('Invalid regex: invalid url_regex \"/shop/(cart\"')",
            )
            .await?;
        ensure!(
            console.js("document.getElementById('rule-verdict').className").await?
                == json!("rule-verdict invalid")
        );
        // Saving it anyway is refused, with the same reason next to the form; nothing is stored.
        console.click("#rule-form-submit").await?;
        console
            .wait_js(
                "the refusal is shown next to the form",
                "document.getElementById('rule-form-message').textContent.startsWith('invalid url_regex')",
            )
            .await?;
        let stored = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        ensure!(stored["rules"] == json!([]), "{stored}");

        // Fixed, it matches again and is saved with its countries and action.
        fill(&console, "#rule-regex", "/shop/(cart|checkout)").await?;
        fill(&console, "#rule-sample", "https://shop.example/shop/checkout").await?;
        console
            .wait_text("#rule-verdict", "✓ Matches: the rule applies to this page.")
            .await?;
        fill(&console, "#rule-countries", "be, fr").await?;
        console
            .find("#rule-action option[value=auto_open]")
            .await?
            .click()
            .await?;
        fill(&console, "#rule-delay", "3").await?;
        docs_screenshot(&console, "rules").await?;
        console.click("#rule-form-submit").await?;
        console
            .wait_text("#rules-table tr[data-rule] td.mono", "/shop/(cart|checkout)")
            .await?;
        let stored = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        let rule = &stored["rules"][0];
        ensure!(rule["url_regex"] == json!("/shop/(cart|checkout)"), "{stored}");
        ensure!(rule["countries"] == json!(["BE", "FR"]), "{stored}");
        ensure!(rule["action"] == json!("auto_open"), "{stored}");
        ensure!(rule["auto_open_after_s"] == json!(3), "{stored}");
        Ok(())
    }
    .await;
    screenshots_on_failure("rule-test", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
