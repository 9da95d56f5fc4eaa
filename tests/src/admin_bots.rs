//! Helpers of the console's administration stories (`tests/tests/web_admin_bots.rs`): logging
//! in to a node's console with its admin token and opening one of the admin sections that
//! `admin_bots.js` adds (Chatbots, Federation), and the screenshots the docs show.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use fantoccini::error::{CmdError, ErrorStatus};

use crate::node::WAIT;
use crate::web::{Browser, screenshot_dir};

/// Opens `api`'s console, logs in with the admin token and waits for the console to be ready
/// (a token kept from an earlier visit to that node is dropped first).
pub async fn admin_console(browser: &Browser, api: &str, token: &str) -> Result<()> {
    // Cleared on a page of the node's origin without a script, so no login can race it.
    browser.goto(&format!("{api}/web/console.css")).await?;
    browser.js("sessionStorage.clear()").await?;
    browser.goto(&format!("{api}/console")).await?;
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

/// Whether a WebDriver error says the element was redrawn since it was found.
fn stale(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::StaleElementReference)
}

/// Replaces the text of the field matching `css` with `text`, finding it again when the page
/// redrew it meanwhile (the connection cards redraw on every event of the node).
pub async fn fill(browser: &Browser, css: &str, text: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let field = browser.find(css).await?;
        let done = match field.clear().await {
            Ok(()) => field.send_keys(text).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => return Ok(()),
            Err(e) if stale(&e) && std::time::Instant::now() < deadline => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: filling {css}", browser.name)),
        }
    }
}

/// Chooses the option `value` of the select matching `css`, finding it again when the page
/// redrew it meanwhile.
pub async fn choose(browser: &Browser, css: &str, value: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let select = browser.find(css).await?;
        match select.select_by_value(value).await {
            Ok(()) => return Ok(()),
            Err(e) if stale(&e) && std::time::Instant::now() < deadline => continue,
            Err(e) => return Err(e).with_context(|| format!("{}: choosing in {css}", browser.name)),
        }
    }
}

/// Scrolls the open admin section so that the element matching `css` is at its top (for a
/// screenshot of that part).
pub async fn scroll_to(browser: &Browser, css: &str) -> Result<()> {
    browser.find(css).await?;
    browser
        .js(&format!(
            "(() => {{ const p = document.querySelector('#admin-bots'); \
             const e = document.querySelector({css:?}); \
             p.scrollTop += e.getBoundingClientRect().top - p.getBoundingClientRect().top - 12; \
             return true; }})()"
        ))
        .await?;
    Ok(())
}
