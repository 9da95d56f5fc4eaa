//! The node's data folder: an exclusive lock, the identity key file, the admin token and the
//! small public facts (`instance.json`, `api.addr`) that the CLI reads without opening sled.
//!
//! Layout (the folder and everything in it is its owner's alone: folders 0700, files 0600;
//! [`make_private`] also closes folders an older version left open):
//! ```text
//! ochat-data/
//!   ochat.lock       held (flock) while a node runs; holds its pid
//!   identity.key     Ed25519 identity + X25519 pre-key secrets (hex, JSON), the pre-key's
//!                    creation time and the previous pre-key (see [`PREKEY_ROTATION_MS`])
//!   admin.token      the admin API token
//!   instance.json    {"uuid", "name"}: what `ochat uuid` shows
//!   api.addr         the running node's API address, for the CLI
//!   db/              sled
//! ```
//!
//! A new folder's Instance UUID is derived from its identity key (a self-certifying v8 UUID); a
//! folder created before that keeps its random v4 UUID. A v8 UUID that is not the key's own stops
//! the start: the UUID and the key belong together.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::random::random_bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

mod key_file;

pub use key_file::PREKEY_ROTATION_MS;
use key_file::{KeyFile, now_ms, read_keys, write_keys};

/// Problems with the data folder.
#[derive(Debug, Error)]
pub enum DataDirError {
    /// Another process holds the lock.
    #[error(
        "another ochat node is already running on the data folder {dir}{pid}; stop it first or pass another --data-dir"
    )]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// " (pid N)" when known.
        pid: String,
    },
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
    /// A file exists but its content is not what ochat wrote.
    #[error("{path} is damaged: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No node was ever started on this folder.
    #[error("{0} holds no ochat node yet: start one with `ochat run --data-dir {0}`")]
    NotInitialised(PathBuf),
    /// `instance.json` names a self-certifying UUID that another identity key derives to.
    #[error(
        "{path} names the Instance UUID {uuid}, which belongs to another identity key than the one in identity.key (a version-8 Instance UUID is derived from its key). Put back the identity.key that goes with this UUID, or start a new data folder: a new key means a new UUID"
    )]
    UuidNotOfThisKey {
        /// `instance.json`.
        path: PathBuf,
        /// The UUID it names.
        uuid: InstanceId,
    },
    /// Randomness failed.
    #[error("could not generate secrets: {0}")]
    Random(String),
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What `instance.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceInfo {
    /// The Instance UUID.
    pub uuid: InstanceId,
    /// The display name.
    pub name: String,
}

/// The secrets of an instance, loaded from `identity.key`.
pub struct Secrets {
    /// The Ed25519 identity key.
    pub identity: IdentityKey,
    /// The X25519 signed pre-key secret.
    pub prekey: Zeroizing<[u8; 32]>,
    /// The pre-key before the last rotation, kept for requests in flight.
    pub previous_prekey: Option<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("identity", &self.identity)
            .field("prekey", &"<redacted>")
            .finish()
    }
}

/// An opened, locked data folder.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: File,
    /// The instance's public facts.
    pub instance: InstanceInfo,
    /// The instance's secrets.
    pub secrets: Secrets,
    /// The admin token.
    pub admin_token: Zeroizing<String>,
    /// Whether this start created the identity.
    pub created: bool,
}

impl DataDir {
    /// Opens (creating on first start) the data folder and takes its lock.
    pub fn open(root: &Path, name: Option<&str>) -> Result<Self, DataDirError> {
        fs::create_dir_all(root).map_err(io("create the data folder", root))?;
        let lock = lock_folder(root, "ochat.lock")?;
        make_private(root)?;
        let key_path = root.join("identity.key");
        let created = !key_path.exists();
        let secrets = if created {
            let secrets = Secrets {
                identity: IdentityKey::generate()
                    .map_err(|e| DataDirError::Random(e.to_string()))?,
                prekey: Zeroizing::new(
                    random_bytes::<32>().map_err(|e| DataDirError::Random(e.to_string()))?,
                ),
                previous_prekey: None,
            };
            let file = KeyFile {
                identity: hex::encode(*secrets.identity.secret_bytes()),
                prekey: hex::encode(*secrets.prekey),
                prekey_created_ms: now_ms(),
                previous_prekey: None,
            };
            write_keys(&key_path, &file)?;
            secrets
        } else {
            read_keys(&key_path, now_ms())?
        };
        let info_path = root.join("instance.json");
        let instance = if info_path.exists() {
            let info = read_json::<InstanceInfo>(&info_path)?;
            if !info.uuid.admits(&secrets.identity.public()) {
                return Err(DataDirError::UuidNotOfThisKey {
                    path: info_path,
                    uuid: info.uuid,
                });
            }
            info
        } else {
            let info = InstanceInfo {
                uuid: InstanceId::derived_from(&secrets.identity.public()),
                name: name.unwrap_or("ochat instance").to_string(),
            };
            let text = serde_json::to_vec_pretty(&info).unwrap_or_default();
            write_atomic(&info_path, &text)?;
            info
        };
        let token_path = root.join("admin.token");
        let admin_token = if token_path.exists() {
            let text = fs::read_to_string(&token_path).map_err(io("read", &token_path))?;
            Zeroizing::new(text.trim().to_string())
        } else {
            let token = Zeroizing::new(new_token()?);
            write_atomic(&token_path, token.as_bytes())?;
            token
        };
        Ok(DataDir {
            root: root.to_path_buf(),
            _lock: lock,
            instance,
            secrets,
            admin_token,
            created,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where sled lives.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Records the API address of the running node for the CLI.
    pub fn write_api_addr(&self, addr: &str) -> Result<(), DataDirError> {
        write_atomic(&self.root.join("api.addr"), addr.as_bytes())
    }

    /// Removes `api.addr` at shutdown.
    pub fn clear_api_addr(&self) {
        let _ = fs::remove_file(self.root.join("api.addr"));
    }
}

/// Reads the public instance facts without taking the lock (for `ochat uuid`).
pub fn read_instance(root: &Path) -> Result<InstanceInfo, DataDirError> {
    let path = root.join("instance.json");
    if !path.exists() {
        return Err(DataDirError::NotInitialised(root.to_path_buf()));
    }
    read_json(&path)
}

/// Reads what the CLI needs to reach a running node: its API address and the admin token.
pub fn read_client_access(root: &Path) -> Result<(String, Zeroizing<String>), DataDirError> {
    let token_path = root.join("admin.token");
    if !token_path.exists() {
        return Err(DataDirError::NotInitialised(root.to_path_buf()));
    }
    let token = Zeroizing::new(
        fs::read_to_string(&token_path)
            .map_err(io("read", &token_path))?
            .trim()
            .to_string(),
    );
    let addr_path = root.join("api.addr");
    let addr = fs::read_to_string(&addr_path).map_err(io(
        "read the API address of the running node (is `ochat run` running?) from",
        &addr_path,
    ))?;
    Ok((addr.trim().to_string(), token))
}

/// A fresh random API token (256 bits, hex).
pub fn new_token() -> Result<String, DataDirError> {
    let bytes =
        Zeroizing::new(random_bytes::<32>().map_err(|e| DataDirError::Random(e.to_string()))?);
    Ok(hex::encode(*bytes))
}

/// Takes the exclusive lock `root/file_name` (held while the returned file is open) and
/// writes our pid into it; used for node and directory folders alike.
pub(crate) fn lock_folder(root: &Path, file_name: &str) -> Result<File, DataDirError> {
    let path = root.join(file_name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("open the lock file", &path))?;
    if file.try_lock_exclusive().is_err() {
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        let pid = pid.trim();
        return Err(DataDirError::Locked {
            dir: root.to_path_buf(),
            pid: if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            },
        });
    }
    file.set_len(0).map_err(io("write the lock file", &path))?;
    file.rewind().map_err(io("write the lock file", &path))?;
    write!(file, "{}", std::process::id()).map_err(io("write the lock file", &path))?;
    Ok(file)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataDirError> {
    let bytes = fs::read(path).map_err(io("read", path))?;
    serde_json::from_slice(&bytes).map_err(|e| DataDirError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Takes group and other permissions off `root` and everything under it (folders end 0700,
/// files at most 0600), without following symbolic links. Node and directory folders alike
/// call it at start, so a folder an older version created 0755 with 0644 files is closed.
pub(crate) fn make_private(root: &Path) -> Result<(), DataDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(root).map_err(io("inspect", root))?;
        let mode = meta.permissions().mode();
        let private = if meta.is_dir() {
            (mode & !0o077) | 0o700
        } else {
            mode & !0o077
        };
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        if private & 0o7777 != mode & 0o7777 {
            fs::set_permissions(root, fs::Permissions::from_mode(private & 0o7777))
                .map_err(io("make private", root))?;
        }
        if meta.is_dir() {
            for entry in fs::read_dir(root).map_err(io("list", root))? {
                let entry = entry.map_err(io("list", root))?;
                make_private(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Opens `path` for writing as a file its owner alone may read (0600): a new file when `new`
/// (an existing one is an error), else created or emptied. Every secret the node or the CLI
/// writes (keys, tokens, backups) goes through here.
///
/// # Errors
///
/// The I/O error.
pub fn open_private(path: &Path, new: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes a file (0600) via a temporary file, fsync and rename, so a crash leaves the old or
/// the new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut file = open_private(&tmp, false).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    if let Some(parent) = path.parent()
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_open_creates_identity_and_later_opens_keep_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path(), Some("Acme")).unwrap();
        assert!(first.created);
        let uuid = first.instance.uuid;
        let public = first.secrets.identity.public();
        drop(first);
        let second = DataDir::open(dir.path(), None).unwrap();
        assert!(!second.created);
        assert_eq!(second.instance.uuid, uuid);
        assert_eq!(second.instance.name, "Acme");
        assert_eq!(second.secrets.identity.public(), public);
    }

    #[test]
    fn a_new_folder_gets_the_uuid_derived_from_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let open = DataDir::open(dir.path(), None).unwrap();
        assert!(open.instance.uuid.is_derived());
        assert_eq!(
            open.instance.uuid,
            InstanceId::derived_from(&open.secrets.identity.public())
        );
        assert_eq!(read_instance(dir.path()).unwrap().uuid, open.instance.uuid);
    }

    #[test]
    fn a_folder_with_a_random_v4_uuid_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDir::open(dir.path(), Some("Acme")).unwrap());
        let legacy = InstanceId::generate();
        fs::write(
            dir.path().join("instance.json"),
            format!("{{\"uuid\":\"{legacy}\",\"name\":\"Acme\"}}"),
        )
        .unwrap();
        let open = DataDir::open(dir.path(), None).unwrap();
        assert_eq!(open.instance.uuid, legacy);
        drop(open);
        assert_eq!(
            DataDir::open(dir.path(), None).unwrap().instance.uuid,
            legacy
        );
    }

    #[test]
    fn a_derived_uuid_of_another_key_stops_the_start_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDir::open(dir.path(), Some("Acme")).unwrap());
        let someone_else = IdentityKey::generate().unwrap();
        let theirs = InstanceId::derived_from(&someone_else.public());
        let text = format!("{{\"uuid\":\"{theirs}\",\"name\":\"Acme\"}}");
        fs::write(dir.path().join("instance.json"), &text).unwrap();
        let err = DataDir::open(dir.path(), None).unwrap_err();
        assert!(
            matches!(err, DataDirError::UuidNotOfThisKey { uuid, .. } if uuid == theirs),
            "{err}"
        );
        let shown = err.to_string();
        assert!(shown.contains(&theirs.to_string()), "{shown}");
        assert!(shown.contains("a new key means a new UUID"), "{shown}");
        assert_eq!(
            fs::read_to_string(dir.path().join("instance.json")).unwrap(),
            text
        );
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let _open = DataDir::open(dir.path(), None).unwrap();
        for f in ["identity.key", "admin.token"] {
            let mode = fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    #[test]
    fn a_second_open_of_a_locked_folder_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = DataDir::open(dir.path(), None).unwrap();
        let err = DataDir::open(dir.path(), None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("already running"), "{text}");
        assert!(text.contains(&std::process::id().to_string()), "{text}");
    }

    #[test]
    fn a_damaged_key_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDir::open(dir.path(), None).unwrap());
        fs::write(
            dir.path().join("identity.key"),
            b"{\"identity\":\"zz\",\"prekey\":\"00\"}",
        )
        .unwrap();
        let err = DataDir::open(dir.path(), None).unwrap_err();
        assert!(matches!(err, DataDirError::Corrupt { .. }), "{err}");
    }
}
