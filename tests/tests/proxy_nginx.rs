//! The reverse proxy example of `docs/operations.md` (`deploy/nginx-ochat.conf`) works as
//! documented: a visitor on a shop's website loads the widget through a real nginx, chats live
//! with an operator over the proxied WebSocket; the operator and admin routes stay closed to
//! the public internet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::ensure;
use futures::StreamExt;
use ochat_tests::nginx::Nginx;
use ochat_tests::node::WAIT;
use ochat_tests::web::{Driver, screenshots_on_failure, shop, shop_page, until_available, website};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn api_addr(api: &str) -> SocketAddr {
    api.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_reach_the_chat_through_the_documented_nginx_and_private_routes_stay_private() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let proxy = Nginx::start(api_addr(&chat.node.api), Duration::from_secs(20)).unwrap();
    let public = proxy.url();
    let http = reqwest::Client::new();

    // The widget's files and the direct chat link pass.
    for path in [
        format!("/livechat/loader/{channel}.js"),
        format!("/livechat/support/{channel}"),
        "/web/widget.css".to_string(),
    ] {
        let r = http
            .get(format!("{public}{path}"))
            .timeout(WAIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} is public");
    }
    // The admin's and operators' routes do not, even with the admin token.
    for path in [
        "/api/v1/stats",
        "/api/v1/connections",
        "/console",
        "/api/v1/users",
    ] {
        let r = http
            .get(format!("{public}{path}"))
            .bearer_auth(&chat.node.token)
            .timeout(WAIT)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path} stays private");
    }

    // A visitor starts a chat through the proxy.
    let r = http
        .post(format!("{public}/api/v1/livechat/{channel}/sessions"))
        .json(&json!({"page_url": "https://shop.example/cart", "visitor_id": "v-1"}))
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let started: Value = r.json().await.unwrap();
    let session = started["session"]["id"].as_str().unwrap().to_string();
    let token = started["token"].as_str().unwrap().to_string();
    // The session's WebSocket passes the proxy (Upgrade and Connection are forwarded).
    let ws = format!(
        "{}/api/v1/livechat/sessions/{session}/events?token={token}",
        public.replacen("http://", "ws://", 1)
    );
    let (mut socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(ws))
        .await
        .unwrap()
        .unwrap();
    chat.say(&ann.token, &session, "Hello through the proxy")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the operator's message arrives over the proxied socket")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let event: Value = serde_json::from_str(t.as_str()).unwrap();
            if event["type"] == "message" && event["message"]["text"] == "Hello through the proxy" {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_loads_the_widget_through_nginx_and_chats() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let proxy = Nginx::start(api_addr(&chat.node.api), Duration::from_secs(20)).unwrap();
    // The snippet as the admin gets it when asking through the public name: the loader's
    // address is the proxy's, and the widget talks to the origin its script came from.
    let snippet = format!(
        "<script src=\"{}/livechat/loader/{channel}.js\" async></script>",
        proxy.url()
    );
    let (site, _server) = website(vec![("/shop/cart".into(), shop_page("Cart", &snippet))])
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        until_available(&chat, &channel, &format!("{site}/shop/cart")).await?;
        visitor.goto(&format!("{site}/shop/cart")).await?;
        visitor
            .wait_text("[data-ochat=button]", "Need help?")
            .await?
            .click()
            .await?;
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Is my order on its way?").await?;
        input.send_keys("\u{E007}").await?; // Enter
        // Ann (on the node's own host) finds the conversation and answers.
        let deadline = tokio::time::Instant::now() + WAIT;
        let session = loop {
            let sessions = chat
                .ok(&ann.token, Method::GET, "/api/v1/livechat/sessions", None)
                .await?;
            if let Some(id) = sessions
                .as_array()
                .and_then(|a| a.first())
                .and_then(|s| s["id"].as_str())
            {
                break id.to_string();
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no session: {sessions}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        chat.say(&ann.token, &session, "Yes, it left this morning.")
            .await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Yes, it left this morning.",
            )
            .await?;
        Ok(())
    };
    screenshots_on_failure(
        "a_browser_loads_the_widget_through_nginx_and_chats",
        &[&visitor],
        story.await,
    )
    .await
    .unwrap();
    visitor.close().await.unwrap();
}
