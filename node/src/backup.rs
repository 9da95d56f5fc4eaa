//! Backups of a running node and restores into an empty folder.
//!
//! A backup is one file: the data folder's own files (the identity key, the admin token,
//! `instance.json`, and `ochat.toml` when it is there) and a consistent snapshot of the whole
//! database ([`crate::store::snapshot`]: one moment, as a crash would leave it). It holds the
//! node's secret keys: whoever has it can act as the instance. Keep it as secret as the data
//! folder (the node writes it 0600; `ochat backup` too).
//!
//! Layout: the 12 bytes [`MAGIC`], then frames, each a 4-byte big-endian length and a CBOR
//! [`Frame`]: one `Header`, the `File`s, then for each tree a `Tree` and its `Entries` (in
//! batches of about [`BATCH_BYTES`]), and last an `End` with the number of entries and the
//! SHA-256 of every byte before it. A restore checks all of it before it writes anything that
//! a node would open, and refuses a damaged or cut file.
//!
//! A restored node knows it was restored: the database gets a restore mark with the backup's
//! id and time ([`RestoredFrom`], `store/restore_mark.rs`), shown by `GET /api/v1/instance`.
//!
//! Used by `api/backup.rs` (`POST /api/v1/backup`) and the CLI (`ochat backup`, `ochat restore`).

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::data_dir::{InstanceInfo, open_private};
use crate::store::snapshot::{SnapshotError, SnapshotItem};
use crate::store::{Store, StoreError, decode, encode};

/// The first bytes of every backup file (format version 1).
pub const MAGIC: &[u8; 12] = b"OCHATBACKUP1";

/// About how many bytes of entries one frame carries.
pub const BATCH_BYTES: usize = 1 << 20;

/// The largest frame a restore reads (an entry is at most the store's value limit).
const MAX_FRAME: usize = 8 << 20;

/// The data folder files a backup carries, and the only ones a restore writes.
pub const FOLDER_FILES: &[&str] = &["identity.key", "admin.token", "instance.json", "ochat.toml"];

/// What went wrong with a backup or a restore.
#[derive(Debug, Error)]
pub enum BackupError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file is not a backup, is damaged or was cut short.
    #[error("{path} is not a usable ochat backup: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The restore's target folder already holds something.
    #[error(
        "{0} is not empty: restore into a new or empty folder (a restore never overwrites a node's data)"
    )]
    NotEmpty(PathBuf),
    /// Another backup of this node is being written.
    #[error("a backup of this node is already being written; try again when it is done")]
    Busy,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

/// One frame of a backup file.
#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    Header(Header),
    File {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    Tree(String),
    Entries(Vec<(serde_bytes::ByteBuf, serde_bytes::ByteBuf)>),
    End {
        entries: u64,
        #[serde(with = "serde_bytes")]
        sha256: Vec<u8>,
    },
}

/// Who and when a backup is of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// The backup's own id.
    pub id: Uuid,
    /// When it was taken (ms since the Unix epoch).
    pub created_ms: u64,
    /// The instance it is of.
    pub instance: Uuid,
    /// The instance's name.
    pub name: String,
    /// The node version that wrote it.
    pub version: String,
}

pub use crate::store::restore_mark::RestoredFrom;

/// What a backup or restore did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// The backup's header.
    pub header: Header,
    /// Database entries.
    pub entries: u64,
    /// Folder files.
    pub files: usize,
    /// The backup file's size.
    pub bytes: u64,
    /// How long writes waited for the snapshot, in milliseconds (backups only).
    pub frozen_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes frames and hashes every byte written.
struct FrameWriter<W: Write> {
    out: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> FrameWriter<W> {
    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn frame(&mut self, frame: &Frame) -> Result<(), BackupError> {
        let body = encode("backup", frame)?;
        let len = u32::try_from(body.len()).map_err(|_| BackupError::Damaged {
            path: PathBuf::from("(backup being written)"),
            reason: "a frame over 4 GiB".into(),
        })?;
        self.raw(&len.to_be_bytes())
            .and_then(|()| self.raw(&body))
            .map_err(io("write", Path::new("(backup)")))
    }
}

/// Writes a backup of the node whose folder is `root` and whose database is `store` into
/// `out` (see the module documentation).
///
/// # Errors
///
/// [`BackupError`]; `out` then holds an unusable (cut) backup.
pub fn write(
    root: &Path,
    instance: &InstanceInfo,
    store: &Store,
    out: impl Write,
) -> Result<Summary, BackupError> {
    let header = Header {
        id: Uuid::now_v7(),
        created_ms: now_ms(),
        instance: instance.uuid.0,
        name: instance.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut w = FrameWriter {
        out: BufWriter::new(out),
        hash: Sha256::new(),
        bytes: 0,
    };
    w.raw(MAGIC).map_err(io("write", Path::new("(backup)")))?;
    w.frame(&Frame::Header(header.clone()))?;
    let mut files = 0;
    for name in FOLDER_FILES {
        let path = root.join(name);
        match fs::read(&path) {
            Ok(bytes) => {
                w.frame(&Frame::File {
                    name: (*name).to_string(),
                    bytes,
                })?;
                files += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &path)(e)),
        }
    }
    let started = std::time::Instant::now();
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    let entries = store
        .snapshot(|item| -> Result<(), BackupError> {
            match item {
                SnapshotItem::Tree(name) => {
                    if !batch.is_empty() {
                        w.frame(&Frame::Entries(std::mem::take(&mut batch)))?;
                        batch_bytes = 0;
                    }
                    w.frame(&Frame::Tree(name.to_string()))
                }
                SnapshotItem::Entry(k, v) => {
                    batch_bytes += k.len() + v.len() + 8;
                    batch.push((
                        serde_bytes::ByteBuf::from(k.to_vec()),
                        serde_bytes::ByteBuf::from(v.to_vec()),
                    ));
                    if batch_bytes >= BATCH_BYTES {
                        w.frame(&Frame::Entries(std::mem::take(&mut batch)))?;
                        batch_bytes = 0;
                    }
                    Ok(())
                }
            }
        })
        .map_err(|e| match e {
            SnapshotError::Store(e) => BackupError::Store(e),
            SnapshotError::Visitor(e) => e,
        })?;
    let frozen_ms = started.elapsed().as_millis() as u64;
    if !batch.is_empty() {
        w.frame(&Frame::Entries(batch))?;
    }
    let sha256 = w.hash.clone().finalize().to_vec();
    w.frame(&Frame::End { entries, sha256 })?;
    w.out.flush().map_err(io("write", Path::new("(backup)")))?;
    Ok(Summary {
        header,
        entries,
        files,
        bytes: w.bytes,
        frozen_ms,
    })
}

/// Reads the frames of a backup file, checking its hash; hands each frame but the last to
/// `each`. Answers the header and the number of entries.
fn read_frames(
    path: &Path,
    mut each: impl FnMut(Frame) -> Result<(), BackupError>,
) -> Result<(Header, u64), BackupError> {
    let damaged = |reason: String| BackupError::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(io("open", path))?;
    let mut input = BufReader::new(file);
    let mut hash = Sha256::new();
    let mut magic = [0u8; 12];
    input
        .read_exact(&mut magic)
        .map_err(|_| damaged("too short to be a backup".into()))?;
    if &magic != MAGIC {
        return Err(damaged(
            "it does not start like an ochat backup (version 1)".into(),
        ));
    }
    hash.update(magic);
    let mut header = None;
    let mut counted = 0u64;
    loop {
        let before = hash.clone().finalize();
        let mut len = [0u8; 4];
        input
            .read_exact(&mut len)
            .map_err(|_| damaged("the file is cut short (no end mark)".into()))?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return Err(damaged(format!("a frame of {n} bytes is over the limit")));
        }
        let mut body = vec![0u8; n];
        input
            .read_exact(&mut body)
            .map_err(|_| damaged("the file is cut short".into()))?;
        hash.update(len);
        hash.update(&body);
        let frame: Frame = decode("backup", &body).map_err(|e| damaged(e.to_string()))?;
        match frame {
            Frame::End { entries, sha256 } => {
                if sha256 != before.as_slice() {
                    return Err(damaged("its checksum does not match its content".into()));
                }
                if entries != counted {
                    return Err(damaged(format!(
                        "it says {entries} entries but holds {counted}"
                    )));
                }
                let header = header.ok_or_else(|| damaged("it has no header".into()))?;
                return Ok((header, entries));
            }
            Frame::Header(h) => {
                if header.is_some() {
                    return Err(damaged("it has two headers".into()));
                }
                header = Some(h);
            }
            other => {
                if header.is_none() {
                    return Err(damaged("its first frame is not the header".into()));
                }
                if let Frame::Entries(batch) = &other {
                    counted += batch.len() as u64;
                }
                each(other)?;
            }
        }
    }
}

/// Checks a backup file from end to end without writing anything: answers its header and
/// number of entries.
///
/// # Errors
///
/// [`BackupError::Damaged`], [`BackupError::Io`].
pub fn verify(path: &Path) -> Result<(Header, u64), BackupError> {
    read_frames(path, |_| Ok(()))
}

/// Whether `dir` is missing or an empty folder.
fn is_missing_or_empty(dir: &Path) -> Result<bool, BackupError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io("list", dir)(e)),
    }
}

/// Restores the backup `from` into the folder `dir`, which must be missing or empty; on any
/// failure the folder is left empty again. The node is not running while this happens.
///
/// # Errors
///
/// [`BackupError::NotEmpty`], [`BackupError::Damaged`] (nothing left behind), others.
pub fn restore(from: &Path, dir: &Path) -> Result<Summary, BackupError> {
    if !is_missing_or_empty(dir)? {
        return Err(BackupError::NotEmpty(dir.to_path_buf()));
    }
    // The whole file is checked before anything is written.
    verify(from)?;
    let bytes = fs::metadata(from).map_err(io("inspect", from))?.len();
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let result = restore_into(from, dir, bytes);
    if result.is_err() {
        empty_folder(dir);
    }
    result
}

fn empty_folder(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

fn restore_into(from: &Path, dir: &Path, bytes: u64) -> Result<Summary, BackupError> {
    crate::data_dir::make_private(dir).map_err(|e| BackupError::Io {
        action: "make private",
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let store = Store::open(&dir.join("db"))?;
    let mut files = 0;
    let mut tree: Option<String> = None;
    let (header, entries) = read_frames(from, |frame| {
        match frame {
            Frame::File { name, bytes } => {
                if !FOLDER_FILES.contains(&name.as_str()) {
                    return Err(BackupError::Damaged {
                        path: from.to_path_buf(),
                        reason: format!("it holds an unexpected file {name:?}"),
                    });
                }
                write_private(&dir.join(&name), &bytes)?;
                files += 1;
            }
            Frame::Tree(name) => tree = Some(name),
            Frame::Entries(batch) => {
                let name = tree.as_deref().ok_or_else(|| BackupError::Damaged {
                    path: from.to_path_buf(),
                    reason: "entries before any tree".into(),
                })?;
                store.load_snapshot_tree(
                    name,
                    batch.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
                )?;
            }
            Frame::Header(_) | Frame::End { .. } => {}
        }
        Ok(())
    })?;
    let mark = RestoredFrom {
        backup: header.id,
        backup_created_ms: header.created_ms,
        restored_ms: now_ms(),
    };
    store.mark_restored(&mark)?;
    store.flush_blocking()?;
    Ok(Summary {
        header,
        entries,
        files,
        bytes,
        frozen_ms: 0,
    })
}

/// A running node's backup state (in `NodeShared`).
#[derive(Debug)]
pub struct Backups {
    /// The data folder.
    pub root: PathBuf,
    /// Held while a backup is written: one at a time.
    pub busy: tokio::sync::Mutex<()>,
    /// The restore mark, when this node was restored from a backup.
    pub restored: Option<RestoredFrom>,
}

impl Backups {
    /// Reads the restore mark and says so in the log.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn new(root: &Path, store: &Store) -> Result<Self, StoreError> {
        let restored = store.restored_from()?;
        if let Some(mark) = &restored {
            tracing::warn!(
                backup = %mark.backup,
                backup_created_ms = mark.backup_created_ms,
                "this node was restored from a backup: what it received after the backup was taken is not here"
            );
        }
        Ok(Backups {
            root: root.to_path_buf(),
            busy: tokio::sync::Mutex::new(()),
            restored,
        })
    }
}

/// Creates (or replaces) a file readable by its owner only, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut file = open_private(path, false).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

/// Writes a backup into a new private file `path` (for the API, which then sends it).
///
/// # Errors
///
/// [`BackupError`]; the file is removed.
pub fn write_file(
    root: &Path,
    instance: &InstanceInfo,
    store: &Store,
    path: &Path,
) -> Result<Summary, BackupError> {
    let file = open_private(path, true).map_err(io("create", path))?;
    let result = write(root, instance, store, &file)
        .and_then(|s| file.sync_all().map(|()| s).map_err(io("sync", path)));
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::data_dir::DataDir;

    fn node_folder(root: &Path) -> (DataDir, Store) {
        let data = DataDir::open(root, Some("Acme")).unwrap();
        let store = Store::open(&data.db_path()).unwrap();
        (data, store)
    }

    #[test]
    fn a_backup_restores_into_an_empty_folder_with_its_keys_and_data() {
        let tmp = tempfile::tempdir().unwrap();
        let (data, store) = node_folder(&tmp.path().join("node"));
        for i in 0u32..3000 {
            store.next_counter(&format!("c{i}")).unwrap();
        }
        let file = tmp.path().join("acme.ochatbak");
        let written = write_file(data.root(), &data.instance, &store, &file).unwrap();
        assert!(written.entries >= 3000, "{}", written.entries);
        assert_eq!(written.files, 3, "identity, admin token, instance.json");
        drop(store);

        let target = tmp.path().join("restored");
        let restored = restore(&file, &target).unwrap();
        assert_eq!(restored.header, written.header);
        let again = DataDir::open(&target, None).unwrap();
        assert_eq!(again.instance.uuid, data.instance.uuid);
        assert_eq!(
            again.secrets.identity.public().to_bytes(),
            data.secrets.identity.public().to_bytes()
        );
        let store = Store::open(&again.db_path()).unwrap();
        for i in [0u32, 1234, 2999] {
            assert_eq!(store.counter(&format!("c{i}")).unwrap(), 1);
        }
        let mark = store.restored_from().unwrap().unwrap();
        assert_eq!(mark.backup, written.header.id);
    }

    #[test]
    fn a_damaged_or_cut_backup_is_refused_and_leaves_the_folder_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let (data, store) = node_folder(&tmp.path().join("node"));
        store.next_counter("u").unwrap();
        let file = tmp.path().join("b");
        write_file(data.root(), &data.instance, &store, &file).unwrap();
        let good = fs::read(&file).unwrap();

        let mut flipped = good.clone();
        let at = flipped.len() - 60;
        flipped[at] ^= 1;
        let cut = &good[..good.len() - 10];
        for (bad, why) in [(flipped, "checksum"), (cut.to_vec(), "cut short")] {
            fs::write(&file, &bad).unwrap();
            let target = tmp.path().join("t");
            let err = restore(&file, &target).unwrap_err().to_string();
            assert!(err.contains(why) || err.contains("not a usable"), "{err}");
            assert!(is_missing_or_empty(&target).unwrap(), "{why}: nothing left");
        }
    }

    #[test]
    fn a_restore_never_writes_into_a_folder_that_holds_something() {
        let tmp = tempfile::tempdir().unwrap();
        let (data, store) = node_folder(&tmp.path().join("node"));
        let file = tmp.path().join("b");
        write_file(data.root(), &data.instance, &store, &file).unwrap();
        let err = restore(&file, data.root()).unwrap_err();
        assert!(matches!(err, BackupError::NotEmpty(_)), "{err}");
    }
}
