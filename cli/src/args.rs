//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ochat_node::config::{DEFAULT_API_LISTEN, DEFAULT_DATA_DIR};

/// ochat — a messaging node for your organisation: federation with other instances by
/// Instance UUID, and live chat for your website's visitors.
#[derive(Debug, Parser)]
#[command(name = "ochat", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug). OCHAT_LOG overrides it (tracing filter syntax).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a node (creates the data folder and identity on first start).
    Run(RunArgs),
    /// Print this instance's UUID, the one to give to other organisations.
    Uuid(DataDirArg),
    /// Run a UUID directory, or look an Instance UUID up in one.
    #[command(subcommand)]
    Directory(crate::directory::DirectoryCommand),
}

/// Where the node's data folder is.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// The node's data folder.
    #[arg(long, short = 'd', env = "OCHAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// `ochat run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The data folder.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Address of the local HTTP API (keep it on loopback unless a reverse proxy fronts it).
    #[arg(long, env = "OCHAT_API_LISTEN", default_value = DEFAULT_API_LISTEN)]
    pub api_listen: SocketAddr,
    /// Peer-to-peer listen address (libp2p multiaddr); repeat for several.
    #[arg(long = "listen")]
    pub listen: Vec<String>,
    /// The instance's display name, used when the identity is first created.
    #[arg(long)]
    pub name: Option<String>,
}
