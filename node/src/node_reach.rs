//! A node started with `--directory URL` and nothing else finds its relay and DHT bootstrap
//! peer by itself: it asks the directory for its libp2p node (`GET /v1/p2p`) and adds it, with
//! the address that matches the directory URL's host first (the one this node demonstrably
//! reaches), retrying with backoff until the directory answers.

use std::net::IpAddr;
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::directory::DirectoryClient;
use crate::network::NetworkHandle;

/// Waits between tries: 500 ms, doubling up to 60 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));

/// Adds the directory host's libp2p node as relay and bootstrap peer (once it answers).
pub(crate) async fn use_directory_p2p(
    client: DirectoryClient,
    network: NetworkHandle,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = BACKOFF.start();
    loop {
        match client.p2p_info().await {
            Ok(Some(info)) => {
                let addrs = ordered(&client, &info.addresses).await;
                if addrs.is_empty() {
                    tracing::warn!("the directory's libp2p node has no address");
                    return;
                }
                tracing::info!(peer_id = %info.peer_id, ?addrs, "using the directory's libp2p node as relay and DHT bootstrap");
                if let Err(e) = network.add_relays(addrs.clone()).await {
                    tracing::debug!(error = %e, "could not add the directory's relay");
                }
                if let Err(e) = network.add_bootstrap(addrs).await {
                    tracing::debug!(error = %e, "could not add the directory's DHT node");
                }
                return;
            }
            Ok(None) => {
                tracing::info!(
                    "the directory runs no libp2p node: no relay or DHT bootstrap from it"
                );
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the directory for its libp2p node yet")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(retry.failed()) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The addresses that parse, those on the directory URL's host first, then the others, QUIC
/// before TCP within each group; loopback addresses only when the directory itself is on
/// loopback (a directory listening on every interface lists 127.0.0.1 too, which on another
/// machine is that machine).
async fn ordered(client: &DirectoryClient, addresses: &[String]) -> Vec<Multiaddr> {
    let host_ips = host_ips(client.base_url()).await;
    let local_directory = host_ips.iter().any(IpAddr::is_loopback);
    let mut addrs: Vec<(u8, bool, Multiaddr)> = addresses
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .map(|a| {
            let ip = a.iter().find_map(|p| match p {
                Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
                Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
                _ => None,
            });
            let rank = match ip {
                Some(ip) if host_ips.contains(&ip) => 0,
                Some(ip) if ip.is_loopback() => 2,
                _ => 1,
            };
            let quic = a.iter().any(|p| matches!(p, Protocol::QuicV1));
            (rank, !quic, a)
        })
        .filter(|(rank, _, _)| *rank < 2 || local_directory)
        .collect();
    addrs.sort_by_key(|(rank, tcp, _)| (*rank, *tcp));
    addrs.into_iter().map(|(_, _, a)| a).collect()
}

async fn host_ips(base_url: &str) -> Vec<IpAddr> {
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return Vec::new();
    };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    let port = url.port_or_known_default().unwrap_or(80);
    match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.map(|sa| sa.ip()).collect(),
        Err(_) => Vec::new(),
    }
}
