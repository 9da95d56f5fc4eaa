//! The web's HTTP side without a browser: the widget's page check follows the channel's rules
//! and creates nothing, typing is pushed to the other side only, the embed snippet, the pages'
//! security headers, and CORS granted to the widget's routes only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;

async fn check(chat: &ChatNode, channel: &str, page: &str) -> (u16, serde_json::Value) {
    chat.call(
        None,
        Method::POST,
        &format!("/api/v1/livechat/{channel}/check"),
        Some(json!({"page_url": page})),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_page_check_follows_the_rules_and_starts_no_session() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let channel = chat
        .channel(
            "Support",
            &[&ann],
            json!({"button_text": "Questions?", "header_color": "#222222"}),
        )
        .await
        .unwrap();
    let rules = format!("/api/v1/livechat/channels/{channel}/rules");
    for rule in [
        json!({"sequence": 1, "action": "hide", "url_regex": "/checkout"}),
        json!({"sequence": 2, "action": "auto_open", "auto_open_after_s": 3, "url_regex": "/shop"}),
        json!({"sequence": 3, "action": "show_with_notification", "url_regex": "/help"}),
    ] {
        chat.admin(Method::POST, &rules, Some(rule)).await.unwrap();
    }

    // Ann logged in 31 minutes ago and has no socket open: nobody can answer.
    chat.clock.advance_minutes(31);
    let (status, nobody) = check(&chat, &channel, "https://www.example.com/shop/shoes").await;
    assert_eq!(status, 200);
    assert_eq!(nobody["available"], json!(false));
    assert_eq!(nobody["operator_available"], json!(false));

    let _socket = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let (_, shop) = check(&chat, &channel, "https://www.example.com/shop/shoes").await;
    assert_eq!(shop["available"], json!(true));
    assert_eq!(shop["action"], json!("auto_open"));
    assert_eq!(shop["auto_open_after_s"], json!(3));
    assert_eq!(shop["button_text"], json!("Questions?"));
    assert_eq!(shop["header_color"], json!("#222222"));
    let (_, help) = check(&chat, &channel, "https://www.example.com/help").await;
    assert_eq!(help["action"], json!("show_with_notification"));
    let (_, hidden) = check(&chat, &channel, "https://www.example.com/checkout").await;
    assert_eq!(hidden["action"], json!("hide"));
    assert_eq!(hidden["available"], json!(false));
    let (_, other) = check(&chat, &channel, "https://www.example.com/").await;
    assert_eq!(other["action"], json!("show"));
    assert_eq!(other["rule_id"], json!(null));

    // Checking created no session.
    let sessions = chat
        .admin(Method::GET, "/api/v1/livechat/sessions", None)
        .await
        .unwrap();
    assert_eq!(sessions, json!([]));

    // Bad input is refused with a clear error.
    let (status, err) = check(&chat, "not-a-channel", "https://x/").await;
    assert_eq!(status, 400, "{err}");
    let (status, err) = check(&chat, &uuid::Uuid::now_v7().to_string(), "https://x/").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], json!("not_found"));
    let long = format!("https://x/{}", "a".repeat(5000));
    let (status, err) = check(&chat, &channel, &long).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], json!("bad_request"));
    let (status, err) = chat
        .call(
            None,
            Method::POST,
            &format!("/api/v1/livechat/{channel}/check"),
            Some(json!({"page": 1})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], json!("bad_request"));
}

#[tokio::test]
async fn typing_reaches_the_other_side_only_and_needs_the_sessions_token() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let bob = chat.operator("bob", json!({})).await.unwrap();
    let channel = chat.channel("Support", &[&ann], json!({})).await.unwrap();
    let mut ann_events = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let visit = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-1"))
        .await
        .unwrap();
    let other = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-2"))
        .await
        .unwrap();
    let mut visitor_events = chat
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", visit.session),
            &visit.token,
        )
        .await
        .unwrap();
    let typing = format!("/api/v1/livechat/sessions/{}/typing", visit.session);

    chat.ok(
        &visit.token,
        Method::POST,
        &typing,
        Some(json!({"typing": true})),
    )
    .await
    .unwrap();
    let e = ann_events.until(|e| e["type"] == "typing").await.unwrap();
    assert_eq!(e["session_id"], json!(visit.session));
    assert_eq!(e["author"], json!("visitor"));
    assert_eq!(e["typing"], json!(true));

    chat.ok(
        &ann.token,
        Method::POST,
        &typing,
        Some(json!({"typing": false})),
    )
    .await
    .unwrap();
    let e = visitor_events
        .until(|e| e["type"] == "typing")
        .await
        .unwrap();
    assert_eq!(e["author"], json!("operator"));
    assert_eq!(e["name"], json!("Ann"));
    assert_eq!(e["typing"], json!(false));

    // Another visitor's token, an operator not in the session, no token: refused.
    let (status, _) = chat
        .call(
            Some(&other.token),
            Method::POST,
            &typing,
            Some(json!({"typing": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = chat
        .call(
            Some(&bob.token),
            Method::POST,
            &typing,
            Some(json!({"typing": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = chat
        .call(None, Method::POST, &typing, Some(json!({"typing": true})))
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = chat
        .call(
            Some(&visit.token),
            Method::POST,
            &typing,
            Some(json!({"typing": "yes"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_snippet_pages_and_cors_are_what_a_website_needs_and_no_more() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let channel = chat.channel("Support", &[&ann], json!({})).await.unwrap();
    let api = chat.node.api.clone();

    let embed = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}/widget"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        embed["snippet"],
        json!(format!(
            "<script src=\"{api}/livechat/loader/{channel}.js\" async></script>"
        ))
    );
    assert_eq!(
        embed["link"],
        json!(format!("{api}/livechat/support/{channel}"))
    );
    let (status, _) = chat
        .call(
            Some(&ann.token),
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}/widget"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "the snippet is for the admin");

    let http = reqwest::Client::new();
    for page in [
        "/console".to_string(),
        format!("/livechat/support/{channel}"),
    ] {
        let resp = http.get(format!("{api}{page}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let html = resp.text().await.unwrap();
        assert!(!html.contains("<script>"), "no inline script in {page}");
    }
    let loader = http
        .get(format!("{api}/livechat/loader/{channel}.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(loader.status(), 200);
    assert!(
        loader.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let missing = http
        .get(format!("{api}/livechat/loader/{}.js", uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let other_support = http
        .get(format!("{api}/livechat/support/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(other_support.status(), 404);

    // A preflight from a shop is granted on the widget's routes, refused elsewhere.
    let preflight = |path: String, method: &'static str| {
        http.request(Method::OPTIONS, format!("{api}{path}"))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight(format!("/api/v1/livechat/{channel}/sessions"), "POST")
        .await
        .unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(
        methods.contains("POST") && !methods.contains("DELETE"),
        "{methods}"
    );
    for (path, method) in [
        ("/api/v1/connections".to_string(), "GET"),
        ("/api/v1/livechat/channels".to_string(), "POST"),
        ("/api/v1/users".to_string(), "POST"),
        (format!("/api/v1/livechat/channels/{channel}"), "DELETE"),
    ] {
        let refused = preflight(path.clone(), method).await.unwrap();
        assert!(
            !refused
                .headers()
                .contains_key("access-control-allow-origin"),
            "{path} must not be open to other origins"
        );
    }
    let simple = http
        .post(format!("{api}/api/v1/livechat/{channel}/check"))
        .header("origin", "https://shop.example")
        .json(&json!({"page_url": "https://shop.example/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}
