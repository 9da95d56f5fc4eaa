//! Group `livechat`: a real node with live chat, driven like a website drives it, against bare
//! axum ([`crate::bare_http`]).
//!
//! - 32 visitors each post messages one after the other (HTTP POST); the figure is messages per
//!   second that the operator's WebSocket receives. The target is against the same shape with
//!   nothing stored: a bare axum POST route whose body is pushed to a WebSocket (≥ 0.5×; an
//!   HTTP request can never match a WebSocket echo). For information, the same figure against
//!   32 WebSocket clients of a bare axum echo route, one message in flight each.
//! - 16 clients GET one session's messages (operator token) as fast as they can; baseline: a
//!   bare axum route answering the same JSON bytes from memory.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use futures::StreamExt;
use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator, Visit};
use serde_json::json;

use crate::bare_http;
use crate::measure::{Sample, alternate};
use crate::opts::Opts;
use crate::table::{Row, Target};
use crate::ws::Socket;

const GROUP: &str = "livechat";
const VISITORS: usize = 32;
const READERS: usize = 16;

fn text(v: usize, n: usize) -> String {
    format!("visitor {v} asks question number {n}: is the blue one in stock?")
}

/// Every visitor posts `per_visitor` messages; counts them on the operator's socket.
async fn ours_messages(shop: &mut Shop, per_visitor: usize) -> Result<Sample> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, v) in shop.visits.iter().enumerate() {
        let node = shop.node.clone();
        let v = v.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per_visitor {
                node.say(&v.token, &v.session, &text(i, n)).await?;
            }
            anyhow::Ok(())
        }));
    }
    let expected = shop.visits.len() * per_visitor;
    let mut seen = 0;
    while seen < expected {
        let e = shop.operator.next().await.context("operator socket")?;
        if e["type"] == "lagged" {
            bail!("the operator socket lagged: {e}");
        }
        if e["type"] == "message" && e["message"]["author"] == "visitor" {
            seen += 1;
        }
    }
    let elapsed = start.elapsed();
    for t in tasks {
        t.await??;
    }
    Ok(Sample::rate(expected, elapsed))
}

async fn base_messages(echo: &bare_http::Server, per_client: usize) -> Result<Sample> {
    let mut sockets = Vec::new();
    for _ in 0..VISITORS {
        sockets.push(Socket::query(&echo.base, "/ws", "none").await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut s) in sockets.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for n in 0..per_client {
                let body = json!({"text": text(i, n)}).to_string();
                s.send_text(body.clone()).await?;
                if s.next_text().await? != body {
                    bail!("the echo differs");
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(Sample::rate(VISITORS * per_client, start.elapsed()))
}

/// 32 clients POST `per_client` messages each to the bare relay, counted on its WebSocket.
async fn relay_messages(
    http: &reqwest::Client,
    relay: &bare_http::Server,
    per_client: usize,
) -> Result<Sample> {
    let mut socket = Socket::query(&relay.base, "/ws", "none").await?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..VISITORS {
        let http = http.clone();
        let url = format!("{}/say", relay.base);
        tasks.push(tokio::spawn(async move {
            for n in 0..per_client {
                let resp = http
                    .post(&url)
                    .json(&json!({"text": text(i, n)}))
                    .send()
                    .await?;
                if resp.status() != reqwest::StatusCode::CREATED {
                    bail!("the relay answered {}", resp.status());
                }
                resp.json::<serde_json::Value>().await?;
            }
            anyhow::Ok(())
        }));
    }
    let expected = VISITORS * per_client;
    for _ in 0..expected {
        let e = socket.next().await.context("relay socket")?;
        if e["type"] == "lagged" {
            bail!("the relay socket lagged: {e}");
        }
    }
    let elapsed = start.elapsed();
    for t in tasks {
        t.await??;
    }
    Ok(Sample::rate(expected, elapsed))
}

/// 16 clients GET `url` `count` times in all (with `token` when given).
async fn gets(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    count: usize,
) -> Result<Sample> {
    let start = Instant::now();
    let results: Vec<Result<usize>> = futures::stream::iter(0..count)
        .map(|_| async move {
            let mut req = http.get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await?;
            if !resp.status().is_success() {
                bail!("GET answered {}", resp.status());
            }
            Ok(resp.bytes().await?.len())
        })
        .buffer_unordered(READERS)
        .collect()
        .await;
    for r in results {
        if r? == 0 {
            bail!("an empty answer");
        }
    }
    Ok(Sample::rate(count, start.elapsed()))
}

/// A shop with one operator on one channel: the operator's event socket and 32 visitors.
struct Shop {
    node: Arc<ChatNode>,
    op: Operator,
    channel: String,
    operator: Socket,
    visits: Vec<Visit>,
}

async fn setup(dir: &std::path::Path) -> Result<Shop> {
    let node = Arc::new(ChatNode::start(&dir.join("shop"), Arc::new(TestClock::new())).await?);
    let op = node.operator("alice", json!({"language": "en"})).await?;
    let channel = node.channel("Website", &[&op], json!({})).await?;
    let operator = Socket::query(
        &node.node.api,
        "/api/v1/livechat/operator/events",
        &op.token,
    )
    .await
    .context("operator socket")?;
    let mut visits = Vec::new();
    for i in 0..VISITORS {
        visits.push(
            node.visit(&channel, &format!("/shop/{i}"), "en", None, None)
                .await?,
        );
    }
    Ok(Shop {
        node,
        op,
        channel,
        operator,
        visits,
    })
}

/// Stops the shop's node.
async fn stop(shop: Shop) -> Result<()> {
    drop(shop.operator);
    if let Ok(node) = Arc::try_unwrap(shop.node) {
        let mut node = node.node;
        node.stop().await?;
    }
    Ok(())
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let mut shop = setup(dir.path()).await?;
    let echo = bare_http::serve(bare_http::echo_router()).await?;
    let per = opts.scale(60);
    let msgs = alternate(
        opts,
        async || ours_messages(&mut shop, per).await,
        async || base_messages(&echo, per).await,
    )
    .await
    .context("visitor messages")?;
    let mut rows = vec![Row::informative(
        GROUP,
        "visitor POST → operator WebSocket, 32 visitors — against a bare WebSocket echo",
        "msg/s",
        true,
        msgs.medians(),
    )];
    let relay = bare_http::serve(bare_http::relay_router()).await?;
    let http = reqwest::Client::new();
    let relayed = alternate(
        opts,
        async || ours_messages(&mut shop, per).await,
        async || relay_messages(&http, &relay, per).await,
    )
    .await
    .context("visitor messages against the bare relay")?;
    rows.push(Row::new(
        GROUP,
        "visitor POST → operator WebSocket, 32 visitors — against a bare axum POST pushed to a WebSocket",
        "msg/s",
        true,
        relayed.medians(),
        Target::AtLeast(0.5),
    ));

    // A session with a fixed transcript: the greeting and 20 visitor messages.
    let reader = shop
        .node
        .visit(&shop.channel, "/shop/reader", "en", None, None)
        .await?;
    for n in 0..20 {
        shop.node
            .say(&reader.token, &reader.session, &text(VISITORS, n))
            .await?;
    }
    let session = &reader.session;
    let url = format!(
        "{}/api/v1/livechat/sessions/{session}/messages",
        shop.node.node.api
    );
    let body = http
        .get(&url)
        .bearer_auth(&shop.op.token)
        .send()
        .await?
        .bytes()
        .await?;
    let same = bare_http::serve(bare_http::json_router(Bytes::from(body.to_vec()))).await?;
    let same_url = format!("{}/messages", same.base);
    let count = opts.scale(5000);
    let reads = alternate(
        opts,
        async || gets(&http, &url, Some(&shop.op.token), count).await,
        async || gets(&http, &same_url, None, count).await,
    )
    .await
    .context("session reads")?;
    rows.push(Row::new(
        GROUP,
        &format!(
            "GET a session's messages ({} B JSON), 16 clients",
            body.len()
        ),
        "req/s",
        true,
        reads.medians(),
        Target::AtLeast(0.5),
    ));
    stop(shop).await?;
    Ok(rows)
}

/// Only our side of the visitor POST → operator figure, many rounds, to run under a profiler
/// (`livechat-profile`; not part of `all`). Reports its rate on stderr.
pub async fn profile(opts: &Opts) -> Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let mut shop = setup(dir.path()).await?;
    ours_messages(&mut shop, opts.scale(60)).await?;
    let per = opts.scale(600);
    let sample = ours_messages(&mut shop, per).await?;
    eprintln!(
        "livechat-profile: {} messages from {VISITORS} visitors, {:.0} msg/s",
        per * VISITORS,
        sample.value
    );
    stop(shop).await?;
    Ok(Vec::new())
}
