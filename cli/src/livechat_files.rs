//! `ochat livechat files CHANNEL [--on | --off] [--max-mib N] [--type T]…`: a channel's
//! settings for files in conversations (see `docs/livechat-files.md`). Without a flag it
//! prints them; with flags it changes only what is given (`--type` replaces the list). The
//! node checks the limit and the types and says why it refuses. Called by [`crate::livechat`].

use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::livechat::{CHANNELS, CHANNELS_PATH, Ctx, find, print_json, text};

const MIB: u64 = 1024 * 1024;

/// `ochat livechat files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// The channel (id, first characters of its id, or name).
    pub channel: String,
    /// Visitors and operators may send files in this channel.
    #[arg(long, conflicts_with = "off")]
    pub on: bool,
    /// No files in this channel (the default).
    #[arg(long)]
    pub off: bool,
    /// The largest file, in MiB (1 to 100).
    #[arg(long, value_name = "N")]
    pub max_mib: Option<u64>,
    /// An allowed type, a MIME type or an extension (`image/png`, `.pdf`); repeat it; replaces
    /// the list.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
}

/// Runs `ochat livechat files`.
pub async fn files(ctx: &Ctx, a: &FilesArgs) -> anyhow::Result<()> {
    let channel = find(ctx, &CHANNELS, &a.channel).await?;
    let path = format!("{CHANNELS_PATH}/{}/files", text(&channel["id"]));
    let mut change = Map::new();
    if a.on || a.off {
        change.insert("enabled".into(), json!(a.on));
    }
    if let Some(mib) = a.max_mib {
        change.insert("max_bytes".into(), json!(mib.saturating_mul(MIB)));
    }
    if !a.types.is_empty() {
        change.insert("allowed_types".into(), json!(a.types));
    }
    let settings = if change.is_empty() {
        ctx.api.call(Method::GET, &path, None).await?
    } else {
        ctx.api
            .call(Method::PUT, &path, Some(Value::Object(change)))
            .await?
    };
    if ctx.json {
        return print_json(&settings);
    }
    let name = text(&channel["name"]);
    if settings["enabled"].as_bool() == Some(true) {
        let max = settings["max_bytes"].as_u64().unwrap_or(0);
        let types: Vec<String> = settings["allowed_types"]
            .as_array()
            .map(|t| t.iter().map(text).collect())
            .unwrap_or_default();
        println!(
            "Files are on in {name}: up to {} MiB, of these types: {}.",
            max as f64 / MIB as f64,
            types.join(", ")
        );
    } else {
        println!("Files are off in {name}.");
    }
    Ok(())
}
