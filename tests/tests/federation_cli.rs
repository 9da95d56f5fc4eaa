//! Two organisations link their nodes with nothing but the `ochat` command: real processes,
//! a real directory, the CLI reading each node's API address and admin token from its folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::Path;
use std::time::Duration;

use ochat_node::directory::server::DirectoryServer;
use ochat_tests::process::{NodeProcess, ochat};
use serde_json::Value;

const START: Duration = Duration::from_secs(15);

fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap()]);
    let out = ochat(&all).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = run(dir, &all);
    assert!(ok, "ochat {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organisations_link_and_reject_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let directory = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", directory.addr);
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let flags = |name: &'static str| {
        vec![
            "--directory".to_string(),
            url.clone(),
            "--listen".into(),
            "/ip4/127.0.0.1/tcp/0".into(),
            "--name".into(),
            name.into(),
        ]
    };
    let start = |dir: &Path, name: &'static str| {
        let f = flags(name);
        let refs: Vec<&str> = f.iter().map(String::as_str).collect();
        NodeProcess::start(dir, &refs, START).unwrap()
    };
    let _acme = start(&a, "Acme");
    let _bolt = start(&b, "Bolt");
    let _core = start(&c, "Core");
    let uuid_of = |dir: &Path| run(dir, &["uuid"]).1.trim().to_string();
    let (bolt_uuid, core_uuid, acme_uuid) = (uuid_of(&b), uuid_of(&c), uuid_of(&a));

    // Acme asks Bolt; the request shows up in Bolt's incoming list.
    let sent = wait_until_sent(&a, &bolt_uuid);
    assert_eq!(sent["status"], "Pending");
    let id = sent["id"].as_str().unwrap().to_string();
    let mut incoming = Value::Null;
    wait_for("Bolt's incoming request", || {
        let list = json(&b, &["connections", "--incoming"]);
        incoming = list[0].clone();
        incoming["status"] == "Pending"
    });
    assert_eq!(incoming["remote_uuid"], acme_uuid.as_str());
    assert_eq!(incoming["message"], "hello from Acme");

    // Bolt accepts by a short id prefix; Acme sees Accepted with `connection show`.
    let prefix = &incoming["id"].as_str().unwrap()[..13];
    let accepted = json(
        &b,
        &["connection", "accept", prefix, "--contact", "Acme Inc"],
    );
    assert_eq!(accepted["status"], "Accepted");
    wait_for("Acme's accepted connection", || {
        json(&a, &["connection", "show", &id])["status"] == "Accepted"
    });
    let (ok, shown, _) = run(&a, &["connection", "show", &id]);
    assert!(ok && shown.contains("status:     Accepted"), "{shown}");

    // Acme asks Core; Core rejects with a reason; Acme reads it.
    let to_core = json(&a, &["connect", &core_uuid, "--contact", "Core"]);
    let core_id = to_core["id"].as_str().unwrap().to_string();
    let mut at_core = Value::Null;
    wait_for("Core's incoming request", || {
        at_core = json(&c, &["connections", "--incoming", "--status", "pending"])[0].clone();
        at_core.is_object()
    });
    json(
        &c,
        &[
            "connection",
            "reject",
            at_core["id"].as_str().unwrap(),
            "--reason",
            "Not now",
        ],
    );
    wait_for("Acme's rejected connection", || {
        json(&a, &["connection", "show", &core_id])["status"] == "Rejected"
    });
    let (_, shown, _) = run(&a, &["connection", "show", &core_id]);
    assert!(shown.contains("reason:     Not now"), "{shown}");

    // Illegal: accepting one's own outgoing request gives a clear error and a failing exit
    // code.
    let (ok, _, err) = run(&a, &["connection", "accept", &id, "--contact", "Bolt"]);
    assert!(!ok);
    assert!(err.contains("cannot accept an outgoing request"), "{err}");
    // The table view lists both.
    let (_, table, _) = run(&a, &["connections"]);
    assert!(
        table.contains("Accepted") && table.contains("Rejected"),
        "{table}"
    );
}

/// `ochat connect` right after start: the target may still be registering, so a Not Found is
/// retried the way a user would (`connection retry`).
fn wait_until_sent(a: &Path, uuid: &str) -> Value {
    let c = json(
        a,
        &[
            "connect",
            uuid,
            "--contact",
            "Bolt",
            "--message",
            "hello from Acme",
        ],
    );
    let id = c["id"].as_str().unwrap().to_string();
    let mut now = c;
    wait_for("the request to be pending", || {
        if now["status"] == "Not Found" {
            now = json(a, &["connection", "retry", &id]);
        } else {
            now = json(a, &["connection", "show", &id]);
        }
        now["status"] == "Pending"
    });
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_listed_with_auto_accept_is_linked_without_a_click() {
    let tmp = tempfile::tempdir().unwrap();
    let directory = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", directory.addr);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let common = ["--directory", &url, "--listen", "/ip4/127.0.0.1/tcp/0"];
    let _acme =
        NodeProcess::start(&a, &[&common[..], &["--name", "Acme"]].concat(), START).unwrap();
    let acme_uuid = run(&a, &["uuid"]).1.trim().to_string();

    // A value that is no UUID is refused before anything is created.
    let refused = tmp.path().join("refused");
    let out = ochat(&[
        "run",
        "--data-dir",
        refused.to_str().unwrap(),
        "--auto-accept",
        "acme",
    ])
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'acme' is not an Instance UUID, 'any' or 'off'"),
        "{err}"
    );
    assert!(
        !refused.exists(),
        "nothing may be created for a refused start"
    );

    // Bolt accepts Acme by itself; the start banner says so.
    let bolt_flags = [
        &common[..],
        &["--name", "Bolt", "--auto-accept", &acme_uuid],
    ]
    .concat();
    let bolt = NodeProcess::start(&b, &bolt_flags, START).unwrap();
    let bolt_uuid = run(&b, &["uuid"]).1.trim().to_string();
    // Bolt may still be registering: a Not Found is retried. The request goes from Pending to
    // Accepted within milliseconds, so only Accepted is waited for.
    let sent = json(&a, &["connect", &bolt_uuid]);
    let id = sent["id"].as_str().unwrap().to_string();
    wait_for("Acme's connection to be accepted", || {
        let now = json(&a, &["connection", "show", &id]);
        if now["status"] == "Not Found" {
            json(&a, &["connection", "retry", &id]);
        }
        now["status"] == "Accepted"
    });
    let at_bolt = json(&b, &["connections", "--incoming"])[0].clone();
    assert_eq!(at_bolt["status"], "Accepted");
    assert_eq!(
        at_bolt["contact"], "Acme",
        "the requester's name is the contact"
    );
    assert!(at_bolt["channel_id"].is_string());
    let out = bolt.terminate(Duration::from_secs(15)).unwrap();
    let banner = String::from_utf8_lossy(&out.stdout);
    assert!(
        banner.contains(&format!("Auto-accept:   {acme_uuid}")),
        "{banner}"
    );
}
