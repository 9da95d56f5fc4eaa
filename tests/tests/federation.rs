//! Federation stories: organisations link their nodes by Instance UUID through the directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::directory::server::DirectoryServer;
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::json;

async fn directory(
    dir: &std::path::Path,
) -> (ochat_node::directory::server::RunningDirectory, String) {
    let d = DirectoryServer::start(&dir.join("directory"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", d.addr);
    (d, url)
}

async fn node(dir: &std::path::Path, name: &str, directory: &str) -> TestNode {
    TestNode::start(test_config(&dir.join(name), name, Some(directory)))
        .await
        .unwrap()
}

/// Waits until the directory knows `uuid` (nodes register in the background at start).
async fn registered(url: &str, uuid: &str) {
    let client = ochat_node::directory::client::DirectoryClient::new(url).unwrap();
    let id = uuid.parse().unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Some(_)) = client.lookup(id).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the node registered with the directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_organisations_link_reject_and_find_each_other_through_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (_dir, url) = directory(tmp.path()).await;
    let acme = node(tmp.path(), "Acme", &url).await;
    let bolt = node(tmp.path(), "Bolt", &url).await;
    let core = node(tmp.path(), "Core", &url).await;
    registered(&url, &bolt.uuid).await;
    registered(&url, &core.uuid).await;

    // Acme → Bolt: drafted, sent, accepted with a contact; a channel on both sides.
    let draft = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": bolt.uuid, "contact": "Bolt Ltd", "message": "Hello from Acme"})),
        )
        .await
        .unwrap();
    assert_eq!(draft["status"], "Draft");
    let id = draft["id"].as_str().unwrap().to_string();
    let sent = acme
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{id}/send"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(sent["status"], "Pending");
    let incoming = bolt
        .wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
    assert_eq!(incoming["remote_name"], "Acme");
    assert_eq!(incoming["message"], "Hello from Acme");
    let in_id = incoming["id"].as_str().unwrap();
    let accepted = bolt
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{in_id}/accept"),
            Some(json!({"contact": "Acme Inc"})),
        )
        .await
        .unwrap();
    assert_eq!(accepted["status"], "Accepted");
    assert!(accepted["channel_id"].is_string());
    let on_acme = acme.wait_status(&id, "Accepted").await.unwrap();
    assert!(on_acme["channel_id"].is_string(), "{on_acme}");
    assert_eq!(on_acme["remote_name"], "Bolt");

    // Acme → Core: rejected with a reason that Acme can read.
    let to_core = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": core.uuid, "contact": "Core", "send": true})),
        )
        .await
        .unwrap();
    let core_id = to_core["id"].as_str().unwrap().to_string();
    let at_core = core
        .wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
    core.ok(
        Method::POST,
        &format!(
            "/api/v1/connections/{}/reject",
            at_core["id"].as_str().unwrap()
        ),
        Some(json!({"reason": "We only work with partners"})),
    )
    .await
    .unwrap();
    let rejected = acme.wait_status(&core_id, "Rejected").await.unwrap();
    assert_eq!(rejected["reject_reason"], "We only work with partners");
    assert!(rejected["channel_id"].is_null());

    // Acme → a UUID nobody registered: Not Found. When that node registers, Retry reaches it.
    let late_dir = tmp.path().join("Late");
    let late_config = test_config(&late_dir, "Late", Some(&url));
    // Create the late node's identity without starting it: its UUID is fixed at first start.
    let mut late = TestNode::start(test_config(&late_dir, "Late", None))
        .await
        .unwrap();
    let late_uuid = late.uuid.clone();
    late.stop().await.unwrap();
    let unknown = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": late_uuid, "send": true})),
        )
        .await
        .unwrap();
    let unknown_id = unknown["id"].as_str().unwrap().to_string();
    let not_found = acme.wait_status(&unknown_id, "Not Found").await.unwrap();
    assert!(
        not_found["delivery_error"]
            .as_str()
            .unwrap()
            .contains("no instance")
    );
    let late = TestNode::start(late_config).await.unwrap();
    registered(&url, &late.uuid).await;
    let retried = acme
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{unknown_id}/retry"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(retried["status"], "Pending");
    late.wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_stopped_node_arrives_when_it_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (_dir, url) = directory(tmp.path()).await;
    let acme = node(tmp.path(), "Acme", &url).await;
    let mut bolt = node(tmp.path(), "Bolt", &url).await;
    registered(&url, &bolt.uuid).await;
    let bolt_config = test_config(&bolt.data_dir, "Bolt", Some(&url));
    bolt.stop().await.unwrap();

    let c = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": bolt.uuid, "contact": "Bolt", "send": true})),
        )
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["status"], "Pending");
    // Nobody touches Acme from here on.
    let bolt = TestNode::start(bolt_config).await.unwrap();
    let incoming = bolt
        .wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
    bolt.ok(
        Method::POST,
        &format!(
            "/api/v1/connections/{}/accept",
            incoming["id"].as_str().unwrap()
        ),
        Some(json!({"contact": "Acme"})),
    )
    .await
    .unwrap();
    let done = acme.wait_status(&id, "Accepted").await.unwrap();
    assert_eq!(done["delivered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_edit_delete_and_illegal_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let (_dir, url) = directory(tmp.path()).await;
    let acme = node(tmp.path(), "Acme", &url).await;
    let bolt = node(tmp.path(), "Bolt", &url).await;
    registered(&url, &bolt.uuid).await;

    // Cancel from Acme removes Bolt's incoming request.
    let c = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": bolt.uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    let incoming = bolt
        .wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
    // Accepting an outgoing request is illegal: 409 with a clear message.
    let (status, body) = acme
        .call(
            Method::POST,
            &format!("/api/v1/connections/{id}/accept"),
            Some(json!({"contact": "x"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outgoing"),
        "{body}"
    );
    let cancelled = acme
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{id}/cancel"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "Cancelled");
    bolt.wait_gone(&acme.uuid).await.unwrap();
    let _ = incoming;
    // Cancelled may be deleted.
    acme.ok(Method::DELETE, &format!("/api/v1/connections/{id}"), None)
        .await
        .unwrap();
    let (status, _) = acme
        .call(Method::GET, &format!("/api/v1/connections/{id}"), None)
        .await
        .unwrap();
    assert_eq!(status, 404);

    // Edit UUID while Draft; not once Pending.
    let wrong = uuid::Uuid::new_v4().to_string();
    let d = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": wrong})),
        )
        .await
        .unwrap();
    let did = d["id"].as_str().unwrap().to_string();
    let edited = acme
        .ok(
            Method::POST,
            &format!("/api/v1/connections/{did}/edit"),
            Some(json!({"remote_uuid": bolt.uuid})),
        )
        .await
        .unwrap();
    assert_eq!(edited["remote_uuid"], bolt.uuid.as_str());
    assert_eq!(edited["status"], "Draft");
    acme.ok(
        Method::POST,
        &format!("/api/v1/connections/{did}/send"),
        None,
    )
    .await
    .unwrap();
    let (status, body) = acme
        .call(
            Method::POST,
            &format!("/api/v1/connections/{did}/edit"),
            Some(json!({"remote_uuid": wrong})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");

    // A pending request cannot be deleted (it is cancelled first).
    let (status, body) = acme
        .call(Method::DELETE, &format!("/api/v1/connections/{did}"), None)
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Pending"),
        "{body}"
    );
    let incoming = bolt
        .wait_incoming_from(&acme.uuid, "Pending")
        .await
        .unwrap();
    let bid = incoming["id"].as_str().unwrap();
    bolt.ok(
        Method::POST,
        &format!("/api/v1/connections/{bid}/accept"),
        Some(json!({"contact": "Acme"})),
    )
    .await
    .unwrap();
    acme.wait_status(&did, "Accepted").await.unwrap();

    // Members of the accepted channel.
    let user = acme
        .ok(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "Alice"})),
        )
        .await
        .unwrap();
    let uid = user["id"].as_str().unwrap();
    let with = acme
        .ok(
            Method::PUT,
            &format!("/api/v1/connections/{did}/members/{uid}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(with["members"], json!([uid]));

    // Every route needs the token.
    let anon = reqwest::Client::new()
        .get(format!("{}/api/v1/connections", acme.api))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
}

/// Acme asks Bolt, goes offline; Bolt accepts but cannot tell Acme (and will not retry for an
/// hour). Acme comes back: Sync Status by hand, or the automatic one, brings Acme up to date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_status_by_hand_and_automatically_fetches_the_answer() {
    for automatic in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (_dir, url) = directory(tmp.path()).await;
        let mut acme = node(tmp.path(), "Acme", &url).await;
        let mut bolt_config = test_config(&tmp.path().join("Bolt"), "Bolt", Some(&url));
        bolt_config.federation.retry_base = Duration::from_secs(3600);
        bolt_config.federation.retry_max = Duration::from_secs(3600);
        let bolt = TestNode::start(bolt_config).await.unwrap();
        registered(&url, &bolt.uuid).await;

        let c = acme
            .ok(
                Method::POST,
                "/api/v1/connections",
                Some(json!({"remote_uuid": bolt.uuid, "send": true})),
            )
            .await
            .unwrap();
        let id = c["id"].as_str().unwrap().to_string();
        let incoming = bolt
            .wait_incoming_from(&acme.uuid, "Pending")
            .await
            .unwrap();
        acme.stop().await.unwrap();
        let in_id = incoming["id"].as_str().unwrap();
        bolt.ok(
            Method::POST,
            &format!("/api/v1/connections/{in_id}/accept"),
            Some(json!({"contact": "Acme"})),
        )
        .await
        .unwrap();
        // Bolt tried once and failed: its answer waits in its outbox.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while bolt.connection(in_id).await.unwrap()["delivery_error"].is_null() {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }

        let mut again = test_config(&acme.data_dir, "Acme", Some(&url));
        if automatic {
            again.federation.sync_interval = Duration::from_millis(200);
        }
        let acme = TestNode::start(again).await.unwrap();
        assert_eq!(acme.connection(&id).await.unwrap()["status"], "Pending");
        if !automatic {
            let synced = acme
                .ok(
                    Method::POST,
                    &format!("/api/v1/connections/{id}/sync"),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(synced["status"], "Accepted", "{synced}");
        }
        let done = acme.wait_status(&id, "Accepted").await.unwrap();
        assert!(done["channel_id"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_ui_follows_connection_events_live() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let tmp = tempfile::tempdir().unwrap();
    let (_dir, url) = directory(tmp.path()).await;
    let acme = node(tmp.path(), "Acme", &url).await;
    let bolt = node(tmp.path(), "Bolt", &url).await;
    registered(&url, &bolt.uuid).await;

    let ws_url = format!("{}/api/v1/events", bolt.api.replace("http://", "ws://"));
    // Without the token: refused before the upgrade.
    let anonymous = tokio_tungstenite::connect_async(ws_url.as_str()).await;
    assert!(anonymous.is_err());
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", bolt.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    acme.ok(
        Method::POST,
        "/api/v1/connections",
        Some(json!({"remote_uuid": bolt.uuid, "message": "hi", "send": true})),
    )
    .await
    .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), ws.next())
        .await
        .expect("an event within the timeout")
        .unwrap()
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(event.to_text().unwrap()).unwrap();
    assert_eq!(event["event"], "incoming_request");
    assert_eq!(event["connection"]["remote_uuid"], acme.uuid.as_str());
    assert_eq!(event["connection"]["message"], "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uuid_appears_at_most_once_among_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let (_dir, url) = directory(tmp.path()).await;
    let acme = node(tmp.path(), "Acme", &url).await;
    let other = uuid::Uuid::new_v4().to_string();
    acme.ok(
        Method::POST,
        "/api/v1/connections",
        Some(json!({"remote_uuid": other})),
    )
    .await
    .unwrap();
    let (status, body) = acme
        .call(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": other})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    let (status, body) = acme
        .call(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": acme.uuid})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, body) = acme
        .call(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": "not-a-uuid"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an Instance UUID")
    );
    // Malformed JSON gets the API's error format too.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/connections", acme.api))
        .bearer_auth(&acme.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(acme.connections().await.unwrap().len(), 1);
}
