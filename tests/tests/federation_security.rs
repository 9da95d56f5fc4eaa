//! Nobody can speak for an instance without its key: a raw libp2p peer ("Mallory") tries forged
//! signatures, someone else's record and someone else's UUID against a real node. Each attack is
//! tried against an instance with a self-certifying (derived, v8) UUID, refused by the UUID
//! itself, and against one with a random (v4) UUID from before, refused by the pinned key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::directory::client::DirectoryClient;
use ochat_node::directory::server::DirectoryServer;
use ochat_node::network::{self, NetworkHandle};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{
    ConnectionRequest, Envelope, HandshakeBody, HandshakeResponse, RefusalCode,
};
use ochat_tests::forge;
use ochat_tests::legacy::folder_with_random_uuid;
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;

struct Mallory {
    key: IdentityKey,
    net: NetworkHandle,
}

/// Mallory's node, and what peers send her.
async fn mallory() -> (Mallory, tokio::sync::mpsc::Receiver<network::Inbound>) {
    let key = IdentityKey::generate().unwrap();
    let (net, inbound) = forge::raw_peer(&key.secret_bytes()).await.unwrap();
    (Mallory { key, net }, inbound)
}

/// The refusal's message.
fn refused_as_unauthenticated(r: HandshakeResponse) -> String {
    match r {
        HandshakeResponse::Refused { code, message } => {
            assert_eq!(code, RefusalCode::Unauthenticated, "{message}");
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Acme's data folder: a new one (derived UUID) or one from before derived UUIDs (random v4).
fn acme_folder(tmp: &std::path::Path, random_uuid: bool) -> std::path::PathBuf {
    let folder = tmp.join("acme");
    if random_uuid {
        folder_with_random_uuid(&folder, "Acme").unwrap();
    }
    folder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_messages_and_borrowed_identities_are_refused_and_change_nothing() {
    forged_messages_and_borrowed_identities(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_messages_and_borrowed_identities_are_refused_for_a_random_uuid_too() {
    forged_messages_and_borrowed_identities(true).await;
}

async fn forged_messages_and_borrowed_identities(acme_has_random_uuid: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", dir.addr);
    let acme_dir = acme_folder(tmp.path(), acme_has_random_uuid);
    let acme = TestNode::start(test_config(&acme_dir, "Acme", Some(&url)))
        .await
        .unwrap();
    let acme_uuid: InstanceId = acme.uuid.parse().unwrap();
    assert_eq!(acme_uuid.is_derived(), !acme_has_random_uuid);
    let bolt = TestNode::start(test_config(&tmp.path().join("bolt"), "Bolt", Some(&url)))
        .await
        .unwrap();
    let bolt_uuid: InstanceId = bolt.uuid.parse().unwrap();
    let directory = DirectoryClient::new(&url).unwrap();
    let acme_record = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Some(r)) = directory.lookup(acme_uuid).await {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("Acme registered");
    let (bolt_peer, bolt_addrs) = forge::where_is(&bolt).await.unwrap();
    let (m, _inbound) = mallory().await;
    let own_uuid = InstanceId::generate();

    // 1. A request whose signature was made by another key.
    let someone_else = IdentityKey::generate().unwrap();
    let forged = Envelope {
        record: forge::record(own_uuid, &m.key, "Totally Legit").unwrap(),
        body: forge::request(own_uuid, bolt_uuid, &someone_else, "Totally Legit").unwrap(),
    };
    refused_as_unauthenticated(
        m.net
            .request(bolt_peer, bolt_addrs.clone(), forged)
            .await
            .unwrap(),
    );

    // 2. Acme's genuine record, presented over Mallory's own Noise identity.
    let borrowed = Envelope {
        record: acme_record,
        body: forge::request(acme_uuid, bolt_uuid, &m.key, "Totally Legit").unwrap(),
    };
    refused_as_unauthenticated(
        m.net
            .request(bolt_peer, bolt_addrs.clone(), borrowed)
            .await
            .unwrap(),
    );

    // 3. Acme's UUID in a record signed with Mallory's key: a derived UUID is not her key's;
    //    a random one is pinned to Acme's key by the directory.
    let impostor = Envelope {
        record: forge::record(acme_uuid, &m.key, "Totally Legit").unwrap(),
        body: forge::request(acme_uuid, bolt_uuid, &m.key, "Totally Legit").unwrap(),
    };
    let why = refused_as_unauthenticated(
        m.net
            .request(bolt_peer, bolt_addrs.clone(), impostor)
            .await
            .unwrap(),
    );
    assert!(why.contains("this UUID belongs to another key"), "{why}");
    assert_eq!(
        why.contains("derived from its owner's key"),
        !acme_has_random_uuid,
        "{why}"
    );

    // Nothing changed on Bolt.
    assert!(bolt.connections().await.unwrap().is_empty());

    // Control: the same peer, honest about who it is, gets through.
    let honest = Envelope {
        record: forge::record(own_uuid, &m.key, "Totally Legit").unwrap(),
        body: forge::request(own_uuid, bolt_uuid, &m.key, "Totally Legit").unwrap(),
    };
    assert_eq!(
        m.net.request(bolt_peer, bolt_addrs, honest).await.unwrap(),
        HandshakeResponse::Stored
    );
    let listed = bolt.connections().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["remote_uuid"], own_uuid.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_given_someone_elses_derived_uuid_does_not_even_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", dir.addr);
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", Some(&url)))
        .await
        .unwrap();
    let acme_uuid: InstanceId = acme.uuid.parse().unwrap();
    assert!(acme_uuid.is_derived());

    // Mallory's node: a fresh key, but Acme's Instance UUID copied into its data folder.
    let mdir = tmp.path().join("mallory");
    let mut m = TestNode::start(test_config(&mdir, "Mallory", None))
        .await
        .unwrap();
    m.stop().await.unwrap();
    std::fs::write(
        mdir.join("instance.json"),
        format!("{{\"uuid\":\"{}\",\"name\":\"Acme\"}}", acme.uuid),
    )
    .unwrap();
    let err = TestNode::start(test_config(&mdir, "Mallory", Some(&url)))
        .await
        .unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.contains(&acme.uuid), "{shown}");
    assert!(shown.contains("belongs to another identity key"), "{shown}");

    // The directory still lists Acme's real key.
    let directory = DirectoryClient::new(&url).unwrap();
    let listed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Some(r)) = directory.lookup(acme_uuid).await {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("Acme registered");
    let listed = ochat_protocol::record::verify_record(&listed).unwrap();
    assert_eq!(InstanceId::derived_from(&listed.identity), acme_uuid);
}

/// An instance from before derived UUIDs: its random UUID is bound to its key by the directory's
/// first-come rule, so a node started under that UUID with another key gets nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_claims_another_random_uuid_cannot_register_or_complete_a_handshake() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DirectoryServer::start(&tmp.path().join("dir"), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", dir.addr);
    let acme_dir = acme_folder(tmp.path(), true);
    let acme = TestNode::start(test_config(&acme_dir, "Acme", Some(&url)))
        .await
        .unwrap();
    let bolt = TestNode::start(test_config(&tmp.path().join("bolt"), "Bolt", Some(&url)))
        .await
        .unwrap();
    // Make sure Acme's key is pinned in the directory before the impostor appears.
    let directory = DirectoryClient::new(&url).unwrap();
    let acme_uuid: InstanceId = acme.uuid.parse().unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !matches!(directory.lookup(acme_uuid).await, Ok(Some(_))) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .unwrap();

    // Mallory's node: a fresh key, but Acme's Instance UUID copied into its data folder.
    let mdir = tmp.path().join("mallory");
    let mut m = TestNode::start(test_config(&mdir, "Mallory", None))
        .await
        .unwrap();
    m.stop().await.unwrap();
    std::fs::write(
        mdir.join("instance.json"),
        format!("{{\"uuid\":\"{}\",\"name\":\"Acme\"}}", acme.uuid),
    )
    .unwrap();
    let m = TestNode::start(test_config(&mdir, "Mallory", Some(&url)))
        .await
        .unwrap();
    assert_eq!(m.uuid, acme.uuid);

    let c = m
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": bolt.uuid, "send": true})),
        )
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    // The request is refused for good: it never reaches Bolt's list.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = m.connection(id).await.unwrap();
        if let Some(err) = now["delivery_error"].as_str()
            && err.contains("refused")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(bolt.connections().await.unwrap().is_empty());
    // The directory still lists Acme's real key.
    let listed =
        ochat_protocol::record::verify_record(&directory.lookup(acme_uuid).await.unwrap().unwrap())
            .unwrap();
    let real = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert_eq!(
        network::peer_id_of(&listed.identity).unwrap().to_string(),
        real["peer_id"].as_str().unwrap()
    );
}

/// Mallory, a real instance here (her own UUID, key and record), answers Acme's request at once
/// with a decision: first one signed by another key, then one signed by her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_sent_back_with_the_request_must_be_signed_by_the_peer() {
    use ochat_protocol::wire::{ConnectionAnswer, RemoteView, Verdict};

    let tmp = tempfile::tempdir().unwrap();
    let (mallory, mut inbound) = mallory().await;
    let uuid = InstanceId::generate();
    let addr = tokio::time::timeout(Duration::from_secs(10), mallory.net.wait_listening())
        .await
        .unwrap()
        .unwrap()[0]
        .clone();
    let peer = network::peer_id_of(&mallory.key.public()).unwrap();
    let mut config = test_config(&tmp.path().join("acme"), "Acme", None);
    config.peers = vec![(uuid.to_string(), format!("{addr}/p2p/{peer}"))];
    let acme = TestNode::start(config).await.unwrap();
    let acme_uuid: InstanceId = acme.uuid.parse().unwrap();

    let answer_to = |envelope: &Envelope, signer: &IdentityKey| {
        let HandshakeBody::Request(signed) = &envelope.body else {
            panic!("expected a request");
        };
        let request: ConnectionRequest = signed.open(&envelope_identity(envelope)).unwrap();
        let answer = ConnectionAnswer {
            request_id: request.request_id,
            from: uuid,
            to: acme_uuid,
            verdict: Verdict::Accepted { ephemeral: [5; 32] },
            sent_at_ms: 1,
            request_hash: None,
            prekey: None,
            confirmation: None,
        };
        HandshakeResponse::Status {
            record: forge::record(uuid, &mallory.key, "Totally Legit").unwrap(),
            view: RemoteView::Decided(Signed::seal(&answer, signer).unwrap()),
        }
    };

    // A decision signed by another key: refused, the request ends with the reason, no channel.
    let sent = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": uuid.to_string(), "send": true})),
        )
        .await
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_string();
    let first = tokio::time::timeout(Duration::from_secs(20), inbound.recv())
        .await
        .unwrap()
        .unwrap();
    let forged = answer_to(&first.envelope, &IdentityKey::generate().unwrap());
    let genuine = answer_to(&first.envelope, &mallory.key);
    assert!(first.respond(forged));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ended = loop {
        let now = acme.connection(&id).await.unwrap();
        if now["delivery_error"].is_string() {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(ended["status"], "Pending");
    assert!(ended["channel_id"].is_null());
    assert!(
        ended["delivery_error"]
            .as_str()
            .unwrap()
            .contains("the peer's decision was refused: the signature does not verify"),
        "{ended}"
    );

    // Sync Status asks again; this time Mallory's own key signs: Accepted with a channel.
    let sync = {
        let acme_api = acme.api.clone();
        let token = acme.token.clone();
        let id = id.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{acme_api}/api/v1/connections/{id}/sync"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let query = tokio::time::timeout(Duration::from_secs(20), inbound.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(query.envelope.body, HandshakeBody::Query(_)));
    assert!(query.respond(genuine));
    assert!(sync.await.unwrap().is_success());
    let accepted = acme.wait_status(&id, "Accepted").await.unwrap();
    assert!(accepted["channel_id"].is_string());
}

/// The identity key in an envelope's record.
fn envelope_identity(envelope: &Envelope) -> ochat_protocol::identity::PublicIdentity {
    ochat_protocol::record::verify_record(&envelope.record)
        .unwrap()
        .identity
}
