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

    // Accepted connections cannot be deleted.
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
    let (status, body) = acme
        .call(Method::DELETE, &format!("/api/v1/connections/{did}"), None)
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Accepted"),
        "{body}"
    );

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
