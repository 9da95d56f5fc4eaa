//! A sender killed between its sends and their flush, again and again, never seals two
//! messages under one key and never loses one it acknowledged.
//!
//! Acme is a real `ochat run` process that writes every (message key, nonce) pair it seals to
//! a file; Bolt is a node in this process (its seals go to the in-process log). Each round,
//! Bolt says something (so Acme's next sends open a new turn of the ratchet), four clients
//! flood Acme's channel, and Acme is killed with SIGKILL in the middle of the flood, while
//! messages it delivered before their flush are in flight, then started again. Messages sealed
//! under a durable lease leave before their flush; after each restart Acme's sending chain
//! must move past its lease instead of sealing those numbers again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ochat_node::directory::server::DirectoryServer;
use ochat_node::federation::AutoAccept;
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::rekey::{channel, record_seals, rejected, seal_report, wait_texts};
use ochat_tests::sender_crash::{ProcessApi, repeats, sealed_pairs, start_sealing};
use reqwest::Method;
use serde_json::json;

const ROUNDS: usize = 20;

/// Waits until `check` holds, polling, at most `within`.
async fn wait_until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Four clients post on `channel` until the node stops answering; every answered text is
/// pushed to `acked`.
fn flood(
    api: &ProcessApi,
    channel: &str,
    round: usize,
    acked: &Arc<Mutex<Vec<String>>>,
    dead: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|stream| {
            let (api, channel, acked, dead) = (
                api.clone(),
                channel.to_string(),
                acked.clone(),
                dead.clone(),
            );
            tokio::spawn(async move {
                for n in 0.. {
                    let text = format!("r{round}-s{stream}-{n}");
                    match api.send(&channel, &text).await {
                        Ok(_) => acked.lock().unwrap().push(text),
                        Err(_) if dead.load(Ordering::SeqCst) => return,
                        Err(e) => panic!("a send failed while acme ran: {e}"),
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_between_its_sends_and_their_flush_reuses_no_key_and_loses_nothing() {
    record_seals();
    let tmp = tempfile::tempdir().unwrap();
    let directory = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", directory.addr);
    let mut config = test_config(&tmp.path().join("bolt"), "Bolt", Some(&url));
    config.federation.auto_accept = AutoAccept::Any;
    let bolt = TestNode::start(config).await.unwrap();
    let (acme_dir, seals) = (tmp.path().join("acme"), tmp.path().join("acme.seals"));
    let mut acme = start_sealing(&acme_dir, &url, &seals).unwrap();
    let mut api = ProcessApi::of(&acme).unwrap();
    let acme_uuid = ochat_node::data_dir::read_instance(&acme_dir)
        .unwrap()
        .uuid
        .to_string();

    // Acme links with Bolt, which accepts by itself.
    let asked = api
        .call(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": bolt.uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = asked["id"].as_str().unwrap().to_string();
    let mut acme_channel = String::new();
    wait_until("the link", Duration::from_secs(30), async || {
        let Ok(c) = api
            .call(Method::GET, &format!("/api/v1/connections/{id}"), None)
            .await
        else {
            return false;
        };
        if c["status"] == "Not Found" {
            let path = format!("/api/v1/connections/{id}/retry");
            let _ = api.call(Method::POST, &path, None).await;
        }
        acme_channel = c["channel_id"].as_str().unwrap_or_default().to_string();
        c["status"] == "Accepted"
    })
    .await;
    let bolt_channel = bolt
        .wait_incoming_from(&acme_uuid, "Accepted")
        .await
        .unwrap()["channel_id"]
        .as_str()
        .unwrap()
        .to_string();

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut replies = Vec::new();
    for round in 0..ROUNDS {
        // Bolt speaks: Acme's next sends go out on a new turn's chain.
        let reply = format!("reply {round}");
        bolt.send(&bolt_channel, &reply).await.unwrap();
        replies.push(reply);
        let dead = Arc::new(AtomicBool::new(false));
        let before = acked.lock().unwrap().len();
        let streams = flood(&api, &acme_channel, round, &acked, &dead);
        // Killed at a different point of the flood each round.
        let more = 20 + (round * 13) % 60;
        wait_until("acme's answers", Duration::from_secs(60), async || {
            acked.lock().unwrap().len() >= before + more
        })
        .await;
        dead.store(true, Ordering::SeqCst);
        acme.kill9().unwrap();
        for s in streams {
            tokio::time::timeout(Duration::from_secs(30), s)
                .await
                .expect("a client hung after the kill")
                .unwrap();
        }
        acme = start_sealing(&acme_dir, &url, &seals).unwrap();
        api = ProcessApi::of(&acme).unwrap();
    }

    // Every message Acme acknowledged reaches Bolt, and every reply reaches Acme.
    let acked = acked.lock().unwrap().clone();
    wait_texts(&bolt, &bolt_channel, &acked, Duration::from_secs(120))
        .await
        .unwrap();
    wait_until(
        "bolt's replies delivered",
        Duration::from_secs(60),
        async || {
            let Ok(history) = bolt.history(&bolt_channel).await else {
                return false;
            };
            let delivered: HashSet<&str> = history
                .iter()
                .filter(|m| m["direction"] == "out" && m["state"] == "delivered")
                .filter_map(|m| m["text"].as_str())
                .collect();
            replies.iter().all(|r| delivered.contains(r.as_str()))
        },
    )
    .await;

    // Bolt never saw a header reused, and refused nothing.
    let seen = channel(&bolt, &bolt_channel).await.unwrap();
    assert_eq!(seen["integrity"], "ok", "{seen}");
    assert_eq!(rejected(&bolt).await.unwrap(), 0);

    // No key and no (key, nonce) pair sealed twice, by Acme across its 21 lives or by Bolt.
    let mine = sealed_pairs(&seals).unwrap();
    let report = repeats(&mine);
    assert!(report.sealed >= acked.len(), "{report:?}");
    assert_eq!(
        (report.repeated_keys, report.repeated_pairs),
        (0, 0),
        "acme: {report:?}"
    );
    let bolts = seal_report();
    assert_eq!(
        (bolts.repeated_keys, bolts.repeated_pairs),
        (0, 0),
        "bolt: {bolts:?}"
    );
    let all: Vec<_> = mine
        .iter()
        .copied()
        .chain(ochat_protocol::ratchet::seal_log::snapshot())
        .collect();
    assert_eq!(repeats(&all).repeated_keys, 0, "a key used on both sides");
    eprintln!(
        "{ROUNDS} kills: acme sealed {}, acknowledged {}, bolt sealed {}",
        report.sealed,
        acked.len(),
        bolts.sealed
    );
    drop(acme);
}
