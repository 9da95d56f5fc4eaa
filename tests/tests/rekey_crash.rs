//! A re-key survives a crash mid-way: Acme is restored while Globex is down, so its re-key
//! request is stored and cannot be answered; Acme stops (a crash, as far as the re-key is
//! concerned) with the request pending. When both are back, Acme sends the same stored request
//! again (Globex's answer names its hash), the channel reaches epoch 1 on both sides, and
//! messages flow both ways. And when both sides come back from backups at once, both ask, and
//! they still agree on one new epoch (the lower UUID's request wins).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_protocol::rekey::rekey_request_hash;
use ochat_tests::node::{TestNode, link, reaching, test_config};
use ochat_tests::rekey::{
    backup, channel, p2p_listen_of, rejected, restore, stopped_answered_hash,
    stopped_pending_request, wait_rekeyed, wait_texts,
};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rekey_request_stored_before_a_crash_is_sent_again_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g_config = test_config(&tmp.path().join("globex"), "Globex", None);
    let mut globex = TestNode::start(g_config.clone()).await.unwrap();
    g_config.p2p_listen = vec![p2p_listen_of(&globex).await.unwrap()];
    let (a_config, _) = reaching(&globex, &tmp.path().join("acme"), "Acme")
        .await
        .unwrap();
    let mut acme = TestNode::start(a_config.clone()).await.unwrap();
    let (a_ch, g_ch) = link(&acme, &globex).await.unwrap();
    let file = tmp.path().join("acme.ochatbak");
    backup(&acme, &file).await.unwrap();
    acme.send(&a_ch, "after the backup").await.unwrap();
    wait_texts(&globex, &g_ch, &["after the backup".into()], WAIT)
        .await
        .unwrap();

    // Globex is down when Acme comes back from its backup: the re-key request waits.
    globex.stop().await.unwrap();
    acme.stop().await.unwrap();
    let restored_dir = tmp.path().join("acme-restored");
    restore(&file, &restored_dir).await.unwrap();
    let mut r_config = a_config.clone();
    r_config.data_dir = restored_dir.clone();
    let mut acme = TestNode::start(r_config.clone()).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = channel(&acme, &a_ch).await.unwrap();
        if view["rekey_requested"] == true {
            assert!(view["rekey_needed"].is_string(), "{view}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acme.stop().await.unwrap();
    let pending = stopped_pending_request(&restored_dir, &a_ch)
        .unwrap()
        .expect("the request survives the stop");

    // Both come back: the same request is sent and answered.
    let mut globex = TestNode::start(g_config.clone()).await.unwrap();
    let acme = TestNode::start(r_config).await.unwrap();
    wait_rekeyed(&acme, &a_ch, 1, WAIT).await.unwrap();
    wait_rekeyed(&globex, &g_ch, 1, WAIT).await.unwrap();
    acme.send(&a_ch, "after the re-key").await.unwrap();
    globex.send(&g_ch, "welcome back").await.unwrap();
    wait_texts(&globex, &g_ch, &["after the re-key".into()], WAIT)
        .await
        .unwrap();
    wait_texts(&acme, &a_ch, &["welcome back".into()], WAIT)
        .await
        .unwrap();
    assert_eq!(rejected(&globex).await.unwrap(), 0);
    assert_eq!(rejected(&acme).await.unwrap(), 0);
    globex.stop().await.unwrap();
    assert_eq!(
        stopped_answered_hash(&g_config.data_dir, &g_ch).unwrap(),
        Some(rekey_request_hash(&pending)),
        "Globex answered the request Acme stored before its crash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_sides_restored_at_once_agree_on_one_new_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g_config = test_config(&tmp.path().join("globex"), "Globex", None);
    let mut globex = TestNode::start(g_config.clone()).await.unwrap();
    g_config.p2p_listen = vec![p2p_listen_of(&globex).await.unwrap()];
    let (mut a_config, _) = reaching(&globex, &tmp.path().join("acme"), "Acme")
        .await
        .unwrap();
    let mut acme = TestNode::start(a_config.clone()).await.unwrap();
    a_config.p2p_listen = vec![p2p_listen_of(&acme).await.unwrap()];
    let (a_ch, g_ch) = link(&acme, &globex).await.unwrap();
    acme.send(&a_ch, "hello").await.unwrap();
    wait_texts(&globex, &g_ch, &["hello".into()], WAIT)
        .await
        .unwrap();
    let (a_file, g_file) = (tmp.path().join("a.ochatbak"), tmp.path().join("g.ochatbak"));
    backup(&acme, &a_file).await.unwrap();
    backup(&globex, &g_file).await.unwrap();
    for n in 0..5 {
        acme.send(&a_ch, &format!("a{n}")).await.unwrap();
        globex.send(&g_ch, &format!("g{n}")).await.unwrap();
    }
    wait_texts(&acme, &a_ch, &["g4".into()], WAIT)
        .await
        .unwrap();

    // Both sites lose their machines and come back from their backups at the same time:
    // both ask for a re-key at once.
    acme.stop().await.unwrap();
    globex.stop().await.unwrap();
    a_config.data_dir = tmp.path().join("acme-restored");
    g_config.data_dir = tmp.path().join("globex-restored");
    restore(&a_file, &a_config.data_dir).await.unwrap();
    restore(&g_file, &g_config.data_dir).await.unwrap();
    let (acme, globex) = tokio::join!(
        TestNode::start(a_config.clone()),
        TestNode::start(g_config.clone())
    );
    let (acme, globex) = (acme.unwrap(), globex.unwrap());
    let a_view = wait_rekeyed(&acme, &a_ch, 1, WAIT).await.unwrap();
    let g_view = wait_rekeyed(&globex, &g_ch, 1, WAIT).await.unwrap();
    assert_eq!(a_view["epoch"], g_view["epoch"], "{a_view} {g_view}");
    let (mut to_g, mut to_a) = (Vec::new(), Vec::new());
    for n in 0..20 {
        let (a, g) = (format!("acme again {n}"), format!("globex again {n}"));
        acme.send(&a_ch, &a).await.unwrap();
        globex.send(&g_ch, &g).await.unwrap();
        to_g.push(a);
        to_a.push(g);
    }
    wait_texts(&globex, &g_ch, &to_g, WAIT).await.unwrap();
    wait_texts(&acme, &a_ch, &to_a, WAIT).await.unwrap();
    assert_eq!(rejected(&globex).await.unwrap(), 0);
    assert_eq!(rejected(&acme).await.unwrap(), 0);
}
