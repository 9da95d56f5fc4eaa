//! `ochat livechat rule …`: a live chat channel's ordered rules (URL regex, countries,
//! action, chatbot and its condition). An update fetches the rule and changes only the
//! settings given, since the API replaces a rule whole. Called by [`crate::livechat`].

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::livechat::{CHANNELS, CHANNELS_PATH, CHATBOTS, Ctx, find, print_json, short, text};
use crate::livechat_channels::full_channel;

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

/// One line about a rule (also in `channel show`).
pub(crate) fn rule_line(r: &Value) -> String {
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
