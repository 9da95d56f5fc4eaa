//! Protocol hardening (issue 33) between real nodes: a partner sealing from a restored older
//! copy of its ratchet is refused and the channel says so; a duplicate arriving after the
//! receiver lost a ratchet write leaves no skipped key behind; attachments of a few MiB, and
//! those an older peer sent in 256 KiB chunks, arrive intact with no stored value near sled's
//! blob threshold (where it would not be durable).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::store::{MAX_VALUE_LEN, trees};
use ochat_protocol::message::{AckStatus, Body};
use ochat_protocol::ratchet::Ratchet;
use ochat_tests::hardening::{Impostor, rewrite_ratchet, stopped_ratchet};
use ochat_tests::node::{TestNode, link, open_stopped, reaching, test_config};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Acme and Bolt, linked; returns them with Acme's and Bolt's channel ids.
async fn linked(tmp: &std::path::Path) -> (TestNode, TestNode, String, String) {
    let acme = TestNode::start(test_config(&tmp.join("a"), "Acme", None))
        .await
        .unwrap();
    let (b_config, _) = reaching(&acme, &tmp.join("b"), "Bolt").await.unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();
    (acme, bolt, a_ch, b_ch)
}

async fn channel_view(node: &TestNode, channel: &str) -> Value {
    let all = node
        .ok(Method::GET, "/api/v1/channels", None)
        .await
        .unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == channel)
        .cloned()
        .unwrap()
}

/// The largest value in any tree of the stopped node in `dir`.
fn largest_value(dir: &std::path::Path) -> (String, usize) {
    let (store, _) = open_stopped(dir).unwrap();
    let mut largest = (String::new(), 0);
    for name in trees::ALL {
        let tree = store.tree(name).unwrap();
        for item in tree.iter() {
            let (_, v) = item.unwrap();
            if v.len() > largest.1 {
                largest = (name.to_string(), v.len());
            }
        }
    }
    largest
}

fn text(s: &str) -> Body {
    Body::Text(s.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_sending_from_a_restored_backup_is_refused_and_the_channel_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, mut bolt, a_ch, b_ch) = linked(tmp.path()).await;
    assert_eq!(channel_view(&acme, &a_ch).await["integrity"], "ok");

    // Bolt's data folder is backed up, Bolt writes, then the backup is restored.
    bolt.stop().await.unwrap();
    let bolt_side = Impostor::take_over(&tmp.path().join("b"), &b_ch, &bolt.uuid)
        .await
        .unwrap();
    let mut live = bolt_side.restore().unwrap();
    let first = bolt_side
        .seal(&mut live, text("written before the restore"))
        .unwrap();
    assert_eq!(
        bolt_side.deliver(&acme, vec![first]).await.unwrap(),
        vec![AckStatus::Stored]
    );
    let mut restored = bolt_side.restore().unwrap();
    let again = bolt_side
        .seal(&mut restored, text("written after the restore"))
        .unwrap();
    let acks = bolt_side.deliver(&acme, vec![again]).await.unwrap();

    let AckStatus::Rejected(reason) = &acks[0] else {
        panic!("{acks:?}")
    };
    assert!(reason.contains("header reused"), "{reason}");
    let view = channel_view(&acme, &a_ch).await;
    assert_eq!(view["integrity"], "peer_rolled_back", "{view}");
    assert_eq!(view["rollback"]["last_message_number"], 0, "{view}");
    assert_eq!(view["rollback"]["count"], 1, "{view}");
    let shown = acme.history(&a_ch).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["text"], "written before the restore");
    bolt_side.net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_after_a_lost_ratchet_write_leaves_no_skipped_key_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut acme, mut bolt, a_ch, b_ch) = linked(tmp.path()).await;
    let a_dir = tmp.path().join("a");
    bolt.stop().await.unwrap();
    let bolt_side = Impostor::take_over(&tmp.path().join("b"), &b_ch, &bolt.uuid)
        .await
        .unwrap();
    acme.stop().await.unwrap();
    let before = stopped_ratchet(&a_dir, &a_ch).unwrap();
    acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();

    let mut ratchet = bolt_side.restore().unwrap();
    let sent: Vec<_> = (0..3)
        .map(|i| {
            bolt_side
                .seal(&mut ratchet, text(&format!("m{i}")))
                .unwrap()
        })
        .collect();
    assert_eq!(
        bolt_side.deliver(&acme, sent[..2].to_vec()).await.unwrap(),
        vec![AckStatus::Stored, AckStatus::Stored]
    );

    // A crash lost Acme's ratchet write but not the two messages (sled keeps a log prefix
    // only in the order written; here we put the older ratchet back by hand).
    acme.stop().await.unwrap();
    rewrite_ratchet(&a_dir, &a_ch, &before).unwrap();
    acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();

    // Bolt, unanswered, sends the whole batch again.
    assert_eq!(
        bolt_side.deliver(&acme, sent.clone()).await.unwrap(),
        vec![
            AckStatus::Duplicate,
            AckStatus::Duplicate,
            AckStatus::Stored
        ]
    );
    let texts: Vec<String> = acme
        .history(&a_ch)
        .await
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, vec!["m0", "m1", "m2"]);
    acme.stop().await.unwrap();
    let ratchet: Ratchet = stopped_ratchet(&a_dir, &a_ch).unwrap().unpickle().unwrap();
    assert_eq!(
        ratchet.skipped_keys(),
        0,
        "the keys of the duplicates stayed behind: they would open the recorded messages"
    );
    bolt_side.net.shutdown().await;
}

async fn download(node: &TestNode, channel: &str, attachment: &str) -> Vec<u8> {
    reqwest::Client::new()
        .get(format!(
            "{}/api/v1/channels/{channel}/attachments/{attachment}",
            node.api
        ))
        .bearer_auth(&node.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_mebibyte_attachment_round_trips_and_no_stored_value_nears_the_blob_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut acme, mut bolt, a_ch, b_ch) = linked(tmp.path()).await;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = hex::encode(Sha256::digest(&data));
    let sent: Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/channels/{a_ch}/attachments?name=big.bin",
            acme.api
        ))
        .bearer_auth(&acme.token)
        .body(data.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["attachment"]["sha256"], digest.as_str(), "{sent}");
    let history = bolt
        .wait_history(&b_ch, 1, Duration::from_secs(60))
        .await
        .unwrap();
    let meta = &history[0]["attachment"];
    assert_eq!(meta["complete"], true, "{meta}");
    let got = download(&bolt, &b_ch, meta["id"].as_str().unwrap()).await;
    assert_eq!(hex::encode(Sha256::digest(&got)), digest);

    acme.stop().await.unwrap();
    bolt.stop().await.unwrap();
    for dir in ["a", "b"] {
        let (tree, len) = largest_value(&tmp.path().join(dir));
        assert!(
            len <= MAX_VALUE_LEN,
            "node {dir} stored a value of {len} bytes in {tree}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_an_older_peer_sent_in_256_kib_chunks_is_stored_in_pieces_and_downloads_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut acme, mut bolt, a_ch, b_ch) = linked(tmp.path()).await;
    bolt.stop().await.unwrap();
    let older = Impostor::take_over(&tmp.path().join("b"), &b_ch, &bolt.uuid)
        .await
        .unwrap();
    let data: Vec<u8> = (0..600 * 1024u32).map(|i| (i % 251) as u8).collect();
    let attachment = uuid::Uuid::now_v7();
    let mut ratchet = older.restore().unwrap();
    let mut messages = Vec::new();
    let pieces: Vec<&[u8]> = data.chunks(256 * 1024).collect();
    for (index, piece) in pieces.iter().enumerate() {
        let chunk = Body::Chunk {
            attachment,
            index: index as u32,
            data: piece.to_vec(),
        };
        messages.push(older.seal(&mut ratchet, chunk).unwrap());
    }
    let file = Body::Attachment {
        attachment,
        name: "old.bin".into(),
        mime: "application/octet-stream".into(),
        size: data.len() as u64,
        sha256: Sha256::digest(&data).into(),
        chunks: pieces.len() as u32,
    };
    messages.push(older.seal(&mut ratchet, file).unwrap());
    let acks = older.deliver(&acme, messages).await.unwrap();
    assert!(acks.iter().all(|a| *a == AckStatus::Stored), "{acks:?}");
    let history = acme.history(&a_ch).await.unwrap();
    assert_eq!(history[0]["attachment"]["complete"], true, "{history:?}");
    let got = download(&acme, &a_ch, &attachment.to_string()).await;
    assert_eq!(got, data);
    older.net.shutdown().await;

    acme.stop().await.unwrap();
    let (tree, len) = largest_value(&tmp.path().join("a"));
    assert!(len <= MAX_VALUE_LEN, "a value of {len} bytes in {tree}");
}

/// Polls a connection (by remote UUID) until its `keys` field is `want`.
async fn wait_keys(node: &TestNode, remote: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let all = node.connections().await.unwrap();
        let c = all
            .iter()
            .find(|c| c["remote_uuid"] == remote)
            .cloned()
            .unwrap();
        if c["keys"] == want {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "{c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_of_a_new_connection_confirm_the_same_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (acme, bolt, a_ch, b_ch) = linked(tmp.path()).await;
    // Bolt asked, Acme accepted: Bolt checked Acme's MAC in the answer, Acme Bolt's in the
    // acknowledgement.
    wait_keys(&bolt, &acme.uuid, "confirmed").await;
    wait_keys(&acme, &bolt.uuid, "confirmed").await;
    bolt.send(&b_ch, "after confirmation").await.unwrap();
    acme.wait_history(&a_ch, 1, Duration::from_secs(20))
        .await
        .unwrap();
}

/// A peer (a real key, record and libp2p node of its own) accepts Acme's request at once, but
/// its key confirmation does not match what Acme derives: Acme makes no channel and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptance_whose_key_confirmation_does_not_match_leaves_a_clear_state_and_no_channel() {
    use ochat_protocol::agreement::request_hash;
    use ochat_protocol::identity::{IdentityKey, InstanceId};
    use ochat_protocol::sign::Signed;
    use ochat_protocol::wire::{
        ConnectionAnswer, ConnectionRequest, HandshakeBody, HandshakeResponse, RemoteView, Verdict,
    };
    use ochat_tests::forge;

    let tmp = tempfile::tempdir().unwrap();
    let key = IdentityKey::generate().unwrap();
    let (net, mut inbound) = forge::raw_peer(&key.secret_bytes()).await.unwrap();
    let uuid = InstanceId::derived_from(&key.public());
    let addr = tokio::time::timeout(Duration::from_secs(10), net.wait_listening())
        .await
        .unwrap()
        .unwrap()[0]
        .clone();
    let peer = ochat_node::network::peer_id_of(&key.public()).unwrap();
    let mut config = test_config(&tmp.path().join("acme"), "Acme", None);
    config.peers = vec![(uuid.to_string(), format!("{addr}/p2p/{peer}"))];
    let acme = TestNode::start(config).await.unwrap();

    let sent = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": uuid.to_string(), "send": true})),
        )
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_string();
    let got = tokio::time::timeout(Duration::from_secs(20), inbound.recv())
        .await
        .unwrap()
        .unwrap();
    let HandshakeBody::Request(signed) = &got.envelope.body else {
        panic!("expected a request")
    };
    let acme_key = ochat_protocol::record::verify_record(&got.envelope.record)
        .unwrap()
        .identity;
    let request: ConnectionRequest = signed.open(&acme_key).unwrap();
    assert!(request.prekey.is_some(), "a request names its pre-key");
    // A valid X25519 public key of a fresh secret.
    let point = |_: u8| {
        use ochat_protocol::ratchet::{KeySource, OsRandom};
        let secret = OsRandom.next_ratchet_secret().unwrap();
        let root = ochat_protocol::agreement::RootSecret::from_bytes([1; 32]);
        Ratchet::init_responder(root, &secret)
            .unwrap()
            .public_key()
            .to_bytes()
    };
    let answer = ConnectionAnswer {
        request_id: request.request_id,
        from: uuid,
        to: request.from,
        verdict: Verdict::Accepted {
            ephemeral: point(5),
        },
        sent_at_ms: 1,
        request_hash: Some(request_hash(&signed.body)),
        prekey: Some(point(6)),
        confirmation: Some([0u8; 32]),
    };
    assert!(got.respond(HandshakeResponse::Status {
        record: forge::record(uuid, &key, "Wrong Keys").unwrap(),
        view: RemoteView::Decided(Signed::seal(&answer, &key).unwrap()),
    }));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let now = acme.connection(&id).await.unwrap();
        if now["keys"] == "mismatch" {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(shown["channel_id"].is_null(), "{shown}");
    assert_ne!(shown["status"], "Accepted", "{shown}");
    let why = shown["delivery_error"].as_str().unwrap_or_default();
    assert!(why.contains("key confirmation"), "{shown}");
    net.shutdown().await;
}

/// Bolt asks Acme; while the request waits for Acme's decision, Bolt restarts a week later and
/// rotates its pre-key. The answer, made with the pre-key the request named, still gives both
/// sides the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_before_a_pre_key_rotation_still_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("a"), "Acme", None))
        .await
        .unwrap();
    let b_dir = tmp.path().join("b");
    let (b_config, _) = reaching(&acme, &b_dir, "Bolt").await.unwrap();
    let mut bolt = TestNode::start(b_config.clone()).await.unwrap();
    let sent = bolt
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": acme.uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_string();
    let incoming = acme
        .wait_incoming_from(&bolt.uuid, "Pending")
        .await
        .unwrap();

    // A week passes: Bolt's next start rotates its pre-key.
    bolt.stop().await.unwrap();
    let key_path = b_dir.join("identity.key");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&key_path).unwrap()).unwrap();
    let old_prekey = file["prekey"].clone();
    let created = file["prekey_created_ms"].as_u64().unwrap();
    file["prekey_created_ms"] = (created - ochat_node::data_dir::PREKEY_ROTATION_MS).into();
    std::fs::write(&key_path, serde_json::to_vec(&file).unwrap()).unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    let rotated: Value = serde_json::from_slice(&std::fs::read(&key_path).unwrap()).unwrap();
    assert_ne!(rotated["prekey"], old_prekey);
    assert_eq!(rotated["previous_prekey"], old_prekey);

    // Acme accepts; Bolt fetches the decision (Sync Status) and confirms Acme's keys.
    acme.ok(
        Method::POST,
        &format!(
            "/api/v1/connections/{}/accept",
            incoming["id"].as_str().unwrap()
        ),
        Some(serde_json::json!({"contact": "Bolt"})),
    )
    .await
    .unwrap();
    bolt.ok(
        Method::POST,
        &format!("/api/v1/connections/{id}/sync"),
        None,
    )
    .await
    .unwrap();
    let done = bolt.wait_status(&id, "Accepted").await.unwrap();
    assert_eq!(done["keys"], "confirmed", "{done}");
    let b_ch = done["channel_id"].as_str().unwrap();
    bolt.send(b_ch, "made with the previous pre-key")
        .await
        .unwrap();
    let a_ch = acme
        .connection(incoming["id"].as_str().unwrap())
        .await
        .unwrap()["channel_id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = acme
        .wait_history(&a_ch, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[0]["text"], "made with the previous pre-key");
    // Acme's answer, pushed too, is acknowledged with Bolt's confirmation: Acme confirms.
    wait_keys(&acme, &bolt.uuid, "confirmed").await;
}

/// The signed request Acme keeps for a connection (read from its stopped database).
fn stored_request(dir: &std::path::Path, id: &str) -> Vec<u8> {
    let (store, _) = open_stopped(dir).unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    let record: ochat_node::model::ConnectionRecord =
        ochat_node::store::connections::Connections::open(&store)
            .unwrap()
            .load(&id)
            .unwrap()
            .unwrap();
    record.request.unwrap().body
}

/// Retry Request sends the very request it sent before: a peer that kept the first copy and
/// we derive one root, never two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_request_sends_the_same_signed_request_again() {
    let tmp = tempfile::tempdir().unwrap();
    let late_dir = tmp.path().join("late");
    let mut late = TestNode::start(test_config(&late_dir, "Late", None))
        .await
        .unwrap();
    let late_uuid = late.uuid.clone();
    late.stop().await.unwrap();
    let a_dir = tmp.path().join("a");
    let mut acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    let sent = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": late_uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_string();
    acme.wait_status(&id, "Not Found").await.unwrap();
    acme.stop().await.unwrap();
    let first = stored_request(&a_dir, &id);

    let mut acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    acme.ok(
        Method::POST,
        &format!("/api/v1/connections/{id}/retry"),
        None,
    )
    .await
    .unwrap();
    acme.wait_status(&id, "Not Found").await.unwrap();
    acme.stop().await.unwrap();
    assert_eq!(
        stored_request(&a_dir, &id),
        first,
        "the retry signed a new request (a new ephemeral): the peer may hold the first"
    );
}
