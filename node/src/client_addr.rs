//! Who is calling: the client address of an HTTP request, and which proxies may tell it.
//!
//! The TCP peer is the client unless the peer is one of the operator's trusted reverse proxies
//! (`--trusted-proxy`, addresses or CIDR blocks; none by default). Then the client is read from
//! `X-Forwarded-For`, walking it from the right and skipping hops that are trusted proxies
//! themselves: the first untrusted hop is the address the outermost proxy of ours saw. A client
//! can put anything at the left of that header, so the left end is never believed.
//!
//! Used by [`crate::http_server`] (the API's and the directory's server loop), which hands the
//! result to handlers as axum's `ConnectInfo<SocketAddr>`, strips proxy headers sent by
//! anyone else, and counts connections per [`client_key`]; by the directory's rate limit.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use axum::http::header::HeaderName;
use ipnet::IpNet;
use thiserror::Error;

/// The headers a reverse proxy sets about the client. Sent by anyone but a trusted proxy,
/// they are removed before any handler sees the request.
pub const PROXY_HEADERS: [&str; 6] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "forwarded",
];

/// A `--trusted-proxy` value that is neither an address nor a CIDR block.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "{value:?} is not an IP address or a CIDR block (examples: 10.0.0.5, 10.0.0.0/8, ::1, fd00::/8)"
)]
pub struct TrustedProxyError {
    /// What was given.
    pub value: String,
}

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts nobody (the default): every client is its TCP peer.
    pub fn none() -> Self {
        TrustedProxies(Vec::new())
    }

    /// Parses addresses and CIDR blocks (as given to `--trusted-proxy`).
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Self, TrustedProxyError> {
        values
            .iter()
            .map(|v| v.as_ref().parse::<TrustedProxy>().map(|p| p.0))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromIterator<TrustedProxy> for TrustedProxies {
    fn from_iter<I: IntoIterator<Item = TrustedProxy>>(iter: I) -> Self {
        TrustedProxies(iter.into_iter().map(|p| p.0).collect())
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(|n| n.to_string()).collect();
        f.write_str(&list.join(", "))
    }
}

/// One `--trusted-proxy` value: an address (a /32 or /128) or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl FromStr for TrustedProxy {
    type Err = TrustedProxyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let net = match s.parse::<IpNet>() {
            Ok(net) => net.trunc(),
            Err(_) => s
                .parse::<IpAddr>()
                .map(|ip| IpNet::from(canonical(ip)))
                .map_err(|_| TrustedProxyError {
                    value: s.to_string(),
                })?,
        };
        Ok(TrustedProxy(net))
    }
}

/// Where a request comes from, as far as we can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client: the TCP peer, or what a trusted proxy forwarded.
    pub ip: IpAddr,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// Whether the peer is a trusted proxy (its forwarding headers are kept).
    pub via_proxy: bool,
}

impl ClientAddr {
    /// The client as a socket address for `ConnectInfo`: the peer itself, or the forwarded
    /// address with port 0 (proxies do not forward the client's port).
    pub fn socket_addr(&self) -> SocketAddr {
        if self.ip == canonical(self.peer.ip()) {
            SocketAddr::new(self.ip, self.peer.port())
        } else {
            SocketAddr::new(self.ip, 0)
        }
    }
}

/// Finds the client of a request that arrived from `peer` with `headers`.
pub fn resolve(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientAddr {
    let peer_ip = canonical(peer.ip());
    if !trusted.contains(peer_ip) {
        return ClientAddr {
            ip: peer_ip,
            peer,
            via_proxy: false,
        };
    }
    let hops: Vec<&str> = headers
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer_ip;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            // A hop we cannot read ends the chain: keep the last one we could trust.
            None => break,
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
        }
    }
    ClientAddr {
        ip: client,
        peer,
        via_proxy: true,
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// IPv4 clients reached over an IPv6 socket (`::ffff:a.b.c.d`) are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The unit per-address limits count: IPv4 addresses one by one, IPv6 ones by /64 (the block
/// one subscriber usually gets), so one host cannot dodge a limit by rotating its addresses.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn a_stranger_cannot_forward_an_address() {
        let trusted = TrustedProxies::parse(&["10.0.0.5"]).unwrap();
        let got = resolve(peer("198.51.100.7"), &forwarded(&["192.0.2.1"]), &trusted);
        assert_eq!(got.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(!got.via_proxy);
        assert_eq!(got.socket_addr(), peer("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_forwards_the_first_untrusted_hop_from_the_right() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // The client forged "1.1.1.1"; the edge proxy appended the real address; an inner
        // proxy appended the edge proxy's.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]);
        let got = resolve(peer("10.0.0.5"), &headers, &trusted);
        assert_eq!(got.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(got.via_proxy);
        assert_eq!(got.socket_addr().port(), 0);
    }

    #[test]
    fn a_trusted_proxy_without_or_with_garbage_forwarding_is_the_client() {
        let trusted = TrustedProxies::parse(&["::1", "127.0.0.1"]).unwrap();
        let none = resolve(peer("127.0.0.1"), &HeaderMap::new(), &trusted);
        assert_eq!(none.socket_addr(), peer("127.0.0.1"));
        let garbage = resolve(peer("::1"), &forwarded(&["203.0.113.9, unknown"]), &trusted);
        assert_eq!(garbage.ip, "::1".parse::<IpAddr>().unwrap());
        let ported = resolve(peer("::1"), &forwarded(&["[2001:db8::7]:443"]), &trusted);
        assert_eq!(ported.ip, "2001:db8::7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn proxies_are_addresses_or_blocks_and_nothing_else() {
        let trusted = TrustedProxies::parse(&[" 192.0.2.1 ", "fd00::/8", "10.9.8.7/8"]).unwrap();
        assert!(trusted.contains("192.0.2.1".parse().unwrap()));
        assert!(!trusted.contains("192.0.2.2".parse().unwrap()));
        assert!(trusted.contains("fd12::1".parse().unwrap()));
        assert!(trusted.contains("10.200.0.1".parse().unwrap()));
        assert!(trusted.contains("::ffff:192.0.2.1".parse().unwrap()));
        let err = TrustedProxies::parse(&["proxy.example"]).unwrap_err();
        assert!(err.to_string().contains("proxy.example"), "{err}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }

    #[test]
    fn ipv6_clients_of_one_subscriber_share_a_key() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
    }
}
