//! Helpers for the console alerts and queue browser stories (`tests/tests/web_console_notify.rs`,
//! `tests/tests/web_widget_queue.rs`): an operator logging into the console, the tab hidden or
//! shown again as the browser would tell the page, and recording stand-ins for the *browser's*
//! Notification and WebAudio APIs (headless Chromium shows no notifications and plays no sound;
//! these record what the console asked of them, they are not ours to test).

use anyhow::{Result, ensure};
use serde_json::json;

use crate::web::Browser;

/// Replaces `window.Notification` and `window.AudioContext` with recorders: notifications go
/// to `window.__notes` (`{title, body, tag}`), permission requests count in `window.__asked`
/// (the user grants), tones count in `window.__tones`.
pub const BROWSER_RECORDERS: &str = r#"
window.__notes = []; window.__asked = 0; window.__tones = 0;
function RecordedNotification(title, options) {
  window.__notes.push({ title: title, body: (options || {}).body, tag: (options || {}).tag });
  this.close = function () {};
}
RecordedNotification.permission = "default";
RecordedNotification.requestPermission = function (done) {
  window.__asked += 1;
  RecordedNotification.permission = "granted";
  if (done) done("granted");
  return Promise.resolve("granted");
};
window.Notification = RecordedNotification;
window.AudioContext = function () {
  this.state = "running"; this.currentTime = 0; this.destination = {};
  this.createOscillator = function () {
    window.__tones += 1;
    return { frequency: {}, connect: function () {}, start: function () {}, stop: function () {} };
  };
  this.createGain = function () {
    return { gain: { setValueAtTime: function () {}, exponentialRampToValueAtTime: function () {} },
             connect: function () {} };
  };
};
return true;
"#;

/// Installs [`BROWSER_RECORDERS`] in the page.
pub async fn record_browser_alerts(browser: &Browser) -> Result<()> {
    let done = browser.client.execute(BROWSER_RECORDERS, vec![]).await?;
    ensure!(done == json!(true), "the recorders are in place");
    Ok(())
}

/// Tells the page its tab is hidden (`true`) or shown again (`false`), as the browser does
/// when the operator switches tabs: `document.hidden`, `visibilityState` and the
/// `visibilitychange` event.
pub async fn set_tab_hidden(browser: &Browser, hidden: bool) -> Result<()> {
    let state = if hidden { "hidden" } else { "visible" };
    let script = format!(
        "Object.defineProperty(document, 'hidden', {{configurable: true, get: function () {{ return {hidden}; }}}});\
         Object.defineProperty(document, 'visibilityState', {{configurable: true, get: function () {{ return '{state}'; }}}});\
         document.dispatchEvent(new Event('visibilitychange')); return true;"
    );
    browser.client.execute(&script, vec![]).await?;
    Ok(())
}

/// Logs `login` (password `pw-<login>`, as `ChatNode::operator` creates them) into the console
/// page the browser shows, and waits until the console greets them as `name`.
pub async fn console_login(browser: &Browser, login: &str, name: &str) -> Result<()> {
    browser.find("#login-name").await?.send_keys(login).await?;
    browser
        .find("#login-password")
        .await?
        .send_keys(&format!("pw-{login}"))
        .await?;
    browser.find("#login-submit").await?.click().await?;
    browser.wait_text("#who", name).await?;
    Ok(())
}
