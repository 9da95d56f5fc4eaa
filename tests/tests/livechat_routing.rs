//! Live chat stories: a shop's website visitors get the button the channel's rules give their
//! page and country, and reach the operator who fits them best.
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
            // The visitor writes: only then does the session count against the cap.
            shop.say(
                answer["token"].as_str().unwrap(),
                answer["session"]["id"].as_str().unwrap(),
                "hello",
            )
            .await
            .unwrap();
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

    // An open WebSocket alone does not keep an idle operator present: after 30 minutes
    // without activity Ann, Bea and Cid, whose consoles are open, get no new visitors.
    shop.clock.advance_minutes(31);
    let (status, refused) = shop
        .try_visit(&channel, "/", "en", None, None)
        .await
        .unwrap();
    assert_eq!(status, 503, "{refused}");
    // Bea's console reports that she typed: she takes visitors again.
    let back = shop
        .ok(
            &bea.token,
            Method::POST,
            "/api/v1/livechat/operator/activity",
            None,
        )
        .await
        .unwrap();
    assert_eq!(back["status"], "online", "{back}");
    let v = shop.visit(&channel, "/", "en", None, None).await.unwrap();
    assert_eq!(op_of(&v), bea.id);
    for s in sockets {
        s.close().await.unwrap();
    }
}
