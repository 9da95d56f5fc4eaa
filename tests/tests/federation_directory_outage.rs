//! A directory that fails is not a directory that says "unknown": while V's directory answers
//! 503 or 429, an impostor (M, another key under P's Instance UUID) who asks V to connect gets
//! "try again later", nothing is pinned, and V's auto-accept list does not make M a partner. Once
//! the directory answers again, M is refused for good and the real P links as it should. That
//! is the path of an instance from before derived UUIDs (a random v4 UUID); under a derived UUID
//! V needs no directory at all: M is refused by the UUID itself and P is accepted at once.

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
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::wire::{Envelope, HandshakeResponse, RefusalCode};
use ochat_tests::forge;
use ochat_tests::legacy::folder_with_random_uuid;
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
        if request.method() == axum::http::Method::GET
            && request.uri().path().starts_with("/v1/instances/")
        {
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

    // P, the real partner (an instance from before derived UUIDs), is listed in the directory.
    folder_with_random_uuid(&tmp.path().join("p"), "Partner").unwrap();
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
    flaky.failing_with.store(503, Ordering::SeqCst);
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
    assert_eq!(connections_with(&v, &p.uuid).await, 0);
    flaky.failing_with.store(429, Ordering::SeqCst);
    let before = flaky.failed_lookups.load(Ordering::SeqCst);
    // M's outbox keeps retrying; each retry makes V ask the (rate-limited) directory again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while flaky.failed_lookups.load(Ordering::SeqCst) < before + 2 {
        assert!(tokio::time::Instant::now() < deadline, "V stopped asking");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let waiting = wait_delivery_error(&m, &id, "try again later").await;
    assert_eq!(waiting["status"], "Pending", "{waiting}");
    assert_eq!(connections_with(&v, &p.uuid).await, 0);

    // The directory is back: M's next retry is refused for good, V still has nothing.
    flaky.failing_with.store(0, Ordering::SeqCst);
    wait_delivery_error(&m, &id, "belongs to another key").await;
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

/// M's forged request: P's derived UUID in a record signed by M's own key, sent to V from M's
/// own libp2p node; V's answer.
async fn impostor_asks(p_uuid: InstanceId, v: &TestNode) -> HandshakeResponse {
    let key = IdentityKey::generate().unwrap();
    let (net, _inbound) = forge::raw_peer(&key.secret_bytes()).await.unwrap();
    let (v_peer, v_addrs) = forge::where_is(v).await.unwrap();
    let record = forge::record(p_uuid, &key, "Partner").unwrap();
    let envelope = Envelope {
        record,
        body: forge::request(p_uuid, v.uuid.parse().unwrap(), &key, "Partner").unwrap(),
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        net.request(v_peer, v_addrs, envelope),
    )
    .await
    .expect("V answers")
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_derived_uuid_a_failing_directory_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (flaky_url, flaky) = start_flaky(&format!("http://{}", dir.addr)).await;
    flaky.failing_with.store(503, Ordering::SeqCst);

    // V accepts P by itself; its directory is down for the whole test.
    let p_dir = tmp.path().join("p");
    let mut p = TestNode::start(test_config(&p_dir, "Partner", None))
        .await
        .unwrap();
    let p_uuid: InstanceId = p.uuid.parse().unwrap();
    assert!(p_uuid.is_derived());
    p.stop().await.unwrap();
    let mut config = test_config(&tmp.path().join("v"), "Victim", Some(&flaky_url));
    config.federation.auto_accept = AutoAccept::Listed(BTreeSet::from([p_uuid]));
    let v = TestNode::start(config).await.unwrap();

    // M, under P's UUID with her own key, is refused for good at once: the UUID names P's key,
    // so V does not even ask its directory.
    let answer = impostor_asks(p_uuid, &v).await;
    match answer {
        HandshakeResponse::Refused { code, message } => {
            assert_eq!(code, RefusalCode::Unauthenticated, "{message}");
            assert!(
                message.contains("derived from its owner's key"),
                "{message}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(flaky.failed_lookups.load(Ordering::SeqCst), 0);
    assert_eq!(connections_with(&v, &p.uuid).await, 0);

    // The real P, told where V listens, links and is accepted while the directory is still down.
    let (config, _) = reaching(&v, &p_dir, "Partner").await.unwrap();
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
