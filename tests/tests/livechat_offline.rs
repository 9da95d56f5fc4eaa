//! A Paris shop's live chat keeps office hours: inside them visitors chat, after closing time
//! and on holidays the widget's check says `offline` and visitors leave a message with the
//! offline form, which becomes a ticket (or lead) the operators find and the webhook receives.
//! A channel may also go offline whenever nobody can answer. The form's input is checked and
//! each address rate-limited. The widget speaks the visitor's language: built-in English,
//! French, German and Spanish texts, the channel's own texts per language, its default
//! language as the fallback. Clock-independent: the node's clock is fixed at chosen instants.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_offline::{
    PARIS_WEDNESDAY_11H, PARIS_WEDNESDAY_18H30, check, paris_office, records, send_offline, webhook,
};
use reqwest::Method;
use serde_json::{Value, json};

fn form(name: &str, email: &str, message: &str) -> Value {
    json!({"name": name, "email": email, "message": message,
           "page_url": "https://shop.example/contact"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_closing_time_visitors_leave_a_message_that_becomes_a_ticket() {
    let tmp = tempfile::tempdir().unwrap();
    let (hook, mut received) = webhook().await.unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_11H));
    let chat = ChatNode::start_with(tmp.path(), clock.clone(), |c| {
        c.livechat.webhook_url = Some(hook);
    })
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel(
            "Paris shop",
            &[&ann],
            json!({"hours": paris_office(), "offline": {"mode": "form"}}),
        )
        .await
        .unwrap();

    // Wednesday 11:00 in Paris: open, Ann answers.
    let (status, open) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(status, 200, "{open}");
    assert_eq!(open["available"], true, "{open}");
    assert!(open["offline"].is_null(), "{open}");

    // 18:30 the same day: closed. The check says offline with the form; no chat starts.
    clock.advance_ms(PARIS_WEDNESDAY_18H30 - PARIS_WEDNESDAY_11H);
    let (_, closed) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(closed["available"], false, "{closed}");
    assert_eq!(closed["offline"], json!({"reason": "closed", "form": true}));
    assert_eq!(closed["texts"]["offline_button"], "Leave us a message");
    let (status, refused) = chat
        .try_visit(&channel, "https://shop.example/contact", "en", None, None)
        .await
        .unwrap();
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("business hours"),
        "{refused}"
    );

    // The visitor leaves a message: it is a ticket Ann finds, and the webhook gets it.
    let (status, receipt, _) = send_offline(
        &chat,
        &channel,
        form(
            "Marie Curie",
            "marie@example.org",
            "Do you ship to Lyon?\nThanks",
        ),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt, json!({"received": true, "kind": "ticket"}));
    let tickets = records(&chat, &ann.token, "tickets").await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert_eq!(t["channel_id"], channel.as_str());
    assert_eq!(t["email"], "marie@example.org");
    assert!(
        t["title"]
            .as_str()
            .unwrap()
            .starts_with("Offline message from Marie Curie"),
        "{t}"
    );
    let transcript = t["transcript"].as_str().unwrap();
    assert!(transcript.contains("Do you ship to Lyon?"), "{transcript}");
    assert!(
        transcript.contains("https://shop.example/contact"),
        "{transcript}"
    );
    let posted = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
    assert_eq!(posted["kind"], "ticket");
    assert_eq!(posted["record"]["email"], "marie@example.org");

    // The channel can make leads instead.
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"offline": {"record": "lead"}})),
    )
    .await
    .unwrap();
    let (status, receipt, _) = send_offline(
        &chat,
        &channel,
        form("Pierre", "pierre@example.org", "A quote for 40 chairs"),
    )
    .await
    .unwrap();
    assert_eq!((status, receipt["kind"].clone()), (201, json!("lead")));
    let leads = records(&chat, &ann.token, "leads").await.unwrap();
    assert_eq!(leads.len(), 1);
    let c = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(c["offline"]["mode"], "form", "what is not named stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holiday_closes_the_channel_and_hiding_shows_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_11H));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let mut hours = paris_office();
    hours["holidays"] = json!(["2026-12-09"]);
    let channel = chat
        .channel("Paris shop", &[&ann], json!({"hours": hours}))
        .await
        .unwrap();
    // Offline mode "hide" (the default): the widget shows nothing.
    let (_, hidden) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(hidden["available"], false, "{hidden}");
    assert_eq!(
        hidden["offline"],
        json!({"reason": "holiday", "form": false})
    );
    let (status, _, _) = send_offline(&chat, &channel, form("A", "a@example.org", "Hi"))
        .await
        .unwrap();
    assert_eq!(
        status, 409,
        "a channel without an offline form takes no message"
    );

    // Removing the business hours opens it again.
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"hours": null})),
    )
    .await
    .unwrap();
    let (_, open) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(open["available"], true, "{open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_says_so_goes_offline_while_nobody_can_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_11H));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
    // No operator in the channel: nobody can answer.
    let channel = chat
        .channel("Nights", &[], json!({"offline": {"mode": "form"}}))
        .await
        .unwrap();
    let (_, before) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(before["available"], false);
    assert!(
        before["offline"].is_null(),
        "off by default: the button just hides"
    );
    chat.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{channel}"),
        Some(json!({"offline": {"when_no_operator": true}})),
    )
    .await
    .unwrap();
    let (_, after) = check(&chat, &channel, &["en"], "en").await.unwrap();
    assert_eq!(after["available"], false);
    assert_eq!(
        after["offline"],
        json!({"reason": "no_operator", "form": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_form_checks_its_input_and_limits_each_address() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_18H30));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
    let channel = chat
        .channel(
            "Paris shop",
            &[],
            json!({"hours": paris_office(), "offline": {"mode": "form"}}),
        )
        .await
        .unwrap();
    let admin = chat.node.token.clone();
    for (body, says) in [
        (form("", "a@example.org", "Hi"), "name is required"),
        (form("Ann", "not-an-email", "Hi"), "valid email"),
        (form("Ann", "ann@localhost", "Hi"), "valid email"),
        (form("Ann", "ann@example.org", "   "), "message is required"),
        (
            form("Ann", "ann@example.org", &"x".repeat(4001)),
            "at most 4000",
        ),
        (
            form(&"n".repeat(101), "ann@example.org", "Hi"),
            "at most 100",
        ),
        (
            json!({"name": "Ann", "email": "ann@example.org"}),
            "message",
        ),
    ] {
        let (status, err, _) = send_offline(&chat, &channel, body).await.unwrap();
        assert_eq!(status, 400, "{err}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message} should say {says}");
    }
    assert!(
        records(&chat, &admin, "tickets").await.unwrap().is_empty(),
        "bad input changes nothing"
    );

    // Five messages from one address, then it must wait.
    for i in 0..5 {
        let (status, body, _) = send_offline(
            &chat,
            &channel,
            form("Ann", "ann@example.org", &format!("message {i}")),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let (status, body, retry) = send_offline(
        &chat,
        &channel,
        form("Ann", "ann@example.org", "one too many"),
    )
    .await
    .unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() > 0));
    assert_eq!(records(&chat, &admin, "tickets").await.unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sets_the_hours_and_bad_schedules_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_11H));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
    let channel = chat.channel("Shop", &[], json!({})).await.unwrap();
    let path = format!("/api/v1/livechat/channels/{channel}");
    let saved = chat
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"hours": {"time_zone": "America/New_York",
                "weekly": ["Monday-Friday 8:00-18:00", "sat 10:00-14:00"],
                "holidays": ["2026-12-31", "2026-12-25", "2026-12-25"]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        saved["hours"],
        json!({"time_zone": "America/New_York",
               "weekly": ["mon-fri 08:00-18:00", "sat 10:00-14:00"],
               "holidays": ["2026-12-25", "2026-12-31"]})
    );
    for (hours, says) in [
        (
            json!({"time_zone": "Mars/Olympus", "weekly": ["mon 09:00-10:00"]}),
            "time zone",
        ),
        (
            json!({"time_zone": "UTC", "weekly": ["mon 18:00-09:00"]}),
            "closes after it opens",
        ),
        (
            json!({"time_zone": "UTC", "weekly": ["mon 09:00-10:00"], "holidays": ["25/12/2026"]}),
            "YYYY-MM-DD",
        ),
        (
            json!({"time_zone": "UTC", "weekly": []}),
            "at least one slot",
        ),
    ] {
        let (status, err) = chat
            .call(
                Some(&chat.node.token),
                Method::PATCH,
                &path,
                Some(json!({"hours": hours})),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{err}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message} should say {says}");
    }
    let c = chat.admin(Method::GET, &path, None).await.unwrap();
    assert_eq!(c["hours"], saved["hours"], "refused changes change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_speaks_the_visitor_language_with_the_channel_own_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_11H));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
    let channel = chat
        .channel("Shop", &[], json!({"button_text": "Need help?"}))
        .await
        .unwrap();

    // The browser's languages in order, by primary tag; the header when the list is empty.
    let (_, fr) = check(&chat, &channel, &["fr-CA", "en"], "fr-CA")
        .await
        .unwrap();
    assert_eq!(fr["language"], "fr");
    assert_eq!(fr["button_text"], "Une question ? Discutons.");
    assert_eq!(fr["texts"]["send"], "Envoyer");
    assert_eq!(fr["texts"]["offline_send"], "Envoyer le message");
    let (_, de) = check(&chat, &channel, &[], "de-DE,de;q=0.9").await.unwrap();
    assert_eq!(de["language"], "de");
    assert_eq!(de["texts"]["rating_question"], "Wie war dieses Gespräch?");
    let (_, es) = check(&chat, &channel, &["es-MX"], "es").await.unwrap();
    assert_eq!(es["texts"]["end_chat"], "Terminar chat");
    // A language without texts falls back to the channel's default (English), with the
    // channel's own button text.
    let (_, ja) = check(&chat, &channel, &["ja"], "ja").await.unwrap();
    assert_eq!(ja["language"], "en");
    assert_eq!(ja["button_text"], "Need help?");

    // The admin adds Italian and changes a French text; German becomes the fallback.
    let path = format!("/api/v1/livechat/channels/{channel}");
    chat.admin(
        Method::PATCH,
        &path,
        Some(json!({"default_language": "de", "texts": {
            "it": {"button": "Domande? Scrivici.", "welcome": "Come possiamo aiutarti?"},
            "fr": {"welcome": "Bienvenue chez nous !"}}})),
    )
    .await
    .unwrap();
    let (_, it) = check(&chat, &channel, &["it-IT"], "it").await.unwrap();
    assert_eq!(it["language"], "it");
    assert_eq!(it["button_text"], "Domande? Scrivici.");
    assert_eq!(
        it["texts"]["send"], "Senden",
        "missing Italian texts come from German"
    );
    let (_, fr) = check(&chat, &channel, &["fr"], "fr").await.unwrap();
    assert_eq!(fr["welcome_message"], "Bienvenue chez nous !");
    let (_, ja) = check(&chat, &channel, &["ja"], "ja").await.unwrap();
    assert_eq!(ja["language"], "de");

    // Unknown keys and bad language codes are refused with the list of keys.
    for (texts, says) in [
        (json!({"fr": {"buton": "x"}}), "not a widget text"),
        (json!({"français": {"send": "x"}}), "not a language code"),
    ] {
        let (status, err) = chat
            .call(
                Some(&chat.node.token),
                Method::PATCH,
                &path,
                Some(json!({"texts": texts})),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(says),
            "{err}"
        );
    }

    // The console's table: every key with its built-in texts in the four languages.
    let table = chat
        .admin(Method::GET, "/api/v1/livechat/widget-texts", None)
        .await
        .unwrap();
    assert_eq!(table["languages"], json!(["en", "fr", "de", "es"]));
    let keys = table["texts"].as_array().unwrap();
    assert!(keys.len() >= 30, "{}", keys.len());
    for k in keys {
        for lang in ["en", "fr", "de", "es"] {
            assert!(
                k["built_in"][lang].as_str().is_some_and(|t| !t.is_empty()),
                "{k}"
            );
        }
    }
    let (status, _) = chat
        .call(None, Method::GET, "/api/v1/livechat/widget-texts", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}
