//! A full disk: the data folder of Acme's node sits on a small filesystem that fills up. The
//! node refuses what would write (HTTP 507 with the reason; its partner is told to try later
//! and keeps its messages), keeps answering reads, loses nothing it acknowledged, says so once
//! in its log, and takes writes again by itself when space comes back. The directory does the
//! same, and so do the live chat's WebSockets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::directory::server::{DirectoryConfig, DirectoryServer};
use ochat_tests::livechat::ChatNode;
use ochat_tests::node::{TestNode, WAIT, test_config};
use ochat_tests::process::NodeProcess;
use ochat_tests::small_disk::SmallDisk;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MIB: u64 = 1 << 20;

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn texts(&self, channel: &str) -> Vec<String> {
        let (status, page) = self
            .call(
                Method::GET,
                &format!("/api/v1/channels/{channel}/messages?limit=500"),
                None,
            )
            .await;
        assert_eq!(status, 200, "reads go on: {page}");
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

async fn eventually<F, Fut>(what: &str, mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ok().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_whose_disk_fills_refuses_writes_keeps_every_message_and_resumes_by_itself() {
    let disk = SmallDisk::mount(96).unwrap();
    let acme_dir = disk.path.join("acme");
    let acme = NodeProcess::start(
        &acme_dir,
        &[
            "--name",
            "Acme",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--min-free-space",
            "24",
        ],
        Duration::from_secs(20),
    )
    .unwrap();
    let a = Client {
        base: acme.api.clone(),
        token: acme.admin_token().unwrap(),
        http: reqwest::Client::new(),
    };
    let (_, me) = a.call(Method::GET, "/api/v1/instance", None).await;
    let acme_uuid = me["uuid"].as_str().unwrap().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("globex"), "Globex", None);
    config.peers = vec![(
        acme_uuid.clone(),
        me["addresses"][0].as_str().unwrap().to_string(),
    )];
    let globex = TestNode::start(config).await.unwrap();
    let request = globex
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": acme_uuid, "send": true})),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let incoming = loop {
        let (_, list) = a
            .call(Method::GET, "/api/v1/connections?direction=incoming", None)
            .await;
        if let Some(c) = list.as_array().and_then(|l| l.first()) {
            break c["id"].as_str().unwrap().to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Acme never saw the request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, accepted) = a
        .call(
            Method::POST,
            &format!("/api/v1/connections/{incoming}/accept"),
            Some(json!({"contact": "Globex"})),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let acme_channel = accepted["channel_id"].as_str().unwrap().to_string();
    let done = globex
        .wait_status(request["id"].as_str().unwrap(), "Accepted")
        .await
        .unwrap();
    let globex_channel = done["channel_id"].as_str().unwrap().to_string();
    for n in 0..10 {
        let (status, _) = a
            .call(
                Method::POST,
                &format!("/api/v1/channels/{acme_channel}/messages"),
                Some(json!({"text": format!("acme {n}")})),
            )
            .await;
        assert!(status.is_success(), "{status}");
        globex
            .send(&globex_channel, &format!("globex {n}"))
            .await
            .unwrap();
    }
    eventually("both sides hold the 20 messages", || async {
        a.texts(&acme_channel).await.len() == 20
    })
    .await;

    // The disk fills up.
    let filler = disk.fill_leaving(8 * MIB).unwrap();
    // The node reads the free space at most every 250 ms: sends in that moment are taken
    // (and kept); the first refused one is never stored.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut taken = Vec::new();
    let refused = loop {
        let text = format!("while filling {}", taken.len());
        let (status, body) = a
            .call(
                Method::POST,
                &format!("/api/v1/channels/{acme_channel}/messages"),
                Some(json!({"text": text})),
            )
            .await;
        if status == StatusCode::INSUFFICIENT_STORAGE {
            break body;
        }
        assert!(status.is_success(), "{status}: {body}");
        taken.push(text);
        assert!(
            tokio::time::Instant::now() < deadline,
            "Acme still takes sends on a full disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("disk") && reason.contains("full"),
        "{refused}"
    );
    for _ in 0..20 {
        let (status, _) = a
            .call(
                Method::POST,
                "/api/v1/livechat/users",
                Some(json!({"login": "op", "password": "a long password 1"})),
            )
            .await;
        assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
    }
    // Globex keeps writing to Acme: its messages wait in Globex's outbox.
    for n in 0..5 {
        globex
            .send(&globex_channel, &format!("globex late {n}"))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let texts = a.texts(&acme_channel).await;
    assert_eq!(
        texts.len(),
        20 + taken.len(),
        "nothing new was written once full: {texts:?}"
    );
    for n in 0..10 {
        assert!(texts.contains(&format!("acme {n}")));
        assert!(texts.contains(&format!("globex {n}")));
    }

    // Space comes back: writes resume without a restart, the late messages arrive.
    std::fs::remove_file(&filler).unwrap();
    let freed = std::time::Instant::now();
    eventually("Acme takes sends again", || async {
        a.call(
            Method::POST,
            &format!("/api/v1/channels/{acme_channel}/messages"),
            Some(json!({"text": "after"})),
        )
        .await
        .0
        .is_success()
    })
    .await;
    let resumed = freed.elapsed();
    eventually("Globex's late messages arrive", || async {
        let texts = a.texts(&acme_channel).await;
        (0..5).all(|n| texts.contains(&format!("globex late {n}")))
    })
    .await;
    eprintln!(
        "space back: sends taken again after {resumed:?}, the partner's waiting messages in after {:?}",
        freed.elapsed()
    );
    let texts = a.texts(&acme_channel).await;
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), texts.len(), "each message once: {texts:?}");
    for text in &taken {
        assert!(
            texts.contains(text),
            "{text} was acknowledged, so it is kept"
        );
    }
    let refused_text = format!("while filling {}", taken.len());
    assert!(
        !texts.contains(&refused_text),
        "the refused send left nothing"
    );

    let out = acme.terminate(Duration::from_secs(20)).unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        log.matches("disk is nearly full").count(),
        1,
        "one clear line, not one per request:\n{log}"
    );
    assert_eq!(log.matches("disk space is back").count(), 1, "{log}");
}

#[tokio::test]
async fn a_directory_whose_disk_fills_refuses_registrations_and_keeps_answering_lookups() {
    let disk = SmallDisk::mount(64).unwrap();
    let mut config = DirectoryConfig::new(&disk.path.join("dir"), "127.0.0.1:0".parse().unwrap());
    config.http.min_free_space = 16 * MIB;
    let directory = DirectoryServer::start_with(config).await.unwrap();
    let base = format!("http://{}", directory.addr);
    let http = reqwest::Client::new();
    let uuid = uuid::Uuid::new_v4();
    let put = || {
        http.put(format!("{base}/v1/instances/{uuid}"))
            .header("content-type", "application/cbor")
            .body(vec![0xa0])
            .send()
    };
    let before = put().await.unwrap().status();
    assert_ne!(before, StatusCode::INSUFFICIENT_STORAGE);

    let filler = disk.fill_leaving(4 * MIB).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let full = put().await.unwrap();
    assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: Value = full.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("full"),
        "{body}"
    );
    let lookup = http
        .get(format!("{base}/v1/instances/{uuid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), StatusCode::NOT_FOUND, "lookups go on");

    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        put().await.unwrap().status(),
        before,
        "registrations resume"
    );
    directory.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_chat_sockets_are_told_the_disk_is_full_and_write_again_when_space_is_back() {
    let disk = SmallDisk::mount(96).unwrap();
    let clock = std::sync::Arc::new(ochat_node::livechat::TestClock::new());
    let shop = ChatNode::start_with(&disk.path.join("shop"), clock, |c| {
        c.http.min_free_space = 24 * MIB;
    })
    .await
    .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Support", &[&ann], json!({})).await.unwrap();
    let visit = shop
        .visit(&channel, "https://shop.example/", "en", None, None)
        .await
        .unwrap();
    let path = format!("/api/v1/livechat/sessions/{}/events", visit.session);
    let mut visitor = shop.socket(&path, &visit.token).await.unwrap();
    let mut operator = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    visitor.send(json!({"text": "hello"})).await.unwrap();
    operator
        .until(|e| e["message"]["text"] == "hello")
        .await
        .unwrap();

    let filler = disk.fill_leaving(8 * MIB).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    for socket in [&mut visitor, &mut operator] {
        socket
            .send(json!({"session_id": visit.session, "text": "on a full disk"}))
            .await
            .unwrap();
        let note = socket.until(|e| e["type"] == "error").await.unwrap();
        let message = note["message"].as_str().unwrap_or_default();
        assert!(message.contains("full"), "{note}");
    }
    let lines = shop.transcript(&visit.token, &visit.session).await.unwrap();
    assert!(
        lines.iter().all(|l| l["text"] != "on a full disk"),
        "nothing was written: {lines:?}"
    );

    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    visitor
        .send(json!({"text": "space is back"}))
        .await
        .unwrap();
    operator
        .until(|e| e["message"]["text"] == "space is back")
        .await
        .unwrap();
}
