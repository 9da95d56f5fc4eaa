//! Any libp2p stack can talk to a node at the libp2p level: a bare rust-libp2p swarm with only
//! identify and ping dials a node, is identified (it learns our protocols, among them the ochat
//! ones and the DHT) and measures a round trip.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{StreamProtocol, identify, noise, ping, tcp, yamux};
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::reach::p2p_address;

#[derive(NetworkBehaviour)]
struct Foreign {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_libp2p_stack_completes_identify_and_ping_with_a_node() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let addr = p2p_address(&node).await.unwrap();

    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| Foreign {
            identify: identify::Behaviour::new(identify::Config::new(
                "/ipfs/0.1.0".into(),
                key.public(),
            )),
            ping: ping::Behaviour::new(
                ping::Config::new().with_interval(Duration::from_millis(200)),
            ),
        })
        .unwrap()
        .build();
    swarm.dial(addr.clone()).unwrap();

    let mut identified = None;
    let mut rtt = None;
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        while identified.is_none() || rtt.is_none() {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(ForeignEvent::Identify(identify::Event::Received {
                    info,
                    ..
                })) => identified = Some(info),
                SwarmEvent::Behaviour(ForeignEvent::Ping(ping::Event {
                    result: Ok(d), ..
                })) => rtt = Some(d),
                SwarmEvent::Behaviour(ForeignEvent::Ping(ping::Event {
                    result: Err(e), ..
                })) => panic!("ping failed: {e}"),
                SwarmEvent::OutgoingConnectionError { error, .. } => panic!("dial failed: {error}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "identify {identified:?}, ping {rtt:?}");
    let info = identified.unwrap();
    assert_eq!(info.protocol_version, "/ochat/1");
    assert!(
        info.agent_version.starts_with("ochat/"),
        "{}",
        info.agent_version
    );
    for protocol in ["/ochat/handshake/1", "/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"] {
        assert!(
            info.protocols.contains(&StreamProtocol::new(protocol)),
            "{protocol} missing from {:?}",
            info.protocols
        );
    }
    assert!(rtt.unwrap() < Duration::from_secs(5));
    node.stop().await.unwrap();
}
