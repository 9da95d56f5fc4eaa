//! Connections as the O'Chat rules have them: an incoming request is marked new until the
//! administrator opens it (API field, CLI column), and when two instances connect again after
//! one of them deleted their accepted connection, accepting reuses the channel they had, its
//! history included, with keys from the fresh handshake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_tests::node::{TestNode, WAIT, link, test_config};
use ochat_tests::process::ochat;
use reqwest::Method;
use serde_json::{Value, json};

/// Acme, and Bolt who knows Acme's address.
async fn acme_and_bolt(dir: &std::path::Path) -> (TestNode, TestNode) {
    let acme = TestNode::start(test_config(&dir.join("acme"), "Acme", None))
        .await
        .unwrap();
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let mut config = test_config(&dir.join("bolt"), "Bolt", None);
    config.peers = vec![(
        acme.uuid.clone(),
        me["addresses"][0].as_str().unwrap().to_string(),
    )];
    let bolt = TestNode::start(config).await.unwrap();
    (acme, bolt)
}

fn cli(node: &TestNode, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push("-d".into());
    all.push(node.data_dir.to_str().unwrap().to_string());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = ochat(&refs).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_request_is_new_until_the_administrator_opens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt) = acme_and_bolt(tmp.path()).await;
    bolt.ok(
        Method::POST,
        "/api/v1/connections",
        Some(json!({"remote_uuid": acme.uuid, "message": "Hello", "send": true})),
    )
    .await
    .unwrap();
    let incoming = acme
        .wait_incoming_from(&bolt.uuid, "Pending")
        .await
        .unwrap();
    assert_eq!(incoming["new"], true, "{incoming}");
    let id = incoming["id"].as_str().unwrap().to_string();
    // Bolt's own outgoing request is never "new".
    assert_eq!(bolt.connections().await.unwrap()[0]["new"], false);

    // The CLI marks it in its NEW column; showing it is opening it.
    let node = &acme;
    let table = tokio::task::block_in_place(|| cli(node, &["connections"]));
    let shown = tokio::task::block_in_place(|| cli(node, &["connection", "show", &id]));
    let after = tokio::task::block_in_place(|| cli(node, &["connections"]));
    assert!(table.contains("NEW"), "{table}");
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains(" * "), "{table}");
    assert!(shown.contains("Hello"), "{shown}");
    let row = after.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(!row.contains(" * "), "{after}");

    // Through the API: opening again changes nothing; an unknown id is 404.
    let seen = node
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{id}/seen"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(seen["new"], false);
    assert_eq!(node.connection(&id).await.unwrap()["new"], false);
    let (status, _) = node
        .call(
            Method::POST,
            "/api/v1/connections/0190a1b2-0000-7000-8000-000000000009/seen",
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
}

async fn texts(node: &TestNode, channel: &str) -> Vec<String> {
    node.history(channel)
        .await
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Waits until `node`'s channel shows `text`.
async fn until_text(node: &TestNode, channel: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if texts(node, channel).await.iter().any(|t| t == text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{text:?} did not arrive: {:?}",
            texts(node, channel).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_again_after_a_delete_reuses_the_channel_and_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt) = acme_and_bolt(tmp.path()).await;
    let (bolt_channel, acme_channel) = link(&bolt, &acme).await.unwrap();
    bolt.send(&bolt_channel, "first order").await.unwrap();
    until_text(&acme, &acme_channel, "first order").await;
    acme.send(&acme_channel, "shipped").await.unwrap();
    until_text(&bolt, &bolt_channel, "shipped").await;

    // Bolt deletes its accepted connection: its channel is kept out of sight.
    let bolt_conn = bolt.connections().await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    bolt.ok(
        Method::DELETE,
        &format!("/api/v1/connections/{bolt_conn}"),
        None,
    )
    .await
    .unwrap();
    assert!(bolt.connections().await.unwrap().is_empty());
    let listed = bolt
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    assert_eq!(listed, json!([]));

    // Later Bolt asks again; Acme accepts: both get their old channel back, history and all.
    let again = bolt
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": acme.uuid, "contact": "Acme", "send": true})),
        )
        .await
        .unwrap();
    let again_id = again["id"].as_str().unwrap().to_string();
    let incoming = acme
        .wait_incoming_from(&bolt.uuid, "Pending")
        .await
        .unwrap();
    assert_eq!(incoming["new"], true);
    let accepted = acme
        .ok(
            Method::POST,
            &format!(
                "/api/v1/connections/{}/accept",
                incoming["id"].as_str().unwrap()
            ),
            Some(json!({"contact": "Bolt"})),
        )
        .await
        .unwrap();
    assert_eq!(accepted["channel_id"], acme_channel.as_str());
    let mine = bolt.wait_status(&again_id, "Accepted").await.unwrap();
    assert_eq!(mine["channel_id"], bolt_channel.as_str());

    // Bolt's UUID appears once among Acme's connections; each side lists one channel.
    let acme_conns: Vec<Value> = acme.connections().await.unwrap();
    let with_bolt: Vec<&Value> = acme_conns
        .iter()
        .filter(|c| c["remote_uuid"] == bolt.uuid.as_str())
        .collect();
    assert_eq!(with_bolt.len(), 1, "{acme_conns:?}");
    assert_eq!(with_bolt[0]["id"], accepted["id"]);
    for (node, channel) in [(&acme, &acme_channel), (&bolt, &bolt_channel)] {
        let list = node
            .ok(Method::GET, "/api/v1/channels", None)
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["id"], channel.as_str());
    }

    // The history is there, and the fresh keys carry new messages both ways.
    assert_eq!(
        texts(&bolt, &bolt_channel).await,
        ["first order", "shipped"]
    );
    bolt.send(&bolt_channel, "we are back").await.unwrap();
    until_text(&acme, &acme_channel, "we are back").await;
    acme.send(&acme_channel, "welcome back").await.unwrap();
    until_text(&bolt, &bolt_channel, "welcome back").await;
    assert_eq!(
        texts(&acme, &acme_channel).await,
        ["first order", "shipped", "we are back", "welcome back"]
    );
}
