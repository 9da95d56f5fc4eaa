//! # Live chat
//!
//! The node serves its own website's visitors: operators (local users with a login) join
//! channels; a visitor's page gets a button per the channel's rules; a session is routed to an
//! operator; both sides talk over REST + WebSocket; operators use canned responses and
//! commands; visitors rate the session. Everything is kept in the store and survives restarts.
//!
//! - [`groups`] — user groups (canned responses are shared with them). Users, passwords,
//!   tokens and who is calling are `crate::accounts`; the clock is `crate::clock`.
//! - [`languages`] — the languages enabled on the node (profiles must use them).
//! - [`channels`] — channel CRUD, rules CRUD, operators joining and leaving.
//! - [`rules`] — pure rule matching and the visitor's country.
//! - [`routing`] — pure operator choice.
//! - [`presence`] — who is available: sockets, activity, open-session counts.
//! - [`sessions`] — the session record, session tokens, access, listing;
//!   [`session_start`] — a visitor starting one, in named steps (checks, limits, routing and
//!   rule, opening under the presence lock, chatbot, flush).
//! - [`messages`] — messages both ways, commands and shortcuts hooks, pages, closing;
//!   [`page_history`] — the visitor's pages of the last day for `/history`.
//! - [`expiry`] — clean-up: sessions nobody wrote in are removed after an hour, those only
//!   the chatbot answered closed after a day; the bound on open sessions in memory.
//! - [`limits`] — rate limits on anonymous visitors (sessions, chatbot leads and tickets).
//! - [`joining`] — an operator joins a conversation (takes over from the bot).
//! - [`operator_removal`] — a deleted user is forgotten: presence, channels, groups, canned
//!   responses, returning visitors, open conversations.
//! - [`identity`] — visitors the website vouches for: each channel's identity secret, the
//!   signed claim's check at session start, and a visitor's history that never mixes a
//!   verified visitor with unverified claims.
//! - [`hub`] — live delivery to visitor and operator WebSockets.
//! - [`canned`] — canned responses and their expansion.
//! - [`commands`] — operator commands, leads and tickets.
//! - [`ratings`] — ratings and the published ratings page.
//! - [`chatbot`] — chatbot scripts, their checker and simulator, and the bot in a session.
//! - [`queue`] — the line visitors wait in when every operator is busy (positions, the
//!   grace for a visitor who left the page, the wait estimate); [`queue_flow`] — joining,
//!   serving the longest waiting when a slot frees, dropping out, the live `queue` events.
//! - [`reports`] — sessions history, statistics, operator analysis, ratings report,
//!   retention and a visitor's export and erasure, the console's charts page.
//! - [`satisfaction`] — a channel's share of happy ratings over a window (14 days).
//! - [`sweeper`] — the background timer: expiries, bot-only closes, "away" announcements.
//! - [`transcripts`] — open sessions' transcripts (and their JSON) kept in memory.
//! - [`webhook`] — the lead and ticket webhook and its HMAC-SHA256 signature.
//! - [`widget`] — the website widget's page check and the typing indicator.
//! - [`hours`] — business hours: a weekly schedule in a time zone, holidays, open or not.
//! - [`offline`] — a channel offline (closed, or nobody there): the offline form's tickets
//!   and leads.
//! - [`widget_texts`] — every widget text in each built-in language, the channel's own
//!   texts, and the visitor's language.
//! - [`files`] — files in sessions (per-channel switch, size, types checked by content);
//!   [`file_types`] — the recognised types and their magic; [`mail`] — the transcript by
//!   email through SMTP with a queue that survives restarts.
//!
//! Who talks to whom: `api::livechat*` handlers → [`LiveChat`] → its repository
//! `store::livechat` (tables `lc_*`) and `store::accounts`; sessions push events to the [`hub`], which WebSocket handlers subscribe to.

pub mod canned;
pub mod channels;
pub mod chatbot;
pub mod commands;
pub mod expiry;
pub mod file_types;
pub mod files;
pub mod groups;
pub mod hours;
pub mod hub;
pub mod identity;
pub mod joining;
pub mod languages;
pub mod limits;
pub mod mail;
pub mod messages;
pub mod offline;
pub mod operator_removal;
pub mod page_history;
pub mod presence;
pub mod queue;
pub mod queue_flow;
pub mod ratings;
pub mod reports;
pub mod routing;
pub mod rules;
pub mod satisfaction;
pub mod session_start;
pub mod sessions;
pub mod sweeper;
pub mod transcripts;
pub mod webhook;
pub mod widget;
pub mod widget_text_table;
pub mod widget_texts;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;

pub use crate::accounts::Who;
pub use crate::clock::{Clock, SystemClock, TestClock};

use crate::accounts::{Accounts, AccountsConfig, AccountsError};
use crate::durable::GroupFlush;
use crate::store::livechat::LiveChatStore;
use crate::store::livechat::files::LiveChatFiles;
use crate::store::{Store, StoreError};

/// Live chat settings (all optional).
#[derive(Debug, Clone, Default)]
pub struct LiveChatConfig {
    /// A request header carrying the visitor's ISO country code (set by the proxy).
    pub country_header: Option<String>,
    /// A MaxMind-format GeoIP country database.
    pub geoip_db: Option<PathBuf>,
    /// Where `/lead` and `/ticket` records are POSTed as JSON, if anywhere.
    pub webhook_url: Option<String>,
    /// When set, each webhook body is signed with HMAC-SHA256 under this secret (header
    /// `X-Ochat-Signature: sha256=<hex>`).
    pub webhook_secret: Option<webhook::WebhookSecret>,
    /// The clock (the system clock when unset; tests pass a [`TestClock`]).
    pub clock: Option<Arc<dyn Clock>>,
    /// Closed sessions older than this many days are deleted (kept forever when unset).
    pub retention_days: Option<u32>,
    /// How often the retention sweep runs (10 minutes when unset).
    pub retention_sweep_every: Option<std::time::Duration>,
    /// Rate limits on anonymous visitors (new sessions per address and per visitor id,
    /// chatbot leads and tickets per address); [`limits::VisitorLimits::default`] when unset.
    pub visitor_limits: Option<limits::VisitorLimits>,
    /// Operator login tokens unused for this many days expire (14 when unset).
    pub token_idle_days: Option<u32>,
    /// The languages enabled on this node (ISO 639-1 codes): operators' languages must be
    /// among them; [`languages::DEFAULT_LANGUAGES`] when unset.
    pub languages: Option<Vec<String>>,
    /// How often the [`sweeper`] applies the time rules (expiries, closes, "away"); one
    /// minute when unset.
    pub sweep_every: Option<std::time::Duration>,
    /// How old a website's identity signature may be, in seconds
    /// ([`identity::DEFAULT_MAX_AGE_S`] when unset).
    pub identity_max_age_s: Option<u64>,
    /// The SMTP server transcripts are emailed through (none: the widget does not offer it).
    pub smtp: Option<mail::SmtpConfig>,
}

impl LiveChatConfig {
    /// The settings of the accounts the live chat's operators are: its clock, token lifetime
    /// and enabled languages.
    ///
    /// # Errors
    ///
    /// [`LiveChatError::BadInput`]: the configured languages are not ISO 639-1 codes.
    pub fn accounts_config(&self) -> Result<AccountsConfig, LiveChatError> {
        Ok(AccountsConfig {
            clock: self.clock.clone(),
            token_idle_days: self.token_idle_days,
            languages: languages::enabled_list(self.languages.as_deref())?,
        })
    }
}

/// Live chat failures; the API maps each to a status.
#[derive(Debug, Error)]
pub enum LiveChatError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input is invalid.
    #[error("{0}")]
    BadInput(String),
    /// No such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The token is missing, wrong or revoked.
    #[error("a valid token is required")]
    Unauthorized,
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// No operator can take the visitor.
    #[error("no operator is available in this channel right now; please try again later")]
    NoOperator,
    /// Too many requests from this client: try again after `retry_after_s` seconds.
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// The live chat holds as many sessions as it may: try again later.
    #[error("the live chat is busy; please try again in a minute")]
    Busy {
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// Something that should not happen.
    #[error("{0}")]
    Internal(String),
}

/// The live chat service; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveChat {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The live chat's tables.
    repo: LiveChatStore,
    /// Users, passwords and tokens.
    accounts: Accounts,
    clock: Arc<dyn Clock>,
    countries: rules::CountrySource,
    webhook: Option<webhook::Webhook>,
    state: Mutex<presence::State>,
    hub: hub::Hub,
    flush: GroupFlush,
    languages: Vec<String>,
    /// How old an identity signature may be (s).
    identity_max_age_s: u64,
    /// Files and the transcript-mail queue (lc-files).
    files: LiveChatFiles,
    mail: mail::Mail,
}

impl From<AccountsError> for LiveChatError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Store(e) => LiveChatError::Store(e),
            AccountsError::BadInput(m) => LiveChatError::BadInput(m),
            AccountsError::NotFound(m) => LiveChatError::NotFound(m),
            AccountsError::Forbidden(m) => LiveChatError::Forbidden(m),
            AccountsError::Conflict(m) => LiveChatError::Conflict(m),
            AccountsError::Internal(m) => LiveChatError::Internal(m),
        }
    }
}

impl LiveChat {
    /// Opens the live chat's tables and the accounts, and loads the open sessions.
    pub fn new(
        store: &Store,
        config: &LiveChatConfig,
        flush: GroupFlush,
        accounts: Accounts,
    ) -> Result<LiveChat, LiveChatError> {
        let repo = LiveChatStore::open(store)?;
        let geoip = match &config.geoip_db {
            Some(path) => Some(rules::GeoIp::open(path)?),
            None => None,
        };
        let webhook = match &config.webhook_url {
            Some(url) => Some(webhook::Webhook::new(url, config.webhook_secret.clone())?),
            None => None,
        };
        let languages = languages::enabled_list(config.languages.as_deref())?;
        let clock = config
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        let mail = mail::Mail::new(config.smtp.as_ref())
            .map_err(|e| LiveChatError::BadInput(e.to_string()))?;
        let files = LiveChatFiles::open(store)?;
        let mut state = presence::State::load(&repo)?;
        state.limits = limits::Limits::new(config.visitor_limits.unwrap_or_default());
        let chat = LiveChat {
            inner: Arc::new(Inner {
                repo,
                clock,
                countries: rules::CountrySource {
                    header: config.country_header.clone(),
                    geoip,
                },
                webhook,
                state: Mutex::new(state),
                hub: hub::Hub::new(accounts.revocations().clone()),
                accounts,
                flush,
                languages,
                identity_max_age_s: config
                    .identity_max_age_s
                    .unwrap_or(identity::DEFAULT_MAX_AGE_S),
                files,
                mail,
            }),
        };
        // Sessions nobody wrote in that timed out while the node was down go now.
        chat.expire_unwritten()?;
        // Visitors waiting in line when the node stopped keep their place.
        chat.rebuild_queue()?;
        Ok(chat)
    }

    /// Now, by the service's clock (ms).
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The configured country header, if any.
    pub fn country_header(&self) -> Option<&str> {
        self.inner.countries.header.as_deref()
    }

    /// The visitor's country: the configured header's value, else GeoIP of their address.
    pub fn country(
        &self,
        header_value: Option<&str>,
        ip: Option<std::net::IpAddr>,
    ) -> Option<String> {
        self.inner.countries.country(header_value, ip)
    }

    /// The live event hub.
    pub fn hub(&self) -> &hub::Hub {
        &self.inner.hub
    }

    /// The enabled language codes.
    pub fn enabled_languages(&self) -> &[String] {
        &self.inner.languages
    }

    /// The live chat's repository.
    pub(crate) fn repo(&self) -> &LiveChatStore {
        &self.inner.repo
    }

    /// The files' and mail queue's repository.
    pub(crate) fn files_repo(&self) -> &LiveChatFiles {
        &self.inner.files
    }

    /// The transcript mail's transport and limits.
    pub(crate) fn mail(&self) -> &mail::Mail {
        &self.inner.mail
    }

    /// The accounts (users, tokens) the live chat's operators are.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub(crate) fn state(&self) -> Result<MutexGuard<'_, presence::State>, LiveChatError> {
        self.inner
            .state
            .lock()
            .map_err(|_| LiveChatError::Internal("live chat state lock poisoned".into()))
    }

    /// Ends every live chat WebSocket (at node shutdown) and waits for them.
    pub async fn shutdown(&self) {
        self.inner.hub.close_all().await;
        // Presence survives the restart exactly (the node flushes the store next).
        if let Err(e) = self.save_all_presence() {
            tracing::warn!("saving operators' presence at shutdown: {e}");
        }
    }

    /// Makes writes durable before they are acknowledged: a grouped flush (the database's flush and an
    /// `fdatasync` of its log) shared with every writer waiting at the same time.
    pub(crate) async fn flush(&self) -> Result<(), LiveChatError> {
        Ok(self.inner.flush.wait().await?)
    }
}

/// A random index below `n` (0 when `n` is 0).
pub(crate) fn random_below(n: usize) -> usize {
    let mut buf = [0u8; 8];
    if n == 0 || getrandom::fill(&mut buf).is_err() {
        return 0;
    }
    (u64::from_le_bytes(buf) % n as u64) as usize
}

// Shared with accounts (their errors convert one to one into the live chat's).
pub(crate) use crate::accounts::{random_hex, text, token_hash};
