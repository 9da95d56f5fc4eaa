//! Deleting an operator from the console's admin area, in a real browser: the administrator
//! opens Carl's profile, is stopped until they type Carl's login, then deletes him. Carl's
//! token stops working, he leaves the channel's operators, the list no longer shows him and
//! says what went; Ann is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use anyhow::{Context, ensure};
use ochat_node::livechat::TestClock;
use ochat_tests::admin_console::{admin_login, fill};
use ochat_tests::livechat::ChatNode;
use ochat_tests::web::{Driver, screenshots_on_failure};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_deletes_an_operator_after_typing_their_login() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let carl = chat
        .operator("carl", json!({"chat_name": "Carl"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Shop", &[&ann, &carl], json!({}))
        .await
        .unwrap();
    let driver = Driver::start().await.unwrap();
    let console = driver.browser("console").await.unwrap();
    let story = async {
        admin_login(&console, &chat.node.api, &chat.node.token).await?;
        console.click("#admin-open").await?;
        console
            .click(&format!(
                "#operators-table tr[data-user='{}'] button",
                carl.id
            ))
            .await?;
        console.find("#op-delete").await?;

        // A wrong confirmation deletes nothing and says what to type.
        fill(&console, "#op-delete-confirm", "ann").await?;
        console.click("#op-delete-submit").await?;
        console
            .wait_text(
                "#op-delete-message",
                "Type \u{201c}carl\u{201d} to confirm the deletion.",
            )
            .await?;
        let (status, _) = chat
            .call(Some(&carl.token), Method::GET, "/api/v1/users/me", None)
            .await?;
        ensure!(
            status == 200,
            "Carl was touched by a wrong confirmation: {status}"
        );

        // The right one deletes him, and the list says what went.
        fill(&console, "#op-delete-confirm", "carl").await?;
        console.click("#op-delete-submit").await?;
        console
            .wait_text(
                "#operators-notice",
                "Deleted carl: 1 token revoked, removed from 1 channel and 0 groups.",
            )
            .await?;
        let rows = console
            .texts("#operators-table tr[data-user] td:first-child")
            .await?;
        ensure!(rows == ["ann"], "{rows:?}");
        let (status, _) = chat
            .call(Some(&carl.token), Method::GET, "/api/v1/users/me", None)
            .await?;
        ensure!(status == 401, "Carl's token still works: {status}");
        let (status, _) = chat
            .call(
                Some(&chat.node.token),
                Method::GET,
                &format!("/api/v1/users/{}", carl.id),
                None,
            )
            .await?;
        ensure!(status == 404, "Carl can still be read: {status}");
        let shop = chat
            .admin(
                Method::GET,
                &format!("/api/v1/livechat/channels/{channel}"),
                None,
            )
            .await?;
        let operators: Vec<&str> = shop["operators"]
            .as_array()
            .context("the channel's operators")?
            .iter()
            .filter_map(|o| o.as_str())
            .collect();
        ensure!(operators == [ann.id.as_str()], "{shop}");
        Ok(())
    }
    .await;
    screenshots_on_failure("admin-delete", &[&console], story)
        .await
        .unwrap();
    console.close().await.unwrap();
}
