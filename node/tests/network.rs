//! Two (or three) real network actors on 127.0.0.1 exchange handshake requests: the happy path
//! over TCP and QUIC, unreachable and impostor peers, oversized frames, the rate limit, a
//! service that drops a request, idle connections and shutdown.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ochat_node::network::{
    self, Inbound, Multiaddr, NetworkConfig, NetworkError, NetworkHandle, PeerId,
};
use ochat_protocol::codec::Limits;
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, verify_record};
use ochat_protocol::sign::Signed;
use ochat_protocol::wire::{
    ConnectionRequest, Envelope, HandshakeBody, HandshakeResponse, RefusalCode,
};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

fn tcp() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

fn quic() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()
}

fn config(listen: Multiaddr) -> NetworkConfig {
    NetworkConfig {
        listen: vec![listen],
        request_timeout: Duration::from_secs(5),
        dial_timeout: Duration::from_secs(5),
        ..NetworkConfig::default()
    }
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_millis()).unwrap()
}

/// A running node's network side, as its service layer would hold it.
struct Node {
    key: IdentityKey,
    uuid: InstanceId,
    net: NetworkHandle,
    inbound: mpsc::Receiver<Inbound>,
    addrs: Vec<Multiaddr>,
}

/// Where another node can be reached.
struct Target {
    peer: PeerId,
    addrs: Vec<Multiaddr>,
}

async fn node(config: NetworkConfig) -> Node {
    let key = IdentityKey::generate().unwrap();
    let (net, inbound) = network::start(&key.secret_bytes(), config).await.unwrap();
    let addrs = timeout(WAIT, net.wait_listening()).await.unwrap().unwrap();
    Node {
        key,
        uuid: InstanceId::generate(),
        net,
        inbound,
        addrs,
    }
}

impl Node {
    fn peer_id(&self) -> PeerId {
        network::peer_id_of(&self.key.public()).unwrap()
    }

    /// A connection request to `to`, signed, in an envelope with our signed record.
    fn envelope(&self, to: InstanceId, message: Option<String>) -> Envelope {
        let record = InstanceRecord {
            uuid: self.uuid,
            name: "Acme".into(),
            identity: self.key.public(),
            prekey: [7; 32],
            addresses: self.addrs.iter().map(ToString::to_string).collect(),
            seq: 1,
            signed_at_ms: now_ms(),
        };
        let request = ConnectionRequest {
            request_id: uuid::Uuid::new_v4(),
            from: self.uuid,
            to,
            from_name: "Acme".into(),
            message,
            ephemeral: [5; 32],
            sent_at_ms: now_ms(),
            prekey: None,
        };
        Envelope {
            record: record.sign(&self.key).unwrap(),
            body: HandshakeBody::Request(Signed::seal(&request, &self.key).unwrap()),
        }
    }

    /// Who to ask for this node, as a record would tell: its peer id and addresses.
    fn target(&self) -> Target {
        Target {
            peer: self.peer_id(),
            addrs: self.addrs.clone(),
        }
    }

    async fn ask(
        &self,
        to: &Target,
        envelope: Envelope,
    ) -> Result<HandshakeResponse, NetworkError> {
        let request = self.net.request(to.peer, to.addrs.clone(), envelope);
        timeout(WAIT, request).await.unwrap()
    }

    async fn next_inbound(&mut self) -> Inbound {
        timeout(WAIT, self.inbound.recv()).await.unwrap().unwrap()
    }

    /// Answers the next inbound request with `Stored` and returns what arrived.
    async fn store_next(&mut self) -> (PeerId, Envelope) {
        let inbound = self.next_inbound().await;
        let seen = (inbound.peer, inbound.envelope.clone());
        assert!(inbound.respond(HandshakeResponse::Stored));
        seen
    }
}

async fn exchange_over(listen: fn() -> Multiaddr) {
    let alice = node(config(listen())).await;
    let mut bob = node(config(listen())).await;
    let to_bob = bob.target();
    assert_eq!(alice.net.local_peer_id(), alice.peer_id());
    assert_eq!(bob.net.listen_addrs().await.unwrap(), bob.addrs);
    assert_eq!(*bob.net.watch_listen_addrs().borrow(), bob.addrs);

    let sent = alice.envelope(bob.uuid, Some("Hello from Acme".into()));
    let (answer, (peer, received)) =
        tokio::join!(alice.ask(&to_bob, sent.clone()), bob.store_next());
    assert_eq!(answer, Ok(HandshakeResponse::Stored));
    assert_eq!(received, sent);
    // What the service layer checks: the Noise-authenticated peer holds the record's key.
    let record = verify_record(&received.record).unwrap();
    assert_eq!(peer, network::peer_id_of(&record.identity).unwrap());
    assert_eq!(peer, alice.net.local_peer_id());
    assert!(
        alice
            .net
            .connected_peers()
            .await
            .unwrap()
            .contains(&bob.peer_id())
    );
}

#[tokio::test]
async fn two_nodes_exchange_a_signed_request_and_its_answer_over_tcp() {
    exchange_over(tcp).await;
}

#[tokio::test]
async fn two_nodes_exchange_a_signed_request_and_its_answer_over_quic() {
    exchange_over(quic).await;
}

#[tokio::test]
async fn a_request_to_an_address_where_nobody_listens_fails_to_dial() {
    let alice = node(config(tcp())).await;
    let bob_key = IdentityKey::generate().unwrap();
    let bob = network::peer_id_of(&bob_key.public()).unwrap();
    // A port that was free a moment ago: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();

    let envelope = alice.envelope(InstanceId::generate(), None);
    let result = timeout(WAIT, alice.net.request(bob, vec![nowhere], envelope))
        .await
        .unwrap();
    match result {
        Err(NetworkError::DialFailed { peer, reason }) => {
            assert_eq!(peer, bob);
            assert!(reason.contains(&port.to_string()), "{reason}");
        }
        other => panic!("expected DialFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_node_that_answers_with_another_key_is_not_trusted() {
    let alice = node(config(tcp())).await;
    let mut bob = node(config(tcp())).await;
    // Carol's record points at Bob's address (stale, or Bob pretending): Noise proves it is Bob.
    let carol = network::peer_id_of(&IdentityKey::generate().unwrap().public()).unwrap();

    let envelope = alice.envelope(InstanceId::generate(), None);
    let result = timeout(WAIT, alice.net.request(carol, bob.addrs.clone(), envelope))
        .await
        .unwrap();
    match result {
        Err(NetworkError::WrongPeer(wrong)) => {
            assert_eq!(wrong.expected, carol);
            assert_eq!(wrong.obtained, bob.peer_id());
            // The address dialled: Bob's, with Carol's id as the expected `/p2p/` suffix.
            let dialled = wrong.address.to_string();
            assert!(dialled.starts_with(&bob.addrs[0].to_string()), "{dialled}");
            assert!(dialled.ends_with(&format!("/p2p/{carol}")), "{dialled}");
        }
        other => panic!("expected WrongPeer, got {other:?}"),
    }
    assert!(bob.inbound.try_recv().is_err());
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_never_reaches_the_service() {
    // Mallory's codec allows 1 MiB frames; Bob keeps the default 64 KiB handshake limit.
    let mallory = node(NetworkConfig {
        frame_limits: Limits::new(1 << 20, 32),
        ..config(tcp())
    })
    .await;
    let mut bob = node(config(tcp())).await;
    let to_bob = bob.target();

    let huge = mallory.envelope(bob.uuid, Some("x".repeat(100_000)));
    let result = mallory.ask(&to_bob, huge).await;
    assert!(
        matches!(
            result,
            Err(NetworkError::NoResponse | NetworkError::Io(_) | NetworkError::ConnectionClosed)
        ),
        "{result:?}"
    );

    // The next, normal request is the first thing Bob's service sees.
    let small = mallory.envelope(bob.uuid, None);
    let (answer, (_, received)) =
        tokio::join!(mallory.ask(&to_bob, small.clone()), bob.store_next());
    assert_eq!(answer, Ok(HandshakeResponse::Stored));
    assert_eq!(received, small);
}

#[tokio::test]
async fn a_peer_over_its_rate_limit_is_refused_without_bothering_the_service() {
    let alice = node(config(tcp())).await;
    let mut bob = node(NetworkConfig {
        max_requests_per_peer_per_minute: 3,
        ..config(tcp())
    })
    .await;
    let to_bob = bob.target();

    for _ in 0..3 {
        let envelope = alice.envelope(bob.uuid, None);
        let (answer, _) = tokio::join!(alice.ask(&to_bob, envelope), bob.store_next());
        assert_eq!(answer, Ok(HandshakeResponse::Stored));
    }
    let answer = alice.ask(&to_bob, alice.envelope(bob.uuid, None)).await;
    assert!(
        matches!(
            answer,
            Ok(HandshakeResponse::Refused {
                code: RefusalCode::RateLimited,
                ..
            })
        ),
        "{answer:?}"
    );
    assert!(
        bob.inbound.try_recv().is_err(),
        "the service saw a refused request"
    );
}

#[tokio::test]
async fn a_request_the_service_drops_unanswered_fails_at_once_for_the_requester() {
    let alice = node(config(tcp())).await;
    let mut bob = node(config(tcp())).await;
    let to_bob = bob.target();

    let envelope = alice.envelope(bob.uuid, None);
    let (answer, ()) = tokio::join!(alice.ask(&to_bob, envelope), async {
        drop(bob.next_inbound().await);
    });
    assert_eq!(answer, Err(NetworkError::NoResponse));
}

#[tokio::test]
async fn a_slow_answer_keeps_its_connection_and_idle_connections_close() {
    let idle = NetworkConfig {
        idle_timeout: Duration::from_millis(200),
        ..config(tcp())
    };
    let alice = node(idle.clone()).await;
    let mut bob = node(idle).await;
    let to_bob = bob.target();

    // Bob's service takes three idle timeouts to answer: the pending request keeps the link.
    let envelope = alice.envelope(bob.uuid, None);
    let (answer, ()) = tokio::join!(alice.ask(&to_bob, envelope), async {
        let inbound = bob.next_inbound().await;
        tokio::time::sleep(Duration::from_millis(600)).await; // a slow service, not a sync point
        assert!(inbound.respond(HandshakeResponse::Stored));
    });
    assert_eq!(answer, Ok(HandshakeResponse::Stored));

    // Then nothing is in flight, and the connection goes away by itself.
    let closed = async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            poll.tick().await;
            if alice.net.connected_peers().await.unwrap().is_empty() {
                break;
            }
        }
    };
    timeout(WAIT, closed).await.unwrap();
}

#[tokio::test]
async fn after_shutdown_the_handle_reports_the_actor_gone_and_peers_cannot_dial() {
    let alice = node(config(tcp())).await;
    let mut bob = node(config(tcp())).await;
    let to_bob = bob.target();

    timeout(WAIT, bob.net.shutdown()).await.unwrap();
    assert_eq!(bob.net.listen_addrs().await, Err(NetworkError::ActorGone));
    let to_alice = alice.target();
    let envelope = bob.envelope(alice.uuid, None);
    assert_eq!(
        bob.ask(&to_alice, envelope).await,
        Err(NetworkError::ActorGone)
    );
    assert!(timeout(WAIT, bob.inbound.recv()).await.unwrap().is_none());

    let result = alice.ask(&to_bob, alice.envelope(bob.uuid, None)).await;
    assert!(
        matches!(result, Err(NetworkError::DialFailed { .. })),
        "{result:?}"
    );
}
