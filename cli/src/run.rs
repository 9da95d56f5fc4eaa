//! `ochat run`: start a node and keep it running until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ochat_node::federation::AutoAccept;
use ochat_node::{NodeConfig, RunningNode};

use crate::args::RunArgs;

/// Runs a node until it is asked to stop.
pub async fn run(args: RunArgs, file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = node_config(&args)?;
    let auto_accept = config.federation.auto_accept.clone();
    let node = RunningNode::start(config)
        .await
        .with_context(|| format!("cannot start the node in {}", args.data.data_dir.display()))?;
    let shared = node.shared.clone();
    if node.created {
        println!("Created a new instance in {}", args.data.data_dir.display());
    }
    println!("Instance UUID: {}", shared.instance.uuid);
    println!("Name:          {}", shared.instance.name);
    println!("Peer id:       {}", shared.peer_id);
    println!("API:           http://{}", node.api_addr);
    if auto_accept != AutoAccept::Off {
        println!("Auto-accept:   {auto_accept}");
    }
    if let Some(dir) = &args.directory {
        println!("Directory:     {dir}");
    }
    println!(
        "Admin token:   {}",
        args.data.data_dir.join("admin.token").display()
    );
    if let Some(file) = &file {
        println!("Settings:      {}", file.display());
    }
    println!("Press Ctrl-C to stop.");
    // Our handle must not outlive the node: shutdown waits for the database to be released.
    drop(shared);
    wait_for_stop_signal().await?;
    println!("Stopping…");
    node.shutdown()
        .await
        .context("the node did not stop cleanly")?;
    println!("Stopped; data flushed.");
    Ok(())
}

/// The node's configuration from `ochat run`'s settings.
pub fn node_config(args: &RunArgs) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::with_data_dir(&args.data.data_dir);
    config.api_listen = args.api_listen;
    args.http.apply(&mut config.http);
    if !args.listen.is_empty() {
        config.p2p_listen = args.listen.clone();
    }
    config.name = args.name.clone();
    config.directory = args.directory.clone();
    config.peers = args.peers.clone();
    config.federation.auto_accept =
        AutoAccept::from_values(&args.auto_accept).context("auto_accept")?;
    config.federation.sync_interval = Duration::from_secs(args.sync_interval);
    config.federation.retry_max = Duration::from_secs(args.retry_max);
    config.federation.max_pending_incoming =
        usize::try_from(args.max_pending_incoming).unwrap_or(usize::MAX);
    config.federation.max_pending_per_peer =
        usize::try_from(args.max_pending_per_peer).unwrap_or(usize::MAX);
    config.messaging.retry_max = Duration::from_secs(args.retry_max);
    config.messaging.give_up_after = Duration::from_secs(args.give_up_after);
    if args.livechat.webhook_secret.is_some() && args.livechat.webhook_url.is_none() {
        anyhow::bail!("webhook_secret is set but webhook_url is not");
    }
    args.livechat
        .apply(&mut config.livechat)
        .context("webhook_secret")?;
    config.livechat.smtp = args.smtp.config()?;
    config.reach = args.reach.config();
    Ok(config)
}

pub(crate) async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot watch Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch Ctrl-C")?;
    Ok(())
}
