//! `GET /metrics`: an operator's Prometheus scrapes two linked nodes with the admin token and
//! sees what it would alert on — connections by status, the outboxes, messages sent and
//! received, live chat sessions open and waiting, HTTP answers by class, the store's size and
//! the uptime. Without the token the figures stay private.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ochat_node::livechat::TestClock;
use ochat_tests::api_document::prometheus_samples;
use ochat_tests::livechat::ChatNode;
use ochat_tests::node::{TestNode, WAIT, link, reaching, test_config};
use reqwest::Method;
use serde_json::json;

async fn scrape(node: &TestNode, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .get(format!("{}/metrics", node.api))
        .timeout(WAIT);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, resp.text().await.unwrap())
}

async fn samples(node: &TestNode) -> BTreeMap<String, f64> {
    let (status, kind, text) = scrape(node, Some(&node.token)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    prometheus_samples(&text).unwrap()
}

/// Scrapes until `pred` holds (or fails after the test wait).
async fn samples_until(
    node: &TestNode,
    what: &str,
    pred: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = samples(node).await;
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: never true in {s:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_operator_scrapes_what_to_alert_on_and_outsiders_get_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut partner = TestNode::start(test_config(&tmp.path().join("partner"), "Partner", None))
        .await
        .unwrap();
    // The shop knows where the partner listens (no directory in this test).
    let (reach, _) = reaching(&partner, &tmp.path().join("scratch"), "Shop")
        .await
        .unwrap();
    let shop = ChatNode::start_with(
        &tmp.path().join("shop"),
        Arc::new(TestClock::new()),
        move |config| config.peers = reach.peers,
    )
    .await
    .unwrap();
    let a = &shop.node;

    // Without the admin token: 401, and no figure in the answer.
    for token in [None, Some("not-the-token")] {
        let (status, _, text) = scrape(a, token).await;
        assert_eq!(status, 401);
        assert!(!text.contains("ochat_"), "{text}");
    }

    let fresh = samples(a).await;
    assert_eq!(fresh["ochat_connections{status=\"Accepted\"}"], 0.0);
    assert_eq!(fresh["ochat_messages_sent_total"], 0.0);
    assert_eq!(fresh["ochat_livechat_sessions_open"], 0.0);
    assert!(fresh["ochat_store_size_bytes"] > 0.0);
    assert!(fresh.contains_key("ochat_uptime_seconds"));
    assert!(fresh.contains_key("ochat_message_outbox_oldest_age_seconds"));
    assert!(fresh.contains_key("ochat_handshake_outbox_items"));

    // Two nodes linked, one message each way.
    let (mine, theirs) = link(a, &partner).await.unwrap();
    a.send(&mine, "hello partner").await.unwrap();
    partner.send(&theirs, "hello shop").await.unwrap();
    let linked = samples_until(a, "one message sent, one received", |s| {
        s["ochat_messages_sent_total"] >= 1.0 && s["ochat_messages_received_total"] >= 1.0
    })
    .await;
    assert_eq!(linked["ochat_connections{status=\"Accepted\"}"], 1.0);
    assert_eq!(linked["ochat_message_outbox_items"], 0.0);
    assert_eq!(linked["ochat_message_outbox_oldest_age_seconds"], 0.0);

    // The partner goes away; the next message waits in the outbox and ages.
    partner.stop().await.unwrap();
    a.send(&mine, "are you there?").await.unwrap();
    let waiting = samples_until(a, "a message waiting", |s| {
        s["ochat_message_outbox_items"] >= 1.0
    })
    .await;
    assert!(waiting["ochat_message_outbox_oldest_age_seconds"] >= 0.0);
    assert!(waiting["ochat_message_outbox_oldest_age_seconds"] < 60.0);

    // A visitor opens a chat with an operator on duty: one session open, none waiting.
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Support", &[&ann], json!({})).await.unwrap();
    let _socket = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    shop.visit(&channel, "https://shop.example/", "en", None, None)
        .await
        .unwrap();
    let chatting = samples(a).await;
    assert_eq!(chatting["ochat_livechat_sessions_open"], 1.0);
    assert_eq!(chatting["ochat_livechat_sessions_waiting"], 0.0);

    // HTTP answers are counted by class; no 5xx so far, 4xx from the refused scrapes.
    assert!(chatting["ochat_http_responses_total{class=\"2xx\"}"] > 0.0);
    assert!(chatting["ochat_http_responses_total{class=\"4xx\"}"] >= 2.0);
    assert_eq!(chatting["ochat_http_responses_total{class=\"5xx\"}"], 0.0);
    let (status, _) = shop
        .call(Some(&ann.token), Method::GET, "/metrics", None)
        .await
        .unwrap();
    assert_eq!(status, 401, "an operator's token does not open the metrics");
}
