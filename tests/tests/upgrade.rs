//! A data folder written by the release before typed tables opens with today's node: the
//! ratchets move out of the channel records into their own table, the history is all there,
//! and both sides (started from the same fixture) still talk in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_tests::node::{TestNode, WAIT};
use ochat_tests::upgrade::{
    ACME_FILE, ACME_SAID, BOLT_SAID, copy_folder, fixture_configs, fixture_v0, wait_sent_all,
    write_fixture,
};
use reqwest::Method;

/// The one channel of a node: its id and how many messages the admin has not read.
async fn only_channel(node: &TestNode) -> (String, u64) {
    let channels = node
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    let channels = channels.as_array().unwrap();
    assert_eq!(channels.len(), 1, "{channels:?}");
    (
        channels[0]["id"].as_str().unwrap().to_string(),
        channels[0]["unread"].as_u64().unwrap(),
    )
}

/// The texts of a history, oldest first, and the names of its files.
fn texts(history: &[serde_json::Value]) -> Vec<String> {
    history
        .iter()
        .map(|m| match m["attachment"]["name"].as_str() {
            Some(name) => format!("file {name}"),
            None => m["text"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_of_the_previous_release_keep_their_history_and_keep_talking() {
    let tmp = tempfile::tempdir().unwrap();
    copy_folder(&fixture_v0(), tmp.path()).unwrap();
    let (a_config, b_config) = fixture_configs(tmp.path()).unwrap();
    let acme = TestNode::start(a_config).await.unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    let ((a_ch, a_unread), (b_ch, b_unread)) =
        (only_channel(&acme).await, only_channel(&bolt).await);
    // Bolt read everything before the upgrade (its read mark carried over); Acme did not.
    assert_eq!((a_unread, b_unread), (3, 0));

    // Everything written before the upgrade is there, in order, on both sides.
    let mut said = Vec::new();
    for (a, b) in ACME_SAID.iter().zip(BOLT_SAID) {
        said.push(a.to_string());
        said.push(b.to_string());
    }
    said.push(format!("file {}", ACME_FILE.0));
    let a_history = acme.history(&a_ch).await.unwrap();
    let b_history = bolt.history(&b_ch).await.unwrap();
    for history in [&a_history, &b_history] {
        let mut got = texts(history);
        got.sort();
        let mut want = said.clone();
        want.sort();
        assert_eq!(got, want);
    }
    assert!(
        a_history
            .iter()
            .filter(|m| m["direction"] == "out")
            .all(|m| m["state"] == "read"),
        "Bolt had read everything Acme sent: {a_history:?}"
    );
    let file = b_history
        .iter()
        .find(|m| m["attachment"]["name"] == ACME_FILE.0)
        .unwrap();
    let download = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/channels/{b_ch}/attachments/{}",
            bolt.api,
            file["attachment"]["id"].as_str().unwrap()
        ))
        .bearer_auth(&bolt.token)
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), ACME_FILE.1);

    // The ratchets carried over: new messages open in both directions.
    acme.send(&a_ch, "after the upgrade, from Acme")
        .await
        .unwrap();
    let got = bolt
        .wait_history(&b_ch, 8, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[7]["text"], "after the upgrade, from Acme");
    bolt.send(&b_ch, "after the upgrade, from Bolt")
        .await
        .unwrap();
    let got = acme
        .wait_history(&a_ch, 9, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[8]["text"], "after the upgrade, from Bolt");
    wait_sent_all(&bolt, &b_ch, "delivered").await.unwrap();
    let mine = acme.history(&a_ch).await.unwrap();
    assert_eq!(mine[7]["state"], "delivered", "{:?}", mine[7]);
}

/// Writes `tests/fixtures/data-v0/` again with the node of this checkout. Run it only on the
/// release the fixture stands for (see the fixture's README): `cargo test -p ochat-tests
/// --test upgrade -- --ignored write_the_data_v0_fixture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the committed fixture; run by hand on the release it stands for"]
async fn write_the_data_v0_fixture() {
    let out = ochat_tests::upgrade::fixture_v0();
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path()).await.unwrap();
    if out.exists() {
        for who in ["acme", "bolt"] {
            let _ = std::fs::remove_dir_all(out.join(who));
        }
    }
    for who in ["acme", "bolt"] {
        ochat_tests::upgrade::copy_folder(&tmp.path().join(who), &out.join(who)).unwrap();
        // The lock and the API address belong to a running node, not to the data.
        for gone in ["ochat.lock", "api.addr"] {
            let _ = std::fs::remove_file(out.join(who).join(gone));
        }
    }
}
