//! A bad link between two nodes of the test internet ([`crate::netns`]), for
//! `tests/tests/bad_network.rs`: random loss and duplication of the packets between two public
//! hosts, a complete cut, and the user's side of it (two nodes that know each other by hand,
//! many messages sent from inside the namespaces, a channel's history read back in order).
//!
//! The link is spoiled on the internet's bridge, in its namespace, with nftables `netdev`
//! ingress chains on the two hosts' ports (this kernel has no `tc netem`): `numgen random`
//! drops a share of the IPv4 packets from one host to the other, `dup to` sends a share of the
//! rest twice to the other host's port. A cut drops everything on both ports (ARP too), like a
//! pulled cable. Neither node's namespace is touched. What nftables cannot do without netem is
//! hold a packet back: no delay, no jitter, no reordering (see the test file).

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::netns::{Host, Internet, NetnsNode};
use crate::netns_user::{STEP, peer_id_of_folder, poll};
use crate::process::ochat_bin;

/// The TCP port both nodes listen on (only TCP: the address each gives for the other).
pub const P2P_PORT: u16 = 4001;

/// The link between two public hosts, spoiled or cut on the internet's bridge.
#[derive(Debug)]
pub struct BadLink {
    hub: String,
    a: (String, Ipv4Addr),
    b: (String, Ipv4Addr),
}

/// What the link did to the packets since it was last spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCounts {
    /// Packets dropped at random.
    pub dropped: u64,
    /// Packets sent twice.
    pub duplicated: u64,
}

/// Runs `nft ARGS` in `ns` with `stdin`, failing with its stderr.
fn nft(ns: &str, args: &[&str], stdin: &str) -> Result<String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run nft (the namespace tests need root and nftables)")?;
    if let Some(mut pipe) = child.stdin.take() {
        std::io::Write::write_all(&mut pipe, stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "nft {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl BadLink {
    /// The link between public hosts `a` and `b` of `net` (untouched until spoiled or cut).
    pub fn between(net: &Internet, a: &Host, b: &Host) -> Self {
        let (hub, a_port) = net.port_of(a);
        let (_, b_port) = net.port_of(b);
        BadLink {
            hub,
            a: (a_port, a.addr),
            b: (b_port, b.addr),
        }
    }

    /// Replaces the link's rules (atomically: one `nft -f` with the table flushed first).
    fn load(&self, from_a: &str, from_b: &str) -> Result<()> {
        let chain = |name: &str, port: &str, rules: &str| {
            format!(
                " chain {name} {{\n  type filter hook ingress device \"{port}\" priority 0; policy accept;\n{rules} }}\n"
            )
        };
        let script = format!(
            "table netdev badlink {{}}\nflush table netdev badlink\ntable netdev badlink {{\n{}{}}}\n",
            chain("from_a", &self.a.0, from_a),
            chain("from_b", &self.b.0, from_b),
        );
        nft(&self.hub, &["-f", "-"], &script).map(|_| ())
    }

    /// From now on each host's IPv4 packets to the other are lost with `loss_percent`
    /// probability, and those that pass are sent twice with `dup_percent` probability; both
    /// directions, independently. Also what a cut link is restored to.
    pub fn spoil(&self, loss_percent: u8, dup_percent: u8) -> Result<()> {
        let rules = |to: Ipv4Addr, other_port: &str| {
            format!(
                "  ip daddr {to} numgen random mod 100 < {loss_percent} counter drop\n  ip daddr {to} numgen random mod 100 < {dup_percent} counter dup to \"{other_port}\"\n"
            )
        };
        self.load(&rules(self.b.1, &self.b.0), &rules(self.a.1, &self.a.0))
    }

    /// Nothing passes either way any more (until [`BadLink::spoil`]).
    pub fn cut(&self) -> Result<()> {
        self.load("  drop\n", "  drop\n")
    }

    /// Packets dropped and duplicated in both directions since the last [`BadLink::spoil`].
    pub fn counts(&self) -> Result<LinkCounts> {
        let listing = nft(&self.hub, &["list", "table", "netdev", "badlink"], "")?;
        let mut counts = LinkCounts {
            dropped: 0,
            duplicated: 0,
        };
        for line in listing.lines() {
            let Some(packets) = line
                .split("counter packets ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if line.trim_end().ends_with("drop") {
                counts.dropped += packets;
            } else if line.contains("dup to") {
                counts.duplicated += packets;
            }
        }
        Ok(counts)
    }
}

/// Starts a node on each host, each given the other by hand (`--peer UUID=/ip4/…/tcp/4001/…`,
/// no directory, no relay: the link between them is the only path). A first start makes each
/// identity, so that the other's flag can name it.
pub fn start_pair(
    a: &Host,
    b: &Host,
    dirs: (&std::path::Path, &std::path::Path),
) -> Result<(NetnsNode, NetnsNode)> {
    let listen = format!("/ip4/0.0.0.0/tcp/{P2P_PORT}");
    let first = |host: &Host, dir: &std::path::Path| -> Result<String> {
        let node = host.start_node(dir, &["--listen", &listen])?;
        let uuid = node.uuid()?;
        drop(node);
        Ok(uuid)
    };
    let (a_uuid, b_uuid) = (first(a, dirs.0)?, first(b, dirs.1)?);
    let peer = |uuid: &str, host: &Host, dir: &std::path::Path| -> Result<String> {
        Ok(format!(
            "{uuid}=/ip4/{}/tcp/{P2P_PORT}/p2p/{}",
            host.addr,
            peer_id_of_folder(dir)?
        ))
    };
    let a_node = a.start_node(
        dirs.0,
        &["--listen", &listen, "--peer", &peer(&b_uuid, b, dirs.1)?],
    )?;
    let b_node = b.start_node(
        dirs.1,
        &["--listen", &listen, "--peer", &peer(&a_uuid, a, dirs.0)?],
    )?;
    Ok((a_node, b_node))
}

/// `a` requests `b` and `b` accepts; returns the channel ids (a's, b's).
pub fn link(a: &NetnsNode, b: &NetnsNode) -> Result<(String, String)> {
    let id = a.request(&b.uuid()?, STEP)?;
    let b_channel = b.accept_from(&a.uuid()?, STEP)?;
    let a_channel = a.wait_accepted(&id, STEP)?;
    Ok((a_channel, b_channel))
}

/// Sends `<prefix>-<n>` for n in `from..=to`, one `ochat send` after the other, in a shell
/// inside the node's namespace; the returned child ends when all are accepted by the node (or
/// one was refused: it then fails).
pub fn send_numbered(
    node: &NetnsNode,
    channel: &str,
    prefix: &str,
    from: u32,
    to: u32,
) -> Result<Child> {
    let script = r#"bin="$1" channel="$2" dir="$3" prefix="$4" i="$5" to="$6"
while [ "$i" -le "$to" ]; do
  "$bin" send "$channel" "$prefix-$i" --data-dir "$dir" >/dev/null || exit 1
  i=$((i + 1))
done"#;
    node.host
        .command("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(ochat_bin())
        .arg(channel)
        .arg(&node.data_dir)
        .arg(prefix)
        .arg(from.to_string())
        .arg(to.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the sender")
}

/// Waits until `sender` has exited successfully, failing after `timeout`.
pub fn wait_sent(mut sender: Child, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = sender.try_wait()? {
            if status.success() {
                return Ok(());
            }
            let out = sender.wait_with_output()?;
            bail!(
                "a send failed ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if Instant::now() > deadline {
            let _ = sender.kill();
            bail!("the sends took more than {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A channel's whole history, oldest first (read 500 at a time, newest pages first).
pub fn whole_history(node: &NetnsNode, channel: &str) -> Result<Vec<Value>> {
    let mut newest_first: Vec<Value> = Vec::new();
    loop {
        let mut args = vec!["history", channel, "--limit", "500"];
        let before = newest_first
            .last()
            .and_then(|m| m["id"].as_str())
            .map(str::to_string);
        if let Some(id) = &before {
            args.extend(["--before", id]);
        }
        let page = node.json(&args)?;
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        let full = messages.len() == 500;
        newest_first.extend(messages);
        if !full {
            break;
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// Waits until `node`'s newest messages in `channel` include an incoming one with `text`;
/// answers when it was seen.
pub fn wait_arrived(
    node: &NetnsNode,
    channel: &str,
    text: &str,
    timeout: Duration,
) -> Result<Instant> {
    poll(&format!("'{text}' to arrive"), timeout, || {
        let page = node.json(&["history", channel, "--limit", "20"])?;
        let seen = page["messages"].as_array().is_some_and(|m| {
            m.iter()
                .any(|m| m["text"] == text && m["direction"] == "in")
        });
        Ok(seen.then(Instant::now))
    })
}

/// The texts of a history's incoming messages, in its order.
pub fn incoming_texts(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter(|m| m["direction"] == "in")
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect()
}

/// `<prefix>-1` … `<prefix>-<n>`: what a receiver must hold, in this order, exactly once.
pub fn numbered(prefix: &str, n: u32) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i}")).collect()
}

/// The states of a history's outgoing messages, with how many are in each.
pub fn outgoing_states(history: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut states = std::collections::BTreeMap::new();
    for m in history.iter().filter(|m| m["direction"] == "out") {
        *states
            .entry(m["state"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    states
}

/// The last `lines` lines of both nodes' logs, for a failure's message.
pub fn log_tails(nodes: &[&NetnsNode], lines: usize) -> String {
    nodes
        .iter()
        .map(|node| {
            let log = node.daemon.log();
            let all: Vec<&str> = log.lines().collect();
            format!(
                "--- {} log ends:\n{}",
                node.host.ns,
                all[all.len().saturating_sub(lines)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
