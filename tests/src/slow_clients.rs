//! Slow and greedy HTTP clients for tests of the server loop's limits: many connections that
//! send half a request and never the rest, each from a chosen loopback address (Linux routes
//! all of 127.0.0.0/8 to the loopback, so 127.0.0.2, 127.0.0.3… are distinct clients), and a
//! watch of which ones the server has closed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// The start of a request whose headers never end.
pub const HALF_SENT: &[u8] = b"GET /console HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// The loopback addresses 127.0.0.`first`, … (count of them).
pub fn loopback_clients(first: u8, count: u8) -> Vec<IpAddr> {
    (0..count)
        .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, first.saturating_add(n))))
        .collect()
}

/// Connections the test holds open, each either still open or seen closed by the server.
#[derive(Debug)]
pub struct SlowClients {
    streams: Vec<(TcpStream, bool)>,
}

impl SlowClients {
    /// Opens `per_address` connections to `server` from each of `from`, each sending `first`
    /// (e.g. [`HALF_SENT`]) and then nothing. Fails if they cannot all connect within 60 s.
    pub async fn open(
        server: SocketAddr,
        from: &[IpAddr],
        per_address: usize,
        first: &[u8],
    ) -> Result<Self> {
        let jobs = from
            .iter()
            .flat_map(|ip| std::iter::repeat_n(*ip, per_address));
        let opened: Vec<Result<TcpStream>> = futures::stream::iter(jobs)
            .map(|ip| connect_from(ip, server, first))
            .buffer_unordered(128)
            .collect()
            .await;
        let streams = opened
            .into_iter()
            .map(|s| s.map(|s| (s, false)))
            .collect::<Result<Vec<_>>>()?;
        Ok(SlowClients { streams })
    }

    /// Watches connections opened elsewhere (e.g. by [`request_from`]).
    pub fn from_streams(streams: Vec<TcpStream>) -> Self {
        SlowClients {
            streams: streams.into_iter().map(|s| (s, false)).collect(),
        }
    }

    /// How many connections there are.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// How many the server has closed so far (looks without waiting).
    pub fn closed(&mut self) -> usize {
        let mut buf = [0u8; 4096];
        for (stream, closed) in &mut self.streams {
            while !*closed {
                match stream.try_read(&mut buf) {
                    // An answer (e.g. 408 or 431) may come before the close: read on.
                    Ok(n) if n > 0 => continue,
                    Ok(_) => *closed = true,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => *closed = true,
                }
            }
        }
        self.streams.iter().filter(|(_, closed)| *closed).count()
    }

    /// Waits until at least `count` are closed; fails after `within`.
    pub async fn wait_closed(&mut self, count: usize, within: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let closed = self.closed();
            if closed >= count {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "after {within:?} the server had closed {closed} of {} slow connections, not {count}",
                    self.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Closes `count` of the still-open connections from the test's side.
    pub fn drop_open(&mut self, count: usize) {
        let mut left = count;
        self.streams.retain(|(_, closed)| {
            if !*closed && left > 0 {
                left -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// One connection from `ip` that sends `first`. A server that closes it at once may reset the
/// write: that connection is still returned, and shows as closed.
async fn connect_from(ip: IpAddr, server: SocketAddr, first: &[u8]) -> Result<TcpStream> {
    let socket = match ip {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .context("a client socket")?;
    socket
        .bind(SocketAddr::new(ip, 0))
        .with_context(|| format!("binding a client socket to {ip}"))?;
    let mut stream = tokio::time::timeout(Duration::from_secs(60), socket.connect(server))
        .await
        .context("connecting took over 60 s")?
        .with_context(|| format!("connecting from {ip} to {server}"))?;
    let _ = stream.write_all(first).await;
    Ok(stream)
}

/// Sends a whole request on a fresh connection from `ip` and reads the answer's status line;
/// the connection is returned for the caller to watch.
pub async fn request_from(
    ip: IpAddr,
    server: SocketAddr,
    request: &[u8],
) -> Result<(String, TcpStream)> {
    use tokio::io::AsyncReadExt;
    let socket = TcpSocket::new_v4().context("a client socket")?;
    socket.bind(SocketAddr::new(ip, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.write_all(request).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = Duration::from_secs(10);
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(deadline, stream.read(&mut byte))
            .await
            .context("no answer within 10 s")??;
        if n == 0 {
            bail!(
                "closed before answering: {}",
                String::from_utf8_lossy(&head)
            );
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    Ok((status, stream))
}
