//! `ochat directory …`: run a UUID directory, or ask one about an Instance UUID.
//!
//! - `ochat directory run` — serves the directory from its own data folder until Ctrl-C or
//!   SIGTERM (see `ochat_node::directory::server`).
//! - `ochat directory lookup <uuid> --url <directory>` — fetches and verifies an instance's
//!   record and prints it, the way a node would see it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use ochat_node::directory::{
    DEFAULT_DATA_DIR, DEFAULT_LISTEN, DirectoryClient, DirectoryConfig, DirectoryP2p,
    DirectoryServer, RateLimit,
};
use ochat_node::network::Multiaddr;
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::verify_record;

use crate::run::wait_for_stop_signal;

/// The `ochat directory` subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum DirectoryCommand {
    /// Run a directory: an HTTP service where instances publish their signed record under their
    /// UUID (first key wins) and others look them up.
    Run(DirectoryRunArgs),
    /// Look an Instance UUID up in a directory and print its verified record.
    Lookup(DirectoryLookupArgs),
}

/// `ochat directory run`.
#[derive(Debug, Clone, Args)]
pub struct DirectoryRunArgs {
    /// The directory's data folder (its database; locked while it runs).
    #[arg(long, short = 'd', env = "OCHAT_DIRECTORY_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The settings file (default: `ochat.toml` in the directory's data folder).
    #[command(flatten)]
    pub config: crate::settings_args::ConfigFileArg,
    /// Where to listen. Put a TLS reverse proxy in front to serve it publicly, and name it
    /// with --trusted-proxy so the rate limit counts its clients, not the proxy.
    #[arg(long, env = "OCHAT_DIRECTORY_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The HTTP server: trusted proxies, timeouts, connection caps.
    #[command(flatten)]
    pub http: crate::settings_args::HttpArgs,
    /// Where the directory's libp2p node (circuit relay, AutoNAT server, DHT bootstrap)
    /// listens; repeatable. Default: TCP and QUIC on port 7491 of every interface.
    #[arg(
        long = "p2p-listen",
        value_name = "MULTIADDR",
        env = "OCHAT_P2P_LISTEN",
        value_delimiter = ','
    )]
    pub p2p_listen: Vec<Multiaddr>,
    /// The libp2p node's public address when it is not a listen address (behind a port
    /// forward); repeatable. Default: its listen addresses.
    #[arg(
        long = "p2p-external-address",
        value_name = "MULTIADDR",
        env = "OCHAT_P2P_EXTERNAL_ADDRESSES",
        value_delimiter = ','
    )]
    pub p2p_external_addresses: Vec<Multiaddr>,
    /// Run no libp2p node (no relay, no DHT bootstrap: nodes behind NAT cannot be reached).
    #[arg(long, env = "OCHAT_NO_P2P")]
    pub no_p2p: bool,
    /// Requests one client address may send back to back (lookups and publishes).
    #[arg(long, env = "OCHAT_RATE_LIMIT_BURST", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
    /// Requests a client address regains per minute; 0 turns the per-address limit off.
    #[arg(long, env = "OCHAT_RATE_LIMIT_PER_MINUTE", default_value_t = 300)]
    pub rate_limit_per_minute: u32,
    /// Relay limits.
    #[command(flatten)]
    pub limits: crate::network::RelayLimitArgs,
}

/// `ochat directory lookup`.
#[derive(Debug, Clone, Args)]
pub struct DirectoryLookupArgs {
    /// The Instance UUID to look up.
    pub uuid: InstanceId,
    /// The directory's base URL (an http:// or https:// address, as its operator gives it).
    #[arg(long, env = "OCHAT_DIRECTORY")]
    pub url: String,
}

/// Runs an `ochat directory` subcommand.
pub async fn run(command: DirectoryCommand, file: Option<PathBuf>) -> anyhow::Result<()> {
    match command {
        DirectoryCommand::Run(args) => serve(args, file).await,
        DirectoryCommand::Lookup(args) => lookup(args).await,
    }
}

/// Refuses settings that cannot go together.
pub fn check(args: &DirectoryRunArgs) -> anyhow::Result<()> {
    if args.no_p2p && !(args.p2p_listen.is_empty() && args.p2p_external_addresses.is_empty()) {
        anyhow::bail!("no_p2p cannot go with p2p_listen or p2p_external_addresses");
    }
    Ok(())
}

async fn serve(args: DirectoryRunArgs, file: Option<PathBuf>) -> anyhow::Result<()> {
    check(&args)?;
    let mut config = DirectoryConfig::new(&args.data_dir, args.listen);
    args.http.apply(&mut config.http);
    config.rate_limit = (args.rate_limit_per_minute > 0).then_some(RateLimit {
        burst: args.rate_limit_burst,
        per_minute: args.rate_limit_per_minute,
    });
    if !args.no_p2p {
        let mut p2p = DirectoryP2p::with_defaults();
        if !args.p2p_listen.is_empty() {
            p2p.listen = args.p2p_listen.clone();
        }
        p2p.external = args.p2p_external_addresses.clone();
        p2p.relay = args.limits.limits();
        config.p2p = Some(p2p);
    }
    let directory = DirectoryServer::start_with(config)
        .await
        .with_context(|| format!("cannot start the directory in {}", args.data_dir.display()))?;
    println!("Directory:   http://{}", directory.addr);
    if let Some(info) = directory.p2p_info() {
        println!("Peer id:     {}", info.peer_id);
        for address in &info.addresses {
            println!("Relay:       {address}");
        }
    }
    println!("Data folder: {}", args.data_dir.display());
    if let Some(file) = &file {
        println!("Settings:    {}", file.display());
    }
    println!("Press Ctrl-C to stop.");
    let waited = wait_for_stop_signal().await;
    println!("Stopping…");
    directory
        .shutdown()
        .await
        .context("the directory did not stop cleanly")?;
    waited?;
    println!("Stopped; data flushed.");
    Ok(())
}

async fn lookup(args: DirectoryLookupArgs) -> anyhow::Result<()> {
    let client = DirectoryClient::new(&args.url)?;
    let signed = client
        .lookup(args.uuid)
        .await
        .with_context(|| format!("cannot look {} up in {}", args.uuid, client.base_url()))?
        .with_context(|| {
            format!(
                "{} is not in the directory {}",
                args.uuid,
                client.base_url()
            )
        })?;
    // The client verified it already; decode it for printing.
    let record = verify_record(&signed).context("the record does not verify")?;
    println!("Instance UUID: {}", record.uuid);
    println!("Name:          {}", record.name);
    println!("Identity key:  {}", hex(&record.identity.to_bytes()));
    println!("Pre-key:       {}", hex(&record.prekey));
    println!("Version (seq): {}", record.seq);
    println!(
        "Signed at:     {} ms since the Unix epoch",
        record.signed_at_ms
    );
    if record.addresses.is_empty() {
        println!("Addresses:     (none)");
    }
    for address in &record.addresses {
        println!("Address:       {address}");
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
