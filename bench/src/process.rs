//! Child processes of the bench: the real `ochat` command (the bench binary re-executes itself
//! as `ochat` when [`AS_NODE`] is set, so one `cargo run -p ochat-bench` builds everything) and
//! a bare axum WebSocket server ([`AS_BARE_WS`]), plus their resident memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Environment variable: when set, the bench binary runs as the `ochat` command.
pub const AS_NODE: &str = "OCHAT_BENCH_AS_NODE";
/// Environment variable: when set, the bench binary runs a bare WebSocket server and prints
/// its address (value: `read_buffer,write_buffer`).
pub const AS_BARE_WS: &str = "OCHAT_BENCH_AS_BARE_WS";

/// A node run as `ochat run` in its own process; killed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// `http://127.0.0.1:port`
    pub api: String,
    /// The admin token.
    pub token: String,
    /// From spawn until the API answered.
    pub startup: Duration,
}

impl NodeProcess {
    /// Spawns `ochat run` on `data_dir` and waits (at most 60 s) until `GET /api/v1/instance`
    /// answers 200.
    pub async fn start(data_dir: &Path) -> Result<Self> {
        Self::start_with(data_dir, &[]).await
    }

    /// [`NodeProcess::start`] with more `ochat run` flags (e.g. `--auto-accept any`).
    pub async fn start_with(data_dir: &Path, flags: &[&str]) -> Result<Self> {
        let addr_file = data_dir.join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        let started = Instant::now();
        let mut child = Command::new(std::env::current_exe()?)
            .env(AS_NODE, "1")
            .env_remove("OCHAT_DATA_DIR")
            .args(["run", "--data-dir"])
            .arg(data_dir)
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning ochat run")?;
        let http = reqwest::Client::new();
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("ochat run exited early with {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("ochat run did not answer within 60 s");
            }
            if let Ok(addr) = std::fs::read_to_string(&addr_file)
                && !addr.trim().is_empty()
            {
                let api = format!("http://{}", addr.trim());
                let token = std::fs::read_to_string(data_dir.join("admin.token"))?
                    .trim()
                    .to_string();
                let answered = http
                    .get(format!("{api}/api/v1/instance"))
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                if answered {
                    return Ok(NodeProcess {
                        child,
                        data_dir: data_dir.to_path_buf(),
                        api,
                        token,
                        startup: started.elapsed(),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Kills the process with SIGKILL (nothing flushed on the way out) and waits for it.
    pub fn kill9(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Resident memory of the process, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss(self.child.id())
    }

    /// Stops the node as an operator does (SIGTERM: it closes its database cleanly) and waits
    /// (at most 60 s) until it exited.
    pub async fn stop(mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM failed: {status}");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("ochat run did not stop within 60 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare axum WebSocket server in its own process; killed when dropped.
#[derive(Debug)]
pub struct BareWsProcess {
    child: Child,
    /// `http://127.0.0.1:port`
    pub base: String,
}

impl BareWsProcess {
    /// Spawns the server with these buffer sizes and reads its address.
    pub fn start(read_buffer: usize, write_buffer: usize) -> Result<Self> {
        use std::io::BufRead;
        let mut child = Command::new(std::env::current_exe()?)
            .env(AS_BARE_WS, format!("{read_buffer},{write_buffer}"))
            .arg("bare-ws")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the bare WebSocket server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim().is_empty() {
            let _ = child.kill();
            bail!("the bare WebSocket server printed no address");
        }
        Ok(BareWsProcess {
            child,
            base: format!("http://{}", line.trim()),
        })
    }

    /// Resident memory of the process, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss(self.child.id())
    }
}

impl Drop for BareWsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of the bare WebSocket server process: serves, prints its address, runs forever.
pub async fn serve_bare_ws(spec: &str) -> Result<()> {
    let mut parts = spec.split(',').map(str::parse::<usize>);
    let (Some(Ok(read)), Some(Ok(write))) = (parts.next(), parts.next()) else {
        bail!("{AS_BARE_WS} must be read_buffer,write_buffer");
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, crate::bare_http::idle_router(read, write)).await?;
    Ok(())
}

/// VmRSS of process `pid`, in bytes.
pub fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

/// Bytes a folder takes on disk (allocated blocks), recursively.
pub fn disk_usage(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += disk_usage(&entry.path())?;
        } else {
            total += meta.blocks() * 512;
        }
    }
    Ok(total)
}
