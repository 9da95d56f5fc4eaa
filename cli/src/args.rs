//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ochat_node::config::{DEFAULT_API_LISTEN, DEFAULT_DATA_DIR};
use thiserror::Error;

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
    /// Create a connection request to another instance and send it (unless --draft).
    Connect(ConnectArgs),
    /// List connections.
    Connections(ListArgs),
    /// Act on one connection: show, send, sync, cancel, accept, reject, retry, edit, delete,
    /// members.
    Connection(ConnectionArgs),
    /// Manage local users (members of connections' channels).
    User(UserArgs),
    /// List channels (one per accepted connection) with unread counts.
    Channels(ChannelArg),
    /// Send a message (or a file with --file) in a channel.
    Send(SendArgs),
    /// Show a channel's messages, oldest of the page first.
    History(HistoryArgs),
    /// Follow connection and message events live.
    Watch(WatchArgs),
    /// Live chat reports: sessions, stats, operators, ratings, a transcript.
    Report(crate::report::ReportArgs),
    /// Run a UUID directory, or look an Instance UUID up in one.
    #[command(subcommand)]
    Directory(crate::directory::DirectoryCommand),
    /// Manage live chat chatbot scripts and test them.
    #[command(subcommand)]
    Chatbot(crate::chatbot::ChatbotCommand),
    /// Set up the live chat: channels, rules, operators, canned responses, groups, and the
    /// snippet for your website.
    Livechat(crate::livechat::LivechatArgs),
    /// Show where the node stands on the network: reachability, addresses, relays, DHT, and
    /// how each partner is connected (directly, through a relay, not at all).
    Network(crate::network::NetworkArgs),
    /// Show the effective settings of `run` or `directory run` and where each came from.
    #[command(subcommand)]
    Config(crate::config_cmd::ConfigCommand),
    /// Write a backup of the running node (identity, settings, database) to a file.
    Backup(crate::backup::BackupArgs),
    /// Restore a backup into a new, empty data folder (the node is not running).
    Restore(crate::backup::RestoreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::docs_cmd::CompletionsArgs),
    /// Print the manual page, or write one page per command with --out-dir.
    Man(crate::docs_cmd::ManArgs),
}

/// `ochat connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The data folder of the local node (the CLI reads its API address and admin token).
    #[command(flatten)]
    pub data: DataDirArg,
    /// The other organisation's Instance UUID.
    pub uuid: String,
    /// Your name for them (the contact).
    #[arg(long)]
    pub contact: Option<String>,
    /// A note sent with the request.
    #[arg(long)]
    pub message: Option<String>,
    /// Only create the Draft; send it later with `ochat connection send ID`.
    #[arg(long)]
    pub draft: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `ochat connections`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Only requests other instances sent us.
    #[arg(long, conflicts_with = "outgoing")]
    pub incoming: bool,
    /// Only requests we sent.
    #[arg(long)]
    pub outgoing: bool,
    /// Only this status (Draft, Pending, Accepted, Rejected, "Not Found", Cancelled).
    #[arg(long)]
    pub status: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `ochat connection …`.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The action.
    #[command(subcommand)]
    pub action: ConnectionAction,
}

/// What to do with a connection. ID is the connection id or its first characters.
#[derive(Debug, Clone, Subcommand)]
pub enum ConnectionAction {
    /// Show one connection (with the reject reason, if any).
    Show {
        /// Connection id (or a unique prefix).
        id: String,
    },
    /// Send a drafted request.
    Send {
        /// Connection id.
        id: String,
    },
    /// Ask the peer where the request stands.
    Sync {
        /// Connection id.
        id: String,
    },
    /// Cancel a pending request.
    Cancel {
        /// Connection id.
        id: String,
    },
    /// Accept an incoming request.
    Accept {
        /// Connection id.
        id: String,
        /// The contact to assign.
        #[arg(long)]
        contact: String,
    },
    /// Reject an incoming request.
    Reject {
        /// Connection id.
        id: String,
        /// Why (the requester can read it).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Send a Not Found request again.
    Retry {
        /// Connection id.
        id: String,
    },
    /// Correct the remote UUID of a Draft or Not Found request.
    Edit {
        /// Connection id.
        id: String,
        /// The corrected UUID.
        #[arg(long)]
        uuid: String,
    },
    /// Delete a Draft, Not Found, Accepted, Rejected or Cancelled connection (an Accepted one's
    /// channel is kept and reused if the two instances connect again).
    Delete {
        /// Connection id.
        id: String,
    },
    /// Add a local user to an accepted connection's channel.
    AddMember {
        /// Connection id.
        id: String,
        /// User id.
        user: String,
    },
    /// Remove a local user from a connection's channel.
    RemoveMember {
        /// Connection id.
        id: String,
        /// User id.
        user: String,
    },
}

/// `ochat user …`.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// The action.
    #[command(subcommand)]
    pub action: UserAction,
}

/// User actions.
#[derive(Debug, Clone, Subcommand)]
pub enum UserAction {
    /// Create a user.
    Add {
        /// Display name.
        name: String,
    },
    /// List users.
    List,
}

/// Where the node's data folder is.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// The node's data folder.
    #[arg(long, short = 'd', env = "OCHAT_DATA_DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,
}

/// `ochat run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The data folder.
    #[command(flatten)]
    pub data: DataDirArg,
    /// The settings file.
    #[command(flatten)]
    pub config: crate::settings_args::ConfigFileArg,
    /// Address of the local HTTP API (keep it on loopback unless a reverse proxy fronts it).
    #[arg(long, env = "OCHAT_API_LISTEN", default_value = DEFAULT_API_LISTEN)]
    pub api_listen: SocketAddr,
    /// The API server: trusted proxies, timeouts, connection caps.
    #[command(flatten)]
    pub http: crate::settings_args::HttpArgs,
    /// The SMTP server of transcript emails (live chat).
    #[command(flatten)]
    pub smtp: crate::smtp_args::SmtpArgs,
    /// Peer-to-peer listen address (libp2p multiaddr); repeatable. Default: TCP and QUIC on
    /// an OS-chosen port of every interface.
    #[arg(
        long = "listen",
        value_name = "MULTIADDR",
        env = "OCHAT_LISTEN",
        value_delimiter = ','
    )]
    pub listen: Vec<String>,
    /// The instance's display name, used when the identity is first created.
    #[arg(long, env = "OCHAT_NAME")]
    pub name: Option<String>,
    /// A UUID directory to register with and look UUIDs up in (e.g. http://127.0.0.1:7490).
    #[arg(long, env = "OCHAT_DIRECTORY")]
    pub directory: Option<String>,
    /// A peer given by hand: UUID=/ip4/…/tcp/…/p2p/PEERID (repeatable), for setups without a
    /// directory.
    #[arg(long = "peer", value_name = "UUID=MULTIADDR", env = "OCHAT_PEERS",
          value_delimiter = ',', value_parser = parse_peer)]
    pub peers: Vec<(String, String)>,
    /// Accept incoming connection requests without an administrator: an Instance UUID of a
    /// known partner (repeatable), or `any` for every authenticated instance. The default is
    /// `off`: every request waits for Accept or Reject. The new channel has no members.
    #[arg(
        long = "auto-accept",
        value_name = "UUID|any",
        env = "OCHAT_AUTO_ACCEPT",
        value_delimiter = ',',
        value_parser = parse_auto_accept
    )]
    pub auto_accept: Vec<String>,
    /// Seconds between automatic Sync Status of pending requests.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_SYNC_INTERVAL", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_interval: u64,
    /// Longest wait in seconds between two delivery attempts to an unreachable peer.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_RETRY_MAX", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub retry_max: u64,
    /// Seconds after which an undelivered channel message is marked failed (default 7 days).
    #[arg(long, value_name = "SECONDS", env = "OCHAT_GIVE_UP_AFTER",
          default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub give_up_after: u64,
    /// Incoming connection requests that may wait for a decision at once; more are refused
    /// with "try later".
    #[arg(long, env = "OCHAT_MAX_PENDING_INCOMING", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_pending_incoming: u64,
    /// Incoming connection requests from one Instance UUID that may wait at once.
    #[arg(long, env = "OCHAT_MAX_PENDING_PER_PEER", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_pending_per_peer: u64,
    /// Live chat: country, GeoIP, webhook, retention, visitor limits.
    #[command(flatten)]
    pub livechat: crate::settings_args::LiveChatArgs,
    /// Reachability across NATs: external addresses, relays, DHT, mDNS.
    #[command(flatten)]
    pub reach: crate::network::ReachArgs,
}

/// Why a flag's value is refused (clap prints it after the flag's name).
#[derive(Debug, Error)]
pub enum BadFlagValue {
    /// `--peer` without `=`.
    #[error("expected UUID=/ip4/…/tcp/…/p2p/PEERID")]
    Peer,
    /// Not an HTTP header name.
    #[error("{0:?} is not an HTTP header name")]
    HeaderName(String),
    /// A webhook secret shorter than 16 characters.
    #[error("a webhook secret needs at least 16 characters")]
    ShortSecret,
}

fn parse_auto_accept(
    s: &str,
) -> Result<String, ochat_node::federation::auto_accept::AutoAcceptError> {
    ochat_node::federation::AutoAccept::from_values(&[s]).map(|_| s.trim().to_string())
}

fn parse_peer(s: &str) -> Result<(String, String), BadFlagValue> {
    s.split_once('=')
        .map(|(u, a)| (u.trim().to_string(), a.trim().to_string()))
        .ok_or(BadFlagValue::Peer)
}

/// `ochat channels`.
#[derive(Debug, Clone, Args)]
pub struct ChannelArg {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ochat send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Channel id (or a unique prefix, or its name).
    pub channel: String,
    /// The text (up to 64 KiB).
    pub text: Option<String>,
    /// Send this file instead (up to 25 MiB).
    #[arg(long, conflicts_with = "text")]
    pub file: Option<PathBuf>,
    /// The file's MIME type (default application/octet-stream).
    #[arg(long, requires = "file")]
    pub mime: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ochat history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Channel id (or a unique prefix, or its name).
    pub channel: String,
    /// How many messages.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Only messages older than this message id.
    #[arg(long)]
    pub before: Option<String>,
    /// Also mark the channel read (sends a read receipt).
    #[arg(long)]
    pub mark_read: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ochat watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print each event as JSON.
    #[arg(long)]
    pub json: bool,
}
