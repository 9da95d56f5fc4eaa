//! `ochat livechat channel …` and `ochat livechat rule …`: live chat channels (texts,
//! colours, operators, session cap, publication) and their ordered rules (URL regex,
//! countries, action, chatbot). Called by [`crate::livechat`].

use anyhow::{Context, bail};
use clap::{ArgAction, Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::livechat::{
    CHANNELS, CHANNELS_PATH, CHATBOTS, Ctx, OPERATORS, find, ids, print_json, short, text,
};

/// `ochat livechat channel …`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// List the channels.
    List,
    /// Show one channel: texts, colours, operators, rules.
    Show {
        /// The channel (id, first characters of its id, or name).
        channel: String,
    },
    /// Create a channel (texts and colours not given take the defaults).
    Create {
        /// The channel's name.
        name: String,
        /// Its settings.
        #[command(flatten)]
        fields: ChannelFields,
    },
    /// Change a channel: only the settings given change.
    Update {
        /// The channel (id, first characters of its id, or name).
        channel: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// Its settings.
        #[command(flatten)]
        fields: ChannelFields,
    },
    /// Delete a channel (its past sessions stay readable in reports).
    Delete {
        /// The channel (id, first characters of its id, or name).
        channel: String,
    },
}

/// A channel's settings, as flags.
#[derive(Debug, Args)]
pub struct ChannelFields {
    /// An operator of the channel (login, name or id; repeat for several). Replaces the
    /// list on update.
    #[arg(long = "operator", value_name = "OPERATOR")]
    pub operators: Vec<String>,
    /// Remove every operator (on update).
    #[arg(long, conflicts_with = "operators")]
    pub no_operators: bool,
    /// An operator who may join by themselves later (repeat); the listed operators always may.
    #[arg(long = "allowed", value_name = "OPERATOR")]
    pub allowed: Vec<String>,
    /// Let any operator join by themselves (true or false; default false).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub self_join: Option<bool>,
    /// The button's text (also the notification text).
    #[arg(long)]
    pub button_text: Option<String>,
    /// The first message a visitor sees.
    #[arg(long)]
    pub welcome_message: Option<String>,
    /// The placeholder of the chat input.
    #[arg(long)]
    pub input_placeholder: Option<String>,
    /// The button's colour (CSS, e.g. #875A7B).
    #[arg(long, value_name = "COLOUR")]
    pub button_color: Option<String>,
    /// The chat window header's colour (CSS).
    #[arg(long, value_name = "COLOUR")]
    pub header_color: Option<String>,
    /// At most this many ongoing sessions per operator (0: no cap).
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<u32>,
    /// Publish the channel's ratings page (true or false).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub published: Option<bool>,
}

/// `ochat livechat rule …`.
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// List a channel's rules in the order they are tried.
    List {
        /// The channel (id, first characters of its id, or name).
        channel: String,
    },
    /// Show one rule.
    Show {
        /// The channel (id, first characters of its id, or name).
        channel: String,
        /// The rule (id or first characters of its id).
        rule: String,
    },
    /// Add a rule to a channel (without flags: show the button on every page).
    Create {
        /// The channel (id, first characters of its id, or name).
        channel: String,
        /// The rule's settings.
        #[command(flatten)]
        fields: RuleFields,
    },
    /// Change a rule: only the settings given change.
    Update {
        /// The channel (id, first characters of its id, or name).
        channel: String,
        /// The rule (id or first characters of its id).
        rule: String,
        /// The rule's settings.
        #[command(flatten)]
        fields: RuleFields,
    },
    /// Delete a rule.
    Delete {
        /// The channel (id, first characters of its id, or name).
        channel: String,
        /// The rule (id or first characters of its id).
        rule: String,
    },
}

/// What the button does on a matching page.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RuleAction {
    /// Show the button.
    Show,
    /// Show the button with its notification text.
    ShowWithNotification,
    /// Open the chat window after --auto-open-after seconds.
    AutoOpen,
    /// Hide the button.
    Hide,
}

/// When the rule's chatbot takes part.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Condition {
    /// Always.
    Always,
    /// Only when no operator is available.
    OnlyIfNoOperator,
    /// Only when an operator is available.
    OnlyIfOperator,
}

/// A rule's settings, as flags.
#[derive(Debug, Args)]
pub struct RuleFields {
    /// Order among the channel's rules (lower is tried first).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub sequence: Option<i32>,
    /// What the button does on a matching page.
    #[arg(long, value_enum)]
    pub action: Option<RuleAction>,
    /// Seconds before the window opens (with --action auto-open).
    #[arg(long, value_name = "SECONDS")]
    pub auto_open_after: Option<u32>,
    /// A regex searched in the page URL (empty: every page).
    #[arg(long, value_name = "REGEX")]
    pub url_regex: Option<String>,
    /// A visitor's country, two-letter ISO code (repeat; none: every country). Replaces the
    /// list on update.
    #[arg(long = "country", value_name = "CC")]
    pub countries: Vec<String>,
    /// Every country (on update: clears the list).
    #[arg(long, conflicts_with = "countries")]
    pub any_country: bool,
    /// The chatbot that answers first (its id or name).
    #[arg(long)]
    pub chatbot: Option<String>,
    /// No chatbot (on update: removes it).
    #[arg(long, conflicts_with = "chatbot")]
    pub no_chatbot: bool,
    /// When the chatbot takes part.
    #[arg(long, value_enum)]
    pub chatbot_condition: Option<Condition>,
}

fn snake(v: impl ValueEnum) -> Option<Value> {
    v.to_possible_value()
        .map(|p| Value::String(p.get_name().replace('-', "_")))
}

/// Runs `ochat livechat channel …`.
pub async fn channel(ctx: &Ctx, command: ChannelCommand) -> anyhow::Result<()> {
    match command {
        ChannelCommand::List => {
            let list = ctx.api.call(Method::GET, CHANNELS_PATH, None).await?;
            if ctx.json {
                return print_json(&list);
            }
            let rows = list.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("No live chat channels. Create one: ochat livechat channel create NAME");
                return Ok(());
            }
            println!(
                "{:<36}  {:<9}  {:<12}  NAME",
                "ID", "OPERATORS", "SATISFACTION"
            );
            for c in rows {
                let satisfaction = c["satisfaction"]
                    .as_u64()
                    .map_or("-".to_string(), |p| format!("{p}%"));
                println!(
                    "{:<36}  {:<9}  {:<12}  {}",
                    text(&c["id"]),
                    text(&c["operators"]),
                    satisfaction,
                    text(&c["name"])
                );
            }
            Ok(())
        }
        ChannelCommand::Show { channel } => {
            let c = full_channel(ctx, &channel).await?;
            print_channel(ctx, &c).await
        }
        ChannelCommand::Create { name, fields } => {
            let mut body = channel_body(ctx, &fields).await?;
            body.insert("name".into(), json!(name));
            let c = ctx
                .api
                .call(Method::POST, CHANNELS_PATH, Some(Value::Object(body)))
                .await?;
            print_channel(ctx, &c).await
        }
        ChannelCommand::Update {
            channel,
            name,
            fields,
        } => {
            let id = text(&find(ctx, &CHANNELS, &channel).await?["id"]);
            let mut body = channel_body(ctx, &fields).await?;
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if body.is_empty() {
                bail!("nothing to change: give at least one setting (see --help)");
            }
            let c = ctx
                .api
                .call(
                    Method::PATCH,
                    &format!("{CHANNELS_PATH}/{id}"),
                    Some(Value::Object(body)),
                )
                .await?;
            print_channel(ctx, &c).await
        }
        ChannelCommand::Delete { channel } => {
            let c = find(ctx, &CHANNELS, &channel).await?;
            let id = text(&c["id"]);
            ctx.api
                .call(Method::DELETE, &format!("{CHANNELS_PATH}/{id}"), None)
                .await?;
            if ctx.json {
                return print_json(&json!({"deleted": id}));
            }
            println!("Deleted live chat channel {id} ({})", text(&c["name"]));
            Ok(())
        }
    }
}

/// The whole channel (with its rules) that `given` names.
async fn full_channel(ctx: &Ctx, given: &str) -> anyhow::Result<Value> {
    let id = text(&find(ctx, &CHANNELS, given).await?["id"]);
    ctx.api
        .call(Method::GET, &format!("{CHANNELS_PATH}/{id}"), None)
        .await
}

async fn channel_body(ctx: &Ctx, f: &ChannelFields) -> anyhow::Result<Map<String, Value>> {
    let mut body = Map::new();
    if f.no_operators {
        body.insert("operators".into(), json!([]));
    } else if !f.operators.is_empty() {
        body.insert(
            "operators".into(),
            Value::Array(ids(ctx, &OPERATORS, &f.operators).await?),
        );
    }
    if !f.allowed.is_empty() {
        body.insert(
            "allowed".into(),
            Value::Array(ids(ctx, &OPERATORS, &f.allowed).await?),
        );
    }
    let texts = [
        ("button_text", &f.button_text),
        ("welcome_message", &f.welcome_message),
        ("input_placeholder", &f.input_placeholder),
        ("button_color", &f.button_color),
        ("header_color", &f.header_color),
    ];
    for (key, v) in texts {
        if let Some(v) = v {
            body.insert(key.into(), json!(v));
        }
    }
    if let Some(n) = f.max_sessions {
        body.insert("max_sessions_per_operator".into(), json!(n));
    }
    if let Some(b) = f.published {
        body.insert("published".into(), json!(b));
    }
    if let Some(b) = f.self_join {
        body.insert("self_join".into(), json!(b));
    }
    Ok(body)
}

async fn print_channel(ctx: &Ctx, c: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(c);
    }
    // Operators by name where the list is readable (best effort: ids otherwise).
    let users = ctx
        .api
        .call(Method::GET, OPERATORS.path, None)
        .await
        .unwrap_or(Value::Null);
    let name_of = |id: &Value| {
        users
            .as_array()
            .and_then(|u| u.iter().find(|u| u["id"] == *id))
            .map_or_else(
                || text(id),
                |u| format!("{} ({})", text(&u["name"]), text(id)),
            )
    };
    let names = |key: &str| -> String {
        let list: Vec<String> = c[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(name_of)
            .collect();
        if list.is_empty() {
            "-".into()
        } else {
            list.join(", ")
        }
    };
    println!("Live chat channel {}  {}", text(&c["id"]), text(&c["name"]));
    println!("  operators:        {}", names("operators"));
    println!("  may join:         {}", names("allowed"));
    println!("  self-join:        {}", text(&c["self_join"]));
    println!("  button text:      {}", text(&c["button_text"]));
    println!("  welcome message:  {}", text(&c["welcome_message"]));
    println!("  placeholder:      {}", text(&c["input_placeholder"]));
    println!("  button colour:    {}", text(&c["button_color"]));
    println!("  header colour:    {}", text(&c["header_color"]));
    println!(
        "  sessions cap:     {}",
        text(&c["max_sessions_per_operator"])
    );
    println!("  ratings public:   {}", text(&c["published"]));
    let rules = c["rules"].as_array().cloned().unwrap_or_default();
    println!("  rules:            {}", rules.len());
    for r in &rules {
        println!("    {}", rule_line(r));
    }
    Ok(())
}

/// Runs `ochat livechat rule …`.
pub async fn rule(ctx: &Ctx, command: RuleCommand) -> anyhow::Result<()> {
    match command {
        RuleCommand::List { channel } => {
            let c = full_channel(ctx, &channel).await?;
            if ctx.json {
                return print_json(&c["rules"]);
            }
            let rules = c["rules"].as_array().cloned().unwrap_or_default();
            if rules.is_empty() {
                println!(
                    "No rules: the button shows on every page. Add one: ochat livechat rule create {}",
                    text(&c["name"])
                );
            }
            for r in &rules {
                println!("{}", rule_line(r));
            }
            Ok(())
        }
        RuleCommand::Show { channel, rule } => {
            let c = full_channel(ctx, &channel).await?;
            let r = pick_rule(&c, &rule)?;
            print_rule(ctx, &r)
        }
        RuleCommand::Create { channel, fields } => {
            let id = text(&find(ctx, &CHANNELS, &channel).await?["id"]);
            let mut body = Map::new();
            apply_rule(ctx, &mut body, &fields).await?;
            let r = ctx
                .api
                .call(
                    Method::POST,
                    &format!("{CHANNELS_PATH}/{id}/rules"),
                    Some(Value::Object(body)),
                )
                .await?;
            print_rule(ctx, &r)
        }
        RuleCommand::Update {
            channel,
            rule,
            fields,
        } => {
            let c = full_channel(ctx, &channel).await?;
            let current = pick_rule(&c, &rule)?;
            let rule_id = text(&current["id"]);
            let Value::Object(mut body) = current else {
                bail!("the node answered a rule that is not an object");
            };
            if !fields_given(&fields) {
                bail!("nothing to change: give at least one setting (see --help)");
            }
            apply_rule(ctx, &mut body, &fields).await?;
            let r = ctx
                .api
                .call(
                    Method::PUT,
                    &format!("{CHANNELS_PATH}/{}/rules/{rule_id}", text(&c["id"])),
                    Some(Value::Object(body)),
                )
                .await?;
            print_rule(ctx, &r)
        }
        RuleCommand::Delete { channel, rule } => {
            let c = full_channel(ctx, &channel).await?;
            let rule_id = text(&pick_rule(&c, &rule)?["id"]);
            ctx.api
                .call(
                    Method::DELETE,
                    &format!("{CHANNELS_PATH}/{}/rules/{rule_id}", text(&c["id"])),
                    None,
                )
                .await?;
            if ctx.json {
                return print_json(&json!({"deleted": rule_id}));
            }
            println!("Deleted rule {rule_id} of {}", text(&c["name"]));
            Ok(())
        }
    }
}

fn fields_given(f: &RuleFields) -> bool {
    f.sequence.is_some()
        || f.action.is_some()
        || f.auto_open_after.is_some()
        || f.url_regex.is_some()
        || !f.countries.is_empty()
        || f.any_country
        || f.chatbot.is_some()
        || f.no_chatbot
        || f.chatbot_condition.is_some()
}

/// The rule of channel `c` that `given` names (whole id or a unique prefix).
fn pick_rule(c: &Value, given: &str) -> anyhow::Result<Value> {
    let given = given.trim().to_ascii_lowercase();
    let rules = c["rules"].as_array().cloned().unwrap_or_default();
    let found: Vec<&Value> = rules
        .iter()
        .filter(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id == given || (given.len() >= 2 && id.starts_with(&given)))
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "the channel {} has no rule {given:?} (see `ochat livechat rule list {}`)",
            text(&c["name"]),
            text(&c["id"])
        ),
        _ => bail!("{given:?} matches several rules: give the whole id"),
    }
}

async fn apply_rule(
    ctx: &Ctx,
    body: &mut Map<String, Value>,
    f: &RuleFields,
) -> anyhow::Result<()> {
    if let Some(n) = f.sequence {
        body.insert("sequence".into(), json!(n));
    }
    if let Some(a) = f.action.and_then(snake) {
        body.insert("action".into(), a);
    }
    if let Some(s) = f.auto_open_after {
        body.insert("auto_open_after_s".into(), json!(s));
    }
    if let Some(r) = &f.url_regex {
        body.insert("url_regex".into(), json!(r));
    }
    if f.any_country {
        body.insert("countries".into(), json!([]));
    } else if !f.countries.is_empty() {
        body.insert("countries".into(), json!(f.countries));
    }
    if f.no_chatbot {
        body.insert("chatbot_id".into(), Value::Null);
    } else if let Some(bot) = &f.chatbot {
        let found = find(ctx, &CHATBOTS, bot)
            .await
            .with_context(|| format!("--chatbot {bot}"))?;
        body.insert("chatbot_id".into(), found["id"].clone());
    }
    if let Some(c) = f.chatbot_condition.and_then(snake) {
        body.insert("chatbot_condition".into(), c);
    }
    Ok(())
}

fn rule_line(r: &Value) -> String {
    let regex = r["url_regex"].as_str().unwrap_or_default();
    let pages = if regex.is_empty() {
        "every page".to_string()
    } else {
        format!("URL ~ {}", short(regex, 40))
    };
    let mut line = format!(
        "{}  #{:<3} {:<22} {:<44} countries: {}",
        text(&r["id"]),
        text(&r["sequence"]),
        text(&r["action"]),
        pages,
        if r["countries"].as_array().is_some_and(|a| !a.is_empty()) {
            text(&r["countries"])
        } else {
            "all".into()
        }
    );
    if !r["chatbot_id"].is_null() {
        line.push_str(&format!(
            "  chatbot: {} ({})",
            text(&r["chatbot_id"]),
            text(&r["chatbot_condition"])
        ));
    }
    line
}

fn print_rule(ctx: &Ctx, r: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return print_json(r);
    }
    println!("Rule {}", text(&r["id"]));
    println!("  sequence:           {}", text(&r["sequence"]));
    println!("  action:             {}", text(&r["action"]));
    if !r["auto_open_after_s"].is_null() {
        println!("  opens after:        {} s", text(&r["auto_open_after_s"]));
    }
    let regex = r["url_regex"].as_str().unwrap_or_default();
    println!(
        "  URL regex:          {}",
        if regex.is_empty() {
            "(every page)"
        } else {
            regex
        }
    );
    println!("  countries:          {}", text(&r["countries"]));
    println!("  chatbot:            {}", text(&r["chatbot_id"]));
    println!("  chatbot condition:  {}", text(&r["chatbot_condition"]));
    Ok(())
}
