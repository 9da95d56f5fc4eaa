//! What a stranger or a partner can make a node do, and no more: a stranger's message batches
//! never cost a disk flush, connection requests that wait for a decision are capped, and a
//! partner cannot touch a file we exchanged with someone else.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use libp2p::{Multiaddr, PeerId};
use ochat_node::model::ConnectionRecord;
use ochat_node::store::channels::Channels;
use ochat_node::store::ratchets::Ratchets;

use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageBatch, MessageResponse, WireMessage, associated_data,
};
use ochat_protocol::ratchet::Ratchet;
use ochat_protocol::wire::{Envelope, HandshakeResponse, RefusalCode};
use ochat_tests::forge;
use ochat_tests::node::{TestNode, link, open_stopped, reaching, test_config};
use reqwest::Method;

async fn disk_flushes(node: &TestNode) -> u64 {
    node.ok(Method::GET, "/api/v1/stats", None).await.unwrap()["disk_flushes"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_message_batches_never_cost_a_disk_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let (peer, addrs) = forge::where_is(&acme).await.unwrap();
    let (stranger, _inbound) = forge::raw_peer(&[42u8; 32]).await.unwrap();
    let batch = || MessageBatch {
        messages: vec![WireMessage {
            conversation: uuid::Uuid::new_v4(),
            sender: InstanceId::generate(),
            id: uuid::Uuid::now_v7(),
            sealed: ochat_protocol::ratchet::Sealed {
                header: ochat_protocol::ratchet::Header {
                    dh: [1; 32],
                    prev_chain_len: 0,
                    n: 0,
                },
                ciphertext: vec![0; 64],
                nonce: None,
            },
        }],
    };
    // The connection is up and the node idle before we count.
    stranger
        .deliver(peer, addrs.clone(), batch())
        .await
        .unwrap();
    let before = disk_flushes(&acme).await;
    for _ in 0..40 {
        let answer = stranger
            .deliver(peer, addrs.clone(), batch())
            .await
            .unwrap();
        let MessageResponse::Acks(acks) = answer else {
            panic!("{answer:?}")
        };
        assert!(matches!(acks[0].status, AckStatus::Retry(_)), "{acks:?}");
    }
    let after = disk_flushes(&acme).await;
    // Forty batches used to be forty flushes; an idle node may still flush for its own reasons.
    assert!(
        after - before < 5,
        "{} flushes for a stranger",
        after - before
    );
    stranger.shutdown().await;
}

fn request(from: InstanceId, to: InstanceId, key: &IdentityKey) -> Envelope {
    Envelope {
        record: forge::record(from, key, "Spammer").unwrap(),
        body: forge::request(from, to, key, "Spammer").unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_for_a_decision_are_capped_per_instance_and_in_all() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(&tmp.path().join("acme"), "Acme", None);
    config.federation.max_pending_incoming = 4;
    config.federation.max_pending_per_peer = 2;
    let acme = TestNode::start(config).await.unwrap();
    let acme_uuid: InstanceId = acme.uuid.parse().unwrap();
    let (peer, addrs) = forge::where_is(&acme).await.unwrap();
    let key = IdentityKey::generate().unwrap();
    let (spammer, _inbound) = forge::raw_peer(&key.secret_bytes()).await.unwrap();
    let ask = |from: InstanceId| {
        let (spammer, addrs, key) = (spammer.clone(), addrs.clone(), &key);
        let envelope = request(from, acme_uuid, key);
        async move { spammer.request(peer, addrs, envelope).await.unwrap() }
    };
    let rate_limited = |answer: HandshakeResponse| match answer {
        HandshakeResponse::Refused { code, message } => {
            assert_eq!(code, RefusalCode::RateLimited, "{message}");
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    };

    // One instance: two requests wait, the third is told to try later.
    let first = InstanceId::generate();
    assert_eq!(ask(first).await, HandshakeResponse::Stored);
    assert_eq!(ask(first).await, HandshakeResponse::Stored);
    let message = rate_limited(ask(first).await);
    assert!(message.contains("from this instance"), "{message}");

    // Other UUIDs (they cost nothing to make) fill the node's total, then are refused too.
    assert_eq!(ask(InstanceId::generate()).await, HandshakeResponse::Stored);
    assert_eq!(ask(InstanceId::generate()).await, HandshakeResponse::Stored);
    let message = rate_limited(ask(InstanceId::generate()).await);
    assert!(
        message.contains("incoming requests already wait"),
        "{message}"
    );
    assert_eq!(acme.connections().await.unwrap().len(), 4);

    // Deciding one frees a place.
    let waiting = acme.connections().await.unwrap();
    let id = waiting[0]["id"].as_str().unwrap();
    acme.ok(
        Method::POST,
        &format!("/api/v1/connections/{id}/reject"),
        Some(serde_json::json!({"reason": "no"})),
    )
    .await
    .unwrap();
    assert_eq!(ask(InstanceId::generate()).await, HandshakeResponse::Stored);
    spammer.shutdown().await;

    // After a restart the node still knows who waits: full again, until one is decided.
    let mut acme = acme;
    acme.stop().await.unwrap();
    let mut config = test_config(&tmp.path().join("acme"), "Acme", None);
    config.federation.max_pending_incoming = 4;
    config.federation.max_pending_per_peer = 2;
    let acme = TestNode::start(config).await.unwrap();
    let (peer, addrs) = forge::where_is(&acme).await.unwrap();
    let (spammer, _inbound) = forge::raw_peer(&key.secret_bytes()).await.unwrap();
    let ask = |from: InstanceId| {
        let (spammer, addrs, key) = (spammer.clone(), addrs.clone(), &key);
        let envelope = request(from, acme_uuid, key);
        async move { spammer.request(peer, addrs, envelope).await.unwrap() }
    };
    rate_limited(ask(InstanceId::generate()).await);
    rate_limited(ask(first).await);
    let pending: Vec<_> = acme
        .connections()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c["status"] == "Pending")
        .collect();
    assert_eq!(pending.len(), 4);
    let from_first = pending
        .iter()
        .find(|c| c["remote_uuid"] == first.to_string())
        .unwrap();
    acme.ok(
        Method::POST,
        &format!(
            "/api/v1/connections/{}/accept",
            from_first["id"].as_str().unwrap()
        ),
        Some(serde_json::json!({"contact": "first"})),
    )
    .await
    .unwrap();
    assert_eq!(ask(first).await, HandshakeResponse::Stored);
    spammer.shutdown().await;
}

/// Seals `body` as the next message of `dir`'s (stopped) node on `channel`, with its real
/// ratchet; returns the message and the node's key.
fn forge(dir: &std::path::Path, channel: &str, uuid: &str, body: Body) -> (WireMessage, [u8; 32]) {
    let (store, data) = open_stopped(dir).unwrap();
    let channel: uuid::Uuid = channel.parse().unwrap();
    let ch = Channels::open(&store)
        .unwrap()
        .get(channel)
        .unwrap()
        .unwrap();
    let conn: ConnectionRecord = ochat_node::store::connections::Connections::open(&store)
        .unwrap()
        .load(&ch.connection_id)
        .unwrap()
        .unwrap();
    let ratchets = Ratchets::open(&store).unwrap();
    let mut ratchet: Ratchet = ratchets.load(channel).unwrap().unwrap();
    let sender: InstanceId = uuid.parse().unwrap();
    let id = uuid::Uuid::now_v7();
    let content = Content {
        author: "Core".into(),
        sent_at_ms: 1,
        body,
    };
    let plain = ochat_protocol::codec::encode_body(&content).unwrap();
    let ad = associated_data(&conn.request_id, &sender, &id);
    let wire = WireMessage {
        conversation: conn.request_id,
        sender,
        id,
        sealed: ratchet.seal(&plain, &ad).unwrap(),
    };
    // Keep the advanced ratchet, as a real sender would.
    ratchets.save(channel, &ratchet).unwrap();
    store.flush_blocking().unwrap();
    (wire, *data.secrets.identity.secret_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_cannot_touch_a_file_we_sent_to_someone_else() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let (b_config, _) = reaching(&acme, &tmp.path().join("bolt"), "Bolt")
        .await
        .unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    let core_dir = tmp.path().join("core");
    let (c_config, acme_me) = reaching(&acme, &core_dir, "Core").await.unwrap();
    let mut core = TestNode::start(c_config).await.unwrap();
    let (_, acme_bolt) = link(&bolt, &acme).await.unwrap();
    let (core_acme, _) = link(&core, &acme).await.unwrap();

    // Acme sends Bolt a file.
    let original: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let sent: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/channels/{acme_bolt}/attachments?name=plan.bin",
            acme.api
        ))
        .bearer_auth(&acme.token)
        .header("content-type", "application/octet-stream")
        .body(original.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attachment: uuid::Uuid = sent["attachment"]["id"].as_str().unwrap().parse().unwrap();
    let download = |acme: &TestNode| {
        let url = format!(
            "{}/api/v1/channels/{acme_bolt}/attachments/{attachment}",
            acme.api
        );
        let token = acme.token.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(download(&acme).await.bytes().await.unwrap(), original);

    // Core, Acme's partner on another channel, learned the file's id and writes pieces of it.
    core.stop().await.unwrap();
    let piece = |index: u32| Body::Chunk {
        attachment,
        index,
        data: b"Core was here".to_vec(),
    };
    let (overwrite, secret) = forge(&core_dir, &core_acme, &core.uuid, piece(0));
    let (again, _) = forge(&core_dir, &core_acme, &core.uuid, piece(0));
    let (extend, _) = forge(&core_dir, &core_acme, &core.uuid, piece(7));
    let (net, _inbound) = forge::raw_peer(&secret).await.unwrap();
    let acme_peer: PeerId = acme_me["peer_id"].as_str().unwrap().parse().unwrap();
    let acme_addr: Multiaddr = acme_me["addresses"][0].as_str().unwrap().parse().unwrap();
    let answer = net
        .deliver(
            acme_peer,
            vec![acme_addr],
            MessageBatch {
                messages: vec![overwrite, again, extend],
            },
        )
        .await
        .unwrap();
    let MessageResponse::Acks(acks) = answer else {
        panic!("{answer:?}")
    };
    // Pieces on Core's own channel are stored once; the same piece again is refused.
    assert_eq!(acks[0].status, AckStatus::Stored, "{acks:?}");
    assert!(
        matches!(&acks[1].status, AckStatus::Rejected(r) if r.contains("already here")),
        "{acks:?}"
    );
    assert_eq!(acks[2].status, AckStatus::Stored, "{acks:?}");

    // Acme's copy of the file it sent Bolt is untouched, and still downloads whole.
    let answer = download(&acme).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().await.unwrap(), original);
    net.shutdown().await;
}
