//! Helpers for the live chat CLI and roles stories (`tests/tests/livechat_cli.rs`,
//! `tests/tests/livechat_roles.rs`): the real `ochat` binary run against a node's data folder
//! (optionally with standard input, always with a timeout), and calls made with an
//! operator's own token.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::node::WAIT;
use crate::process::ochat_bin;

/// What one `ochat` run answered.
#[derive(Debug)]
pub struct Ran {
    /// Exit status 0.
    pub ok: bool,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The `ochat` command pointed at one node's data folder.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The node's data folder.
    pub data_dir: PathBuf,
}

impl Cli {
    /// The CLI for the node whose data folder is `dir`.
    pub fn new(dir: &Path) -> Self {
        Cli {
            data_dir: dir.to_path_buf(),
        }
    }

    /// Runs `ochat ARGS --data-dir DIR` with `stdin` (or none), killed after [`WAIT`]. Inside
    /// a multi-threaded runtime the wait leaves the runtime's other work (an in-process node)
    /// running.
    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Result<Ran> {
        tokio::task::block_in_place(|| self.run_blocking(args, stdin))
    }

    fn run_blocking(&self, args: &[&str], stdin: Option<&str>) -> Result<Ran> {
        let mut child = Command::new(ochat_bin())
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("OCHAT_DATA_DIR")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning ochat")?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .context("writing ochat's standard input")?;
        }
        let deadline = Instant::now() + WAIT;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("ochat {args:?} did not finish within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output()?;
        Ok(Ran {
            ok: out.status.success(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `ochat ARGS` and insists on success; answers its standard output.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        self.ok_with(args, None)
    }

    /// Like [`Cli::ok`], with `stdin`.
    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let ran = self.run_with(args, stdin)?;
        if !ran.ok {
            bail!("ochat {args:?} failed ({}): {}", ran.code, ran.stderr);
        }
        Ok(ran.stdout)
    }

    /// Runs `ochat ARGS --json` and parses its output.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        self.json_with(args, None)
    }

    /// Like [`Cli::json`], with `stdin`.
    pub fn json_with(&self, args: &[&str], stdin: Option<&str>) -> Result<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ok_with(&all, stdin)?;
        serde_json::from_str(&out).with_context(|| format!("ochat {args:?} printed: {out}"))
    }

    /// Runs `ochat ARGS`, insists on failure, and answers its standard error.
    pub fn fails(&self, args: &[&str]) -> Result<String> {
        let ran = self.run_with(args, None)?;
        if ran.ok {
            bail!("ochat {args:?} succeeded: {}", ran.stdout);
        }
        Ok(ran.stderr)
    }
}

/// Logs `login` in on the API at `api`; answers the operator's token.
pub async fn login_token(api: &str, login: &str, password: &str) -> Result<String> {
    let resp = reqwest::Client::new()
        .post(format!("{api}/api/v1/login"))
        .json(&json!({"login": login, "password": password}))
        .timeout(WAIT)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    match body["token"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => bail!("login {login} answered {status}: {body}"),
    }
}

/// Calls the API at `api` with `token`; answers (status, JSON body).
pub async fn call_as(
    api: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .request(method, format!("{api}{path}"))
        .bearer_auth(token)
        .timeout(WAIT);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.context("calling the API")?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}
