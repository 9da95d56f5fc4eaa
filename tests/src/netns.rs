//! A small internet built from Linux network namespaces, for the tests that cross NATs
//! (`tests/tests/reach_*.rs`).
//!
//! ```text
//!                      ┌──────────── "net" namespace: bridge br0 = the internet ───────────┐
//!   public host ─ wan0 ┤ 198.18.0.0/15 (RFC 2544 benchmarking range, never routed for real) │
//!                      └──────┬─────────────────────────────────────────────┬─────────────┘
//!                        wan0 │ home router (nftables masquerade)      wan0 │ …
//!                        lan0 │ bridge, 10.L.0.1/24, forwarding on          │
//!                  host ─ eth0 10.L.0.2, default route via 10.L.0.1
//! ```
//! A router's NAT is endpoint-independent ([`Nat::EndpointIndependent`]: plain `masquerade`, which
//! keeps the source port when it can, so hole punching works) or symmetric ([`Nat::Symmetric`]:
//! `masquerade fully-random`, a new random port for every flow, so it does not). Either way the
//! router drops unsolicited traffic from the internet, like a home router: to its LAN, and to
//! itself too (silently, no TCP reset: a reset would kill a hole punch whose first SYN arrives
//! before the other side's has opened the mapping). Hosts on one LAN reach each other freely
//! (with `br_netfilter` loaded, bridged traffic passes the router's forward chain too).
//!
//! Everything is made with `ip` (iproute2) and `nft` (nftables) and needs root, as in CI. Names
//! are `ochat-t<pid>-<n>-…`, unique per process and per [`Internet`]; dropping the [`Internet`]
//! kills what still runs inside and deletes every namespace (the veths go with them), also when the
//! test panicked; a new [`Internet`] first deletes namespaces left by test processes that are
//! gone. Programs run inside with `ip netns exec`: the real `ochat` binary ([`Host::ochat`],
//! [`Host::start_node`], [`Host::start_directory`]) and `netns-probe` ([`Host::probe`]).

use std::ffi::OsStr;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::ochat_bin;

/// Every namespace this harness makes starts with this.
pub const PREFIX: &str = "ochat-t";

/// The port `ochat directory run` listens on in these tests.
pub const DIRECTORY_PORT: u16 = 7490;

static NEXT_INTERNET: AtomicU32 = AtomicU32::new(0);

/// How a home router maps its hosts' flows to its public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Plain `masquerade`: one flow's source port is kept when free, whatever the destination
    /// (endpoint-independent mapping), so hole punching can work.
    EndpointIndependent,
    /// `masquerade fully-random`: every flow gets its own random port (a symmetric NAT), so
    /// hole punching cannot work.
    Symmetric,
}

/// A machine on the test internet: a namespace with one address.
#[derive(Debug, Clone)]
pub struct Host {
    /// The namespace.
    pub ns: String,
    /// Its own address (public, or on its router's LAN).
    pub addr: Ipv4Addr,
    /// The address the internet sees it at (itself, or its router's WAN address).
    pub seen_as: Ipv4Addr,
}

/// A home router: WAN on the internet, a LAN bridge for its hosts.
#[derive(Debug, Clone)]
pub struct Router {
    /// The namespace.
    pub ns: String,
    /// Its public (WAN) address.
    pub wan: Ipv4Addr,
    /// Its NAT behaviour.
    pub nat: Nat,
    lan: u8,
    hosts: u8,
}

/// A test internet; dropping it tears everything down.
#[derive(Debug)]
pub struct Internet {
    name: String,
    hub: String,
    namespaces: Vec<String>,
    next_wan: u32,
    next_lan: u8,
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    run(Command::new("ip").args(args), None).map(|_| ())
}

/// Runs a command to completion (with `stdin` fed when given); fails unless it succeeds.
fn run(command: &mut Command, stdin: Option<&str>) -> Result<Output> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("cannot run {shown} (the namespace tests need root, iproute2 and nftables)")
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Kills whatever still runs in `ns` and deletes it; errors are reported, not raised (Drop).
fn delete_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    match Command::new("ip").args(["netns", "del", ns]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => eprintln!(
            "netns: could not delete {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("netns: could not delete {ns}: {e}"),
    }
}

/// Deletes namespaces of our prefix whose test process is gone (a crash, a kill -9).
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            delete_namespace(name);
        }
    }
}

impl Internet {
    /// An empty internet (a bridge in its own namespace), after sweeping stale namespaces.
    pub fn new() -> Result<Self> {
        sweep_stale();
        let n = NEXT_INTERNET.fetch_add(1, Ordering::SeqCst);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        let mut internet = Internet {
            hub: format!("{name}-net"),
            name,
            namespaces: Vec::new(),
            next_wan: 2,
            next_lan: 1,
        };
        let hub = internet.hub.clone();
        internet.add_namespace(&hub)?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        Ok(internet)
    }

    fn add_namespace(&mut self, ns: &str) -> Result<()> {
        ip(&["netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"])
    }

    /// A new namespace on the internet: `wan0` on the bridge with the next public address.
    fn attach(&mut self, label: &str) -> Result<(String, Ipv4Addr)> {
        let n = self.next_wan;
        self.next_wan += 1;
        if n > 250 {
            bail!("this test internet is full");
        }
        let ns = format!("{}-{label}{n}", self.name);
        self.add_namespace(&ns)?;
        let addr = Ipv4Addr::new(198, 18, 0, n as u8);
        let port = format!("h{n}");
        ip(&[
            "-n", &self.hub, "link", "add", &port, "type", "veth", "peer", "name", "wan0", "netns",
            &ns,
        ])?;
        ip(&["-n", &self.hub, "link", "set", &port, "master", "br0", "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/15"),
            "dev",
            "wan0",
        ])?;
        ip(&["-n", &ns, "link", "set", "wan0", "up"])?;
        Ok((ns, addr))
    }

    /// A host with a public address.
    pub fn public_host(&mut self, label: &str) -> Result<Host> {
        let (ns, addr) = self.attach(label)?;
        Ok(Host {
            ns,
            addr,
            seen_as: addr,
        })
    }

    /// A home router with its own LAN (10.L.0.0/24) doing `nat`.
    pub fn home_router(&mut self, label: &str, nat: Nat) -> Result<Router> {
        let (ns, wan) = self.attach(label)?;
        let lan = self.next_lan;
        self.next_lan = lan.checked_add(1).context("too many LANs")?;
        ip(&["-n", &ns, "link", "add", "lan0", "type", "bridge"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.{lan}.0.1/24"),
            "dev",
            "lan0",
        ])?;
        ip(&["-n", &ns, "link", "set", "lan0", "up"])?;
        run(
            Command::new("ip").args([
                "netns",
                "exec",
                &ns,
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward",
            ]),
            None,
        )?;
        let masquerade = match nat {
            Nat::EndpointIndependent => "masquerade",
            Nat::Symmetric => "masquerade fully-random",
        };
        let rules = format!(
            "table ip nat {{\n chain postrouting {{\n  type nat hook postrouting priority srcnat; policy accept;\n  oifname \"wan0\" {masquerade}\n }}\n}}\n\
             table ip filter {{\n chain forward {{\n  type filter hook forward priority filter; policy drop;\n  ct state established,related accept\n  iifname \"lan0\" oifname \"wan0\" accept\n  iifname \"lan0\" oifname \"lan0\" accept\n }}\n\
              chain input {{\n  type filter hook input priority filter; policy accept;\n  iifname \"wan0\" ct state established,related accept\n  iifname \"wan0\" drop\n }}\n}}\n"
        );
        run(
            Command::new("ip").args(["netns", "exec", &ns, "nft", "-f", "-"]),
            Some(&rules),
        )?;
        Ok(Router {
            ns,
            wan,
            nat,
            lan,
            hosts: 0,
        })
    }

    /// A host on `router`'s LAN, its default route through the router.
    pub fn host_behind(&mut self, router: &mut Router, label: &str) -> Result<Host> {
        router.hosts = router.hosts.checked_add(1).context("the LAN is full")?;
        let k = router.hosts;
        let ns = format!("{}-{label}{}x{k}", self.name, router.lan);
        self.add_namespace(&ns)?;
        let port = format!("l{k}");
        ip(&[
            "-n", &router.ns, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ])?;
        ip(&[
            "-n", &router.ns, "link", "set", &port, "master", "lan0", "up",
        ])?;
        let addr = Ipv4Addr::new(10, router.lan, 0, k + 1);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        let gateway = format!("10.{}.0.1", router.lan);
        ip(&["-n", &ns, "route", "add", "default", "via", &gateway])?;
        Ok(Host {
            ns,
            addr,
            seen_as: router.wan,
        })
    }

    /// Where a public host's cable plugs into the internet: the bridge's namespace and the
    /// host's port on it (`h<n>`, n the last byte of its address), for tests that spoil a link
    /// there (`crate::bad_network`).
    pub fn port_of(&self, host: &Host) -> (String, String) {
        (self.hub.clone(), format!("h{}", host.addr.octets()[3]))
    }

    /// The namespaces made so far (for checks that they are gone after a drop).
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces.clone()
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            delete_namespace(ns);
        }
    }
}

/// The namespaces that exist now.
pub fn existing_namespaces() -> Result<Vec<String>> {
    let out = run(Command::new("ip").args(["netns", "list"]), None)?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect())
}

/// The `netns-probe` tool built next to the test executables (like [`ochat_bin`]).
pub fn probe_bin() -> PathBuf {
    ochat_bin().with_file_name("netns-probe")
}

impl Host {
    /// `program` to be run inside this host's namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.ns])
            .arg(program)
            .env_remove("OCHAT_DATA_DIR")
            .env_remove("OCHAT_DIRECTORY");
        command
    }

    /// Runs `ochat ARGS` here to completion.
    pub fn ochat(&self, args: &[&str]) -> Result<Output> {
        self.command(ochat_bin())
            .args(args)
            .output()
            .context("running ochat in a namespace")
    }

    /// Runs `netns-probe ARGS` here to completion.
    pub fn probe(&self, args: &[&str]) -> Result<Output> {
        self.command(probe_bin())
            .args(args)
            .output()
            .context("running netns-probe in a namespace")
    }

    /// Starts `netns-probe ARGS` (a server) here and waits until it listens.
    pub fn probe_server(&self, args: &[&str], log: &Path) -> Result<Daemon> {
        let mut command = self.command(probe_bin());
        command.args(args);
        let mut daemon = Daemon::spawn(command, log)?;
        daemon.wait_for_log("listening ", Duration::from_secs(10))?;
        Ok(daemon)
    }

    /// Starts `ochat directory run` here on [`DIRECTORY_PORT`] of every interface, waits until it
    /// serves, and returns it with its URL as the other hosts reach it.
    pub fn start_directory(&self, data_dir: &Path, extra: &[&str]) -> Result<(Daemon, String)> {
        let mut command = self.command(ochat_bin());
        command
            .args(["directory", "run", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("0.0.0.0:{DIRECTORY_PORT}")])
            .args(extra)
            .env("OCHAT_LOG", "info");
        let log = data_dir.with_extension("log");
        let mut daemon = Daemon::spawn(command, &log)?;
        daemon.wait_for_log("Directory:", Duration::from_secs(30))?;
        Ok((daemon, format!("http://{}:{DIRECTORY_PORT}", self.addr)))
    }

    /// Starts `ochat run --data-dir DIR --api-listen 127.0.0.1:0 EXTRA…` here and waits until its
    /// API address is published (the CLI inside this namespace then reaches it).
    pub fn start_node(&self, data_dir: &Path, extra: &[&str]) -> Result<NetnsNode> {
        let addr_file = data_dir.join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut command = self.command(ochat_bin());
        command
            .args(["run", "--data-dir"])
            .arg(data_dir)
            .args(["--api-listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "OCHAT_LOG",
                std::env::var("OCHAT_TEST_NODE_LOG").unwrap_or_else(|_| "info".into()),
            );
        let mut daemon = Daemon::spawn(command, &data_dir.with_extension("log"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::fs::read_to_string(&addr_file).is_ok_and(|a| !a.trim().is_empty()) {
                break;
            }
            daemon.fail_if_exited("ochat run")?;
            if Instant::now() > deadline {
                bail!(
                    "ochat run in {} did not publish its API address within 30 s:\n{}",
                    self.ns,
                    daemon.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NetnsNode {
            host: self.clone(),
            data_dir: data_dir.to_path_buf(),
            daemon,
        })
    }
}

/// A background process in a namespace, its stdout and stderr in a log file; killed when
/// dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(mut command: Command, log: &Path) -> Result<Self> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("creating the log {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawning {command:?}"))?;
        Ok(Daemon {
            child,
            log: log.to_path_buf(),
        })
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn fail_if_exited(&mut self, what: &str) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{what} stopped early ({status}):\n{}", self.log());
        }
        Ok(())
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            self.fail_if_exited("the process")?;
            if Instant::now() > deadline {
                bail!(
                    "'{needle}' did not appear within {timeout:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops it (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ochat run` in a namespace; the CLI reaches it from inside the same namespace.
#[derive(Debug)]
pub struct NetnsNode {
    /// Where it runs.
    pub host: Host,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// The process.
    pub daemon: Daemon,
}
