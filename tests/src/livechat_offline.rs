//! Helpers for the business-hours, offline-form and widget-language stories
//! (`tests/tests/livechat_offline.rs`, `web_widget_offline.rs`, `livechat_cli_offline.rs`):
//! fixed instants around a Paris office's hours, the widget's page check with the browser's
//! languages, a webhook receiver, and a headless Chromium that speaks a chosen language.

use anyhow::{Context, Result};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use fantoccini::ClientBuilder;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::livechat::ChatNode;
use crate::web::{Browser, Driver};

/// Wednesday 9 December 2026, 11:00 in Paris (10:00 UTC): inside "mon-fri 09:00-17:00".
pub const PARIS_WEDNESDAY_11H: u64 = 1_796_810_400_000;
/// The same day at 18:30 in Paris (17:30 UTC): after closing time.
pub const PARIS_WEDNESDAY_18H30: u64 = 1_796_837_400_000;

/// A Paris office's business hours: weekdays 9 to 5, closed on Christmas Day.
pub fn paris_office() -> Value {
    json!({"time_zone": "Europe/Paris", "weekly": ["mon-fri 09:00-17:00"],
           "holidays": ["2026-12-25"]})
}

/// The widget's page check as a browser speaking `languages` sends it (with `accept` as its
/// `Accept-Language`); answers (status, body).
pub async fn check(
    chat: &ChatNode,
    channel: &str,
    languages: &[&str],
    accept: &str,
) -> Result<(u16, Value)> {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/livechat/{channel}/check", chat.node.api))
        .header("accept-language", accept)
        .json(&json!({"page_url": "https://shop.example/contact", "languages": languages}))
        .timeout(crate::node::WAIT)
        .send()
        .await
        .context("checking the page")?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// A visitor sends the offline form; answers (status, body, Retry-After).
pub async fn send_offline(
    chat: &ChatNode,
    channel: &str,
    body: Value,
) -> Result<(u16, Value, Option<String>)> {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/livechat/{channel}/offline",
            chat.node.api
        ))
        .json(&body)
        .timeout(crate::node::WAIT)
        .send()
        .await
        .context("sending the offline form")?;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, resp.json().await.unwrap_or(Value::Null), retry))
}

/// The tickets (or leads: `kind` = "leads") `token` may read.
pub async fn records(chat: &ChatNode, token: &str, kind: &str) -> Result<Vec<Value>> {
    let list = chat
        .ok(
            token,
            Method::GET,
            &format!("/api/v1/livechat/{kind}"),
            None,
        )
        .await?;
    Ok(list.as_array().cloned().unwrap_or_default())
}

/// A webhook receiver on 127.0.0.1: its URL and the bodies it receives.
pub async fn webhook() -> Result<(String, mpsc::UnboundedReceiver<Value>)> {
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(tx): State<mpsc::UnboundedSender<Value>>, Json(v): Json<Value>| async move {
                    let _ = tx.send(v);
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}

/// A headless Chromium whose user speaks `lang` (e.g. "fr-FR,fr"): `--lang` and the
/// `intl.accept_languages` preference, so `navigator.languages` and `Accept-Language` agree.
pub async fn browser_speaking(driver: &Driver, name: &str, lang: &str) -> Result<Browser> {
    let profile = tempfile::tempdir()?;
    let primary = lang.split(',').next().unwrap_or(lang);
    let mut args: Vec<String> = crate::web::CHROMIUM_FLAGS
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.push(format!("--lang={primary}"));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": args,
               "prefs": {"intl": {"accept_languages": lang}}}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver.url())
        .await
        .context("starting a Chromium session")?;
    Ok(Browser::from_parts(client, name, profile))
}

/// Yesterday, today and tomorrow in UTC as `YYYY-MM-DD`: holidays that surely cover "now"
/// for a node on the real clock (a test running across midnight included).
pub fn utc_days_around_now() -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let today = i64::try_from(now / 86_400).unwrap_or(0);
    (today - 1..=today + 1).map(civil_date).collect()
}

/// The date of a day number since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_numbers_become_dates() {
        assert_eq!(super::civil_date(0), "1970-01-01");
        assert_eq!(super::civil_date(20_796), "2026-12-09");
        assert_eq!(super::civil_date(11_016), "2000-02-29");
    }
}
