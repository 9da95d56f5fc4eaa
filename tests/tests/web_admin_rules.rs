//! The console's rule form in a real browser: an administrator writes a channel's rules and
//! sees, as they type, whether the URL regex applies to a sample page, or why the regex is
//! refused; rules are edited, ordered and given a chatbot. The node's tester
//! (`POST /api/v1/livechat/rules/test`) answers only the admin, with the words of a rule save.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_console::{admin_login, docs_screenshot, fill};
use ochat_tests::livechat::ChatNode;
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

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
