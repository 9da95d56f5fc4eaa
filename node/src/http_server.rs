//! The HTTP server loop of the node's API and of the directory: an accept loop over hyper's
//! HTTP/1.1 connections that a slow or greedy client cannot use to shut others out.
//!
//! - **Slow headers, idle keep-alive.** A request's headers must arrive within
//!   [`HttpConfig::header_read_timeout`]; the same clock runs while a kept-alive connection
//!   waits for its next request, so idle connections are closed after it too. Headers are
//!   capped at [`MAX_HEADER_BYTES`].
//! - **Slow bodies.** A body that sends nothing for [`HttpConfig::body_read_timeout`] fails the
//!   request (400) and the connection is closed.
//! - **Connection caps.** At most [`HttpConfig::max_connections`] connections in all (lowered
//!   to fit the open-file limit) and [`HttpConfig::max_connections_per_ip`] per client address
//!   (IPv6 by /64). A connection beyond its address's cap is closed at once, unread; at the
//!   total cap the oldest idle or half-sent connection is closed to make room, and only when
//!   all are busy is the newcomer refused. Trusted proxies are held to the total cap only:
//!   every client behind them shares their address. Upgraded connections (WebSockets) keep
//!   counting until they close, and are never closed to make room.
//! - **Client address.** Handlers get the client as `ConnectInfo<SocketAddr>`: the peer, or,
//!   from a trusted proxy, its `X-Forwarded-For` client ([`crate::client_addr`]). Proxy headers
//!   ([`PROXY_HEADERS`] and [`HttpConfig::strip_headers`]) from anyone else are removed, so no
//!   handler can be fooled by them.
//! - **Shutdown.** On the stop signal it stops accepting, closes connections that are idle or
//!   still sending headers, lets the others finish the request they are answering and waits
//!   up to [`SHUTDOWN_GRACE`] before cutting them off.
//!
//! HTTP/1.1 only: hyper-util's auto (HTTP/1 or HTTP/2) connection waits for the client's first
//! bytes with no time limit, which is the very attack this loop exists to stop. Browsers speak
//! HTTP/2 only over TLS, which a reverse proxy in front terminates.
//!
//! Used by [`crate::RunningNode::start`] and [`crate::directory::DirectoryServer`].

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::header::HeaderName;
use axum::http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower_http::timeout::TimeoutBody;
use tower_service::Service;

use crate::client_addr::{self, PROXY_HEADERS, TrustedProxies};
use crate::http_caps::{ConnWatch, Counted, Counts, Slot};

/// The largest request head (request line and headers) accepted; beyond it, 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a shutdown waits for open requests before it cuts them off.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Open files kept for everything but API connections (database, peers, logs).
const RESERVED_FILES: u64 = 512;
/// The smallest total cap, whatever the file limit says.
const MIN_CONNECTIONS: usize = 64;

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time to send a request's headers; also how long an idle keep-alive connection stays.
    pub header_read_timeout: Duration,
    /// Longest silence while a request body is sent.
    pub body_read_timeout: Duration,
    /// Connections in all (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// Connections per client address (IPv6 by /64); trusted proxies are exempt.
    pub max_connections_per_ip: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
    /// More headers only a trusted proxy may set (e.g. the live chat's country header).
    pub strip_headers: Vec<String>,
    /// Free bytes kept on the data folder's disk: below it, writes are refused (HTTP 507,
    /// peers told to try later) until space comes back; 0 turns it off
    /// ([`crate::disk_space`]).
    pub min_free_space: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            trusted_proxies: TrustedProxies::none(),
            strip_headers: Vec::new(),
            min_free_space: crate::disk_space::DEFAULT_RESERVE,
        }
    }
}

impl HttpConfig {
    /// The total cap in force: the configured one, lowered to leave [`RESERVED_FILES`] of
    /// the open-file limit for the rest of the process.
    pub fn effective_max_connections(&self) -> usize {
        let fitting = crate::process_setup::open_file_limit()
            .map(|limit| {
                usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX)
            })
            .unwrap_or(usize::MAX);
        self.max_connections.min(fitting).max(MIN_CONNECTIONS)
    }
}

/// A setting the server cannot use.
#[derive(Debug, Error)]
pub enum HttpConfigError {
    /// A header to strip is not a header name.
    #[error("{name:?} is not a header name: {reason}")]
    HeaderName {
        /// What was given.
        name: String,
        /// Why it is not one.
        reason: String,
    },
}

/// Serves `router` on `listener` until `stop` fires (or its sender is dropped).
pub fn spawn(
    listener: TcpListener,
    router: Router,
    config: HttpConfig,
    stop: oneshot::Receiver<()>,
) -> Result<JoinHandle<io::Result<()>>, HttpConfigError> {
    let mut strip: Vec<HeaderName> = PROXY_HEADERS
        .iter()
        .map(|h| HeaderName::from_static(h))
        .collect();
    for extra in &config.strip_headers {
        let name =
            HeaderName::try_from(extra.as_str()).map_err(|e| HttpConfigError::HeaderName {
                name: extra.clone(),
                reason: e.to_string(),
            })?;
        strip.push(name);
    }
    let counts = Arc::new(Counts::new(
        config.effective_max_connections(),
        config.max_connections_per_ip.max(1),
    ));
    let settings = Arc::new(Settings {
        router,
        trusted: config.trusted_proxies.clone(),
        strip,
        header_read_timeout: config.header_read_timeout,
        body_read_timeout: config.body_read_timeout,
    });
    Ok(tokio::spawn(serve(listener, settings, counts, stop)))
}

/// What every connection task needs.
struct Settings {
    router: Router,
    trusted: TrustedProxies,
    strip: Vec<HeaderName>,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
}

async fn serve(
    listener: TcpListener,
    settings: Arc<Settings>,
    counts: Arc<Counts>,
    mut stop: oneshot::Receiver<()>,
) -> io::Result<()> {
    let (drain, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let proxy = settings.trusted.contains(peer.ip());
                    // Beyond a cap: dropped unread, the socket closes at once.
                    let Some(slot) = counts.admit(peer.ip(), proxy) else { continue };
                    connections.spawn(serve_connection(
                        stream,
                        peer,
                        slot,
                        settings.clone(),
                        draining.clone(),
                    ));
                }
                Err(e) if is_per_connection(&e) => {}
                Err(e) => {
                    // Out of files or memory: wait a little instead of spinning.
                    tracing::warn!(error = %e, "cannot accept API connections");
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = drain.send(true);
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = connections.len(),
            "open HTTP connections did not finish in time; cut them off"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors of one connection that the listener survives.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    settings: Arc<Settings>,
    mut draining: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let conn = slot.watch();
    let io = TokioIo::new(Counted {
        stream,
        _slot: slot,
    });
    let service_settings = settings.clone();
    let service_conn = conn.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let settings = service_settings.clone();
        let busy = Busy::start(&service_conn);
        async move {
            let response = handle(&settings, peer, request).await;
            Ok::<_, Infallible>(response.map(|inner| Body::new(Answering { inner, _busy: busy })))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES);
    let connection = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = conn.evict.notified() => {
            tracing::debug!(%peer, "closed an idle connection to make room");
            return;
        }
        () = until_draining(&mut draining) => {
            if conn.busy.load(Ordering::SeqCst) == 0 {
                // Idle, or still sending its headers: nothing to finish.
                return;
            }
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // Ended, or upgraded: a WebSocket is never closed to make room.
    conn.serving.store(false, Ordering::SeqCst);
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "HTTP connection ended");
    }
}

/// Returns once the server is draining (or gone).
async fn until_draining(draining: &mut watch::Receiver<bool>) {
    let _ = draining.wait_for(|d| *d).await;
}

/// One request: find the client, drop proxy headers it may not send, time its body, route.
async fn handle(
    settings: &Settings,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let client = client_addr::resolve(peer, request.headers(), &settings.trusted);
    let timeout = settings.body_read_timeout;
    let mut request = request.map(|body| Body::new(TimeoutBody::new(timeout, body)));
    if !client.via_proxy {
        let headers = request.headers_mut();
        for name in &settings.strip {
            headers.remove(name);
        }
    }
    request
        .extensions_mut()
        .insert(ConnectInfo(client.socket_addr()));
    let mut router = settings.router.clone();
    match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Counts a request as being answered while it lives.
struct Busy(Arc<ConnWatch>);

impl Busy {
    fn start(watch: &Arc<ConnWatch>) -> Self {
        watch.busy.fetch_add(1, Ordering::SeqCst);
        Busy(watch.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as busy until it is sent (or dropped).
struct Answering {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
