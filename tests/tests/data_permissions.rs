//! The data folders are their owner's alone: a node's or a directory's folder is 0700 and every
//! file in it 0600, also when an older version left it 0755 with 0644 files, so no other local
//! user can read transcripts, keys or tokens.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // tests may unwrap

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ochat_node::directory::{DirectoryConfig, DirectoryServer};
use ochat_tests::node::{TestNode, test_config};

/// Every path under `root` (itself included), without following links.
fn every_path(root: &Path) -> Vec<PathBuf> {
    let mut paths = vec![root.to_path_buf()];
    let mut i = 0;
    while i < paths.len() {
        let path = paths[i].clone();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                paths.push(entry.unwrap().path());
            }
        }
        i += 1;
    }
    paths
}

/// Opens `root` up the way an older version left it: folders 0755, files 0644.
fn open_up(root: &Path) {
    for path in every_path(root) {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// The paths under `root` that anyone but the owner may use, with their modes.
fn shared_paths(root: &Path) -> Vec<String> {
    every_path(root)
        .into_iter()
        .filter_map(|p| {
            let mode = fs::symlink_metadata(&p).unwrap().permissions().mode();
            (mode & 0o077 != 0).then(|| format!("{} {:o}", p.display(), mode & 0o777))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_folder_left_open_by_an_older_version_is_closed_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let mut node = TestNode::start(test_config(&dir, "Shop", None))
        .await
        .unwrap();
    node.stop().await.unwrap();
    open_up(&dir);
    fs::write(dir.join("db").join("left-over.log"), b"transcript").unwrap();
    fs::set_permissions(
        dir.join("db").join("left-over.log"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert!(!shared_paths(&dir).is_empty());

    let mut node = TestNode::start(test_config(&dir, "Shop", None))
        .await
        .unwrap();
    // Its own files, old and new, are private while it runs and after it stops.
    assert_eq!(shared_paths(&dir), Vec::<String>::new());
    node.stop().await.unwrap();
    assert_eq!(shared_paths(&dir), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_folder_left_open_is_closed_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("directory");
    let listen = "127.0.0.1:0".parse().unwrap();
    let first = DirectoryServer::start_with(DirectoryConfig::new(&dir, listen))
        .await
        .unwrap();
    first.shutdown().await.unwrap();
    open_up(&dir);
    assert!(!shared_paths(&dir).is_empty());

    let second = DirectoryServer::start_with(DirectoryConfig::new(&dir, listen))
        .await
        .unwrap();
    assert_eq!(shared_paths(&dir), Vec::<String>::new());
    second.shutdown().await.unwrap();
}
