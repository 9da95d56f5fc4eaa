//! The seed behaviours a person sees in a real browser: the console shows an idle operator as
//! away after 30 minutes and back as soon as they touch the page; the console offers only the
//! node's enabled languages; it shows each channel's satisfaction; the public ratings page
//! lists published channels and their public ratings; a new connection request is bold until
//! the administrator opens it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::seeds::{console_login, operator_available, swept_shop, until};
use ochat_tests::web::{Driver, screenshots_on_failure};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_operator_turns_away_after_thirty_minutes_and_is_back_when_they_act() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = swept_shop(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Support", &[&ann], json!({})).await.unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console_login(&console, &chat, "ann").await?;
        console.wait_text("#presence", "Available").await?;
        ensure!(operator_available(&chat, &channel).await?);

        // Ann leaves her console open and does nothing for 31 minutes: the console says she
        // is away and visitors are not routed to her.
        chat.clock.advance_minutes(31);
        console.wait_text("#presence", "Away").await?;
        ensure!(!operator_available(&chat, &channel).await?);

        // She clicks in the console: she is available again, for the console and for visitors.
        console.click("main").await?;
        console.wait_text("#presence", "Available").await?;
        until("Ann is available again", || {
            operator_available(&chat, &channel)
        })
        .await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("presence", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_offers_only_the_enabled_languages_in_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let chat =
        ochat_tests::livechat::ChatNode::start_with(tmp.path(), Arc::new(TestClock::new()), |c| {
            c.livechat.languages = Some(vec!["en".into(), "fr".into(), "nl".into()])
        })
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann", "language": "en"}))
        .await
        .unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console_login(&console, &chat, "ann").await?;
        console.click("#profile-open").await?;
        console
            .wait_js(
                "the languages are listed",
                "document.querySelectorAll('#profile-chat-languages input').length === 3",
            )
            .await?;
        let options = console.texts("#profile-language option").await?;
        ensure!(
            options == ["(none)", "English (en)", "French (fr)", "Dutch (nl)"],
            "{options:?}"
        );
        ensure!(console.js("document.querySelector('#profile-language').value").await? == json!("en"));

        // Ann speaks French and Dutch in live chat, Dutch first of all.
        console.click("#profile-chat-languages input[value=fr]").await?;
        console.click("#profile-chat-languages input[value=nl]").await?;
        console
            .js("(function(){var s=document.querySelector('#profile-language'); s.value='nl'; return true;})()")
            .await?;
        console.click("#profile-save").await?;
        console.wait_text("#profile-result", "Saved.").await?;
        let profile = chat
            .ok(
                &ann.token,
                reqwest::Method::GET,
                &format!("/api/v1/users/{}", ann.id),
                None,
            )
            .await?;
        ensure!(profile["language"] == json!("nl"), "{profile}");
        ensure!(profile["chat_languages"] == json!(["fr", "nl"]), "{profile}");
        Ok(())
    }
    .await;
    screenshots_on_failure("languages", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_read_the_published_ratings_and_the_console_shows_each_channels_satisfaction() {
    use ochat_tests::seeds::rated_session;
    use reqwest::Method;
    let tmp = tempfile::tempdir().unwrap();
    let chat = ochat_tests::livechat::ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let bea = chat
        .operator("bea", json!({"chat_name": "Bea"}))
        .await
        .unwrap();
    let support = chat
        .channel("Support", &[&ann], json!({"published": true}))
        .await
        .unwrap();
    let sales = chat.channel("Sales", &[&bea], json!({})).await.unwrap();
    rated_session(
        &chat,
        &support,
        &ann.token,
        5,
        "Quick and kind <b>thanks</b>",
    )
    .await
    .unwrap();
    rated_session(&chat, &support, &ann.token, 3, "It was fine")
        .await
        .unwrap();
    let secret = rated_session(&chat, &support, &ann.token, 1, "Secret complaint")
        .await
        .unwrap();
    chat.admin(
        Method::PUT,
        &format!("/api/v1/livechat/sessions/{secret}/rating/visibility"),
        Some(json!({"internal_only": true})),
    )
    .await
    .unwrap();
    rated_session(&chat, &sales, &bea.token, 1, "Sales were rude")
        .await
        .unwrap();

    // The pages carry the same policy as the other pages; unpublished channels are not found.
    let http = reqwest::Client::new();
    let index = http
        .get(format!("{}/livechat", chat.node.api))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(
        index.headers()["content-security-policy"],
        ochat_node::web::PAGE_CSP
    );
    let hidden = http
        .get(format!("{}/livechat/channel/{sales}", chat.node.api))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);

    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        // The visitor finds Support (not Sales) on the ratings page, half of its public
        // ratings happy; the internal-only one is not counted.
        visitor.goto(&format!("{}/livechat", chat.node.api)).await?;
        let channels = visitor.texts(".channels li a").await?;
        ensure!(channels == ["Support"], "{channels:?}");
        visitor
            .wait_text(".channels li .percent", "50% happy")
            .await?;
        visitor.click(".channels li a").await?;
        visitor.wait_text("h1", "Support").await?;
        visitor.wait_text(".satisfaction .percent", "50%").await?;
        let operators = visitor.texts(".list .rating .operator").await?;
        ensure!(operators == ["Ann", "Ann"], "{operators:?}");
        let comments = visitor.texts(".list .comment").await?;
        ensure!(
            comments == ["It was fine", "Quick and kind <b>thanks</b>"],
            "{comments:?}"
        );
        ensure!(visitor.all(".list b").await?.is_empty());
        let page = visitor.client.source().await?;
        ensure!(
            !page.contains("Secret complaint"),
            "an internal-only rating leaked"
        );

        // The administrator's console shows every rating in the satisfaction: 1 of 3 happy.
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console
            .find("#admin-token")
            .await?
            .send_keys(&chat.node.token)
            .await?;
        console.find("#token-submit").await?.click().await?;
        console
            .wait_text(
                &format!("#lc-channels li[data-channel='{support}'] .satisfaction"),
                "33% happy",
            )
            .await?;
        ensure!(
            console
                .all(&format!(
                    "#lc-channels li[data-channel='{sales}'] .satisfaction"
                ))
                .await?
                .len()
                == 1
        );
        Ok(())
    }
    .await;
    screenshots_on_failure("ratings", &[&visitor, &console], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_request_is_bold_in_the_console_until_the_administrator_opens_it() {
    use ochat_tests::node::{TestNode, test_config};
    use reqwest::Method;
    let tmp = tempfile::tempdir().unwrap();
    let acme = TestNode::start(test_config(&tmp.path().join("acme"), "Acme", None))
        .await
        .unwrap();
    let me = acme
        .ok(Method::GET, "/api/v1/instance", None)
        .await
        .unwrap();
    let mut config = test_config(&tmp.path().join("bolt"), "Bolt", None);
    config.peers = vec![(
        acme.uuid.clone(),
        me["addresses"][0].as_str().unwrap().to_string(),
    )];
    let bolt = TestNode::start(config).await.unwrap();
    bolt.ok(
        Method::POST,
        "/api/v1/connections",
        Some(json!({"remote_uuid": acme.uuid, "message": "Hello from Bolt", "send": true})),
    )
    .await
    .unwrap();
    let incoming = acme
        .wait_incoming_from(&bolt.uuid, "Pending")
        .await
        .unwrap();
    let id = incoming["id"].as_str().unwrap().to_string();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", acme.api)).await?;
        console.find("#admin-token").await?.send_keys(&acme.token).await?;
        console.find("#token-submit").await?.click().await?;
        // New: bold in the sidebar.
        console.wait_text("#requests li.new button .label", "Bolt").await?;
        let weight = console
            .js("getComputedStyle(document.querySelector('#requests li.new button .label')).fontWeight")
            .await?;
        ensure!(weight.as_str().is_some_and(|w| w.parse::<u32>().unwrap_or(0) >= 600), "{weight}");

        // Opened: no longer new, in the console and for the API; still pending.
        console.click_text("#requests li button .label", "Bolt").await?;
        console.wait_text("#req-message", "Hello from Bolt").await?;
        console
            .wait_js(
                "the request is no longer marked new",
                "document.querySelectorAll('#requests li.new').length === 0 && document.querySelectorAll('#requests li button').length === 1",
            )
            .await?;
        let now = acme.connection(&id).await?;
        ensure!(now["new"] == json!(false) && now["status"] == json!("Pending"), "{now}");
        Ok(())
    }
    .await;
    screenshots_on_failure("new-request", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
