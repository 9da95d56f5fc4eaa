//! The console's admin area in a real browser. A newcomer opens the console of a fresh node
//! with the admin token, is offered the first operator and the first channel, gets the
//! snippet (all with the keyboard alone), logs in as that operator, and a page with the
//! snippet shows the chat button and reaches the operator. An administrator manages
//! operators, groups, canned responses and a channel with its live preview; another file's
//! section joins through the hook. The admin screens are photographed for the docs
//! (`OCHAT_SCREENSHOT=1` rewrites `docs/screenshots/`); the rules are in `web_admin_rules.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_console::keys::{ENTER, SELECT_ALL, TAB};
use ochat_tests::admin_console::{admin_login, docs_screenshot, fill, focused_id, type_keys};
use ochat_tests::livechat::ChatNode;
use ochat_tests::node::WAIT;
use ochat_tests::web::{Driver, screenshots_on_failure, shop_page, until_available, website};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_sets_up_live_chat_from_the_console_on_first_run() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        // A fresh node: the console, opened with the admin token, offers the first run.
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console
            .wait_text(
                "#first-run-title",
                "Welcome! Let's put a live chat on your website",
            )
            .await?;
        // "Not now" puts it off until the console is opened again.
        console.click("#first-run-later").await?;
        console
            .wait_js(
                "the console's own view is back",
                "document.getElementById('admin').hidden && !document.getElementById('placeholder').hidden",
            )
            .await?;
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console
            .wait_text("#first-run-title", "Welcome! Let's put a live chat on your website")
            .await?;

        // Keyboard only: the first field has the focus, Tab goes on, Enter submits.
        ensure!(focused_id(&console).await? == "fr-name");
        type_keys(
            &console,
            &format!("Ann Example{TAB}ann{TAB}correct horse battery{TAB}Ann{TAB}"),
        )
        .await?;
        ensure!(focused_id(&console).await? == "fr-channel");
        type_keys(
            &console,
            &format!("{SELECT_ALL}Shop{TAB}{SELECT_ALL}Questions? Ask Ann"),
        )
        .await?;
        docs_screenshot(&console, "first-run").await?;
        type_keys(&console, ENTER).await?;

        // The operator and the channel exist, and the snippet is shown to copy.
        let snippet = console.find("#first-run-snippet").await?;
        let code = snippet
            .prop("value")
            .await?
            .context("the snippet's value")?;
        ensure!(
            code.starts_with(&format!("<script src=\"{}/livechat/loader/", chat.node.api)),
            "{code}"
        );
        let link = console.find("#first-run-link").await?.prop("value").await?;
        ensure!(
            link.as_deref()
                .is_some_and(|l| l.starts_with(&format!("{}/livechat/support/", chat.node.api))),
            "{link:?}"
        );
        docs_screenshot(&console, "first-run-done").await?;
        let users = chat.admin(Method::GET, "/api/v1/users", None).await?;
        ensure!(users.as_array().map(Vec::len) == Some(1), "{users}");
        ensure!(users[0]["login"] == json!("ann") && users[0]["chat_name"] == json!("Ann"));
        let channels = chat
            .admin(Method::GET, "/api/v1/livechat/channels", None)
            .await?;
        ensure!(channels.as_array().map(Vec::len) == Some(1), "{channels}");
        let channel = channels[0]["id"]
            .as_str()
            .context("channel id")?
            .to_string();
        let shown = chat
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/channels/{channel}"),
                None,
            )
            .await?;
        ensure!(shown["operators"] == json!([users[0]["id"]]), "{shown}");
        ensure!(
            shown["button_text"] == json!("Questions? Ask Ann"),
            "{shown}"
        );
        ensure!(shown["name"] == json!("Shop"), "{shown}");

        // The next time the console is opened there is no first run: an operator exists.
        console.click("#first-run-admin").await?;
        console.find("#ch-edit").await?;

        // As the tour says: log out, log in as the operator.
        console.click("#logout").await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console
            .find("#login-password")
            .await?
            .send_keys("correct horse battery")
            .await?;
        console.find("#login-submit").await?.click().await?;
        console.wait_text("#who", "Ann").await?;
        ensure!(
            console
                .js("document.getElementById('admin-open').hidden")
                .await?
                == json!(true),
            "an operator without the administrator role has no admin area"
        );

        // A page with the snippet shows the chat button; the visitor's message reaches Ann.
        let (site, _server) = website(vec![("/".into(), shop_page("My shop", &code))]).await?;
        until_available(&chat, &channel, &format!("{site}/")).await?;
        visitor.goto(&format!("{site}/")).await?;
        visitor
            .wait_text("[data-ochat=button]", "Questions? Ask Ann")
            .await?
            .click()
            .await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Do you ship to Belgium?").await?;
        input.send_keys("\u{E007}").await?; // Enter
        console.click("#sessions li.new button").await?;
        console
            .wait_text(
                "#conv-log [data-author=visitor] .text",
                "Do you ship to Belgium?",
            )
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("first-run", &[&console, &visitor], story)
        .await
        .unwrap();
    console.close().await.unwrap();
    visitor.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_area_manages_operators_groups_canned_responses_and_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Shop", &[&ann], json!({})).await.unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let login = |password: &'static str| {
        let chat = &chat;
        async move {
            chat.call(
                None,
                Method::POST,
                "/api/v1/login",
                Some(json!({"login": "bob", "password": password})),
            )
            .await
        }
    };
    let story = async {
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console.click("#admin-open").await?;
        console
            .wait_text("#operators-table tr[data-user] td", "ann")
            .await?;
        let tabs = console.texts(".admin-nav button").await?;
        ensure!(
            tabs == [
                "Operators",
                "Channels",
                "Identity",
                "Rules",
                "Chatbots",
                "Canned responses",
                "Groups",
                "Federation"
            ],
            "{tabs:?}"
        );

        // A taken login: the node's answer is shown next to the form.
        fill(&console, "#op-name", "Bob Builder").await?;
        fill(&console, "#op-login", "ann").await?;
        fill(&console, "#op-password", "first password").await?;
        console.click("#op-create-submit").await?;
        console
            .wait_text("#op-create-message", "the login \"ann\" is taken")
            .await?;
        ensure!(
            console.js("document.getElementById('op-create-message').getAttribute('role')").await?
                == json!("alert")
        );
        // Fixed: Bob is created with his profile.
        fill(&console, "#op-login", "bob").await?;
        fill(&console, "#op-chat-name", "Bob").await?;
        console
            .find("#op-language option[value=fr]")
            .await?
            .click()
            .await?;
        console.click("#op-chat-languages input[value=fr]").await?;
        console.click("#op-chat-languages input[value=nl]").await?;
        fill(&console, "#op-expertise", "sales, billing").await?;
        fill(&console, "#op-country", "be").await?;
        console.click("#op-create-submit").await?;
        console.find("#op-edit").await?;
        docs_screenshot(&console, "operators").await?;
        let users = chat.admin(Method::GET, "/api/v1/users", None).await?;
        let bob = users
            .as_array()
            .and_then(|u| u.iter().find(|u| u["login"] == json!("bob")))
            .context("Bob was created")?
            .clone();
        ensure!(bob["chat_name"] == json!("Bob"), "{bob}");
        ensure!(bob["language"] == json!("fr"), "{bob}");
        ensure!(bob["chat_languages"] == json!(["fr", "nl"]), "{bob}");
        ensure!(bob["expertise"] == json!(["sales", "billing"]), "{bob}");
        ensure!(bob["country"] == json!("BE"), "{bob}");
        let bob_id = bob["id"].as_str().context("Bob's id")?.to_string();
        ensure!(bob["administrator"] == json!(false), "{bob}");

        // The admin token makes Bob a live chat administrator from his profile, and unmakes him.
        for wanted in [true, false] {
            console.click("#op-administrator").await?;
            console.click("#op-edit-submit").await?;
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let now = chat
                    .admin(Method::GET, &format!("/api/v1/users/{bob_id}"), None)
                    .await?;
                if now["administrator"] == json!(wanted) {
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "Bob's role never became {wanted}: {now}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            console.find("#op-edit").await?;
        }

        // A new password logs Bob out; "log out everywhere" ends the next login too.
        let (status, first) = login("first password").await?;
        ensure!(status == 200, "{first}");
        let old = first["token"].as_str().context("token")?.to_string();
        fill(&console, "#op-new-password", "second password").await?;
        console.click("#op-password-submit").await?;
        console
            .wait_text(
                "#op-password-message",
                "Password changed; Bob Builder was logged out everywhere.",
            )
            .await?;
        let (status, _) = chat
            .call(Some(&old), Method::GET, "/api/v1/users/me", None)
            .await?;
        ensure!(status == 401, "the old token still works: {status}");
        let (status, second) = login("second password").await?;
        ensure!(status == 200, "{second}");
        let token = second["token"].as_str().context("token")?.to_string();
        console.click("#op-revoke-submit").await?;
        console
            .wait_text("#op-revoke-message", "1 token revoked.")
            .await?;
        let (status, _) = chat
            .call(Some(&token), Method::GET, "/api/v1/users/me", None)
            .await?;
        ensure!(status == 401, "the revoked token still works: {status}");

        // A group with Bob; a canned response shared with it (a bad shortcut first).
        console.click("#admin-tab-groups").await?;
        fill(&console, "#group-name", "Sales").await?;
        console
            .click(&format!("#group-members input[value='{bob_id}']"))
            .await?;
        console.click("#group-form-submit").await?;
        console
            .wait_text("#groups-list li button", "Sales")
            .await?;
        docs_screenshot(&console, "groups").await?;
        console.click("#admin-tab-canned").await?;
        fill(&console, "#canned-shortcut", "ship it").await?;
        fill(&console, "#canned-text", "We ship within two days.").await?;
        console.click("#canned-groups input").await?;
        console.click("#canned-form-submit").await?;
        console
            .wait_js(
                "the bad shortcut is explained next to the form",
                "(document.getElementById('canned-form-message') || {textContent: '', value: ''}).textContent.includes('shortcut')",
            )
            .await?;
        fill(&console, "#canned-shortcut", "ship").await?;
        console.click("#canned-form-submit").await?;
        console
            .wait_text("#canned-table tr[data-canned] td.mono", ":ship")
            .await?;
        docs_screenshot(&console, "canned").await?;
        let groups = chat
            .admin(Method::GET, "/api/v1/livechat/groups", None)
            .await?;
        ensure!(groups[0]["members"] == json!([bob_id]), "{groups}");
        let canned = chat
            .admin(Method::GET, "/api/v1/livechat/canned", None)
            .await?;
        ensure!(canned[0]["groups"] == json!([groups[0]["id"]]), "{canned}");

        // The channel: the preview follows the colour and text as they are typed.
        console.click("#admin-tab-channels").await?;
        console.find("#ch-edit").await?;
        fill(&console, "#ch-button-color", "#0b7a3e").await?;
        fill(&console, "#ch-button-text", "Talk to us").await?;
        console
            .wait_text("#ch-preview-button", "Talk to us")
            .await?;
        let colour = console
            .js("getComputedStyle(document.getElementById('ch-preview-button')).backgroundColor")
            .await?;
        ensure!(colour == json!("rgb(11, 122, 62)"), "preview colour {colour}");
        console
            .click(&format!("#ch-operators input[value='{bob_id}']"))
            .await?;
        fill(&console, "#ch-cap", "3").await?;
        console.click("#ch-edit-submit").await?;
        console
            .wait_js(
                "the channel is saved",
                "(document.getElementById('ch-edit-message') || {textContent: '', value: ''}).textContent.startsWith('Saved.')",
            )
            .await?;
        let snippet = console.find("#ch-snippet").await?.prop("value").await?;
        ensure!(
            snippet
                .as_deref()
                .is_some_and(|s| s.contains(&format!("/livechat/loader/{channel}.js"))),
            "{snippet:?}"
        );
        docs_screenshot(&console, "channels").await?;
        let saved = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        ensure!(saved["button_color"] == json!("#0b7a3e"), "{saved}");
        ensure!(saved["button_text"] == json!("Talk to us"), "{saved}");
        ensure!(saved["max_sessions_per_operator"] == json!(3), "{saved}");
        ensure!(
            saved["operators"] == json!([ann.id, bob_id]),
            "both operators: {saved}"
        );

        // Another file's section joins through the hook (the form admin_bots.js uses).
        console
            .js("window.ochatAdmin.register({id: 'probe', title: 'Probe', \
                 mount: function (box) { var p = document.createElement('p'); p.id = 'fed-probe'; \
                 p.textContent = 'drawn by another file'; box.appendChild(p); \
                 return {unmount: function () { window.__fedUnmounted = true; }}; }})")
            .await?;
        console.click("#admin-open").await?;
        let tabs = console.texts(".admin-nav button").await?;
        ensure!(
            tabs
                == [
                    "Operators",
                    "Channels",
                    "Identity",
                    "Rules",
                    "Chatbots",
                    "Canned responses",
                    "Groups",
                    "Federation",
                    "Probe"
                ],
            "{tabs:?}"
        );
        // It draws in the area and is told when it goes.
        console.click("#admin-tab-probe").await?;
        console
            .wait_text("#admin-probe #fed-probe", "drawn by another file")
            .await?;
        console.click("#admin-tab-groups").await?;
        console
            .wait_js("the section was unmounted", "window.__fedUnmounted === true")
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-area", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
