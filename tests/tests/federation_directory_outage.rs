//! A directory that fails is not a directory that says "unknown": while V's directory answers
//! 503 or 429, an impostor (M, another key under P's Instance UUID) who asks V to connect gets
//! "try again later", nothing is pinned, and V's auto-accept list does not make M a partner. Once
//! the directory answers again, M is refused for good and the real P links as it should.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ochat_node::directory::client::DirectoryClient;
use ochat_node::directory::server::DirectoryServer;
use ochat_node::federation::AutoAccept;
use ochat_protocol::identity::InstanceId;
use ochat_tests::node::{TestNode, reaching, test_config};
use reqwest::Method;

/// A directory in front of a real one that can be told to fail: `0` forwards every request,
/// anything else answers every request with that status.
#[derive(Clone)]
struct Flaky {
    real: String,
    failing_with: Arc<AtomicU16>,
    failed_lookups: Arc<AtomicUsize>,
}

async fn flaky_handler(State(flaky): State<Flaky>, request: Request) -> Response {
    let status = flaky.failing_with.load(Ordering::SeqCst);
    if status != 0 {
        if request.method() == axum::http::Method::GET {
            flaky.failed_lookups.fetch_add(1, Ordering::SeqCst);
        }
        let code = StatusCode::from_u16(status).unwrap();
        let body = serde_json::json!({"error": {"code": "unavailable", "message": "try later"}});
        return (code, axum::Json(body)).into_response();
    }
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap();
    let url = format!("{}{}", flaky.real, request.uri());
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer = reqwest::Client::new()
        .request(method, url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let code = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (code, answer.bytes().await.unwrap()).into_response()
}

async fn start_flaky(real: &str) -> (String, Flaky) {
    let flaky = Flaky {
        real: real.to_string(),
        failing_with: Arc::new(AtomicU16::new(0)),
        failed_lookups: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .fallback(flaky_handler)
        .with_state(flaky.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, flaky)
}

/// Waits until `node`'s connection `id` carries a delivery error containing `needle`.
async fn wait_delivery_error(node: &TestNode, id: &str, needle: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = node.connection(id).await.unwrap();
        if now["delivery_error"]
            .as_str()
            .is_some_and(|e| e.contains(needle))
        {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many connections `node` has with `uuid`, whatever their state.
async fn connections_with(node: &TestNode, uuid: &str) -> usize {
    node.connections()
        .await
        .unwrap()
        .iter()
        .filter(|c| c["remote_uuid"] == uuid)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_fails_never_lets_an_impostor_become_a_partner() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let real_url = format!("http://{}", dir.addr);
    let (flaky_url, flaky) = start_flaky(&real_url).await;

    // P, the real partner, is listed in the directory.
    let mut p = TestNode::start(test_config(
        &tmp.path().join("p"),
        "Partner",
        Some(&real_url),
    ))
    .await
    .unwrap();
    let p_uuid: InstanceId = p.uuid.parse().unwrap();
    let directory = DirectoryClient::new(&real_url).unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !matches!(directory.lookup(p_uuid).await, Ok(Some(_))) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .unwrap();

    // V accepts P by itself and asks the flaky directory about strangers.
    let mut config = test_config(&tmp.path().join("v"), "Victim", Some(&flaky_url));
    config.federation.auto_accept = AutoAccept::Listed(BTreeSet::from([p_uuid]));
    let v = TestNode::start(config).await.unwrap();

    // M: a fresh key under P's UUID, who knows where V listens.
    let mdir = tmp.path().join("m");
    let (config, _) = reaching(&v, &mdir, "Mallory").await.unwrap();
    let mut m = TestNode::start(config.clone()).await.unwrap();
    m.stop().await.unwrap();
    std::fs::write(
        mdir.join("instance.json"),
        format!("{{\"uuid\":\"{}\",\"name\":\"Partner\"}}", p.uuid),
    )
    .unwrap();
    let m = TestNode::start(config).await.unwrap();
    assert_eq!(m.uuid, p.uuid);

    // The directory answers 503, then 429: M is told to try later, V pins nothing.
    for status in [503, 429] {
        flaky.failing_with.store(status, Ordering::SeqCst);
        let before = flaky.failed_lookups.load(Ordering::SeqCst);
        let sent = m
            .ok(
                Method::POST,
                "/api/v1/connections",
                Some(serde_json::json!({"remote_uuid": v.uuid, "send": true})),
            )
            .await
            .unwrap();
        let id = sent["id"].as_str().unwrap().to_string();
        let waiting = wait_delivery_error(&m, &id, "try again later").await;
        assert_eq!(waiting["status"], "Pending", "{waiting}");
        assert!(flaky.failed_lookups.load(Ordering::SeqCst) > before);
        assert_eq!(connections_with(&v, &p.uuid).await, 0, "with {status}");
        m.ok(Method::DELETE, &format!("/api/v1/connections/{id}"), None)
            .await
            .unwrap();
    }

    // The directory is back: M's next request is refused for good, V still has nothing.
    flaky.failing_with.store(0, Ordering::SeqCst);
    let sent = m
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": v.uuid, "send": true})),
        )
        .await
        .unwrap();
    wait_delivery_error(&m, sent["id"].as_str().unwrap(), "belongs to another key").await;
    assert_eq!(connections_with(&v, &p.uuid).await, 0);

    // The real P, told where V listens, links and is accepted by V's policy.
    p.stop().await.unwrap();
    let (mut config, _) = reaching(&v, &tmp.path().join("p"), "Partner")
        .await
        .unwrap();
    config.directory = Some(real_url.clone());
    let p = TestNode::start(config).await.unwrap();
    assert_eq!(p.uuid, p_uuid.to_string());
    let sent = p
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": v.uuid, "send": true})),
        )
        .await
        .unwrap();
    p.wait_status(sent["id"].as_str().unwrap(), "Accepted")
        .await
        .unwrap();
    v.wait_incoming_from(&p.uuid, "Accepted").await.unwrap();
}
