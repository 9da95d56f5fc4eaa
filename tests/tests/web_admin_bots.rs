//! The console's administration, in a real browser: an administrator finds the dead end of a
//! chatbot on the step it concerns, tries the bot in the Test chat, fixes it in the editor (the
//! warning goes as they edit) and saves; two organisations link from their consoles (a request
//! sent from one, accepted with a contact in the other) and a member is added to the new
//! channel.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_bots::{
    acme_and_bolt, admin_console, choose, confirm, doc_screenshot, every_control_is_labelled, fill,
    open_section, scroll_to,
};
use ochat_tests::livechat::ChatNode;
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

/// A 1×1 PNG, the bot's avatar.
const PIXEL_PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0,
    0, 0, 144, 119, 83, 222, 0, 0, 0, 12, 73, 68, 65, 84, 120, 156, 99, 104, 143, 170, 6, 0, 2,
    200, 1, 93, 224, 113, 5, 105, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

const DEAD_END: &str = r#".ab-step[data-step="1"] .ab-warnings li[data-kind="dead_end"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_fixes_a_chatbot_s_dead_end_in_the_console_and_tests_it() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    // The shop's bot: buyers leave an email and become leads; "Support" leads nowhere.
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(
                json!({"name": "Shop bot", "operator_name": "Shopbot", "steps": [
                {"type": "question", "message": "What brings you here?",
                 "answers": [{"text": "Buying"}, {"text": "Support"}]},
                {"type": "email", "message": "Your email? Our sales team will write to you.",
                 "only_if": ["1.1"]},
                {"type": "create_lead", "message": "Thanks, we will be in touch.",
                 "only_if": ["1.1"]}]}),
            ),
        )
        .await
        .unwrap();
    let id = bot["id"].as_str().unwrap().to_string();
    assert_eq!(bot["warnings"][0]["kind"], json!("dead_end"), "{bot}");
    assert_eq!(bot["warnings"][0]["step"], json!(1), "{bot}");

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_console(&console, &chat.node.api, &chat.node.token).await?;
        open_section(&console, "Chatbots").await?;
        console
            .click(&format!("#ab-bot-list button[data-chatbot=\"{id}\"]"))
            .await?;

        // The dead end is shown on the question whose answer leads nowhere, and only there.
        let warning = console.find(DEAD_END).await?.text().await?;
        ensure!(warning.contains("Support"), "{warning}");
        ensure!(
            console
                .all(".ab-step:not([data-step=\"1\"]) .ab-warnings li")
                .await?
                .is_empty()
        );
        console
            .wait_js(
                "the summary counts one warning",
                "document.querySelector('#ab-bot-summary').textContent.startsWith('1 warning')",
            )
            .await?;
        doc_screenshot(&console, "admin-chatbot-warning").await?;

        // The Test chat: a visitor who needs support meets the dead end.
        console.find("#ab-bot-test").await?.click().await?;
        console
            .wait_text("#ab-test-log [data-author=bot] .text", "What brings you here?")
            .await?;
        console.click_text("#ab-test-answers button", "Support").await?;
        console
            .wait_js(
                "the test chat ends in the dead end",
                "document.querySelector('#ab-test-status').dataset.ended === 'dead_end'",
            )
            .await?;
        // A buyer, typing: the bot asks for the email, refuses a bad one, makes a lead.
        console.find("#ab-test-restart").await?.click().await?;
        console
            .wait_js(
                "the chat starts again",
                "document.querySelectorAll('#ab-test-log .msg').length === 1",
            )
            .await?;
        let input = console.find("#ab-test-input").await?;
        input.send_keys("Buying\u{E007}").await?;
        console
            .wait_text(
                "#ab-test-log [data-author=bot] .text",
                "Your email? Our sales team will write to you.",
            )
            .await?;
        input.send_keys("ann@shop.example\u{E007}").await?;
        console
            .wait_js(
                "the lead the bot would create",
                "[...document.querySelectorAll('#ab-test-log [data-author=record]')].some(r => r.textContent.includes('lead') && r.textContent.includes('ann@shop.example'))",
            )
            .await?;
        doc_screenshot(&console, "admin-chatbot-test").await?;
        every_control_is_labelled(&console).await?;

        // The fix: a ticket step for those who chose Support, with the keyboard and the
        // Only If box. The warning goes away before anything is saved.
        console
            .find("#ab-add-type")
            .await?
            .select_by_value("create_ticket")
            .await?;
        console.find("#ab-add-step").await?.click().await?;
        console
            .find("#ab-step-4-message")
            .await?
            .send_keys("We opened a ticket: an operator will write to you.")
            .await?;
        console
            .find("[aria-label=\"Step 4 only if step 1 was answered Support\"]")
            .await?
            .click()
            .await?;
        console
            .wait_js(
                "the dead end's warning is gone",
                &format!("!document.querySelector('{}')", DEAD_END.replace('\'', "\\'")),
            )
            .await?;
        console
            .wait_js(
                "the summary says no warnings",
                "document.querySelector('#ab-bot-summary').classList.contains('ok')",
            )
            .await?;
        let saved = chat
            .admin(Method::GET, &format!("/api/v1/livechat/chatbots/{id}"), None)
            .await?;
        ensure!(saved["steps"].as_array().map(Vec::len) == Some(3), "not saved yet: {saved}");

        // Saved: the node has the new step, and no warning; the open test chat runs again
        // on the saved script.
        console.find("#ab-bot-save").await?.click().await?;
        console.wait_text("#ab-bot-result", "Saved.").await?;
        let saved = chat
            .admin(Method::GET, &format!("/api/v1/livechat/chatbots/{id}"), None)
            .await?;
        ensure!(saved["warnings"] == json!([]), "{saved}");
        ensure!(
            saved["steps"][3]
                == json!({"type": "create_ticket",
                          "message": "We opened a ticket: an operator will write to you.",
                          "only_if": ["1.2"]}),
            "{saved}"
        );
        ensure!(
            saved["steps"][0]["answers"] == bot["steps"][0]["answers"],
            "{saved}"
        );
        console.find("#ab-test-restart").await?.click().await?;
        console.click_text("#ab-test-answers button", "Support").await?;
        console
            .wait_js(
                "the supported visitor gets a ticket",
                "document.querySelector('#ab-test-status').dataset.ended === 'finished' && [...document.querySelectorAll('#ab-test-log [data-author=record]')].some(r => r.textContent.includes('ticket'))",
            )
            .await?;

        // A step that cannot run is explained on its step, not saved.
        console.find("#ab-step-4-type").await?.select_by_value("text").await?;
        console.find("#ab-step-4-message").await?.clear().await?;
        console
            .wait_text(
                ".ab-step[data-step=\"4\"] .ab-warnings li[data-kind=invalid]",
                "step 4 (text) needs a message",
            )
            .await?;
        console.find("#ab-bot-save").await?.click().await?;
        console
            .wait_text("#ab-bot-error", "step 4 (text) needs a message")
            .await?;
        let unchanged = chat
            .admin(Method::GET, &format!("/api/v1/livechat/chatbots/{id}"), None)
            .await?;
        ensure!(unchanged["steps"] == saved["steps"], "{unchanged}");
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-chatbot", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

/// A chatbot written from nothing in the editor, its steps moved with the keyboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_writes_a_chatbot_from_scratch_with_the_keyboard() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    const ENTER: &str = "\u{E007}";
    let story = async {
        admin_console(&console, &chat.node.api, &chat.node.token).await?;
        open_section(&console, "Chatbots").await?;
        console.wait_text("#ab-bot-list .ab-empty", "No chatbot yet").await?;
        console.find("#ab-bot-new").await?.send_keys(ENTER).await?;
        console
            .wait_js(
                "the name has the focus",
                "document.activeElement.id === 'ab-bot-name'",
            )
            .await?;
        console.find("#ab-bot-name").await?.send_keys("Welcome bot").await?;

        // A question with two answers, a forward for those who want help.
        choose(&console, "#ab-add-type", "question").await?;
        console.find("#ab-add-step").await?.send_keys(ENTER).await?;
        fill(&console, "#ab-step-2-message", "Can we help?").await?;
        fill(&console, "[aria-label=\"Answer 1 of step 2\"]", "Yes please").await?;
        console
            .find("[aria-label=\"Add an answer to step 2\"]")
            .await?
            .send_keys(ENTER)
            .await?;
        console
            .wait_js(
                "the new answer has the focus",
                "document.activeElement.getAttribute('aria-label') === 'Answer 2 of step 2'",
            )
            .await?;
        fill(&console, "[aria-label=\"Answer 2 of step 2\"]", "Just looking").await?;
        choose(&console, "#ab-add-type", "forward_to_operator").await?;
        console.find("#ab-add-step").await?.send_keys(ENTER).await?;
        console
            .find("[aria-label=\"Step 3 only if step 2 was answered Yes please\"]")
            .await?
            .send_keys(" ")
            .await?;
        // Two warnings, each on its step: "Just looking" leads nowhere, and nothing follows
        // the forward when nobody is free.
        console
            .find(".ab-step[data-step=\"2\"] .ab-warnings li[data-kind=dead_end]")
            .await?;
        console
            .find(".ab-step[data-step=\"3\"] .ab-warnings li[data-kind=forward_without_fallback]")
            .await?;

        // A last step for everyone fixes both.
        choose(&console, "#ab-add-type", "text").await?;
        console.find("#ab-add-step").await?.send_keys(ENTER).await?;
        fill(&console, "#ab-step-4-message", "Leave us your question, we write back.").await?;
        console
            .wait_js(
                "no warnings",
                "document.querySelector('#ab-bot-summary').classList.contains('ok')",
            )
            .await?;
        // Moved up (the forward is last again: its warning comes back on step 4), and down.
        console
            .find("[aria-label=\"Move step 4 up\"]")
            .await?
            .send_keys(ENTER)
            .await?;
        console
            .find(".ab-step[data-step=\"4\"] .ab-warnings li[data-kind=forward_without_fallback]")
            .await?;
        console
            .find("[aria-label=\"Move step 3 down\"]")
            .await?
            .send_keys(ENTER)
            .await?;
        console
            .wait_js(
                "no warnings again",
                "document.querySelector('#ab-bot-summary').classList.contains('ok')",
            )
            .await?;
        // Its avatar: a picture from a file, shown at once.
        let picture = tmp.path().join("bot.png");
        std::fs::write(&picture, PIXEL_PNG)?;
        console
            .find("#ab-avatar-file")
            .await?
            .send_keys(&picture.display().to_string())
            .await?;
        console
            .wait_js(
                "the avatar is shown",
                "document.querySelector('#ab-avatar-preview').src.startsWith('data:image/png;base64,')",
            )
            .await?;
        console.find("#ab-bot-save").await?.send_keys(ENTER).await?;
        console.wait_text("#ab-bot-result", "Created.").await?;
        console.wait_text("#ab-bot-list button", "Welcome bot").await?;
        let bots = chat
            .admin(Method::GET, "/api/v1/livechat/chatbots", None)
            .await?;
        ensure!(
            bots[0]["steps"]
                == json!([
                    {"type": "text", "message": "Hello! I am the website's assistant."},
                    {"type": "question", "message": "Can we help?", "answers": [
                        {"id": "2.1", "text": "Yes please"}, {"id": "2.2", "text": "Just looking"}]},
                    {"type": "forward_to_operator", "message": "", "only_if": ["2.1"]},
                    {"type": "text", "message": "Leave us your question, we write back."}]),
            "{bots}"
        );
        ensure!(bots[0]["warnings"] == json!([]), "{bots}");
        let avatar = bots[0]["avatar"].as_str().unwrap_or_default();
        ensure!(avatar.starts_with("data:image/png;base64,"), "{avatar}");
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-chatbot-new", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

/// The route behind the editor's live warnings: what saving would answer, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_s_check_answers_what_saving_would_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let script = json!({"name": "Draft bot", "steps": [
        {"type": "question", "message": "Sales or support?",
         "answers": [{"text": "Sales"}, {"text": "Support"}, {"text": "Other"}]},
        {"type": "forward_to_operator", "only_if": ["1.2"]},
        {"type": "text", "message": "Our sales team will call you.", "only_if": ["1.1"]}]});
    // An operator may check too (staff), as they may test; the answer ids are filled in.
    let checked = chat
        .ok(
            &ann.token,
            Method::POST,
            "/api/v1/livechat/chatbots/check",
            Some(script.clone()),
        )
        .await
        .unwrap();
    assert_eq!(checked["steps"][0]["answers"][1]["id"], json!("1.2"));
    let kinds: Vec<(String, u64)> = checked["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["kind"].as_str().unwrap().to_string(),
                w["step"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("dead_end".into(), 1)), "{kinds:?}");
    assert!(
        kinds.contains(&("forward_without_fallback".into(), 2)),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    // What cannot run is refused with the step; nothing is ever stored.
    let (status, refused) = chat
        .call(
            Some(&chat.node.token),
            Method::POST,
            "/api/v1/livechat/chatbots/check",
            Some(json!({"name": "Bad", "steps": [{"type": "text", "message": ""}]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        json!("step 1 (text) needs a message")
    );
    let bots = chat
        .admin(Method::GET, "/api/v1/livechat/chatbots", None)
        .await
        .unwrap();
    assert_eq!(bots, json!([]));
    // A visitor's token may not.
    let (status, _) = chat
        .call(
            None,
            Method::POST,
            "/api/v1/livechat/chatbots/check",
            Some(script),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organisations_link_from_their_consoles_and_a_member_joins_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    // No directory: Bolt is told where Acme is.
    let (acme, bolt) = acme_and_bolt(tmp.path()).await.unwrap();
    let ann = acme
        .ok(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "Ann Lee", "login": "ann", "password": "pw-ann-123"})),
        )
        .await
        .unwrap();
    let ann_id = ann["id"].as_str().unwrap().to_string();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        // Bolt's administrator asks Acme; a mistyped UUID is refused next to the form first.
        admin_console(&console, &bolt.api, &bolt.token).await?;
        open_section(&console, "Federation").await?;
        console.wait_text("#ab-inst-uuid", &bolt.uuid).await?;
        console.wait_text("#ab-inst-name", "Bolt").await?;
        console
            .find("#ab-conn-uuid")
            .await?
            .send_keys("acme-please")
            .await?;
        console.find("#ab-conn-send").await?.click().await?;
        let refused = console.find("#ab-conn-new-error").await?;
        console
            .wait_js(
                "the error shows",
                "document.querySelector('#ab-conn-new-error').textContent !== ''",
            )
            .await?;
        ensure!(
            refused.text().await?.contains("UUID"),
            "{}",
            refused.text().await?
        );
        ensure!(bolt.connections().await?.is_empty());
        let uuid = console.find("#ab-conn-uuid").await?;
        uuid.clear().await?;
        uuid.send_keys(&acme.uuid).await?;
        console
            .find("#ab-conn-contact")
            .await?
            .send_keys("Acme")
            .await?;
        console
            .find("#ab-conn-message")
            .await?
            .send_keys("Hello from Bolt")
            .await?;
        console.find("#ab-conn-send").await?.click().await?;
        console
            .wait_text(".ab-conn[data-status=Pending] h4", "Acme")
            .await?;
        let outgoing = bolt.connections().await?;
        let request_id = outgoing[0]["id"]
            .as_str()
            .context("bolt's request")?
            .to_string();
        acme.wait_incoming_from(&bolt.uuid, "Pending").await?;

        // Acme's administrator accepts it with a contact.
        admin_console(&console, &acme.api, &acme.token).await?;
        open_section(&console, "Federation").await?;
        let card = ".ab-conn[data-status=Pending]";
        console
            .wait_text(&format!("{card} .ab-message"), "Hello from Bolt")
            .await?;
        console
            .wait_text(&format!("{card} .ab-instance-uuid"), &bolt.uuid)
            .await?;
        scroll_to(&console, "#ab-conns-title").await?;
        doc_screenshot(&console, "admin-federation-request").await?;
        every_control_is_labelled(&console).await?;
        fill(
            &console,
            &format!("{card} [data-form=accept] input"),
            "Bolt Ltd",
        )
        .await?;
        console
            .click(&format!("{card} button[data-action=accept]"))
            .await?;
        console
            .wait_text(".ab-conn[data-status=Accepted] h4", "Bolt Ltd")
            .await?;
        bolt.wait_status(&request_id, "Accepted").await?;

        // Ann becomes a member of the new channel.
        let accepted = ".ab-conn[data-status=Accepted]";
        choose(
            &console,
            &format!("{accepted} [data-form=member] select"),
            &ann_id,
        )
        .await?;
        console
            .click(&format!("{accepted} button[data-action=add-member]"))
            .await?;
        console
            .wait_text(
                &format!("{accepted} .ab-member-list li[data-member=\"{ann_id}\"] span"),
                "Ann Lee (ann)",
            )
            .await?;
        let on_acme = acme.connections().await?;
        ensure!(on_acme[0]["members"] == json!([ann_id]), "{on_acme:?}");
        scroll_to(&console, "#admin-federation-title").await?;
        doc_screenshot(&console, "admin-federation").await?;
        scroll_to(&console, "#ab-conns-title").await?;
        doc_screenshot(&console, "admin-federation-members").await?;
        // Removed again: the list says nobody reads or writes there.
        console
            .click(&format!(
                "{accepted} [aria-label=\"Remove Ann Lee (ann) from Bolt Ltd\"]"
            ))
            .await?;
        console
            .wait_text(
                &format!("{accepted} .ab-member-list .ab-empty"),
                "No member yet: nobody reads or writes here.",
            )
            .await?;
        ensure!(acme.connections().await?[0]["members"] == json!([]));
        every_control_is_labelled(&console).await?;
        choose(
            &console,
            &format!("{accepted} [data-form=member] select"),
            &ann_id,
        )
        .await?;
        console
            .click(&format!("{accepted} button[data-action=add-member]"))
            .await?;
        console
            .wait_text(
                &format!("{accepted} .ab-member-list li[data-member=\"{ann_id}\"] span"),
                "Ann Lee (ann)",
            )
            .await?;

        // Back on Bolt's console the request shows Accepted after Sync status.
        admin_console(&console, &bolt.api, &bolt.token).await?;
        open_section(&console, "Federation").await?;
        console
            .wait_js(
                "a Sync status button",
                "!!document.querySelector('.ab-conn button[data-action=sync]')",
            )
            .await?;
        console.click(".ab-conn button[data-action=sync]").await?;
        console
            .wait_text(".ab-conn[data-status=Accepted] h4", "Acme")
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-federation", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_handshake_action_works_from_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    // No directory: Bolt is told where Acme is.
    let (acme, bolt) = acme_and_bolt(tmp.path()).await.unwrap();
    // A UUID no node has: nobody can be found for it.
    let stranger = uuid::Uuid::new_v4().to_string();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_console(&console, &bolt.api, &bolt.token).await?;
        open_section(&console, "Federation").await?;

        // A draft to the wrong UUID; sent, it is Not Found; Retry tries again.
        fill(&console, "#ab-conn-uuid", &stranger).await?;
        fill(&console, "#ab-conn-contact", "Acme").await?;
        console.find("#ab-conn-draft").await?.click().await?;
        let draft = ".ab-conn[data-status=Draft]";
        console.wait_text(&format!("{draft} h4"), "Acme").await?;
        let id = bolt.connections().await?[0]["id"]
            .as_str()
            .context("the draft")?
            .to_string();
        console
            .click(&format!("{draft} button[data-action=send]"))
            .await?;
        let lost = bolt.wait_status(&id, "Not Found").await?;
        console
            .wait_text(".ab-conn[data-status=\"Not Found\"] h4", "Acme")
            .await?;
        console.click("button[data-action=retry]").await?;
        console
            .wait_js(
                "Retry was asked",
                "document.querySelector('.ab-conn .error').textContent === ''",
            )
            .await?;
        let deadline = tokio::time::Instant::now() + ochat_tests::node::WAIT;
        loop {
            let again = bolt.connection(&id).await?;
            if again["status"] == json!("Not Found")
                && again["updated_at_ms"].as_u64() > lost["updated_at_ms"].as_u64()
            {
                break;
            }
            ensure!(tokio::time::Instant::now() < deadline, "no retry: {again}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }

        // Edit UUID: the right one, back to Draft; Send; then Cancel: Acme's request goes.
        console
            .wait_text(".ab-conn[data-status=\"Not Found\"] h4", "Acme")
            .await?;
        fill(&console, "[data-form=edit] input", &acme.uuid).await?;
        console.click("button[data-action=edit]").await?;
        console
            .wait_text(&format!("{draft} .ab-instance-uuid"), &acme.uuid)
            .await?;
        console
            .click(&format!("{draft} button[data-action=send]"))
            .await?;
        acme.wait_incoming_from(&bolt.uuid, "Pending").await?;
        console
            .click(".ab-conn[data-status=Pending] button[data-action=cancel]")
            .await?;
        console
            .wait_text(".ab-conn[data-status=Cancelled] h4", "Acme")
            .await?;
        acme.wait_gone(&bolt.uuid).await?;

        // Delete, after the confirmation.
        console.click("button[data-action=delete]").await?;
        confirm(&console).await?;
        console
            .wait_text("#ab-connections .ab-empty", "No connection yet")
            .await?;
        ensure!(bolt.connections().await?.is_empty());

        // A new request; Acme rejects it with a reason, which Bolt reads.
        fill(&console, "#ab-conn-uuid", &acme.uuid).await?;
        console.find("#ab-conn-send").await?.click().await?;
        console
            .wait_js(
                "the request is pending",
                "!!document.querySelector('.ab-conn[data-status=Pending]')",
            )
            .await?;
        acme.wait_incoming_from(&bolt.uuid, "Pending").await?;
        admin_console(&console, &acme.api, &acme.token).await?;
        open_section(&console, "Federation").await?;
        fill(
            &console,
            ".ab-conn[data-status=Pending] [data-form=reject] input",
            "We do not work with Bolt",
        )
        .await?;
        console.click("button[data-action=reject]").await?;
        console
            .wait_js(
                "the request is rejected",
                "!!document.querySelector('.ab-conn[data-status=Rejected]')",
            )
            .await?;
        admin_console(&console, &bolt.api, &bolt.token).await?;
        open_section(&console, "Federation").await?;
        console
            .wait_text(
                ".ab-conn[data-status=Rejected] .ab-reason",
                "We do not work with Bolt",
            )
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-federation-actions", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
