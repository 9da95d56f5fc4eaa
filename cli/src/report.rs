//! `ochat report …`: the live chat reports of a running node (sessions history, statistics,
//! operator analysis, ratings, a session's transcript) as a table, JSON or CSV, with the
//! admin token from the data folder.

use anyhow::Context;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use ochat_node::livechat::reports::filter::GroupBy;
use reqwest::Method;
use serde_json::Value;

use crate::args::DataDirArg;
use crate::client::Api;

/// `ochat report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The data folder of the local node.
    #[command(flatten)]
    pub data: DataDirArg,
    /// Which report.
    #[command(subcommand)]
    pub report: Report,
}

/// The reports.
#[derive(Debug, Clone, Subcommand)]
pub enum Report {
    /// Every session: channel, visitor, operators, start, duration, messages, rating, outcome.
    Sessions(Filters),
    /// Counts, sums and averages of the session measures, grouped.
    Stats(StatsArgs),
    /// Per operator and channel: sessions, average duration, rating, time to answer.
    Operators(Filters),
    /// Ratings with comments, and the happy / okay / unhappy shares.
    Ratings(RatingsArgs),
    /// Each channel's satisfaction: the share of happy ratings over the last days.
    Satisfaction(SatisfactionArgs),
    /// One session's transcript as text.
    Transcript {
        /// Session id.
        id: String,
    },
}

/// What to select and how to print it.
#[derive(Debug, Clone, Default, Args)]
pub struct Filters {
    /// First day (2026-11-02, UTC) or RFC 3339 time.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (included) or RFC 3339 time (excluded).
    #[arg(long)]
    pub to: Option<String>,
    /// A channel id.
    #[arg(long)]
    pub channel: Option<String>,
    /// An operator (user) id.
    #[arg(long)]
    pub operator: Option<String>,
    /// 5|3|1|0 or happy|okay|unhappy|none.
    #[arg(long)]
    pub rating: Option<String>,
    /// forwarded, answered, no_answer, no_agent or bot_only.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Print CSV.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ochat report stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// What to group by.
    #[arg(long, default_value_t = GroupBy::Day, value_parser = group_by_parser())]
    pub group_by: GroupBy,
    /// Selection and output.
    #[command(flatten)]
    pub filters: Filters,
}

/// `ochat report ratings`.
#[derive(Debug, Clone, Args)]
pub struct RatingsArgs {
    /// Only what the published ratings page shows.
    #[arg(long)]
    pub public: bool,
    /// With --csv: the shares instead of the list.
    #[arg(long)]
    pub shares: bool,
    /// Selection and output.
    #[command(flatten)]
    pub filters: Filters,
}

/// `ochat report satisfaction`.
#[derive(Debug, Clone, Args)]
pub struct SatisfactionArgs {
    /// The window: ratings of the last DAYS days (1 to 3650).
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Only this channel id.
    #[arg(long)]
    pub channel: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--group-by`'s values: the node's groupings ([`GroupBy`]), each with its help line.
fn group_by_parser() -> impl TypedValueParser<Value = GroupBy> {
    let values = GroupBy::all().map(|g| PossibleValue::new(g.name()).help(group_by_help(g)));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<GroupBy>())
}

/// The help line of one grouping in `ochat report stats --help`.
fn group_by_help(g: GroupBy) -> &'static str {
    match g {
        GroupBy::Channel => "Channel",
        GroupBy::Operator => "Operator",
        GroupBy::Day => "UTC day",
        GroupBy::Weekday => "UTC weekday",
        GroupBy::Hour => "UTC hour",
        GroupBy::Country => "Country",
        GroupBy::Language => "Language",
        GroupBy::Outcome => "Outcome",
    }
}

/// The query string of the filters (values percent-encoded).
fn query(f: &Filters, extra: &[(&str, String)]) -> String {
    let mut parts: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (k, v) in [
        ("from", &f.from),
        ("to", &f.to),
        ("channel", &f.channel),
        ("operator", &f.operator),
        ("rating", &f.rating),
        ("outcome", &f.outcome),
    ] {
        if let Some(v) = v {
            parts.push((k.to_string(), v.clone()));
        }
    }
    if f.csv {
        parts.push(("format".into(), "csv".into()));
    }
    let encoded: Vec<String> = parts
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    encoded.join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GETs a text answer (CSV, transcript), turning error answers into errors.
async fn text(api: &Api, path: &str) -> anyhow::Result<String> {
    let resp = reqwest::Client::new()
        .request(Method::GET, format!("{}{path}", api.base()))
        .bearer_auth(api.token())
        .timeout(std::time::Duration::from_secs(120))
        .send()
        .await
        .with_context(|| format!("cannot reach the node at {}", api.base()))?;
    let ok = resp.status().is_success();
    let body = resp.text().await?;
    if !ok {
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        anyhow::bail!("{message}");
    }
    Ok(body)
}

fn cell(v: &Value, digits: usize) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) if n.is_f64() => format!("{:.*}", digits, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| cell(x, digits))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v[field].as_array().map_or(&[], Vec::as_slice)
}

/// Runs `ochat report …`.
pub async fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let base = "/api/v1/livechat/reports";
    let (path, f) = match &args.report {
        Report::Transcript { id } => {
            print!(
                "{}",
                text(&api, &format!("{base}/sessions/{id}/transcript")).await?
            );
            return Ok(());
        }
        Report::Satisfaction(a) => return satisfaction(&api, a).await,
        Report::Sessions(f) => (format!("{base}/sessions?{}", query(f, &[])), f),
        Report::Stats(s) => (
            format!(
                "{base}/stats?{}",
                query(&s.filters, &[("group_by", s.group_by.name().into())])
            ),
            &s.filters,
        ),
        Report::Operators(f) => (format!("{base}/operators?{}", query(f, &[])), f),
        Report::Ratings(r) => {
            let extra = [("public", r.public.to_string())];
            let which = if r.shares && r.filters.csv {
                "ratings/shares"
            } else {
                "ratings"
            };
            (
                format!("{base}/{which}?{}", query(&r.filters, &extra)),
                &r.filters,
            )
        }
    };
    if f.csv {
        print!("{}", text(&api, &path).await?);
        return Ok(());
    }
    let v = api.call(Method::GET, &path, None).await?;
    if f.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_table(&args.report, &v);
    Ok(())
}

fn print_table(report: &Report, v: &Value) {
    let get = |r: &Value, k: &str, d: usize| cell(&r[k], d);
    match report {
        Report::Sessions(_) => table(
            &[
                "START",
                "CHANNEL",
                "VISITOR",
                "OPERATORS",
                "MIN",
                "MSGS",
                "QUEUE S",
                "ANSWER S",
                "RATING",
                "OUTCOME",
            ],
            list(v, "sessions")
                .iter()
                .map(|r| {
                    vec![
                        get(r, "start", 0),
                        get(r, "channel", 0),
                        get(r, "visitor", 0),
                        get(r, "operators", 0),
                        get(r, "duration_min", 1),
                        get(r, "messages", 0),
                        get(r, "time_in_queue_s", 0),
                        get(r, "time_to_answer_s", 0),
                        get(r, "rating", 0),
                        get(r, "outcome", 0),
                    ]
                })
                .collect(),
        ),
        Report::Stats(_) => table(
            &[
                "GROUP",
                "SESSIONS",
                "AVG MIN",
                "AVG MSGS",
                "AVG ANSWER S",
                "AVG RATING",
                "NOT RATED",
                "HAPPY",
                "AVG QUEUE S",
            ],
            list(v, "rows")
                .iter()
                .map(|r| {
                    vec![
                        get(r, "label", 0),
                        get(r, "count", 0),
                        cell(&r["duration_min"]["avg"], 1),
                        cell(&r["messages"]["avg"], 1),
                        cell(&r["time_to_answer_s"]["avg"], 1),
                        cell(&r["rating"]["avg"], 2),
                        get(r, "not_rated", 0),
                        get(r, "happy", 0),
                        cell(&r["time_in_queue_s"]["avg"], 1),
                    ]
                })
                .collect(),
        ),
        Report::Operators(_) => table(
            &[
                "OPERATOR",
                "CHANNEL",
                "SESSIONS",
                "AVG MIN",
                "AVG RATING",
                "AVG ANSWER S",
            ],
            list(v, "operators")
                .iter()
                .map(|r| {
                    vec![
                        get(r, "operator", 0),
                        get(r, "channel", 0),
                        get(r, "sessions", 0),
                        get(r, "avg_duration_min", 1),
                        get(r, "avg_rating", 2),
                        get(r, "avg_time_to_answer_s", 1),
                    ]
                })
                .collect(),
        ),
        Report::Ratings(_) => {
            table(
                &["AT", "CHANNEL", "OPERATOR", "RATING", "COMMENT", "INTERNAL"],
                list(v, "ratings")
                    .iter()
                    .map(|r| {
                        vec![
                            get(r, "at", 0),
                            get(r, "channel", 0),
                            get(r, "operator", 0),
                            get(r, "label", 0),
                            get(r, "comment", 0),
                            if r["internal_only"] == Value::Bool(true) {
                                "yes".into()
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect(),
            );
            println!();
            table(
                &["BY", "NAME", "RATINGS", "HAPPY %", "OKAY %", "UNHAPPY %"],
                list(v, "shares")
                    .iter()
                    .map(|r| {
                        vec![
                            get(r, "by", 0),
                            get(r, "name", 0),
                            get(r, "total", 0),
                            get(r, "happy_pct", 0),
                            get(r, "okay_pct", 0),
                            get(r, "unhappy_pct", 0),
                        ]
                    })
                    .collect(),
            );
        }
        Report::Transcript { .. } | Report::Satisfaction(_) => {}
    }
}

/// `ochat report satisfaction`: one channel or every channel, as a table or JSON.
async fn satisfaction(api: &Api, a: &SatisfactionArgs) -> anyhow::Result<()> {
    let path = match &a.channel {
        Some(id) => format!(
            "/api/v1/livechat/channels/{}/satisfaction?days={}",
            encode(id),
            a.days
        ),
        None => format!("/api/v1/livechat/satisfaction?days={}", a.days),
    };
    let v = api.call(Method::GET, &path, None).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let rows: Vec<Value> = match v {
        Value::Array(list) => list,
        one => vec![one],
    };
    table(
        &[
            "CHANNEL",
            "NAME",
            "DAYS",
            "RATINGS",
            "HAPPY",
            "OKAY",
            "UNHAPPY",
            "SATISFACTION",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    cell(&r["channel_id"], 0),
                    cell(&r["channel_name"], 0),
                    cell(&r["days"], 0),
                    cell(&r["ratings"], 0),
                    cell(&r["happy"], 0),
                    cell(&r["okay"], 0),
                    cell(&r["unhappy"], 0),
                    match r["percent"].as_u64() {
                        Some(p) => format!("{p}%"),
                        None => "no ratings".into(),
                    },
                ]
            })
            .collect(),
    );
    Ok(())
}
