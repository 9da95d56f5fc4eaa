//! `ochat channels`, `ochat send`, `ochat history`, `ochat read`, `ochat watch`: channel
//! messages from the command line, through the running node's API.

use anyhow::{Context, bail};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::args::{ChannelArg, HistoryArgs, SendArgs, WatchArgs};
use crate::client::Api;

/// Resolves a channel id or a unique prefix of one (or a channel name).
async fn channel(api: &Api, wanted: &str) -> anyhow::Result<String> {
    let list = api.call(Method::GET, "/api/v1/channels", None).await?;
    let all = list.as_array().cloned().unwrap_or_default();
    let matches: Vec<&Value> = all
        .iter()
        .filter(|c| {
            c["id"].as_str().is_some_and(|id| id.starts_with(wanted)) || c["name"] == wanted
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        [] => bail!("no channel matches '{wanted}' (see `ochat channels`)"),
        _ => bail!("several channels match '{wanted}': give more of the id"),
    }
}

fn line(m: &Value) -> String {
    let when = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(m["sent_at_ms"].as_u64().unwrap_or(0)),
    );
    let arrow = if m["direction"] == "out" {
        "→"
    } else {
        "←"
    };
    let body = match m["attachment"].as_object() {
        Some(a) => format!(
            "[file {} ({} bytes, {}){}]",
            a.get("name").and_then(Value::as_str).unwrap_or("?"),
            a.get("size").and_then(Value::as_u64).unwrap_or(0),
            a.get("mime").and_then(Value::as_str).unwrap_or("?"),
            if a.get("complete") == Some(&Value::Bool(true)) {
                ""
            } else {
                ", incomplete"
            }
        ),
        None => m["text"].as_str().unwrap_or_default().to_string(),
    };
    format!(
        "{when} {arrow} {}: {body}  [{}]",
        m["author"].as_str().unwrap_or_default(),
        m["state"].as_str().unwrap_or_default()
    )
}

/// `ochat channels`.
pub async fn channels(args: &ChannelArg) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let list = api.call(Method::GET, "/api/v1/channels", None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let rows = list.as_array().cloned().unwrap_or_default();
    let me = api.call(Method::GET, "/api/v1/instance", None).await?;
    if let Some(backup) = me["restored_from"]["backup"].as_str() {
        println!(
            "This node was restored from backup {backup}: what it received after that backup \
             was taken is not here, and each channel is re-keyed before it sends again."
        );
    }
    if rows.is_empty() {
        println!("No channels yet: a channel appears when a connection is accepted.");
    }
    for c in rows {
        println!(
            "{}  {:<24}  unread {:<4}  queued {:<4}  {}",
            c["id"].as_str().unwrap_or_default(),
            c["name"].as_str().unwrap_or_default(),
            c["unread"],
            c["queued"],
            c["remote_uuid"].as_str().unwrap_or_default()
        );
        if let Some(why) = c["rekey_needed"].as_str() {
            println!("    waiting for a re-key with the peer ({why}); sends wait for it");
        }
        if c["integrity"] == "peer_rolled_back" {
            println!(
                "    the peer reused message numbers (its state went back in time); {} message(s) refused",
                c["rollback"]["count"]
            );
        }
    }
    Ok(())
}

/// `ochat send CHANNEL TEXT` or `ochat send CHANNEL --file PATH`.
pub async fn send(args: &SendArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let id = channel(&api, &args.channel).await?;
    let sent = match (&args.file, &args.text) {
        (Some(path), _) => {
            let data = tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
                .to_string();
            let mime = args
                .mime
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            eprintln!("Sending {name} ({} bytes)…", data.len());
            api.upload(
                &format!(
                    "/api/v1/channels/{id}/attachments?name={}",
                    urlencode(&name)
                ),
                &mime,
                data,
            )
            .await?
        }
        (None, Some(text)) => {
            api.call(
                Method::POST,
                &format!("/api/v1/channels/{id}/messages"),
                Some(json!({"text": text})),
            )
            .await?
        }
        (None, None) => bail!("give a text or --file PATH"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sent)?);
    } else {
        println!("{}", line(&sent));
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `ochat history CHANNEL`.
pub async fn history(args: &HistoryArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let id = channel(&api, &args.channel).await?;
    let mut path = format!("/api/v1/channels/{id}/messages?limit={}", args.limit);
    if let Some(b) = &args.before {
        path.push_str(&format!("&before={b}"));
    }
    let page = api.call(Method::GET, &path, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    let mut messages = page["messages"].as_array().cloned().unwrap_or_default();
    messages.reverse();
    for m in &messages {
        println!("{}", line(m));
    }
    if let Some(older) = page["next_before"].as_str() {
        println!("(older messages: --before {older})");
    }
    if args.mark_read {
        api.call(Method::POST, &format!("/api/v1/channels/{id}/read"), None)
            .await?;
    }
    Ok(())
}

/// `ochat watch`: prints connection and message events as they happen.
pub async fn watch(args: &WatchArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let url = format!("{}/api/v1/events", api.base().replace("http://", "ws://"));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {}", api.token()).parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("cannot open the event stream (is `ochat run` running?)")?;
    eprintln!("Watching events; Ctrl-C to stop.");
    while let Some(frame) = ws.next().await {
        let frame = frame.context("the event stream broke")?;
        let Ok(text) = frame.to_text() else { continue };
        if text.is_empty() {
            continue;
        }
        if args.json {
            println!("{text}");
            continue;
        }
        let event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        match event["type"].as_str() {
            Some("message") => println!(
                "message {}: {}",
                event["event"].as_str().unwrap_or(""),
                line(&event["message"])
            ),
            Some("connection") => println!(
                "connection {}: {} {} ({})",
                event["event"].as_str().unwrap_or(""),
                event["connection"]["id"].as_str().unwrap_or(""),
                event["connection"]["status"].as_str().unwrap_or(""),
                event["connection"]["remote_uuid"].as_str().unwrap_or("")
            ),
            _ => println!("{text}"),
        }
    }
    Ok(())
}
