//! A small filesystem made by a test (a size-limited tmpfs, root only, as in CI) and a filler
//! file that takes its free space, to see what a node does when its disk fills up. The mount
//! is undone when the guard is dropped, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A mounted tmpfs of a fixed size; unmounted on drop.
#[derive(Debug)]
pub struct SmallDisk {
    /// Where it is mounted.
    pub path: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB on a fresh folder.
    pub fn mount(mib: u64) -> Result<Self> {
        let parent = tempfile::tempdir()?;
        let path = parent.path().join("disk");
        std::fs::create_dir(&path)?;
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .context("cannot run mount (the small-disk tests need root, as in CI)")?;
        if !status.success() {
            bail!("mounting a {mib} MiB tmpfs failed (the small-disk tests need root)");
        }
        Ok(SmallDisk {
            path,
            _parent: parent,
        })
    }

    /// Free bytes on it now.
    pub fn free(&self) -> Result<u64> {
        free_bytes(&self.path)
    }

    /// Writes a filler file that leaves about `leave` bytes free.
    pub fn fill_leaving(&self, leave: u64) -> Result<PathBuf> {
        let filler = self.path.join("filler");
        let take = self.free()?.saturating_sub(leave);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&filler)?;
        // Written, not sparse: tmpfs counts written pages only.
        let chunk = vec![0xa5u8; 1 << 20];
        let mut left = take;
        let mut out = std::io::BufWriter::new(file);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            std::io::Write::write_all(&mut out, &chunk[..n])?;
            left -= n as u64;
        }
        std::io::Write::flush(&mut out)?;
        Ok(filler)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Free bytes on the filesystem of `path` (`stat -f`).
pub fn free_bytes(path: &Path) -> Result<u64> {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(path)
        .output()
        .context("running stat -f")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(blocks)), Some(Ok(size))) => Ok(blocks * size),
        _ => bail!("cannot read stat -f's answer: {text:?}"),
    }
}
