//! Files in the widget and the console, in a real browser: the visitor attaches a file with
//! the widget's attach button (shown because the channel takes files), the operator sees it in
//! the console as a download link (fetched with the token, never shown inline), sends a file
//! back, and the visitor sees its link. At the end of a chat the widget offers the transcript
//! by email, which a real SMTP server (aiosmtpd) receives. Screenshots for the docs go to
//! docs/screenshots/.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_node::livechat::mail::{SmtpConfig, SmtpTls};
use ochat_tests::admin_bots::doc_screenshot;
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_files::{PNG, SmtpSink, free_port};
use ochat_tests::web::{
    Driver, screenshots_on_failure, shop, shop_page, snippet, until_available, website,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_attaches_a_file_and_the_operator_downloads_it_from_the_console() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, _ann, channel) = shop(tmp.path()).await.unwrap();
    chat.admin(
        Method::PUT,
        &format!("/api/v1/livechat/channels/{channel}/files"),
        Some(json!({"enabled": true})),
    )
    .await
    .unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let code = embed["snippet"].as_str().unwrap();
    let (site, _server) = website(vec![("/shop/cart".into(), shop_page("Cart", code))])
        .await
        .unwrap();
    let picture = tmp.path().join("broken-leg.png");
    std::fs::write(&picture, PNG).unwrap();
    let receipt = tmp.path().join("receipt.txt");
    std::fs::write(&receipt, "Order 1042: oak chair, 49 EUR\n").unwrap();

    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        console.goto(&format!("{}/console", chat.node.api)).await?;
        console.find("#login-name").await?.send_keys("ann").await?;
        console.find("#login-password").await?.send_keys("pw-ann").await?;
        console.find("#login-submit").await?.click().await?;
        console.wait_text("#who", "Ann").await?;
        until_available(&chat, &channel, &format!("{site}/shop/cart")).await?;

        // The visitor opens the chat, writes, and attaches a picture of the broken chair.
        visitor.goto(&format!("{site}/shop/cart")).await?;
        visitor.find("[data-ochat=button]").await?.click().await?;
        visitor.wait_text("[data-ochat=operator]", "Ann").await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("The leg of my chair broke, see the photo").await?;
        input.send_keys("\u{E007}").await?;
        visitor.find("[data-ochat=attach]").await?;
        // The file chooser is the browser's own window: the test gives the file to the input
        // behind the attach button, as the chooser would.
        visitor.js("document.querySelector('[data-ochat=file-input]').hidden = false").await?;
        visitor
            .find("[data-ochat=file-input]")
            .await?
            .send_keys(picture.to_str().context("path")?)
            .await?;
        visitor
            .wait_js(
                "the widget shows the sent file",
                "Array.from(document.querySelectorAll('[data-ochat=file]')).some(a => a.textContent.startsWith('broken-leg.png'))",
            )
            .await?;

        // Ann opens the conversation: the picture is a download link, not an image.
        console.click("#sessions li.new button").await?;
        console
            .wait_js(
                "the console shows the file as a link",
                "Array.from(document.querySelectorAll('#conv-log a.file-link')).some(a => a.textContent.includes('broken-leg.png'))",
            )
            .await?;
        ensure!(console.all("#conv-log img").await?.is_empty(), "never shown inline");
        // The link downloads it with Ann's token: the bytes are the picture's.
        let session = chat
            .admin(Method::GET, "/api/v1/livechat/sessions", None)
            .await?[0]["id"]
            .as_str()
            .context("session")?
            .to_string();
        let file = console
            .js("document.querySelector('#conv-log a.file-link').getAttribute('data-file')")
            .await?;
        let file = file.as_str().context("file id")?.to_string();
        console
            .js(&format!(
                "(function () {{ window.__got = null; fetch('/api/v1/livechat/sessions/{session}/files/{file}', \
                 {{ headers: {{ authorization: 'Bearer ' + sessionStorage.getItem('ochat.token') }} }}) \
                 .then(r => r.arrayBuffer().then(b => {{ window.__got = [r.headers.get('content-disposition'), b.byteLength]; }})); \
                 return true; }})()"
            ))
            .await?;
        console.wait_js("the file is fetched", "window.__got !== null").await?;
        let got = console.js("window.__got").await?;
        ensure!(got[1] == json!(PNG.len()), "{got}");
        ensure!(got[0].as_str().unwrap_or("").starts_with("attachment;"), "{got}");
        console.find("#conv-log a.file-link").await?.click().await?;
        doc_screenshot(&console, "console-file-link").await?;

        // Ann sends the receipt back with the attach button; the visitor sees its link.
        console.find("#composer-attach").await?;
        console.js("document.querySelector('#composer-file').hidden = false").await?;
        console
            .find("#composer-file")
            .await?
            .send_keys(receipt.to_str().context("path")?)
            .await?;
        visitor
            .wait_js(
                "the visitor sees the operator's file",
                "Array.from(document.querySelectorAll('[data-author=operator] [data-ochat=file]')).some(a => a.textContent.startsWith('receipt.txt'))",
            )
            .await?;
        visitor.js("document.querySelector('[data-ochat=file-input]').hidden = true").await?;
        doc_screenshot(&visitor, "widget-files").await?;
        Ok(())
    }
    .await;
    screenshots_on_failure("files", &[&visitor, &console], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
    console.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_end_the_visitor_asks_for_the_transcript_by_email_in_the_widget() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let sink = SmtpSink::start(tmp.path(), port).await.unwrap();
    let chat = ChatNode::start_with(&tmp.path().join("shop"), Arc::new(TestClock::new()), |c| {
        c.livechat.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            tls: SmtpTls::None,
            user: None,
            password: None,
            from: "Shop <chat@shop.test>".into(),
            retry_max: Some(Duration::from_secs(1)),
        });
    })
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Support", &[&ann], json!({"button_text": "Need help?"}))
        .await
        .unwrap();
    let embed = snippet(&chat, &channel).await.unwrap();
    let code = embed["snippet"].as_str().unwrap();
    let (site, _server) = website(vec![("/shop".into(), shop_page("Shop", code))])
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let visitor = driver.browser("visitor").await.unwrap();
    let story = async {
        until_available(&chat, &channel, &format!("{site}/shop")).await?;
        visitor.goto(&format!("{site}/shop")).await?;
        visitor.find("[data-ochat=button]").await?.click().await?;
        let input = visitor.find("[data-ochat=input]").await?;
        input.send_keys("Do you deliver on Saturdays?").await?;
        input.send_keys("\u{E007}").await?;
        visitor
            .wait_text(
                "[data-ochat=message][data-author=visitor] .ochat-text",
                "Do you deliver on Saturdays?",
            )
            .await?;
        visitor.find("[data-ochat=end]").await?.click().await?;
        visitor
            .find("[data-ochat=transcript-email] [data-ochat=email]")
            .await?
            .send_keys("alice@example.com")
            .await?;
        doc_screenshot(&visitor, "widget-transcript-email").await?;
        visitor
            .find("[data-ochat=send-email]")
            .await?
            .click()
            .await?;
        visitor
            .wait_text(
                "[data-ochat=email-sent]",
                "The transcript is on its way to alice@example.com.",
            )
            .await?;
        let mail = sink.wait_messages(Duration::from_secs(20)).await?.remove(0);
        ensure!(mail.contains("You: Do you deliver on Saturdays?"), "{mail}");
        ensure!(mail.contains("To: alice@example.com"), "{mail}");
        Ok(())
    }
    .await;
    screenshots_on_failure("transcript", &[&visitor], story)
        .await
        .unwrap();
    visitor.close().await.unwrap();
}
