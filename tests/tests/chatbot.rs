//! Chatbot stories: a shop's bot greets visitors, branches on their answers (Only If across two
//! questions), checks emails and phone numbers, hands buyers to the sales operator — or goes on
//! when nobody is free — and leaves leads and tickets with the transcript. The checker finds
//! planted dead ends, and the Test button runs a script without storing anything.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator, Visit};
use ochat_tests::node::WAIT;
use ochat_tests::process::ochat;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The shop's script; step numbers in the comments are what the checker reports.
fn shop_bot() -> Value {
    json!({
        "name": "Shop bot",
        "operator_name": "Shopbot",
        "avatar": "data:image/png;base64,iVBORw0KGgo=",
        "steps": [
            {"type": "text", "message": "Hello! I am Shopbot."},                                  // 1
            {"type": "question", "message": "What brings you here?", "answers": [                  // 2
                {"id": "buy", "text": "I want to buy"},
                {"id": "support", "text": "I need help"},
                {"id": "docs", "text": "Read the docs", "link": "https://shop.example/docs"}]},
            {"type": "question", "message": "Which product?", "only_if": ["buy"], "answers": [     // 3
                {"id": "chairs", "text": "Chairs"}, {"id": "tables", "text": "Tables"}]},
            {"type": "question", "message": "For business or home?", "only_if": ["buy"], "answers": [ // 4
                {"id": "biz", "text": "Business"}, {"id": "home", "text": "Home"}]},
            {"type": "text", "message": "Great, our business team handles furniture orders.",      // 5
             "only_if": ["chairs", "tables", "biz"]},
            {"type": "forward_to_operator", "message": "Connecting you to sales.",                  // 6
             "only_if": ["biz"], "expertise": ["sales"]},
            {"type": "email", "message": "What is your email?", "only_if": ["buy"]},                // 7
            {"type": "phone", "message": "And your phone number?", "only_if": ["buy"]},            // 8
            {"type": "free_input_multiline", "message": "Tell us what you need.", "only_if": ["buy"]}, // 9
            {"type": "create_lead", "message": "Thanks, a salesperson will contact you.", "only_if": ["buy"]}, // 10
            {"type": "free_input", "message": "Describe your problem in one line.", "only_if": ["support"]}, // 11
            {"type": "forward_to_operator", "message": "An agent will help you.", "only_if": ["support"]},  // 12
            {"type": "create_ticket", "message": "We opened a ticket and will email you.", "only_if": ["support"]}, // 13
            {"type": "text", "message": "Goodbye!"}                                                // 14
        ]
    })
}

struct Shop {
    _tmp: tempfile::TempDir,
    shop: ChatNode,
    clock: Arc<TestClock>,
    ann: Operator,
    bot: String,
    channel: String,
    webhook: mpsc::UnboundedReceiver<Value>,
}

/// A node whose webhook is a real HTTP server in the test; Ann (sales) and Bob operate the
/// channel, whose one rule hands every visitor to the shop bot.
async fn shop() -> Shop {
    let tmp = tempfile::tempdir().unwrap();
    let (tx, webhook) = mpsc::unbounded_channel::<Value>();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(tx): State<mpsc::UnboundedSender<Value>>, Json(v): Json<Value>| async move {
                    let _ = tx.send(v);
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let clock = Arc::new(TestClock::new());
    let shop = ChatNode::start_with(&tmp.path().join("shop"), clock.clone(), |c| {
        c.livechat.webhook_url = Some(hook);
    })
    .await
    .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann", "expertise": ["sales"]}))
        .await
        .unwrap();
    let bob = shop
        .operator("bob", json!({"chat_name": "Bob"}))
        .await
        .unwrap();
    let channel = shop
        .channel("Website", &[&ann, &bob], json!({}))
        .await
        .unwrap();
    let saved = shop
        .admin(Method::POST, "/api/v1/livechat/chatbots", Some(shop_bot()))
        .await
        .unwrap();
    assert_eq!(saved["warnings"], json!([]), "the shop bot has no dead end");
    let bot = saved["id"].as_str().unwrap().to_string();
    shop.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"sequence": 1, "action": "show", "url_regex": "",
                    "chatbot_id": bot, "chatbot_condition": "always"})),
    )
    .await
    .unwrap();
    Shop {
        _tmp: tmp,
        shop,
        clock,
        ann,
        bot,
        channel,
        webhook,
    }
}

impl Shop {
    async fn visit(&self) -> Visit {
        let v = self
            .shop
            .visit(
                &self.channel,
                "https://shop.example/",
                "en-GB",
                None,
                Some("visitor-1"),
            )
            .await
            .unwrap();
        assert_eq!(v.answer["operator"], "Shopbot", "the bot answers first");
        assert_eq!(v.answer["chatbot_id"], self.bot.as_str());
        assert_eq!(v.answer["avatar"], "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(v.answer["session"]["operators"], json!([]));
        v
    }

    /// The visitor clicks (with an answer id) or types; answers the bot's replies to it.
    async fn say(&self, v: &Visit, text: &str, answer_id: Option<&str>) -> Vec<Value> {
        let before = self.transcript(v).await.len();
        self.shop
            .ok(
                &v.token,
                Method::POST,
                &format!("/api/v1/livechat/sessions/{}/messages", v.session),
                Some(json!({"text": text, "answer_id": answer_id})),
            )
            .await
            .unwrap();
        self.transcript(v).await[before + 1..].to_vec()
    }

    async fn transcript(&self, v: &Visit) -> Vec<Value> {
        let all = self
            .shop
            .ok(
                &v.token,
                Method::GET,
                &format!("/api/v1/livechat/sessions/{}/messages", v.session),
                None,
            )
            .await
            .unwrap();
        all.as_array().unwrap().clone()
    }

    async fn session(&self, v: &Visit) -> Value {
        self.shop
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/sessions/{}", v.session),
                None,
            )
            .await
            .unwrap()
    }

    async fn hook(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.webhook.recv())
            .await
            .expect("the webhook is called")
            .unwrap()
    }
}

fn texts(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_buyer_is_handed_to_the_sales_operator_and_the_bot_leaves() {
    let s = shop().await;
    let mut ann_events = s
        .shop
        .socket("/api/v1/livechat/operator/events", &s.ann.token)
        .await
        .unwrap();
    let v = s.visit().await;
    let mut visitor_events = s
        .shop
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", v.session),
            &v.token,
        )
        .await
        .unwrap();

    // The welcome steps: everything up to and including the first question, at once.
    let welcome = s.transcript(&v).await;
    assert_eq!(
        texts(&welcome),
        ["Hello! I am Shopbot.", "What brings you here?"]
    );
    assert!(welcome.iter().all(|m| m["author"] == "bot"));
    assert_eq!(welcome[0]["author_name"], "Shopbot");
    assert_eq!(
        welcome[1]["answers"],
        json!([{"id": "buy", "text": "I want to buy"}, {"id": "support", "text": "I need help"},
               {"id": "docs", "text": "Read the docs"}])
    );

    let reply = s.say(&v, "I want to buy", Some("buy")).await;
    assert_eq!(texts(&reply), ["Which product?"]);
    // Typing an answer's text works like clicking it.
    let reply = s.say(&v, "chairs", None).await;
    assert_eq!(texts(&reply), ["For business or home?"]);
    let reply = s.say(&v, "Business", Some("biz")).await;
    // Only If across two questions: (Chairs or Tables) and Business.
    assert_eq!(
        texts(&reply),
        [
            "Great, our business team handles furniture orders.",
            "Connecting you to sales.",
            "Ann joined the conversation"
        ]
    );

    let joined = visitor_events
        .until(|e| e["type"] == "operator_joined")
        .await
        .unwrap();
    assert_eq!(joined["operator"]["name"], "Ann");
    let new = ann_events
        .until(|e| e["type"] == "new_session")
        .await
        .unwrap();
    assert_eq!(new["session"]["id"], v.session.as_str());
    let session = s.session(&v).await;
    assert_eq!(session["operators"], json!([s.ann.id]));
    assert!(session["handover_at_ms"].as_u64().is_some());
    assert_eq!(session["no_operator"], false);

    // From now on Ann answers, and the bot stays quiet.
    s.shop
        .say(&s.ann.token, &v.session, "Hi, I am Ann from sales.")
        .await
        .unwrap();
    let reply = s.say(&v, "I need 40 chairs", None).await;
    assert!(reply.is_empty(), "the bot left: {reply:?}");
    let all = s.transcript(&v).await;
    assert!(texts(&all).contains(&"Hi, I am Ann from sales."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_buyer_corrects_their_email_and_phone_and_leaves_a_lead_with_the_transcript() {
    let mut s = shop().await;
    let v = s.visit().await;
    s.say(&v, "I want to buy", Some("buy")).await;
    s.say(&v, "Tables", Some("tables")).await;
    let reply = s.say(&v, "Home", Some("home")).await;
    // Not Business: the business text and the sales forward do not run.
    assert_eq!(texts(&reply), ["What is your email?"]);

    let reply = s.say(&v, "bob at example dot com", None).await;
    assert_eq!(
        texts(&reply),
        ["'bob at example dot com' does not look like a valid email. Can you please try again?"]
    );
    let reply = s.say(&v, "bob@example", None).await;
    assert_eq!(reply.len(), 1, "an address without a domain is refused");
    let reply = s.say(&v, "bob@example.com", None).await;
    assert_eq!(texts(&reply), ["And your phone number?"]);
    let reply = s.say(&v, "call me maybe", None).await;
    assert!(texts(&reply)[0].contains("does not look like a phone number"));
    let reply = s.say(&v, "+32 470 12 34 56", None).await;
    assert_eq!(texts(&reply), ["Tell us what you need."]);
    let reply = s
        .say(&v, "Two garden tables\nwith six chairs each", None)
        .await;
    assert_eq!(
        texts(&reply),
        ["Thanks, a salesperson will contact you.", "Goodbye!"]
    );

    let leads = s
        .shop
        .ok(&s.ann.token, Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    let lead = &leads[0];
    assert_eq!(leads.as_array().unwrap().len(), 1);
    assert_eq!(lead["title"], "Two garden tables\nwith six chairs each");
    assert_eq!(lead["email"], "bob@example.com");
    assert_eq!(lead["phone"], "+32 470 12 34 56");
    assert_eq!(lead["created_by_bot"], s.bot.as_str());
    let transcript = lead["transcript"].as_str().unwrap();
    for line in [
        "[Shopbot] What brings you here?",
        "[Visitor] Tables",
        "[Visitor] bob@example.com",
        "[Visitor] Two garden tables\nwith six chairs each",
    ] {
        assert!(transcript.contains(line), "{line:?} in {transcript}");
    }
    let hook = s.hook().await;
    assert_eq!(hook["kind"], "lead");
    assert_eq!(hook["record"]["email"], "bob@example.com");

    // The script has ended: the visitor is told how to start again rather than met by silence.
    let reply = s.say(&v, "hello?", None).await;
    assert!(texts(&reply)[0].contains("Restart"));
    assert_eq!(reply[0]["answers"][0]["id"], "restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_support_forward_with_nobody_available_goes_on_to_a_ticket() {
    let mut s = shop().await;
    // Ann and Bob logged in long ago and did nothing since: nobody is present.
    s.clock.advance_minutes(31);
    let v = s.visit().await;
    s.say(&v, "I need help", Some("support")).await;
    let reply = s.say(&v, "My order 42 is late", None).await;
    // Nothing is said about the failed forward; the script goes on.
    assert_eq!(
        texts(&reply),
        ["We opened a ticket and will email you.", "Goodbye!"]
    );
    let session = s.session(&v).await;
    assert_eq!(session["operators"], json!([]));
    assert_eq!(session["no_operator"], true);
    assert!(session["handover_at_ms"].is_null());

    let tickets = s
        .shop
        .admin(Method::GET, "/api/v1/livechat/tickets", None)
        .await
        .unwrap();
    assert_eq!(tickets[0]["title"], "My order 42 is late");
    assert!(
        tickets[0]["transcript"]
            .as_str()
            .unwrap()
            .contains("[Visitor] My order 42 is late")
    );
    assert_eq!(s.hook().await["kind"], "ticket");
    let leads = s
        .shop
        .admin(Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    assert_eq!(leads, json!([]), "support visitors leave no lead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_with_a_link_ends_the_script_and_the_visitor_can_restart() {
    let s = shop().await;
    let v = s.visit().await;
    let reply = s.say(&v, "Read the docs", Some("docs")).await;
    assert_eq!(texts(&reply), ["https://shop.example/docs"]);
    let reply = s.say(&v, "one more thing", None).await;
    assert!(texts(&reply)[0].contains("This conversation has ended"));
    let reply = s.say(&v, "Restart", Some("restart")).await;
    assert_eq!(
        texts(&reply),
        ["Hello! I am Shopbot.", "What brings you here?"]
    );
    // A question answered with something else asks again, with the answers.
    let reply = s.say(&v, "pizza", None).await;
    assert_eq!(texts(&reply), ["Please choose one of these answers."]);
    assert_eq!(reply[0]["answers"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_takes_over_a_conversation_from_the_bot() {
    let s = shop().await;
    let bob = s
        .shop
        .operator("carol", json!({"chat_name": "Carol"}))
        .await
        .unwrap();
    let v = s.visit().await;
    s.say(&v, "I want to buy", Some("buy")).await;
    let join = format!("/api/v1/livechat/sessions/{}/join", v.session);
    // Only the channel's operators may join; Carol is not one of them, the visitor is no operator.
    let (status, _) = s
        .shop
        .call(Some(&bob.token), Method::POST, &join, None)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = s
        .shop
        .call(Some(&v.token), Method::POST, &join, None)
        .await
        .unwrap();
    assert_eq!(status, 403);

    let session = s
        .shop
        .ok(&s.ann.token, Method::POST, &join, None)
        .await
        .unwrap();
    assert_eq!(session["operators"], json!([s.ann.id]));
    assert!(session["handover_at_ms"].as_u64().is_some());
    let reply = s.say(&v, "Chairs", Some("chairs")).await;
    assert!(
        reply.is_empty(),
        "the bot stopped when Ann joined: {reply:?}"
    );
    s.shop
        .say(&s.ann.token, &v.session, "Ann here, which chairs?")
        .await
        .unwrap();
    let all = s.transcript(&v).await;
    assert!(texts(&all).contains(&"Ann joined the conversation"));
    assert_eq!(all.last().unwrap()["author_name"], "Ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_reports_planted_dead_ends_without_refusing_the_script() {
    let s = shop().await;
    let planted = json!({
        "name": "Leaky bot",
        "steps": [
            {"type": "question", "message": "Sales or support?", "answers": [                // 1
                {"id": "sales", "text": "Sales"}, {"id": "support", "text": "Support"}]},
            {"type": "text", "message": "Sales it is.", "only_if": ["sales"]},                 // 2
            {"type": "forward_to_operator", "message": "Connecting.", "only_if": ["sales"]},   // 3
            {"type": "text", "message": "Never shown", "only_if": ["late"]},                   // 4
            {"type": "question", "message": "Anything else?", "only_if": ["sales"], "answers": [ // 5
                {"id": "late", "text": "Yes"}, {"id": "no", "text": "No"}]},
            {"type": "text", "message": "Bye.", "only_if": ["no"]}                             // 6
        ]
    });
    let saved = s
        .shop
        .admin(Method::POST, "/api/v1/livechat/chatbots", Some(planted))
        .await
        .unwrap();
    let mut found: Vec<(String, u64, Vec<String>)> = saved["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap().to_string(),
                w["step"].as_u64().unwrap(),
                w["path"]
                    .as_array()
                    .map(|p| p.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    let want: Vec<(String, u64, Vec<String>)> = vec![
        // "Support" has no step to follow.
        (
            "dead_end".into(),
            1,
            vec!["Sales or support? \u{2192} Support".into()],
        ),
        // "Yes" to "Anything else?" leads nowhere (step 6 wants "No").
        (
            "dead_end".into(),
            5,
            vec![
                "Sales or support? \u{2192} Sales".into(),
                "step 3: no operator available".into(),
                "Anything else? \u{2192} Yes".into(),
            ],
        ),
        ("only_if_later".into(), 4, vec![]),
        ("unreachable".into(), 4, vec![]),
    ];
    assert_eq!(found, want, "{}", saved["warnings"]);
    // Saved anyway: the admin sees the warnings again when opening it.
    let id = saved["id"].as_str().unwrap();
    let shown = s
        .shop
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/chatbots/{id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(shown["warnings"], saved["warnings"]);

    // A forward as the last step leaves no-operator visitors with nothing.
    let tail = json!({"name": "Tail", "steps": [
        {"type": "text", "message": "Hi"}, {"type": "forward_to_operator"}]});
    let saved = s
        .shop
        .admin(Method::POST, "/api/v1/livechat/chatbots", Some(tail))
        .await
        .unwrap();
    assert_eq!(saved["warnings"][0]["kind"], "forward_without_fallback");
    assert_eq!(saved["warnings"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_button_runs_a_script_without_storing_anything() {
    let s = shop().await;
    let path = format!("/api/v1/livechat/chatbots/{}/test", s.bot);
    let run = s
        .shop
        .ok(
            &s.ann.token,
            Method::POST,
            &path,
            Some(json!({"inputs": ["I need help", "Printer on fire"]})),
        )
        .await
        .unwrap();
    let lines: Vec<(&str, &str)> = run["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["author"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            ("bot", "Hello! I am Shopbot."),
            ("bot", "What brings you here?"),
            ("visitor", "I need help"),
            ("bot", "Describe your problem in one line."),
            ("visitor", "Printer on fire"),
            ("bot", "We opened a ticket and will email you."),
            ("bot", "Goodbye!"),
        ]
    );
    assert_eq!(run["records"][0]["kind"], "ticket");
    assert_eq!(run["records"][0]["title"], "Printer on fire");
    assert_eq!(run["ended"], "finished");

    // The same from the CLI, with an operator available this time.
    let dir = s.shop.node.data_dir.to_str().unwrap().to_string();
    let bot = s.bot.clone();
    let out = tokio::task::spawn_blocking(move || {
        ochat(&[
            "chatbot",
            "test",
            &bot,
            "--input",
            "I want to buy",
            "--input",
            "Chairs",
            "--input",
            "Business",
            "--operator-available",
            "-d",
            &dir,
        ])
        .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Bot: Great, our business team handles furniture orders."),
        "{stdout}"
    );
    assert!(
        stdout.contains("System: An operator joined the conversation"),
        "{stdout}"
    );
    assert!(stdout.contains("(script ended: forwarded)"), "{stdout}");

    // Nothing was stored: no session, no lead, no ticket.
    for list in ["sessions", "leads", "tickets"] {
        let v = s
            .shop
            .admin(Method::GET, &format!("/api/v1/livechat/{list}"), None)
            .await
            .unwrap();
        assert_eq!(v, json!([]), "{list}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scripts_and_wrong_callers_are_refused_and_change_nothing() {
    let s = shop().await;
    let base = "/api/v1/livechat/chatbots";
    let admin = s.shop.node.token.clone();
    let cases = [
        (json!({"name": "x", "steps": []}), 400, "1 to 200 steps"),
        (
            json!({"name": "x", "steps": [{"type": "question", "message": "?"}]}),
            400,
            "answers",
        ),
        (
            json!({"name": "x", "steps": [{"type": "dance", "message": "?"}]}),
            422,
            "unknown variant `dance`",
        ),
        (
            json!({"name": "x", "steps": [{"type": "text", "message": "a", "only_if": ["nope"]}]}),
            400,
            "Only If names no answer",
        ),
    ];
    for (body, code, why) in cases {
        let (status, err) = s
            .shop
            .call(Some(&admin), Method::POST, base, Some(body))
            .await
            .unwrap();
        assert_eq!(status, code, "{err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message} should say {why}");
    }
    let all = s.shop.admin(Method::GET, base, None).await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1, "only the shop bot exists");

    // Operators may read and test, not write; a visitor may do neither.
    let (status, _) = s
        .shop
        .call(Some(&s.ann.token), Method::POST, base, Some(shop_bot()))
        .await
        .unwrap();
    assert_eq!(status, 403);
    let v = s.visit().await;
    let (status, _) = s
        .shop
        .call(Some(&v.token), Method::GET, base, None)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = s
        .shop
        .call(Some("op_wrong"), Method::GET, base, None)
        .await
        .unwrap();
    assert_eq!(status, 401);

    // A rule naming a chatbot that does not exist is refused; a chatbot in use is kept.
    let (status, err) = s
        .shop
        .call(
            Some(&admin),
            Method::POST,
            &format!("/api/v1/livechat/channels/{}/rules", s.channel),
            Some(json!({"chatbot_id": uuid::Uuid::now_v7().to_string()})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");
    let (status, err) = s
        .shop
        .call(
            Some(&admin),
            Method::DELETE,
            &format!("{base}/{}", s.bot),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{err}");
    let (status, _) = s
        .shop
        .call(
            Some(&admin),
            Method::GET,
            &format!("{base}/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_with_the_bot_survives_a_restart() {
    let mut s = shop().await;
    let v = s.visit().await;
    s.say(&v, "I want to buy", Some("buy")).await;
    let dir = s.shop.node.data_dir.clone();
    s.shop.node.stop().await.unwrap();
    s.shop = ChatNode::start(&dir, s.clock.clone()).await.unwrap();
    let reply = s.say(&v, "Tables", Some("tables")).await;
    assert_eq!(
        reply.last().unwrap()["text"],
        "For business or home?",
        "the bot resumes at the question it asked before the restart"
    );
}
