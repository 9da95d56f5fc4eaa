//! Live chat against abuse (issue 25, items 4 and 6 and the live chat findings): anonymous
//! sessions do not use up operators and expire without a trace, one address or visitor id
//! cannot open sessions without end, memory for sessions stays bounded across restarts,
//! channels keep their operators apart, canned responses are shared only with one's groups,
//! chatbots cannot be made to spam leads and the webhook, and rules and scripts have bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::post;
use ochat_node::livechat::TestClock;
use ochat_node::livechat::limits::VisitorLimits;
use ochat_tests::livechat::{ChatNode, Operator};
use ochat_tests::node::WAIT;
use reqwest::Method;
use serde_json::{Value, json};

/// The node's session counters (`/api/v1/stats`): (open in memory, of which nobody wrote in).
async fn session_counts(shop: &ChatNode) -> (u64, u64) {
    let stats = shop
        .admin(Method::GET, "/api/v1/stats", None)
        .await
        .unwrap();
    (
        stats["livechat_open_sessions"]
            .as_u64()
            .expect("open sessions counter"),
        stats["livechat_unwritten_sessions"]
            .as_u64()
            .expect("unwritten sessions counter"),
    )
}

/// A bare `POST /api/v1/livechat/{channel}/sessions`: (status, Retry-After, body).
async fn start(
    shop: &ChatNode,
    channel: &str,
    visitor_id: Option<&str>,
) -> (u16, Option<u64>, Value) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/livechat/{channel}/sessions",
            shop.node.api
        ))
        .json(&json!({"page_url": "https://shop.example/", "visitor_id": visitor_id}))
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sessions_do_not_use_up_operators_and_vanish_unwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new());
    let shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = shop
        .channel("Website", &[&ann], json!({"max_sessions_per_operator": 2}))
        .await
        .unwrap();
    let mut ann_ws = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();

    // Someone opens two sessions and never writes: Ann's two slots stay free.
    let (s1, _, a1) = start(&shop, &channel, None).await;
    let (s2, _, a2) = start(&shop, &channel, None).await;
    assert_eq!((s1, s2), (201, 201));
    let idle = [
        a1["session"]["id"].as_str().unwrap().to_string(),
        a2["session"]["id"].as_str().unwrap().to_string(),
    ];

    // A real visitor still gets Ann, and Ann hears of the session once the visitor writes.
    let real = shop
        .visit(
            &channel,
            "https://shop.example/chairs",
            "en",
            None,
            Some("v-real"),
        )
        .await
        .unwrap();
    assert_eq!(ChatNode::operator_of(&real), ann.id);
    shop.say(&real.token, &real.session, "Do you deliver to Ghent?")
        .await
        .unwrap();
    let new = ann_ws.until(|e| e["type"] == "new_session").await.unwrap();
    assert_eq!(
        new["session"]["id"], real.session,
        "the first session Ann is told of is the one someone wrote in"
    );
    assert_eq!(session_counts(&shop).await, (3, 2));

    // Fifty-nine minutes on they are still there (the clean-up rule is one hour, as in Odoo);
    // an hour on, the unwritten sessions are gone: not in memory, not readable, not in the
    // operator's list, not in the reports. The real conversation stays.
    clock.advance_minutes(59);
    assert_eq!(session_counts(&shop).await, (3, 2));
    clock.advance_minutes(2);
    assert_eq!(session_counts(&shop).await, (1, 0));
    for id in &idle {
        let (status, _) = shop
            .call(
                Some(&shop.node.token),
                Method::GET,
                &format!("/api/v1/livechat/sessions/{id}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 404, "the unwritten session {id} is deleted");
    }
    let listed = shop
        .ok(&ann.token, Method::GET, "/api/v1/livechat/sessions", None)
        .await
        .unwrap();
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(listed, vec![real.session.as_str()]);
    shop.ok(
        &ann.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", real.session),
        None,
    )
    .await
    .unwrap();
    let report = shop
        .admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
        .await
        .unwrap()
        .to_string();
    assert!(report.contains(&real.session), "{report}");
    for id in &idle {
        assert!(
            !report.contains(id.as_str()),
            "no trace of {id} in {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_quick_sessions_from_one_address_meet_429_after_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    // The clock stands still: however slow the machine, no token comes back by itself.
    let clock = Arc::new(TestClock::fixed_at(1_780_000_000_000));
    let shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();

    let mut accepted = 0;
    let mut refused = 0;
    let mut retry_after = None;
    for _ in 0..1_000 {
        match start(&shop, &channel, None).await {
            (201, _, _) => {
                assert_eq!(refused, 0, "nothing is accepted once the limit is reached");
                accepted += 1;
            }
            (429, retry, body) => {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                retry_after = retry_after.or(retry);
                refused += 1;
            }
            (other, _, body) => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted, 60, "the burst one address may start");
    assert_eq!(refused, 940);
    assert_eq!(retry_after, Some(10), "429 says when to come back");
    assert_eq!(
        session_counts(&shop).await.0,
        60,
        "memory holds only the accepted"
    );

    // Ten seconds later, one more.
    clock.advance_ms(10_000);
    assert_eq!(start(&shop, &channel, None).await.0, 201);
    assert_eq!(start(&shop, &channel, None).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_visitor_id_meets_429_after_its_own_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new());
    let shop = ChatNode::start_with(&tmp.path().join("shop"), clock.clone(), |c| {
        // Many visitors behind one address (an office): the address limit is out of the way.
        c.livechat.visitor_limits = Some(VisitorLimits {
            sessions_per_address: 1_000,
            ..VisitorLimits::default()
        });
    })
    .await
    .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    for _ in 0..10 {
        assert_eq!(start(&shop, &channel, Some("v-loop")).await.0, 201);
    }
    let (status, retry, body) = start(&shop, &channel, Some("v-loop")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry, Some(60));
    assert_eq!(start(&shop, &channel, Some("v-other")).await.0, 201);
    clock.advance_ms(60_000);
    assert_eq!(start(&shop, &channel, Some("v-loop")).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_only_written_open_sessions_are_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::new());
    let mut shop = ChatNode::start(&dir, clock.clone()).await.unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    let talking = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    shop.say(&talking.token, &talking.session, "hello")
        .await
        .unwrap();
    let done = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    shop.say(&done.token, &done.session, "bye").await.unwrap();
    shop.ok(
        &done.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", done.session),
        None,
    )
    .await
    .unwrap();
    for _ in 0..5 {
        assert_eq!(start(&shop, &channel, None).await.0, 201);
    }
    assert_eq!(session_counts(&shop).await, (6, 5));
    shop.node.stop().await.unwrap();

    // The node was down for more than an hour: the unwritten sessions are not reloaded.
    clock.advance_minutes(61);
    let shop = ChatNode::start(&dir, clock.clone()).await.unwrap();
    assert_eq!(session_counts(&shop).await, (1, 0));
    let open = shop
        .admin(Method::GET, "/api/v1/livechat/sessions?status=open", None)
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["id"], talking.session);
    let closed = shop
        .admin(Method::GET, "/api/v1/livechat/sessions?status=closed", None)
        .await
        .unwrap();
    assert_eq!(
        closed[0]["id"], done.session,
        "closed sessions stay readable from disk"
    );
}

/// Runs `/command` as `op` in `session`; answers the note only `op` sees.
async fn command(shop: &ChatNode, op: &Operator, session: &str, line: &str) -> String {
    let m = shop.say(&op.token, session, line).await.unwrap();
    m["text"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_of_one_channel_cannot_reach_into_another() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let bob = shop.operator("bob", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let support = shop.channel("Support", &[&bob], json!({})).await.unwrap();

    // Bob's visitor gives a secret; Bob files a ticket and a lead.
    let carol = shop.visit(&support, "/", "en", None, None).await.unwrap();
    shop.say(
        &carol.token,
        &carol.session,
        "my card number is 4111-secret",
    )
    .await
    .unwrap();
    let made = command(&shop, &bob, &carol.session, "/ticket Card problem").await;
    assert!(made.contains("#1"), "{made}");
    command(&shop, &bob, &carol.session, "/lead Card upsell").await;
    // Ann has a visitor of her own.
    let dave = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    shop.say(&dave.token, &dave.session, "hello").await.unwrap();

    // Ann sees none of Support's records, transcripts or history, and cannot search them.
    for list in ["/api/v1/livechat/tickets", "/api/v1/livechat/leads"] {
        let seen = shop.ok(&ann.token, Method::GET, list, None).await.unwrap();
        assert_eq!(seen, json!([]), "{list} as Ann");
        let all = shop.admin(Method::GET, list, None).await.unwrap();
        assert_eq!(all.as_array().unwrap().len(), 1, "{list} as the admin");
        let bobs = shop.ok(&bob.token, Method::GET, list, None).await.unwrap();
        assert_eq!(bobs.as_array().unwrap().len(), 1, "{list} as Bob");
    }
    let found = command(&shop, &ann, &dave.session, "/search_tickets card").await;
    assert!(found.starts_with("No tickets found"), "{found}");
    let found = command(&shop, &ann, &dave.session, "/search_tickets #1").await;
    assert!(!found.contains("Card problem"), "{found}");
    let found = command(&shop, &bob, &carol.session, "/search_tickets card").await;
    assert!(found.contains("#1 Card problem"), "{found}");
    for path in [
        format!("/api/v1/livechat/sessions/{}/messages", carol.session),
        format!("/api/v1/livechat/sessions/{}/history", carol.session),
        format!(
            "/api/v1/livechat/reports/sessions/{}/transcript",
            carol.session
        ),
    ] {
        let (status, body) = shop
            .call(Some(&ann.token), Method::GET, &path, None)
            .await
            .unwrap();
        assert_eq!(status, 403, "{path}: {body}");
    }

    // Ann can neither join Support, nor its conversation, nor write to its visitor.
    let join = format!("/api/v1/livechat/channels/{support}/join");
    let (status, body) = shop
        .call(Some(&ann.token), Method::POST, &join, None)
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("listed"),
        "the refusal says why: {body}"
    );
    let (status, _) = shop
        .call(
            Some(&ann.token),
            Method::POST,
            &format!("/api/v1/livechat/sessions/{}/join", carol.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(
            Some(&ann.token),
            Method::POST,
            &format!("/api/v1/livechat/sessions/{}/messages", carol.session),
            Some(json!({"text": "hi, I am from the bank"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let channels = shop
        .ok(&ann.token, Method::GET, "/api/v1/livechat/channels", None)
        .await
        .unwrap();
    let line = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == support.as_str())
        .unwrap();
    assert_eq!(line["can_join"], false);

    // Bob leaves Support and may come back: he is listed.
    shop.ok(
        &bob.token,
        Method::POST,
        &format!("/api/v1/livechat/channels/{support}/leave"),
        None,
    )
    .await
    .unwrap();
    shop.ok(&bob.token, Method::POST, &join, None)
        .await
        .unwrap();

    // The admin opens Support to self-join: now Ann may join, and then reads its tickets.
    shop.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{support}"),
        Some(json!({"self_join": true})),
    )
    .await
    .unwrap();
    shop.ok(&ann.token, Method::POST, &join, None)
        .await
        .unwrap();
    let seen = shop
        .ok(&ann.token, Method::GET, "/api/v1/livechat/tickets", None)
        .await
        .unwrap();
    assert_eq!(seen.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canned_responses_are_shared_only_with_the_authors_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let bob = shop.operator("bob", json!({})).await.unwrap();
    let group = |name: &str, members: &[&Operator]| {
        let ids: Vec<&str> = members.iter().map(|o| o.id.as_str()).collect();
        json!({"name": name, "members": ids})
    };
    let finance = shop
        .admin(
            Method::POST,
            "/api/v1/livechat/groups",
            Some(group("Finance", &[&bob])),
        )
        .await
        .unwrap();
    let sales = shop
        .admin(
            Method::POST,
            "/api/v1/livechat/groups",
            Some(group("Sales", &[&ann])),
        )
        .await
        .unwrap();

    // Ann pushes a "refund" text into Finance's suggestions: refused, nothing stored.
    let (status, body) = shop
        .call(
            Some(&ann.token),
            Method::POST,
            "/api/v1/livechat/canned",
            Some(
                json!({"shortcut": "refund", "substitution": "Send your card to ...",
                        "groups": [finance["id"]]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Finance"),
        "{body}"
    );
    let all = shop
        .admin(Method::GET, "/api/v1/livechat/canned", None)
        .await
        .unwrap();
    assert_eq!(all, json!([]));
    let bobs = shop
        .ok(
            &bob.token,
            Method::GET,
            "/api/v1/livechat/canned/matches?q=::",
            None,
        )
        .await
        .unwrap();
    assert_eq!(bobs, json!([]));

    // Ann shares with her own group; the admin shares with any group.
    shop.ok(
        &ann.token,
        Method::POST,
        "/api/v1/livechat/canned",
        Some(json!({"shortcut": "hi", "substitution": "Hello!", "groups": [sales["id"]]})),
    )
    .await
    .unwrap();
    shop.admin(
        Method::POST,
        "/api/v1/livechat/canned",
        Some(
            json!({"shortcut": "refund", "substitution": "Refunds take 5 days.",
                    "groups": [finance["id"]]}),
        ),
    )
    .await
    .unwrap();
    let bobs = shop
        .ok(
            &bob.token,
            Method::GET,
            "/api/v1/livechat/canned/matches?q=::",
            None,
        )
        .await
        .unwrap();
    assert_eq!(bobs[0]["substitution"], "Refunds take 5 days.");
}

/// A webhook receiver on 127.0.0.1: `/hook` counts calls and redirects to `/elsewhere`,
/// which counts too. Answers its address and the two counters.
async fn webhook_receiver() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let hooks = Arc::new(AtomicUsize::new(0));
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let (h, e) = (hooks.clone(), elsewhere.clone());
    let app = axum::Router::new()
        .route(
            "/hook",
            post(move || async move {
                h.fetch_add(1, Ordering::SeqCst);
                Redirect::temporary("/elsewhere")
            }),
        )
        .route(
            "/elsewhere",
            post(move || async move {
                e.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hooks, elsewhere)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_chatbot_cannot_flood_leads_and_the_webhook() {
    let (url, hooks, elsewhere) = webhook_receiver().await;
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start_with(&tmp.path().join("shop"), Arc::new(TestClock::new()), |c| {
        c.livechat.webhook_url = Some(url);
        c.livechat.visitor_limits = Some(VisitorLimits {
            bot_records_per_address: 3,
            ..VisitorLimits::default()
        });
    })
    .await
    .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    let bot = shop
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({"name": "Leads", "steps": [
                {"type": "text", "message": "Hello!"},
                {"type": "email", "message": "Your email?"},
                {"type": "create_lead", "message": "Thanks, we will write to you."}
            ]})),
        )
        .await
        .unwrap();
    shop.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"url_regex": "", "chatbot_id": bot["id"]})),
    )
    .await
    .unwrap();

    // A script gives an email, gets a lead, types "restart", and again, and again.
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let v = shop.visit(&channel, "/", "en", None, None).await.unwrap();
        for _ in 0..4 {
            shop.say(&v.token, &v.session, "spam@example.com")
                .await
                .unwrap();
            shop.say(&v.token, &v.session, "restart").await.unwrap();
        }
        sessions.push(v.session);
    }
    let leads = shop
        .admin(Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    let per_session: Vec<usize> = sessions
        .iter()
        .map(|s| {
            leads
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["session_id"] == s.as_str())
                .count()
        })
        .collect();
    assert_eq!(
        per_session,
        vec![2, 1, 0],
        "2 per session, 3 per address: {leads}"
    );

    // The webhook was called once per stored lead, and its redirect was not followed.
    let deadline = Instant::now() + WAIT;
    while hooks.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "the webhook calls did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hooks.load(Ordering::SeqCst), 3);
    assert_eq!(
        elsewhere.load(Ordering::SeqCst),
        0,
        "redirects are not followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_scripts_and_rule_regexes_are_refused_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    let rules = format!("/api/v1/livechat/channels/{channel}/rules");

    // A pattern that compiles to megabytes: refused, the channel keeps no rule.
    for (pattern, why) in [
        (r"\w{50}\w{50}\w{50}\w{50}", "too complex"),
        (&"(ab|cd)".repeat(200)[..], "at most 1000 bytes"),
    ] {
        let (status, body) = shop
            .call(
                Some(&shop.node.token),
                Method::POST,
                &rules,
                Some(json!({"url_regex": pattern})),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    let c = shop
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(c["rules"], json!([]));
    // A sane one is still accepted.
    shop.admin(
        Method::POST,
        &rules,
        Some(json!({"url_regex": "/shop/", "action": "hide"})),
    )
    .await
    .unwrap();

    // A step whose Only If lists 30 answers: refused with the reason, nothing stored.
    let answers = |q: usize| -> Vec<Value> {
        (0..15)
            .map(|i| json!({"id": format!("q{q}a{i}"), "text": format!("Answer {i}")}))
            .collect()
    };
    let only_if: Vec<String> = (1..=2)
        .flat_map(|q| (0..15).map(move |i| format!("q{q}a{i}")))
        .collect();
    let script = json!({"name": "Huge", "steps": [
        {"type": "question", "message": "One?", "answers": answers(1)},
        {"type": "question", "message": "Two?", "answers": answers(2)},
        {"type": "text", "message": "Both answered.", "only_if": only_if}
    ]});
    let (status, body) = shop
        .call(
            Some(&shop.node.token),
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(script),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Only If names at most 20 answers"),
        "{body}"
    );
    let bots = shop
        .admin(Method::GET, "/api/v1/livechat/chatbots", None)
        .await
        .unwrap();
    assert_eq!(bots, json!([]));
}
