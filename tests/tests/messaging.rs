//! Members of two linked organisations talk in their end-to-end encrypted channel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashMap;
use std::time::Duration;

use ochat_tests::node::{TestNode, link, test_config};
use reqwest::Method;
use serde_json::Value;

async fn pair(tmp: &std::path::Path) -> (TestNode, TestNode, String, String) {
    let acme = TestNode::start(test_config(&tmp.join("acme"), "Acme", None))
        .await
        .unwrap();
    let mut bolt_config = test_config(&tmp.join("bolt"), "Bolt", None);
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let addr = me["addresses"][0].as_str().unwrap().to_string();
    bolt_config.peers = vec![(acme.uuid.clone(), addr)];
    let bolt = TestNode::start(bolt_config).await.unwrap();
    // Bolt knows Acme by hand; Acme learns Bolt's record from Bolt's request.
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();
    (acme, bolt, a_ch, b_ch)
}

/// Creates a local user with a login on `node` and logs them in: (user id, token).
async fn operator(node: &TestNode, name: &str) -> (String, String) {
    let login = name.to_lowercase();
    let password = format!("{login}-secret-1");
    let user = node
        .ok(
            Method::POST,
            "/api/v1/users",
            Some(serde_json::json!({"name": name, "login": login, "password": password})),
        )
        .await
        .unwrap();
    let session: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/login", node.api))
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        user["id"].as_str().unwrap().to_string(),
        session["token"].as_str().unwrap().to_string(),
    )
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
        for (who, node, ch) in [
            ("acme", acme.clone(), a_ch.clone()),
            ("bolt", bolt.clone(), b_ch.clone()),
        ] {
            tasks.push(tokio::spawn(async move {
                for n in 0..125 {
                    node.send(&ch, &format!("{who}-{stream}-{n}"))
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .unwrap()
            .unwrap();
    }
    let on_acme = acme
        .wait_history(&a_ch, 2000, Duration::from_secs(60))
        .await
        .unwrap();
    let on_bolt = bolt
        .wait_history(&b_ch, 2000, Duration::from_secs(60))
        .await
        .unwrap();
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
        assert!(
            tokio::time::Instant::now() < deadline,
            "{undelivered} not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_for_an_offline_peer_arrive_in_order_when_it_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, mut bolt, a_ch, b_ch) = pair(tmp.path()).await;
    let mut bolt_config = test_config(&bolt.data_dir, "Bolt", None);
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    bolt_config.peers = vec![(
        acme.uuid.clone(),
        me["addresses"][0].as_str().unwrap().to_string(),
    )];
    bolt.stop().await.unwrap();
    for n in 0..30 {
        let sent = acme.send(&a_ch, &format!("acme-0-{n}")).await.unwrap();
        assert!(
            sent["state"] == "pending" || sent["state"] == "sent",
            "{sent}"
        );
    }
    // Offline for as long as this test likes: nothing arrives, nothing is lost.
    let queued = acme
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(queued[0]["queued"], 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = acme.history(&a_ch).await.unwrap();
    let outgoing: Vec<&Value> = waiting.iter().filter(|m| m["direction"] == "out").collect();
    assert_eq!(outgoing.len(), 30);
    assert!(
        outgoing.iter().all(|m| m["state"] == "pending"),
        "nothing was handed to a peer that is not there: {outgoing:?}"
    );
    let bolt = TestNode::start(bolt_config).await.unwrap();
    let history = bolt
        .wait_history(&b_ch, 30, Duration::from_secs(30))
        .await
        .unwrap();
    check(&history, 30);
    assert!(
        history
            .iter()
            .all(|m| m["direction"] == "in" && m["author"] == "Acme")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_mebibyte_attachment_arrives_intact_and_read_receipts_come_back() {
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt, a_ch, b_ch) = pair(tmp.path()).await;
    let data: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = hex::encode(Sha256::digest(&data));
    let sent: Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/channels/{a_ch}/attachments?name=report.bin",
            acme.api
        ))
        .bearer_auth(&acme.token)
        .header("content-type", "application/x-test")
        .body(data.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["attachment"]["sha256"], digest.as_str());
    let history = bolt
        .wait_history(&b_ch, 1, Duration::from_secs(60))
        .await
        .unwrap();
    let meta = &history[0]["attachment"];
    assert_eq!(meta["complete"], true, "{meta}");
    assert_eq!(meta["name"], "report.bin");
    assert_eq!(meta["mime"], "application/x-test");
    let got = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/channels/{b_ch}/attachments/{}",
            bolt.api,
            meta["id"].as_str().unwrap()
        ))
        .bearer_auth(&bolt.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(hex::encode(Sha256::digest(&got)), digest);

    // Bolt reads: unread goes to zero there, and Acme sees "read".
    let channels = bolt
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(channels[0]["unread"], 1);
    bolt.ok(Method::POST, &format!("/api/v1/channels/{b_ch}/read"), None)
        .await
        .unwrap();
    let channels = bolt
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(channels[0]["unread"], 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = acme.history(&a_ch).await.unwrap();
        if h[0]["state"] == "read" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", h[0]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, _bolt, a_ch, _b_ch) = pair(tmp.path()).await;
    let (status, body) = acme
        .call(
            Method::POST,
            &format!("/api/v1/channels/{a_ch}/messages"),
            Some(serde_json::json!({"text": "x".repeat(64 * 1024 + 1)})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most")
    );
    let (status, _) = acme
        .call(
            Method::POST,
            &format!("/api/v1/channels/{a_ch}/messages"),
            Some(serde_json::json!({"text": "   "})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = acme
        .call(
            Method::POST,
            &format!("/api/v1/channels/{}/messages", uuid::Uuid::new_v4()),
            Some(serde_json::json!({"text": "hi"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let anon = reqwest::Client::new()
        .get(format!("{}/api/v1/channels/{a_ch}/messages", acme.api))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // Malformed path segments and query strings get the API's JSON errors too.
    for (method, path, status) in [
        (
            Method::GET,
            "/api/v1/channels/not-a-uuid/messages".to_string(),
            400,
        ),
        (Method::GET, "/api/v1/connections/42".to_string(), 400),
        (
            Method::GET,
            format!("/api/v1/channels/{a_ch}/messages?limit=lots"),
            400,
        ),
        (
            Method::PATCH,
            format!("/api/v1/channels/{a_ch}/messages"),
            405,
        ),
        (Method::GET, "/api/v1/events".to_string(), 400),
    ] {
        let (got, body) = acme.call(method.clone(), &path, None).await.unwrap();
        assert_eq!(got, status, "{method} {path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{method} {path}: {body}");
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
    }
    assert!(acme.history(&a_ch).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_of_the_connection_read_and_post_in_its_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt, a_ch, b_ch) = pair(tmp.path()).await;
    let (alice_id, token) = operator(&acme, "Alice").await;
    let http = reqwest::Client::new();
    let as_alice = |m: reqwest::Method, path: String| {
        http.request(m, format!("{}{path}", acme.api))
            .bearer_auth(token.clone())
    };

    // Not a member yet: no channel listed, no reading, no posting.
    let listed: Value = as_alice(Method::GET, "/api/v1/channels".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    let read = as_alice(Method::GET, format!("/api/v1/channels/{a_ch}/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 403);
    let post = as_alice(Method::POST, format!("/api/v1/channels/{a_ch}/messages"))
        .json(&serde_json::json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);

    // The admin makes Alice a member of the connection: now she can, under her own name.
    let conn = acme.connections().await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    acme.ok(
        Method::PUT,
        &format!("/api/v1/connections/{conn}/members/{}", alice_id),
        None,
    )
    .await
    .unwrap();
    bolt.send(&b_ch, "bolt-0-0").await.unwrap();
    acme.wait_history(&a_ch, 1, Duration::from_secs(20))
        .await
        .unwrap();
    let listed: Value = as_alice(Method::GET, "/api/v1/channels".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["unread"], 1, "{listed}");
    let sent: Value = as_alice(Method::POST, format!("/api/v1/channels/{a_ch}/messages"))
        .json(&serde_json::json!({"text": "acme-0-0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["author"], "Alice");
    let on_bolt = bolt
        .wait_history(&b_ch, 2, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(on_bolt[1]["author"], "Alice");
    // Unread counts are per member: the admin's is untouched by Alice reading.
    as_alice(Method::POST, format!("/api/v1/channels/{a_ch}/read"))
        .send()
        .await
        .unwrap();
    let mine = acme
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(mine[0]["unread"], 1);

    // Alice leaves the company: deleting her user takes her out of the connection's members
    // and forgets her read mark on its channel.
    let deleted = acme
        .ok(Method::DELETE, &format!("/api/v1/users/{alice_id}"), None)
        .await
        .unwrap();
    assert_eq!(deleted["connections"], 1, "{deleted}");
    assert_eq!(deleted["read_marks"], 1, "{deleted}");
    let members = acme.connections().await.unwrap()[0]["members"].clone();
    assert_eq!(members, serde_json::json!([]), "{members}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_delivered_in_time_is_marked_failed_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, mut bolt, a_ch, _b_ch) = pair(tmp.path()).await;
    bolt.stop().await.unwrap();
    let mut acme = acme;
    let mut config = test_config(&acme.data_dir, "Acme", None);
    config.messaging.give_up_after = Duration::from_millis(300);
    acme.stop().await.unwrap();
    let acme = TestNode::start(config).await.unwrap();
    acme.send(&a_ch, "acme-0-0").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = acme.history(&a_ch).await.unwrap();
        if h[0]["state"] == "failed" {
            assert!(
                h[0]["failure"]
                    .as_str()
                    .unwrap()
                    .contains("not delivered within"),
                "{}",
                h[0]
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", h[0]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let channels = acme
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(channels[0]["queued"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_follows_new_messages_of_their_channels_live() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt, a_ch, b_ch) = pair(tmp.path()).await;
    let (alice_id, token) = operator(&acme, "Alice").await;
    let conn = acme.connections().await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    acme.ok(
        Method::PUT,
        &format!("/api/v1/connections/{conn}/members/{alice_id}"),
        None,
    )
    .await
    .unwrap();
    let mut request = format!("{}/api/v1/events", acme.api.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    bolt.send(&b_ch, "bolt-0-0").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), ws.next())
        .await
        .expect("an event within the timeout")
        .unwrap()
        .unwrap();
    let event: Value = serde_json::from_str(event.to_text().unwrap()).unwrap();
    assert_eq!(event["type"], "message");
    assert_eq!(event["event"], "new");
    assert_eq!(event["message"]["text"], "bolt-0-0");
    assert_eq!(event["message"]["channel_id"], a_ch.as_str());
}
