//! The operator's `/history`: the visitor's last distinct pages of the last day, as Odoo
//! keeps them. A conversation that stays open for more than a day never shows the pages of
//! the day before, and a page the widget remembered from two days ago is not kept.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::{Clock, TestClock};
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;

const HOUR_MS: u64 = 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_leaves_out_pages_older_than_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new());
    let shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"language": "en"}))
        .await
        .unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();

    // A visitor on the shoes page starts a chat and looks at socks; Ann answers.
    let v = shop
        .visit(
            &channel,
            "https://shop.example/shoes",
            "en",
            None,
            Some("b-1"),
        )
        .await
        .unwrap();
    let pages = format!("/api/v1/livechat/sessions/{}/pages", v.session);
    let report = |url: &str, at_ms: Option<u64>| {
        let body = match at_ms {
            Some(at) => json!({"url": url, "at_ms": at}),
            None => json!({"url": url}),
        };
        shop.ok(&v.token, Method::POST, &pages, Some(body))
    };
    report("/socks", None).await.unwrap();
    shop.say(&v.token, &v.session, "Do you have red ones?")
        .await
        .unwrap();
    shop.say(&ann.token, &v.session, "Let me check")
        .await
        .unwrap();

    // The conversation stays open; a day and an hour later the visitor opens the checkout,
    // and the widget also reports a page it kept from two days ago.
    clock.advance_ms(25 * HOUR_MS);
    let now = clock.now_ms();
    report("/checkout", None).await.unwrap();
    let kept = report("/wishlist", Some(now - 48 * HOUR_MS)).await.unwrap();
    assert_eq!(kept["pages"], json!(["/checkout"]), "{kept}");

    // Ann's /history shows only the last day.
    let answer = shop.say(&ann.token, &v.session, "/history").await.unwrap();
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains("/checkout"), "{text}");
    for old in ["/shoes", "/socks", "/wishlist"] {
        assert!(!text.contains(old), "{old} is older than a day: {text}");
    }
    let listed = shop
        .ok(
            &ann.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/history", v.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed["pages"], json!(["/checkout"]));

    // Another day on, nothing is left.
    clock.advance_ms(25 * HOUR_MS);
    let answer = shop.say(&ann.token, &v.session, "/history").await.unwrap();
    assert_eq!(answer["text"], "No history found");
}
