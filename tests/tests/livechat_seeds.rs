//! The last seed behaviours through the API: only enabled languages in operators' profiles,
//! each channel's satisfaction over a window, the public ratings page, and the clean-up of
//! sessions nobody wrote in (an hour) or only the chatbot answered (a day).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn operators_choose_only_among_the_languages_enabled_on_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start_with(tmp.path(), Arc::new(TestClock::new()), |c| {
        c.livechat.languages = Some(vec!["en".into(), "fr".into(), "nl".into()]);
    })
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"language": "en", "chat_languages": ["fr_BE"]}))
        .await
        .unwrap();
    let me = format!("/api/v1/users/{}", ann.id);

    // The console asks which languages it may offer.
    let offered = chat
        .ok(&ann.token, Method::GET, "/api/v1/livechat/languages", None)
        .await
        .unwrap();
    assert_eq!(
        offered["languages"],
        json!([{"code": "en", "name": "English"}, {"code": "fr", "name": "French"},
               {"code": "nl", "name": "Dutch"}])
    );

    // A made-up language, or one the node does not enable, is refused with the list; the
    // profile keeps what it had.
    for body in [
        json!({"chat_languages": ["klingon-NOTREAL"]}),
        json!({"language": "klingon-NOTREAL"}),
        json!({"chat_languages": ["nl", "de"]}),
    ] {
        let (status, refused) = chat
            .call(Some(&ann.token), Method::PATCH, &me, Some(body.clone()))
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}: {refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("enabled: en, fr, nl"), "{message}");
    }
    let (status, refused) = chat
        .call(
            Some(&chat.node.token),
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "Bob", "language": "tlh"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{refused}");
    let profile = chat.ok(&ann.token, Method::GET, &me, None).await.unwrap();
    assert_eq!(profile["language"], "en");
    assert_eq!(profile["chat_languages"], json!(["fr_BE"]));

    // Enabled languages are accepted.
    let changed = chat
        .ok(
            &ann.token,
            Method::PATCH,
            &me,
            Some(json!({"language": "nl", "chat_languages": ["fr", "en"]})),
        )
        .await
        .unwrap();
    assert_eq!(changed["language"], "nl");
    assert_eq!(changed["chat_languages"], json!(["fr", "en"]));
}

#[tokio::test]
async fn a_node_without_a_language_setting_enables_the_common_iso_languages() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let (status, _) = chat
        .call(
            Some(&chat.node.token),
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "Kor", "chat_languages": ["klingon-NOTREAL"]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let offered = chat
        .admin(Method::GET, "/api/v1/livechat/languages", None)
        .await
        .unwrap();
    let codes: Vec<&str> = offered["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    for code in ["en", "fr", "de", "es", "zh", "ar"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
}
