//! The federation baseline: bare libp2p request-response on the same transport as the node
//! (TCP + Noise + Yamux, nodelay), carrying opaque bytes of the same size, answered at once:
//! no crypto beyond the transport's, no storage.
//!
//! [`Server::start_durable`] is the floor of a durable acknowledgement on this machine's disk:
//! the same responder answers a request only once its bytes are written to a log file and
//! `fdatasync`ed (requests that arrive while a sync runs share the next one), and the file is
//! written in full beforehand, so a sync flushes data alone, never the file's size or blocks.
//! A design that syncs the receiver's disk before it acknowledges could save little more than
//! the hop to a blocking thread, not the sync itself.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::prelude::*;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

/// The baseline's request-response protocol.
pub const PROTOCOL: &str = "/ochat-bench/bare/1";
/// Largest frame either side accepts.
const MAX_FRAME: usize = 1 << 20;

/// Length-prefixed opaque bytes.
#[derive(Debug, Clone, Default)]
pub struct BytesCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    io.write_all(&(body.len() as u32).to_be_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

impl request_response::Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &resp).await
    }
}

type Behaviour = request_response::Behaviour<BytesCodec>;

fn swarm() -> Result<Swarm<Behaviour>> {
    Ok(SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                BytesCodec,
                [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(30))
                    .with_max_concurrent_streams(256),
            )
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build())
}

/// A responder that answers every request with `response_size` bytes; runs until dropped.
#[derive(Debug)]
pub struct Server {
    /// Its peer id.
    pub peer: PeerId,
    /// Where it listens.
    pub addr: Multiaddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Starts listening on 127.0.0.1; answers every request at once.
    pub async fn start(response_size: usize) -> Result<Self> {
        Self::listen(response_size, None, "/ip4/127.0.0.1/tcp/0".parse()?).await
    }

    /// Starts listening on `listen` (e.g. `/ip4/0.0.0.0/tcp/0` in a namespace); answers every
    /// request at once. Its [`Server::addr`] is the address it reports, which for an
    /// unspecified IP is one of the host's; clients elsewhere may need [`Client::dial`].
    pub async fn start_on(response_size: usize, listen: Multiaddr) -> Result<Self> {
        Self::listen(response_size, None, listen).await
    }

    /// Starts listening on 127.0.0.1; answers a request once it is durable in a log file of
    /// `log_size` bytes under `dir`, written in full first and then used as a ring.
    pub async fn start_durable(response_size: usize, dir: &Path, log_size: u64) -> Result<Self> {
        let log = DurableLog::create(&dir.join("bare-durable.log"), log_size)?;
        Self::listen(response_size, Some(log), "/ip4/127.0.0.1/tcp/0".parse()?).await
    }

    async fn listen(
        response_size: usize,
        log: Option<DurableLog>,
        listen: Multiaddr,
    ) -> Result<Self> {
        let mut swarm = swarm()?;
        swarm.listen_on(listen)?;
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let peer = *swarm.local_peer_id();
        let response = vec![0xa5u8; response_size];
        let task = match log {
            None => tokio::spawn(async move {
                loop {
                    if let Some((channel, _)) = next_request(&mut swarm).await {
                        let _ = swarm
                            .behaviour_mut()
                            .send_response(channel, response.clone());
                    }
                }
            }),
            Some(log) => tokio::spawn(answer_when_durable(swarm, log, response)),
        };
        Ok(Server { peer, addr, task })
    }
}

type Channel = ResponseChannel<Vec<u8>>;

/// The next event of the swarm, if it is a request.
async fn next_request(swarm: &mut Swarm<Behaviour>) -> Option<(Channel, Vec<u8>)> {
    match swarm.select_next_some().await {
        SwarmEvent::Behaviour(request_response::Event::Message {
            message:
                request_response::Message::Request {
                    channel, request, ..
                },
            ..
        }) => Some((channel, request)),
        _ => None,
    }
}

/// Group commit at its simplest: one sync at a time; the requests that arrive meanwhile are
/// written and synced together by the next one, then answered.
async fn answer_when_durable(mut swarm: Swarm<Behaviour>, log: DurableLog, response: Vec<u8>) {
    let log = Arc::new(log);
    let mut waiting: Vec<(Channel, Vec<u8>)> = Vec::new();
    let mut syncing: Option<(Vec<Channel>, tokio::task::JoinHandle<io::Result<()>>)> = None;
    loop {
        if syncing.is_none() && !waiting.is_empty() {
            let (channels, bodies): (Vec<Channel>, Vec<Vec<u8>>) = waiting.drain(..).unzip();
            let log = log.clone();
            let sync = tokio::task::spawn_blocking(move || log.append(&bodies.concat()));
            syncing = Some((channels, sync));
        }
        tokio::select! {
            request = next_request(&mut swarm) => waiting.extend(request),
            done = async { (&mut syncing.as_mut()?.1).await.ok() }, if syncing.is_some() => {
                let Some((channels, _)) = syncing.take() else { continue };
                if matches!(done, Some(Ok(()))) {
                    for channel in channels {
                        let _ = swarm.behaviour_mut().send_response(channel, response.clone());
                    }
                }
                // A failed sync answers nobody: the requesters time out, as they would with
                // a responder whose disk failed.
            }
        }
    }
}

/// A log file written in full at creation, then overwritten as a ring and `fdatasync`ed.
#[derive(Debug)]
struct DurableLog {
    file: File,
    size: u64,
    offset: std::sync::Mutex<u64>,
}

impl DurableLog {
    fn create(path: &Path, size: u64) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let block = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < size {
            file.write_all_at(&block, at)?;
            at += block.len() as u64;
        }
        file.sync_all()?;
        Ok(DurableLog {
            file,
            size: at,
            offset: std::sync::Mutex::new(0),
        })
    }

    /// Writes `bytes` at the ring's next offset and waits until they are on the disk.
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        if len > self.size {
            return Err(io::Error::other("a group larger than the log"));
        }
        let at = {
            let mut offset = self
                .offset
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?;
            if *offset + len > self.size {
                *offset = 0;
            }
            let at = *offset;
            *offset += len;
            at
        };
        self.file.write_all_at(bytes, at)?;
        self.file.sync_data()
    }
}

/// Where a client's task sends a request's answer.
pub(crate) type Reply = oneshot::Sender<Result<Vec<u8>>>;

/// A requester driven by its own task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    tx: mpsc::Sender<(Vec<u8>, Reply)>,
}

impl Client {
    /// A client whose requests a task of its own (fed by `tx`) carries, directly or through a
    /// relay ([`crate::bare_relay`]).
    pub(crate) fn from_sender(tx: mpsc::Sender<(Vec<u8>, Reply)>) -> Self {
        Client { tx }
    }

    /// A client with a fresh identity that knows `server`'s address (it dials on first use).
    pub fn new(server: &Server) -> Result<Self> {
        Self::dial(server.peer, server.addr.clone())
    }

    /// A client with a fresh identity that reaches `peer` at `addr` (it dials on first use).
    pub fn dial(peer: PeerId, addr: Multiaddr) -> Result<Self> {
        let mut swarm = swarm()?;
        swarm.add_peer_address(peer, addr);
        let (tx, mut rx) = mpsc::channel::<(Vec<u8>, Reply)>(1024);
        tokio::spawn(async move {
            let mut pending: HashMap<OutboundRequestId, Reply> = HashMap::new();
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some((body, reply)) => {
                            let id = swarm.behaviour_mut().send_request(&peer, body);
                            pending.insert(id, reply);
                        }
                        None => return,
                    },
                    event = swarm.select_next_some() => {
                        if let SwarmEvent::Behaviour(event) = event {
                            match event {
                                request_response::Event::Message {
                                    message: request_response::Message::Response { request_id, response },
                                    ..
                                } => {
                                    if let Some(r) = pending.remove(&request_id) {
                                        let _ = r.send(Ok(response));
                                    }
                                }
                                request_response::Event::OutboundFailure { request_id, error, .. } => {
                                    if let Some(r) = pending.remove(&request_id) {
                                        let _ = r.send(Err(anyhow!("request failed: {error}")));
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        });
        Ok(Client { tx })
    }

    /// One request-response round trip.
    pub async fn request(&self, body: Vec<u8>) -> Result<Vec<u8>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((body, reply))
            .await
            .map_err(|_| anyhow!("the client task stopped"))?;
        let answer = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .context("no answer within 30 s")?
            .context("the client task dropped the request")??;
        if answer.is_empty() {
            bail!("empty answer");
        }
        Ok(answer)
    }
}
