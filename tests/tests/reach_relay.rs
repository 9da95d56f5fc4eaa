//! Reaching a node that nothing can dial directly: two organisations whose nodes are known only
//! by relayed addresses (as behind NATs that no hole punch gets through), started with nothing
//! but the directory's URL, link and talk through the directory host's relay; `GET
//! /api/v1/network` says so; and a relay restart in the middle of a conversation loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashMap;
use std::time::Duration;

use ochat_tests::node::{TestNode, link};
use ochat_tests::process::ochat;
use ochat_tests::reach::{
    directory_with_relay, network, path_to, published, relay_only_config, wait_network,
    wait_relayed_address,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_reachable_only_through_the_directory_relay_link_and_talk() {
    let tmp = tempfile::tempdir().unwrap();
    let (directory, url) = directory_with_relay(
        &tmp.path().join("dir"),
        "127.0.0.1:0".parse().unwrap(),
        "/ip4/127.0.0.1/tcp/0",
    )
    .await
    .unwrap();
    let p2p = directory
        .p2p_info()
        .expect("the directory runs a libp2p node");
    assert!(!p2p.addresses.is_empty(), "{p2p:?}");

    let acme = TestNode::start(relay_only_config(&tmp.path().join("acme"), "Acme", &url))
        .await
        .unwrap();
    let bolt = TestNode::start(relay_only_config(&tmp.path().join("bolt"), "Bolt", &url))
        .await
        .unwrap();

    // Each found the relay from the directory alone, holds a slot there and publishes only the
    // relayed address.
    for node in [&acme, &bolt] {
        let relayed = wait_relayed_address(node).await.unwrap();
        assert!(relayed.contains(&p2p.peer_id), "{relayed}");
        let n = network(node).await.unwrap();
        assert_eq!(n["reachability"], "private");
        assert!(
            published(&n).iter().all(|a| a.contains("/p2p-circuit")),
            "only relayed addresses: {n:#}"
        );
        assert_eq!(n["relays"][0]["reserved"], true, "{n:#}");
    }

    let (a_channel, b_channel) = link(&acme, &bolt).await.unwrap();
    acme.send(&a_channel, "Hello Bolt, through the relay")
        .await
        .unwrap();
    bolt.send(&b_channel, "Hello Acme, same way back")
        .await
        .unwrap();
    let at_bolt = bolt
        .wait_history(&b_channel, 2, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        at_bolt
            .iter()
            .any(|m| m["text"] == "Hello Bolt, through the relay")
    );
    let at_acme = acme
        .wait_history(&a_channel, 2, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        at_acme
            .iter()
            .any(|m| m["text"] == "Hello Acme, same way back")
    );

    // Both see the path as relayed, with a round-trip time.
    for (node, peer) in [(&acme, &bolt.uuid), (&bolt, &acme.uuid)] {
        let n = wait_network(
            node,
            Duration::from_secs(20),
            "a relayed path with a rtt",
            |n| {
                path_to(n, peer).as_deref() == Some("relayed")
                    && n["peers"][0]["rtt_ms"].as_f64().is_some()
            },
        )
        .await
        .unwrap();
        let remote = n["peers"][0]["remote_addresses"][0].as_str().unwrap();
        assert!(remote.contains("/p2p-circuit"), "{n:#}");
    }

    // The operator sees the same with `ochat network` and `ochat connection show`.
    let acme_dir = acme.data_dir.to_str().unwrap().to_string();
    let out = ochat(&["network", "--data-dir", &acme_dir]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Reachability:  private (configured)"),
        "{text}"
    );
    assert!(
        text.contains("connected through a relay, round trip"),
        "{text}"
    );
    assert!(text.contains("(reserved: /ip4/127.0.0.1/"), "{text}");
    let id = acme.connections().await.unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ochat(&["connection", "--data-dir", &acme_dir, "show", &id]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("network:    connected through a relay"),
        "{text}"
    );

    let mut acme = acme;
    let mut bolt = bolt;
    acme.stop().await.unwrap();
    bolt.stop().await.unwrap();
    directory.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_restart_mid_conversation_loses_no_acknowledged_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir_path = tmp.path().join("dir");
    let (directory, url) = directory_with_relay(
        &dir_path,
        "127.0.0.1:0".parse().unwrap(),
        "/ip4/127.0.0.1/tcp/0",
    )
    .await
    .unwrap();
    let http = directory.addr;
    let p2p_listen = directory.p2p_info().unwrap().addresses[0]
        .split("/p2p/")
        .next()
        .unwrap()
        .to_string();

    let acme = TestNode::start(relay_only_config(&tmp.path().join("acme"), "Acme", &url))
        .await
        .unwrap();
    let bolt = TestNode::start(relay_only_config(&tmp.path().join("bolt"), "Bolt", &url))
        .await
        .unwrap();
    wait_relayed_address(&acme).await.unwrap();
    wait_relayed_address(&bolt).await.unwrap();
    let (a_channel, b_channel) = link(&acme, &bolt).await.unwrap();

    let mut sent = Vec::new();
    for i in 0..5 {
        let text = format!("before the restart #{i}");
        acme.send(&a_channel, &text).await.unwrap();
        sent.push(text);
    }
    bolt.wait_history(&b_channel, 5, Duration::from_secs(20))
        .await
        .unwrap();

    // The relay goes away; Acme keeps writing.
    directory.shutdown().await.unwrap();
    for i in 0..5 {
        let text = format!("while the relay is down #{i}");
        acme.send(&a_channel, &text).await.unwrap();
        sent.push(text);
    }
    // With the relay gone there is no path: none of these is acknowledged yet.
    let mine = acme.history(&a_channel).await.unwrap();
    let stuck = mine
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("while the relay is down"))
        })
        .filter(|m| !matches!(m["state"].as_str(), Some("delivered" | "read")))
        .count();
    assert_eq!(stuck, 5, "{mine:#?}");
    // It comes back on the same addresses, with the same key.
    let (directory, _) = directory_with_relay(&dir_path, http, &p2p_listen)
        .await
        .unwrap();
    for i in 0..5 {
        let text = format!("after the restart #{i}");
        acme.send(&a_channel, &text).await.unwrap();
        sent.push(text);
    }

    let history = bolt
        .wait_history(&b_channel, sent.len(), Duration::from_secs(60))
        .await
        .unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in &history {
        *seen
            .entry(m["text"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for text in &sent {
        assert_eq!(
            seen.get(text),
            Some(&1),
            "{text} arrived {:?} times",
            seen.get(text)
        );
    }
    // And the sender sees every one acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mine = acme.history(&a_channel).await.unwrap();
        let delivered = mine
            .iter()
            .filter(|m| matches!(m["state"].as_str(), Some("delivered" | "read")))
            .count();
        if delivered == sent.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{delivered} of {} acknowledged",
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut acme = acme;
    let mut bolt = bolt;
    acme.stop().await.unwrap();
    bolt.stop().await.unwrap();
    directory.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_connection_is_upgraded_to_a_direct_one_by_hole_punching() {
    let tmp = tempfile::tempdir().unwrap();
    let (directory, url) = directory_with_relay(
        &tmp.path().join("dir"),
        "127.0.0.1:0".parse().unwrap(),
        "/ip4/127.0.0.1/tcp/0",
    )
    .await
    .unwrap();
    // Both publish only relayed addresses, but try DCUtR (on loopback it always succeeds).
    let mut nodes = Vec::new();
    for name in ["Acme", "Bolt"] {
        let mut config = relay_only_config(&tmp.path().join(name), name, &url);
        config.reach.hole_punching = true;
        let node = TestNode::start(config).await.unwrap();
        wait_relayed_address(&node).await.unwrap();
        nodes.push(node);
    }
    let (acme, bolt) = (&nodes[0], &nodes[1]);
    let (a_channel, b_channel) = link(acme, bolt).await.unwrap();
    let n = wait_network(acme, Duration::from_secs(20), "a direct path", |n| {
        path_to(n, &bolt.uuid).as_deref() == Some("direct")
    })
    .await
    .unwrap();
    assert!(
        n["peers"][0]["remote_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| !a.as_str().unwrap().contains("/p2p-circuit")),
        "{n:#}"
    );
    acme.send(&a_channel, "now without the relay")
        .await
        .unwrap();
    bolt.wait_history(&b_channel, 1, Duration::from_secs(20))
        .await
        .unwrap();
    for mut node in nodes {
        node.stop().await.unwrap();
    }
    directory.shutdown().await.unwrap();
}
