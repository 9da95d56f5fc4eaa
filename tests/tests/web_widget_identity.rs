//! The owner makes the channel's identity secret in the console's administration; a shop's
//! page tells the widget who its logged-in customer is, signed by the shop's backend;
//! in a real browser the operator's console shows the customer's name with a "Verified"
//! badge. A visitor whose page carries a made-up signature (as script-tag attributes) is shown
//! as "Unverified".

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use anyhow::ensure;
use ochat_tests::admin_bots::{admin_console, doc_screenshot, open_section};
use ochat_tests::livechat_identity::{now_s, signed_claim};
use ochat_tests::seeds::console_login;
use ochat_tests::web::{
    Driver, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};

/// Clicks the sidebar conversation whose label starts with `label`, once it is listed.
async fn open_conversation(console: &ochat_tests::web::Browser, label: &str) -> anyhow::Result<()> {
    let find = format!(
        "Array.from(document.querySelectorAll('#sessions button')).find(b => b.textContent.startsWith({label:?}))"
    );
    console
        .wait_js("the conversation is listed", &format!("!!({find})"))
        .await?;
    console.js(&format!("{find}.click()")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_verified_badge_and_the_name_of_a_customer_the_shop_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, _ann, channel) = shop(tmp.path()).await.unwrap();
    let driver = Driver::start().await.unwrap();

    // The owner makes the channel's secret in the console's administration (asked twice
    // before a rotation), and copies it to the shop's server.
    let owner = driver.browser("owner").await.unwrap();
    let made = async {
        admin_console(&owner, &chat.node.api, &chat.node.token).await?;
        open_section(&owner, "Identity").await?;
        owner.click("#identity-make-0").await?;
        owner
            .wait_js(
                "the secret is shown",
                "(document.getElementById('identity-secret-0') || {value: ''}).value.length === 64",
            )
            .await?;
        doc_screenshot(&owner, "livechat-identity-secret").await?;
        let secret = owner
            .js("document.getElementById('identity-secret-0').value")
            .await?;
        owner
            .wait_text("#identity-make-0", "Rotate the secret")
            .await?;
        anyhow::Ok(secret.as_str().unwrap_or_default().to_string())
    }
    .await;
    let secret = screenshots_on_failure("identity-admin", &[&owner], made)
        .await
        .unwrap();
    owner.close().await.unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let code = embed["snippet"].as_str().unwrap();

    // The shop's backend signs Ada's identity into her account page, before the snippet.
    let claim = signed_claim(
        &secret,
        &channel,
        now_s(&chat),
        "customer-42",
        "Ada Lovelace",
        "ada@example.com",
    );
    let account = shop_page(
        "Your account",
        &format!("<script>window.ochatIdentity = {claim};</script>{code}"),
    );
    // Another page claims to be Ada with a made-up signature, on the script tag.
    let forged = code.replacen(
        "<script ",
        &format!(
            "<script data-identity-id=\"customer-42\" data-identity-name=\"Ada Lovelace\" \
             data-identity-email=\"ada@example.com\" data-identity-timestamp=\"{}\" \
             data-identity-signature=\"{}\" ",
            now_s(&chat),
            "ab".repeat(32)
        ),
        1,
    );
    let (site, _server) = website(vec![
        ("/account".into(), account),
        ("/forged".into(), shop_page("Forged", &forged)),
    ])
    .await
    .unwrap();

    let console = driver.browser("console").await.unwrap();
    let ada = driver.browser("ada").await.unwrap();
    let eve = driver.browser("eve").await.unwrap();
    let story = async {
        // Ann logs in; she must be available for the widget to show.
        console_login(&console, &chat, "ann").await?;
        until_available(&chat, &channel, &format!("{site}/account")).await?;

        for (visitor, page, text) in [
            (&ada, "/account", "Where is my order?"),
            (&eve, "/forged", "I am Ada, honestly"),
        ] {
            visitor.goto(&format!("{site}{page}")).await?;
            visitor.click("[data-ochat=button]").await?;
            let input = visitor.find("[data-ochat=input]").await?;
            input.send_keys(text).await?;
            input.send_keys("\u{E007}").await?; // Enter
            visitor
                .wait_text(
                    "[data-ochat=message][data-author=visitor] .ochat-text",
                    text,
                )
                .await?;
        }

        // Ann opens Ada's conversation: a verified badge, her name and email.
        open_conversation(&console, "Ada Lovelace \u{2713}").await?;
        console
            .wait_text(
                "#conv-identity [data-identity=verified]",
                "\u{2713} Verified",
            )
            .await?;
        console
            .wait_text(
                "#conv-identity [data-identity-name]",
                "Ada Lovelace \u{b7} ada@example.com",
            )
            .await?;
        console
            .wait_text(
                "#conv-log [data-author=visitor] .text",
                "Where is my order?",
            )
            .await?;
        doc_screenshot(&console, "livechat-identity-verified").await?;

        // The forged claim is listed as a plain visitor and shown as unverified.
        open_conversation(&console, "Visitor").await?;
        console
            .wait_text("#conv-identity [data-identity=unverified]", "Unverified")
            .await?;
        let badges = console
            .all("#conv-identity [data-identity=verified]")
            .await?;
        ensure!(badges.is_empty(), "a forged claim shows no verified badge");
        Ok(())
    };
    screenshots_on_failure("identity", &[&console, &ada, &eve], story.await)
        .await
        .unwrap();
    for b in [console, ada, eve] {
        b.close().await.unwrap();
    }
}
