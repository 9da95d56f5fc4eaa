//! # ochat-cli
//!
//! The `ochat` command.
//!
//! - [`args`] — the command line (clap): `run`, `uuid`, and the client commands.
//! - [`run`] — `ochat run`: a node on embedded defaults until Ctrl-C or SIGTERM.
//! - [`messages`] — `channels`, `send`, `history`, `watch`.
//! - [`report`] — `ochat report sessions|stats|operators|ratings|transcript`.
//! - [`client`] — commands that talk to a running node's local API with the admin token read
//!   from its data folder.
//! - [`chatbot`] — `ochat chatbot list|show|create|update|delete|test`.
//! - [`livechat`] — `ochat livechat channel|rule|operator|canned|group|snippet`, in
//!   [`livechat_channels`], [`livechat_rules`], [`livechat_operators`] and [`livechat_canned`].
//! - [`directory`] — `ochat directory run` (a UUID directory) and `ochat directory lookup`.
//! - [`network`] — the network flags of `run` and `directory run`, and `ochat network`.
//! - [`settings_args`] — setting groups shared by `run` and `directory run` (HTTP, the
//!   settings file) and the live chat's settings.
//! - [`settings`] — flag > environment > file > default for every setting of `run` and
//!   `directory run`, and where each value came from.
//! - [`smtp_args`] — the SMTP server of the live chat's transcript emails.
//! - [`config_cmd`] — `ochat config show` / `show-directory`.
//! - [`docs_cmd`] — `ochat completions SHELL` and `ochat man`.
//! - [`backup`] — `ochat backup --to FILE` (through the API) and `ochat restore --from FILE`.
//!
//! The library exists so the integration tests can build the very same command as a binary of
//! their own crate.

pub mod args;
pub mod backup;
pub mod chatbot;
pub mod client;
pub mod config_cmd;
pub mod directory;
pub mod docs_cmd;
pub mod livechat;
pub mod livechat_canned;
pub mod livechat_channels;
pub mod livechat_files;
pub mod livechat_identity;
pub mod livechat_operators;
pub mod livechat_rules;
pub mod messages;
pub mod network;
pub mod report;
pub mod run;
pub mod settings;
pub mod settings_args;
pub mod smtp_args;

use std::process::ExitCode;

use crate::args::Command;

/// Parses the command line (with the settings file of `run` and `directory run`), runs the
/// command, prints errors for people, and returns the exit code (0 success, 1 failure, 2 a
/// usage or settings error).
pub fn main() -> ExitCode {
    let (cli, effective) = match settings::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(settings::SettingsError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let file = effective.as_ref().and_then(|e| e.file.clone());
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => run::run(args, file).await,
            Command::Uuid(args) => client::uuid(&args),
            Command::Connect(args) => client::connect(&args).await,
            Command::Connections(args) => client::connections(&args).await,
            Command::Connection(args) => client::connection(&args).await,
            Command::User(args) => client::user(&args).await,
            Command::Channels(args) => messages::channels(&args).await,
            Command::Send(args) => messages::send(&args).await,
            Command::History(args) => messages::history(&args).await,
            Command::Watch(args) => messages::watch(&args).await,
            Command::Directory(command) => directory::run(command, file).await,
            Command::Chatbot(command) => chatbot::run(command).await,
            Command::Livechat(args) => livechat::run(args).await,
            Command::Report(args) => report::report(&args).await,
            Command::Network(args) => network::network(&args).await,
            Command::Config(command) => config_cmd::show(&command, effective.as_ref()),
            Command::Backup(args) => backup::backup(&args).await,
            Command::Restore(args) => backup::restore(&args),
            Command::Completions(args) => docs_cmd::completions(&args),
            Command::Man(args) => docs_cmd::man(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,ochat_node=info,ochat_cli=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OCHAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
