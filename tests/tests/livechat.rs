//! Live chat stories: a shop's website visitors get the right button, reach the right
//! operator, and the operator uses canned responses and commands; the visitor rates the chat.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Visit};
use reqwest::Method;
use serde_json::{Value, json};

async fn shop(dir: &std::path::Path) -> ChatNode {
    ChatNode::start(&dir.join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap()
}

fn op_of(v: &Visit) -> String {
    ChatNode::operator_of(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_the_shop_gets_the_rule_for_their_country_and_page() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann", "language": "en"}))
        .await
        .unwrap();
    let channel = shop
        .channel(
            "Website",
            &[&ann],
            json!({"welcome_message": "Hi! Need help?"}),
        )
        .await
        .unwrap();
    let rules = format!("/api/v1/livechat/channels/{channel}/rules");
    for rule in [
        json!({"sequence": 20, "action": "show", "url_regex": ""}),
        json!({"sequence": 2, "action": "auto_open", "auto_open_after_s": 5, "url_regex": "/shop"}),
        json!({"sequence": 10, "action": "hide", "url_regex": "/shop", "countries": ["be"]}),
        json!({"sequence": 0, "action": "show_with_notification", "url_regex": "/contact"}),
    ] {
        shop.admin(Method::POST, &rules, Some(rule)).await.unwrap();
    }

    // Belgians never see the button on the shop: their country's rule comes first.
    let (status, be) = shop
        .try_visit(
            &channel,
            "https://www.example.test/shop/chairs",
            "fr-BE",
            Some("BE"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{be}");
    assert_eq!(be["action"], "hide");
    assert_eq!(be["available"], false);
    assert!(be["token"].is_null());

    // Elsewhere the shop opens the chat after 5 s, with Ann and the welcome message.
    let fr = shop
        .visit(
            &channel,
            "https://www.example.test/shop/chairs",
            "fr-FR",
            Some("FR"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(fr.answer["action"], "auto_open");
    assert_eq!(fr.answer["auto_open_after_s"], 5);
    assert_eq!(fr.answer["operator"], "Ann");
    assert_eq!(fr.answer["welcome_message"], "Hi! Need help?");

    // Sequence order among rules with no country: /contact's rule (0) before "show all" (20).
    let contact = shop
        .visit(
            &channel,
            "https://www.example.test/contact?x=1",
            "en",
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(contact.answer["action"], "show_with_notification");
    let home = shop
        .visit(
            &channel,
            "https://www.example.test/",
            "en",
            Some("BE"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(home.answer["action"], "show");

    // A rule with a broken regex is refused when saved.
    let (status, err) = shop
        .call(
            Some(&shop.node.token),
            Method::POST,
            &rules,
            Some(json!({"action": "show", "url_regex": "(shop"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["code"], "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_reach_the_operator_who_fits_them_best() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop
        .operator("ann", json!({"language": "en", "expertise": ["sales"]}))
        .await
        .unwrap();
    let bea = shop
        .operator("bea", json!({"language": "fr", "expertise": ["billing"]}))
        .await
        .unwrap();
    let cid = shop
        .operator(
            "cid",
            json!({"language": "nl", "chat_languages": ["fr_BE"], "expertise": ["sales", "billing"], "country": "BE"}),
        )
        .await
        .unwrap();
    let channel = shop
        .channel("Website", &[&ann, &bea, &cid], json!({}))
        .await
        .unwrap();
    let mut sockets = Vec::new();
    for op in [&ann, &bea, &cid] {
        sockets.push(
            shop.socket("/api/v1/livechat/operator/events", &op.token)
                .await
                .unwrap(),
        );
    }
    let ask = |lang: &'static str, country: Option<&'static str>, body: Value| {
        let shop = &shop;
        let channel = channel.clone();
        async move {
            shop.clock.advance_minutes(3); // past the "assigned in the last 2 minutes" rule
            let (status, answer) = shop
                .visit_body(&channel, body, lang, country)
                .await
                .unwrap();
            assert_eq!(status, 201, "{answer}");
            answer["session"]["operators"][0]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    // Same language and every required expertise wins.
    let first = ask(
        "fr-FR",
        None,
        json!({"page_url": "/", "expertise": ["sales", "billing"]}),
    )
    .await;
    assert_eq!(first, cid.id);
    // Same language, no expertise asked: the least busy French speaker.
    assert_eq!(ask("fr", None, json!({"page_url": "/"})).await, bea.id);
    // English speaker, and a returning visitor who will come back.
    assert_eq!(
        ask(
            "en-GB",
            None,
            json!({"page_url": "/", "visitor_id": "v-42"})
        )
        .await,
        ann.id
    );
    // Nobody speaks German: the visitor's country decides.
    assert_eq!(
        ask("de", Some("BE"), json!({"page_url": "/"})).await,
        cid.id
    );
    // Nobody speaks German and no country: expertise decides, then the least busy.
    let billing = ask(
        "de",
        None,
        json!({"page_url": "/", "expertise": ["billing"]}),
    )
    .await;
    assert_eq!(billing, bea.id, "Bea (1 session) is less busy than Cid (2)");
    // The returning visitor goes back to Ann even though they now browse in French.
    let again = ask("fr", None, json!({"page_url": "/", "visitor_id": "v-42"})).await;
    assert_eq!(again, ann.id);

    // With a cap of 2 sessions per operator, Ann (2 ongoing) is skipped.
    shop.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"max_sessions_per_operator": 2})),
    )
    .await
    .unwrap();
    let capped = ask("en", None, json!({"page_url": "/"})).await;
    assert_ne!(capped, ann.id);

    // Dan only logged in; after 30 minutes without activity he gets no new visitors.
    let dan = shop
        .operator("dan", json!({"language": "en"}))
        .await
        .unwrap();
    let night = shop.channel("Night", &[&dan], json!({})).await.unwrap();
    let v = shop.visit(&night, "/", "en", None, None).await.unwrap();
    assert_eq!(op_of(&v), dan.id);
    shop.clock.advance_minutes(31);
    let (status, refused) = shop.try_visit(&night, "/", "en", None, None).await.unwrap();
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "no_operator");
    // He comes back (any call counts as activity) and takes visitors again.
    shop.ok(&dan.token, Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    let v = shop.visit(&night, "/", "en", None, None).await.unwrap();
    assert_eq!(op_of(&v), dan.id);

    // Operators with their WebSocket open stay present however long they are idle.
    shop.clock.advance_minutes(120);
    let v = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    assert!([&ann.id, &bea.id, &cid.id].contains(&&op_of(&v)));
    for s in sockets {
        s.close().await.unwrap();
    }
}

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
    let new = ann_ws.until(|e| e["type"] == "new_session").await.unwrap();
    assert_eq!(new["session"]["id"], sid.as_str());
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
