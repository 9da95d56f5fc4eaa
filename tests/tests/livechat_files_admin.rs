//! The owner turns files on for a channel without `curl`: from the command line
//! (`ochat livechat files`) and from the console's Administration → Channels page. A type the
//! node does not accept (HTML) or a limit over 100 MiB is refused with the node's reason and
//! changes nothing; what is saved is what the widget is told (`/features`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::ensure;
use ochat_node::livechat::TestClock;
use ochat_tests::admin_bots::{admin_console, every_control_is_labelled, fill, open_section};
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_cli::Cli;
use ochat_tests::node::{TestNode, test_config};
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_turns_files_on_from_the_command_line_and_mistakes_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let cli = Cli::new(&node.data_dir);
    cli.json(&["livechat", "channel", "create", "Website"])
        .unwrap();

    let off = cli.ok(&["livechat", "files", "Website"]).unwrap();
    assert!(off.contains("Files are off in Website"), "{off}");

    let err = cli
        .fails(&[
            "livechat",
            "files",
            "Website",
            "--on",
            "--type",
            "text/html",
        ])
        .unwrap();
    assert!(err.contains("text/html"), "the node's reason: {err}");
    let err = cli
        .fails(&["livechat", "files", "Website", "--on", "--max-mib", "500"])
        .unwrap();
    assert!(err.contains("max_bytes"), "the node's reason: {err}");
    let s = cli.json(&["livechat", "files", "Website"]).unwrap();
    assert_eq!(s["enabled"], json!(false), "refusals change nothing: {s}");

    let on = cli
        .ok(&[
            "livechat",
            "files",
            "Website",
            "--on",
            "--max-mib",
            "2",
            "--type",
            "image/png",
            "--type",
            ".pdf",
        ])
        .unwrap();
    assert!(on.contains("Files are on in Website: up to 2 MiB"), "{on}");
    let channel = cli
        .json(&["livechat", "channel", "show", "Website"])
        .unwrap();
    let features = node
        .ok(
            Method::GET,
            &format!(
                "/api/v1/livechat/{}/features",
                channel["id"].as_str().unwrap()
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(features["files"]["enabled"], json!(true), "{features}");
    assert_eq!(features["files"]["max_bytes"], json!(2 * 1024 * 1024));
    assert_eq!(
        features["files"]["allowed_types"],
        json!(["image/png", "application/pdf"])
    );

    let off = cli.ok(&["livechat", "files", "Website", "--off"]).unwrap();
    assert!(off.contains("Files are off"), "{off}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_turns_files_on_in_the_console_and_a_refused_type_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let path = format!("/api/v1/livechat/channels/{channel}/files");
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_console(&console, &chat.node.api, &chat.node.token).await?;
        open_section(&console, "Channels").await?;
        console.find("#ch-files").await?;
        every_control_is_labelled(&console).await?;
        console.click("#ch-files-on").await?;
        fill(&console, "#ch-files-max", "3").await?;
        fill(&console, "#ch-files-types", "image/png\ntext/html").await?;
        console.click("#ch-files-submit").await?;
        console
            .wait_js(
                "the node's reason is shown",
                "document.getElementById('ch-files-message').textContent.includes('text/html')",
            )
            .await?;
        let s = chat.admin(Method::GET, &path, None).await?;
        ensure!(s["enabled"] == json!(false), "a refusal changes nothing: {s}");

        fill(&console, "#ch-files-types", "image/png\n.pdf").await?;
        console.click("#ch-files-submit").await?;
        console
            .wait_js(
                "saved",
                "document.getElementById('ch-files-message').textContent.startsWith('Saved. Visitors and operators may send files up to 3 MiB')",
            )
            .await?;
        let s = chat.admin(Method::GET, &path, None).await?;
        ensure!(s["enabled"] == json!(true), "{s}");
        ensure!(s["max_bytes"] == json!(3 * 1024 * 1024), "{s}");
        ensure!(
            s["allowed_types"] == json!(["image/png", "application/pdf"]),
            "{s}"
        );
        anyhow::Ok(())
    }
    .await;
    screenshots_on_failure("admin-files", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
