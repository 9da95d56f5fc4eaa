//! Reaching instances behind home routers (issue 24), on the namespace internet of
//! `ochat_tests::netns`: one public host runs nothing but `ochat directory run` (a directory, and
//! its libp2p node: relay, AutoNAT server, DHT bootstrap), the nodes start with nothing but
//! `--directory`; or, without any directory, with `--bootstrap` to one public node.
//!
//! Needs root, `ip` and `nft` (`.ci/run` installs iproute2 and nftables).
//! `OCHAT_TEST_NODE_LOG=info,libp2p_dcutr=debug` sets the nodes' log filter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::Path;

use ochat_tests::legacy::folder_with_random_uuid;
use ochat_tests::netns::{Internet, Nat, NetnsNode};
use ochat_tests::netns_user::{STEP, link_and_talk, poll};

/// One internet at a time: a hole punch depends on both sides dialling within a few
/// milliseconds of each other, and five internets of `ochat` processes at once on two cores
/// starve it (the first test then fails one run in a few).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The line of `ochat network` about the peer `uuid`, lower-cased, once `wanted` says so.
fn wait_path(node: &NetnsNode, uuid: &str, wanted: impl Fn(&str) -> bool) -> String {
    path_within(node, uuid, wanted, STEP).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`wait_path`], with a limit, and an error (with what `ochat network` said) at the end.
fn path_within(
    node: &NetnsNode,
    uuid: &str,
    wanted: impl Fn(&str) -> bool,
    limit: std::time::Duration,
) -> Result<String, String> {
    let mut last = String::new();
    poll(&format!("the path to {uuid}"), limit, || {
        last = node.network()?;
        Ok(last
            .lines()
            .map(str::to_lowercase)
            .find(|l| l.contains(uuid) && wanted(l)))
    })
    .map_err(|e| format!("{e}\n`ochat network` said:\n{last}"))
}

fn is_direct(line: &str) -> bool {
    line.contains("direct") && !line.contains("relay")
}

fn is_relayed(line: &str) -> bool {
    line.contains("relay")
}

/// A directory on a public host and two home routers with one node each.
struct TwoHomes {
    _net: Internet,
    _directory: ochat_tests::netns::Daemon,
    acme: NetnsNode,
    bolt: NetnsNode,
}

fn two_homes(tmp: &Path, acme_nat: Nat, bolt_nat: Nat) -> TwoHomes {
    let mut net = Internet::new().unwrap();
    let public = net.public_host("pub").unwrap();
    let mut acme_router = net.home_router("ra", acme_nat).unwrap();
    let mut bolt_router = net.home_router("rb", bolt_nat).unwrap();
    let acme_host = net.host_behind(&mut acme_router, "acme").unwrap();
    let bolt_host = net.host_behind(&mut bolt_router, "bolt").unwrap();
    let (directory, url) = public.start_directory(&tmp.join("directory"), &[]).unwrap();
    let acme = acme_host
        .start_node(&tmp.join("acme"), &["--directory", &url, "--name", "Acme"])
        .unwrap();
    let bolt = bolt_host
        .start_node(&tmp.join("bolt"), &["--directory", &url, "--name", "Bolt"])
        .unwrap();
    acme.wait_listed_behind_relay(&url, STEP).unwrap();
    bolt.wait_listed_behind_relay(&url, STEP).unwrap();
    TwoHomes {
        _net: net,
        _directory: directory,
        acme,
        bolt,
    }
}

#[test]
fn two_nodes_behind_two_nats_link_with_only_a_directory_and_end_up_direct() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let homes = two_homes(
        tmp.path(),
        Nat::EndpointIndependent,
        Nat::EndpointIndependent,
    );
    let (acme, bolt) = (&homes.acme, &homes.bolt);

    let (acme_channel, bolt_channel) = link_and_talk(acme, bolt).unwrap();

    // The relay carried the start; hole punching made the path direct, on both sides. (Both
    // nodes reach the relay over QUIC, so both offer QUIC addresses to punch: when one came over
    // TCP and the other over QUIC, each side punched on its own transport and one try in three
    // missed.)
    let bolt_uuid = bolt.uuid().unwrap();
    if let Err(miss) = path_within(acme, &bolt_uuid, is_direct, STEP) {
        let punching = |node: &NetnsNode| {
            node.daemon
                .log()
                .lines()
                .filter(|l| l.contains("punch") || l.contains("dcutr"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{miss}\nAcme's log on hole punching:\n{}\nBolt's:\n{}",
            punching(acme),
            punching(bolt)
        );
    }
    wait_path(bolt, &acme.uuid().unwrap(), is_direct);
    // And it carries messages.
    let id = acme.send(&acme_channel, "now direct").unwrap();
    bolt.wait_received(&bolt_channel, "now direct", STEP)
        .unwrap();
    acme.wait_delivered(&acme_channel, &id, STEP).unwrap();
}

#[test]
fn behind_a_symmetric_nat_everything_flows_through_the_relay() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let homes = two_homes(tmp.path(), Nat::EndpointIndependent, Nat::Symmetric);
    let (acme, bolt) = (&homes.acme, &homes.bolt);

    let (acme_channel, bolt_channel) = link_and_talk(acme, bolt).unwrap();

    // No hole can be punched through a symmetric NAT: both say the path is relayed.
    let acme_view = wait_path(acme, &bolt.uuid().unwrap(), is_relayed);
    assert!(!is_direct(&acme_view), "{acme_view}");
    wait_path(bolt, &acme.uuid().unwrap(), is_relayed);
    let whole = bolt.network().unwrap().to_lowercase();
    assert!(whole.contains("private"), "{whole}");
    // Messages keep flowing through the relay, both ways.
    let there = acme.send(&acme_channel, "via the relay").unwrap();
    bolt.wait_received(&bolt_channel, "via the relay", STEP)
        .unwrap();
    acme.wait_delivered(&acme_channel, &there, STEP).unwrap();
    let back = bolt.send(&bolt_channel, "and back").unwrap();
    acme.wait_received(&acme_channel, "and back", STEP).unwrap();
    bolt.wait_delivered(&bolt_channel, &back, STEP).unwrap();
}

/// The TCP port the bootstrap node listens on, so its multiaddr is known in advance.
const BOOTSTRAP_PORT: u16 = 4001;

#[test]
fn without_a_directory_five_nodes_find_each_other_through_the_dht() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let seed_host = net.public_host("seed").unwrap();
    let listen = format!("/ip4/0.0.0.0/tcp/{BOOTSTRAP_PORT}");
    let seed = seed_host
        .start_node(
            &tmp.path().join("seed"),
            &["--listen", &listen, "--name", "Seed"],
        )
        .unwrap();
    let bootstrap = seed.multiaddr(BOOTSTRAP_PORT).unwrap();
    let nodes: Vec<NetnsNode> = (1..=5)
        .map(|i| {
            let host = net.public_host(&format!("n{i}")).unwrap();
            host.start_node(
                &tmp.path().join(format!("n{i}")),
                &["--bootstrap", &bootstrap, "--name", &format!("Node {i}")],
            )
            .unwrap()
        })
        .collect();

    // Each asks the next one, by UUID alone, around the ring.
    for i in 0..nodes.len() {
        let next = &nodes[(i + 1) % nodes.len()];
        link_and_talk(&nodes[i], next)
            .unwrap_or_else(|e| panic!("node {} → node {}: {e:#}", i + 1, (i + 1) % 5 + 1));
    }
}

/// Two data folders from before derived UUIDs share one random UUID under two keys; a third
/// node that looks the UUID up in the DHT must refuse to pick one.
#[test]
fn a_random_uuid_claimed_by_two_keys_in_the_dht_is_refused_clearly() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let seed_host = net.public_host("seed").unwrap();
    let listen = format!("/ip4/0.0.0.0/tcp/{BOOTSTRAP_PORT}");
    let seed = seed_host
        .start_node(
            &tmp.path().join("seed"),
            &["--listen", &listen, "--name", "Seed"],
        )
        .unwrap();
    let bootstrap = seed.multiaddr(BOOTSTRAP_PORT).unwrap();
    let twin_a = tmp.path().join("twin-a");
    let twin_b = tmp.path().join("twin-b");
    let shared = folder_with_random_uuid(&twin_a, "Twin").unwrap();
    std::fs::create_dir_all(&twin_b).unwrap();
    std::fs::copy(twin_a.join("instance.json"), twin_b.join("instance.json")).unwrap();
    let start = |dir: &Path, label: &str, net: &mut Internet| {
        net.public_host(label)
            .unwrap()
            .start_node(dir, &["--bootstrap", &bootstrap])
            .unwrap()
    };
    let a = start(&twin_a, "ta", &mut net);
    let b = start(&twin_b, "tb", &mut net);
    assert_eq!(a.uuid().unwrap(), shared.to_string());
    assert_eq!(b.uuid().unwrap(), shared.to_string());
    let carol = start(&tmp.path().join("carol"), "carol", &mut net);

    let sent = carol.json(&["connect", &shared.to_string()]).unwrap();
    let id = sent["id"].as_str().unwrap().to_string();
    let refused = poll("the two-keys refusal", STEP, || {
        let now = carol.json(&["connection", "show", &id])?;
        if now["status"] == "Not Found" {
            carol.json(&["connection", "retry", &id])?;
        }
        Ok(now["delivery_error"]
            .as_str()
            .is_some_and(|e| e.contains("two keys claim this UUID"))
            .then_some(now))
    })
    .unwrap();
    assert_ne!(refused["status"], "Accepted", "{refused}");
    for twin in [&a, &b] {
        let incoming = twin.json(&["connections", "--incoming"]).unwrap();
        assert_eq!(incoming.as_array().map(Vec::len), Some(0), "{incoming}");
    }
}

/// Two instances on one office LAN, no directory and no bootstrap peer: with `--mdns` they find
/// each other by UUID, and the handshake's checks apply as anywhere else.
#[test]
fn on_one_lan_mdns_alone_links_two_instances() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let mut office = net.home_router("office", Nat::EndpointIndependent).unwrap();
    let left = net.host_behind(&mut office, "left").unwrap();
    let right = net.host_behind(&mut office, "right").unwrap();
    let acme = left
        .start_node(&tmp.path().join("acme"), &["--mdns", "--name", "Acme"])
        .unwrap();
    let bolt = right
        .start_node(&tmp.path().join("bolt"), &["--mdns", "--name", "Bolt"])
        .unwrap();

    link_and_talk(&acme, &bolt).unwrap();
    let view = wait_path(&acme, &bolt.uuid().unwrap(), is_direct);
    assert!(!view.contains("relay"), "{view}");
}
