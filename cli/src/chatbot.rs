//! `ochat chatbot …`: manage a running node's chatbot scripts and try them out.
//!
//! - `list`, `show ID` — scripts and the checker's warnings;
//! - `create --file F`, `update ID --file F` — save a script from a JSON file (warnings are
//!   printed; the script is saved anyway), `delete ID`;
//! - `test ID --input … [--input …] [--operator-available]` — the "Test" button: the
//!   conversation the inputs would have, nothing stored.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::args::DataDirArg;
use crate::client::Api;

/// The `ochat chatbot` subcommands.
#[derive(Debug, Subcommand)]
pub enum ChatbotCommand {
    /// List the scripts.
    List(ChatbotOut),
    /// Show one script with the checker's warnings.
    Show(ChatbotId),
    /// Create a script from a JSON file (see docs/livechat.md for the format).
    Create(ChatbotFile),
    /// Replace a script with the content of a JSON file.
    Update(ChatbotUpdate),
    /// Delete a script (refused while a channel rule uses it).
    Delete(ChatbotId),
    /// Run a script against visitor inputs and print the conversation (nothing is stored).
    Test(ChatbotTest),
}

/// Output options every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct ChatbotOut {
    /// The node's data folder.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A script id.
#[derive(Debug, Clone, Args)]
pub struct ChatbotId {
    /// Output options.
    #[command(flatten)]
    pub out: ChatbotOut,
    /// The script's id.
    pub id: String,
}

/// A script file.
#[derive(Debug, Clone, Args)]
pub struct ChatbotFile {
    /// Output options.
    #[command(flatten)]
    pub out: ChatbotOut,
    /// The script as JSON: {"name", "operator_name", "avatar", "steps": [...]}.
    #[arg(long)]
    pub file: PathBuf,
}

/// `ochat chatbot update`.
#[derive(Debug, Clone, Args)]
pub struct ChatbotUpdate {
    /// Output options.
    #[command(flatten)]
    pub out: ChatbotOut,
    /// The script's id.
    pub id: String,
    /// The new script as JSON.
    #[arg(long)]
    pub file: PathBuf,
}

/// `ochat chatbot test`.
#[derive(Debug, Clone, Args)]
pub struct ChatbotTest {
    /// Output options.
    #[command(flatten)]
    pub out: ChatbotOut,
    /// The script's id.
    pub id: String,
    /// What the visitor types, in order (repeat; an answer's text or id for a question).
    #[arg(long = "input", short = 'i')]
    pub inputs: Vec<String>,
    /// Let forwards find an operator (by default nobody is available).
    #[arg(long)]
    pub operator_available: bool,
}

const BASE: &str = "/api/v1/livechat/chatbots";

/// Runs one `ochat chatbot` subcommand.
pub async fn run(command: ChatbotCommand) -> anyhow::Result<()> {
    match command {
        ChatbotCommand::List(out) => {
            let list = api(&out)?.call(Method::GET, BASE, None).await?;
            if out.json {
                return print_json(&list);
            }
            for s in list.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<30} {} steps, {} warnings",
                    text(&s["id"]),
                    text(&s["name"]),
                    s["steps"].as_array().map_or(0, Vec::len),
                    s["warnings"].as_array().map_or(0, Vec::len)
                );
            }
            Ok(())
        }
        ChatbotCommand::Show(a) => {
            let s = api(&a.out)?
                .call(Method::GET, &format!("{BASE}/{}", a.id), None)
                .await?;
            print_script(a.out.json, &s)
        }
        ChatbotCommand::Create(a) => {
            let body = read_script(&a.file)?;
            let s = api(&a.out)?.call(Method::POST, BASE, Some(body)).await?;
            print_script(a.out.json, &s)
        }
        ChatbotCommand::Update(a) => {
            let body = read_script(&a.file)?;
            let s = api(&a.out)?
                .call(Method::PUT, &format!("{BASE}/{}", a.id), Some(body))
                .await?;
            print_script(a.out.json, &s)
        }
        ChatbotCommand::Delete(a) => {
            api(&a.out)?
                .call(Method::DELETE, &format!("{BASE}/{}", a.id), None)
                .await?;
            println!("Deleted chatbot {}", a.id);
            Ok(())
        }
        ChatbotCommand::Test(a) => {
            let body = json!({"inputs": a.inputs, "operator_available": a.operator_available});
            let r = api(&a.out)?
                .call(Method::POST, &format!("{BASE}/{}/test", a.id), Some(body))
                .await?;
            if a.out.json {
                return print_json(&r);
            }
            print_transcript(&r);
            Ok(())
        }
    }
}

fn api(out: &ChatbotOut) -> anyhow::Result<Api> {
    Api::from_data_dir(&out.data.data_dir)
}

fn read_script(path: &PathBuf) -> anyhow::Result<Value> {
    let raw =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&raw).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn print_script(json_out: bool, s: &Value) -> anyhow::Result<()> {
    if json_out {
        return print_json(s);
    }
    println!("Chatbot {}  {}", text(&s["id"]), text(&s["name"]));
    println!("  shown as:  {}", text(&s["operator_name"]));
    for (i, step) in s["steps"].as_array().into_iter().flatten().enumerate() {
        println!(
            "  {:>3}. {:<22} {}",
            i + 1,
            text(&step["type"]),
            text(&step["message"])
        );
        for a in step["answers"].as_array().into_iter().flatten() {
            println!("         [{}] {}", text(&a["id"]), text(&a["text"]));
        }
    }
    let warnings = s["warnings"].as_array().cloned().unwrap_or_default();
    if warnings.is_empty() {
        println!("  checker:   no dead ends, every step can run");
    }
    for w in warnings {
        println!("  warning:   {}: {}", text(&w["kind"]), text(&w["message"]));
    }
    Ok(())
}

fn print_transcript(r: &Value) {
    for line in r["transcript"].as_array().into_iter().flatten() {
        let who = match line["author"].as_str() {
            Some("visitor") => "Visitor",
            Some("bot") => "Bot",
            _ => "System",
        };
        println!("{who}: {}", text(&line["text"]));
        let answers: Vec<String> = line["answers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| text(&a["text"]))
            .collect();
        if !answers.is_empty() {
            println!("     [{}]", answers.join(" | "));
        }
    }
    for rec in r["records"].as_array().into_iter().flatten() {
        println!(
            "(would create a {}: {})",
            text(&rec["kind"]),
            text(&rec["title"])
        );
    }
    match (r["ended"].as_str(), r["waiting_for"].as_str()) {
        (Some(end), _) => println!("(script ended: {end})"),
        (None, Some(w)) => println!("(waiting for the visitor: {w})"),
        _ => {}
    }
}
