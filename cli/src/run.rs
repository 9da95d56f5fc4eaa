//! `ochat run`: start a node and keep it running until Ctrl-C or SIGTERM.

use anyhow::Context;
use ochat_node::federation::AutoAccept;
use ochat_node::{NodeConfig, RunningNode};

use crate::args::RunArgs;

/// Runs a node until it is asked to stop.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = NodeConfig::with_data_dir(&args.data.data_dir);
    config.api_listen = args.api_listen;
    config.http.trusted_proxies = args.trusted_proxies.iter().copied().collect();
    if !args.listen.is_empty() {
        config.p2p_listen = args.listen.clone();
    }
    config.name = args.name.clone();
    config.directory = args.directory.clone();
    config.peers = args.peers.clone();
    config.federation.auto_accept =
        AutoAccept::from_values(&args.auto_accept).context("invalid --auto-accept")?;
    config.federation.sync_interval = std::time::Duration::from_secs(args.sync_interval.max(1));
    config.federation.retry_max = std::time::Duration::from_secs(args.retry_max.max(1));
    config.messaging.retry_max = std::time::Duration::from_secs(args.retry_max.max(1));
    config.messaging.give_up_after = std::time::Duration::from_secs(args.give_up_after.max(1));
    config.livechat.retention_days = args.retention_days;
    config.livechat.visitor_limits = Some(ochat_node::livechat::limits::VisitorLimits {
        sessions_per_address: args.livechat_sessions_per_address,
        ..Default::default()
    });
    config.livechat.token_idle_days = Some(args.token_idle_days);
    config.livechat.languages = args.livechat_languages.clone();
    config.reach = args.reach.config();
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
