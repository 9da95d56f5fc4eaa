//! A crash in the middle of a connection's change: the node comes back with the whole change.
//!
//! The window between a change's first and last write is microseconds wide, too narrow to hit
//! with a real `kill -9`; so the test leaves in a stopped node's real database exactly what
//! such a crash leaves (the change's intent record and only part of its writes) and starts the
//! node on it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::store::atomic::AtomicWrite;
use ochat_node::store::{encode, trees};
use ochat_tests::node::{TestNode, link, open_stopped, reaching, test_config};
use reqwest::Method;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_crashed_while_accepting_comes_back_with_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    let (b_config, _) = reaching(&acme, &b_dir, "Bolt").await.unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    // Bolt asks, Acme accepts: Acme's acceptance is one atomic write (connection, channel, …).
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();
    acme.stop().await.unwrap();

    // What a crash leaves after the intent and the connection but before the channel and its
    // first ratchet.
    {
        let (store, _) = open_stopped(&a_dir).unwrap();
        let channel_key = Uuid::parse_str(&a_ch).unwrap().as_bytes().to_vec();
        let ratchet = store
            .tree(trees::RATCHETS)
            .unwrap()
            .remove(&channel_key)
            .unwrap()
            .unwrap();
        let channel = store
            .tree(trees::CHANNELS)
            .unwrap()
            .remove(&channel_key)
            .unwrap()
            .unwrap();
        let (conn_key, conn) = store
            .tree(trees::CONNECTIONS)
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .unwrap();
        let mut accept = AtomicWrite::default();
        accept.create(trees::RATCHETS, channel_key.clone(), ratchet.to_vec());
        accept.create(trees::CHANNELS, channel_key, channel.to_vec());
        accept.put(trees::CONNECTIONS, conn_key.to_vec(), conn.to_vec());
        store
            .tree(trees::INTENTS)
            .unwrap()
            .insert(
                Uuid::now_v7().as_bytes(),
                encode(trees::INTENTS, &accept).unwrap(),
            )
            .unwrap();
        store.flush().await.unwrap();
    }

    let mut acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    let channels = acme
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert!(
        channels.to_string().contains(&a_ch),
        "the channel is back: {channels}"
    );
    // And it works end to end: its ratchet is the one the acceptance made.
    acme.send(&a_ch, "we are back").await.unwrap();
    let history = bolt
        .wait_history(&b_ch, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(history[0]["text"], "we are back");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mine = acme.history(&a_ch).await.unwrap();
        if mine[0]["state"] == "delivered" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Bolt's acknowledgement never arrived: {}",
            mine[0]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    acme.stop().await.unwrap();
    let (store, _) = open_stopped(&a_dir).unwrap();
    assert!(
        store.tree(trees::INTENTS).unwrap().is_empty(),
        "the completed intent was removed"
    );
}
