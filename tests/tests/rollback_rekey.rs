//! A peer protects itself (issue 28 item 2): when its partner's ratchet went back without
//! any restore mark (a VM snapshot put back by hand), the message that reuses a number with
//! other contents is refused, and the peer asks for a re-key itself; from the new epoch on
//! both ways open again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_tests::hardening::{rewrite_ratchet, stopped_ratchet};
use ochat_tests::node::{TestNode, link, reaching, test_config};
use ochat_tests::rekey::{rejected, wait_rekeyed, wait_texts};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_sees_a_message_number_reused_refuses_it_and_asks_for_a_rekey() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let (b_config, _) = reaching(&acme, &tmp.path().join("bolt"), "Bolt")
        .await
        .unwrap();
    let mut bolt = TestNode::start(b_config.clone()).await.unwrap();
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();

    // A snapshot of Bolt's ratchet is taken, Bolt talks on, then the snapshot is put back
    // by hand: no restore mark, Bolt does not know it went back in time.
    bolt.stop().await.unwrap();
    let snapshot = stopped_ratchet(&b_config.data_dir, &b_ch).unwrap();
    let mut bolt = TestNode::start(b_config.clone()).await.unwrap();
    bolt.send(&b_ch, "before the snapshot came back")
        .await
        .unwrap();
    wait_texts(
        &acme,
        &a_ch,
        &["before the snapshot came back".into()],
        WAIT,
    )
    .await
    .unwrap();
    bolt.stop().await.unwrap();
    rewrite_ratchet(&b_config.data_dir, &b_ch, &snapshot).unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();

    // Bolt seals message 0 of that chain again, with other contents: Acme refuses it and
    // asks for a re-key, which Bolt answers.
    bolt.send(&b_ch, "sealed from the old state").await.unwrap();
    let acme_view = wait_rekeyed(&acme, &a_ch, 1, WAIT).await.unwrap();
    assert_eq!(acme_view["epoch"], 1, "{acme_view}");
    wait_rekeyed(&bolt, &b_ch, 1, WAIT).await.unwrap();
    assert_eq!(
        rejected(&acme).await.unwrap(),
        1,
        "the reused number was refused"
    );

    // From the new epoch on, both ways open.
    bolt.send(&b_ch, "after the re-key").await.unwrap();
    acme.send(&a_ch, "welcome back").await.unwrap();
    wait_texts(&acme, &a_ch, &["after the re-key".into()], WAIT)
        .await
        .unwrap();
    wait_texts(&bolt, &b_ch, &["welcome back".into()], WAIT)
        .await
        .unwrap();
    assert_eq!(
        rejected(&acme).await.unwrap(),
        1,
        "nothing else was refused"
    );
    let texts: Vec<String> = acme
        .history(&a_ch)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect();
    assert!(
        !texts.contains(&"sealed from the old state".to_string()),
        "the message sealed with a used key was never shown: {texts:?}"
    );
}
