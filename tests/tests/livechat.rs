//! Live chat stories: an operator answers a shop's visitor with canned responses and
//! commands, the visitor rates the chat, and everything survives a restart; a conversation
//! goes on after a restart where it stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_answers_with_canned_responses_and_commands_and_the_visitor_rates() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new());
    let mut shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();

    // Canned responses: Ann's own, and one the admin shares with the support group.
    let group = shop
        .admin(
            Method::POST,
            "/api/v1/livechat/groups",
            Some(json!({"name": "support", "members": [ann.id]})),
        )
        .await
        .unwrap();
    let canned = "/api/v1/livechat/canned";
    shop.ok(
        &ann.token,
        Method::POST,
        canned,
        Some(json!({"shortcut": "hi", "substitution": "Hello, I am Ann."})),
    )
    .await
    .unwrap();
    shop.admin(Method::POST, canned, Some(json!({"shortcut": "price", "substitution": "Chairs cost 40 EUR.", "groups": [group["id"]]})))
        .await
        .unwrap();
    let (status, _) = shop
        .call(
            Some(&ann.token),
            Method::POST,
            canned,
            Some(json!({"shortcut": "hi", "substitution": "again"})),
        )
        .await
        .unwrap();
    assert_eq!(
        status, 409,
        "the same shortcut for the same audience is refused"
    );
    let all = shop
        .ok(
            &ann.token,
            Method::GET,
            "/api/v1/livechat/canned/matches?q=::",
            None,
        )
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let pr = shop
        .ok(
            &ann.token,
            Method::GET,
            "/api/v1/livechat/canned/matches?q=::pr",
            None,
        )
        .await
        .unwrap();
    assert_eq!(pr[0]["shortcut"], "price");
    assert_eq!(pr.as_array().unwrap().len(), 1);

    // A visitor browses the shop and asks a question.
    let mut ann_ws = shop
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let visit = shop
        .visit(
            &channel,
            "https://www.example.test/shop",
            "en",
            None,
            Some("v-7"),
        )
        .await
        .unwrap();
    let sid = visit.session.clone();
    let mut visitor_ws = shop
        .socket(
            &format!("/api/v1/livechat/sessions/{sid}/events"),
            &visit.token,
        )
        .await
        .unwrap();
    for page in [
        "https://www.example.test/shop/chairs",
        "https://www.example.test/shop/tables",
        "https://www.example.test/shop/chairs",
    ] {
        shop.ok(
            &visit.token,
            Method::POST,
            &format!("/api/v1/livechat/sessions/{sid}/pages"),
            Some(json!({"url": page})),
        )
        .await
        .unwrap();
    }
    shop.say(&visit.token, &sid, "I need a quote for 12 oak chairs")
        .await
        .unwrap();
    // Ann hears of the session once the visitor writes (not when the widget opened it).
    let new = ann_ws.until(|e| e["type"] == "new_session").await.unwrap();
    assert_eq!(new["session"]["id"], sid.as_str());
    let got = ann_ws.until(|e| e["type"] == "message").await.unwrap();
    assert_eq!(got["message"]["text"], "I need a quote for 12 oak chairs");

    // `:hi` and `::price` expand in what the visitor receives.
    shop.say(&ann.token, &sid, ":hi ::price").await.unwrap();
    let seen = visitor_ws
        .until(|e| e["type"] == "message" && e["message"]["author"] == "operator")
        .await
        .unwrap();
    assert_eq!(
        seen["message"]["text"],
        "Hello, I am Ann. Chairs cost 40 EUR."
    );
    assert_eq!(seen["message"]["author_name"], "Ann");

    // Commands answer Ann alone.
    let history = shop.say(&ann.token, &sid, "/history").await.unwrap();
    let text = history["text"].as_str().unwrap();
    assert!(
        text.contains("1. https://www.example.test/shop/chairs"),
        "{text}"
    );
    assert!(
        text.contains("2. https://www.example.test/shop/tables"),
        "{text}"
    );
    assert_eq!(
        text.matches("chairs").count(),
        1,
        "pages are kept once: {text}"
    );
    let help = shop.say(&ann.token, &sid, "/help").await.unwrap();
    assert!(help["text"].as_str().unwrap().contains("/search_tickets"));
    let unknown = shop.say(&ann.token, &sid, "/frobnicate").await.unwrap();
    assert!(
        unknown["text"]
            .as_str()
            .unwrap()
            .contains("Unknown command /frobnicate")
    );
    let lead = shop
        .say(&ann.token, &sid, "/lead Oak chairs for a restaurant")
        .await
        .unwrap();
    assert_eq!(
        lead["text"],
        "Created a new lead #1: Oak chairs for a restaurant"
    );
    let ticket = shop.say(&ann.token, &sid, "/ticket").await.unwrap();
    assert_eq!(
        ticket["text"],
        "Created a new ticket #1: I need a quote for 12 oak chairs"
    );
    let found = shop
        .say(&ann.token, &sid, "/search_tickets OAK quote")
        .await
        .unwrap();
    assert!(
        found["text"]
            .as_str()
            .unwrap()
            .contains("#1 I need a quote"),
        "{found}"
    );
    let by_number = shop
        .say(&ann.token, &sid, "/search_tickets #1")
        .await
        .unwrap();
    assert!(by_number["text"].as_str().unwrap().contains("#1"));
    let none = shop
        .say(&ann.token, &sid, "/search_tickets sofa")
        .await
        .unwrap();
    assert!(
        none["text"]
            .as_str()
            .unwrap()
            .starts_with("No tickets found")
    );

    // The visitor saw none of it: their next event is Ann's next public message.
    shop.say(&ann.token, &sid, "Anything else?").await.unwrap();
    let next = visitor_ws.until(|e| e["type"] == "message").await.unwrap();
    assert_eq!(next["message"]["text"], "Anything else?");
    let transcript = shop
        .ok(
            &visit.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{sid}/messages"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(transcript.as_array().unwrap().len(), 3, "{transcript}");

    // Leads and tickets carry the transcript.
    let leads = shop
        .ok(&ann.token, Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    assert!(
        leads[0]["transcript"]
            .as_str()
            .unwrap()
            .contains("[Visitor] I need a quote for 12 oak chairs")
    );
    let tickets = shop
        .admin(Method::GET, "/api/v1/livechat/tickets", None)
        .await
        .unwrap();
    assert_eq!(tickets.as_array().unwrap().len(), 1);

    // Ann leaves; she was the last operator, so the session closes and the visitor is told.
    let left = shop.say(&ann.token, &sid, "/leave").await.unwrap();
    assert_eq!(left["text"], "You left the conversation.");
    visitor_ws.until(|e| e["type"] == "closed").await.unwrap();
    let closed = shop
        .ok(
            &ann.token,
            Method::GET,
            "/api/v1/livechat/sessions?status=closed",
            None,
        )
        .await
        .unwrap();
    assert_eq!(closed[0]["id"], sid.as_str());

    // The visitor rates: happy, then changes their mind (one rating per session).
    let rate = format!("/api/v1/livechat/sessions/{sid}/rating");
    shop.ok(
        &visit.token,
        Method::POST,
        &rate,
        Some(json!({"rating": 5, "comment": "Great"})),
    )
    .await
    .unwrap();
    shop.ok(
        &visit.token,
        Method::POST,
        &rate,
        Some(json!({"rating": 3, "comment": "Okay"})),
    )
    .await
    .unwrap();
    let (status, _) = shop
        .call(
            Some(&visit.token),
            Method::POST,
            &rate,
            Some(json!({"rating": 4})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let public = format!("/api/v1/livechat/public/channels/{channel}/ratings");
    let (status, _) = shop.call(None, Method::GET, &public, None).await.unwrap();
    assert_eq!(status, 404, "unpublished channels show no ratings");
    shop.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"published": true})),
    )
    .await
    .unwrap();
    let (_, shown) = shop.call(None, Method::GET, &public, None).await.unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 1);
    assert_eq!(shown[0]["rating"], 3);
    assert_eq!(shown[0]["operator"], "Ann");
    shop.admin(
        Method::PUT,
        &format!("{rate}/visibility"),
        Some(json!({"internal_only": true})),
    )
    .await
    .unwrap();
    let (_, shown) = shop.call(None, Method::GET, &public, None).await.unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 0);

    // Everything survives a restart, and a logged-out token stops working.
    shop.node.stop().await.unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), clock)
        .await
        .unwrap();
    let transcript = shop
        .ok(
            &ann.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{sid}/messages"),
            None,
        )
        .await
        .unwrap();
    assert!(transcript.as_array().unwrap().len() >= 4);
    let rating = shop
        .ok(&visit.token, Method::GET, &rate, None)
        .await
        .unwrap();
    assert_eq!(rating["rating"], 3);
    assert_eq!(rating["internal_only"], true);
    shop.ok(&ann.token, Method::POST, "/api/v1/logout", None)
        .await
        .unwrap();
    let (status, _) = shop
        .call(Some(&ann.token), Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}

/// Texts of a transcript as `token` reads it.
async fn texts(shop: &ChatNode, token: &str, sid: &str) -> Vec<String> {
    shop.transcript(token, sid)
        .await
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_read_again_and_again_shows_every_new_message_and_private_answers_only_to_their_operator()
 {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new());
    let shop = Arc::new(
        ChatNode::start(&tmp.path().join("shop"), clock.clone())
            .await
            .unwrap(),
    );
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
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
    let visit = shop
        .visit(&channel, "https://shop.test/", "en", None, None)
        .await
        .unwrap();
    let sid = visit.session.clone();
    let (first, second) = if ChatNode::operator_of(&visit) == ann.id {
        (&ann, &bob)
    } else {
        (&bob, &ann)
    };
    shop.ok(
        &second.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{sid}/join"),
        None,
    )
    .await
    .unwrap();

    // Everyone reads the conversation once, so it is answered from memory from now on.
    shop.say(&visit.token, &sid, "one").await.unwrap();
    let before = texts(&shop, &visit.token, &sid).await;
    assert_eq!(before.last().map(String::as_str), Some("one"));
    assert_eq!(texts(&shop, &first.token, &sid).await, before);
    assert_eq!(texts(&shop, &second.token, &sid).await, before);

    // A command's answer is for the operator who typed it; the visitor keeps writing.
    let answer = shop.say(&first.token, &sid, "/help").await.unwrap();
    let private = answer["text"].as_str().unwrap().to_string();
    shop.say(&visit.token, &sid, "two").await.unwrap();

    let visitor = texts(&shop, &visit.token, &sid).await;
    assert_eq!(visitor[visitor.len() - 2..], ["one", "two"]);
    assert!(!visitor.contains(&private), "the visitor never sees it");
    let theirs = texts(&shop, &second.token, &sid).await;
    assert_eq!(theirs, visitor, "the other operator does not see it either");
    let mine = texts(&shop, &first.token, &sid).await;
    assert!(mine.contains(&private));
    assert_eq!(mine.len(), visitor.len() + 1);
    let admin = shop
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{sid}/messages"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(admin.as_array().unwrap().len(), mine.len());

    // Writers and readers at once: every acknowledged message is in the next read, in order.
    let mut writers = Vec::new();
    for n in 0..20 {
        let shop = shop.clone();
        let token = visit.token.clone();
        let sid = sid.clone();
        writers.push(tokio::spawn(async move {
            shop.say(&token, &sid, &format!("burst {n}")).await.unwrap();
            texts(&shop, &token, &sid).await
        }));
    }
    for (n, w) in writers.into_iter().enumerate() {
        let seen = w.await.unwrap();
        assert!(
            seen.contains(&format!("burst {n}")),
            "a read after the POST shows it"
        );
    }
    let after = shop.transcript(&visit.token, &sid).await.unwrap();
    let seqs: Vec<u64> = after.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeats: {seqs:?}"
    );
    let everything = texts(&shop, &first.token, &sid).await;
    assert_eq!(everything.len(), mine.len() + 20);

    // Closed, and after a restart, the same transcript comes from disk.
    shop.ok(
        &visit.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{sid}/close"),
        None,
    )
    .await
    .unwrap();
    let closed = texts(&shop, &first.token, &sid).await;
    assert_eq!(closed[..everything.len()], everything[..]);
    let mut shop = Arc::into_inner(shop).unwrap();
    shop.node.stop().await.unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), clock)
        .await
        .unwrap();
    assert_eq!(texts(&shop, &first.token, &sid).await, closed);
    assert!(!texts(&shop, &visit.token, &sid).await.contains(&private));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_goes_on_after_a_restart_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(1_800_000_000_000));
    let mut shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    let v = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    let session = format!("/api/v1/livechat/sessions/{}", v.session);

    // Ten minutes later the visitor writes twice and Ann answers.
    clock.advance_minutes(10);
    shop.say(&v.token, &v.session, "is the blue one in stock?")
        .await
        .unwrap();
    shop.say(&v.token, &v.session, "size 42").await.unwrap();
    clock.advance_minutes(1);
    shop.say(&ann.token, &v.session, "yes, two left")
        .await
        .unwrap();
    let before = shop
        .ok(&ann.token, Method::GET, &session, None)
        .await
        .unwrap();
    let written = texts(&shop, &v.token, &v.session).await;
    assert_eq!(written.len(), 3, "{written:?}");

    // The node restarts; the session's last activity is Ann's answer, not the visit's start.
    shop.node.stop().await.unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), clock.clone())
        .await
        .unwrap();
    let after = shop
        .ok(&ann.token, Method::GET, &session, None)
        .await
        .unwrap();
    assert_eq!(after["last_activity_ms"], before["last_activity_ms"]);
    assert_eq!(
        after["last_activity_ms"].as_u64().unwrap(),
        1_800_000_000_000 + 11 * 60_000
    );

    // The next message comes after the others instead of taking the place of one.
    shop.say(&v.token, &v.session, "I'll take both")
        .await
        .unwrap();
    let mut expected = written;
    expected.push("I'll take both".to_string());
    assert_eq!(texts(&shop, &v.token, &v.session).await, expected);
}
