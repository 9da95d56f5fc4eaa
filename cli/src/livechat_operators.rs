//! `ochat livechat operator …`: operators (users with a login): create with a password
//! asked on the terminal (never on the command line) or read from standard input, the
//! live chat profile (chat name, languages, expertise, country), a password reset (which
//! revokes the operator's tokens), revoking tokens, the administrator flag, and deleting a
//! user. Called by
//! [`crate::livechat`].

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, bail};
use clap::{ArgAction, Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::livechat::{Ctx, OPERATORS, find, print_json, text};

/// `ochat livechat operator …`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// List the users (operators have a login).
    List,
    /// Show one operator's profile.
    Show {
        /// The operator (login, name, id or first characters of the id).
        operator: String,
    },
    /// Create an operator. With --login the password is asked on the terminal (twice), or
    /// read from standard input with --password-stdin.
    Create {
        /// Display name.
        name: String,
        /// The login for the console.
        #[arg(long)]
        login: Option<String>,
        /// Read the password from standard input (one line) instead of asking.
        #[arg(long, requires = "login")]
        password_stdin: bool,
        /// Make them a live chat administrator (they manage channels, rules, operators,
        /// canned responses, groups, chatbots and reports with their own login).
        #[arg(long)]
        administrator: bool,
        /// Their profile.
        #[command(flatten)]
        profile: Profile,
    },
    /// Change an operator's profile: only the fields given change.
    Update {
        /// The operator (login, name, id or first characters of the id).
        operator: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// A new login.
        #[arg(long)]
        login: Option<String>,
        /// Make (true) or unmake (false) a live chat administrator.
        #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
        administrator: Option<bool>,
        /// Their profile.
        #[command(flatten)]
        profile: Profile,
    },
    /// Set a new password (asked on the terminal, or --password-stdin); the operator's
    /// tokens are revoked, so every console they had open logs out.
    ResetPassword {
        /// The operator (login, name, id or first characters of the id).
        operator: String,
        /// Read the password from standard input (one line) instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Revoke every token of an operator (their consoles log out; the password stays).
    RevokeTokens {
        /// The operator (login, name, id or first characters of the id).
        operator: String,
    },
    /// Delete a user: their tokens, presence, places in channels, groups and O'Chat
    /// connections, their own canned responses and the returning visitors sent back to them
    /// go; open conversations they were in are left (closed when they were the only
    /// operator). Past conversations and reports keep their id.
    Delete {
        /// The operator (login, name, id or first characters of the id).
        operator: String,
    },
}

/// The live chat profile, as flags.
#[derive(Debug, Args)]
pub struct Profile {
    /// The name visitors see (default: the display name).
    #[arg(long)]
    pub chat_name: Option<String>,
    /// The main language (a code enabled on the node, e.g. en).
    #[arg(long)]
    pub language: Option<String>,
    /// A language spoken in live chat (repeat). Replaces the list on update.
    #[arg(long = "chat-language", value_name = "LANG")]
    pub chat_languages: Vec<String>,
    /// An expertise tag used to route visitors (repeat). Replaces the list on update.
    #[arg(long = "expertise", value_name = "TAG")]
    pub expertise: Vec<String>,
    /// No expertise (on update: clears the list).
    #[arg(long, conflicts_with = "expertise")]
    pub no_expertise: bool,
    /// The country, two-letter ISO code.
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
}

impl Profile {
    fn into_body(self, body: &mut Map<String, Value>) {
        if let Some(v) = self.chat_name {
            body.insert("chat_name".into(), json!(v));
        }
        if let Some(v) = self.language {
            body.insert("language".into(), json!(v));
        }
        if !self.chat_languages.is_empty() {
            body.insert("chat_languages".into(), json!(self.chat_languages));
        }
        if self.no_expertise {
            body.insert("expertise".into(), json!([]));
        } else if !self.expertise.is_empty() {
            body.insert("expertise".into(), json!(self.expertise));
        }
        if let Some(v) = self.country {
            body.insert("country".into(), json!(v));
        }
    }
}

/// Runs `ochat livechat operator …`.
pub async fn run(ctx: &Ctx, command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::List => {
            let list = ctx.api.call(Method::GET, OPERATORS.path, None).await?;
            if ctx.json {
                return print_json(&list);
            }
            let rows = list.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!(
                    "No users. Create an operator: ochat livechat operator create NAME --login LOGIN"
                );
                return Ok(());
            }
            println!(
                "{:<36}  {:<16}  {:<5}  {:<7}  {:<12}  NAME",
                "ID", "LOGIN", "ADMIN", "COUNTRY", "LANGUAGES"
            );
            for u in rows {
                println!(
                    "{:<36}  {:<16}  {:<5}  {:<7}  {:<12}  {}",
                    text(&u["id"]),
                    text(&u["login"]),
                    if u["administrator"] == json!(true) {
                        "yes"
                    } else {
                        ""
                    },
                    text(&u["country"]),
                    text(&u["chat_languages"]),
                    text(&u["name"])
                );
            }
            Ok(())
        }
        OperatorCommand::Show { operator } => {
            let u = find(ctx, &OPERATORS, &operator).await?;
            print_operator(ctx, &u)
        }
        OperatorCommand::Create {
            name,
            login,
            password_stdin,
            administrator,
            profile,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            if let Some(login) = &login {
                body.insert("login".into(), json!(login));
                let password = password(password_stdin, login)?;
                body.insert("password".into(), json!(password));
            }
            if administrator {
                body.insert("administrator".into(), json!(true));
            }
            profile.into_body(&mut body);
            let u = ctx
                .api
                .call(Method::POST, OPERATORS.path, Some(Value::Object(body)))
                .await?;
            print_operator(ctx, &u)
        }
        OperatorCommand::Update {
            operator,
            name,
            login,
            administrator,
            profile,
        } => {
            let id = text(&find(ctx, &OPERATORS, &operator).await?["id"]);
            let mut body = Map::new();
            if let Some(v) = name {
                body.insert("name".into(), json!(v));
            }
            if let Some(v) = login {
                body.insert("login".into(), json!(v));
            }
            if let Some(v) = administrator {
                body.insert("administrator".into(), json!(v));
            }
            profile.into_body(&mut body);
            if body.is_empty() {
                bail!("nothing to change: give at least one field (see --help)");
            }
            let u = patch(ctx, &id, body).await?;
            print_operator(ctx, &u)
        }
        OperatorCommand::ResetPassword {
            operator,
            password_stdin,
        } => {
            let found = find(ctx, &OPERATORS, &operator).await?;
            let Some(login) = found["login"].as_str() else {
                bail!(
                    "{} has no login: give one first (ochat livechat operator update {} --login LOGIN)",
                    text(&found["name"]),
                    text(&found["id"])
                );
            };
            let mut body = Map::new();
            body.insert("password".into(), json!(password(password_stdin, login)?));
            let u = patch(ctx, &text(&found["id"]), body).await?;
            if ctx.json {
                return print_json(&u);
            }
            println!(
                "New password set for {} ({}); their tokens are revoked.",
                text(&u["name"]),
                login
            );
            Ok(())
        }
        OperatorCommand::RevokeTokens { operator } => {
            let found = find(ctx, &OPERATORS, &operator).await?;
            let r = ctx
                .api
                .call(
                    Method::POST,
                    &format!("{}/{}/revoke_tokens", OPERATORS.path, text(&found["id"])),
                    None,
                )
                .await?;
            if ctx.json {
                return print_json(&r);
            }
            println!(
                "Revoked {} token(s) of {}.",
                text(&r["revoked"]),
                text(&found["name"])
            );
            Ok(())
        }
        OperatorCommand::Delete { operator } => {
            let found = find(ctx, &OPERATORS, &operator).await?;
            let id = text(&found["id"]);
            let r = ctx
                .api
                .call(Method::DELETE, &format!("{}/{id}", OPERATORS.path), None)
                .await?;
            if ctx.json {
                return print_json(&r);
            }
            println!("Deleted user {id} ({}).", text(&found["name"]));
            println!(
                "  tokens revoked: {}; channels: {}; groups: {}; canned responses: {}; conversations left: {}; returning visitors: {}; O'Chat connections: {}; read marks: {}",
                text(&r["tokens"]),
                text(&r["channels"]),
                text(&r["groups"]),
                text(&r["canned"]),
                text(&r["sessions"]),
                text(&r["returning"]),
                text(&r["connections"]),
                text(&r["read_marks"])
            );
            Ok(())
        }
    }
}

async fn patch(ctx: &Ctx, id: &str, body: Map<String, Value>) -> anyhow::Result<Value> {
    ctx.api
        .call(
            Method::PATCH,
            &format!("{}/{id}", OPERATORS.path),
            Some(Value::Object(body)),
        )
        .await
}

fn print_operator(ctx: &Ctx, u: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(u);
    }
    println!("Operator {}  {}", text(&u["id"]), text(&u["name"]));
    println!("  login:          {}", text(&u["login"]));
    println!(
        "  role:           {}",
        if u["administrator"] == json!(true) {
            "administrator"
        } else {
            "user"
        }
    );
    println!("  chat name:      {}", text(&u["chat_name"]));
    println!("  language:       {}", text(&u["language"]));
    println!("  chat languages: {}", text(&u["chat_languages"]));
    println!("  expertise:      {}", text(&u["expertise"]));
    println!("  country:        {}", text(&u["country"]));
    Ok(())
}

/// The new password: one line of standard input, or asked twice on the terminal with the
/// echo off.
fn password(from_stdin: bool, login: &str) -> anyhow::Result<String> {
    if from_stdin {
        let mut raw = String::new();
        std::io::stdin()
            .read_to_string(&mut raw)
            .context("cannot read the password from standard input")?;
        let line = raw.lines().next().unwrap_or_default().to_string();
        if line.is_empty() {
            bail!("standard input holds no password (one line expected)");
        }
        return Ok(line);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no terminal to ask the password on: pipe it in with --password-stdin \
             (e.g. `printf '%s\\n' \"$PASSWORD\" | ochat livechat operator … --password-stdin`)"
        );
    }
    let first = ask_hidden(&format!("Password for {login}: "))?;
    if first.is_empty() {
        bail!("the password is empty");
    }
    let second = ask_hidden("Again: ")?;
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// Reads one line from the terminal with the echo off (restored whatever happens).
fn ask_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    tcsetattr(&stdin, OptionalActions::Now, &quiet).context("cannot turn the echo off")?;
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    eprintln!();
    read.context("cannot read the password")?;
    restored.context("cannot turn the echo back on")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
