//! Slow and greedy clients cannot close the API (or the directory) to everyone else.
//!
//! The attack this answers: thousands of connections that each send half a request and then
//! nothing used to be held open for ever, until the process ran out of files and the console
//! stopped answering. Now headers must arrive within a timeout, idle connections are closed,
//! one address gets only its share of connections, and a node stops cleanly whoever is
//! connected. The attackers are real sockets from 127.0.0.2… (distinct loopback addresses);
//! the honest client comes from 127.0.0.1.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ochat_node::directory::{DirectoryConfig, DirectoryServer};
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::slow_clients::{HALF_SENT, SlowClients, loopback_clients, request_from};

/// How much later than its timeout the server may close a slow connection.
const MARGIN: Duration = Duration::from_secs(15);

fn localhost() -> IpAddr {
    [127, 0, 0, 1].into()
}

/// The test holds both ends of every connection: make room for them.
fn enough_files() {
    let setup = ochat_node::process_setup::prepare();
    assert!(
        setup.open_files.unwrap_or(u64::MAX) >= 8_000,
        "this test needs 8,000 open files, the limit is {setup:?}"
    );
}

fn api_addr(node: &TestNode) -> SocketAddr {
    node.node.as_ref().unwrap().api_addr
}

/// GETs `path` from 127.0.0.1 and says how long the answer took.
async fn honest_get(base: &str, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path} did not answer an honest client: {e}"));
    (response.status().as_u16(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_half_sent_requests_leave_the_console_answering_and_are_closed() {
    enough_files();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path(), "Shop", None);
    config.http.header_read_timeout = Duration::from_secs(3);
    let mut node = TestNode::start(config).await.unwrap();

    // 15 addresses, 200 half-sent requests each: under the per-address cap, all are held.
    let attackers = loopback_clients(2, 15);
    let mut slow = SlowClients::open(api_addr(&node), &attackers, 200, HALF_SENT)
        .await
        .unwrap();
    assert_eq!(slow.len(), 3_000);

    // Meanwhile an operator opens the console and the CLI asks the API: both answer at once.
    let (status, took) = honest_get(&node.api, "/console").await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "the console took {took:?}");
    let started = Instant::now();
    node.ok(reqwest::Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));

    // None of the slow clients finishes its headers: each is closed after the timeout.
    slow.wait_closed(3_000, Duration::from_secs(3) + MARGIN)
        .await
        .unwrap();
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_share_of_connections_and_no_more() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path(), "Shop", None);
    config.http.max_connections_per_ip = 100;
    config.http.header_read_timeout = Duration::from_secs(120);
    let mut node = TestNode::start(config).await.unwrap();
    let server = api_addr(&node);
    let greedy: IpAddr = [127, 0, 0, 2].into();

    // 150 connections from one address: the 50 beyond its share are closed unread, at once
    // (long before any timeout), and the other 100 stay.
    let mut held = SlowClients::open(server, &[greedy], 150, HALF_SENT)
        .await
        .unwrap();
    held.wait_closed(50, Duration::from_secs(10)).await.unwrap();
    assert_eq!(held.closed(), 50, "the 100 within the share stay open");

    // Another address is served as usual.
    let (status, _) = honest_get(&node.api, "/console").await;
    assert_eq!(status, 200);
    let mut one_more = SlowClients::open(server, &[greedy], 1, HALF_SENT)
        .await
        .unwrap();
    one_more
        .wait_closed(1, Duration::from_secs(10))
        .await
        .unwrap();

    // When the greedy client lets go of some, it may connect again.
    held.drop_open(10);
    let request = b"GET /console HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match request_from(greedy, server, request).await {
            Ok((status, _)) => {
                assert!(status.contains(" 200 "), "{status}");
                break;
            }
            Err(e) if Instant::now() > deadline => panic!("never served again: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_addresses_together_cannot_fill_the_server_with_half_sent_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path(), "Shop", None);
    config.http.max_connections = 200;
    config.http.header_read_timeout = Duration::from_secs(120);
    let mut node = TestNode::start(config).await.unwrap();

    // Ten addresses, each within its own share, send 400 half requests in all: at the cap of
    // 200, each newcomer takes the place of the oldest half-sent one.
    let mut slow = SlowClients::open(api_addr(&node), &loopback_clients(2, 10), 40, HALF_SENT)
        .await
        .unwrap();
    slow.wait_closed(200, Duration::from_secs(10))
        .await
        .unwrap();

    // The console still answers: an honest client is never locked out by idle connections.
    let (status, took) = honest_get(&node.api, "/console").await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "the console took {took:?}");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path(), "Shop", None);
    config.http.header_read_timeout = Duration::from_secs(2);
    let mut node = TestNode::start(config).await.unwrap();

    let request = b"GET /console HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let (status, stream) = request_from(localhost(), api_addr(&node), request)
        .await
        .unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let mut idle = SlowClients::from_streams(vec![stream]);
    idle.wait_closed(1, Duration::from_secs(2) + MARGIN)
        .await
        .unwrap();
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_held_by_slow_clients_still_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = test_config(tmp.path(), "Shop", None);
    config.http.header_read_timeout = Duration::from_secs(300);
    let mut node = TestNode::start(config).await.unwrap();
    let _slow = SlowClients::open(api_addr(&node), &loopback_clients(2, 5), 100, HALF_SENT)
        .await
        .unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(30), node.stop()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "the node did not stop: {stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_keeps_answering_and_closes_slow_headers_and_slow_bodies() {
    enough_files();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = DirectoryConfig::new(tmp.path(), "127.0.0.1:0".parse().unwrap());
    config.http.header_read_timeout = Duration::from_secs(3);
    config.http.body_read_timeout = Duration::from_secs(2);
    let directory = DirectoryServer::start_with(config).await.unwrap();
    let base = format!("http://{}", directory.addr);

    let mut slow = SlowClients::open(directory.addr, &loopback_clients(2, 15), 200, HALF_SENT)
        .await
        .unwrap();
    let (status, took) = honest_get(&base, "/v1/health").await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "the directory took {took:?}");
    slow.wait_closed(3_000, Duration::from_secs(3) + MARGIN)
        .await
        .unwrap();

    // A record sent a few bytes and then nothing: the body timeout ends it.
    let uuid = ochat_protocol::identity::InstanceId::generate();
    let head = format!(
        "PUT /v1/instances/{uuid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"body\": \""
    );
    let mut slow_body = SlowClients::open(
        directory.addr,
        &[[127, 0, 0, 20].into()],
        1,
        head.as_bytes(),
    )
    .await
    .unwrap();
    slow_body
        .wait_closed(1, Duration::from_secs(2) + MARGIN)
        .await
        .unwrap();
    directory.shutdown().await.unwrap();
}
