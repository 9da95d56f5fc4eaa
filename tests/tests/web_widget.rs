//! The website widget in a real browser: a shop on another port embeds the node's snippet, a
//! visitor chats with an operator logged into the console in a second browser, both see each
//! other live (typing too), XSS payloads stay text, the visitor rates; a dropped connection
//! loses no message and a returning visitor keeps their chat.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use anyhow::{Context, ensure};
use ochat_tests::web::{
    Driver, Relay, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};
use reqwest::Method;
use serde_json::{Value, json};

const VISITOR_XSS: &str =
    "<img src=x onerror=\"window.__pwned=1\">Hello <script>window.__pwned=2</script>";
const OPERATOR_XSS: &str = "<b>bold?</b><img src=y onerror=\"window.__pwned=3\"> at your service";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_another_website_chats_live_with_an_operator_in_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, _ann, channel) = shop(tmp.path()).await.unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let code = embed["snippet"].as_str().unwrap();
    assert!(
        code.starts_with("<script src=\"http://127.0.0.1:"),
        "{code}"
    );
    let (site, _server) = website(vec![("/shop/cart".into(), shop_page("Cart", code))])
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        // Ann logs into the console.
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console.find("#login-password").await?.send_keys("pw-ann").await?;
        console.find("#login-submit").await?.click().await?;
        console.wait_text("#who", "Ann").await?;
        until_available(&chat, &channel, &format!("{site}/shop/cart")).await?;

        // The visitor sees the button in the channel's colours and opens the chat.
        visitor.goto(&format!("{site}/shop/cart")).await?;
        let button = visitor.wait_text("[data-ochat=button]", "Need help?").await?;
        let colour = visitor
            .js("getComputedStyle(document.querySelector('[data-ochat=button]')).backgroundColor")
            .await?;
        ensure!(colour == json!("rgb(11, 122, 62)"), "button colour {colour}");
        button.click().await?;
        visitor
            .wait_text("[data-ochat=welcome] .ochat-text", "Welcome! How can we help?")
            .await?;
        let placeholder = visitor
            .find("[data-ochat=input]")
            .await?
            .attr("placeholder")
            .await?;
        ensure!(placeholder.as_deref() == Some("Ask us anything"));
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys(VISITOR_XSS).await?;
        input.send_keys("\u{E007}").await?; // Enter

        // Ann sees a new conversation in bold, opens it and reads the payload as text.
        console.click("#sessions li.new button").await?;
        console
            .wait_text("#conv-log [data-author=visitor] .text", VISITOR_XSS)
            .await?;
        ensure!(console.all("#conv-log img").await?.is_empty());

        // Ann types: the visitor sees her typing; `::hi` completes to the canned response.
        let composer = console.find("#composer-input").await?;
        composer.send_keys("::h").await?;
        visitor
            .wait_text("[data-ochat=typing]", "Ann is typing…")
            .await?;
        console
            .wait_js(
                "the canned response is suggested",
                "document.querySelector('#suggestions li') && \
                 document.querySelector('#suggestions li').textContent.includes('Hello, how can I help you today?')",
            )
            .await?;
        composer.send_keys("\u{E007}").await?; // pick the suggestion
        console
            .wait_js(
                "the suggestion replaced the shortcut",
                "document.querySelector('#composer-input').value === 'Hello, how can I help you today?'",
            )
            .await?;
        composer.send_keys("\u{E007}").await?; // send
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Hello, how can I help you today?",
            )
            .await?;
        visitor
            .wait_js(
                "the typing notice goes away",
                "document.querySelector('[data-ochat=typing]').hidden",
            )
            .await?;

        // The visitor types back: Ann sees it; the operator's payload stays text in the widget.
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Where is my order").await?;
        console.wait_text("#conv-typing", "Visitor is typing…").await?;
        input.send_keys("\u{E007}").await?;
        console
            .wait_text("#conv-log [data-author=visitor] .text", "Where is my order")
            .await?;
        composer.send_keys(OPERATOR_XSS).await?;
        composer.send_keys("\u{E007}").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                OPERATOR_XSS,
            )
            .await?;
        ensure!(visitor.all("[data-ochat=messages] img").await?.is_empty());
        for b in [&visitor, &console] {
            let pwned = b.js("window.__pwned === undefined").await?;
            ensure!(pwned == json!(true), "{}: a payload ran", b.name);
        }
        // `::` lists the canned responses; `/` lists the commands; `/help` answers Ann only.
        composer.send_keys("::").await?;
        console
            .wait_js(
                "the canned responses are listed",
                "Array.from(document.querySelectorAll('#suggestions li .key')).some(k => k.textContent === '::hi')",
            )
            .await?;
        composer.send_keys("\u{E00C}").await?; // Escape
        composer.clear().await?;
        composer.send_keys("/he").await?;
        console.wait_text("#suggestions li .key", "/help").await?;
        composer.send_keys("\u{E004}").await?; // Tab picks
        composer.send_keys("\u{E007}").await?; // Enter sends
        let note = console
            .find("#conv-log .msg.private")
            .await?
            .text()
            .await?;
        ensure!(note.contains("/history"), "the /help answer lists the commands: {note}");
        let seen_by_visitor = visitor.texts("[data-ochat=message] .ochat-text").await?;
        ensure!(
            !seen_by_visitor.iter().any(|t| t.contains("/history")),
            "command answers are for the operator only: {seen_by_visitor:?}"
        );

        // Ann leaves the channel and joins it again from the sidebar.
        console.find("button[aria-label='Leave Support']").await?.click().await?;
        console.find("button[aria-label='Join Support']").await?.click().await?;
        console
            .find("button[aria-label='Leave Support']")
            .await?;
        visitor.screenshot("widget", "").await?;
        console.screenshot("console", "").await?;

        // Ann closes; the visitor is asked for a rating and gives "happy" with a comment.
        console.find("#conv-close").await?.click().await?;
        visitor
            .wait_text("[data-ochat=rating] .ochat-rating-q", "How was this conversation?")
            .await?;
        visitor.find("[data-ochat=rate-5]").await?.click().await?;
        visitor
            .find("[data-ochat=comment]")
            .await?
            .send_keys("Quick and kind")
            .await?;
        visitor.find("[data-ochat=send-rating]").await?.click().await?;
        visitor
            .wait_text("[data-ochat=thanks]", "Thank you for your feedback!")
            .await?;
        let sessions = chat
            .admin(Method::GET, "/api/v1/livechat/sessions", None)
            .await?;
        let id = sessions[0]["id"].as_str().context("session")?;
        let rating = chat
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/sessions/{id}/rating"),
                None,
            )
            .await?;
        ensure!(rating["rating"] == json!(5), "{rating}");
        ensure!(rating["comment"] == json!("Quick and kind"), "{rating}");
        let transcript = chat
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/sessions/{id}/messages"),
                None,
            )
            .await?;
        ensure!(transcript[0]["text"] == json!(VISITOR_XSS), "{transcript}");
        Ok(())
    }
    .await;
    screenshots_on_failure("chat", &[&visitor, &console], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_loses_no_message_and_a_returning_visitor_keeps_the_chat() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await.unwrap();
    let _present = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    // The browser reaches the node through a relay the test can cut.
    let node_addr = chat.node.api.trim_start_matches("http://").parse().unwrap();
    let relay = Relay::start(node_addr).await.unwrap();
    let via = format!("http://{}", relay.addr);
    let embed: Value = reqwest::Client::new()
        .get(format!("{via}/api/v1/livechat/channels/{channel}/widget"))
        .bearer_auth(&chat.node.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = embed["snippet"].as_str().unwrap();
    let (site, _server) = website(vec![
        ("/shop".into(), shop_page("Shop", code)),
        ("/about".into(), shop_page("About us", code)),
    ])
    .await
    .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        visitor.goto(&format!("{site}/shop")).await?;
        visitor.find("[data-ochat=button]").await?.click().await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Hello?").await?;
        input.send_keys("\u{E007}").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=visitor] .ochat-text",
                "Hello?",
            )
            .await?;
        let sessions = chat
            .ok(
                &ann.token,
                Method::GET,
                "/api/v1/livechat/sessions?status=open",
                None,
            )
            .await?;
        let session = sessions[0]["id"].as_str().context("a session")?.to_string();

        // The network drops; Ann writes twice meanwhile.
        relay.cut();
        visitor
            .wait_js(
                "the widget notices the drop",
                "document.querySelector('[data-ochat=root]').dataset.offline === 'true'",
            )
            .await?;
        chat.say(&ann.token, &session, "Sorry for the wait").await?;
        chat.say(&ann.token, &session, "Your order left today")
            .await?;
        relay.resume();
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Your order left today",
            )
            .await?;
        let texts = visitor
            .texts("[data-ochat=message][data-author=operator] .ochat-text")
            .await?;
        ensure!(
            texts == ["Sorry for the wait", "Your order left today"],
            "each message once, in order: {texts:?}"
        );
        chat.say(&ann.token, &session, "Live again").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Live again",
            )
            .await?;

        // The visitor goes to another page: the same chat is there, and Ann's /history has it.
        visitor.goto(&format!("{site}/about")).await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=operator] .ochat-text",
                "Live again",
            )
            .await?;
        let shown = visitor
            .find("[data-ochat=window]")
            .await?
            .is_displayed()
            .await?;
        ensure!(shown, "the chat window stays open on the next page");
        let deadline = tokio::time::Instant::now() + ochat_tests::node::WAIT;
        loop {
            let h = chat
                .ok(
                    &ann.token,
                    Method::GET,
                    &format!("/api/v1/livechat/sessions/{session}/history"),
                    None,
                )
                .await?;
            if h["pages"]
                .as_array()
                .is_some_and(|p| p.contains(&json!("/about")))
            {
                break;
            }
            ensure!(tokio::time::Instant::now() < deadline, "pages: {h}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let visitors = visitor
            .js("JSON.parse(localStorage.getItem('ochat.visitor'))")
            .await?;
        let stored = chat
            .ok(
                &ann.token,
                Method::GET,
                &format!("/api/v1/livechat/sessions/{session}"),
                None,
            )
            .await?;
        ensure!(
            visitors.as_str().is_some() && visitors.as_str() == stored["visitor_id"].as_str(),
            "the visitor id is kept in the browser: {visitors} vs {stored}"
        );
        Ok(())
    }
    .await;
    screenshots_on_failure("reconnect", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}
