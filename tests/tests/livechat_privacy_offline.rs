//! A visitor who found the shop closed left a message with the offline form, then asks the
//! shop (GDPR) for everything it holds about them and to erase it. The ticket their form made
//! has no conversation behind it; it is linked to them by the visitor id the widget sends with
//! the form, so the admin's export shows it and the erase removes it — and another visitor's
//! message, and a form sent without a visitor id, stay.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_offline::{PARIS_WEDNESDAY_18H30, paris_office, records, send_offline};
use reqwest::Method;
use serde_json::{Value, json};

fn form(name: &str, email: &str, message: &str, visitor: Option<&str>) -> Value {
    json!({"name": name, "email": email, "message": message,
           "page_url": "https://shop.example/contact", "visitor_id": visitor})
}

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_visitor_takes_their_offline_messages_with_them() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_18H30));
    let chat = ChatNode::start(tmp.path(), clock).await.unwrap();
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

    // After closing time Marie (browser v-marie) and Pierre (v-pierre) leave messages; an
    // older widget sends one without a visitor id.
    for (name, email, text, visitor) in [
        (
            "Marie",
            "marie@example.org",
            "Do you ship to Lyon?",
            Some("v-marie"),
        ),
        (
            "Pierre",
            "pierre@example.org",
            "A quote for 40 chairs",
            Some("v-pierre"),
        ),
        ("Anon", "anon@example.org", "Opening hours?", None),
    ] {
        let (status, body, _) = send_offline(&chat, &channel, form(name, email, text, visitor))
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    // A visitor id the session start would refuse is refused here too, and nothing is stored.
    let (status, body, _) = send_offline(
        &chat,
        &channel,
        form("Eve", "eve@example.org", "Hello", Some("")),
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("visitor_id"),
        "{body}"
    );
    assert_eq!(
        records(&chat, &ann.token, "tickets").await.unwrap().len(),
        3
    );

    // Marie asks what the shop holds about her: her message is in the export.
    let marie = "/api/v1/livechat/visitors/v-marie";
    let export = chat
        .admin(Method::GET, &format!("{marie}/export"), None)
        .await
        .unwrap();
    assert_eq!(export["sessions"], json!([]), "she never chatted");
    let tickets = &export["tickets"];
    assert_eq!(
        titles(tickets),
        ["Offline message from Marie: Do you ship to Lyon?"]
    );
    assert_eq!(tickets[0]["email"], "marie@example.org");
    assert_eq!(tickets[0]["visitor_id"], "v-marie");
    assert_eq!(export["leads"], json!([]));

    // She asks to be erased: the ticket is gone, and counted.
    let erased = chat.admin(Method::DELETE, marie, None).await.unwrap();
    assert_eq!(
        erased,
        json!({"sessions": 0, "messages": 0, "ratings": 0, "records": 1,
               "returning": false, "files": 0})
    );
    let again = chat
        .admin(Method::GET, &format!("{marie}/export"), None)
        .await
        .unwrap();
    assert_eq!(again["tickets"], json!([]));

    // Pierre's message and the one without a visitor id are kept.
    let left = records(&chat, &ann.token, "tickets").await.unwrap();
    let mut left: Vec<&str> = left.iter().map(|t| t["title"].as_str().unwrap()).collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [
            "Offline message from Anon: Opening hours?",
            "Offline message from Pierre: A quote for 40 chairs"
        ]
    );
    let pierre = chat
        .admin(
            Method::GET,
            "/api/v1/livechat/visitors/v-pierre/export",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        titles(&pierre["tickets"]),
        ["Offline message from Pierre: A quote for 40 chairs"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_from_a_chat_is_erased_with_its_visitor_even_after_the_chat_was_swept() {
    // Paul chats, Ann makes a lead of it, the chat closes. Retention (30 days) later deletes
    // the conversation but not the lead; when Paul asks to be erased, the lead goes too.
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::fixed_at(PARIS_WEDNESDAY_18H30));
    let chat = ChatNode::start_with(tmp.path(), clock, |c| {
        c.livechat.retention_days = Some(30);
        c.livechat.retention_sweep_every = Some(Duration::from_millis(50));
    })
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    chat.ok(
        &ann.token,
        Method::POST,
        "/api/v1/livechat/operator/activity",
        None,
    )
    .await
    .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let visit = chat
        .visit(
            &channel,
            "https://shop.example/",
            "en",
            None,
            Some("v-paul"),
        )
        .await
        .unwrap();
    chat.say(&visit.token, &visit.session, "I want 40 chairs")
        .await
        .unwrap();
    chat.say(&ann.token, &visit.session, "/lead Chairs for Paul")
        .await
        .unwrap();
    chat.ok(
        &ann.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", visit.session),
        None,
    )
    .await
    .unwrap();

    // 31 days later the sweep has deleted the chat; the lead is still listed.
    chat.clock.advance_ms(31 * 86_400_000);
    let paul = "/api/v1/livechat/visitors/v-paul";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let export = chat
            .admin(Method::GET, &format!("{paul}/export"), None)
            .await
            .unwrap();
        if export["sessions"] == json!([]) {
            assert_eq!(titles(&export["leads"]), ["Chairs for Paul"], "{export}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweep did not run: {export}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let erased = chat.admin(Method::DELETE, paul, None).await.unwrap();
    assert_eq!(erased["records"], 1, "{erased}");
    let leads = chat
        .admin(Method::GET, "/api/v1/livechat/leads", None)
        .await
        .unwrap();
    assert_eq!(leads, json!([]));
}
