//! `ochat livechat canned …` and `ochat livechat group …`: canned responses (a shortcut an
//! operator types as `:shortcut`, and the text it becomes), shared with groups of users.
//! Made with the admin token, a response belongs to no one: operators use it once it is
//! shared with a group they are in. The API has no update for canned responses and no
//! delete for groups, so neither command has one. Called by [`crate::livechat`].

use anyhow::bail;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use crate::livechat::{CANNED, Ctx, GROUPS, OPERATORS, find, ids, print_json, short, text};

/// `ochat livechat canned …`.
#[derive(Debug, Subcommand)]
pub enum CannedCommand {
    /// List the canned responses.
    List,
    /// Show one canned response.
    Show {
        /// The response (shortcut, id or first characters of the id).
        canned: String,
    },
    /// Create a canned response.
    Create {
        /// The shortcut (letters, digits, `_`, `-`; a leading `:` is dropped).
        shortcut: String,
        /// The text it becomes.
        substitution: String,
        /// A group to share it with (name or id; repeat for several).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Delete a canned response.
    Delete {
        /// The response (shortcut, id or first characters of the id).
        canned: String,
    },
}

/// `ochat livechat group …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List the groups.
    List,
    /// Show one group and its members.
    Show {
        /// The group (name, id or first characters of the id).
        group: String,
    },
    /// Create a group.
    Create {
        /// The group's name.
        name: String,
        /// A member (operator login, name or id; repeat for several).
        #[arg(long = "member", value_name = "OPERATOR")]
        members: Vec<String>,
    },
    /// Change a group's name or members.
    Update {
        /// The group (name, id or first characters of the id).
        group: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// The members (repeat); replaces the list.
        #[arg(long = "member", value_name = "OPERATOR", conflicts_with_all = ["add_members", "remove_members"])]
        members: Vec<String>,
        /// Add a member (repeat).
        #[arg(long = "add-member", value_name = "OPERATOR")]
        add_members: Vec<String>,
        /// Remove a member (repeat).
        #[arg(long = "remove-member", value_name = "OPERATOR")]
        remove_members: Vec<String>,
    },
}

/// Runs `ochat livechat canned …`.
pub async fn canned(ctx: &Ctx, command: CannedCommand) -> anyhow::Result<()> {
    match command {
        CannedCommand::List => {
            let list = ctx.api.call(Method::GET, CANNED.path, None).await?;
            if ctx.json {
                return print_json(&list);
            }
            let rows = list.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!(
                    "No canned responses. Create one: ochat livechat canned create SHORTCUT TEXT"
                );
                return Ok(());
            }
            println!("{:<36}  {:<16}  SUBSTITUTION", "ID", "SHORTCUT");
            for c in rows {
                println!(
                    "{:<36}  {:<16}  {}",
                    text(&c["id"]),
                    format!(":{}", text(&c["shortcut"])),
                    short(&text(&c["substitution"]), 60)
                );
            }
            Ok(())
        }
        CannedCommand::Show { canned } => {
            let c = find(ctx, &CANNED, &canned).await?;
            print_canned(ctx, &c).await
        }
        CannedCommand::Create {
            shortcut,
            substitution,
            groups,
        } => {
            let groups = ids(ctx, &GROUPS, &groups).await?;
            let body =
                json!({"shortcut": shortcut, "substitution": substitution, "groups": groups});
            let c = ctx.api.call(Method::POST, CANNED.path, Some(body)).await?;
            print_canned(ctx, &c).await
        }
        CannedCommand::Delete { canned } => {
            let c = find(ctx, &CANNED, &canned).await?;
            let id = text(&c["id"]);
            ctx.api
                .call(Method::DELETE, &format!("{}/{id}", CANNED.path), None)
                .await?;
            if ctx.json {
                return print_json(&json!({"deleted": id}));
            }
            println!("Deleted canned response :{} ({id})", text(&c["shortcut"]));
            Ok(())
        }
    }
}

async fn print_canned(ctx: &Ctx, c: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(c);
    }
    let groups = ctx
        .api
        .call(Method::GET, GROUPS.path, None)
        .await
        .unwrap_or(Value::Null);
    let names: Vec<String> = c["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|id| {
            groups
                .as_array()
                .and_then(|g| g.iter().find(|g| g["id"] == *id))
                .map_or_else(|| text(id), |g| text(&g["name"]))
        })
        .collect();
    println!(
        "Canned response {}  :{}",
        text(&c["id"]),
        text(&c["shortcut"])
    );
    println!(
        "  owner:   {}",
        if c["owner"].is_null() {
            "the admin".to_string()
        } else {
            text(&c["owner"])
        }
    );
    println!(
        "  shared:  {}",
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        }
    );
    println!("  text:    {}", text(&c["substitution"]));
    Ok(())
}

/// Runs `ochat livechat group …`.
pub async fn group(ctx: &Ctx, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List => {
            let list = ctx.api.call(Method::GET, GROUPS.path, None).await?;
            if ctx.json {
                return print_json(&list);
            }
            let rows = list.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("No groups. Create one: ochat livechat group create NAME --member LOGIN");
                return Ok(());
            }
            println!("{:<36}  {:<7}  NAME", "ID", "MEMBERS");
            for g in rows {
                println!(
                    "{:<36}  {:<7}  {}",
                    text(&g["id"]),
                    g["members"].as_array().map_or(0, Vec::len),
                    text(&g["name"])
                );
            }
            Ok(())
        }
        GroupCommand::Show { group } => {
            let g = find(ctx, &GROUPS, &group).await?;
            print_group(ctx, &g).await
        }
        GroupCommand::Create { name, members } => {
            let members = ids(ctx, &OPERATORS, &members).await?;
            let body = json!({"name": name, "members": members});
            let g = ctx.api.call(Method::POST, GROUPS.path, Some(body)).await?;
            print_group(ctx, &g).await
        }
        GroupCommand::Update {
            group,
            name,
            members,
            add_members,
            remove_members,
        } => {
            if name.is_none()
                && members.is_empty()
                && add_members.is_empty()
                && remove_members.is_empty()
            {
                bail!("nothing to change: give --name or members (see --help)");
            }
            let g = find(ctx, &GROUPS, &group).await?;
            let mut list: Vec<Value> = if members.is_empty() {
                g["members"].as_array().cloned().unwrap_or_default()
            } else {
                ids(ctx, &OPERATORS, &members).await?
            };
            for m in ids(ctx, &OPERATORS, &add_members).await? {
                if !list.contains(&m) {
                    list.push(m);
                }
            }
            let gone = ids(ctx, &OPERATORS, &remove_members).await?;
            list.retain(|m| !gone.contains(m));
            let body = json!({"name": name.unwrap_or_else(|| text(&g["name"])), "members": list});
            let g = ctx
                .api
                .call(
                    Method::PUT,
                    &format!("{}/{}", GROUPS.path, text(&g["id"])),
                    Some(body),
                )
                .await?;
            print_group(ctx, &g).await
        }
    }
}

async fn print_group(ctx: &Ctx, g: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(g);
    }
    let users = ctx
        .api
        .call(Method::GET, OPERATORS.path, None)
        .await
        .unwrap_or(Value::Null);
    println!("Group {}  {}", text(&g["id"]), text(&g["name"]));
    let members = g["members"].as_array().cloned().unwrap_or_default();
    if members.is_empty() {
        println!("  members: -");
    }
    for m in members {
        let name = users
            .as_array()
            .and_then(|u| u.iter().find(|u| u["id"] == m))
            .map_or_else(
                || "?".to_string(),
                |u| format!("{} ({})", text(&u["name"]), text(&u["login"])),
            );
        println!("  member:  {}  {name}", text(&m));
    }
    Ok(())
}
