//! Proxy headers are believed only from the operator's trusted proxies (`--trusted-proxy`).
//!
//! Anyone can send `X-Forwarded-For` or a country header. From a peer that is not a trusted
//! proxy they are ignored, so a client cannot escape a per-address limit or choose its
//! country; from a trusted proxy they name the real client, so the clients behind the proxy
//! are told apart. Real servers on 127.0.0.1, real HTTP requests with the forged headers.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::client_addr::TrustedProxies;
use ochat_node::directory::{DirectoryConfig, DirectoryServer, RateLimit, RunningDirectory};
use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use serde_json::json;

/// A directory that lets each client 3 requests, trusting `proxies`.
async fn directory(dir: &std::path::Path, proxies: &[&str]) -> RunningDirectory {
    let mut config = DirectoryConfig::new(dir, "127.0.0.1:0".parse().unwrap());
    config.rate_limit = Some(RateLimit {
        burst: 3,
        per_minute: 1,
    });
    config.http.trusted_proxies = TrustedProxies::parse(proxies).unwrap();
    DirectoryServer::start_with(config).await.unwrap()
}

/// The statuses of `GET /v1/health`, once per forwarded-for value, from 127.0.0.1.
async fn health_as(directory: &RunningDirectory, forwarded: &[&str]) -> Vec<u16> {
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for value in forwarded {
        let response = http
            .get(format!("http://{}/v1/health", directory.addr))
            .header("x-forwarded-for", *value)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_does_not_escape_the_directory_rate_limit() {
    let tmp = tempfile::tempdir().unwrap();

    // Nobody is trusted: a new made-up address on every request changes nothing.
    let open = directory(&tmp.path().join("open"), &[]).await;
    let forged = [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ];
    assert_eq!(health_as(&open, &forged).await, [200, 200, 200, 429]);
    open.shutdown().await.unwrap();

    // Behind a trusted proxy (here 127.0.0.1) each forwarded client has its own bucket…
    let proxied = directory(&tmp.path().join("proxied"), &["127.0.0.1"]).await;
    assert_eq!(health_as(&proxied, &forged).await, [200, 200, 200, 200]);
    // …and what a client writes to the left of the proxy's entry does not matter: these are
    // all 203.0.113.7, as the proxy saw it.
    let spoofed = [
        "1.1.1.1, 203.0.113.7",
        "2.2.2.2, 203.0.113.7",
        "3.3.3.3, 203.0.113.7",
        "4.4.4.4, 203.0.113.7",
    ];
    assert_eq!(health_as(&proxied, &spoofed).await, [200, 200, 200, 429]);
    proxied.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_cannot_pick_their_country_unless_a_trusted_proxy_tells_it() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));

    // The node reads the visitor's country from a header, but trusts no proxy: the header
    // comes straight from the visitor, so it is ignored.
    let mut direct = ChatNode::start_with(&tmp.path().join("direct"), clock.clone(), |c| {
        c.http.trusted_proxies = TrustedProxies::none();
    })
    .await
    .unwrap();
    let ann = direct.operator("ann", json!({})).await.unwrap();
    let channel = direct.channel("Website", &[&ann], json!({})).await.unwrap();
    let visit = direct
        .visit(&channel, "https://shop.test/", "en", Some("FR"), None)
        .await
        .unwrap();
    assert_eq!(visit.answer["session"]["country"], json!(null));
    direct.node.stop().await.unwrap();

    // With 127.0.0.1 as its trusted proxy, the same header is the proxy's word.
    let mut proxied = ChatNode::start_with(&tmp.path().join("proxied"), clock, |c| {
        c.http.trusted_proxies = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
    })
    .await
    .unwrap();
    let ann = proxied.operator("ann", json!({})).await.unwrap();
    let channel = proxied
        .channel("Website", &[&ann], json!({}))
        .await
        .unwrap();
    let visit = proxied
        .visit(&channel, "https://shop.test/", "en", Some("FR"), None)
        .await
        .unwrap();
    assert_eq!(visit.answer["session"]["country"], "FR");
    proxied.node.stop().await.unwrap();
}
