//! Automatic acceptance: Bolt accepts its partner Acme by itself (`--auto-accept UUID`), while a
//! request from an instance it does not list waits for an administrator as before.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use ochat_node::directory::server::DirectoryServer;
use ochat_node::federation::AutoAccept;
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The next connection event on an admin event socket.
async fn next_connection_event(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("an event within the timeout")
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        if event["type"] == "connection" {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_partner_is_accepted_at_once_and_an_unlisted_instance_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let directory = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", directory.addr);
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", Some(&url)))
        .await
        .unwrap();
    let core = TestNode::start(test_config(&tmp.path().join("core"), "Core", Some(&url)))
        .await
        .unwrap();
    let mut config = test_config(&tmp.path().join("bolt"), "Bolt", Some(&url));
    config.federation.auto_accept =
        AutoAccept::Listed(BTreeSet::from([acme.uuid.parse().unwrap()]));
    let bolt = TestNode::start(config).await.unwrap();
    // The administrators can read the policy: Bolt lists Acme, Acme accepts nobody by itself.
    let me = bolt
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert_eq!(me["auto_accept"], json!([acme.uuid]));
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert_eq!(me["auto_accept"], "off");

    let mut request = format!("{}/api/v1/events", bolt.api.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", bolt.token).parse().unwrap(),
    );
    let (mut events, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    // Acme asks; nobody at Bolt clicks anything.
    let sent = retry_until_sent(&acme, &bolt.uuid).await;
    let id = sent["id"].as_str().unwrap().to_string();
    let on_acme = acme.wait_status(&id, "Accepted").await.unwrap();
    assert!(on_acme["channel_id"].is_string(), "{on_acme}");
    assert_eq!(on_acme["remote_name"], "Bolt");

    // Bolt's administrator sees the request arrive and be accepted, in that order.
    let first = next_connection_event(&mut events).await;
    assert_eq!(first["event"], "incoming_request", "{first}");
    assert_eq!(first["connection"]["status"], "Pending");
    let second = next_connection_event(&mut events).await;
    assert_eq!(second["event"], "accepted", "{second}");
    assert_eq!(second["connection"]["remote_uuid"], acme.uuid.as_str());

    // At Bolt: Accepted, Acme's name as the contact, a channel, and no members yet.
    let at_bolt = bolt
        .wait_incoming_from(&acme.uuid, "Accepted")
        .await
        .unwrap();
    assert_eq!(at_bolt["contact"], "Acme");
    assert_eq!(at_bolt["members"], json!([]));
    let bolt_channel = at_bolt["channel_id"].as_str().unwrap().to_string();

    // The answer also reaches Acme by the outbox (once the first retry delay has passed), which
    // changes nothing there and marks Bolt's side delivered.
    let connection_id = at_bolt["id"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = bolt.connection(&connection_id).await.unwrap();
        if now["delivered"] == true {
            assert!(now["delivery_error"].is_null(), "{now}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never delivered: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(acme.connection(&id).await.unwrap()["status"], "Accepted");

    // The channel works both ways: the keys agreed through the inline answer match.
    let acme_channel = on_acme["channel_id"].as_str().unwrap();
    acme.send(acme_channel, "hello Bolt").await.unwrap();
    let got = bolt
        .wait_history(&bolt_channel, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[0]["text"], "hello Bolt");
    bolt.send(&bolt_channel, "hello Acme").await.unwrap();
    let back = acme
        .wait_history(acme_channel, 2, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(back[1]["text"], "hello Acme");

    // Core is not listed: its request waits at Bolt for an administrator.
    let from_core = retry_until_sent(&core, &bolt.uuid).await;
    let waiting = bolt
        .wait_incoming_from(&core.uuid, "Pending")
        .await
        .unwrap();
    assert!(waiting["channel_id"].is_null());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = core
        .connection(from_core["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(still["status"], "Pending");
    assert!(still["channel_id"].is_null());
}

/// Sends a request to `uuid`, retrying while the directory does not know it yet (nodes register
/// in the background at start).
async fn retry_until_sent(from: &TestNode, uuid: &str) -> Value {
    let created = from
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let mut now = created;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while now["status"] == "Not Found" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uuid} never registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = from
            .ok(
                Method::POST,
                &format!("/api/v1/connections/{id}/retry"),
                None,
            )
            .await
            .unwrap();
    }
    now
}
