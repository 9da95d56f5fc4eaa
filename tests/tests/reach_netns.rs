//! The test internet itself (`ochat_tests::netns`), and what already works across it: a node
//! behind a home router links with a node on a public host through a directory, and a squatter
//! of a derived UUID is refused by that directory. Needs root, `ip` and `nft` (CI runs as root).
//!
//! The NAT checks use `netns-probe`: a public server tells each client the address it saw.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;

use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::InstanceRecord;
use ochat_tests::netns::{Host, Internet, Nat, PREFIX, existing_namespaces};
use ochat_tests::netns_user::link_and_talk;

/// What `netns-probe … ask` printed, one address per line.
fn seen(host: &Host, args: &[&str]) -> Vec<SocketAddr> {
    let out = host.probe(args).unwrap();
    assert!(
        out.status.success(),
        "{args:?} from {}: {}",
        host.ns,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Whether a TCP connection from `host` to `to` fails (within 1.5 s).
fn unreachable(host: &Host, to: SocketAddr) -> bool {
    !host
        .probe(&["tcp-ask", &to.to_string(), "1500"])
        .unwrap()
        .status
        .success()
}

#[test]
fn home_routers_really_translate_and_keep_their_lans_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let public = net.public_host("pub").unwrap();
    let mut easy = net.home_router("easy", Nat::EndpointIndependent).unwrap();
    let mut hard = net.home_router("hard", Nat::Symmetric).unwrap();
    let acme = net.host_behind(&mut easy, "acme").unwrap();
    let bolt = net.host_behind(&mut hard, "bolt").unwrap();
    let log = |name: &str| tmp.path().join(name);
    let _tcp = public
        .probe_server(&["tcp-serve", "0.0.0.0:7000"], &log("tcp"))
        .unwrap();
    let _udp1 = public
        .probe_server(&["udp-serve", "0.0.0.0:7001"], &log("udp1"))
        .unwrap();
    let _udp2 = public
        .probe_server(&["udp-serve", "0.0.0.0:7002"], &log("udp2"))
        .unwrap();
    let at = |port: u16| SocketAddr::from((public.addr, port)).to_string();

    // The public host sees each home host at its router's address, never at its LAN address.
    let from_acme = seen(&acme, &["tcp-ask", &at(7000), "5000"]);
    assert_eq!(from_acme[0].ip(), easy.wan);
    assert_eq!(
        seen(&bolt, &["tcp-ask", &at(7000), "5000"])[0].ip(),
        hard.wan
    );
    assert_eq!(acme.seen_as, easy.wan);
    assert_ne!(acme.addr, easy.wan);

    // Endpoint-independent: one socket keeps one public port (its own) towards two destinations.
    let easy_map = seen(
        &acme,
        &["udp-ask", "0.0.0.0:40000", "3000", &at(7001), &at(7002)],
    );
    assert_eq!(
        easy_map,
        [SocketAddr::from((easy.wan, 40000)); 2],
        "{easy_map:?}"
    );
    // Symmetric: the same socket gets another random port for every destination.
    let hard_map = seen(
        &bolt,
        &["udp-ask", "0.0.0.0:40000", "3000", &at(7001), &at(7002)],
    );
    assert!(hard_map.iter().all(|a| a.ip() == hard.wan), "{hard_map:?}");
    assert_ne!(hard_map[0].port(), hard_map[1].port(), "{hard_map:?}");

    // Nobody reaches into a LAN: not another home's host, not the internet, not even through
    // the router's public address.
    let _bolt_server = bolt
        .probe_server(&["tcp-serve", "0.0.0.0:7000"], &log("bolt"))
        .unwrap();
    assert!(unreachable(&acme, SocketAddr::from((bolt.addr, 7000))));
    assert!(unreachable(&acme, SocketAddr::from((hard.wan, 7000))));
    assert!(unreachable(&public, SocketAddr::from((bolt.addr, 7000))));
    // Bolt's server is up all the same: its own LAN reaches it.
    assert_eq!(
        seen(
            &bolt,
            &[
                "tcp-ask",
                &SocketAddr::from((bolt.addr, 7000)).to_string(),
                "3000"
            ]
        )[0]
        .ip(),
        bolt.addr
    );
}

#[test]
fn a_test_internet_leaves_nothing_behind_even_when_the_test_panics() {
    let made = std::panic::catch_unwind(|| {
        let mut net = Internet::new().unwrap();
        let mut router = net.home_router("r", Nat::EndpointIndependent).unwrap();
        net.host_behind(&mut router, "h").unwrap();
        net.public_host("p").unwrap();
        let names = net.namespaces();
        assert_eq!(names.len(), 4);
        let now = existing_namespaces().unwrap();
        assert!(
            names.iter().all(|n| now.contains(n)),
            "{names:?} in {now:?}"
        );
        std::panic::panic_any(names);
    });
    let names = *made.unwrap_err().downcast::<Vec<String>>().unwrap();
    let now = existing_namespaces().unwrap();
    assert!(names.iter().all(|n| !now.contains(n)), "left: {now:?}");
}

/// The flow the issue reports as working: Bolt on a public host, Acme behind a home router, a
/// directory on the public host, both started with nothing but `--directory`.
#[test]
fn a_node_behind_a_nat_links_and_talks_with_a_node_on_a_public_host() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let public = net.public_host("pub").unwrap();
    let mut home = net.home_router("home", Nat::EndpointIndependent).unwrap();
    let office = net.host_behind(&mut home, "acme").unwrap();
    let (_directory, url) = public
        .start_directory(&tmp.path().join("directory"), &[])
        .unwrap();
    let bolt = public
        .start_node(
            &tmp.path().join("bolt"),
            &["--directory", &url, "--name", "Bolt"],
        )
        .unwrap();
    let acme = office
        .start_node(
            &tmp.path().join("acme"),
            &["--directory", &url, "--name", "Acme"],
        )
        .unwrap();

    link_and_talk(&acme, &bolt).unwrap();
}

/// Mallory, behind her own router, knows the UUID Acme will have (derived from Acme's key) and
/// publishes first, with her key: the directory on the public host refuses, and keeps the UUID
/// free for Acme.
#[test]
fn a_squatter_of_a_derived_uuid_is_refused_by_the_directory_across_the_internet() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Internet::new().unwrap();
    let public = net.public_host("pub").unwrap();
    let mut home = net.home_router("home", Nat::EndpointIndependent).unwrap();
    let mallory = net.host_behind(&mut home, "mallory").unwrap();
    let (_directory, url) = public
        .start_directory(&tmp.path().join("directory"), &[])
        .unwrap();

    let acme_key = IdentityKey::generate().unwrap();
    let acme_uuid = InstanceId::derived_from(&acme_key.public());
    let squatter = IdentityKey::generate().unwrap();
    let signed = InstanceRecord {
        uuid: acme_uuid,
        name: "Acme".into(),
        identity: squatter.public(),
        prekey: [5; 32],
        addresses: vec![format!("/ip4/{}/tcp/4001", mallory.seen_as)],
        seq: 1,
        signed_at_ms: 1_700_000_000_000,
    }
    .sign(&squatter)
    .unwrap();
    let body = serde_json::json!({
        "body": hex::encode(&signed.body),
        "signature": hex::encode(&signed.signature),
    });
    let put = mallory
        .probe(&[
            "http",
            "PUT",
            &format!("{url}/v1/instances/{acme_uuid}"),
            &body.to_string(),
        ])
        .unwrap();
    let answer = String::from_utf8_lossy(&put.stdout);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("does not derive"), "{answer}");

    // Anyone asking the directory about Acme's UUID hears "unknown", not Mallory's record.
    let lookup = mallory
        .ochat(&["directory", "lookup", &acme_uuid.to_string(), "--url", &url])
        .unwrap();
    assert!(!lookup.status.success());
    let said = String::from_utf8_lossy(&lookup.stderr);
    assert!(said.contains("is not in the directory"), "{said}");
}

/// A test process killed with -9 cannot clean up: the next test internet removes what it left.
#[test]
fn namespaces_left_by_a_killed_test_process_are_swept() {
    // A pid that no process has (above the largest pid Linux hands out).
    let dead = format!("{PREFIX}4194399-0-left");
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &dead])
        .status()
        .unwrap();
    assert!(made.success());
    assert!(existing_namespaces().unwrap().contains(&dead));
    let _net = Internet::new().unwrap();
    assert!(!existing_namespaces().unwrap().contains(&dead));
}
