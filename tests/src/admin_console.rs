//! Helpers for the console's admin-area browser tests (`tests/tests/web_admin*.rs`): the
//! admin token pasted into the console, form fields filled as a person types, and the
//! admin screens' pictures for the docs (`docs/screenshots/`, rewritten only with
//! `OCHAT_SCREENSHOT=1`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::web::Browser;

/// Opens the console at `api` and logs in with the node's admin token.
pub async fn admin_login(browser: &Browser, api: &str, token: &str) -> Result<()> {
    browser.goto(&format!("{api}/console")).await?;
    browser.find("#admin-token").await?.send_keys(token).await?;
    browser.find("#token-submit").await?.click().await?;
    browser.wait_text("#who", "Administrator").await?;
    Ok(())
}

/// Replaces the value of the field `css` by typing `text` (key by key, as a person would).
pub async fn fill(browser: &Browser, css: &str, text: &str) -> Result<()> {
    let field = browser.find(css).await?;
    field
        .clear()
        .await
        .with_context(|| format!("clearing {css}"))?;
    if !text.is_empty() {
        field
            .send_keys(text)
            .await
            .with_context(|| format!("typing into {css}"))?;
    }
    Ok(())
}

/// Where the admin screens' pictures go.
pub fn docs_screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
}

/// Saves a screenshot of `browser` as `docs/screenshots/{name}.png` when `OCHAT_SCREENSHOT`
/// is set (and always under `target/web-screenshots/`, like the other browser tests). The
/// window is made taller for the picture (a whole form fits), then given its size back.
pub async fn docs_screenshot(browser: &Browser, name: &str) -> Result<()> {
    let (width, height) = browser.client.get_window_size().await?;
    let width = u32::try_from(width).unwrap_or(1280);
    let height = u32::try_from(height).unwrap_or(900);
    browser.client.set_window_size(width, 1400).await?;
    browser
        .js("window.scrollTo(0, 0) || (document.getElementById('admin') && document.getElementById('admin').scrollTo(0, 0))")
        .await?;
    let shot = browser.screenshot("admin", &format!("-{name}")).await;
    browser.client.set_window_size(width, height).await?;
    let path = shot?;
    if std::env::var_os("OCHAT_SCREENSHOT").is_some() {
        let dir = docs_screenshots();
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(&path, dir.join(format!("{name}.png")))
            .with_context(|| format!("copying {}", path.display()))?;
    }
    Ok(())
}

/// WebDriver's keys, for typing into whatever has the keyboard focus.
pub mod keys {
    /// Tab: the next control.
    pub const TAB: &str = "\u{E004}";
    /// Enter: submits the form of a text field.
    pub const ENTER: &str = "\u{E007}";
    /// Control+A, then release: selects the whole field, so typing replaces it.
    pub const SELECT_ALL: &str = "\u{E009}a\u{E000}";
}

/// Types `keys` into the element that has the keyboard focus (a keyboard-only user).
pub async fn type_keys(browser: &Browser, keys: &str) -> Result<()> {
    browser
        .client
        .active_element()
        .await?
        .send_keys(keys)
        .await
        .with_context(|| format!("{}: typing into the focused element", browser.name))?;
    Ok(())
}

/// The id of the element that has the keyboard focus.
pub async fn focused_id(browser: &Browser) -> Result<String> {
    let id = browser
        .js("document.activeElement && document.activeElement.id")
        .await?;
    Ok(id.as_str().unwrap_or("").to_string())
}
