//! The network flags of `ochat run` and `ochat directory run` ([`ReachArgs`],
//! [`RelayLimitArgs`]) and `ochat network`, which prints `GET /api/v1/network`.

use anyhow::Context;
use clap::{Args, ValueEnum};
use ochat_node::network::{Forced, Multiaddr, ReachConfig, RelayLimits};
use reqwest::Method;
use serde_json::Value;

use crate::args::DataDirArg;
use crate::client::Api;

/// How reachability is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReachabilityArg {
    /// Measure it with AutoNAT v2 (the default).
    Auto,
    /// The listen addresses are public: serve AutoNAT and the DHT, reserve no relay slot.
    Public,
    /// Only relays reach this node: publish relayed addresses only, hide listen addresses.
    Private,
}

/// `ochat run`'s network flags.
#[derive(Debug, Clone, Args)]
pub struct ReachArgs {
    /// An address that reaches this node from outside (a port forward), e.g.
    /// /ip4/203.0.113.5/tcp/4001; repeatable. Published first and taken as confirmed.
    #[arg(
        long = "external-address",
        value_name = "MULTIADDR",
        env = "OCHAT_EXTERNAL_ADDRESSES",
        value_delimiter = ','
    )]
    pub external_addresses: Vec<Multiaddr>,
    /// A circuit relay to reserve a slot on when this node is not public, e.g.
    /// /ip4/203.0.113.9/tcp/7491/p2p/12D3…; repeatable. The directory's relay is added by itself.
    #[arg(
        long = "relay",
        value_name = "MULTIADDR",
        env = "OCHAT_RELAYS",
        value_delimiter = ','
    )]
    pub relays: Vec<Multiaddr>,
    /// Relay for other nodes (circuit relay v2, with the --relay-* limits) and answer their
    /// AutoNAT probes. Only for a publicly reachable node.
    #[arg(long, env = "OCHAT_RELAY_SERVER")]
    pub relay_server: bool,
    /// A DHT bootstrap peer (…/p2p/<peer id>); repeatable. The directory's node is added by
    /// itself.
    #[arg(
        long = "bootstrap",
        value_name = "MULTIADDR",
        env = "OCHAT_BOOTSTRAP",
        value_delimiter = ','
    )]
    pub bootstrap: Vec<Multiaddr>,
    /// Find instances on the local network with mDNS (multicast on every interface).
    #[arg(long, env = "OCHAT_MDNS")]
    pub mdns: bool,
    /// Reachability: measured (auto), or fixed.
    #[arg(long, value_enum, env = "OCHAT_REACHABILITY", default_value_t = ReachabilityArg::Auto)]
    pub reachability: ReachabilityArg,
    /// Do not try to upgrade relayed connections to direct ones (DCUtR hole punching).
    #[arg(long, env = "OCHAT_NO_HOLE_PUNCHING")]
    pub no_hole_punching: bool,
    /// Relay limits (with --relay-server).
    #[command(flatten)]
    pub limits: RelayLimitArgs,
}

/// Circuit relay v2 limits.
#[derive(Debug, Clone, Args)]
pub struct RelayLimitArgs {
    /// Relay: a circuit closes after this many seconds (the next message opens a new one).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "OCHAT_RELAY_CIRCUIT_SECONDS",
        default_value_t = 7200
    )]
    pub relay_circuit_seconds: u64,
    /// Relay: a circuit closes after this many MiB (both directions).
    #[arg(
        long,
        value_name = "MIB",
        env = "OCHAT_RELAY_CIRCUIT_MIB",
        default_value_t = 512
    )]
    pub relay_circuit_mib: u64,
    /// Relay: reservations held at once.
    #[arg(long, env = "OCHAT_RELAY_MAX_RESERVATIONS", default_value_t = 1024)]
    pub relay_max_reservations: usize,
    /// Relay: new reservations per source IP address per minute (0: no limit).
    #[arg(long, env = "OCHAT_RELAY_RESERVATIONS_PER_IP", default_value_t = 30)]
    pub relay_reservations_per_ip: u32,
    /// Relay: circuits open at once.
    #[arg(long, env = "OCHAT_RELAY_MAX_CIRCUITS", default_value_t = 1024)]
    pub relay_max_circuits: usize,
    /// Relay: circuits one peer may have open at once.
    #[arg(long, env = "OCHAT_RELAY_CIRCUITS_PER_PEER", default_value_t = 16)]
    pub relay_circuits_per_peer: usize,
    /// Relay: new circuits per source IP address per minute (0: no limit).
    #[arg(long, env = "OCHAT_RELAY_CIRCUITS_PER_IP", default_value_t = 60)]
    pub relay_circuits_per_ip: u32,
}

impl RelayLimitArgs {
    /// The limits these flags give.
    pub fn limits(&self) -> RelayLimits {
        RelayLimits {
            max_reservations: self.relay_max_reservations,
            reservations_per_ip_per_minute: self.relay_reservations_per_ip,
            max_circuits: self.relay_max_circuits,
            max_circuits_per_peer: self.relay_circuits_per_peer,
            circuits_per_ip_per_minute: self.relay_circuits_per_ip,
            max_circuit_duration: std::time::Duration::from_secs(self.relay_circuit_seconds.max(1)),
            max_circuit_bytes: self.relay_circuit_mib.saturating_mul(1024 * 1024).max(1),
            ..RelayLimits::default()
        }
    }
}

impl ReachArgs {
    /// The node's reach configuration.
    pub fn config(&self) -> ReachConfig {
        ReachConfig {
            external_addresses: self.external_addresses.clone(),
            relays: self.relays.clone(),
            bootstrap: self.bootstrap.clone(),
            relay_server: self.relay_server.then(|| self.limits.limits()),
            autonat_server: self.relay_server || !self.external_addresses.is_empty(),
            forced: match self.reachability {
                ReachabilityArg::Auto => None,
                ReachabilityArg::Public => Some(Forced::Public),
                ReachabilityArg::Private => Some(Forced::Private),
            },
            hole_punching: !self.no_hole_punching,
            mdns: self.mdns,
        }
    }
}

/// `ochat network`.
#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `ochat network`: prints where the node stands.
pub async fn network(args: &NetworkArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let n = api
        .call(Method::GET, "/api/v1/network", None)
        .await
        .context("cannot read the node's network state")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&n)?);
        return Ok(());
    }
    let forced = if n["forced"] == true {
        " (configured)"
    } else {
        ""
    };
    println!("Peer id:       {}", text(&n["peer_id"]));
    println!("Reachability:  {}{forced}", text(&n["reachability"]));
    list("Listening on:  ", &n["listen_addresses"]);
    list("External:      ", &n["external_addresses"]);
    list("Published:     ", &n["published_addresses"]);
    match n["relays"].as_array() {
        Some(relays) if !relays.is_empty() => {
            for r in relays {
                let state = match r["relayed_address"].as_str() {
                    Some(addr) => format!("reserved: {addr}"),
                    None => "no reservation".to_string(),
                };
                println!("Relay:         {} ({state})", text(&r["peer_id"]));
            }
        }
        _ => println!("Relay:         (none)"),
    }
    println!(
        "Relay server:  {}",
        if n["relay_server"] == true {
            "on"
        } else {
            "off"
        }
    );
    let stored = if n["dht_published"] == true {
        "our record stored"
    } else {
        "our record not stored yet"
    };
    let refused = match n["dht_refused"].as_u64() {
        Some(r) if r > 0 => format!(", {r} forged or invalid records refused"),
        _ => String::new(),
    };
    println!(
        "DHT:           {} mode, {} peers, {stored}{refused}",
        text(&n["dht_mode"]),
        text(&n["dht_peers"])
    );
    if n["mdns"] == true {
        println!("LAN (mDNS):    {} peers", text(&n["lan_peers"]));
    }
    let peers = n["peers"].as_array().cloned().unwrap_or_default();
    if peers.is_empty() {
        println!("Peers:         (no accepted connection)");
    }
    for p in &peers {
        println!(
            "Peer:          {} ({}): {}",
            text(&p["remote_uuid"]),
            text(&p["remote_name"]),
            path_line(p)
        );
    }
    Ok(())
}

/// "direct, 1.2 ms" / "relayed, 30.5 ms" / "not connected".
pub fn path_line(p: &Value) -> String {
    let rtt = p["rtt_ms"]
        .as_f64()
        .map(|ms| format!(", round trip {ms:.1} ms"))
        .unwrap_or_default();
    match p["path"].as_str() {
        Some("direct") => format!("connected directly{rtt}"),
        Some("relayed") => format!("connected through a relay{rtt}"),
        _ => "not connected".to_string(),
    }
}

fn list(label: &str, v: &Value) {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    if items.is_empty() {
        println!("{label}(none)");
    }
    for (i, item) in items.iter().enumerate() {
        if i == 0 {
            println!("{label}{item}");
        } else {
            println!("{}{item}", " ".repeat(label.len()));
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
