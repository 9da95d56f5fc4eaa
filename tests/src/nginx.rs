//! A real nginx (Debian's package; `.ci/run` installs it) in front of a node, configured with
//! the example the operations guide gives (`deploy/nginx-ochat.conf`), so the tests check the
//! documented configuration itself.
//!
//! Only what cannot run in a test changes: TLS becomes plain HTTP on a free loopback port, the
//! HTTP-to-HTTPS redirect server is left out, the upstream is the test's node, and nginx runs
//! as one foreground process with its files in a temporary folder. The example's paths, its
//! headers and its allowlist are used as written. Used by `tests/tests/proxy_nginx.rs`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The example configuration in the repository.
pub fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx-ochat.conf")
}

/// A running nginx; stopped when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    /// Where it listens (plain HTTP on 127.0.0.1).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with the example's site in front of `upstream` (the node's API address).
    pub fn start(upstream: SocketAddr, timeout: Duration) -> Result<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("nginx is not installed (apt-get install nginx-light; .ci/run does it)")?;
        let example =
            std::fs::read_to_string(example_config()).context("reading deploy/nginx-ochat.conf")?;
        let port = free_port()?;
        let site = for_test(&example, port, upstream)?;
        let dir = tempfile::tempdir()?;
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\nhttp {{\n    access_log off;\n\
             client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n    types {{ application/javascript js; text/html html; }}\n\
             {site}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let check = Command::new(&binary)
            .arg("-t")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .output()
            .context("running nginx -t")?;
        if !check.status.success() {
            bail!(
                "nginx refuses the example configuration: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let mut child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting nginx")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                bail!("nginx exited with {status}: {log}");
            }
            if started.elapsed() > timeout {
                let _ = child.kill();
                bail!("nginx did not listen on {addr} within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx {
            child,
            addr,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example's HTTPS server block, made to listen on plain HTTP at `port` and to proxy to
/// `upstream`; the `map` and `upstream` blocks as they are; the redirect server left out.
fn for_test(example: &str, port: u16, upstream: SocketAddr) -> Result<String> {
    let mut out = String::new();
    let mut servers = 0;
    for line in example.lines() {
        let t = line.trim();
        if t.starts_with("server {") {
            servers += 1;
        }
        if servers >= 2 {
            // The HTTP-to-HTTPS redirect server.
            continue;
        }
        if t.starts_with("listen [::]:443") || t.starts_with("ssl_certificate") {
            continue;
        }
        if t.starts_with("listen 443") {
            out.push_str(&format!("    listen 127.0.0.1:{port};\n"));
            continue;
        }
        if t == "server 127.0.0.1:7480;" {
            out.push_str(&format!("    server {upstream};\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers < 1 || !out.contains(&format!("listen 127.0.0.1:{port};")) {
        bail!("the example no longer has the server block this test expects");
    }
    Ok(out)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
