//! The last seed behaviours through the API: only enabled languages in operators' profiles,
//! each channel's satisfaction over a window, the public ratings page, and the clean-up of
//! sessions nobody wrote in (an hour) or only the chatbot answered (a day).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator};
use ochat_tests::process::ochat;
use ochat_tests::seeds::rated_session;
use reqwest::Method;
use serde_json::json;

/// An operator logs in again (their token expired while the clock moved on).
async fn relogin(chat: &ChatNode, op: &Operator, login: &str) -> Operator {
    let answer = chat
        .call(
            None,
            Method::POST,
            "/api/v1/login",
            Some(json!({"login": login, "password": format!("pw-{login}")})),
        )
        .await
        .unwrap()
        .1;
    Operator {
        id: op.id.clone(),
        token: answer["token"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn operators_choose_only_among_the_languages_enabled_on_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start_with(tmp.path(), Arc::new(TestClock::new()), |c| {
        c.livechat.languages = Some(vec!["en".into(), "fr".into(), "nl".into()]);
    })
    .await
    .unwrap();
    let ann = chat
        .operator(
            "ann",
            json!({"language": "en", "chat_languages": ["fr_BE"]}),
        )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_channel_shows_its_share_of_happy_ratings_over_the_last_fourteen_days() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let bea = chat.operator("bea", json!({})).await.unwrap();
    let support = chat.channel("Support", &[&ann], json!({})).await.unwrap();
    let sales = chat.channel("Sales", &[&bea], json!({})).await.unwrap();

    // Three weeks ago a visitor was unhappy; this week two were happy and one okay.
    rated_session(&chat, &support, &ann.token, 1, "slow")
        .await
        .unwrap();
    chat.clock.advance_minutes(21 * 24 * 60);
    let ann = relogin(&chat, &ann, "ann").await;
    for (rating, comment) in [(5, "great"), (5, "quick"), (3, "fine")] {
        chat.clock.advance_minutes(10);
        rated_session(&chat, &support, &ann.token, rating, comment)
            .await
            .unwrap();
    }

    let path = format!("/api/v1/livechat/channels/{support}/satisfaction");
    let two_weeks = chat.ok(&ann.token, Method::GET, &path, None).await.unwrap();
    assert_eq!(two_weeks["days"], 14);
    assert_eq!(two_weeks["ratings"], 3);
    assert_eq!(two_weeks["happy"], 2);
    assert_eq!(two_weeks["percent"], 67);
    let month = chat
        .ok(&ann.token, Method::GET, &format!("{path}?days=30"), None)
        .await
        .unwrap();
    assert_eq!(
        (month["ratings"].clone(), month["percent"].clone()),
        (json!(4), json!(50))
    );
    for bad in ["0", "3651", "two-weeks"] {
        let (status, refused) = chat
            .call(
                Some(&ann.token),
                Method::GET,
                &format!("{path}?days={bad}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{bad}: {refused}");
    }
    let bea = relogin(&chat, &bea, "bea").await;
    let (status, _) = chat
        .call(Some(&bea.token), Method::GET, &path, None)
        .await
        .unwrap();
    assert_eq!(status, 403, "Bea is not an operator of Support");

    // Every channel at once, and in the channel list.
    let all = chat
        .admin(Method::GET, "/api/v1/livechat/satisfaction", None)
        .await
        .unwrap();
    let by_name = |name: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["channel_name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("Support")["percent"], 67);
    assert_eq!(by_name("Sales")["percent"], json!(null));
    assert_eq!(by_name("Sales")["channel_id"], sales.as_str());
    let list = chat
        .ok(&ann.token, Method::GET, "/api/v1/livechat/channels", None)
        .await
        .unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Support")
        .unwrap();
    assert_eq!(mine["satisfaction"], 67);

    // The CLI prints the same.
    let dir = chat.node.data_dir.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        ochat(&["report", "satisfaction", "--days", "30", "-d", &dir]).unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SATISFACTION"), "{text}");
    let support_line = text.lines().find(|l| l.contains("Support")).unwrap();
    assert!(support_line.contains("50%"), "{text}");
    let sales_line = text.lines().find(|l| l.contains("Sales")).unwrap();
    assert!(sales_line.contains("no ratings"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_nobody_talked_in_are_cleaned_up_by_the_timer_and_never_counted() {
    use ochat_tests::seeds::swept_shop;
    let tmp = tempfile::tempdir().unwrap();
    let chat = swept_shop(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let direct = chat.channel("Direct", &[&ann], json!({})).await.unwrap();
    let website = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({"name": "Bot", "operator_name": "Shopbot", "steps": [
                {"type": "free_input", "message": "What are you looking for?"},
                {"type": "text", "message": "Let me look that up."},
                {"type": "free_input", "message": "Anything else?"}]})),
        )
        .await
        .unwrap();
    chat.admin(
        Method::POST,
        &format!("/api/v1/livechat/channels/{website}/rules"),
        Some(json!({"sequence": 1, "action": "show", "chatbot_id": bot["id"]})),
    )
    .await
    .unwrap();

    // Four visitors: one opens the chat and never writes; one lets the chatbot greet them and
    // never writes; one answers the chatbot only; one talks with Ann.
    let silent = chat.visit(&direct, "/", "en", None, None).await.unwrap();
    let greeted = chat.visit(&website, "/", "en", None, None).await.unwrap();
    let bot_only = chat.visit(&website, "/", "en", None, None).await.unwrap();
    chat.say(&bot_only.token, &bot_only.session, "blue chairs")
        .await
        .unwrap();
    let talk = chat.visit(&direct, "/", "en", None, None).await.unwrap();
    chat.say(&talk.token, &talk.session, "Do you deliver?")
        .await
        .unwrap();
    chat.say(&ann.token, &talk.session, "We do.").await.unwrap();

    // The reports count only the two conversations someone wrote in.
    let report = || async {
        chat.admin(Method::GET, "/api/v1/livechat/reports/sessions", None)
            .await
            .unwrap()
            .to_string()
    };
    let now = report().await;
    for (v, counted) in [
        (&silent, false),
        (&greeted, false),
        (&bot_only, true),
        (&talk, true),
    ] {
        assert_eq!(now.contains(&v.session), counted, "{}: {now}", v.session);
    }

    // An hour later the timer removes the two silent sessions by itself: their visitors are
    // told, and they are gone.
    let mut silent_ws = chat
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", silent.session),
            &silent.token,
        )
        .await
        .unwrap();
    let mut bot_ws = chat
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", bot_only.session),
            &bot_only.token,
        )
        .await
        .unwrap();
    chat.clock.advance_minutes(59);
    chat.clock.advance_minutes(2);
    silent_ws.until(|e| e["type"] == "closed").await.unwrap();
    for v in [&silent, &greeted] {
        let (status, _) = chat
            .call(
                Some(&chat.node.token),
                Method::GET,
                &format!("/api/v1/livechat/sessions/{}", v.session),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 404, "{} is removed", v.session);
    }
    let open = |id: String| {
        let chat = &chat;
        async move {
            chat.admin(
                Method::GET,
                &format!("/api/v1/livechat/sessions/{id}"),
                None,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(open(bot_only.session.clone()).await["status"], "open");

    // A day without activity later the timer closes the one only the chatbot answered: it
    // stays in the history, marked abandoned, and the reports no longer count it. The
    // conversation with Ann is not touched.
    chat.clock.advance_minutes(24 * 60);
    bot_ws.until(|e| e["type"] == "closed").await.unwrap();
    let closed = open(bot_only.session.clone()).await;
    assert_eq!(closed["status"], "closed", "{closed}");
    assert_eq!(closed["abandoned"], true, "{closed}");
    assert_eq!(open(talk.session.clone()).await["status"], "open");
    let later = report().await;
    assert!(!later.contains(&bot_only.session), "{later}");
    assert!(later.contains(&talk.session), "{later}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enabled_languages_are_set_with_a_flag_and_checked_at_start() {
    use ochat_tests::process::NodeProcess;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let bad = tmp.path().join("bad");
    let refused = tokio::task::block_in_place(|| {
        ochat(&[
            "run",
            "-d",
            bad.to_str().unwrap(),
            "--api-listen",
            "127.0.0.1:0",
            "--livechat-languages",
            "en,klingon",
        ])
        .unwrap()
    });
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("ISO 639-1"), "{err}");

    let node = tokio::task::block_in_place(|| {
        NodeProcess::start(
            &dir,
            &["--livechat-languages", "en,NL"],
            std::time::Duration::from_secs(60),
        )
        .unwrap()
    });
    let token = node.admin_token().unwrap();
    let languages: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/livechat/languages", node.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        languages["languages"],
        json!([{"code": "en", "name": "English"}, {"code": "nl", "name": "Dutch"}])
    );
    tokio::task::block_in_place(|| node.terminate(std::time::Duration::from_secs(30)).unwrap());
}
