//! The widget's other faces in a real browser: a chatbot whose question the visitor answers
//! by clicking before an operator takes over, the channel's rules (hide, notification, open
//! by itself), and the direct chat link page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use anyhow::{Context, ensure};
use ochat_tests::web::{
    Driver, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_direct_chat_link_is_a_page_with_the_chat() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let mut events = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let link = snippet(&chat, &channel).await.unwrap()["link"]
        .as_str()
        .unwrap()
        .to_string();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("support").await.unwrap();
    let story = async {
        visitor.goto(&link).await?;
        visitor
            .wait_text(
                "[data-ochat=welcome] .ochat-text",
                "Welcome! How can we help?",
            )
            .await?;
        ensure!(visitor.all("[data-ochat=button]").await?.is_empty());
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("I came from the link").await?;
        input.send_keys("\u{E007}").await?;
        let m = events
            .until(|e| e["type"] == "message" && e["message"]["author"] == "visitor")
            .await?;
        ensure!(m["message"]["text"] == json!("I came from the link"), "{m}");
        Ok(())
    }
    .await;
    screenshots_on_failure("support", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_answers_the_chatbot_by_clicking_and_is_handed_to_the_operator() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({
            "name": "Shop bot", "operator_name": "Shopbot",
            "steps": [
                {"type": "text", "message": "Hello! I am Shopbot."},
                {"type": "question", "message": "What brings you here?", "answers": [
                    {"id": "buy", "text": "I want to buy"},
                    {"id": "support", "text": "I need help"}]},
                {"type": "forward_to_operator", "message": "Connecting you to an agent.",
                 "only_if": ["support"]},
                {"type": "free_input", "message": "Tell us what you are looking for."},
                {"type": "create_lead", "message": "Thanks, we will get back to you."}
            ]})),
        )
        .await
        .unwrap();
    chat.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"sequence": 1, "action": "show", "url_regex": "",
                    "chatbot_id": bot["id"], "chatbot_condition": "always"})),
    )
    .await
    .unwrap();
    let code = snippet(&chat, &channel).await.unwrap()["snippet"]
        .as_str()
        .unwrap()
        .to_string();
    let (site, _server) = website(vec![("/".into(), shop_page("Home", &code))])
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console.find("#login-password").await?.send_keys("pw-ann").await?;
        console.find("#login-submit").await?.click().await?;
        console.wait_text("#who", "Ann").await?;
        until_available(&chat, &channel, &format!("{site}/")).await?;

        // The bot greets and asks; its answers are buttons.
        visitor.goto(&format!("{site}/")).await?;
        visitor.find("[data-ochat=button]").await?.click().await?;
        visitor.wait_text("[data-ochat=operator]", "Shopbot").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=bot] .ochat-text",
                "What brings you here?",
            )
            .await?;
        let answers = visitor.texts("[data-ochat=answer]").await?;
        ensure!(answers == ["I want to buy", "I need help"], "{answers:?}");
        visitor
            .click_text("[data-ochat=answer]", "I need help")
            .await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=visitor] .ochat-text",
                "I need help",
            )
            .await?;
        let enabled = visitor
            .js("Array.from(document.querySelectorAll('[data-ochat=answer]')).filter(b => !b.disabled).length")
            .await?;
        ensure!(enabled == json!(0), "answered questions take no second click");

        // The forward finds Ann: the visitor sees her join, she sees the conversation.
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        console.click("#sessions li.new button").await?;
        console
            .wait_text("#conv-log [data-author=visitor] .text", "I need help")
            .await?;
        console
            .wait_text("#conv-log [data-author=bot] .text", "What brings you here?")
            .await?;
        let composer = console.find("#composer-input").await?;
        composer.send_keys("Hi, Ann here. What happened?").await?;
        composer.send_keys("\u{E007}").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Hi, Ann here. What happened?",
            )
            .await?;
        let sessions = chat
            .admin(Method::GET, "/api/v1/livechat/sessions", None)
            .await?;
        ensure!(sessions[0]["operators"] == json!([ann.id]), "{sessions}");
        ensure!(sessions[0]["handover_at_ms"].is_u64(), "{sessions}");
        let transcript = chat
            .admin(
                Method::GET,
                &format!(
                    "/api/v1/livechat/sessions/{}/messages",
                    sessions[0]["id"].as_str().context("id")?
                ),
                None,
            )
            .await?;
        ensure!(
            transcript
                .as_array()
                .context("messages")?
                .iter()
                .any(|m| m["author"] == "visitor" && m["text"] == "I need help"),
            "{transcript}"
        );
        Ok(())
    }
    .await;
    screenshots_on_failure("chatbot", &[&visitor, &console], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_decide_whether_the_widget_hides_notifies_or_opens_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let _present = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let rules = format!("/api/v1/livechat/channels/{channel}/rules");
    for rule in [
        json!({"sequence": 1, "action": "hide", "url_regex": "/checkout"}),
        json!({"sequence": 2, "action": "auto_open", "auto_open_after_s": 1, "url_regex": "/deals"}),
        json!({"sequence": 3, "action": "show_with_notification", "url_regex": "/faq"}),
    ] {
        chat.admin(Method::POST, &rules, Some(rule)).await.unwrap();
    }
    let code = snippet(&chat, &channel).await.unwrap()["snippet"]
        .as_str()
        .unwrap()
        .to_string();
    let (site, _server) = website(vec![
        ("/checkout".into(), shop_page("Checkout", &code)),
        ("/deals".into(), shop_page("Deals", &code)),
        ("/faq".into(), shop_page("FAQ", &code)),
    ])
    .await
    .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("rules").await.unwrap();
    let story = async {
        // Hidden: the widget asked the node and added nothing.
        visitor.goto(&format!("{site}/checkout")).await?;
        visitor
            .wait_js(
                "the widget decides",
                "document.documentElement.dataset.ochatWidget === 'hidden'",
            )
            .await?;
        ensure!(visitor.all("[data-ochat=root]").await?.is_empty());

        // Notification: the button's text is shown beside it; the chat stays closed.
        visitor.goto(&format!("{site}/faq")).await?;
        visitor
            .wait_text("[data-ochat=notification]", "Need help?")
            .await?;
        ensure!(
            !visitor
                .find("[data-ochat=window]")
                .await?
                .is_displayed()
                .await?
        );

        // Auto open: the window opens by itself and the session starts.
        visitor.goto(&format!("{site}/deals")).await?;
        visitor
            .wait_js(
                "the chat opens by itself",
                "document.querySelector('[data-ochat=window]') && \
                 !document.querySelector('[data-ochat=window]').hidden",
            )
            .await?;
        visitor
            .wait_text(
                "[data-ochat=welcome] .ochat-text",
                "Welcome! How can we help?",
            )
            .await?;
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("rules", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}
