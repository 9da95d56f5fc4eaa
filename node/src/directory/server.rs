//! The directory server: axum routes over its records ([`DirectoryRecords`]), with trust on
//! first use.
//!
//! Data folder layout:
//! ```text
//! ochat-directory/
//!   directory.lock   held (flock) while a directory runs; holds its pid
//!   db/              the database (see `store/directory_records.rs`)
//! ```
//!
//! A PUT is decided against the stored record and written with a compare-and-swap, so two
//! racing PUTs for the same UUID cannot both win; the write is flushed before the answer.
//! Every request passes a per-client-IP token bucket (IPv6 clients are grouped by /64). Behind a
//! reverse proxy, list it in [`HttpConfig::trusted_proxies`] (`--trusted-proxy`) so the bucket
//! is the forwarded client's, not the proxy's. Connections are served by
//! [`crate::http_server`] (timeouts, connection caps); the folder is its owner's alone (0700,
//! files 0600, also when an older version left it open).

use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ochat_protocol::identity::InstanceId;
use ochat_protocol::record::{InstanceRecord, RecordError, SignedRecord, verify_record};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::rate_limit::{Limiter, RateLimit};
use super::{DirectoryError, MAX_BODY_BYTES, RecordDto};
use crate::api::ApiError;
use crate::http_server::HttpConfig;
use crate::store::directory_records::DirectoryRecords;
/// How long a shutdown waits for open requests before it cuts them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How a directory server runs.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// The data folder (created if missing, locked while running).
    pub data_dir: PathBuf,
    /// Where to listen (port 0: the OS picks one; see [`RunningDirectory::addr`]).
    pub listen: SocketAddr,
    /// The per-client-IP limit; `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// Timeouts, connection caps and trusted proxies.
    pub http: HttpConfig,
    /// The libp2p node (relay, AutoNAT, DHT bootstrap); `None` runs none.
    pub p2p: Option<super::p2p::DirectoryP2p>,
}

impl DirectoryConfig {
    /// The defaults for a data folder and a listen address.
    pub fn new(data_dir: &Path, listen: SocketAddr) -> Self {
        DirectoryConfig {
            data_dir: data_dir.to_path_buf(),
            listen,
            rate_limit: Some(RateLimit::default()),
            http: HttpConfig::default(),
            p2p: None,
        }
    }
}

/// Starts directory servers.
#[derive(Debug)]
pub struct DirectoryServer;

/// A started directory server.
#[derive(Debug)]
pub struct RunningDirectory {
    /// The address it listens on.
    pub addr: SocketAddr,
    state: Arc<DirState>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

struct DirState {
    records: DirectoryRecords,
    limiter: Option<Limiter>,
    p2p: Option<crate::network::NetworkHandle>,
    /// Held as long as anything can still touch the database.
    _lock: File,
}

impl std::fmt::Debug for DirState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirState").finish_non_exhaustive()
    }
}

impl DirectoryServer {
    /// Starts a directory on `data_dir` listening on `listen`, with the default rate limit.
    pub async fn start(
        data_dir: &Path,
        listen: SocketAddr,
    ) -> Result<RunningDirectory, DirectoryError> {
        Self::start_with(DirectoryConfig::new(data_dir, listen)).await
    }

    /// Starts a directory with an explicit configuration.
    pub async fn start_with(config: DirectoryConfig) -> Result<RunningDirectory, DirectoryError> {
        crate::process_setup::prepare();
        let root = &config.data_dir;
        fs::create_dir_all(root).map_err(io("create the data folder", root))?;
        let lock = take_lock(root)?;
        crate::data_dir::make_private(root).map_err(|e| folder_error(e, root))?;
        let records = DirectoryRecords::open(&root.join("db"))?;
        let p2p = match &config.p2p {
            Some(p2p) => Some(super::p2p::start(root, p2p).await?),
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| DirectoryError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DirectoryError::Listen {
                addr: config.listen,
                source,
            })?;
        let state = Arc::new(DirState {
            records,
            limiter: config.rate_limit.map(Limiter::new),
            p2p,
            _lock: lock,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let disk = crate::disk_space::DiskSpace::new(root, config.http.min_free_space);
        let server =
            crate::http_server::spawn(listener, router(state.clone(), disk), config.http, stopped)
                .map_err(|e| DirectoryError::Server(e.to_string()))?;
        tracing::info!(%addr, data_dir = %root.display(), "directory started");
        Ok(RunningDirectory {
            addr,
            state,
            stop: Some(stop),
            server,
        })
    }
}

impl RunningDirectory {
    /// The libp2p node's peer id and addresses (as `GET /v1/p2p` answers), if it runs one.
    pub fn p2p_info(&self) -> Option<super::p2p::P2pInfo> {
        self.state.p2p.as_ref().map(super::p2p::info)
    }

    /// Stops accepting requests, lets open ones finish (up to 10 s), flushes the database and
    /// releases the data folder.
    pub async fn shutdown(mut self) -> Result<(), DirectoryError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server).await {
            Ok(Ok(result)) => result.map_err(|e| DirectoryError::Server(e.to_string())),
            Ok(Err(join)) => Err(DirectoryError::Server(join.to_string())),
            Err(_) => {
                self.server.abort();
                tracing::warn!("open directory requests did not finish in time; cut them off");
                Ok(())
            }
        };
        if let Some(p2p) = &self.state.p2p {
            p2p.shutdown().await;
        }
        self.state.records.flush().await?;
        tracing::info!(addr = %self.addr, "directory stopped");
        served
    }
}

impl Drop for RunningDirectory {
    fn drop(&mut self) {
        // Dropped without `shutdown`: still stop the server, so the lock is released when its
        // last request is done.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(state: Arc<DirState>, disk: Arc<crate::disk_space::DiskSpace>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/p2p", get(p2p_info))
        .route("/v1/instances/{uuid}", get(get_instance).put(put_instance))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(
            disk,
            crate::disk_space::refuse_writes_when_full,
        ))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn p2p_info(
    State(state): State<Arc<DirState>>,
) -> Result<Json<super::p2p::P2pInfo>, ApiError> {
    match &state.p2p {
        Some(handle) => Ok(Json(super::p2p::info(handle))),
        None => Err(ApiError::not_found("this directory runs no libp2p node")),
    }
}

async fn get_instance(
    State(state): State<Arc<DirState>>,
    path: Result<axum::extract::Path<String>, PathRejection>,
) -> Result<Json<RecordDto>, ApiError> {
    let uuid = parse_uuid(path)?;
    match state.records.get(&uuid).map_err(ApiError::internal)? {
        Some(stored) => Ok(Json(RecordDto::from(&stored))),
        None => Err(ApiError::not_found(format!(
            "no record for {uuid} in this directory"
        ))),
    }
}

async fn put_instance(
    State(state): State<Arc<DirState>>,
    path: Result<axum::extract::Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let uuid = parse_uuid(path)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a record is sent as at most {MAX_BODY_BYTES} bytes of JSON"),
        ),
        status => api_error(status, "bad_body", e.body_text()),
    })?;
    let dto: RecordDto = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"body\": \"<hex>\", \"signature\": \"<hex>\"}}: {e}"
        ))
    })?;
    let signed = SignedRecord::try_from(&dto).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let record = verify_record(&signed).map_err(|e| match e {
        // Someone else's self-certifying UUID: refused like a UUID claimed by another key.
        RecordError::NotDerivedFromKey { .. } => {
            api_error(StatusCode::FORBIDDEN, "key_mismatch", e.to_string())
        }
        e => api_error(StatusCode::BAD_REQUEST, "invalid_record", e.to_string()),
    })?;
    if record.uuid != uuid {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "uuid_mismatch",
            format!("the record is for {}, not {uuid}", record.uuid),
        ));
    }
    let outcome = store_tofu(&state.records, &signed, &record)?;
    // Also for an unchanged record: its first PUT may have failed at the flush.
    state.records.flush().await.map_err(ApiError::internal)?;
    if outcome != Outcome::Unchanged {
        tracing::info!(%uuid, seq = record.seq, ?outcome, "directory record stored");
    }
    let status = match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Replaced | Outcome::Unchanged => StatusCode::OK,
    };
    Ok((status, Json(json!({"uuid": uuid, "seq": record.seq}))).into_response())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Replaced,
    Unchanged,
}

/// Applies trust on first use and stores `signed` (already verified as `record`) atomically.
fn store_tofu(
    records: &DirectoryRecords,
    signed: &SignedRecord,
    record: &InstanceRecord,
) -> Result<Outcome, ApiError> {
    loop {
        let current = records.get(&record.uuid).map_err(ApiError::internal)?;
        if let Some(stored) = &current {
            if stored == signed {
                return Ok(Outcome::Unchanged);
            }
            let old = verify_record(stored).map_err(ApiError::internal)?;
            if old.identity != record.identity {
                return Err(api_error(
                    StatusCode::FORBIDDEN,
                    "key_mismatch",
                    format!(
                        "{} is already claimed by another identity key; only that key can update it",
                        record.uuid
                    ),
                ));
            }
            if record.seq <= old.seq {
                return Err(api_error(
                    StatusCode::CONFLICT,
                    "stale_seq",
                    format!(
                        "the directory holds seq {} for {}; an update needs a higher seq than that, got {}",
                        old.seq, record.uuid, record.seq
                    ),
                ));
            }
        }
        let swapped = records
            .swap(&record.uuid, current.as_ref(), signed)
            .map_err(ApiError::internal)?;
        if swapped {
            return Ok(if current.is_some() {
                Outcome::Replaced
            } else {
                Outcome::Created
            });
        }
        // Someone else wrote this UUID in between: decide again against their record.
    }
}

fn parse_uuid(
    path: Result<axum::extract::Path<String>, PathRejection>,
) -> Result<InstanceId, ApiError> {
    let axum::extract::Path(raw) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    raw.parse::<InstanceId>()
        .map_err(|e| api_error(StatusCode::BAD_REQUEST, "bad_uuid", e.to_string()))
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

async fn no_such_route() -> ApiError {
    api_error(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "no such route; the directory serves /v1/instances/{uuid} and /v1/health",
    )
}

async fn method_not_allowed() -> ApiError {
    api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn rate_limit(
    State(state): State<Arc<DirState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = &state.limiter
        && let Err(wait) = limiter.check(peer.ip(), Instant::now())
    {
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; slow down",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait.as_secs().max(1).into());
        return response;
    }
    next.run(request).await
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DirectoryError + 'a {
    move |source| DirectoryError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Takes the folder's lock, the same way `data_dir` does for nodes.
fn take_lock(root: &Path) -> Result<File, DirectoryError> {
    crate::data_dir::lock_folder(root, "directory.lock").map_err(|e| folder_error(e, root))
}

/// A data folder problem, told the directory's way.
fn folder_error(e: crate::data_dir::DataDirError, root: &Path) -> DirectoryError {
    match e {
        crate::data_dir::DataDirError::Locked { dir, pid } => DirectoryError::Locked { dir, pid },
        crate::data_dir::DataDirError::Io {
            action,
            path,
            source,
        } => DirectoryError::Io {
            action,
            path,
            source,
        },
        other => DirectoryError::Io {
            action: "open",
            path: root.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::identity::IdentityKey;

    use super::*;

    fn claim(uuid: InstanceId, seq: u64) -> (SignedRecord, InstanceRecord) {
        let key = IdentityKey::generate().unwrap();
        let record = InstanceRecord {
            uuid,
            name: "Racer".into(),
            identity: key.public(),
            prekey: [1; 32],
            addresses: Vec::new(),
            seq,
            signed_at_ms: 0,
        };
        (record.sign(&key).unwrap(), record)
    }

    #[test]
    fn of_many_keys_racing_for_one_uuid_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let records = DirectoryRecords::open(dir.path()).unwrap();
        let uuid = InstanceId::generate();
        let claims: Vec<_> = (1..=8).map(|seq| claim(uuid, seq)).collect();
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let racers: Vec<_> = claims
                .iter()
                .map(|(signed, record)| {
                    let records = &records;
                    scope.spawn(move || store_tofu(records, signed, record).map_err(|e| e.code))
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| *o == Ok(Outcome::Created) || *o == Err("key_mismatch"))
        );
        // The stored record is the winner's.
        let winner = outcomes.iter().position(Result::is_ok).unwrap();
        let stored = records.get(&uuid).unwrap().unwrap();
        assert_eq!(stored, claims[winner].0);
    }
}
