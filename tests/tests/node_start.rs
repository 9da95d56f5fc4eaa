//! A new user starts a node: `ochat run` on embedded defaults.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_tests::process::{NodeProcess, ochat};

const START: Duration = Duration::from_secs(10);

/// The Instance UUID derived from the Ed25519 key inside a libp2p peer id.
fn derived_from_peer_id(peer_id: &str) -> String {
    let peer: libp2p::PeerId = peer_id.parse().unwrap();
    let key = libp2p::identity::PublicKey::try_decode_protobuf(peer.as_ref().digest())
        .unwrap()
        .try_into_ed25519()
        .unwrap();
    let public = ochat_protocol::identity::PublicIdentity::from_bytes(&key.to_bytes()).unwrap();
    ochat_protocol::identity::InstanceId::derived_from(&public).to_string()
}

fn stdout_lines(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn a_new_user_starts_a_node_and_gets_a_uuid_that_stays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ochat-data");

    let node = NodeProcess::start(&data, &["--name", "Acme Corp"], START).unwrap();
    assert!(
        node.startup < Duration::from_secs(1),
        "the node took {:?} to publish its API address",
        node.startup
    );
    let uuid_out = ochat(&["uuid", "--data-dir", data.to_str().unwrap()]).unwrap();
    assert!(uuid_out.status.success());
    let uuid = stdout_lines(&uuid_out).trim().to_string();
    // A new identity's UUID is the self-certifying one, derived from its key.
    assert_eq!(uuid::Uuid::parse_str(&uuid).unwrap().get_version_num(), 8);

    // The API tells who we are, only with the admin token.
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/instance", node.api);
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = http
        .get(&url)
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let me: serde_json::Value = http
        .get(&url)
        .bearer_auth(node.admin_token().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["uuid"], uuid.as_str());
    assert_eq!(me["name"], "Acme Corp");
    assert!(me["peer_id"].as_str().unwrap().starts_with("12D3KooW"));
    assert_eq!(derived_from_peer_id(me["peer_id"].as_str().unwrap()), uuid);

    let out = node.terminate(START).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = stdout_lines(&out);
    assert!(
        printed.contains(&format!("Instance UUID: {uuid}")),
        "{printed}"
    );
    assert!(
        printed.contains("API:           http://127.0.0.1:"),
        "{printed}"
    );
    assert!(printed.contains("Stopped; data flushed."), "{printed}");

    // A second start on the same folder keeps the same identity.
    let again = NodeProcess::start(&data, &[], START).unwrap();
    let me_again: serde_json::Value = http
        .get(format!("{}/api/v1/instance", again.api))
        .bearer_auth(again.admin_token().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me_again["uuid"], uuid.as_str());
    assert_eq!(me_again["peer_id"], me["peer_id"]);
    again.terminate(START).unwrap();
}

#[test]
fn a_second_node_on_the_same_folder_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = NodeProcess::start(&data, &[], START).unwrap();
    let second = ochat(&[
        "run",
        "--data-dir",
        data.to_str().unwrap(),
        "--api-listen",
        "127.0.0.1:0",
    ])
    .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The first node is unharmed.
    assert!(std::fs::read_to_string(data.join("api.addr")).is_ok());
    first.terminate(START).unwrap();
}

#[test]
fn secrets_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = NodeProcess::start(&data, &[], START).unwrap();
    for f in ["identity.key", "admin.token"] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    node.terminate(START).unwrap();
}

#[test]
fn uuid_on_an_empty_folder_says_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = ochat(&["uuid", "--data-dir", dir.path().to_str().unwrap()]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ochat run"), "{err}");
}

#[test]
fn a_folder_from_before_derived_uuids_keeps_its_random_uuid() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let legacy = ochat_tests::legacy::folder_with_random_uuid(&data, "Old Corp").unwrap();
    for _ in 0..2 {
        let node = NodeProcess::start(&data, &[], START).unwrap();
        let out = ochat(&["uuid", "--data-dir", data.to_str().unwrap()]).unwrap();
        assert_eq!(stdout_lines(&out).trim(), legacy.to_string());
        node.terminate(START).unwrap();
    }
}

#[test]
fn a_uuid_that_belongs_to_another_key_stops_the_start_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    NodeProcess::start(&data, &[], START)
        .unwrap()
        .terminate(START)
        .unwrap();
    // Someone copies another instance's instance.json (its derived UUID) next to their own key.
    let other = ochat_protocol::identity::IdentityKey::generate().unwrap();
    let theirs = ochat_protocol::identity::InstanceId::derived_from(&other.public());
    let text = format!("{{\"uuid\":\"{theirs}\",\"name\":\"Acme\"}}");
    std::fs::write(data.join("instance.json"), &text).unwrap();

    let err = NodeProcess::start(&data, &[], START)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exited early"), "{err}");
    assert!(err.contains(&theirs.to_string()), "{err}");
    assert!(err.contains("belongs to another identity key"), "{err}");
    assert!(err.contains("a new key means a new UUID"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        std::fs::read_to_string(data.join("instance.json")).unwrap(),
        text
    );
}
