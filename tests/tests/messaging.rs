//! Members of two linked organisations talk in their end-to-end encrypted channel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashMap;
use std::time::Duration;

use ochat_tests::node::{TestNode, link, test_config};
use reqwest::Method;
use serde_json::Value;

async fn pair(tmp: &std::path::Path) -> (TestNode, TestNode, String, String) {
    let acme = TestNode::start(test_config(&tmp.join("acme"), "Acme", None)).await.unwrap();
    let mut bolt_config = test_config(&tmp.join("bolt"), "Bolt", None);
    let me = acme.ok(Method::GET, "/api/v1/instance", None).await.unwrap();
    let addr = me["addresses"][0].as_str().unwrap().to_string();
    bolt_config.peers = vec![(acme.uuid.clone(), addr)];
    let bolt = TestNode::start(bolt_config).await.unwrap();
    // Bolt knows Acme by hand; Acme learns Bolt's record from Bolt's request.
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();
    (acme, bolt, a_ch, b_ch)
}

/// Checks a history: each text exactly once, and each sender's messages in send order.
fn check(history: &[Value], expected: usize) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for m in history {
        let text = m["text"].as_str().unwrap().to_string();
        *seen.entry(text.clone()).or_default() += 1;
        // "<sender>-<stream>-<n>": per sender and stream, n must increase.
        let parts: Vec<&str> = text.split('-').collect();
        let key = (parts[0].to_string(), parts[1].to_string());
        let n: i64 = parts[2].parse().unwrap();
        let prev = last.insert(key.clone(), n).unwrap_or(-1);
        assert!(n > prev, "{key:?}: {n} came after {prev}");
    }
    assert_eq!(history.len(), expected);
    assert!(seen.values().all(|&c| c == 1), "a message was shown twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_a_thousand_messages_each_way_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt, a_ch, b_ch) = pair(tmp.path()).await;
    let acme = std::sync::Arc::new(acme);
    let bolt = std::sync::Arc::new(bolt);
    let mut tasks = Vec::new();
    for stream in 0..8 {
        for (who, node, ch) in [("acme", acme.clone(), a_ch.clone()), ("bolt", bolt.clone(), b_ch.clone())] {
            tasks.push(tokio::spawn(async move {
                for n in 0..125 {
                    node.send(&ch, &format!("{who}-{stream}-{n}")).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t).await.unwrap().unwrap();
    }
    let on_acme = acme.wait_history(&a_ch, 2000, Duration::from_secs(60)).await.unwrap();
    let on_bolt = bolt.wait_history(&b_ch, 2000, Duration::from_secs(60)).await.unwrap();
    check(&on_acme, 2000);
    check(&on_bolt, 2000);
    // Every message Acme sent ends up delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let h = acme.history(&a_ch).await.unwrap();
        let undelivered = h
            .iter()
            .filter(|m| m["direction"] == "out" && m["state"] != "delivered")
            .count();
        if undelivered == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{undelivered} not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
