//! Browser tests' helpers: one `chromedriver` per test on a free port, headless Chromium
//! sessions with fresh profiles, waits that fail after [`WAIT`], screenshots (on failure, and
//! on demand) under `target/web-screenshots/`, a tiny third-party website on its own port,
//! a TCP relay a test can cut to drop the browser's connections, and the shop the widget
//! stories share.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use ochat_node::livechat::TestClock;
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::livechat::{ChatNode, Operator};
use crate::node::WAIT;

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// The Chromium flags that work headless on a CI machine.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// Where screenshots go.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots")
}

/// A free TCP port on 127.0.0.1 (the OS picks it; a race with another process is unlikely).
async fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    Ok(l.local_addr()?.port())
}

/// A running chromedriver, killed when dropped.
#[derive(Debug)]
pub struct Driver {
    _child: Child,
    url: String,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it is ready.
    pub async fn start() -> Result<Driver> {
        let port = free_port().await?;
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver (apt-get install chromium-driver)")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = http
                .get(format!("{url}/status"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .ok();
            if let Some(resp) = ready {
                let status: Value = resp.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == json!(true) {
                    break;
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("chromedriver was not ready within {WAIT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(Driver { _child: child, url })
    }

    /// The chromedriver's address (for sessions with their own capabilities).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new headless Chromium with a fresh profile.
    pub async fn browser(&self, name: &str) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .context("starting a Chromium session")?;
        Ok(Browser {
            client,
            name: name.to_string(),
            _profile: profile,
        })
    }
}

/// One browser session.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    /// A name for screenshots ("visitor", "console").
    pub name: String,
    _profile: TempDir,
}

impl Browser {
    /// A session started elsewhere (e.g. with a language), keeping its profile folder.
    pub fn from_parts(client: Client, name: &str, profile: TempDir) -> Browser {
        Browser {
            client,
            name: name.to_string(),
            _profile: profile,
        }
    }
}

impl Browser {
    /// Opens a URL.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// The first element matching a CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("{}: no element {css} within {WAIT:?}", self.name))
    }

    /// Clicks the element matching `css`, finding it again if the page re-rendered it between
    /// the find and the click (a list that redraws on every event, say).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.click_fresh(css, || self.find(css)).await
    }

    /// Waits until an element matching `css` shows exactly `text` and clicks it, finding it
    /// again the same way if the page re-rendered it before the click.
    pub async fn click_text(&self, css: &str, text: &str) -> Result<()> {
        self.click_fresh(css, || self.wait_text(css, text)).await
    }

    /// Clicks what `find` answers; finds it again while the click meets a stale element.
    async fn click_fresh<F, Fut>(&self, css: &str, find: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Element>>,
    {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let element = find().await?;
            match element.click().await {
                Ok(_) => return Ok(()),
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(POLL).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("{}: clicking {css}", self.name));
                }
            }
        }
    }

    /// Every element matching a CSS selector now.
    pub async fn all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.client.find_all(Locator::Css(css)).await?)
    }

    /// The texts of every element matching `css` now.
    pub async fn texts(&self, css: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for e in self.all(css).await? {
            out.push(e.text().await?);
        }
        Ok(out)
    }

    /// Waits until an element matching `css` shows exactly `text`; answers it.
    pub async fn wait_text(&self, css: &str, text: &str) -> Result<Element> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            for e in self.all(css).await? {
                if e.text().await.is_ok_and(|t| t.trim() == text) {
                    return Ok(e);
                }
            }
            if tokio::time::Instant::now() > deadline {
                let seen = self.texts(css).await.unwrap_or_default();
                bail!(
                    "{}: no {css} with text {text:?} within {WAIT:?}; seen {seen:?}",
                    self.name
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until a JavaScript expression is true in the page.
    pub async fn wait_js(&self, what: &str, expression: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let script = format!("return !!({expression});");
        loop {
            if self.client.execute(&script, vec![]).await? == json!(true) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{}: {what} did not happen within {WAIT:?}", self.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Evaluates a JavaScript expression in the page.
    pub async fn js(&self, expression: &str) -> Result<Value> {
        Ok(self
            .client
            .execute(&format!("return ({expression});"), vec![])
            .await?)
    }

    /// Saves a PNG screenshot as `target/web-screenshots/{test}-{name}{suffix}.png`.
    pub async fn screenshot(&self, test: &str, suffix: &str) -> Result<PathBuf> {
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{test}-{}{suffix}.png", self.name));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session (the browser exits).
    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

/// Saves a screenshot of every browser when `result` is a failure, then hands it back.
pub async fn screenshots_on_failure<T>(
    test: &str,
    browsers: &[&Browser],
    result: Result<T>,
) -> Result<T> {
    if result.is_err() {
        for b in browsers {
            match b.screenshot(test, "-failure").await {
                Ok(path) => eprintln!("screenshot saved: {}", path.display()),
                Err(e) => eprintln!("no screenshot of {}: {e}", b.name),
            }
        }
    }
    result
}

/// A third-party website: serves each `(path, html)` on its own port; answers its base URL.
pub async fn website(pages: Vec<(String, String)>) -> Result<(String, JoinHandle<()>)> {
    use axum::response::Html;
    let mut app = axum::Router::new();
    for (path, html) in pages {
        app = app.route(&path, axum::routing::get(move || async move { Html(html) }));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}"), task))
}

/// A page of the third-party website with the widget's snippet in it.
pub fn shop_page(title: &str, snippet: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><h1>{title}</h1><p>Welcome to our shop.</p>{snippet}</body></html>"
    )
}

/// A TCP relay in front of a node; [`Relay::cut`] drops every connection and refuses new ones
/// until [`Relay::resume`].
#[derive(Debug)]
pub struct Relay {
    /// Where the relay listens.
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Relays 127.0.0.1:<free port> to `target`.
    pub async fn start(target: SocketAddr) -> Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, watch) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Ok(Relay { addr, cut, task })
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Relays again.
    pub fn resume(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A shop's node: Ann (chat name "Ann") in the "Support" channel with its widget texts and
/// colours, and Ann's `::hi` canned response. Answers (node, Ann, channel id).
pub async fn shop(dir: &std::path::Path) -> Result<(ChatNode, Operator, String)> {
    let chat = ChatNode::start(dir, Arc::new(TestClock::new())).await?;
    let ann = chat.operator("ann", json!({"chat_name": "Ann"})).await?;
    let channel = chat
        .channel(
            "Support",
            &[&ann],
            json!({"button_text": "Need help?", "welcome_message": "Welcome! How can we help?",
                   "input_placeholder": "Ask us anything", "button_color": "#0b7a3e",
                   "header_color": "#123456"}),
        )
        .await?;
    chat.ok(
        &ann.token,
        Method::POST,
        "/api/v1/livechat/canned",
        Some(json!({"shortcut": "hi", "substitution": "Hello, how can I help you today?"})),
    )
    .await?;
    Ok((chat, ann, channel))
}

/// Waits (bounded) until the node says an operator can answer on `page`.
pub async fn until_available(chat: &ChatNode, channel: &str, page: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, answer) = chat
            .call(
                None,
                Method::POST,
                &format!("/api/v1/livechat/{channel}/check"),
                Some(json!({"page_url": page})),
            )
            .await?;
        if status == 200 && answer["available"] == json!(true) {
            return Ok(answer);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "nobody became available: {status} {answer}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The admin's embed answer for a channel: `snippet`, `link`, `loader`.
pub async fn snippet(chat: &ChatNode, channel: &str) -> Result<Value> {
    chat.admin(
        Method::GET,
        &format!("/api/v1/livechat/channels/{channel}/widget"),
        None,
    )
    .await
}
