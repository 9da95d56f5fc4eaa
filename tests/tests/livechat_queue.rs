//! Live chat queue stories: when the shop's only operator is busy, new visitors wait in line,
//! see their place and an estimated wait move live, and the longest waiting is taken as soon as
//! a slot frees; a visitor who leaves the page keeps the place for two minutes; the line is
//! bounded; a waiting visitor survives a restart; the reports show the time spent in line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator, Socket, Visit};
use ochat_tests::livechat_cli::Cli;
use ochat_tests::node::WAIT;
use reqwest::Method;
use serde_json::{Value, json};

/// A shop whose only operator, Ann, takes one conversation at a time and is busy with one.
struct Busy {
    shop: ChatNode,
    ann: Operator,
    channel: String,
    first: Visit,
    ann_ws: Socket,
}

async fn busy_shop(dir: &std::path::Path, clock: Arc<TestClock>, extra: Value) -> Busy {
    let shop = ChatNode::start(dir, clock).await.unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann", "language": "en"}))
        .await
        .unwrap();
    let mut settings = json!({"max_sessions_per_operator": 1});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let channel = shop.channel("Website", &[&ann], settings).await.unwrap();
    let ann_ws = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let first = shop
        .visit(&channel, "/chairs", "en", None, Some("v-first"))
        .await
        .unwrap();
    assert_eq!(ChatNode::operator_of(&first), ann.id);
    // Once the visitor writes, the conversation takes Ann's only slot.
    shop.say(&first.token, &first.session, "Do you deliver to Ghent?")
        .await
        .unwrap();
    Busy {
        shop,
        ann,
        channel,
        first,
        ann_ws,
    }
}

impl Busy {
    /// A visitor who finds Ann busy and joins the line.
    async fn queued(&self, visitor: &str) -> Visit {
        let v = self
            .shop
            .visit(&self.channel, "/tables", "en", None, Some(visitor))
            .await
            .unwrap();
        assert!(v.answer["operator"].is_null(), "{}", v.answer);
        assert_eq!(v.answer["queue"]["status"], "waiting", "{}", v.answer);
        v
    }

    async fn visitor_socket(&self, v: &Visit) -> Socket {
        self.shop
            .socket(
                &format!("/api/v1/livechat/sessions/{}/events", v.session),
                &v.token,
            )
            .await
            .unwrap()
    }

    async fn place(&self, v: &Visit) -> Value {
        self.shop
            .ok(
                &v.token,
                Method::GET,
                &format!("/api/v1/livechat/sessions/{}/queue", v.session),
                None,
            )
            .await
            .unwrap()
    }

    async fn line(&self) -> Value {
        self.shop
            .ok(
                &self.ann.token,
                Method::GET,
                &format!("/api/v1/livechat/channels/{}/queue", self.channel),
                None,
            )
            .await
            .unwrap()
    }

    async fn close(&self, token: &str, session: &str) {
        self.shop
            .ok(
                token,
                Method::POST,
                &format!("/api/v1/livechat/sessions/{session}/close"),
                None,
            )
            .await
            .unwrap();
    }

    /// Polls the line until `pred` holds (the server sees a socket close a moment later).
    async fn line_until(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = self.line().await;
            if pred(&line) {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} did not happen: {line}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

fn waiting_ids(line: &Value) -> Vec<&str> {
    line["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["session_id"].as_str().unwrap())
        .collect()
}

/// A `queue` event (or the REST answer) saying the visitor waits at `position`.
fn is_place(e: &Value, position: u64) -> bool {
    e["status"] == "waiting" && e["position"] == position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_wait_in_line_for_a_busy_operator_and_move_up_live() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let mut b = busy_shop(&tmp.path().join("shop"), clock.clone(), json!({})).await;

    // Two more visitors come: Ann is busy, so they wait at places 1 and 2. Nobody has closed
    // a conversation yet, so the wait is honestly unknown.
    let second = b.queued("v-second").await;
    assert_eq!(second.answer["queue"]["position"], 1);
    assert!(second.answer["queue"]["estimated_wait_s"].is_null());
    let mut second_ws = b.visitor_socket(&second).await;
    let hello = second_ws.until(|e| e["type"] == "queue").await.unwrap();
    assert!(is_place(&hello, 1), "{hello}");
    let third = b.queued("v-third").await;
    assert_eq!(third.answer["queue"]["position"], 2);
    assert_eq!(third.answer["queue"]["queue_length"], 2);
    let mut third_ws = b.visitor_socket(&third).await;
    // The first in line hears that the line grew behind them.
    let grew = second_ws
        .until(|e| e["type"] == "queue" && e["queue_length"] == 2)
        .await
        .unwrap();
    assert!(is_place(&grew, 1), "{grew}");

    // Ann sees both, longest waiting first, live and through the API.
    let seen = b
        .ann_ws
        .until(|e| {
            e["type"] == "queue"
                && e["queue"]["waiting"]
                    .as_array()
                    .is_some_and(|w| w.len() == 2)
        })
        .await
        .unwrap();
    assert_eq!(
        waiting_ids(&seen["queue"]),
        [second.session.as_str(), third.session.as_str()]
    );
    let line = b.line().await;
    assert_eq!(
        waiting_ids(&line),
        [second.session.as_str(), third.session.as_str()]
    );
    assert_eq!(line["limit"], 20, "the default bound");

    // Ten minutes later Ann closes the first conversation: the longest waiting is hers at
    // once, and the other moves up to place 1 with an estimate from that conversation.
    clock.advance_minutes(10);
    b.close(&b.ann.token, &b.first.session).await;
    let served = second_ws
        .until(|e| e["type"] == "queue" && e["status"] == "served")
        .await
        .unwrap();
    assert!(served["position"].is_null(), "{served}");
    let joined = second_ws
        .until(|e| e["type"] == "operator_joined")
        .await
        .unwrap();
    assert_eq!(joined["operator"]["name"], "Ann");
    let new = b
        .ann_ws
        .until(|e| e["type"] == "new_session")
        .await
        .unwrap();
    assert_eq!(new["session"]["id"], second.session);
    let up = third_ws.until(|e| is_place(e, 1)).await.unwrap();
    assert_eq!(up["queue_length"], 1);
    assert_eq!(
        up["estimated_wait_s"], 600,
        "one 10-minute conversation, one slot"
    );
    let taken = b
        .shop
        .ok(
            &second.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", second.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(taken["operators"], json!([b.ann.id]));

    // The visitor taken from the line holds Ann's slot even before writing: the third waits.
    assert!(is_place(&b.place(&third).await, 1));
    assert_eq!(b.place(&second).await["status"], "served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_who_leaves_the_page_keeps_the_place_for_two_minutes() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let b = busy_shop(&tmp.path().join("shop"), clock.clone(), json!({})).await;
    let second = b.queued("v-second").await;
    b.shop
        .say(
            &second.token,
            &second.session,
            "I'll wait, it's about an order",
        )
        .await
        .unwrap();
    let third = b.queued("v-third").await;
    let mut third_ws = b.visitor_socket(&third).await;
    let ws = b.visitor_socket(&second).await;
    b.line_until("the first in line connected", |l| {
        l["waiting"][0]["connected"] == true
    })
    .await;

    // The first in line goes to another page: ninety seconds later they are back, in place.
    ws.close().await.unwrap();
    b.line_until("the first in line left the page", |l| {
        l["waiting"][0]["connected"] == false
    })
    .await;
    clock.advance_ms(90_000);
    let mut ws = b.visitor_socket(&second).await;
    let back = ws.until(|e| e["type"] == "queue").await.unwrap();
    assert!(is_place(&back, 1), "{back}");
    assert_eq!(
        waiting_ids(&b.line().await),
        [second.session.as_str(), third.session.as_str()]
    );

    // They leave again and stay away past the two minutes: they drop out (their conversation
    // closes, with what they wrote), and the next visitor moves up.
    ws.close().await.unwrap();
    b.line_until("the first in line left the page again", |l| {
        l["waiting"][0]["connected"] == false
    })
    .await;
    clock.advance_ms(121_000);
    let line = b.line().await;
    assert_eq!(waiting_ids(&line), [third.session.as_str()]);
    let up = third_ws.until(|e| is_place(e, 1)).await.unwrap();
    assert_eq!(up["queue_length"], 1);
    let gone = b.place(&second).await;
    assert_eq!(gone["status"], "left", "{gone}");
    let session = b
        .shop
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", second.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(session["status"], "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_is_bounded_and_beyond_it_visitors_hear_that_nobody_is_free() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let b = busy_shop(
        &tmp.path().join("shop"),
        clock.clone(),
        json!({"queue_limit": 1}),
    )
    .await;
    b.queued("v-second").await;
    let (status, refused) = b
        .shop
        .try_visit(&b.channel, "/", "en", None, Some("v-third"))
        .await
        .unwrap();
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "no_operator");

    // The page check says the same: the button hides while the line is full.
    let (_, check) = b
        .shop
        .call(
            None,
            Method::POST,
            &format!("/api/v1/livechat/{}/check", b.channel),
            Some(json!({"page_url": "/"})),
        )
        .await
        .unwrap();
    assert_eq!(check["available"], false, "{check}");

    // A bound past the maximum is refused and changes nothing; 0 turns the queue off.
    let path = format!("/api/v1/livechat/channels/{}", b.channel);
    let (status, err) = b
        .shop
        .node
        .call(Method::PATCH, &path, Some(json!({"queue_limit": 5000})))
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");
    let channel = b.shop.admin(Method::GET, &path, None).await.unwrap();
    assert_eq!(channel["queue_limit"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_visitor_keeps_the_place_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let dir = tmp.path().join("shop");
    let mut b = busy_shop(&dir, clock.clone(), json!({})).await;
    let second = b.queued("v-second").await;
    b.shop
        .say(&second.token, &second.session, "still there?")
        .await
        .unwrap();
    let third = b.queued("v-third").await;

    b.shop.node.stop().await.unwrap();
    b.shop = ChatNode::start(&dir, clock.clone()).await.unwrap();
    b.ann_ws = b
        .shop
        .socket("/api/v1/livechat/operator/events", &b.ann.token)
        .await
        .unwrap();
    assert_eq!(
        waiting_ids(&b.line().await),
        [second.session.as_str(), third.session.as_str()]
    );
    let place = b.place(&second).await;
    assert!(is_place(&place, 1), "{place}");
    let messages = b
        .shop
        .transcript(&second.token, &second.session)
        .await
        .unwrap();
    assert!(messages.iter().any(|m| m["text"] == "still there?"));

    // Ann finishes the first conversation: the visitor who waited before the restart is next.
    b.close(&b.ann.token, &b.first.session).await;
    let new = b
        .ann_ws
        .until(|e| e["type"] == "new_session")
        .await
        .unwrap();
    assert_eq!(new["session"]["id"], second.session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_show_how_long_visitors_waited_in_line() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let mut b = busy_shop(&tmp.path().join("shop"), clock.clone(), json!({})).await;
    let second = b.queued("v-second").await;
    let _second_ws = b.visitor_socket(&second).await;
    b.shop
        .say(&second.token, &second.session, "hello?")
        .await
        .unwrap();

    // Five minutes in line, then Ann takes the visitor and closes after a minute.
    clock.advance_minutes(5);
    b.close(&b.ann.token, &b.first.session).await;
    b.ann_ws
        .until(|e| e["type"] == "new_session" && e["session"]["id"] == second.session)
        .await
        .unwrap();
    clock.advance_minutes(1);
    b.close(&b.ann.token, &second.session).await;

    let history = b
        .shop
        .admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
        .await
        .unwrap();
    let rows = history["sessions"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(row(&second.session)["time_in_queue_s"], 300.0);
    assert!(row(&b.first.session)["time_in_queue_s"].is_null());
    let stats = b
        .shop
        .admin(
            Method::GET,
            "/api/v1/livechat/reports/stats?group_by=channel",
            None,
        )
        .await
        .unwrap();
    let total = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["time_in_queue_s"]["n"], 1);
    assert_eq!(total["time_in_queue_s"]["avg"], 300.0);
    let csv = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/livechat/reports/sessions?format=csv",
            b.shop.node.api
        ))
        .bearer_auth(&b.shop.node.token)
        .timeout(WAIT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",time_in_queue_s"), "{header}");

    // The CLI's tables show it too.
    let cli = Cli::new(&b.shop.node.data_dir);
    let table = cli.ok(&["report", "sessions"]).unwrap();
    let header = table.lines().next().unwrap();
    let column = header.find("QUEUE S").expect("a QUEUE S column");
    let row = table.lines().find(|l| l.contains("v-second")).unwrap();
    assert!(row[column..].starts_with("300 "), "{table}");
    let stats = cli
        .ok(&["report", "stats", "--group-by", "channel"])
        .unwrap();
    assert!(
        stats.lines().next().unwrap().ends_with("AVG QUEUE S"),
        "{stats}"
    );
    let total = stats.lines().find(|l| l.starts_with("total")).unwrap();
    assert!(total.trim_end().ends_with("300.0"), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_who_comes_back_takes_the_first_in_line() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let bea = shop
        .operator("bea", json!({"chat_name": "Bea"}))
        .await
        .unwrap();
    let channel = shop
        .channel(
            "Website",
            &[&ann, &bea],
            json!({"max_sessions_per_operator": 1}),
        )
        .await
        .unwrap();
    // Half an hour later only Ann is back at her desk, busy with one visitor.
    clock.advance_minutes(31);
    shop.ok(
        &ann.token,
        Method::POST,
        "/api/v1/livechat/operator/activity",
        None,
    )
    .await
    .unwrap();
    let first = shop
        .visit(&channel, "/", "en", None, Some("v-first"))
        .await
        .unwrap();
    assert_eq!(ChatNode::operator_of(&first), ann.id);
    shop.say(&first.token, &first.session, "hi").await.unwrap();
    let (status, waiting) = shop
        .try_visit(&channel, "/", "en", None, Some("v-second"))
        .await
        .unwrap();
    assert_eq!(status, 201, "{waiting}");
    assert_eq!(waiting["queue"]["position"], 1);

    // Bea opens her console: she is available again and takes the visitor waiting.
    let mut bea_ws = shop
        .socket("/api/v1/livechat/operator/events", &bea.token)
        .await
        .unwrap();
    let new = bea_ws.until(|e| e["type"] == "new_session").await.unwrap();
    assert_eq!(new["session"]["id"], waiting["session"]["id"]);
}
