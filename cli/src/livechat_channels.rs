//! `ochat livechat channel …`: live chat channels (texts, colours, operators, session cap,
//! publication); their rules are in [`crate::livechat_rules`]. Called by
//! [`crate::livechat`].

use anyhow::bail;
use clap::{ArgAction, Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::livechat::{CHANNELS, CHANNELS_PATH, Ctx, OPERATORS, find, ids, print_json, text};
use crate::livechat_rules::rule_line;

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
    /// At most this many visitors wait in line when every operator is busy (0: no queue,
    /// visitors hear nobody is free; 20 by default).
    #[arg(long, value_name = "N")]
    pub queue_limit: Option<u32>,
    /// Publish the channel's ratings page (true or false).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub published: Option<bool>,
    /// Business hours: an opening slot "DAYS HH:MM-HH:MM", e.g. "mon-fri 09:00-17:30" (repeat
    /// for several; replaces the schedule). Days: mon tue wed thu fri sat sun.
    #[arg(long = "hours", value_name = "SLOT")]
    pub hours: Vec<String>,
    /// The business hours' IANA time zone, e.g. Europe/Paris (daylight saving time included).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// A date (YYYY-MM-DD) on which the channel stays closed (repeat; replaces the list).
    #[arg(long = "holiday", value_name = "DATE")]
    pub holidays: Vec<String>,
    /// Remove the holidays.
    #[arg(long, conflicts_with = "holidays")]
    pub no_holidays: bool,
    /// Remove the business hours: always open.
    #[arg(long, conflicts_with_all = ["hours", "time_zone", "holidays", "no_holidays"])]
    pub always_open: bool,
    /// What the widget shows while offline: hide (nothing) or form (a message form).
    #[arg(long, value_name = "MODE", value_parser = ["hide", "form"])]
    pub offline: Option<String>,
    /// What the offline form creates: ticket or lead.
    #[arg(long, value_name = "KIND", value_parser = ["ticket", "lead"])]
    pub offline_record: Option<String>,
    /// Also go offline when no operator (nor chatbot) can answer (true or false).
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub offline_when_no_operator: Option<bool>,
    /// The language of the channel's texts and the widget's fallback (e.g. en, fr).
    #[arg(long, value_name = "CODE")]
    pub default_language: Option<String>,
}

impl ChannelFields {
    fn touches_hours(&self) -> bool {
        !self.hours.is_empty()
            || self.time_zone.is_some()
            || !self.holidays.is_empty()
            || self.no_holidays
    }
}

/// The business hours to send: the channel's current ones (`existing`) with the flags' changes.
fn hours_body(f: &ChannelFields, existing: &Value) -> anyhow::Result<Value> {
    let current = &existing["hours"];
    let zone = match (&f.time_zone, current["time_zone"].as_str()) {
        (Some(z), _) => z.clone(),
        (None, Some(z)) => z.to_string(),
        (None, None) => {
            bail!("business hours need a time zone: add --time-zone (e.g. Europe/Paris)")
        }
    };
    let weekly = if f.hours.is_empty() {
        current["weekly"].clone()
    } else {
        json!(f.hours)
    };
    if weekly.as_array().is_none_or(|w| w.is_empty()) {
        bail!("business hours need at least one --hours slot (e.g. \"mon-fri 09:00-17:00\")");
    }
    let holidays = if f.no_holidays {
        json!([])
    } else if f.holidays.is_empty() {
        current["holidays"]
            .as_array()
            .map_or(json!([]), |h| json!(h))
    } else {
        json!(f.holidays)
    };
    Ok(json!({"time_zone": zone, "weekly": weekly, "holidays": holidays}))
}

/// The offline settings, business hours and language of the flags, into `body`.
fn offline_body(
    f: &ChannelFields,
    existing: &Value,
    body: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    if f.always_open {
        body.insert("hours".into(), Value::Null);
    } else if f.touches_hours() {
        body.insert("hours".into(), hours_body(f, existing)?);
    }
    let mut offline = Map::new();
    if let Some(m) = &f.offline {
        offline.insert("mode".into(), json!(m));
    }
    if let Some(r) = &f.offline_record {
        offline.insert("record".into(), json!(r));
    }
    if let Some(b) = f.offline_when_no_operator {
        offline.insert("when_no_operator".into(), json!(b));
    }
    if !offline.is_empty() {
        body.insert("offline".into(), Value::Object(offline));
    }
    if let Some(l) = &f.default_language {
        body.insert("default_language".into(), json!(l));
    }
    Ok(())
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
            offline_body(&fields, &Value::Null, &mut body)?;
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
            let existing = if fields.touches_hours() {
                full_channel(ctx, &id).await?
            } else {
                Value::Null
            };
            offline_body(&fields, &existing, &mut body)?;
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
pub(crate) async fn full_channel(ctx: &Ctx, given: &str) -> anyhow::Result<Value> {
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
    if let Some(n) = f.queue_limit {
        body.insert("queue_limit".into(), json!(n));
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
    println!("  queue limit:      {}", text(&c["queue_limit"]));
    println!("  ratings public:   {}", text(&c["published"]));
    print_offline(c);
    let rules = c["rules"].as_array().cloned().unwrap_or_default();
    println!("  rules:            {}", rules.len());
    for r in &rules {
        println!("    {}", rule_line(r));
    }
    Ok(())
}

/// The business hours, offline behaviour and languages of `ochat livechat channel show`.
fn print_offline(c: &Value) {
    let hours = &c["hours"];
    if hours.is_null() {
        println!("  business hours:   always open");
    } else {
        let slots: Vec<String> = hours["weekly"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        println!(
            "  business hours:   {} ({})",
            slots.join(", "),
            text(&hours["time_zone"])
        );
        let holidays: Vec<String> = hours["holidays"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        if !holidays.is_empty() {
            println!("  holidays:         {}", holidays.join(", "));
        }
    }
    let o = &c["offline"];
    println!(
        "  offline:          {} (creates a {}; also when nobody can answer: {})",
        text(&o["mode"]),
        text(&o["record"]),
        text(&o["when_no_operator"])
    );
    let lang = c["default_language"].as_str().filter(|l| !l.is_empty());
    println!("  default language: {}", lang.unwrap_or("en"));
    let own: Vec<&String> = c["texts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(l, _)| l)
        .collect();
    if !own.is_empty() {
        let own: Vec<&str> = own.iter().map(|l| l.as_str()).collect();
        println!("  own texts in:     {}", own.join(", "));
    }
}
