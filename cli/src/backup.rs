//! `ochat backup` (through the running node's API) and `ochat restore` (offline, into an
//! empty folder). What a backup holds and why it must be kept secret: `ochat_node::backup`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ochat_node::backup;

use crate::args::DataDirArg;
use crate::client::Api;

/// `ochat backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The data folder of the running node to back up.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Where to write the backup (a new file, readable by you only). It holds the instance's
    /// secret keys: keep it as safe as the data folder.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `ochat restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The new data folder to restore into (missing or empty; never an existing node's).
    #[command(flatten)]
    pub data: DataDirArg,
    /// The backup file written by `ochat backup`.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

fn part_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    to.with_file_name(name)
}

fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    ochat_node::data_dir::open_private(path, false)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// `ochat backup --to FILE`: asks the node for a backup, writes it to FILE.part, checks it from
/// end to end, then renames it to FILE.
pub async fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    if args.to.exists() && !args.force {
        bail!(
            "{} already exists; choose another file or pass --force to replace it",
            args.to.display()
        );
    }
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let mut resp = api.post_stream("/api/v1/backup").await?;
    let total = resp.content_length();
    let part = part_path(&args.to);
    let mut file = create_private(&part)?;
    let mut written: u64 = 0;
    let mut shown = 0;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !args.json;
    let result: anyhow::Result<()> = async {
        while let Some(chunk) = resp
            .chunk()
            .await
            .context("the node stopped sending the backup")?
        {
            file.write_all(&chunk)
                .with_context(|| format!("cannot write {}", part.display()))?;
            written += chunk.len() as u64;
            if progress && written - shown >= 4 << 20 {
                shown = written;
                match total {
                    Some(t) if t > 0 => eprint!("\r{} of {} MiB", written >> 20, t >> 20),
                    _ => eprint!("\r{} MiB", written >> 20),
                }
            }
        }
        file.sync_all()
            .with_context(|| format!("cannot write {}", part.display()))?;
        Ok(())
    }
    .await;
    if progress && shown > 0 {
        eprintln!();
    }
    let checked =
        result.and_then(|()| backup::verify(&part).context("the backup received is not complete"));
    let (header, entries) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, &args.to)
        .with_context(|| format!("cannot rename {} to {}", part.display(), args.to.display()))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.to,
                "backup": header.id,
                "instance": header.instance,
                "name": header.name,
                "created_ms": header.created_ms,
                "entries": entries,
                "bytes": written,
            })
        );
    } else {
        println!(
            "Backed up {} ({}) to {}: {} database entries, {} bytes.\nKeep this file secret: it holds the instance's keys.",
            header.name,
            header.instance,
            args.to.display(),
            entries,
            written
        );
    }
    Ok(())
}

/// `ochat restore --from FILE --data-dir DIR`.
pub fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let dir = &args.data.data_dir;
    let summary = backup::restore(&args.from, dir)
        .with_context(|| format!("cannot restore {}", args.from.display()))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "data_dir": dir,
                "backup": summary.header.id,
                "instance": summary.header.instance,
                "name": summary.header.name,
                "created_ms": summary.header.created_ms,
                "entries": summary.entries,
                "files": summary.files,
            })
        );
    } else {
        println!(
            "Restored {} ({}) into {}: {} database entries, {} files.\n\
             Start it with `ochat run --data-dir {}`. Never run it while the node it was \
             taken from still runs: both would be the same instance. What that node received \
             after the backup was taken is not in it; partners send again what they still \
             hold for it.",
            summary.header.name,
            summary.header.instance,
            dir.display(),
            summary.entries,
            summary.files,
            dir.display()
        );
    }
    Ok(())
}
