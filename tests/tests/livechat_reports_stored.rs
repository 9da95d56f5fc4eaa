//! The reports' stored records (a closed session's facts in `lc_report_facts`, a rating in
//! `lc_ratings`) are kept in a compact layout that a report over a million sessions decodes
//! quickly; folders written by an earlier release hold them as CBOR maps. A shop's sessions
//! are made through the real API; every report (each grouping of the statistics, the
//! operators, the ratings, the history) must read the same from either form, a rating given
//! after the close counts, and an erasure leaves nothing of the visitor in any report.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::livechat::{Clock, TestClock};
use ochat_node::model::livechat::{Rating, SessionFacts};
use ochat_node::store::livechat::facts_codec::{COMPACT_V1, decode_facts, decode_rating};
use ochat_node::store::{encode, trees};
use ochat_tests::livechat::{ChatNode, Operator, Socket, Visit};
use ochat_tests::node::open_stopped;
use reqwest::Method;
use serde_json::{Value, json};

/// Monday 2026-11-02 09:00:00 UTC.
const T0: u64 = 1_793_610_000_000;
const S: u64 = 1000;
const H: u64 = 3_600_000;
const D: u64 = 24 * H;

/// Every report path the API has, with and without filters.
const REPORTS: &[&str] = &[
    "stats?group_by=channel",
    "stats?group_by=operator",
    "stats?group_by=day",
    "stats?group_by=weekday",
    "stats?group_by=hour",
    "stats?group_by=country",
    "stats?group_by=language",
    "stats?group_by=outcome",
    "stats?group_by=day&rating=happy",
    "stats?group_by=day&rating=none",
    "stats?group_by=channel&outcome=answered",
    "stats?group_by=hour&from=2026-11-03&to=2026-11-04",
    "operators",
    "operators?from=2026-11-03",
    "ratings",
    "ratings?public=true",
    "ratings/shares",
    "sessions",
    "sessions?rating=1",
];

fn set(chat: &ChatNode, at: u64) {
    let now = chat.clock.now_ms();
    assert!(at >= now, "the clock only moves forward");
    chat.clock.advance_ms(at - now);
}

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

async fn close(chat: &ChatNode, v: &Visit) {
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", v.session),
        None,
    )
    .await
    .unwrap();
}

async fn rate(chat: &ChatNode, v: &Visit, rating: u8, comment: Option<&str>) {
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/rating", v.session),
        Some(json!({"rating": rating, "comment": comment})),
    )
    .await
    .unwrap();
}

/// One conversation at `at`: the visitor asks, the operator answers (unless `None`), it
/// closes; `rating` is given after the close.
#[allow(clippy::too_many_arguments)]
async fn conversation(
    chat: &ChatNode,
    ops: &[&Operator],
    at: u64,
    channel: &str,
    (lang, country, visitor): Visitor<'_>,
    answer: Option<&Operator>,
    rating: Option<(u8, Option<&str>)>,
) -> Visit {
    set(chat, at);
    at_console(chat, ops).await;
    let v = chat
        .visit(channel, "https://shop.test/", lang, Some(country), visitor)
        .await
        .unwrap();
    set(chat, at + 20 * S);
    chat.say(&v.token, &v.session, "hello").await.unwrap();
    if let Some(op) = answer {
        set(chat, at + 65 * S);
        chat.say(&op.token, &v.session, "hi, how can I help?")
            .await
            .unwrap();
    }
    set(chat, at + 200 * S);
    close(chat, &v).await;
    if let Some((r, comment)) = rating {
        set(chat, at + 260 * S);
        rate(chat, &v, r, comment).await;
    }
    v
}

/// A visitor: language, country, browser id.
type Visitor<'a> = (&'a str, &'a str, Option<&'a str>);

/// One conversation of the seed: start, channel, visitor, who answers, the rating given.
type Planned<'a> = (
    u64,
    &'a str,
    Visitor<'a>,
    Option<&'a Operator>,
    Option<(u8, Option<&'a str>)>,
);

struct Shop {
    chat: ChatNode,
    _sockets: Vec<Socket>,
    ops: (Operator, Operator),
    website: String,
}

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
    let events = "/api/v1/livechat/operator/events";
    let sockets = vec![
        chat.socket(events, &ann.token).await.unwrap(),
        chat.socket(events, &bob.token).await.unwrap(),
    ];
    let ops = [&ann, &bob];
    let plan: [Planned<'_>; 5] = [
        (
            T0,
            &website,
            ("fr-BE", "BE", Some("v-alice")),
            Some(&ann),
            Some((5, Some("Great help"))),
        ),
        (
            T0 + 5 * H,
            &website,
            ("en-US", "US", None),
            Some(&ann),
            Some((1, None)),
        ),
        (
            T0 + D + H,
            &store,
            ("de-DE", "DE", Some("v-carol")),
            None,
            None,
        ),
        (
            T0 + D + 7 * H,
            &store,
            ("en-GB", "GB", None),
            Some(&bob),
            Some((3, Some("ok"))),
        ),
        (
            T0 + 3 * D,
            &website,
            ("fr-BE", "BE", Some("v-alice")),
            Some(&ann),
            None,
        ),
    ];
    for (at, channel, who, answer, rating) in plan {
        conversation(&chat, &ops, at, channel, who, answer, rating).await;
    }
    set(&chat, T0 + 4 * D);
    Shop {
        chat,
        _sockets: sockets,
        ops: (ann, bob),
        website,
    }
}

/// Every report, as the admin reads it.
async fn every_report(chat: &ChatNode) -> Vec<Value> {
    let mut out = Vec::new();
    for path in REPORTS {
        out.push(
            chat.admin(
                Method::GET,
                &format!("/api/v1/livechat/reports/{path}"),
                None,
            )
            .await
            .unwrap(),
        );
    }
    out
}

/// The stored facts and ratings of a stopped node: (first byte, key, value) of each.
fn stored(store: &ochat_node::store::Store, tree: &'static str) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .tree(tree)
        .unwrap()
        .iter()
        .map(|e| e.unwrap())
        .filter(|(k, _)| k.len() == 16)
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

async fn stop(chat: ChatNode) {
    let mut node = chat.node;
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_read_the_same_from_the_compact_records_and_from_an_earlier_releases_cbor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let shop = seed(&dir).await;
    let before = every_report(&shop.chat).await;
    assert_eq!(
        before[REPORTS.len() - 2]["sessions"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let clock = shop.chat.clock.clone();
    let (ann, _bob) = shop.ops;
    let website = shop.website;
    drop(shop._sockets);
    stop(shop.chat).await;

    // What the node wrote is compact; the test turns it into the CBOR an earlier release
    // wrote (the same facts and ratings), as a folder from before the upgrade holds them.
    {
        let (store, data) = open_stopped(&dir).unwrap();
        let facts = stored(&store, trees::LC_REPORT_FACTS);
        let ratings = stored(&store, trees::LC_RATINGS);
        assert_eq!((facts.len(), ratings.len()), (5, 3));
        for (tree, records) in [
            (trees::LC_REPORT_FACTS, &facts),
            (trees::LC_RATINGS, &ratings),
        ] {
            for (key, value) in records {
                assert_eq!(value[0], COMPACT_V1, "{tree} is stored compact");
                let cbor = if tree == trees::LC_RATINGS {
                    let r: Rating = decode_rating(tree, value).unwrap();
                    encode(tree, &r).unwrap()
                } else {
                    let f: SessionFacts = decode_facts(tree, value).unwrap();
                    encode(tree, &f).unwrap()
                };
                assert!(cbor.len() > value.len(), "the compact form is smaller");
                store.tree(tree).unwrap().insert(key, cbor).unwrap();
            }
        }
        // An earlier release knew nothing of the mark that says its records were rewritten.
        let marked = store
            .tree(trees::LC_REPORT_FACTS)
            .unwrap()
            .remove(b"~compact-v1")
            .unwrap();
        assert!(marked.is_some(), "a folder of this release is marked");
        store.flush().await.unwrap();
        drop(data);
        assert!(store.wait_closed(Duration::from_secs(10)).await);
    }

    let chat = ChatNode::start(&dir, clock.clone()).await.unwrap();
    let after = every_report(&chat).await;
    for (i, path) in REPORTS.iter().enumerate() {
        assert_eq!(
            after[i], before[i],
            "{path} reads the same from the CBOR records"
        );
    }

    // A session closed on the upgraded node is stored compact too, and a rating given
    // after the close is in its statistics.
    let events = "/api/v1/livechat/operator/events";
    let _socket = chat.socket(events, &ann.token).await.unwrap();
    let v = conversation(
        &chat,
        &[&ann],
        T0 + 4 * D + H,
        &website,
        ("nl-BE", "BE", Some("v-dirk")),
        Some(&ann),
        None,
    )
    .await;
    set(&chat, T0 + 4 * D + 2 * H);
    rate(&chat, &v, 5, Some("late but happy")).await;
    let day = chat
        .admin(
            Method::GET,
            "/api/v1/livechat/reports/stats?group_by=day&from=2026-11-06",
            None,
        )
        .await
        .unwrap();
    let rows = day["rows"].as_array().unwrap();
    assert_eq!(rows[0]["key"], "2026-11-06", "{day}");
    assert_eq!(rows[0]["count"], 1);
    assert_eq!(
        rows[0]["rating"]["sum"], 5.0,
        "rated after the close: {day}"
    );
    assert_eq!(rows[0]["happy"], 1);
    stop(chat).await;
    {
        let (store, data) = open_stopped(&dir).unwrap();
        let firsts = |tree| -> Vec<u8> { stored(&store, tree).iter().map(|(_, v)| v[0]).collect() };
        let facts = firsts(trees::LC_REPORT_FACTS);
        let ratings = firsts(trees::LC_RATINGS);
        // The first report rewrote the earlier release's records compact, once.
        assert_eq!(facts, [COMPACT_V1; 6]);
        assert_eq!(ratings, [COMPACT_V1; 4]);
        drop(data);
        assert!(store.wait_closed(Duration::from_secs(10)).await);
    }

    // Erasing a visitor leaves nothing of theirs in any report, old records or new.
    let chat = ChatNode::start(&dir, clock).await.unwrap();
    for visitor in ["v-alice", "v-dirk"] {
        chat.admin(
            Method::DELETE,
            &format!("/api/v1/livechat/visitors/{visitor}"),
            None,
        )
        .await
        .unwrap();
    }
    let history = chat
        .admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
        .await
        .unwrap();
    let visitors: Vec<&str> = history["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["visitor"].as_str().unwrap())
        .collect();
    assert_eq!(visitors, ["Anonymous", "v-carol", "Anonymous"], "{history}");
    let total = chat
        .admin(
            Method::GET,
            "/api/v1/livechat/reports/stats?group_by=channel",
            None,
        )
        .await
        .unwrap();
    let total = total["rows"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(total["count"], 3);
    assert_eq!(
        total["rating"]["n"], 2,
        "the ratings of the erased sessions went too"
    );
    assert_eq!(total["rating"]["sum"], 4.0);
    stop(chat).await;
}
