//! `ochat config show` and `ochat config show-directory`: the settings `ochat run` (or
//! `ochat directory run`) would start with given the same flags, variables and file, and
//! where each value came from. Secrets are printed as `<redacted>`.
//!
//! The text output is itself a valid settings file (values as TOML, the source as a comment),
//! so it can be the start of an `ochat.toml`. `--json` gives the same as one JSON object. The
//! settings were merged by [`crate::settings`]; this module only checks them the way the start
//! would and prints them.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::settings::{Effective, SECRETS, Setting, Source};

/// The `ochat config` subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ConfigCommand {
    /// Print the effective settings of `ochat run` with these flags, the environment and the
    /// settings file, and where each value came from (flag, env, file, default).
    Show(ConfigShowArgs),
    /// The same for `ochat directory run`.
    ShowDirectory(ConfigShowDirectoryArgs),
}

/// `ochat config show`.
#[derive(Debug, Clone, Args)]
pub struct ConfigShowArgs {
    /// Print JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
    /// Every flag of `ochat run`.
    #[command(flatten)]
    pub run: crate::args::RunArgs,
}

/// `ochat config show-directory`.
#[derive(Debug, Clone, Args)]
pub struct ConfigShowDirectoryArgs {
    /// Print JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
    /// Every flag of `ochat directory run`.
    #[command(flatten)]
    pub run: crate::directory::DirectoryRunArgs,
}

/// Checks the settings as the start would, then prints them.
pub fn show(command: &ConfigCommand, effective: Option<&Effective>) -> anyhow::Result<()> {
    let json = match command {
        ConfigCommand::Show(args) => {
            crate::run::node_config(&args.run)?;
            args.json
        }
        ConfigCommand::ShowDirectory(args) => {
            crate::directory::check(&args.run)?;
            args.json
        }
    };
    let Some(effective) = effective else {
        anyhow::bail!("the settings were not read");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&as_json(effective))?);
    } else {
        print!("{}", as_toml(effective));
    }
    Ok(())
}

fn shown(setting: &Setting) -> Vec<String> {
    if SECRETS.contains(&setting.key.as_str()) && !setting.values.is_empty() {
        vec!["<redacted>".to_string()]
    } else {
        setting.values.clone()
    }
}

/// The settings as one JSON object.
pub fn as_json(effective: &Effective) -> Value {
    let settings: Vec<Value> = effective
        .settings
        .iter()
        .map(|s| {
            let values = shown(s);
            let value = if s.list {
                json!(values)
            } else if s.switch {
                json!(values.first().is_some_and(|v| v == "true"))
            } else {
                values.first().map_or(Value::Null, |v| json!(v))
            };
            json!({
                "key": s.key,
                "value": value,
                "source": s.source.name(),
                "flag": s.flag,
                "env": s.env,
            })
        })
        .collect();
    json!({
        "command": effective.command,
        "file": effective.file.as_ref().map(|f| f.display().to_string()),
        "settings": settings,
    })
}

/// The settings as a TOML file with the sources as comments.
pub fn as_toml(effective: &Effective) -> String {
    let mut out = format!("# Settings of `ochat {}`", effective.command);
    match &effective.file {
        Some(file) => out.push_str(&format!(" (file: {})\n", file.display())),
        None => out.push_str(" (no settings file)\n"),
    }
    for s in &effective.settings {
        let values = shown(s);
        let origin = match s.source {
            Source::Flag => format!("flag {}", s.flag.as_deref().unwrap_or("")),
            Source::Env => format!("env {}", s.env.as_deref().unwrap_or("")),
            Source::File => "file".to_string(),
            Source::Default => "default".to_string(),
        };
        let value = if s.list {
            let items: Vec<String> = values.iter().map(|v| quoted(v)).collect();
            format!("[{}]", items.join(", "))
        } else if s.switch {
            values.first().map_or("false".into(), |v| v.clone())
        } else if let Some(v) = values.first() {
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
                v.clone()
            } else {
                quoted(v)
            }
        } else {
            out.push_str(&format!("# {} is not set  # {origin}\n", s.key));
            continue;
        };
        out.push_str(&format!("{} = {value}  # {origin}\n", s.key));
    }
    out
}

/// A TOML basic string (JSON's string escapes are valid TOML ones).
fn quoted(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"))
}
