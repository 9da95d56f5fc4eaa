//! Running the real `ochat` command as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The path of the `ochat` binary built for the tests: `OCHAT_BIN` when set, else the
/// `ochat-under-test` binary that cargo builds next to the test executables.
pub fn ochat_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OCHAT_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps/; the binary in target/<profile>/.
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    profile_dir.join("ochat-under-test")
}

/// Runs `ochat ARGS` to completion.
pub fn ochat(args: &[&str]) -> Result<Output> {
    Command::new(ochat_bin())
        .args(args)
        .env_remove("OCHAT_DATA_DIR")
        .output()
        .context("running ochat")
}

/// A node started with `ochat run` as a child process; killed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    /// The child.
    pub child: Child,
    /// Its data folder.
    pub data_dir: PathBuf,
    /// The API base URL, e.g. `http://127.0.0.1:40000`.
    pub api: String,
    /// How long it took from spawn until the API address was published.
    pub startup: Duration,
}

impl NodeProcess {
    /// Starts `ochat run --data-dir DIR --api-listen 127.0.0.1:0 EXTRA…` and waits (at most
    /// `timeout`) until it has written its API address.
    pub fn start(data_dir: &Path, extra: &[&str], timeout: Duration) -> Result<Self> {
        let mut command = Command::new(ochat_bin());
        command
            .arg("run")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--api-listen", "127.0.0.1:0"])
            .args(extra);
        Self::spawn(command, data_dir, timeout)
    }

    /// Spawns `command` (an `ochat run` on `data_dir`, with its stdout and stderr piped) and
    /// waits (at most `timeout`) until it has written its API address; fails with its stderr
    /// if it exits first.
    pub fn spawn(mut command: Command, data_dir: &Path, timeout: Duration) -> Result<Self> {
        let addr_file = data_dir.join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        let started = Instant::now();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning ochat run")?;
        loop {
            if let Ok(addr) = std::fs::read_to_string(&addr_file)
                && !addr.trim().is_empty()
            {
                return Ok(NodeProcess {
                    child,
                    data_dir: data_dir.to_path_buf(),
                    api: format!("http://{}", addr.trim()),
                    startup: started.elapsed(),
                });
            }
            if let Some(status) = child.try_wait()? {
                let out = child.wait_with_output()?;
                bail!(
                    "ochat run exited early with {status}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                bail!("ochat run did not publish its API address within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The admin token from the data folder.
    pub fn admin_token(&self) -> Result<String> {
        Ok(std::fs::read_to_string(self.data_dir.join("admin.token"))?
            .trim()
            .to_string())
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the process to exit; returns its output.
    pub fn terminate(mut self, timeout: Duration) -> Result<Output> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                bail!("ochat did not stop within {timeout:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let child = std::mem::replace(&mut self.child, dummy_child()?);
        Ok(child.wait_with_output()?)
    }

    /// Kills the process with SIGKILL (no chance to flush) and waits for it.
    pub fn kill9(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

fn dummy_child() -> Result<Child> {
    Ok(Command::new("true").spawn()?)
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
