//! Helpers of the console's administration stories (`tests/tests/web_admin_bots.rs`): logging
//! in to a node's console with its admin token and opening one of the admin sections that
//! `admin_bots.js` adds (Chatbots, Federation), and the screenshots the docs show.

use std::path::PathBuf;

use anyhow::{Result, ensure};

use crate::web::{Browser, screenshot_dir};

/// Opens `api`'s console, logs in with the admin token and waits for the console to be ready
/// (a token kept from an earlier visit to that node is dropped first).
pub async fn admin_console(browser: &Browser, api: &str, token: &str) -> Result<()> {
    let console = format!("{api}/console");
    browser.goto(&console).await?;
    browser.js("sessionStorage.clear()").await?;
    browser.goto(&console).await?;
    browser.find("#admin-token").await?.send_keys(token).await?;
    browser.find("#token-submit").await?.click().await?;
    browser.wait_text("#who", "Administrator").await?;
    Ok(())
}

/// Clicks the admin section `title` ("Chatbots", "Federation") in the sidebar and waits until
/// its panel shows, with the focus on its heading.
pub async fn open_section(browser: &Browser, title: &str) -> Result<()> {
    browser.click_text("#admin-bots-nav button", title).await?;
    browser.wait_text("#admin-bots > h2", title).await?;
    browser
        .wait_js(
            "the section's heading has the focus",
            "document.activeElement && document.activeElement.id === 'ab-title'",
        )
        .await?;
    Ok(())
}

/// Saves a screenshot for the docs: `docs/screenshots/{name}.png` when `OCHAT_SCREENSHOT` is
/// set (the pictures the README shows), else under `target/web-screenshots/`. Answers the path.
pub async fn doc_screenshot(browser: &Browser, name: &str) -> Result<PathBuf> {
    let png = browser.client.screenshot().await?;
    ensure!(png.len() > 10_000, "a real picture, not a blank page");
    let dir = if std::env::var_os("OCHAT_SCREENSHOT").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
    } else {
        screenshot_dir()
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}
