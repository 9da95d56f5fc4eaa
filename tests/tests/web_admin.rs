//! The console's admin area in a real browser. A newcomer opens the console of a fresh node
//! with the admin token, is offered the first operator and the first channel, gets the
//! snippet (all with the keyboard alone), logs in as that operator, and a page with the snippet shows the chat button and
//! reaches the operator. An administrator writes a rule and sees, as they type, whether its
//! URL regex applies to a sample page (and why a regex is refused); the node's tester answers
//! only the admin, with the words of a rule save. The admin screens are
//! photographed for the docs (`OCHAT_SCREENSHOT=1` rewrites `docs/screenshots/`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_console::keys::{ENTER, SELECT_ALL, TAB};
use ochat_tests::admin_console::{admin_login, docs_screenshot, fill, focused_id, type_keys};
use ochat_tests::livechat::ChatNode;
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
async fn a_rule_url_regex_is_tried_on_a_sample_url_as_it_is_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Shop", &[&ann], json!({})).await.unwrap();
    let bot = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(
                json!({"name": "Blog bot", "operator_name": "Bloggy", "steps": [
                {"type": "text", "message": "Hello from the blog!"}]}),
            ),
        )
        .await
        .unwrap();
    let bot_id = bot["id"].as_str().unwrap().to_string();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console.click("#admin-open").await?;
        console.click("#admin-tab-rules").await?;
        console.find("#rule-form").await?;

        // The sample URL first, then the regex typed key by key: the verdict follows.
        fill(&console, "#rule-sample", "https://shop.example/shop/cart?item=3").await?;
        fill(&console, "#rule-regex", "/shop/(cart|checkout)").await?;
        console
            .wait_text("#rule-verdict", "✓ Matches: the rule applies to this page.")
            .await?;
        fill(&console, "#rule-sample", "https://shop.example/blog/cart").await?;
        console
            .wait_text("#rule-verdict", "✗ No match: the rule does not apply to this page.")
            .await?;
        // An unclosed group: the node's own reason, as a save would give it.
        fill(&console, "#rule-regex", "/shop/(cart").await?;
        console
            .wait_js(
                "the invalid regex is explained",
                "(document.getElementById('rule-verdict') || {textContent: '', value: ''}).textContent.startsWith('Invalid regex: invalid url_regex \"/shop/(cart\"')",
            )
            .await?;
        ensure!(
            console.js("document.getElementById('rule-verdict').className").await?
                == json!("rule-verdict invalid")
        );
        // Saving it anyway is refused, with the same reason next to the form; nothing is stored.
        console.click("#rule-form-submit").await?;
        console
            .wait_js(
                "the refusal is shown next to the form",
                "(document.getElementById('rule-form-message') || {textContent: '', value: ''}).textContent.startsWith('invalid url_regex')",
            )
            .await?;
        let stored = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        ensure!(stored["rules"] == json!([]), "{stored}");

        // Fixed, it matches again and is saved with its countries and action.
        fill(&console, "#rule-regex", "/shop/(cart|checkout)").await?;
        fill(&console, "#rule-sample", "https://shop.example/shop/checkout").await?;
        console
            .wait_text("#rule-verdict", "✓ Matches: the rule applies to this page.")
            .await?;
        fill(&console, "#rule-countries", "be, fr").await?;
        console
            .find("#rule-action option[value=auto_open]")
            .await?
            .click()
            .await?;
        fill(&console, "#rule-delay", "3").await?;
        ensure!(
            console.js("(document.getElementById('rule-form-message') || {textContent: '', value: ''}).textContent").await?
                == json!(""),
            "the refusal is gone once the form changed"
        );
        console.click("#rule-form-submit").await?;
        console
            .wait_text("#rules-table tr[data-rule] td.mono", "/shop/(cart|checkout)")
            .await?;
        let stored = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        let rule = &stored["rules"][0];
        ensure!(rule["url_regex"] == json!("/shop/(cart|checkout)"), "{stored}");
        ensure!(rule["countries"] == json!(["BE", "FR"]), "{stored}");
        ensure!(rule["action"] == json!("auto_open"), "{stored}");
        ensure!(rule["auto_open_after_s"] == json!(3), "{stored}");

        // Editing it loads it back; a sample URL is tried at once.
        console.click("button[aria-label='Edit rule 1']").await?;
        console
            .wait_js(
                "the rule is loaded into the form",
                "(document.getElementById('rule-regex') || {textContent: '', value: ''}).value === '/shop/(cart|checkout)' && \
                 (document.getElementById('rule-countries') || {textContent: '', value: ''}).value === 'BE, FR'",
            )
            .await?;
        fill(&console, "#rule-sample", "https://shop.example/shop/cart").await?;
        console
            .wait_text("#rule-verdict", "✓ Matches: the rule applies to this page.")
            .await?;
        docs_screenshot(&console, "rules").await?;

        // Rules are ordered: a second one, moved up, is tried first.
        console.click_text("#rule-form button", "New rule instead").await?;
        fill(&console, "#rule-regex", "/blog").await?;
        console
            .click(&format!("#rule-chatbot option[value='{bot_id}']"))
            .await?;
        console
            .click("#rule-condition option[value=only_if_no_operator]")
            .await?;
        console.click("#rule-form-submit").await?;
        console
            .wait_js(
                "the second rule is listed last",
                "document.querySelectorAll('#rules-table tr[data-rule]').length === 2",
            )
            .await?;
        console.click("button[aria-label='Move rule 2 up']").await?;
        console
            .wait_js(
                "the moved rule is first",
                "(document.querySelector('#rules-table tr[data-rule] td.mono') || {textContent: '', value: ''}).textContent === '/blog'",
            )
            .await?;
        let stored = chat
            .admin(Method::GET, &format!("/api/v1/livechat/channels/{channel}"), None)
            .await?;
        let order: Vec<(i64, String)> = stored["rules"]
            .as_array()
            .context("rules")?
            .iter()
            .map(|r| {
                (
                    r["sequence"].as_i64().unwrap_or(-1),
                    r["url_regex"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        ensure!(
            sorted == vec![(10, "/blog".to_string()), (20, "/shop/(cart|checkout)".to_string())],
            "{order:?}"
        );
        let blog = stored["rules"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["url_regex"] == json!("/blog")))
            .context("the blog rule")?;
        ensure!(blog["chatbot_id"] == json!(bot_id), "{blog}");
        ensure!(blog["chatbot_condition"] == json!("only_if_no_operator"), "{blog}");
        console
            .wait_text(
                "#rules-table tr[data-rule] td",
                "Blog bot — Only when no operator is available",
            )
            .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("rule-test", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
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
            tabs == ["Operators", "Channels", "Rules", "Canned responses", "Groups"],
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
            .js("window.ochatAdmin.register({id: 'federation', title: 'Federation', \
                 mount: function (box) { var p = document.createElement('p'); p.id = 'fed-probe'; \
                 p.textContent = 'drawn by another file'; box.appendChild(p); \
                 return {unmount: function () { window.__fedUnmounted = true; }}; }})")
            .await?;
        console.click("#admin-open").await?;
        let tabs = console.texts(".admin-nav button").await?;
        ensure!(
            tabs == ["Operators", "Channels", "Rules", "Canned responses", "Groups", "Federation"],
            "{tabs:?}"
        );
        // It draws in the area and is told when it goes.
        console.click("#admin-tab-federation").await?;
        console
            .wait_text("#admin-federation #fed-probe", "drawn by another file")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_tester_answers_the_admin_as_a_save_would_and_nobody_else() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let path = "/api/v1/livechat/rules/test";
    let body = |re: &str, url: &str| Some(json!({"url_regex": re, "url": url}));

    // Searched anywhere in the URL, like the widget's rules; empty matches every page.
    let yes = chat
        .admin(
            Method::POST,
            path,
            body("/shop", "https://x.example/shop/cart"),
        )
        .await
        .unwrap();
    assert_eq!(yes, json!({"matches": true}));
    let no = chat
        .admin(
            Method::POST,
            path,
            body("^/shop", "https://x.example/shop/cart"),
        )
        .await
        .unwrap();
    assert_eq!(no, json!({"matches": false}));
    let every = chat
        .admin(Method::POST, path, body("", "https://x.example/"))
        .await
        .unwrap();
    assert_eq!(every, json!({"matches": true}));

    // What a rule save refuses, the tester refuses with the same words.
    let token = chat.node.token.clone();
    let (status, refused) = chat
        .call(
            Some(&token),
            Method::POST,
            path,
            body("(", "https://x.example/"),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{refused}");
    let channel = chat.channel("Shop", &[&ann], json!({})).await.unwrap();
    let (status, save) = chat
        .call(
            Some(&token),
            Method::POST,
            &format!("/api/v1/livechat/channels/{channel}/rules"),
            Some(json!({"url_regex": "("})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{save}");
    assert_eq!(refused["error"], save["error"]);
    let (status, long) = chat
        .call(
            Some(&token),
            Method::POST,
            path,
            body("a", &format!("https://x.example/{}", "a".repeat(9000))),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{long}");

    // An operator, a visitor or nobody may not use it.
    let (status, _) = chat
        .call(
            Some(&ann.token),
            Method::POST,
            path,
            body("a", "https://x/"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let visit = chat
        .visit(&channel, "https://x.example/", "en", None, Some("v-1"))
        .await
        .unwrap();
    let (status, _) = chat
        .call(
            Some(&visit.token),
            Method::POST,
            path,
            body("a", "https://x/"),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = chat
        .call(None, Method::POST, path, body("a", "https://x/"))
        .await
        .unwrap();
    assert_eq!(status, 401);
}
