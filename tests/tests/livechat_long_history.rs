//! A node with a long live chat history starts from the index of its open sessions: the
//! conversations under way come back after a restart, and the closed sessions (a million after
//! a few years) are not read at start — so a damaged record of an old session no longer stops
//! the node from starting.

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_node::store::trees;
use ochat_tests::livechat::ChatNode;
use ochat_tests::node::open_stopped;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_brings_back_the_open_sessions_without_reading_the_closed_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let mut shop = ChatNode::start(&dir, clock.clone()).await.unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();

    // One conversation is over, another is under way.
    let done = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    shop.say(&done.token, &done.session, "where is my parcel?")
        .await
        .unwrap();
    shop.say(&ann.token, &done.session, "on its way")
        .await
        .unwrap();
    shop.ok(
        &ann.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", done.session),
        None,
    )
    .await
    .unwrap();
    let going = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    shop.say(&going.token, &going.session, "do you ship to Ghent?")
        .await
        .unwrap();

    // Stopped; an old session's record is damaged on disk meanwhile.
    shop.node.stop().await.unwrap();
    {
        let (store, data) = open_stopped(&dir).unwrap();
        store
            .tree(trees::LC_SESSIONS)
            .unwrap()
            .insert(uuid::Uuid::now_v7().as_bytes(), &b"damaged"[..])
            .unwrap();
        store.flush().await.unwrap();
        drop(data);
        assert!(store.wait_closed(std::time::Duration::from_secs(10)).await);
    }

    // The node starts; the conversation under way goes on, the closed one reads as before.
    let shop = ChatNode::start(&dir, clock.clone()).await.unwrap();
    let open = shop
        .ok(
            &ann.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", going.session),
            None,
        )
        .await
        .unwrap();
    assert!(open["closed_at_ms"].is_null(), "{open}");
    shop.say(&ann.token, &going.session, "yes, in two days")
        .await
        .unwrap();
    let texts: Vec<String> = shop
        .transcript(&going.token, &going.session)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(texts, ["do you ship to Ghent?", "yes, in two days"]);
    let closed = shop.transcript(&ann.token, &done.session).await.unwrap();
    let said: Vec<&str> = closed.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(
        said.contains(&"where is my parcel?") && said.contains(&"on its way"),
        "{said:?}"
    );
}
