//! The shop's chatbot greets every visitor and forwards those who ask for a person. Ann, the
//! only operator, takes one conversation at a time. When she is busy, a visitor the bot
//! forwards waits in the channel's line like anyone who opened the chat while she was busy:
//! the bot says its hand-over words and stops, the widget is told the place in line (and
//! keeps it while the page is open), and Ann gets the visitor as soon as her slot frees.
//! With the line turned off, the bot's script goes on as before (its "nobody is free" path).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Visit};
use reqwest::Method;
use serde_json::{Value, json};

const T0: u64 = 1_800_000_000_000;

fn script() -> Value {
    json!({
        "name": "Door bot",
        "operator_name": "Doorbot",
        "steps": [
            {"type": "text", "message": "Hello, I am Doorbot."},
            {"type": "question", "message": "Shall I find you someone?", "answers": [
                {"id": "yes", "text": "Yes please"}]},
            {"type": "forward_to_operator", "message": "Connecting you to someone.",
             "only_if": ["yes"]},
            {"type": "email", "message": "Nobody is free right now. What is your email?"}
        ]
    })
}

async fn click(chat: &ChatNode, v: &Visit) {
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/messages", v.session),
        Some(json!({"text": "Yes please", "answer_id": "yes"})),
    )
    .await
    .unwrap();
}

async fn bot_said(chat: &ChatNode, v: &Visit) -> Vec<String> {
    chat.transcript(&v.token, &v.session)
        .await
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "bot")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

async fn line(chat: &ChatNode, channel: &str) -> Value {
    chat.admin(
        Method::GET,
        &format!("/api/v1/livechat/channels/{channel}/queue"),
        None,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_the_bot_forwards_while_everyone_is_busy_waits_in_line() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(T0));
    let chat = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Website", &[&ann], json!({"max_sessions_per_operator": 1}))
        .await
        .unwrap();
    let bot = chat
        .admin(Method::POST, "/api/v1/livechat/chatbots", Some(script()))
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
    let mut ann_ws = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    chat.ok(
        &ann.token,
        Method::POST,
        "/api/v1/livechat/operator/activity",
        None,
    )
    .await
    .unwrap();

    // Lea asks for a person: Ann is free and takes her.
    let lea = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-lea"))
        .await
        .unwrap();
    click(&chat, &lea).await;
    let session = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", lea.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(session["operators"], json!([ann.id]), "{session}");

    // Max asks too, while Ann is busy with Lea: he waits in line, and the bot stops.
    let max = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-max"))
        .await
        .unwrap();
    let mut max_ws = chat
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", max.session),
            &max.token,
        )
        .await
        .unwrap();
    click(&chat, &max).await;
    let place = max_ws.until(|e| e["type"] == "queue").await.unwrap();
    assert_eq!(
        (place["status"].clone(), place["position"].clone()),
        (json!("waiting"), json!(1)),
        "{place}"
    );
    assert_eq!(
        bot_said(&chat, &max).await,
        [
            "Hello, I am Doorbot.",
            "Shall I find you someone?",
            "Connecting you to someone."
        ],
        "the bot hands over to the line and says no more"
    );
    let waiting = line(&chat, &channel).await;
    assert_eq!(waiting["waiting"][0]["session_id"], max.session.as_str());
    ann_ws
        .until(|e| {
            e["type"] == "queue" && e["queue"]["waiting"][0]["session_id"] == max.session.as_str()
        })
        .await
        .unwrap();

    // His page stays open for three minutes: he keeps his place (the grace is for a page
    // that is gone).
    clock.advance_minutes(3);
    let waiting = line(&chat, &channel).await;
    assert_eq!(
        waiting["waiting"][0]["session_id"],
        max.session.as_str(),
        "{waiting}"
    );
    assert_eq!(waiting["waiting"][0]["connected"], true, "{waiting}");

    // Ann closes Lea's conversation: Max is next, and the hand-over is recorded.
    chat.ok(
        &ann.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", lea.session),
        None,
    )
    .await
    .unwrap();
    let served = max_ws
        .until(|e| e["type"] == "operator_joined")
        .await
        .unwrap();
    assert_eq!(served["operator"]["id"], ann.id.as_str());
    let session = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", max.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(session["operators"], json!([ann.id]), "{session}");
    assert!(session["handover_at_ms"].is_u64(), "{session}");
    let place = chat
        .ok(
            &max.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/queue", max.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(place["status"], "served", "{place}");

    // With the line turned off, a visitor the bot cannot hand over hears its next step.
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"queue_limit": 0})),
    )
    .await
    .unwrap();
    chat.say(&max.token, &max.session, "Hi Ann").await.unwrap();
    let zoe = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-zoe"))
        .await
        .unwrap();
    click(&chat, &zoe).await;
    assert_eq!(
        bot_said(&chat, &zoe).await.last().unwrap(),
        "Nobody is free right now. What is your email?"
    );
}
