//! The transcript by email, against a real SMTP server (PyPI's aiosmtpd, started by the test
//! on a loopback port): a visitor at the end of a chat asks for the conversation and it
//! arrives as plain text; with the SMTP server down the email waits in the queue, survives a
//! restart of the node, and is delivered once the server comes up. A node without SMTP
//! settings says so and the widget is told not to offer it; asking too often is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::livechat::TestClock;
use ochat_node::livechat::mail::{SmtpConfig, SmtpTls};
use ochat_tests::livechat::{ChatNode, Operator, Visit};
use ochat_tests::livechat_files::{SmtpSink, free_port};
use reqwest::Method;
use serde_json::json;

fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls: SmtpTls::None,
        user: None,
        password: None,
        from: "Shop <chat@shop.test>".into(),
        retry_max: Some(Duration::from_millis(500)),
    }
}

async fn shop(dir: &std::path::Path, port: Option<u16>) -> ChatNode {
    ChatNode::start_with(dir, Arc::new(TestClock::new()), |c| {
        c.livechat.smtp = port.map(smtp);
    })
    .await
    .unwrap()
}

async fn chat_a_little(chat: &ChatNode) -> (Operator, String, Visit) {
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Chairs & Co", &[&ann], json!({}))
        .await
        .unwrap();
    let v = chat
        .visit(&channel, "https://shop.test/", "en", None, Some("v-alice"))
        .await
        .unwrap();
    chat.say(&v.token, &v.session, "Is the <b>oak chair</b> in stock?")
        .await
        .unwrap();
    chat.say(&ann.token, &v.session, "Yes, 3 left.")
        .await
        .unwrap();
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", v.session),
        None,
    )
    .await
    .unwrap();
    (ann, channel, v)
}

fn ask(v: &Visit) -> String {
    format!("/api/v1/livechat/sessions/{}/transcript_email", v.session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_gets_the_transcript_by_email_as_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let sink = SmtpSink::start(tmp.path(), port).await.unwrap();
    let chat = shop(&tmp.path().join("shop"), Some(port)).await;
    let (ann, channel, v) = chat_a_little(&chat).await;
    let features = chat
        .call(
            None,
            Method::GET,
            &format!("/api/v1/livechat/{channel}/features"),
            None,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(features["transcript_email"], json!(true));

    // Only the visitor asks; a bad address is refused; no address and no chatbot email: 400.
    let (status, _) = chat
        .call(
            Some(&ann.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = chat
        .call(
            Some(&v.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice\r\nBcc: x@evil.test"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = chat
        .call(Some(&v.token), Method::POST, &ask(&v), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 400);

    let (status, queued) = chat
        .call(
            Some(&v.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["to"], json!("alice@example.com"));
    let mail = sink
        .wait_messages(Duration::from_secs(20))
        .await
        .unwrap()
        .remove(0);
    assert!(mail.contains("To: alice@example.com"), "{mail}");
    assert!(mail.contains("From: Shop <chat@shop.test>"), "{mail}");
    assert!(
        mail.contains("Subject: Your conversation with Chairs & Co"),
        "{mail}"
    );
    assert!(
        mail.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{mail}"
    );
    assert!(!mail.to_ascii_lowercase().contains("text/html"), "{mail}");
    assert!(
        mail.contains("You: Is the <b>oak chair</b> in stock?"),
        "{mail}"
    );
    assert!(mail.contains("Ann: Yes, 3 left."), "{mail}");

    // At once again: rate-limited, with Retry-After.
    let (status, body) = chat
        .call(
            Some(&v.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 429, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_smtp_says_so_and_the_widget_does_not_offer_it() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = shop(&tmp.path().join("shop"), None).await;
    let (_ann, channel, v) = chat_a_little(&chat).await;
    let features = chat
        .call(
            None,
            Method::GET,
            &format!("/api/v1/livechat/{channel}/features"),
            None,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(features["transcript_email"], json!(false));
    let (status, body) = chat
        .call(
            Some(&v.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], json!("smtp_not_configured"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_queued_while_the_smtp_server_is_down_survives_a_restart_and_is_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let port = free_port().unwrap();
    let mut chat = shop(&dir, Some(port)).await;
    let (_ann, _channel, v) = chat_a_little(&chat).await;
    let (status, queued) = chat
        .call(
            Some(&v.token),
            Method::POST,
            &ask(&v),
            Some(json!({"email": "alice@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{queued}");

    // Nobody listens: the worker tries, fails and keeps the email with the reason.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let queue = chat
            .admin(Method::GET, "/api/v1/livechat/mail_queue", None)
            .await
            .unwrap();
        let job = queue[0].clone();
        if job["attempts"].as_u64().unwrap_or(0) >= 1 {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed try within 20 s: {queue}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["id"], queued["id"]);
    assert!(job["last_error"].is_string(), "{job}");

    // The node stops and starts again; the email is still queued.
    chat.node.stop().await.unwrap();
    let chat = shop(&dir, Some(port)).await;
    let queue = chat
        .admin(Method::GET, "/api/v1/livechat/mail_queue", None)
        .await
        .unwrap();
    assert_eq!(queue[0]["id"], queued["id"], "{queue}");

    // The SMTP server comes up: the email arrives and leaves the queue.
    let sink = SmtpSink::start(tmp.path(), port).await.unwrap();
    let mail = sink
        .wait_messages(Duration::from_secs(20))
        .await
        .unwrap()
        .remove(0);
    assert!(mail.contains("Ann: Yes, 3 left."), "{mail}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let queue = chat
            .admin(Method::GET, "/api/v1/livechat/mail_queue", None)
            .await
            .unwrap();
        if queue.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still queued: {queue}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_the_chatbot_collected_is_used_when_the_visitor_types_none() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let sink = SmtpSink::start(tmp.path(), port).await.unwrap();
    let chat = shop(&tmp.path().join("shop"), Some(port)).await;
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Chairs & Co", &[&ann], json!({}))
        .await
        .unwrap();
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(
                json!({"name": "Mailbot", "operator_name": "Mailbot", "steps": [
                {"type": "email", "message": "What is your email?"},
                {"type": "text", "message": "Thanks, we will write to you."}]}),
            ),
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
    let v = chat
        .visit(&channel, "https://shop.test/", "en", None, Some("v-bea"))
        .await
        .unwrap();
    chat.say(&v.token, &v.session, "bea@example.com")
        .await
        .unwrap();

    let (status, queued) = chat
        .call(Some(&v.token), Method::POST, &ask(&v), Some(json!({})))
        .await
        .unwrap();
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["to"], json!("bea@example.com"));
    let mail = sink
        .wait_messages(Duration::from_secs(20))
        .await
        .unwrap()
        .remove(0);
    assert!(mail.contains("To: bea@example.com"), "{mail}");
    assert!(mail.contains("Mailbot: What is your email?"), "{mail}");
}
