//! What crosses the network: a TCP relay between two nodes sees no plaintext; a peer holding
//! the sender's key replays, tampers and re-labels sealed messages, and the receiver rejects
//! and counts them instead of showing them; a peer that seals a message under the id of one of
//! ours cannot overwrite it; a peer of the first message construction (`/ochat/msg/1`) is
//! refused at protocol negotiation with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::TcpListener as StdListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ochat_node::model::{ConnectionRecord, QueuedMessage};
use ochat_node::network::{self, NetworkConfig};
use ochat_node::store::channels::Channels;
use ochat_node::store::message_outbox::MessageOutbox;
use ochat_node::store::ratchets::Ratchets;

use ochat_protocol::identity::InstanceId;
use ochat_protocol::message::{
    AckStatus, Body, Content, MessageBatch, MessageResponse, WireMessage, associated_data,
};
use ochat_protocol::ratchet::Ratchet;
use ochat_tests::node::{TestNode, link, open_stopped, reaching, test_config};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Forwards every connection on a new port to `target`, keeping a copy of all bytes.
async fn relay(target: u16, seen: Arc<Mutex<Vec<u8>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                continue;
            };
            let (mut ri, mut wi) = inbound.into_split();
            let (mut ro, mut wo) = outbound.into_split();
            let (s1, s2) = (seen.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = ri.read(&mut buf).await {
                    if n == 0 || wo.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    s1.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = ro.read(&mut buf).await {
                    if n == 0 || wi.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    s2.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    port
}

/// Creates a node's identity and returns (uuid, peer id).
async fn identity(dir: &std::path::Path, name: &str) -> (String, String) {
    let mut n = TestNode::start(test_config(dir, name, None)).await.unwrap();
    let me = n.ok(Method::GET, "/api/v1/instance", None).await.unwrap();
    n.stop().await.unwrap();
    (n.uuid.clone(), me["peer_id"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_between_two_nodes_sees_no_message_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a_uuid, a_peer) = identity(&a_dir, "Acme").await;
    let (b_uuid, b_peer) = identity(&b_dir, "Bolt").await;
    let (a_port, b_port) = (free_port(), free_port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let to_a = relay(a_port, seen.clone()).await;
    let to_b = relay(b_port, seen.clone()).await;
    let mut a_config = test_config(&a_dir, "Acme", None);
    a_config.p2p_listen = vec![format!("/ip4/127.0.0.1/tcp/{a_port}")];
    a_config.peers = vec![(
        b_uuid.clone(),
        format!("/ip4/127.0.0.1/tcp/{to_b}/p2p/{b_peer}"),
    )];
    let mut b_config = test_config(&b_dir, "Bolt", None);
    b_config.p2p_listen = vec![format!("/ip4/127.0.0.1/tcp/{b_port}")];
    b_config.peers = vec![(
        a_uuid.clone(),
        format!("/ip4/127.0.0.1/tcp/{to_a}/p2p/{a_peer}"),
    )];
    let acme = TestNode::start(a_config).await.unwrap();
    let bolt = TestNode::start(b_config).await.unwrap();
    let (a_ch, b_ch) = link(&acme, &bolt).await.unwrap();

    for n in 0..20 {
        acme.send(&a_ch, &format!("TOPSECRET-from-acme-{n}"))
            .await
            .unwrap();
        bolt.send(&b_ch, &format!("TOPSECRET-from-bolt-{n}"))
            .await
            .unwrap();
    }
    bolt.wait_history(&b_ch, 40, Duration::from_secs(30))
        .await
        .unwrap();
    acme.wait_history(&a_ch, 40, Duration::from_secs(30))
        .await
        .unwrap();

    let bytes = seen.lock().unwrap().clone();
    // The traffic did go through the relay (so the check below means something)…
    assert!(
        bytes.len() > 40 * 100,
        "only {} bytes passed the relay",
        bytes.len()
    );
    // …and none of it is readable.
    let needle = b"TOPSECRET";
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "plaintext crossed the wire"
    );
    let name = b"Acme";
    let _ = name; // names travel inside Noise too; only message text is asserted here.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_replayed_and_relabelled_messages_are_rejected_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    let (b_config, _) = reaching(&acme, &b_dir, "Bolt").await.unwrap();
    let mut bolt = TestNode::start(b_config.clone()).await.unwrap();
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();
    let bolt_me = bolt
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let bolt_peer: libp2p::PeerId = bolt_me["peer_id"].as_str().unwrap().parse().unwrap();
    let bolt_addr: libp2p::Multiaddr = bolt_me["addresses"][0].as_str().unwrap().parse().unwrap();

    // Bolt is away; Acme writes; the sealed message waits in Acme's outbox.
    bolt.stop().await.unwrap();
    acme.send(&a_ch, "the genuine message").await.unwrap();
    acme.stop().await.unwrap();
    let (queued, secret) = {
        let (store, data) = open_stopped(&a_dir).unwrap();
        let q: QueuedMessage = MessageOutbox::open(&store)
            .unwrap()
            .of_channel(a_ch.parse().unwrap())
            .next()
            .unwrap()
            .unwrap();
        (q, data.secrets.identity.secret_bytes())
    };
    let mut b_config2 = b_config;
    b_config2.p2p_listen = vec![
        bolt_addr
            .iter()
            .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
            .collect::<libp2p::Multiaddr>()
            .to_string(),
    ];
    let bolt = TestNode::start(b_config2).await.unwrap();

    // Someone with Acme's key (or a tampering path) talks to Bolt directly.
    let (net, _inbound) = network::start(
        &secret,
        NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            ..NetworkConfig::default()
        },
    )
    .await
    .unwrap();
    let send = |m: ochat_protocol::message::WireMessage| {
        let net = net.clone();
        let addr = bolt_addr.clone();
        async move {
            match net
                .deliver(bolt_peer, vec![addr], MessageBatch { messages: vec![m] })
                .await
                .unwrap()
            {
                MessageResponse::Acks(acks) => acks[0].status.clone(),
                other => panic!("{other:?}"),
            }
        }
    };
    let stats = || async {
        bolt.ok(Method::GET, "/api/v1/stats", None).await.unwrap()["rejected_messages"]
            .as_u64()
            .unwrap()
    };

    let mut flipped = queued.wire.clone();
    flipped.sealed.ciphertext[3] ^= 0x01;
    assert!(matches!(send(flipped).await, AckStatus::Rejected(_)));
    assert_eq!(stats().await, 1);

    let mut relabelled = queued.wire.clone();
    relabelled.id = uuid::Uuid::now_v7();
    assert!(matches!(send(relabelled).await, AckStatus::Rejected(_)));
    assert_eq!(stats().await, 2);
    assert!(
        bolt.history(&b_ch).await.unwrap().is_empty(),
        "nothing bad is shown"
    );

    assert_eq!(send(queued.wire.clone()).await, AckStatus::Stored);
    assert_eq!(send(queued.wire.clone()).await, AckStatus::Duplicate);
    let shown = bolt.history(&b_ch).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["text"], "the genuine message");

    // Acme comes back: its retry is a duplicate for Bolt, and Acme marks it delivered.
    net.shutdown().await;
    let me2 = bolt
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let mut a_config = test_config(&a_dir, "Acme", None);
    a_config.peers = vec![(
        bolt.uuid.clone(),
        me2["addresses"][0].as_str().unwrap().to_string(),
    )];
    acme = TestNode::start(a_config).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = acme.history(&a_ch).await.unwrap();
        if h[0]["state"] == "delivered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", h[0]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bolt.history(&b_ch).await.unwrap().len(), 1);
    assert_eq!(stats().await, 2);
}

/// A peer that speaks only the first message construction's protocol, `/ochat/msg/1`,
/// listening on 127.0.0.1 until the test ends.
async fn first_construction_peer() -> (libp2p::PeerId, libp2p::Multiaddr) {
    use futures::StreamExt;
    use libp2p::request_response::{self, ProtocolSupport};
    use libp2p::swarm::SwarmEvent;
    use libp2p::{StreamProtocol, SwarmBuilder, noise, tcp, yamux};
    use ochat_node::network::MessageCodec;
    use ochat_protocol::codec::Limits;

    let mut swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                MessageCodec::new(Limits::default()),
                [(StreamProtocol::new("/ochat/msg/1"), ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address;
        }
    };
    let peer = *swarm.local_peer_id();
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    (peer, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_the_first_message_construction_is_refused_with_a_clear_error() {
    let (old_peer, old_addr) = first_construction_peer().await;
    let (net, _inbound) = network::start(
        &[9u8; 32],
        NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            ..NetworkConfig::default()
        },
    )
    .await
    .unwrap();

    let refused = net
        .deliver(old_peer, vec![old_addr], MessageBatch { messages: vec![] })
        .await
        .expect_err("no message protocol in common");

    assert!(
        matches!(refused, network::NetworkError::UnsupportedProtocol),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "the peer does not support this protocol version (is it another ochat release?)"
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_reuses_the_id_of_one_of_our_messages_cannot_overwrite_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let acme = TestNode::start(test_config(&a_dir, "Acme", None))
        .await
        .unwrap();
    let (b_config, acme_me) = reaching(&acme, &b_dir, "Bolt").await.unwrap();
    let mut bolt = TestNode::start(b_config).await.unwrap();
    let (b_ch, a_ch) = link(&bolt, &acme).await.unwrap();

    // Acme writes to Bolt; Bolt (and so its side of the ratchet) knows the message's id.
    let sent = acme.send(&a_ch, "the genuine message").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while bolt.history(&b_ch).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ours: uuid::Uuid = sent["id"].as_str().unwrap().parse().unwrap();

    // A modified Bolt, with its real key and ratchet, seals a message under that id.
    bolt.stop().await.unwrap();
    let (forged, secret) = {
        let (store, data) = open_stopped(&b_dir).unwrap();
        let channel: uuid::Uuid = b_ch.parse().unwrap();
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
        let mut ratchet: Ratchet = Ratchets::open(&store)
            .unwrap()
            .load(channel)
            .unwrap()
            .unwrap();
        let sender: InstanceId = bolt.uuid.parse().unwrap();
        let content = Content {
            author: "Acme".into(),
            sent_at_ms: 1,
            body: Body::Text("a forged text in Acme's name".into()),
        };
        let plain = ochat_protocol::codec::encode_body(&content).unwrap();
        let ad = associated_data(&conn.request_id, &sender, &ours);
        let wire = WireMessage {
            conversation: conn.request_id,
            sender,
            id: ours,
            sealed: ratchet.seal(&plain, &ad).unwrap(),
        };
        (wire, data.secrets.identity.secret_bytes())
    };
    let (net, _inbound) = network::start(
        &secret,
        NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            ..NetworkConfig::default()
        },
    )
    .await
    .unwrap();
    let acme_peer: libp2p::PeerId = acme_me["peer_id"].as_str().unwrap().parse().unwrap();
    let acme_addr: libp2p::Multiaddr = acme_me["addresses"][0].as_str().unwrap().parse().unwrap();
    let answer = net
        .deliver(
            acme_peer,
            vec![acme_addr],
            MessageBatch {
                messages: vec![forged],
            },
        )
        .await
        .unwrap();

    let MessageResponse::Acks(acks) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(acks[0].status, AckStatus::Duplicate);
    let history = acme.history(&a_ch).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["text"], "the genuine message");
    assert_eq!(history[0]["direction"], "out");
    net.shutdown().await;
}
