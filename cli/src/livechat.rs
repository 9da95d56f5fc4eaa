//! `ochat livechat …`: set up a running node's live chat from the command line, with the
//! admin token from its data folder, instead of `curl` calls to the API.
//!
//! - `channel` — [`crate::livechat_channels`]; `rule` — [`crate::livechat_rules`];
//! - `operator` — [`crate::livechat_operators`];
//! - `canned`, `group` — [`crate::livechat_canned`];
//! - `snippet CHANNEL` — here: the embed snippet and the direct chat link;
//! - `identity-secret CHANNEL` — [`crate::livechat_identity`];
//! - `files CHANNEL` — [`crate::livechat_files`].
//!
//! Every command takes `--json` (the API's answer as it is). Objects are named by id, by the
//! first characters of their id, or by name (a channel's or group's name, an operator's login
//! or name, a canned response's shortcut); a name that matches nothing or several objects is
//! an error that says so, and the command exits with status 1.

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;

use crate::args::DataDirArg;
use crate::client::Api;
use crate::livechat_canned::{CannedCommand, GroupCommand};
use crate::livechat_channels::ChannelCommand;
use crate::livechat_operators::OperatorCommand;
use crate::livechat_rules::RuleCommand;

/// `ochat livechat`.
#[derive(Debug, Args)]
pub struct LivechatArgs {
    /// The data folder of the local node (the CLI reads its API address and admin token).
    #[command(flatten)]
    pub data: DataDirArg,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to manage.
    #[command(subcommand)]
    pub command: LivechatCommand,
}

/// The `ochat livechat` subcommands.
#[derive(Debug, Subcommand)]
pub enum LivechatCommand {
    /// Live chat channels: texts, colours, operators, session cap.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// A channel's rules: which pages show the button, what it does, which chatbot answers.
    #[command(subcommand)]
    Rule(RuleCommand),
    /// Operators (users with a login): create, profile, password, tokens, administrator.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Canned responses (`:shortcut` in an operator's message).
    #[command(subcommand)]
    Canned(CannedCommand),
    /// Groups of users (canned responses are shared with groups).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Print the HTML snippet that puts a channel's chat button on a website, and the
    /// direct chat link.
    Snippet(SnippetArgs),
    /// A channel's visitor identity secret: print it, make a new one (--rotate), or remove it.
    IdentitySecret(crate::livechat_identity::IdentitySecretArgs),
    /// A channel's files in conversations: print the settings, or turn them on or off, set
    /// the size limit and the allowed types.
    Files(crate::livechat_files::FilesArgs),
}

/// `ochat livechat snippet`.
#[derive(Debug, Args)]
pub struct SnippetArgs {
    /// The channel (id, first characters of its id, or name).
    pub channel: String,
    /// The address visitors reach the node at, e.g. https://chat.example.com when a reverse
    /// proxy fronts it (default: the API address the CLI talks to).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

/// What every subcommand gets: the API client and the output choice.
pub struct Ctx {
    /// The node's API.
    pub api: Api,
    /// Print JSON.
    pub json: bool,
}

/// Runs one `ochat livechat` subcommand.
pub async fn run(args: LivechatArgs) -> anyhow::Result<()> {
    let ctx = Ctx {
        api: Api::from_data_dir(&args.data.data_dir)?,
        json: args.json,
    };
    match args.command {
        LivechatCommand::Channel(c) => crate::livechat_channels::channel(&ctx, c).await,
        LivechatCommand::Rule(c) => crate::livechat_rules::rule(&ctx, c).await,
        LivechatCommand::Operator(c) => crate::livechat_operators::run(&ctx, c).await,
        LivechatCommand::Canned(c) => crate::livechat_canned::canned(&ctx, c).await,
        LivechatCommand::Group(c) => crate::livechat_canned::group(&ctx, c).await,
        LivechatCommand::Snippet(a) => snippet(&ctx, &a).await,
        LivechatCommand::IdentitySecret(a) => {
            crate::livechat_identity::identity_secret(&ctx, &a).await
        }
        LivechatCommand::Files(a) => crate::livechat_files::files(&ctx, &a).await,
    }
}

async fn snippet(ctx: &Ctx, a: &SnippetArgs) -> anyhow::Result<()> {
    let channel = find(ctx, &CHANNELS, &a.channel).await?;
    let id = text(&channel["id"]);
    let mut w = ctx
        .api
        .call(Method::GET, &format!("{CHANNELS_PATH}/{id}/widget"), None)
        .await?;
    if let Some(public) = &a.public_url {
        let public = public.trim_end_matches('/');
        if !(public.starts_with("http://") || public.starts_with("https://")) {
            bail!("--public-url must start with http:// or https:// (got {public:?})");
        }
        for key in ["snippet", "link", "loader"] {
            if let Some(s) = w[key].as_str() {
                w[key] = Value::String(s.replace(ctx.api.base(), public));
            }
        }
    }
    if ctx.json {
        return print_json(&w);
    }
    println!("Paste before </body> on every page of the site:");
    println!();
    println!("  {}", text(&w["snippet"]));
    println!();
    println!("Direct chat link: {}", text(&w["link"]));
    Ok(())
}

/// The API path of live chat channels.
pub const CHANNELS_PATH: &str = "/api/v1/livechat/channels";

/// A kind of object the commands name: where its list is, what it is called, which of its
/// fields name it, and the command that lists them.
pub struct Kind {
    /// The list's API path.
    pub path: &'static str,
    /// What one is called in messages.
    pub what: &'static str,
    /// Fields that name one (besides its id).
    pub names: &'static [&'static str],
    /// The `ochat livechat` subcommand that lists them.
    pub command: &'static str,
}

/// Live chat channels.
pub const CHANNELS: Kind = Kind {
    path: CHANNELS_PATH,
    what: "live chat channel",
    names: &["name"],
    command: "channel",
};
/// Users (operators).
pub const OPERATORS: Kind = Kind {
    path: "/api/v1/users",
    what: "operator",
    names: &["login", "name"],
    command: "operator",
};
/// Groups.
pub const GROUPS: Kind = Kind {
    path: "/api/v1/livechat/groups",
    what: "group",
    names: &["name"],
    command: "group",
};
/// Canned responses.
pub const CANNED: Kind = Kind {
    path: "/api/v1/livechat/canned",
    what: "canned response",
    names: &["shortcut"],
    command: "canned",
};
/// Chatbot scripts.
pub const CHATBOTS: Kind = Kind {
    path: "/api/v1/livechat/chatbots",
    what: "chatbot",
    names: &["name"],
    command: "chatbot",
};

/// The one object of `kind` that `given` names (from its list).
pub async fn find(ctx: &Ctx, kind: &Kind, given: &str) -> anyhow::Result<Value> {
    let list = ctx.api.call(Method::GET, kind.path, None).await?;
    pick(
        kind,
        list.as_array().map(Vec::as_slice).unwrap_or(&[]),
        given,
    )
}

/// Picks from `items` the object `given` names: its whole id, else a name field equal to
/// it (exactly, else ignoring case), else a unique id prefix (two characters at least).
pub fn pick(kind: &Kind, items: &[Value], given: &str) -> anyhow::Result<Value> {
    let given = given.trim();
    let listed = if kind.command == "chatbot" {
        "`ochat chatbot list`".to_string()
    } else {
        format!("`ochat livechat {} list`", kind.command)
    };
    if given.is_empty() {
        bail!("name a {} (see {listed})", kind.what);
    }
    if let Some(v) = items.iter().find(|v| v["id"].as_str() == Some(given)) {
        return Ok(v.clone());
    }
    let named = |same: &dyn Fn(&str) -> bool| -> Vec<&Value> {
        items
            .iter()
            .filter(|v| kind.names.iter().any(|n| v[*n].as_str().is_some_and(same)))
            .collect()
    };
    let mut by_name = named(&|name| name == given);
    if by_name.is_empty() {
        by_name = named(&|name| name.to_lowercase() == given.to_lowercase());
    }
    let found: Vec<&Value> = if by_name.is_empty() && given.len() >= 2 {
        let lower = given.to_ascii_lowercase();
        items
            .iter()
            .filter(|v| v["id"].as_str().is_some_and(|id| id.starts_with(&lower)))
            .collect()
    } else {
        by_name
    };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no {} matches {given:?} (see {listed})", kind.what),
        many => {
            let ids: Vec<String> = many.iter().map(|v| text(&v["id"])).collect();
            bail!(
                "{given:?} matches {} {}s ({}): give the whole id",
                many.len(),
                kind.what,
                ids.join(", ")
            )
        }
    }
}

/// The ids of the objects `given` names, each looked up in one fetch of the list.
pub async fn ids(ctx: &Ctx, kind: &Kind, given: &[String]) -> anyhow::Result<Vec<Value>> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let list = ctx.api.call(Method::GET, kind.path, None).await?;
    let items = list.as_array().map(Vec::as_slice).unwrap_or(&[]);
    given
        .iter()
        .map(|g| pick(kind, items, g).map(|v| v["id"].clone()))
        .collect()
}

/// A value for people: strings bare, null as `-`, the rest as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Prints JSON, pretty.
pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The first `n` characters of a text on one line.
pub fn short(s: &str, n: usize) -> String {
    let line: String = s.replace('\n', " ");
    if line.chars().count() <= n {
        return line;
    }
    let mut cut: String = line.chars().take(n.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_whole_ids_names_and_unique_prefixes() {
        let items = vec![
            json!({"id": "0190aaaa-0000", "name": "Support"}),
            json!({"id": "0190bbbb-0000", "name": "Sales"}),
        ];
        assert_eq!(
            pick(&CHANNELS, &items, "Sales").unwrap()["id"],
            "0190bbbb-0000"
        );
        assert_eq!(pick(&CHANNELS, &items, "0190a").unwrap()["name"], "Support");
        assert_eq!(pick(&CHANNELS, &items, "sales").unwrap()["name"], "Sales");
        let none = pick(&CHANNELS, &items, "Nope").unwrap_err().to_string();
        assert!(
            none.contains("no live chat channel matches \"Nope\""),
            "{none}"
        );
        let many = pick(&CHANNELS, &items, "0190").unwrap_err().to_string();
        assert!(many.contains("matches 2 live chat channels"), "{many}");
    }
}
