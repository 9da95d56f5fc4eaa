//! Live chat reports: a shop's week of conversations is seeded through the real API with a
//! clock that stands still unless the test moves it, and every report (history, statistics,
//! operator analysis, ratings) is checked against values worked out by hand below. Also:
//! filters and empty ranges, CSV, who may read what, a visitor's export and erasure, and the
//! retention sweep.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::livechat::{Clock, TestClock};
use ochat_tests::livechat::{ChatNode, Operator, Socket, Visit};
use ochat_tests::process::ochat;
use reqwest::Method;
use serde_json::{Value, json};

/// Monday 2026-11-02 09:00:00 UTC.
const T0: u64 = 1_793_610_000_000;
const S: u64 = 1000;
const H: u64 = 3_600_000;
const D: u64 = 24 * H;

/// The seeded shop: two channels, two operators, five sessions.
struct Shop {
    chat: ChatNode,
    ann: Operator,
    bob: Operator,
    website: String,
    store: String,
    /// S1 … S5 (index 0 … 4).
    s: Vec<Visit>,
    _sockets: Vec<Socket>,
}

/// Moves the standing clock to `at` (ms).
fn set(chat: &ChatNode, at: u64) {
    let now = chat.clock.now_ms();
    assert!(at >= now, "the clock only moves forward");
    chat.clock.advance_ms(at - now);
}

async fn visit(
    chat: &ChatNode,
    channel: &str,
    lang: &str,
    country: &str,
    visitor: Option<&str>,
) -> Visit {
    chat.visit(
        channel,
        "https://shop.test/chairs",
        lang,
        Some(country),
        visitor,
    )
    .await
    .unwrap()
}

/// The operators are at their consoles: each reports activity (presence lasts 30 minutes
/// after the last one, however long a socket stays open).
async fn at_console(chat: &ChatNode, operators: &[&Operator]) {
    for op in operators {
        chat.ok(
            &op.token,
            Method::POST,
            "/api/v1/livechat/operator/activity",
            None,
        )
        .await
        .unwrap();
    }
}

async fn close(chat: &ChatNode, token: &str, session: &str) {
    chat.ok(
        token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{session}/close"),
        None,
    )
    .await
    .unwrap();
}

async fn rate(chat: &ChatNode, v: &Visit, rating: u8, comment: &str) {
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/rating", v.session),
        Some(json!({"rating": rating, "comment": comment})),
    )
    .await
    .unwrap();
}

/// The week, as the tables in the assertions below describe it.
///
/// | session | start (UTC) | channel | visitor | operator | messages (s after start) | rating |
/// |---|---|---|---|---|---|---|
/// | S1 | Mon 09:00 | Website | v-alice, fr-BE, BE | Ann | V 30, A 75, V 150, A 180 (+ /lead at 200) | 5 "Great help" |
/// | S2 | Mon 14:00 | Website | anonymous, en-US, US | Ann | V 10, A 130 | 1 "Too slow", internal only |
/// | S3 | Tue 10:00 | Store | v-carol, de-DE, DE | Bob | V 20 | none |
/// | S4 | Thu 16:30 | Store | anonymous, en-GB, GB | Bob | V 60, B 90, V 300 | 3 "ok" |
/// | S5 | Thu 17:00 | Website | v-alice, fr-BE, BE (open) | Ann | V 5 | none |
///
/// "Now" is Thu 17:00:05.
async fn seed(dir: &std::path::Path) -> Shop {
    let clock = Arc::new(TestClock::fixed_at(T0 - H));
    let chat = ChatNode::start(dir, clock).await.unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let bob = chat
        .operator("bob", json!({"chat_name": "Bob"}))
        .await
        .unwrap();
    let website = chat
        .channel("Website", &[&ann], json!({"published": true}))
        .await
        .unwrap();
    let store = chat.channel("Store", &[&bob], json!({})).await.unwrap();
    // Both operators have their console open; they act before each visitor comes.
    let events = "/api/v1/livechat/operator/events";
    let sockets = vec![
        chat.socket(events, &ann.token).await.unwrap(),
        chat.socket(events, &bob.token).await.unwrap(),
    ];
    let mut s = Vec::new();

    set(&chat, T0);
    at_console(&chat, &[&ann, &bob]).await;
    let v = visit(&chat, &website, "fr-BE", "BE", Some("v-alice")).await;
    set(&chat, T0 + 30 * S);
    chat.say(&v.token, &v.session, "Hello, do you sell chairs?")
        .await
        .unwrap();
    set(&chat, T0 + 75 * S);
    chat.say(&ann.token, &v.session, "Yes, many.")
        .await
        .unwrap();
    set(&chat, T0 + 150 * S);
    chat.say(&v.token, &v.session, "Great, thanks")
        .await
        .unwrap();
    set(&chat, T0 + 180 * S);
    chat.say(&ann.token, &v.session, "You're welcome")
        .await
        .unwrap();
    set(&chat, T0 + 200 * S);
    chat.say(&ann.token, &v.session, "/lead Chairs for Alice")
        .await
        .unwrap();
    set(&chat, T0 + 240 * S);
    close(&chat, &v.token, &v.session).await;
    rate(&chat, &v, 5, "Great help").await;
    s.push(v);

    let t = T0 + 5 * H;
    set(&chat, t);
    at_console(&chat, &[&ann, &bob]).await;
    let v = visit(&chat, &website, "en-US", "US", None).await;
    set(&chat, t + 10 * S);
    chat.say(&v.token, &v.session, "Where is my order?")
        .await
        .unwrap();
    set(&chat, t + 130 * S);
    chat.say(&ann.token, &v.session, "Let me check.")
        .await
        .unwrap();
    set(&chat, t + 200 * S);
    close(&chat, &ann.token, &v.session).await;
    rate(&chat, &v, 1, "Too slow").await;
    chat.admin(
        Method::PUT,
        &format!("/api/v1/livechat/sessions/{}/rating/visibility", v.session),
        Some(json!({"internal_only": true})),
    )
    .await
    .unwrap();
    s.push(v);

    let t = T0 + 25 * H;
    set(&chat, t);
    at_console(&chat, &[&ann, &bob]).await;
    let v = visit(&chat, &store, "de-DE", "DE", Some("v-carol")).await;
    set(&chat, t + 20 * S);
    chat.say(&v.token, &v.session, "Hallo?").await.unwrap();
    set(&chat, t + 60 * S);
    close(&chat, &v.token, &v.session).await;
    s.push(v);

    let t = T0 + 3 * D + 7 * H + 30 * 60 * S;
    set(&chat, t);
    at_console(&chat, &[&ann, &bob]).await;
    let v = visit(&chat, &store, "en-GB", "GB", None).await;
    set(&chat, t + 60 * S);
    chat.say(&v.token, &v.session, "Do you deliver?")
        .await
        .unwrap();
    set(&chat, t + 90 * S);
    chat.say(&bob.token, &v.session, "Yes, in a week.")
        .await
        .unwrap();
    set(&chat, t + 300 * S);
    chat.say(&v.token, &v.session, "Fine").await.unwrap();
    set(&chat, t + 320 * S);
    close(&chat, &v.token, &v.session).await;
    rate(&chat, &v, 3, "ok").await;
    s.push(v);

    let t = T0 + 3 * D + 8 * H;
    set(&chat, t);
    at_console(&chat, &[&ann, &bob]).await;
    let v = visit(&chat, &website, "fr-BE", "BE", Some("v-alice")).await;
    set(&chat, t + 5 * S);
    chat.say(&v.token, &v.session, "Me again").await.unwrap();
    s.push(v);

    Shop {
        chat,
        ann,
        bob,
        website,
        store,
        s,
        _sockets: sockets,
    }
}

/// The session ids of the admin's sessions history.
async fn report_ids(chat: &ChatNode) -> Vec<String> {
    let h = chat
        .admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
        .await
        .unwrap();
    Shop::ids(&h)
}

fn close_to(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

#[track_caller]
fn num(v: &Value, want: f64) {
    assert!(close_to(v, want), "expected {want}, got {v}");
}

impl Shop {
    async fn report(&self, token: &str, path: &str) -> Value {
        self.chat
            .ok(
                token,
                Method::GET,
                &format!("/api/v1/livechat/reports/{path}"),
                None,
            )
            .await
            .unwrap()
    }

    async fn admin_report(&self, path: &str) -> Value {
        let token = self.chat.node.token.clone();
        self.report(&token, path).await
    }

    fn id(&self, i: usize) -> &str {
        &self.s[i].session
    }

    /// Session ids of a history answer, in order.
    fn ids(history: &Value) -> Vec<String> {
        history["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn want(&self, which: &[usize]) -> Vec<String> {
        which.iter().map(|i| self.id(*i).to_string()).collect()
    }

    /// GETs a report path with extra headers, answering (status, content type, body text).
    async fn raw(&self, path: &str, accept: Option<&str>) -> (u16, String, String) {
        let mut req = reqwest::Client::new()
            .get(format!("{}{path}", self.chat.node.api))
            .bearer_auth(&self.chat.node.token)
            .timeout(Duration::from_secs(10));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, resp.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_measure_matches_the_week_worked_out_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = seed(&tmp.path().join("shop")).await;

    // Sessions history: every session, oldest first, with its measures.
    let h = shop.admin_report("sessions").await;
    assert_eq!(Shop::ids(&h), shop.want(&[0, 1, 2, 3, 4]));
    let rows = h["sessions"].as_array().unwrap();
    let s1 = &rows[0];
    assert_eq!(s1["channel"], "Website");
    assert_eq!(s1["visitor"], "v-alice");
    assert_eq!(s1["anonymous"], false);
    assert_eq!(s1["country"], "BE");
    assert_eq!(s1["language"], "fr-BE");
    assert_eq!(s1["operators"], json!(["Ann"]));
    assert_eq!(s1["start"], "2026-11-02T09:00:00Z");
    num(&s1["duration_min"], 3.0); // the last counted message, at 180 s
    assert_eq!(
        s1["messages"], 4,
        "the /lead notice is private and does not count"
    );
    assert_eq!(s1["speakers"], 2);
    num(&s1["time_to_answer_s"], 45.0);
    assert_eq!(s1["rating"], 5);
    assert_eq!(s1["comment"], "Great help");
    assert_eq!(s1["outcome"], "answered");
    assert_eq!(s1["status"], "closed");
    let s2 = &rows[1];
    assert_eq!(
        (s2["visitor"].as_str(), s2["anonymous"].as_bool()),
        (Some("Anonymous"), Some(true))
    );
    num(&s2["duration_min"], 130.0 / 60.0);
    num(&s2["time_to_answer_s"], 120.0);
    assert_eq!(s2["rating"], 1);
    let s3 = &rows[2];
    assert_eq!(s3["channel"], "Store");
    assert_eq!(s3["outcome"], "no_answer");
    assert_eq!(s3["time_to_answer_s"], Value::Null, "Bob never wrote");
    assert_eq!(s3["rating"], Value::Null);
    num(&s3["duration_min"], 20.0 / 60.0);
    assert_eq!(
        (s3["messages"].as_u64(), s3["speakers"].as_u64()),
        (Some(1), Some(1))
    );
    let s4 = &rows[3];
    num(&s4["duration_min"], 5.0);
    num(&s4["time_to_answer_s"], 30.0);
    assert_eq!(
        (s4["messages"].as_u64(), s4["rating"].as_u64()),
        (Some(3), Some(3))
    );
    let s5 = &rows[4];
    assert_eq!(s5["status"], "open", "open sessions are reported too");
    assert_eq!(s5["outcome"], "no_answer");
    num(&s5["duration_min"], 5.0 / 60.0);

    // Statistics by day: count, sums and averages.
    let days = shop.admin_report("stats?group_by=day").await;
    assert_eq!(days["group_by"], "day");
    let r = days["rows"].as_array().unwrap();
    let keys: Vec<&str> = r.iter().map(|x| x["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["2026-11-02", "2026-11-03", "2026-11-05", "total"]);
    let mon = &r[0];
    assert_eq!(mon["count"], 2);
    num(&mon["duration_min"]["sum"], 3.0 + 130.0 / 60.0);
    num(&mon["duration_min"]["avg"], (3.0 + 130.0 / 60.0) / 2.0);
    num(&mon["time_to_answer_s"]["avg"], 82.5);
    assert_eq!(mon["time_to_answer_s"]["n"], 2);
    num(&mon["rating"]["avg"], 3.0);
    assert_eq!(
        (mon["happy"].as_u64(), mon["not_rated"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(mon["anonymous"], 1);
    num(&mon["messages"]["sum"], 6.0);
    num(&mon["speakers"]["avg"], 2.0);
    num(&mon["days_of_activity"]["avg"], 4.0); // Monday to Thursday, + 1
    let tue = &r[1];
    assert_eq!(tue["count"], 1);
    assert_eq!(
        tue["time_to_answer_s"]["avg"],
        Value::Null,
        "no answer: no average"
    );
    assert_eq!(tue["time_to_answer_s"]["n"], 0);
    assert_eq!(tue["rating"]["avg"], Value::Null);
    assert_eq!(tue["not_rated"], 1);
    num(&tue["days_of_activity"]["sum"], 3.0);
    let thu = &r[2];
    assert_eq!(thu["count"], 2);
    num(&thu["time_to_answer_s"]["avg"], 30.0);
    num(&thu["messages"]["avg"], 2.0);
    num(&thu["duration_min"]["sum"], 5.0 + 5.0 / 60.0);
    num(&thu["days_of_activity"]["sum"], 2.0);
    let total = &r[3];
    assert_eq!(total["count"], 5);
    num(&total["time_to_answer_s"]["sum"], 195.0);
    num(&total["time_to_answer_s"]["avg"], 65.0);
    num(&total["rating"]["sum"], 9.0);
    num(&total["rating"]["avg"], 3.0);
    assert_eq!(total["rating"]["n"], 3);
    assert_eq!(total["not_rated"], 2);
    assert_eq!(total["happy"], 1);
    assert_eq!(total["anonymous"], 2);
    num(&total["messages"]["sum"], 11.0);
    num(&total["messages"]["avg"], 2.2);
    num(&total["speakers"]["sum"], 8.0);
    num(&total["days_of_activity"]["sum"], 13.0);

    // The other groupings.
    let group = |v: &Value| -> Vec<(String, String, u64)> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["key"].as_str().unwrap().to_string(),
                    x["label"].as_str().unwrap().to_string(),
                    x["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let kv = |list: &[(&str, &str, u64)]| -> Vec<(String, String, u64)> {
        list.iter()
            .map(|(k, l, n)| (k.to_string(), l.to_string(), *n))
            .collect()
    };
    assert_eq!(
        group(&shop.admin_report("stats?group_by=weekday").await),
        kv(&[
            ("0", "monday", 2),
            ("1", "tuesday", 1),
            ("3", "thursday", 2),
            ("total", "total", 5)
        ])
    );
    assert_eq!(
        group(&shop.admin_report("stats?group_by=hour").await),
        kv(&[
            ("9", "09:00", 1),
            ("10", "10:00", 1),
            ("14", "14:00", 1),
            ("16", "16:00", 1),
            ("17", "17:00", 1),
            ("total", "total", 5)
        ])
    );
    assert_eq!(
        group(&shop.admin_report("stats?group_by=channel").await),
        kv(&[
            (shop.store.as_str(), "Store", 2),
            (shop.website.as_str(), "Website", 3),
            ("total", "total", 5)
        ])
    );
    let by_op = shop.admin_report("stats?group_by=operator").await;
    assert_eq!(
        group(&by_op),
        kv(&[
            (shop.ann.id.as_str(), "Ann", 3),
            (shop.bob.id.as_str(), "Bob", 2),
            ("total", "total", 5)
        ])
    );
    num(&by_op["rows"][0]["time_to_answer_s"]["avg"], 82.5);
    assert_eq!(
        group(&shop.admin_report("stats?group_by=country").await),
        kv(&[
            ("BE", "BE", 2),
            ("DE", "DE", 1),
            ("GB", "GB", 1),
            ("US", "US", 1),
            ("total", "total", 5)
        ])
    );
    assert_eq!(
        group(&shop.admin_report("stats?group_by=language").await),
        kv(&[
            ("de-DE", "de-DE", 1),
            ("en-GB", "en-GB", 1),
            ("en-US", "en-US", 1),
            ("fr-BE", "fr-BE", 2),
            ("total", "total", 5)
        ])
    );
    assert_eq!(
        group(&shop.admin_report("stats?group_by=outcome").await),
        kv(&[
            ("answered", "answered", 3),
            ("no_answer", "no_answer", 2),
            ("total", "total", 5)
        ])
    );

    // Operator analysis, per operator and channel.
    let ops = shop.admin_report("operators").await;
    let ops = ops["operators"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    let (ann, bob) = (&ops[0], &ops[1]);
    assert_eq!(
        (ann["operator"].as_str(), ann["channel"].as_str()),
        (Some("Ann"), Some("Website"))
    );
    assert_eq!(ann["sessions"], 3);
    num(
        &ann["avg_duration_min"],
        (3.0 + 130.0 / 60.0 + 5.0 / 60.0) / 3.0,
    );
    assert_eq!(ann["rated"], 2);
    num(&ann["avg_rating"], 3.0);
    assert_eq!(ann["answered"], 2);
    num(&ann["avg_time_to_answer_s"], 82.5);
    assert_eq!(
        (bob["operator"].as_str(), bob["channel"].as_str()),
        (Some("Bob"), Some("Store"))
    );
    assert_eq!(bob["sessions"], 2);
    num(&bob["avg_duration_min"], (20.0 / 60.0 + 5.0) / 2.0);
    num(&bob["avg_rating"], 3.0);
    assert_eq!(bob["answered"], 1);
    num(&bob["avg_time_to_answer_s"], 30.0);

    // Customer ratings: the list with comments, the shares, what is published.
    let all = shop.admin_report("ratings").await;
    let list: Vec<(u64, &str, bool)> = all["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rating"].as_u64().unwrap(),
                r["comment"].as_str().unwrap(),
                r["internal_only"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        list,
        [
            (5, "Great help", false),
            (1, "Too slow", true),
            (3, "ok", false)
        ]
    );
    let shares: Vec<(String, String, u64, f64, f64, f64)> = all["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["by"].as_str().unwrap().to_string(),
                s["name"].as_str().unwrap().to_string(),
                s["total"].as_u64().unwrap(),
                s["happy_pct"].as_f64().unwrap(),
                s["okay_pct"].as_f64().unwrap(),
                s["unhappy_pct"].as_f64().unwrap(),
            )
        })
        .collect();
    let share =
        |by: &str, name: &str, total, h, o, u| (by.to_string(), name.to_string(), total, h, o, u);
    assert_eq!(
        shares,
        [
            share("channel", "Store", 1, 0.0, 100.0, 0.0),
            share("channel", "Website", 2, 50.0, 0.0, 50.0),
            share("operator", "Ann", 2, 50.0, 0.0, 50.0),
            share("operator", "Bob", 1, 0.0, 100.0, 0.0),
        ]
    );
    let public = shop.admin_report("ratings?public=true").await;
    let comments: Vec<&str> = public["ratings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["comment"].as_str().unwrap())
        .collect();
    assert_eq!(
        comments,
        ["Great help"],
        "the internal-only rating and the unpublished channel's stay out"
    );
    assert_eq!(public["shares"][0]["happy_pct"], 100.0);
    let page = shop
        .chat
        .call(
            None,
            Method::GET,
            &format!("/api/v1/livechat/public/channels/{}/ratings", shop.website),
            None,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(page.as_array().unwrap().len(), 1, "the public page agrees");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_empty_ranges_csv_transcripts_and_who_may_read() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = seed(&tmp.path().join("shop")).await;
    let ids = |v: Value| Shop::ids(&v);

    // Filters.
    assert_eq!(
        ids(shop
            .admin_report("sessions?from=2026-11-03&to=2026-11-03")
            .await),
        shop.want(&[2])
    );
    assert_eq!(
        ids(shop
            .admin_report("sessions?from=2026-11-02T12:00:00Z&to=2026-11-05T17:00:00Z")
            .await),
        shop.want(&[1, 2, 3]),
        "an RFC 3339 `to` is excluded"
    );
    assert_eq!(
        ids(shop
            .admin_report(&format!("sessions?channel={}", shop.store))
            .await),
        shop.want(&[2, 3])
    );
    assert_eq!(
        ids(shop
            .admin_report(&format!("sessions?operator={}", shop.ann.id))
            .await),
        shop.want(&[0, 1, 4])
    );
    assert_eq!(
        ids(shop.admin_report("sessions?rating=0").await),
        shop.want(&[2, 4])
    );
    assert_eq!(
        ids(shop.admin_report("sessions?rating=happy").await),
        shop.want(&[0])
    );
    assert_eq!(
        ids(shop.admin_report("sessions?outcome=no_answer").await),
        shop.want(&[2, 4])
    );
    assert_eq!(
        ids(shop.admin_report("sessions?outcome=no_agent").await),
        shop.want(&[])
    );
    let tue = shop
        .admin_report("operators?from=2026-11-03&to=2026-11-04")
        .await;
    assert_eq!(tue["operators"][0]["answered"], 0);
    assert_eq!(
        tue["operators"][0]["avg_time_to_answer_s"],
        Value::Null,
        "Bob's unanswered Tuesday"
    );

    // An empty range: no rows, a total of zero with no averages.
    let empty = "from=2026-12-01&to=2026-12-31";
    assert_eq!(
        ids(shop.admin_report(&format!("sessions?{empty}")).await),
        shop.want(&[])
    );
    let stats = shop
        .admin_report(&format!("stats?group_by=day&{empty}"))
        .await;
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["key"].as_str(), rows[0]["count"].as_u64()),
        (Some("total"), Some(0))
    );
    assert_eq!(rows[0]["duration_min"]["avg"], Value::Null);
    assert_eq!(rows[0]["rating"]["avg"], Value::Null);
    assert_eq!(
        shop.admin_report(&format!("operators?{empty}")).await["operators"],
        json!([])
    );
    assert_eq!(
        shop.admin_report(&format!("ratings?{empty}")).await["shares"],
        json!([])
    );

    // Bad input: a clear error, nothing else.
    for (path, says) in [
        ("sessions?from=yesterday", "from must be a day"),
        ("sessions?channel=web", "channel must be an id"),
        ("sessions?rating=4", "rating is 5"),
        ("sessions?outcome=won", "outcome is one of"),
        (
            "sessions?from=2026-11-05&to=2026-11-02",
            "from must be before to",
        ),
        ("stats?group_by=year", "group_by is one of"),
        ("sessions?format=xml", "format is csv or json"),
        ("ratings?public=maybe", "public"),
    ] {
        let (status, body) = shop
            .chat
            .call(
                Some(shop.chat.node.token.as_str()),
                Method::GET,
                &format!("/api/v1/livechat/reports/{path}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }

    // CSV, by query or by Accept header.
    let (status, ct, csv) = shop
        .raw("/api/v1/livechat/reports/sessions?format=csv", None)
        .await;
    assert_eq!((status, ct.as_str()), (200, "text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6, "a header and five sessions:\n{csv}");
    assert!(
        lines[0].starts_with(
            "id,channel,visitor,anonymous,country,language,operators,start,duration_min"
        )
    );
    assert_eq!(
        lines[1],
        format!(
            // The last cell, time in the queue, is empty: she did not wait in line.
            "{},Website,v-alice,false,BE,fr-BE,Ann,2026-11-02T09:00:00Z,3,4,2,45,5,Great help,answered,closed,",
            shop.id(0)
        )
    );
    assert!(
        lines[3].ends_with(",,,no_answer,closed,"),
        "no answer, no rating: empty cells: {}",
        lines[3]
    );
    let (_, ct, csv) = shop
        .raw(
            "/api/v1/livechat/reports/stats?group_by=weekday",
            Some("text/csv"),
        )
        .await;
    assert!(ct.starts_with("text/csv"));
    assert!(
        csv.lines().nth(1).unwrap().starts_with("0,monday,2,"),
        "{csv}"
    );
    let (_, _, csv) = shop
        .raw("/api/v1/livechat/reports/operators?format=csv", None)
        .await;
    assert!(
        csv.contains(&format!("{},Bob,{},Store,2,", shop.bob.id, shop.store)),
        "{csv}"
    );
    let (_, _, csv) = shop
        .raw("/api/v1/livechat/reports/ratings/shares?format=csv", None)
        .await;
    assert!(csv.contains("Website,2,1,0,1,50,0,50"), "{csv}");

    // The transcript download.
    let (status, ct, text) = shop
        .raw(
            &format!(
                "/api/v1/livechat/reports/sessions/{}/transcript",
                shop.id(0)
            ),
            None,
        )
        .await;
    assert_eq!((status, ct.as_str()), (200, "text/plain; charset=utf-8"));
    assert!(text.contains("Channel: Website"), "{text}");
    assert!(
        text.contains("2026-11-02T09:00:30Z Visitor: Hello, do you sell chairs?"),
        "{text}"
    );
    assert!(
        text.contains("2026-11-02T09:01:15Z Ann: Yes, many."),
        "{text}"
    );

    // Who may read: Bob sees his channel only; visitors and strangers nothing.
    let bobs = shop.report(&shop.bob.token, "sessions").await;
    assert_eq!(Shop::ids(&bobs), shop.want(&[2, 3]));
    let bob_ratings = shop.report(&shop.bob.token, "ratings").await;
    assert_eq!(bob_ratings["ratings"].as_array().unwrap().len(), 1);
    let (status, _) = shop
        .chat
        .call(
            Some(&shop.bob.token),
            Method::GET,
            &format!("/api/v1/livechat/reports/sessions?channel={}", shop.website),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "Bob asks for a channel he is not in");
    let (status, _) = shop
        .chat
        .call(
            Some(&shop.bob.token),
            Method::GET,
            &format!(
                "/api/v1/livechat/reports/sessions/{}/transcript",
                shop.id(0)
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "nor may he read its transcripts");
    let visitor = &shop.s[4].token;
    for path in ["sessions", "stats", "operators", "ratings"] {
        let (status, body) = shop
            .chat
            .call(
                Some(visitor),
                Method::GET,
                &format!("/api/v1/livechat/reports/{path}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 403, "{path}: {body}");
        let (status, _) = shop
            .chat
            .call(
                None,
                Method::GET,
                &format!("/api/v1/livechat/reports/{path}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_and_then_erases_everything_about_a_visitor() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = seed(&tmp.path().join("shop")).await;
    let alice = "/api/v1/livechat/visitors/v-alice";

    let (status, _) = shop
        .chat
        .call(
            Some(&shop.ann.token),
            Method::GET,
            &format!("{alice}/export"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "only the admin exports");
    let export = shop
        .chat
        .admin(Method::GET, &format!("{alice}/export"), None)
        .await
        .unwrap();
    let sessions: Vec<&str> = export["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(sessions, [shop.id(0), shop.id(4)]);
    assert_eq!(
        export["messages"].as_array().unwrap().len(),
        4 + 1 + 1,
        "with the private /lead notice"
    );
    assert_eq!(export["ratings"][0]["comment"], "Great help");
    assert_eq!(export["leads"][0]["title"], "Chairs for Alice");
    assert_eq!(export["returning"]["operator"], shop.ann.id.as_str());

    let (status, _) = shop
        .chat
        .call(Some(&shop.ann.token), Method::DELETE, alice, None)
        .await
        .unwrap();
    assert_eq!(status, 403, "only the admin erases");
    let erased = shop.chat.admin(Method::DELETE, alice, None).await.unwrap();
    assert_eq!(
        erased,
        json!({"sessions": 2, "messages": 6, "ratings": 1, "records": 1, "returning": true, "files": 0}),
        "the open session was closed and erased too"
    );
    let after = shop
        .chat
        .admin(Method::GET, &format!("{alice}/export"), None)
        .await
        .unwrap();
    assert_eq!(after["sessions"], json!([]));
    assert_eq!(after["returning"], Value::Null);
    assert_eq!(
        Shop::ids(&shop.admin_report("sessions").await),
        shop.want(&[1, 2, 3])
    );
    let (status, _) = shop
        .chat
        .call(
            Some(shop.chat.node.token.as_str()),
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/messages", shop.id(0)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let leads = shop
        .chat
        .admin(Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    assert_eq!(leads, json!([]));
    // Carol is untouched.
    let carol = shop
        .chat
        .admin(
            Method::GET,
            "/api/v1/livechat/visitors/v-carol/export",
            None,
        )
        .await
        .unwrap();
    assert_eq!(carol["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_sessions_older_than_the_retention_are_deleted_by_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(T0));
    let chat = ChatNode::start_with(&tmp.path().join("shop"), clock, |c| {
        c.livechat.retention_days = Some(30);
        c.livechat.retention_sweep_every = Some(Duration::from_millis(50));
        // Ann's token sits idle for 20 days here; it would expire after the default 14.
        c.livechat.token_idle_days = Some(60);
    })
    .await
    .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let _socket = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let talk = |v: Visit| {
        let chat = &chat;
        let ann = &ann;
        async move {
            chat.say(&v.token, &v.session, "Hi").await.unwrap();
            chat.say(&ann.token, &v.session, "Hello").await.unwrap();
            v
        }
    };
    at_console(&chat, &[&ann]).await;
    let old = talk(visit(&chat, &channel, "en", "BE", None).await).await;
    close(&chat, &old.token, &old.session).await;
    rate(&chat, &old, 5, "old").await;
    set(&chat, T0 + 20 * D);
    at_console(&chat, &[&ann]).await;
    let recent = talk(visit(&chat, &channel, "en", "BE", None).await).await;
    close(&chat, &recent.token, &recent.session).await;
    set(&chat, T0 + 25 * D);
    at_console(&chat, &[&ann]).await;
    let open = talk(visit(&chat, &channel, "en", "BE", None).await).await;

    let admin = chat.node.token.clone();
    assert_eq!(
        report_ids(&chat).await.len(),
        3,
        "nothing is 30 days old yet"
    );

    // 31 days after the first session closed (11 after the second).
    set(&chat, T0 + 31 * D);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = report_ids(&chat).await;
        if now.len() == 2 {
            assert_eq!(now, [recent.session.clone(), open.session.clone()]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep did not run: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = chat
        .call(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/messages", old.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "the old session and its messages are gone");
    let (status, _) = chat
        .call(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/rating", old.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "and its rating");
    // An open session is never swept, however old.
    set(&chat, T0 + 400 * D);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = report_ids(&chat).await;
        if now.len() == 1 {
            assert_eq!(now, std::slice::from_ref(&open.session));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep did not run: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `ochat ARGS --data-dir DIR` (off the runtime's threads); answers stdout, insisting on
/// success.
async fn cli(dir: &std::path::Path, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--data-dir".to_string(), dir.to_str().unwrap().to_string()]);
    let out = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        ochat(&refs).unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ochat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_every_report_as_a_table_json_and_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = seed(&tmp.path().join("shop")).await;
    let dir = shop.chat.node.data_dir.clone();

    let table = cli(
        &dir,
        &[
            "report",
            "sessions",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-02",
        ],
    )
    .await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and Monday's two sessions:\n{table}"
    );
    assert!(lines[0].starts_with("START"));
    assert!(
        lines[1].starts_with("2026-11-02T09:00:00Z  Website  v-alice"),
        "{table}"
    );
    assert!(lines[1].trim_end().ends_with("answered"), "{table}");

    let weekdays = cli(
        &dir,
        &[
            "report",
            "stats",
            "--group-by",
            "weekday",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-08",
        ],
    )
    .await;
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/livechat.md"))
            .unwrap();
    let start = guide
        .find("GROUP     SESSIONS")
        .expect("docs/livechat.md shows this table");
    let end = start + guide[start..].find("```").unwrap();
    assert_eq!(
        weekdays,
        guide[start..end],
        "docs/livechat.md's example is this week's"
    );

    let json: Value = serde_json::from_str(
        &cli(
            &dir,
            &["report", "stats", "--group-by", "outcome", "--json"],
        )
        .await,
    )
    .unwrap();
    assert_eq!(json["rows"][0]["key"], "answered");
    assert_eq!(json["rows"][0]["count"], 3);

    let csv = cli(
        &dir,
        &["report", "operators", "--channel", &shop.store, "--csv"],
    )
    .await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",Bob,"), "{csv}");

    let ratings = cli(&dir, &["report", "ratings", "--rating", "unhappy"]).await;
    assert!(ratings.contains("Too slow"), "{ratings}");
    assert!(!ratings.contains("Great help"), "{ratings}");
    let shares = cli(
        &dir,
        &["report", "ratings", "--public", "--shares", "--csv"],
    )
    .await;
    assert!(shares.contains("Website,1,1,0,0,100,0,0"), "{shares}");

    let transcript = cli(&dir, &["report", "transcript", shop.id(3)]).await;
    assert!(transcript.contains("Bob: Yes, in a week."), "{transcript}");

    let bad = tokio::task::spawn_blocking(move || {
        ochat(&[
            "report",
            "sessions",
            "--from",
            "soon",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .unwrap()
    })
    .await
    .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("from must be a day"), "{err}");
}

/// A small script: a greeting, the visitor's name, then "talk to a person?" (yes forwards).
fn desk_bot() -> Value {
    json!({
        "name": "Desk bot",
        "operator_name": "Deskbot",
        "steps": [
            {"type": "text", "message": "Hi, I am Deskbot."},
            {"type": "free_input", "message": "What is your name?"},
            {"type": "question", "message": "Talk to a person?", "answers": [
                {"id": "yes", "text": "Yes"}, {"id": "no", "text": "No"}]},
            {"type": "forward_to_operator", "message": "Connecting you.", "only_if": ["yes"]},
            {"type": "text", "message": "Goodbye!"}
        ]
    })
}

async fn answer(chat: &ChatNode, v: &Visit, text: &str, answer_id: Option<&str>) {
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/messages", v.session),
        Some(json!({"text": text, "answer_id": answer_id})),
    )
    .await
    .unwrap();
}

/// | session | start | what happens (s after start) |
/// |---|---|---|
/// | B3 | Mon 09:00 | nobody present: the bot alone; V "Carol" 10, V "Yes" 20 (the forward finds nobody), "Goodbye!" |
/// | B1 | Mon 10:00 | V "Alice" 10, V "Yes" 40 (Ann joins: hand-over at 40), Ann 70 |
/// | B2 | Mon 11:00 | V "Bob" 10, V "No" 30, "Goodbye!" |
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_with_the_chatbot_are_forwarded_bot_only_or_without_an_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(
        &tmp.path().join("desk"),
        Arc::new(TestClock::fixed_at(T0 - H)),
    )
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Desk", &[&ann], json!({})).await.unwrap();
    let bot = chat
        .admin(Method::POST, "/api/v1/livechat/chatbots", Some(desk_bot()))
        .await
        .unwrap();
    chat.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"sequence": 1, "action": "show", "url_regex": "",
                    "chatbot_id": bot["id"], "chatbot_condition": "always"})),
    )
    .await
    .unwrap();

    // An hour after Ann's last call, with no socket open, nobody is available.
    set(&chat, T0);
    let b3 = visit(&chat, &channel, "en", "BE", None).await;
    assert_eq!(b3.answer["session"]["no_operator"], true);
    set(&chat, T0 + 10 * S);
    answer(&chat, &b3, "Carol", None).await;
    set(&chat, T0 + 20 * S);
    answer(&chat, &b3, "Yes", Some("yes")).await;

    let _socket = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let t = T0 + H;
    set(&chat, t);
    at_console(&chat, &[&ann]).await;
    let b1 = visit(&chat, &channel, "en", "BE", None).await;
    set(&chat, t + 10 * S);
    answer(&chat, &b1, "Alice", None).await;
    set(&chat, t + 40 * S);
    answer(&chat, &b1, "Yes", Some("yes")).await;
    set(&chat, t + 70 * S);
    chat.say(&ann.token, &b1.session, "Hello Alice, Ann here.")
        .await
        .unwrap();
    set(&chat, t + 80 * S);
    close(&chat, &ann.token, &b1.session).await;

    let t = T0 + 2 * H;
    set(&chat, t);
    at_console(&chat, &[&ann]).await;
    let b2 = visit(&chat, &channel, "en", "BE", None).await;
    set(&chat, t + 10 * S);
    answer(&chat, &b2, "Bob", None).await;
    set(&chat, t + 30 * S);
    answer(&chat, &b2, "No", Some("no")).await;
    for v in [&b3, &b2] {
        close(&chat, &v.token, &v.session).await;
    }

    let h = chat
        .admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
        .await
        .unwrap();
    let rows = h["sessions"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [b3.session.as_str(), &b1.session, &b2.session]);
    let (r3, r1, r2) = (&rows[0], &rows[1], &rows[2]);

    assert_eq!(r3["outcome"], "no_agent");
    assert_eq!(r3["operators"], json!([]));
    // Hi, name?, "Carol", the question, "Yes", Goodbye (the failed forward says nothing).
    assert_eq!(
        (r3["messages"].as_u64(), r3["speakers"].as_u64()),
        (Some(6), Some(2))
    );
    num(&r3["duration_min"], 20.0 / 60.0);
    assert_eq!(r3["time_to_answer_s"], Value::Null);

    assert_eq!(r1["outcome"], "forwarded");
    assert_eq!(r1["operators"], json!(["Ann"]));
    // Hi, name?, "Alice", the question, "Yes", "Connecting you.", Ann (the join notice is a
    // system message and does not count).
    assert_eq!(
        (r1["messages"].as_u64(), r1["speakers"].as_u64()),
        (Some(7), Some(3))
    );
    num(&r1["time_to_answer_s"], 30.0); // from the hand-over at 40 s, not the visitor's 10 s
    num(&r1["duration_min"], 70.0 / 60.0);

    assert_eq!(r2["outcome"], "bot_only");
    assert_eq!(
        (r2["messages"].as_u64(), r2["speakers"].as_u64()),
        (Some(6), Some(2))
    );
    num(&r2["duration_min"], 0.5);

    let by = chat
        .admin(
            Method::GET,
            "/api/v1/livechat/reports/stats?group_by=outcome",
            None,
        )
        .await
        .unwrap();
    let counts: Vec<(&str, u64)> = by["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        counts,
        [
            ("forwarded", 1),
            ("no_agent", 1),
            ("bot_only", 1),
            ("total", 3)
        ]
    );
    let ops = chat
        .admin(Method::GET, "/api/v1/livechat/reports/operators", None)
        .await
        .unwrap();
    assert_eq!(ops["operators"].as_array().unwrap().len(), 1);
    assert_eq!(ops["operators"][0]["sessions"], 1);
    num(&ops["operators"][0]["avg_time_to_answer_s"], 30.0);
    let only_bot = chat
        .admin(
            Method::GET,
            "/api/v1/livechat/reports/sessions?outcome=bot_only",
            None,
        )
        .await
        .unwrap();
    assert_eq!(Shop::ids(&only_bot), std::slice::from_ref(&b2.session));
}

/// Runs headless Chromium on `url` with `extra` arguments; answers stdout.
async fn chromium(extra: Vec<String>, url: String) -> String {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--virtual-time-budget=10000",
                "--window-size=1200,900",
            ])
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium is installed (apt-get install -y chromium)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The console page in a real browser (headless Chromium, which CI installs for the web
/// tests): it takes the token from the fragment, reads the three reports and draws their
/// charts. With `OCHAT_SCREENSHOT=1` it also rewrites `docs/reports.png` for the docs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_page_draws_the_charts_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = seed(&tmp.path().join("shop")).await;
    let (status, ct, html) = shop.raw("/console/reports", None).await;
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(!html.contains("<script>"), "no inline script");
    let csp = reqwest::get(format!("{}/console/reports", shop.chat.node.api))
        .await
        .unwrap()
        .headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let url = format!(
        "{}/console/reports#token={}",
        shop.chat.node.api, shop.chat.node.token
    );
    let dom = chromium(vec!["--dump-dom".into()], url.clone()).await;
    assert!(
        dom.contains("5 sessions · average time to answer 65 s · average rating 3"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("class=\"bar\"").count(),
        4,
        "one bar per day from Monday to Thursday (Wednesday at zero)"
    );
    assert_eq!(
        dom.matches("class=\"bar-answer\"").count(),
        2,
        "Ann and Bob"
    );
    assert!(
        dom.contains("82.5 s (2 answered)"),
        "Ann's average time to answer"
    );
    assert!(dom.contains("class=\"happy\"") && dom.contains("class=\"unhappy\""));
    assert!(dom.contains("Channel Website"));

    let png = if std::env::var_os("OCHAT_SCREENSHOT").is_some() {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reports.png")
    } else {
        tmp.path().join("reports.png")
    };
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    chromium(vec![format!("--screenshot={}", png.display())], url).await;
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "a real picture"
    );

    // Without a token the page asks for one.
    let dom = chromium(
        vec!["--dump-dom".into()],
        format!("{}/console/reports", shop.chat.node.api),
    )
    .await;
    assert!(dom.contains("<section id=\"login\">"), "{dom}");
}
