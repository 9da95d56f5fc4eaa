//! Helpers for the live chat's files and transcript emails: uploading and downloading files
//! through the real API (raw bodies, streamed or not), small files of real types, and a real
//! SMTP server — PyPI's `aiosmtpd` (installed by `.ci/run`) started as a child process on a
//! loopback port, writing each message it receives into a maildir the test reads.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::livechat::ChatNode;
use crate::node::WAIT;

/// A tiny real PNG (1×1).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";
/// The start of a PDF.
pub const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Uploads `body` as `name` with `content_type` into a session; answers (status, JSON).
pub async fn upload(
    chat: &ChatNode,
    token: &str,
    session: &str,
    name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, Value)> {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/livechat/sessions/{session}/files",
            chat.node.api
        ))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .timeout(WAIT)
        .send()
        .await
        .context("uploading")?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Uploads a body of `len` bytes as a chunked stream with no declared length, the first
/// bytes being `head`, over a raw connection; answers (status, bytes the client had sent when
/// the answer came). A server that stops at its limit answers long before `len`.
pub async fn upload_streamed(
    chat: &ChatNode,
    token: &str,
    session: &str,
    name: &str,
    content_type: &str,
    head: &[u8],
    len: usize,
) -> Result<(u16, usize)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = chat.node.api.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let request = format!(
        "POST /api/v1/livechat/sessions/{session}/files?name={name} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    wr.write_all(request.as_bytes()).await?;
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let mut first = head.to_vec();
    first.resize(64 * 1024, b'a');
    let writer = tokio::spawn(async move {
        let mut total = 0;
        while total < len {
            let chunk = if total == 0 {
                first.clone()
            } else {
                vec![b'a'; 64 * 1024]
            };
            let frame = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if wr.write_all(&frame).await.is_err() {
                return;
            }
            total += chunk.len();
            counter.store(total, std::sync::atomic::Ordering::SeqCst);
        }
        let _ = wr.write_all(b"0\r\n\r\n").await;
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let status = tokio::time::timeout(WAIT, async {
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                bail!("the server closed without an answer");
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() >= 12 {
                let text = String::from_utf8_lossy(&answer[9..12]).to_string();
                return text.parse::<u16>().context("a status code");
            }
        }
    })
    .await
    .context("no answer to the streamed upload")??;
    let at_answer = sent.load(std::sync::atomic::Ordering::SeqCst);
    writer.abort();
    Ok((status, at_answer))
}

/// Downloads a file of a session as `token`; answers (status, headers, bytes).
pub async fn download(
    chat: &ChatNode,
    token: &str,
    session: &str,
    file: &str,
) -> Result<(u16, HeaderMap, Vec<u8>)> {
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/livechat/sessions/{session}/files/{file}",
            chat.node.api
        ))
        .bearer_auth(token)
        .timeout(WAIT)
        .send()
        .await
        .context("downloading")?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.bytes().await?.to_vec()))
}

/// A loopback port nobody listens on now (the OS's choice, released at once).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1, writing messages into a maildir. Stopped
/// (killed) when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// The maildir (`new/` holds one file per message).
    pub maildir: PathBuf,
}

impl SmtpSink {
    /// Starts aiosmtpd on `port`, writing into `dir/maildir`; waits until it accepts
    /// connections.
    pub async fn start(dir: &Path, port: u16) -> Result<Self> {
        let maildir = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting aiosmtpd (python3 -m pip install aiosmtpd)")?;
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(sink);
            }
            if let Some(status) = sink.child.try_wait()? {
                bail!("aiosmtpd stopped at once ({status}); is it installed?");
            }
            if tokio::time::Instant::now() > deadline {
                bail!("aiosmtpd does not listen on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The messages received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    /// Waits (up to `limit`) for at least one message; answers them all.
    pub async fn wait_messages(&self, limit: Duration) -> Result<Vec<String>> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = self.messages();
            if !got.is_empty() {
                return Ok(got);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no message reached the SMTP server within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
