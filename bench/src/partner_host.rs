//! Partner hosts of the `partners` group: child processes of the bench (the bench binary
//! re-executes itself with [`AS_PARTNER_HOST`] set), each running up to [`PER_HOST`] real
//! partner nodes ([`TestNode`]: own sled folder, libp2p listener, API) and driven by the bench
//! over its stdin/stdout, one JSON line per command and per answer.
//!
//! One process cannot hold 200 in-process nodes (about 65 open files each against a limit of
//! 20,000 here, and "cannot listen" from about the 51st on), so [`Hosts`] spreads them over as
//! many processes as needed. Each host keeps its partners' folders under the root it is given
//! (the group puts it on tmpfs: in a real deployment each partner syncs its own disk, and the
//! figures measured are the hub's).
//!
//! Commands (one line each): `{"add":{"from":i,"count":n,"hub_uuid":..,"hub_addr":..}}` starts
//! partners `i..i+n`, each requests a channel with the hub and waits until it is Accepted;
//! answers `{"ok":[{"uuid":..,"addr":..},…]}` or `{"error":".."}`. `{"quit":null}` stops every
//! partner cleanly and answers `{"ok":[]}`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Environment variable: when set, the bench binary runs as a partner host; its value is the
/// folder under which the partners' data folders are made.
pub const AS_PARTNER_HOST: &str = "OCHAT_BENCH_AS_PARTNER_HOST";
/// Partners per host process (about 65 open files each; the limit here is 20,000).
pub const PER_HOST: usize = 50;
/// Partners started and linked at once within one host.
const LINKING: usize = 8;
/// How long one command may take before the bench gives up.
const COMMAND_LIMIT: Duration = Duration::from_secs(180);

/// A command to a host.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Order {
    Add {
        from: usize,
        count: usize,
        hub_uuid: String,
        hub_addr: String,
    },
    Quit(()),
}

/// A partner as the bench sees it: its instance UUID and its p2p address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partner {
    /// Instance UUID.
    pub uuid: String,
    /// Where its libp2p listener is.
    pub addr: String,
}

/// A host's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Ok(Vec<Partner>),
    Error(String),
}

/// One host process; killed when dropped.
struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    partners: usize,
}

impl Host {
    fn spawn(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)?;
        let mut child = Command::new(std::env::current_exe()?)
            .env(AS_PARTNER_HOST, root)
            .arg("partner-host")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawning a partner host")?;
        let stdin = child.stdin.take().context("partner host: no stdin")?;
        let stdout = child.stdout.take().context("partner host: no stdout")?;
        Ok(Host {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            partners: 0,
        })
    }

    async fn call(&mut self, command: &Order) -> Result<Vec<Partner>> {
        let mut line = serde_json::to_string(command)?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = tokio::time::timeout(COMMAND_LIMIT, self.stdout.next_line())
            .await
            .context("the partner host did not answer in time")??
            .context("the partner host exited")?;
        match serde_json::from_str(&answer)? {
            Answer::Ok(partners) => Ok(partners),
            Answer::Error(e) => bail!("partner host: {e}"),
        }
    }
}

/// Partners spread over host processes, [`PER_HOST`] each.
pub struct Hosts {
    root: PathBuf,
    hosts: Vec<Host>,
    /// Every partner started so far, in order.
    pub partners: Vec<Partner>,
}

impl Hosts {
    /// No host yet; partners' folders will be made under `root`.
    pub fn new(root: &Path) -> Self {
        Hosts {
            root: root.to_path_buf(),
            hosts: Vec::new(),
            partners: Vec::new(),
        }
    }

    /// Starts partners until there are `to`, each linked to the hub (which must accept by
    /// itself); the hosts link theirs at the same time.
    pub async fn grow(&mut self, to: usize, hub_uuid: &str, hub_addr: &str) -> Result<()> {
        let mut plan = Vec::new();
        let mut next = self.partners.len();
        while next < to {
            if self.hosts.last().is_none_or(|h| h.partners >= PER_HOST) {
                let dir = self.root.join(format!("host{}", self.hosts.len()));
                self.hosts.push(Host::spawn(&dir)?);
            }
            let index = self.hosts.len() - 1;
            let host = &mut self.hosts[index];
            let count = (PER_HOST - host.partners).min(to - next);
            host.partners += count;
            plan.push((index, next, count));
            next += count;
        }
        let mut calls = Vec::new();
        let mut hosts: Vec<Option<&mut Host>> = self.hosts.iter_mut().map(Some).collect();
        for (index, from, count) in plan {
            let host = hosts[index].take().context("one host twice in a plan")?;
            let command = Order::Add {
                from,
                count,
                hub_uuid: hub_uuid.to_string(),
                hub_addr: hub_addr.to_string(),
            };
            calls.push(async move { (from, host.call(&command).await) });
        }
        let mut answers = futures::future::join_all(calls).await;
        answers.sort_by_key(|(from, _)| *from);
        for (from, answer) in answers {
            self.partners
                .extend(answer.with_context(|| format!("partners from {from}"))?);
        }
        Ok(())
    }

    /// Stops every partner cleanly and waits for the hosts to exit.
    pub async fn stop(mut self) -> Result<()> {
        for host in &mut self.hosts {
            host.call(&Order::Quit(())).await?;
            tokio::time::timeout(COMMAND_LIMIT, host.child.wait())
                .await
                .context("a partner host did not exit")??;
        }
        Ok(())
    }
}

/// The body of a host process: reads commands on stdin until `quit` or its end.
pub async fn serve(root: &Path) -> Result<()> {
    let mut nodes: Vec<TestNode> = Vec::new();
    // Standard input read by a thread of its own (the workspace's tokio has no `io-std`).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let command: Order = serde_json::from_str(&line)?;
        let quit = matches!(command, Order::Quit(()));
        let answer = match command {
            Order::Add {
                from,
                count,
                hub_uuid,
                hub_addr,
            } => match add(root, from, count, &hub_uuid, &hub_addr).await {
                Ok((started, partners)) => {
                    nodes.extend(started);
                    Answer::Ok(partners)
                }
                Err(e) => Answer::Error(format!("{e:#}")),
            },
            Order::Quit(()) => {
                let mut result = Answer::Ok(Vec::new());
                for mut node in nodes.drain(..) {
                    if let Err(e) = node.stop().await {
                        result = Answer::Error(format!("stopping a partner: {e:#}"));
                    }
                }
                result
            }
        };
        let text = serde_json::to_string(&answer)?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")?;
            out.flush()?;
        }
        if quit {
            break;
        }
    }
    Ok(())
}

/// Starts partners `from..from+count` and links each to the hub.
async fn add(
    root: &Path,
    from: usize,
    count: usize,
    hub_uuid: &str,
    hub_addr: &str,
) -> Result<(Vec<TestNode>, Vec<Partner>)> {
    let started: Vec<Result<(TestNode, Partner)>> = futures::stream::iter(from..from + count)
        .map(|i| async move {
            let mut config =
                test_config(&root.join(format!("p{i}")), &format!("Partner {i}"), None);
            config.peers = vec![(hub_uuid.to_string(), hub_addr.to_string())];
            let node = TestNode::start(config)
                .await
                .with_context(|| format!("starting partner {i}"))?;
            let c = node
                .ok(
                    Method::POST,
                    "/api/v1/connections",
                    Some(json!({"remote_uuid": hub_uuid, "send": true})),
                )
                .await?;
            let id = c["id"].as_str().context("connection id")?.to_string();
            node.wait_status(&id, "Accepted").await?;
            let me = node.ok(Method::GET, "/api/v1/instance", None).await?;
            let addr = me["addresses"][0]
                .as_str()
                .context("a partner shows no listening address")?
                .to_string();
            let partner = Partner {
                uuid: node.uuid.clone(),
                addr,
            };
            Ok((node, partner))
        })
        .buffer_unordered(LINKING)
        .collect()
        .await;
    let mut nodes = Vec::new();
    let mut partners = Vec::new();
    let mut failed = None;
    for s in started {
        match s {
            Ok((node, partner)) => {
                nodes.push(node);
                partners.push(partner);
            }
            Err(e) => failed = Some(e),
        }
    }
    if let Some(e) = failed {
        for mut node in nodes {
            let _ = node.stop().await;
        }
        return Err(e);
    }
    Ok((nodes, partners))
}
