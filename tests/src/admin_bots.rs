//! Helpers of the console's administration stories (`tests/tests/web_admin_bots.rs`): logging
//! in to a node's console with its admin token and opening one of the admin sections that
//! `admin_bots.js` adds (Chatbots, Federation), and the screenshots the docs show.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use fantoccini::error::{CmdError, ErrorStatus};

use reqwest::Method;

use crate::node::{TestNode, WAIT, test_config};
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

/// Opens the Administration area (its header button) and the section `title` ("Chatbots",
/// "Federation") in its navigation, and waits until the section shows, with the focus on its
/// heading.
pub async fn open_section(browser: &Browser, title: &str) -> Result<()> {
    let id = title.to_ascii_lowercase();
    browser.find("#admin-open").await?.click().await?;
    browser
        .find(&format!("#admin-tab-{id}"))
        .await?
        .click()
        .await?;
    browser
        .wait_text(&format!("#admin-{id}-title"), title)
        .await?;
    browser
        .wait_js(
            "the section's heading has the focus",
            &format!("document.activeElement && document.activeElement.id === 'admin-{id}-title'"),
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
            Err(e) => {
                return Err(e).with_context(|| format!("{}: choosing in {css}", browser.name));
            }
        }
    }
}

/// Scrolls the open admin section so that the element matching `css` is at its top (for a
/// screenshot of that part).
pub async fn scroll_to(browser: &Browser, css: &str) -> Result<()> {
    browser.find(css).await?;
    browser
        .js(&format!(
            "(() => {{ document.querySelector({css:?}).scrollIntoView({{block: 'start'}}); \
             return true; }})()"
        ))
        .await?;
    Ok(())
}

/// Accepts the `window.confirm` dialog a click opened ("Delete …?"), waiting for it to show.
pub async fn confirm(browser: &Browser) -> Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match browser.client.accept_alert().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).context("no confirmation dialog"),
        }
    }
}

/// Fails when a field of the open admin section has no label (a `<label for>` or an
/// `aria-label`) or a button has no name: what a screen reader would meet unnamed.
pub async fn every_control_is_labelled(browser: &Browser) -> Result<()> {
    let unnamed = browser
        .js(
            "[...document.querySelectorAll('#admin-body input, #admin-body select, \
             #admin-body textarea, #admin-body button')]\
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') \
                          && !(e.tagName === 'BUTTON' && e.textContent.trim()))\
             .map(e => e.outerHTML)",
        )
        .await?;
    ensure!(
        unnamed.as_array().is_some_and(Vec::is_empty),
        "unlabelled controls: {unnamed}"
    );
    Ok(())
}

/// Two organisations without a directory: Acme, and Bolt told where Acme listens (Acme's
/// first address, waited for: a node under load may answer before it listens). Answers
/// (Acme, Bolt).
pub async fn acme_and_bolt(dir: &std::path::Path) -> Result<(TestNode, TestNode)> {
    let acme = TestNode::start(test_config(&dir.join("acme"), "Acme", None)).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let address = loop {
        let me = acme.ok(Method::GET, "/api/v1/instance", None).await?;
        if let Some(a) = me["addresses"][0].as_str() {
            break a.to_string();
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "Acme listens nowhere after {WAIT:?}: {me}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut bolt_config = test_config(&dir.join("bolt"), "Bolt", None);
    bolt_config.peers = vec![(acme.uuid.clone(), address)];
    let bolt = TestNode::start(bolt_config).await?;
    Ok((acme, bolt))
}
