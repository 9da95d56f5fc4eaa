//! Nothing acknowledged is lost, not even on `kill -9`: real `ochat run` processes, a flood of
//! messages, a SIGKILL of the receiver or of the sender in the middle, a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ochat_node::directory::server::DirectoryServer;
use ochat_tests::process::NodeProcess;
use serde_json::{Value, json};

const START: Duration = Duration::from_secs(15);

fn start(dir: &Path, url: &str) -> NodeProcess {
    NodeProcess::start(
        dir,
        &[
            "--directory",
            url,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--retry-max",
            "1",
        ],
        START,
    )
    .unwrap()
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    fn of(node: &NodeProcess) -> Api {
        Api {
            base: node.api.clone(),
            token: node.admin_token().unwrap(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("{}", resp.status()));
        }
        resp.json().await.map_err(|e| e.to_string())
    }
    async fn wait(&self, path: &str, mut ok: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(v) = self.call(reqwest::Method::GET, path, None).await
                && ok(&v)
            {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out on {path}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    async fn all_texts(&self, channel: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let path = match &before {
                Some(b) => format!("/api/v1/channels/{channel}/messages?limit=500&before={b}"),
                None => format!("/api/v1/channels/{channel}/messages?limit=500"),
            };
            let Ok(page) = self.call(reqwest::Method::GET, &path, None).await else {
                return out;
            };
            for m in page["messages"].as_array().cloned().unwrap_or_default() {
                out.push(m["text"].as_str().unwrap_or_default().to_string());
            }
            match page["next_before"].as_str() {
                Some(b) => before = Some(b.to_string()),
                None => return out,
            }
        }
    }
}

/// Links a → b; returns (a's channel, b's channel).
async fn link(a: &Api, b: &Api, b_uuid: &str, a_uuid: &str) -> (String, String) {
    let c = a
        .call(
            reqwest::Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": b_uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap().to_string();
    let mut id_c = id.clone();
    let _ = &mut id_c;
    if c["status"] == "Not Found" {
        a.wait(&format!("/api/v1/connections/{id}"), |_| true).await;
        let _ = a
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/connections/{id}/retry"),
                None,
            )
            .await;
    }
    let list = b
        .wait("/api/v1/connections?direction=incoming", |v| {
            v.as_array()
                .is_some_and(|l| l.iter().any(|c| c["remote_uuid"] == a_uuid))
        })
        .await;
    let incoming = list[0]["id"].as_str().unwrap().to_string();
    let accepted = b
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/connections/{incoming}/accept"),
            Some(json!({"contact": "a"})),
        )
        .await
        .unwrap();
    let done = a
        .wait(&format!("/api/v1/connections/{id}"), |c| {
            c["status"] == "Accepted"
        })
        .await;
    (
        done["channel_id"].as_str().unwrap().to_string(),
        accepted["channel_id"].as_str().unwrap().to_string(),
    )
}

/// Sends from 8 streams until `stop` says so; returns the acknowledged texts.
fn flood(
    api: Arc<Api>,
    channel: String,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..8)
        .map(|stream| {
            let (api, channel, acked, stop) =
                (api.clone(), channel.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                for n in 0..10_000 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let text = format!("m-{stream}-{n}");
                    match api
                        .call(
                            reqwest::Method::POST,
                            &format!("/api/v1/channels/{channel}/messages"),
                            Some(json!({"text": text})),
                        )
                        .await
                    {
                        Ok(_) => acked.lock().unwrap().push(text),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect()
}

async fn wait_acked(acked: &Arc<Mutex<Vec<String>>>, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flood is too slow"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every acknowledged text appears exactly once on the receiver.
async fn all_delivered_once(receiver: &Api, channel: &str, acked: &[String]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let texts = receiver.all_texts(channel).await;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for t in &texts {
            *counts.entry(t.as_str()).or_default() += 1;
        }
        assert!(counts.values().all(|&c| c == 1), "a message arrived twice");
        let missing = acked
            .iter()
            .filter(|t| !counts.contains_key(t.as_str()))
            .count();
        if missing == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} acknowledged messages never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A directory and two linked node processes, A and B.
struct Setup {
    _tmp: tempfile::TempDir,
    _dir: ochat_node::directory::server::RunningDirectory,
    url: String,
    a_dir: std::path::PathBuf,
    b_dir: std::path::PathBuf,
    a: NodeProcess,
    b: NodeProcess,
    a_api: Arc<Api>,
    b_api: Api,
    a_ch: String,
    b_ch: String,
}

async fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", dir.addr);
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = start(&a_dir, &url);
    let b = start(&b_dir, &url);
    let (a_api, b_api) = (Arc::new(Api::of(&a)), Api::of(&b));
    let uuid = |d: &Path| {
        ochat_node::data_dir::read_instance(d)
            .unwrap()
            .uuid
            .to_string()
    };
    let (a_ch, b_ch) = link(&a_api, &b_api, &uuid(&b_dir), &uuid(&a_dir)).await;
    Setup {
        _tmp: tmp,
        _dir: dir,
        url,
        a_dir,
        b_dir,
        a,
        b,
        a_api,
        b_api,
        a_ch,
        b_ch,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_killed_mid_flood_gets_every_acknowledged_message_exactly_once() {
    let Setup {
        _tmp,
        _dir,
        url,
        a_dir: _a_dir,
        b_dir,
        a: _a,
        b,
        a_api,
        b_api: _b_api,
        a_ch,
        b_ch,
    } = setup().await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = flood(a_api.clone(), a_ch.clone(), acked.clone(), stop.clone());
    wait_acked(&acked, 200).await;
    b.kill9().unwrap();
    wait_acked(&acked, 400).await;
    let b = start(&b_dir, &url);
    wait_acked(&acked, 600).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    all_delivered_once(&Api::of(&b), &b_ch, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_flood_loses_nothing_it_acknowledged() {
    let Setup {
        _tmp,
        _dir,
        url,
        a_dir,
        b_dir: _b_dir,
        a,
        b: _b,
        a_api,
        b_api,
        a_ch,
        b_ch,
    } = setup().await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = flood(a_api.clone(), a_ch.clone(), acked.clone(), stop.clone());
    wait_acked(&acked, 300).await;
    a.kill9().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    // The sender comes back and finishes delivering from its outbox.
    let _a = start(&a_dir, &url);
    all_delivered_once(&b_api, &b_ch, &acked).await;
}
