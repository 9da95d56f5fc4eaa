//! No key is ever used twice, even after a restore. An operator backs Acme up, the two
//! instances talk on, Acme's machine is lost and last backup restored: before Acme sends on
//! the channel again it re-keys it with Globex (a fresh key agreement signed by both), and the
//! conversation goes on both ways with every message opening. A hook logs every (message key,
//! nonce) pair sealed in this process: no key seals twice. (The log is process-wide: this
//! file holds this one test only; the peer's own protection is in `rollback_rekey.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_tests::node::{TestNode, link, reaching};
use ochat_tests::rekey::{
    backup, channel, record_seals, rejected, restore, seal_report, wait_rekeyed, wait_texts,
};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restored_node_rekeys_before_it_sends_and_no_key_is_used_twice() {
    record_seals();
    let tmp = tempfile::tempdir().unwrap();
    let globex = TestNode::start(ochat_tests::node::test_config(
        &tmp.path().join("globex"),
        "Globex",
        None,
    ))
    .await
    .unwrap();
    let (config, _) = reaching(&globex, &tmp.path().join("acme"), "Acme")
        .await
        .unwrap();
    let mut acme = TestNode::start(config.clone()).await.unwrap();
    let (acme_ch, globex_ch) = link(&acme, &globex).await.unwrap();
    acme.send(&acme_ch, "hello before the backup")
        .await
        .unwrap();
    globex.send(&globex_ch, "hello back").await.unwrap();
    wait_texts(&acme, &acme_ch, &["hello back".into()], WAIT)
        .await
        .unwrap();

    // Last night's backup; then a hundred messages the backup does not hold.
    let file = tmp.path().join("acme.ochatbak");
    backup(&acme, &file).await.unwrap();
    let mut after_backup = Vec::new();
    for n in 0..50 {
        let (a, g) = (
            format!("acme after backup {n}"),
            format!("globex after backup {n}"),
        );
        acme.send(&acme_ch, &a).await.unwrap();
        globex.send(&globex_ch, &g).await.unwrap();
        after_backup.extend([a, g]);
    }
    wait_texts(&acme, &acme_ch, &after_backup, WAIT)
        .await
        .unwrap();
    wait_texts(&globex, &globex_ch, &after_backup, WAIT)
        .await
        .unwrap();

    // Acme's machine is lost; the backup comes back in a new folder.
    acme.stop().await.unwrap();
    let restored_dir = tmp.path().join("acme-restored");
    restore(&file, &restored_dir).await.unwrap();
    let mut restored = config.clone();
    restored.data_dir = restored_dir;
    let acme = TestNode::start(restored).await.unwrap();
    let me = acme
        .ok(reqwest::Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert!(me["restored_from"]["backup"].is_string(), "{me}");
    // The operator sees it too.
    let dir = acme.data_dir.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        ochat_tests::process::ochat(&["channels", "--data-dir", &dir])
    })
    .await
    .unwrap()
    .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("restored from backup") && shown.contains("is not here"),
        "{shown}"
    );

    // Acme sends at once: the message waits for the re-key and is sealed on the new epoch.
    let mut after_restore = Vec::new();
    for n in 0..100 {
        let (a, g) = (
            format!("acme after restore {n}"),
            format!("globex after restore {n}"),
        );
        acme.send(&acme_ch, &a).await.unwrap();
        if n == 0 {
            // Globex learns of the new epoch with Acme's re-key, before Acme's first message.
            wait_rekeyed(&globex, &globex_ch, 1, WAIT).await.unwrap();
        }
        globex.send(&globex_ch, &g).await.unwrap();
        after_restore.extend([a, g]);
    }
    let acme_view = wait_rekeyed(&acme, &acme_ch, 1, WAIT).await.unwrap();
    assert_eq!(acme_view["epoch"], 1, "{acme_view}");
    wait_texts(&acme, &acme_ch, &after_restore, WAIT)
        .await
        .unwrap();
    wait_texts(&globex, &globex_ch, &after_restore, WAIT)
        .await
        .unwrap();
    assert_eq!(
        rejected(&globex).await.unwrap(),
        0,
        "Globex opened every message"
    );
    assert_eq!(
        rejected(&acme).await.unwrap(),
        0,
        "Acme opened every message"
    );
    let globex_view = channel(&globex, &globex_ch).await.unwrap();
    assert_eq!(globex_view["integrity"], "ok", "{globex_view}");

    let report = seal_report();
    eprintln!("seal log: {report:?}");
    assert!(report.sealed >= 302, "every message was logged: {report:?}");
    assert_eq!(
        report.repeated_pairs, 0,
        "no (key, nonce) pair sealed twice"
    );
    assert_eq!(report.repeated_keys, 0, "no message key sealed twice");
}
