//! Backups and restores: an operator backs a running node up with `ochat backup` while
//! messages flow, loses the machine, restores the file into a new folder with `ochat restore`
//! and starts the node again: same instance, same keys, every message acknowledged before the
//! backup began is there and readable, and the node says it was restored (in the API and in
//! the console).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ochat_tests::admin_console::admin_login;
use ochat_tests::node::{TestNode, link, reaching, test_config};
use ochat_tests::process::ochat;
use ochat_tests::web::Driver;
use reqwest::Method;

fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = ochat(args).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_backed_up_while_messages_flow_comes_back_whole_from_its_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let globex = TestNode::start(test_config(&tmp.path().join("globex"), "Globex", None))
        .await
        .unwrap();
    let (config, _) = reaching(&globex, &tmp.path().join("acme"), "Acme")
        .await
        .unwrap();
    let acme = Arc::new(TestNode::start(config).await.unwrap());
    let (acme_channel, globex_channel) = link(&acme, &globex).await.unwrap();
    for n in 0..50 {
        acme.send(&acme_channel, &format!("acme {n}"))
            .await
            .unwrap();
        globex
            .send(&globex_channel, &format!("globex {n}"))
            .await
            .unwrap();
    }
    acme.wait_history(&acme_channel, 100, Duration::from_secs(30))
        .await
        .unwrap();

    // Acme keeps writing while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (acme, channel, stop, acked) = (
            acme.clone(),
            acme_channel.clone(),
            stop.clone(),
            acked.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                if acme.send(&channel, &format!("during {n}")).await.is_ok() {
                    acked.store(n + 1, Ordering::SeqCst);
                    n += 1;
                }
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked_before_backup = acked.load(Ordering::SeqCst);
    let file = tmp.path().join("acme.ochatbak");
    let (data_dir, file_arg) = (
        acme.data_dir.display().to_string(),
        file.display().to_string(),
    );
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_cli(&["backup", "--data-dir", &data_dir, "--to", &file_arg])
    })
    .await
    .unwrap();
    assert!(ok, "ochat backup failed: {stderr}");
    assert!(stdout.contains("Keep this file secret"), "{stdout}");
    let direct = reqwest::Client::new()
        .post(format!("{}/api/v1/backup", acme.api))
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    let frozen = direct.headers()["x-ochat-backup-frozen-ms"]
        .to_str()
        .unwrap()
        .to_string();
    let entries = direct.headers()["x-ochat-backup-entries"]
        .to_str()
        .unwrap()
        .to_string();
    eprintln!("a second backup under load: writes waited {frozen} ms for {entries} entries");
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert!(
        acked.load(Ordering::SeqCst) > acked_before_backup,
        "the writer kept going during the backup"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup is readable by its owner only");
    }
    assert!(
        std::fs::read_dir(&acme.data_dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(".backup")),
        "the node leaves no temporary backup behind"
    );
    let uuid = acme.uuid.clone();
    let mut acme = Arc::try_unwrap(acme).unwrap();
    acme.stop().await.unwrap();

    // The machine is lost; the backup is restored into a new folder.
    let restored_dir = tmp.path().join("acme-restored");
    let (ok, stdout, stderr) = run_cli(&[
        "restore",
        "--from",
        &file.display().to_string(),
        "--data-dir",
        &restored_dir.display().to_string(),
    ]);
    assert!(ok, "ochat restore failed: {stderr}");
    assert!(stdout.contains("Restored Acme"), "{stdout}");
    let (ok, _, stderr) = run_cli(&[
        "restore",
        "--from",
        &file.display().to_string(),
        "--data-dir",
        &restored_dir.display().to_string(),
    ]);
    assert!(!ok && stderr.contains("is not empty"), "{stderr}");

    let back = TestNode::start(test_config(&restored_dir, "Acme", None))
        .await
        .unwrap();
    assert_eq!(back.uuid, uuid, "the same instance");
    let me = back
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert!(
        me["restored_from"]["backup"].is_string(),
        "the node says it was restored: {me}"
    );
    // The console tells the administrator too.
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    admin_login(&console, &back.api, &back.token).await.unwrap();
    console
        .wait_js(
            "the console says the node was restored",
            "(document.getElementById('restored').textContent || '')\
             .includes('restored from a backup taken')",
        )
        .await
        .unwrap();
    console.close().await.unwrap();
    let texts: Vec<String> = back
        .history(&acme_channel)
        .await
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect();
    for n in 0..50 {
        assert!(texts.contains(&format!("acme {n}")), "acme {n} is back");
        assert!(texts.contains(&format!("globex {n}")), "globex {n} is back");
    }
    for n in 0..acked_before_backup {
        assert!(
            texts.contains(&format!("during {n}")),
            "'during {n}', acknowledged before the backup began, is back"
        );
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    eprintln!(
        "backup: {bytes} bytes for {} messages ({} bytes per message)",
        texts.len(),
        bytes / texts.len() as u64
    );
}

#[tokio::test]
async fn only_the_admin_token_takes_a_backup_and_a_damaged_file_restores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let node = TestNode::start(test_config(&tmp.path().join("n"), "Acme", None))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for auth in [None, Some("wrong-token")] {
        let mut req = http.post(format!("{}/api/v1/backup", node.api));
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    let resp = http
        .post(format!("{}/api/v1/backup", node.api))
        .bearer_auth(&node.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let file = tmp.path().join("damaged.ochatbak");
    std::fs::write(&file, &bytes).unwrap();
    let target = tmp.path().join("target");
    let (ok, _, stderr) = run_cli(&[
        "restore",
        "--from",
        &file.display().to_string(),
        "--data-dir",
        &target.display().to_string(),
    ]);
    assert!(!ok, "a damaged backup is refused");
    assert!(stderr.contains("not a usable ochat backup"), "{stderr}");
    assert!(
        !target.exists() || std::fs::read_dir(&target).unwrap().next().is_none(),
        "nothing is left in the target folder"
    );
}
