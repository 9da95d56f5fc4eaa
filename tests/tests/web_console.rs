//! The operator console in a real browser: the administrator of one organisation rejects one
//! connection request with a reason and accepts another (its message, an XSS payload, shown
//! as text); both sides then talk in the new channel and the console shows the delivery
//! state. An operator takes a conversation over from the chatbot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

const REQUEST_XSS: &str =
    "<script>window.__pwned=1</script>Hello from Bolt <img src=x onerror=\"window.__pwned=2\">";

/// How a node without a directory finds Acme: Acme's address, given by hand.
fn peer_acme(acme: &TestNode, me: &serde_json::Value) -> Vec<(String, String)> {
    vec![(
        acme.uuid.clone(),
        me["addresses"][0].as_str().unwrap().to_string(),
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_accepts_an_incoming_connection_request_and_talks_in_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let mut bolt_config = test_config(&tmp.path().join("bolt"), "Bolt", None);
    bolt_config.peers = peer_acme(&acme, &me);
    let bolt = TestNode::start(bolt_config).await.unwrap();
    let mut core_config = test_config(&tmp.path().join("core"), "Core", None);
    core_config.peers = peer_acme(&acme, &me);
    let core = TestNode::start(core_config).await.unwrap();
    let request = bolt
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(
                json!({"remote_uuid": acme.uuid, "contact": "Acme", "message": REQUEST_XSS,
                        "send": true}),
            ),
        )
        .await
        .unwrap();
    let request_id = request["id"].as_str().unwrap().to_string();
    acme.wait_incoming_from(&bolt.uuid, "Pending")
        .await
        .unwrap();
    let spam = core
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": acme.uuid, "message": "Buy our stuff", "send": true})),
        )
        .await
        .unwrap();
    let spam_id = spam["id"].as_str().unwrap().to_string();
    acme.wait_incoming_from(&core.uuid, "Pending")
        .await
        .unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", acme.api)).await?;
        console.find("#admin-token").await?.send_keys(&acme.token).await?;
        console.find("#token-submit").await?.click().await?;
        console.wait_text("#who", "Administrator").await?;
        let stored = console.js("sessionStorage.getItem('ochat.token')").await?;
        ensure!(stored.as_str() == Some(acme.token.as_str()));
        let reports = console.find("#reports-link").await?.attr("href").await?;
        ensure!(reports.as_deref() == Some("/console/reports"));

        // The request is in the sidebar, in bold; its message is shown as text.
        // Core's request is rejected with a reason, which Core reads.
        console
            .click_text("#requests li.new button .label", "Core")
            .await?;
        console.wait_text("#req-message", "Buy our stuff").await?;
        console
            .find("#req-reason")
            .await?
            .send_keys("We do not buy from cold calls")
            .await?;
        console.find("#req-reject").await?.click().await?;
        console.wait_text("#req-status", "Rejected").await?;
        let rejected = core.wait_status(&spam_id, "Rejected").await?;
        ensure!(
            rejected["reject_reason"] == json!("We do not buy from cold calls"),
            "{rejected}"
        );

        // Bolt's request is in the sidebar, in bold; its message is shown as text.
        console
            .click_text("#requests li.new button .label", "Bolt")
            .await?;
        console.wait_text("#req-message", REQUEST_XSS).await?;
        console.wait_text("#req-uuid", &bolt.uuid).await?;
        console.wait_text("#req-status", "Pending").await?;
        ensure!(console.all("#request img").await?.is_empty());
        let contact = console.find("#req-contact").await?;
        contact.clear().await?;
        contact.send_keys("Bolt Ltd").await?;
        console.find("#req-accept").await?.click().await?;
        console.wait_text("#req-status", "Accepted").await?;
        bolt.wait_status(&request_id, "Accepted").await?;

        // The new channel appears; Acme writes and sees the message delivered.
        console
            .click_text("#channels li button .label", "Bolt Ltd")
            .await?;
        let composer = console.find("#composer-input").await?;
        composer.send_keys("Welcome aboard <b>Bolt</b>").await?;
        composer.send_keys("\u{E007}").await?;
        console
            .wait_text("#conv-log .msg.mine .text", "Welcome aboard <b>Bolt</b>")
            .await?;
        console
            .wait_js(
                "the message is delivered",
                "['delivered', 'read'].includes(document.querySelector('#conv-log .msg.mine .state').textContent)",
            )
            .await?;
        let channels = bolt.ok(Method::GET, "/api/v1/channels", None).await?;
        let bolt_channel = channels[0]["id"].as_str().context("bolt's channel")?;
        let got = bolt
            .wait_history(bolt_channel, 1, ochat_tests::node::WAIT)
            .await?;
        ensure!(got[0]["text"] == json!("Welcome aboard <b>Bolt</b>"), "{got:?}");

        // Bolt answers; the console shows it live, as text.
        bolt.send(bolt_channel, "<img src=z onerror=\"window.__pwned=3\">Thanks!")
            .await?;
        console
            .wait_text(
                "#conv-log .msg:not(.mine) .text",
                "<img src=z onerror=\"window.__pwned=3\">Thanks!",
            )
            .await?;
        ensure!(console.all("#conv-log img").await?.is_empty());
        ensure!(console.js("window.__pwned === undefined").await? == json!(true));
        Ok(())
    }
    .await;
    screenshots_on_failure("requests", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_takes_over_from_the_chatbot_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({"name": "Bot", "operator_name": "Shopbot", "steps": [
                {"type": "free_input", "message": "What are you looking for?"},
                {"type": "create_lead", "message": "Thanks, we will be in touch."}]})),
        )
        .await
        .unwrap();
    chat.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"sequence": 1, "action": "show", "chatbot_id": bot["id"]})),
    )
    .await
    .unwrap();
    // A visitor is talking with the bot (through the widget's API).
    let visit = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-1"))
        .await
        .unwrap();
    let mut visitor = chat
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", visit.session),
            &visit.token,
        )
        .await
        .unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console
            .find("#login-password")
            .await?
            .send_keys("pw-ann")
            .await?;
        console.find("#login-submit").await?.click().await?;
        console.click("#sessions li button").await?;
        console
            .wait_text(
                "#conv-log [data-author=bot] .text",
                "What are you looking for?",
            )
            .await?;
        ensure!(
            !console.find("#composer-input").await?.is_enabled().await?,
            "Ann writes only once she has joined"
        );
        console.find("#conv-join").await?.click().await?;
        let joined = visitor.until(|e| e["type"] == "operator_joined").await?;
        ensure!(joined["operator"]["name"] == json!("Ann"), "{joined}");
        let composer = console.find("#composer-input").await?;
        console
            .wait_js(
                "the composer is enabled",
                "!document.querySelector('#composer-input').disabled",
            )
            .await?;
        composer.send_keys("Ann here, I can help").await?;
        composer.send_keys("\u{E007}").await?;
        let m = visitor
            .until(|e| e["type"] == "message" && e["message"]["author"] == "operator")
            .await?;
        ensure!(m["message"]["text"] == json!("Ann here, I can help"), "{m}");
        Ok(())
    }
    .await;
    screenshots_on_failure("takeover", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
