//! Group `reports`: live chat reports over 100,000 closed sessions (three messages each, half
//! of them rated, spread over 90 days and three channels) answered by a running node over
//! HTTP (`GET /api/v1/livechat/reports/stats?group_by=day` and `…/operators`), against a bare
//! scan (every key and value, no decoding) of the sled tree the reports read
//! (`lc_report_facts`) in the same process. The sessions are written straight into the
//! node's sled trees (going through the API would take hours); the warm-up report builds the
//! facts index once, as a node upgraded with existing sessions would.
//!
//! Target: the report answers in under a second (`ours ≤ 1000 ms`); the ratio says what the
//! decoding and aggregation cost on top of reading the tree.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ochat_node::livechat::messages::Message;
use ochat_node::livechat::ratings::Rating;
use ochat_node::livechat::sessions::Session;
use ochat_node::store::{encode, key, trees};
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::measure::{Sample, alternate};
use crate::opts::Opts;
use crate::table::{Row, Target};

const GROUP: &str = "reports";
const DAY_MS: u64 = 86_400_000;

/// Writes `count` closed sessions with their messages and ratings into the node's trees.
fn seed(node: &TestNode, count: usize, channels: &[Uuid], operators: &[Uuid]) -> Result<()> {
    let running = node.node.as_ref().context("the node is running")?;
    let store = &running.shared.store;
    let sessions = store.tree(trees::LC_SESSIONS)?;
    let messages = store.tree(trees::LC_MESSAGES)?;
    let ratings = store.tree(trees::LC_RATINGS)?;
    let start = 1_790_000_000_000u64;
    let step = 90 * DAY_MS / count as u64;
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let (mut sb, mut mb, mut rb) = (
            ochat_node::store::Batch::default(),
            ochat_node::store::Batch::default(),
            ochat_node::store::Batch::default(),
        );
        for &i in chunk {
            let id = Uuid::now_v7();
            let channel = channels[i % channels.len()];
            let op = operators[i % operators.len()];
            let at = start + i as u64 * step;
            let texts = [
                (
                    "visitor",
                    None,
                    20_000,
                    "Hello, I have a question about my order",
                ),
                (
                    "operator",
                    Some(op),
                    20_000 + (i as u64 % 120) * 1000,
                    "Sure, let me look.",
                ),
                ("visitor", None, 200_000, "Thanks!"),
            ];
            for (seq, (author, author_id, offset, text)) in texts.into_iter().enumerate() {
                let m = Message {
                    id: Uuid::now_v7(),
                    session_id: id,
                    seq: seq as u64,
                    author: author.into(),
                    author_id,
                    author_name: author.into(),
                    text: text.into(),
                    at_ms: at + offset,
                    only_for: None,
                    answers: Vec::new(),
                    file: None,
                };
                let k = key(&[id.as_bytes(), &(seq as u64).to_be_bytes()]);
                mb.insert(trees::LC_MESSAGES, k, encode(trees::LC_MESSAGES, &m)?)?;
            }
            let s = Session {
                id,
                channel_id: channel,
                visitor_id: (i % 3 != 0).then(|| format!("visitor-{}", i % 20_000)),
                token_hash: vec![0; 32],
                language: Some(["en-US", "fr-BE", "de-DE"][i % 3].into()),
                country: Some(["US", "BE", "DE", "GB"][i % 4].into()),
                page_url: "https://shop.example/chairs".into(),
                operators: vec![op],
                all_operators: vec![op],
                chatbot_id: None,
                created_at_ms: at,
                last_activity_ms: at + 200_000,
                closed_at_ms: Some(at + 300_000),
                pages: vec!["https://shop.example/chairs".into()],
                next_seq: 3,
                bot: None,
                handover_at_ms: None,
                no_operator: false,
                written: true,
                bot_records: 0,
                abandoned: false,
                queue: None,
                address: None,
                identity: None,
                page_times: vec![at],
            };
            sb.insert(
                trees::LC_SESSIONS,
                id.as_bytes(),
                encode(trees::LC_SESSIONS, &s)?,
            )?;
            if i % 2 == 0 {
                let r = Rating {
                    session_id: id,
                    channel_id: channel,
                    rating: [5, 3, 1][i % 3],
                    comment: Some("Fine".into()),
                    operator: Some(op),
                    internal_only: false,
                    at_ms: at + 300_000,
                };
                rb.insert(
                    trees::LC_RATINGS,
                    id.as_bytes(),
                    encode(trees::LC_RATINGS, &r)?,
                )?;
            }
        }
        messages.apply_batch(mb)?;
        sessions.apply_batch(sb)?;
        ratings.apply_batch(rb)?;
    }
    Ok(())
}

/// One report request, timed (ms).
async fn report(node: &TestNode, path: &str, want_rows: &str) -> Result<Sample> {
    let start = Instant::now();
    let v = node.ok(Method::GET, path, None).await?;
    let elapsed = start.elapsed();
    if v[want_rows].as_array().is_none_or(|r| r.is_empty()) {
        bail!("{path} answered no {want_rows}: {v}");
    }
    Ok(Sample::value(elapsed.as_secs_f64() * 1000.0))
}

/// A bare scan of the facts tree (ms): every key and value read, nothing decoded.
fn bare_scan(node: &TestNode, count: usize) -> Result<Sample> {
    let running = node.node.as_ref().context("the node is running")?;
    let tree = running.shared.store.tree(trees::LC_REPORT_FACTS)?;
    let start = Instant::now();
    let (mut n, mut bytes) = (0usize, 0usize);
    for item in tree.iter() {
        let (k, v) = item?;
        n += 1;
        bytes += k.len() + v.len();
    }
    let elapsed = start.elapsed();
    if n < count || bytes == 0 {
        bail!("the facts tree has {n} entries, expected {count}");
    }
    Ok(Sample::value(elapsed.as_secs_f64() * 1000.0))
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let count = opts.scale(100_000);
    let dir = tempfile::tempdir()?;
    let mut node = TestNode::start(test_config(&dir.path().join("node"), "Bench", None)).await?;
    let mut operators = Vec::new();
    for name in ["ann", "bob", "cem", "dee", "eli"] {
        let u = node
            .ok(
                Method::POST,
                "/api/v1/users",
                Some(json!({"name": name, "login": name, "password": format!("pw-{name}")})),
            )
            .await?;
        operators.push(Uuid::parse_str(u["id"].as_str().context("user id")?)?);
    }
    let mut channels = Vec::new();
    for name in ["Website", "Shop", "Support"] {
        let c = node
            .ok(
                Method::POST,
                "/api/v1/livechat/channels",
                Some(json!({"name": name, "operators": operators})),
            )
            .await?;
        channels.push(Uuid::parse_str(c["id"].as_str().context("channel id")?)?);
    }
    let seeding = Instant::now();
    seed(&node, count, &channels, &operators)?;
    eprintln!(
        "reports: seeded {count} sessions in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let indexing = Instant::now();
    report(&node, "/api/v1/livechat/reports/stats?group_by=day", "rows").await?;
    eprintln!(
        "reports: first report (builds the facts of {count} sessions) in {:.1} s",
        indexing.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    for (figure, path, field) in [
        (
            "statistics by day over {n} sessions, HTTP vs bare scan of the facts tree",
            "/api/v1/livechat/reports/stats?group_by=day",
            "rows",
        ),
        (
            "operator analysis over {n} sessions, HTTP vs bare scan of the facts tree",
            "/api/v1/livechat/reports/operators",
            "operators",
        ),
    ] {
        let pair = alternate(
            opts,
            async || report(&node, path, field).await,
            async || bare_scan(&node, count),
        )
        .await
        .with_context(|| format!("{path} rounds"))?;
        let (ours, base) = pair.medians();
        rows.push(Row::new(
            GROUP,
            &figure.replace("{n}", &count.to_string()),
            "ms",
            false,
            (ours, base),
            Target::WithinPlus((1000.0 - base).max(0.0).floor()),
        ));
    }
    tokio::time::timeout(Duration::from_secs(30), node.stop())
        .await
        .context("stopping the node")??;
    Ok(rows)
}
