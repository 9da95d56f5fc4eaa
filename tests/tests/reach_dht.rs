//! No directory at all: nodes started with `--bootstrap` to one public node find each other by
//! Instance UUID in the DHT, link and talk. A random (v4) UUID that two keys claim in the DHT is
//! refused with a clear "two keys claim this UUID" error, never a connection to either.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_node::network::{self, Forced, NetworkConfig, ReachConfig};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::InstanceRecord;
use ochat_tests::node::{TestNode, link, test_config};
use ochat_tests::reach::{network as network_view, p2p_address, wait_network};
use reqwest::Method;

/// The public bootstrap node and three organisations that know only its address.
async fn small_dht(tmp: &std::path::Path) -> (TestNode, Vec<TestNode>) {
    let mut boot_config = test_config(&tmp.join("boot"), "Boot", None);
    boot_config.reach.forced = Some(Forced::Public);
    let boot = TestNode::start(boot_config).await.unwrap();
    let boot_addr = p2p_address(&boot).await.unwrap();
    let mut nodes = Vec::new();
    for name in ["Acme", "Bolt", "Coda"] {
        let mut config = test_config(&tmp.join(name), name, None);
        config.reach.bootstrap = vec![boot_addr.clone()];
        nodes.push(TestNode::start(config).await.unwrap());
    }
    (boot, nodes)
}

/// A bare network node with a key of its own, bootstrapped from `boot`, that signs a record
/// claiming `uuid` (named `name`, sequence `seq`, pointing at itself) and stores it in the DHT.
async fn claim_in_dht(
    boot: &libp2p::Multiaddr,
    uuid: InstanceId,
    name: &str,
    seq: u64,
) -> network::NetworkHandle {
    let key = IdentityKey::generate().unwrap();
    let (net, _inbound) = network::start(
        &key.secret_bytes(),
        NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            reach: ReachConfig {
                bootstrap: vec![boot.clone()],
                ..ReachConfig::default()
            },
            ..NetworkConfig::default()
        },
    )
    .await
    .unwrap();
    let addrs = tokio::time::timeout(Duration::from_secs(10), net.wait_listening())
        .await
        .unwrap()
        .unwrap();
    let record = InstanceRecord {
        uuid,
        name: name.into(),
        identity: key.public(),
        prekey: [5; 32],
        addresses: addrs
            .iter()
            .map(|a| format!("{a}/p2p/{}", net.local_peer_id()))
            .collect(),
        seq,
        signed_at_ms: 1,
    }
    .sign(&key)
    .unwrap();
    net.dht_publish(uuid, record).await.unwrap();
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_directory_nodes_find_each_other_by_uuid_in_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut boot, nodes) = small_dht(tmp.path()).await;
    for node in &nodes {
        wait_network(
            node,
            Duration::from_secs(20),
            "the record is in the DHT",
            |n| n["dht_peers"].as_u64().unwrap_or(0) >= 1 && n["dht_published"] == true,
        )
        .await
        .unwrap();
    }
    let [acme, bolt, coda] = <[TestNode; 3]>::try_from(nodes).unwrap();

    // Acme has never heard of Coda's addresses: only its UUID.
    let (a_channel, c_channel) = link(&acme, &coda).await.unwrap();
    acme.send(&a_channel, "found you in the DHT").await.unwrap();
    let got = coda
        .wait_history(&c_channel, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[0]["text"], "found you in the DHT");
    coda.send(&c_channel, "and back").await.unwrap();
    acme.wait_history(&a_channel, 2, Duration::from_secs(20))
        .await
        .unwrap();

    // Bolt finds Acme the same way.
    let (b_channel, _) = link(&bolt, &acme).await.unwrap();
    bolt.send(&b_channel, "me too").await.unwrap();

    let n = network_view(&boot).await.unwrap();
    assert_eq!(n["dht_mode"], "server", "{n:#}");
    for mut node in [acme, bolt, coda] {
        node.stop().await.unwrap();
    }
    boot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uuid_claimed_by_two_keys_in_the_dht_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut boot, nodes) = small_dht(tmp.path()).await;
    let boot_addr = p2p_address(&boot).await.unwrap();
    let acme = &nodes[0];

    // Two keys publish a record for the same random UUID.
    let contested = InstanceId::generate();
    let mut claimants = Vec::new();
    for name in ["Owner", "Squatter"] {
        claimants.push(claim_in_dht(&boot_addr, contested, name, 1).await);
    }
    // Both claims reached the DHT.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = claimants[0].dht_lookup(contested).await.unwrap_or_default();
        if found.len() >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} claims",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let c = acme
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(serde_json::json!({"remote_uuid": contested.to_string(), "send": true})),
        )
        .await
        .unwrap();
    let id = c["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let now = acme.connection(id).await.unwrap();
        if now["delivery_error"]
            .as_str()
            .is_some_and(|e| e.contains("two keys claim this UUID"))
        {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        refused["status"], "Pending",
        "never a connection: {refused:#}"
    );
    assert_eq!(refused["delivered"], false, "{refused:#}");

    for net in claimants {
        net.shutdown().await;
    }
    for mut node in nodes {
        node.stop().await.unwrap();
    }
    boot.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatter_cannot_put_a_record_for_someone_elses_derived_uuid_in_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut boot, nodes) = small_dht(tmp.path()).await;
    let boot_addr = p2p_address(&boot).await.unwrap();
    let [acme, bolt, coda] = <[TestNode; 3]>::try_from(nodes).unwrap();
    wait_network(
        &coda,
        Duration::from_secs(20),
        "Coda's record is in the DHT",
        |n| n["dht_published"] == true,
    )
    .await
    .unwrap();

    // A squatter with a key of its own signs a record under Coda's UUID (derived from Coda's
    // key) and stores it in the DHT, pointing at itself.
    let coda_uuid: InstanceId = coda.uuid.parse().unwrap();
    let squatter = claim_in_dht(&boot_addr, coda_uuid, "Coda", 99).await;

    // The DHT node refuses to hold it, and says so.
    let n = wait_network(
        &boot,
        Duration::from_secs(20),
        "the forged record refused",
        |n| n["dht_refused"].as_u64().unwrap_or(0) >= 1,
    )
    .await
    .unwrap();
    assert_eq!(n["dht_mode"], "server", "{n:#}");

    // Whoever looks Coda up finds Coda: Acme links with the real one and talks to it.
    let network = &acme.node.as_ref().unwrap().shared.network;
    let found = network.dht_lookup(coda_uuid).await.unwrap();
    assert_eq!(found.len(), 1, "only Coda's own record: {found:?}");
    let (a_channel, c_channel) = link(&acme, &coda).await.unwrap();
    acme.send(&a_channel, "the real Coda?").await.unwrap();
    let got = coda
        .wait_history(&c_channel, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(got[0]["text"], "the real Coda?");

    squatter.shutdown().await;
    for mut node in [acme, bolt, coda] {
        node.stop().await.unwrap();
    }
    boot.stop().await.unwrap();
}
