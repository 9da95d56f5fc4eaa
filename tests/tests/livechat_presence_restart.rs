//! Operators' presence survives a restart of the node: an operator who was away is still
//! away, one who was available still takes visitors without touching anything, and routing
//! still skips the operator who was given a visitor just before the restart. A console that
//! reconnects by itself does not make its operator available. An operator's activity costs no
//! disk flush.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator};
use ochat_tests::livechat_presence::{background_get, resumed_console};
use ochat_tests::seeds::swept_shop;
use reqwest::Method;
use serde_json::{Value, json};

async fn act(shop: &ChatNode, op: &Operator) -> Value {
    shop.ok(
        &op.token,
        Method::POST,
        "/api/v1/livechat/operator/activity",
        None,
    )
    .await
    .unwrap()
}

/// A new visitor's operator (their id), or None when nobody was available.
async fn next_visitor(shop: &ChatNode, channel: &str, n: usize) -> Option<String> {
    let (status, answer) = shop
        .try_visit(
            channel,
            "https://shop.example/",
            "en",
            None,
            Some(&format!("browser-{n}")),
        )
        .await
        .unwrap();
    if status != 201 {
        return None;
    }
    // The visitor leaves at once, so nobody is busier than anyone else.
    let (id, token) = (
        answer["session"]["id"].as_str().unwrap(),
        answer["token"].as_str().unwrap(),
    );
    shop.ok(
        token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{id}/close"),
        None,
    )
    .await
    .unwrap();
    answer["session"]["operators"][0]
        .as_str()
        .map(str::to_string)
}

async fn disk_flushes(shop: &ChatNode) -> u64 {
    shop.admin(Method::GET, "/api/v1/stats", None)
        .await
        .unwrap()["disk_flushes"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_away_before_a_restart_is_still_away_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::new());
    let mut shop = swept_shop(&dir, clock.clone()).await.unwrap();
    let ann = shop
        .operator("ann", json!({"language": "en"}))
        .await
        .unwrap();
    let bob = shop
        .operator("bob", json!({"language": "en"}))
        .await
        .unwrap();
    let channel = shop
        .channel("Website", &[&ann, &bob], json!({}))
        .await
        .unwrap();

    // Ann's console is open; she leaves her desk for 31 minutes and is told she is away.
    let mut ann_console = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    clock.advance_minutes(31);
    assert_eq!(act(&shop, &bob).await["status"], "online");
    let away = ann_console
        .until(|e| e["type"] == "presence")
        .await
        .unwrap();
    assert_eq!(away["status"], "away");

    // Bob works on: his activity is remembered without a disk flush per keystroke.
    let before = disk_flushes(&shop).await;
    for _ in 0..20 {
        act(&shop, &bob).await;
        clock.advance_ms(1_000);
    }
    let flushes = disk_flushes(&shop).await - before;
    assert!(
        flushes <= 2,
        "{flushes} disk flushes for 20 reports of activity"
    );

    // The node restarts; Ann's console reconnects by itself and catches up, which is not
    // Ann acting.
    drop(ann_console);
    shop.node.stop().await.unwrap();
    let shop = swept_shop(&dir, clock.clone()).await.unwrap();
    let _ann_console = resumed_console(&shop, &ann.token).await.unwrap();
    background_get(&shop, &ann.token, "/api/v1/livechat/sessions?status=open")
        .await
        .unwrap();

    // Bob is still available, Ann still away: every visitor goes to Bob, even the one right
    // after he was given one (routing would prefer Ann if she were there).
    assert_eq!(next_visitor(&shop, &channel, 1).await, Some(bob.id.clone()));
    assert_eq!(next_visitor(&shop, &channel, 2).await, Some(bob.id.clone()));

    // Ann comes back to her desk: she is available again and gets the next visitor, since
    // Bob was just given one.
    assert_eq!(act(&shop, &ann).await["status"], "online");
    assert_eq!(next_visitor(&shop, &channel, 3).await, Some(ann.id.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_still_skips_the_operator_just_given_a_visitor_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::new());
    let mut shop = swept_shop(&dir, clock.clone()).await.unwrap();
    let ann = shop
        .operator("ann", json!({"language": "en"}))
        .await
        .unwrap();
    let bob = shop
        .operator("bob", json!({"language": "en"}))
        .await
        .unwrap();
    let channel = shop
        .channel("Website", &[&ann, &bob], json!({}))
        .await
        .unwrap();
    act(&shop, &ann).await;
    act(&shop, &bob).await;

    // The first visitor goes to one of them (at random: both are free).
    let first = next_visitor(&shop, &channel, 1).await.unwrap();
    let other = if first == ann.id { &bob.id } else { &ann.id };

    // A minute later the node restarts; the next visitor goes to the other operator, as it
    // would have without the restart.
    clock.advance_minutes(1);
    shop.node.stop().await.unwrap();
    let shop = swept_shop(&dir, clock.clone()).await.unwrap();
    assert_eq!(next_visitor(&shop, &channel, 2).await.as_ref(), Some(other));

    // Once both were served more than two minutes ago, either may take the next one.
    clock.advance_minutes(3);
    assert!(next_visitor(&shop, &channel, 3).await.is_some());
}
