//! The transcript by email: at the end of a chat the visitor asks for the conversation (to the
//! email the chatbot collected, or one they type), and the node sends it as plain text through
//! the configured SMTP server (`lettre`, tokio, rustls).
//!
//! A request is written to a queue in sled (`lc_mail_queue`, see `store/livechat/files.rs`)
//! and flushed before it is acknowledged; a worker ([`LiveChat::spawn_mail_worker`]) sends
//! what is due, and a failed try waits by [`Backoff`] (1 s doubling to `retry_max`, ten
//! minutes by default) before the next. The queue survives restarts: a node that starts with
//! queued mail sends it when the server answers. A permanent refusal (5xx) or
//! [`MAX_ATTEMPTS`] failures drop the job with a warning in the log.
//!
//! The body is plain text (`Content-Type: text/plain; charset=utf-8`): nothing a visitor or
//! operator wrote can become HTML in the reader's mail program. Each session may ask
//! [`MAX_PER_SESSION`] times, [`MIN_INTERVAL_MS`] apart (429 otherwise). Without SMTP
//! settings the request is refused (`smtp_not_configured`) and the widget does not offer it
//! (`GET /api/v1/livechat/{channel}/features`). The queued mail of a session goes with it
//! (retention, erasure).
//!
//! Used by `api::livechat_files` and the node's start-up (the worker).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{LiveChat, LiveChatError, Who};
use crate::backoff::Backoff;
use crate::model::livechat_files::MailJob;

/// Transcript emails one session may ask for.
pub const MAX_PER_SESSION: u32 = 3;
/// The least time between two asks of one session (one minute).
pub const MIN_INTERVAL_MS: u64 = 60_000;
/// Failed tries after which a queued email is dropped.
pub const MAX_ATTEMPTS: u32 = 200;
/// The longest wait between tries unless configured.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(600);

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain, then upgraded with STARTTLS (required): port 587.
    #[default]
    Starttls,
    /// TLS from the first byte: port 465.
    Tls,
}

impl SmtpTls {
    /// The usual port of this mode.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(SmtpTls::None),
            "starttls" => Ok(SmtpTls::Starttls),
            "tls" => Ok(SmtpTls::Tls),
            other => Err(format!("{other:?} is none, starttls or tls")),
        }
    }
}

/// The SMTP password: zeroized on drop, redacted in `Debug`.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        SmtpPassword(p.into())
    }
}

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpPassword(<redacted>)")
    }
}

/// Where transcripts are sent from.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The server's host name (checked against its certificate with TLS).
    pub host: String,
    /// Its port (by default the TLS mode's usual one).
    pub port: Option<u16>,
    /// none, starttls or tls.
    pub tls: SmtpTls,
    /// The login, if the server wants one.
    pub user: Option<String>,
    /// The password.
    pub password: Option<SmtpPassword>,
    /// The sender, e.g. `Shop <chat@shop.example>`.
    pub from: String,
    /// The longest wait between two tries of a queued email.
    pub retry_max: Option<Duration>,
}

/// Transcript email failures.
#[derive(Debug, Error)]
pub enum MailError {
    /// No SMTP server is configured (503).
    #[error("this node does not send email: no SMTP server is configured")]
    NotConfigured,
    /// The settings are unusable.
    #[error("SMTP settings: {0}")]
    Settings(String),
    /// A live chat error (access, input, rate limit, storage).
    #[error(transparent)]
    LiveChat(#[from] LiveChatError),
}

impl From<crate::store::StoreError> for MailError {
    fn from(e: crate::store::StoreError) -> Self {
        MailError::LiveChat(e.into())
    }
}

/// Body of `POST /api/v1/livechat/sessions/{id}/transcript_email`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TranscriptEmailInput {
    /// Where to send it; default: the email the chatbot collected in this session.
    #[serde(default)]
    pub email: Option<String>,
}

/// The answer: the email is queued.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TranscriptEmailQueued {
    /// The queued job.
    pub id: Uuid,
    /// The recipient.
    pub to: String,
}

/// The mail side of the live chat: the transport (when configured), the asks per session,
/// and the worker's wake-up.
pub(crate) struct Mail {
    transport: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    asked: Mutex<HashMap<Uuid, (u32, u64)>>,
    wake: Notify,
    backoff: Backoff,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("configured", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}

impl Mail {
    /// The mail side for `config` (none: not configured).
    pub(crate) fn new(config: Option<&SmtpConfig>) -> Result<Self, MailError> {
        let retry_max = config
            .and_then(|c| c.retry_max)
            .unwrap_or(DEFAULT_RETRY_MAX);
        let transport = match config {
            None => None,
            Some(c) => Some(transport(c)?),
        };
        Ok(Mail {
            transport,
            asked: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            backoff: Backoff::new(
                Duration::from_secs(1),
                retry_max.max(Duration::from_secs(1)),
            ),
        })
    }

    /// Whether an SMTP server is configured.
    pub(crate) fn configured(&self) -> bool {
        self.transport.is_some()
    }
}

/// The SMTP transport and sender for `c`.
fn transport(c: &SmtpConfig) -> Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), MailError> {
    let bad = |e: &dyn std::fmt::Display| MailError::Settings(e.to_string());
    if c.host.trim().is_empty() {
        return Err(MailError::Settings("the SMTP host is empty".into()));
    }
    let from: Mailbox = c
        .from
        .parse()
        .map_err(|e| MailError::Settings(format!("the from address {:?}: {e}", c.from)))?;
    let mut builder = match c.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host).map_err(|e| bad(&e))?
        }
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host).map_err(|e| bad(&e))?
        }
    }
    .port(c.port.unwrap_or(c.tls.default_port()))
    .timeout(Some(Duration::from_secs(20)));
    match (&c.user, &c.password) {
        (Some(user), Some(password)) => {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
        }
        (None, None) => {}
        _ => {
            return Err(MailError::Settings(
                "the SMTP user and password go together".into(),
            ));
        }
    }
    Ok((builder.build(), from))
}

/// Wall-clock milliseconds (the queue's retries follow real time, not the chat's clock).
fn wall_ms() -> u64 {
    crate::model::now_ms()
}

/// A date and time (UTC) for the transcript.
fn when(ms: u64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&format).unwrap_or_default()
}

/// Text without control characters but newlines and tabs.
fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

impl LiveChat {
    /// Whether transcripts can be emailed (an SMTP server is configured).
    pub fn transcript_email_available(&self) -> bool {
        self.mail().configured()
    }

    /// The visitor asks for the transcript by email: checked, rate-limited, queued durably and
    /// handed to the worker.
    pub async fn request_transcript_email(
        &self,
        who: Who,
        session_id: Uuid,
        input: TranscriptEmailInput,
    ) -> Result<TranscriptEmailQueued, MailError> {
        let session = self.session_for(who, session_id)?;
        if who != Who::Visitor(session_id) {
            return Err(LiveChatError::Forbidden(
                "only the session's visitor asks for its transcript by email".into(),
            )
            .into());
        }
        if !self.mail().configured() {
            return Err(MailError::NotConfigured);
        }
        let to = match input.email.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => e.to_string(),
            _ => session
                .bot
                .as_ref()
                .and_then(|b| b.email.clone())
                .ok_or_else(|| {
                    LiveChatError::BadInput(
                        "give an email address (the chatbot collected none)".into(),
                    )
                })?,
        };
        if !super::chatbot::engine::valid_email(&to) || to.parse::<Mailbox>().is_err() {
            return Err(LiveChatError::BadInput(format!("{to:?} is not an email address")).into());
        }
        let now = wall_ms();
        {
            let mut asked = self
                .mail()
                .asked
                .lock()
                .map_err(|_| LiveChatError::Internal("mail lock poisoned".into()))?;
            let entry = asked.entry(session_id).or_insert((0, 0));
            if entry.0 >= MAX_PER_SESSION {
                return Err(LiveChatError::RateLimited {
                    message: format!(
                        "a conversation's transcript is emailed at most {MAX_PER_SESSION} times"
                    ),
                    retry_after_s: 3600,
                }
                .into());
            }
            let since = now.saturating_sub(entry.1);
            if entry.0 > 0 && since < MIN_INTERVAL_MS {
                return Err(LiveChatError::RateLimited {
                    message: "the transcript was just sent; try again in a minute".into(),
                    retry_after_s: (MIN_INTERVAL_MS - since).div_ceil(1000),
                }
                .into());
            }
            *entry = (entry.0 + 1, now);
        }
        let channel = self.channel(session.channel_id)?;
        let name = plain(&channel.name).replace(['\n', '\t'], " ");
        let mut body = format!(
            "Your conversation with {name}, started {}.\n\n",
            when(session.created_at_ms)
        );
        for m in self.transcript(who, session_id)? {
            let author = if m.author == "visitor" {
                "You".to_string()
            } else {
                plain(&m.author_name)
            };
            let text = match &m.file {
                Some(f) => format!("[file: {} ({} bytes)]", plain(&f.name), f.size),
                None => plain(&m.text),
            };
            body.push_str(&format!("[{}] {author}: {text}\n", when(m.at_ms)));
        }
        body.push_str("\n-- \nSent at your request from the chat on our website.\n");
        let job = MailJob {
            id: Uuid::now_v7(),
            session_id,
            to: to.clone(),
            subject: format!("Your conversation with {name}"),
            body,
            attempts: 0,
            next_at_ms: now,
            created_at_ms: now,
            last_error: None,
        };
        self.files_repo().put_mail(&job)?;
        self.flush().await?;
        self.mail().wake.notify_one();
        Ok(TranscriptEmailQueued { id: job.id, to })
    }

    /// The queued transcript emails (admin only).
    pub fn mail_queue(&self, who: Who) -> Result<Vec<MailJob>, LiveChatError> {
        who.admin()?;
        Ok(self.files_repo().mail_jobs()?)
    }

    /// Tries every due email once; answers how many were sent.
    pub async fn send_due_mail(&self) -> Result<usize, LiveChatError> {
        let Some((transport, from)) = &self.mail().transport else {
            return Ok(0);
        };
        let mut sent = 0;
        for mut job in self.files_repo().mail_jobs()? {
            if job.next_at_ms > wall_ms() {
                continue;
            }
            let message = lettre::Message::builder()
                .from(from.clone())
                .to(match job.to.parse::<Mailbox>() {
                    Ok(m) => m,
                    Err(_) => {
                        self.files_repo().remove_mail(job.id)?;
                        continue;
                    }
                })
                .subject(job.subject.clone())
                .header(ContentType::TEXT_PLAIN)
                .body(job.body.clone());
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "dropping a transcript email that cannot be built");
                    self.files_repo().remove_mail(job.id)?;
                    continue;
                }
            };
            match transport.send(message).await {
                Ok(_) => {
                    self.files_repo().remove_mail(job.id)?;
                    sent += 1;
                }
                Err(e) if e.is_permanent() || job.attempts + 1 >= MAX_ATTEMPTS => {
                    tracing::warn!(job = %job.id, error = %e, attempts = job.attempts + 1, "dropping a transcript email the SMTP server refused");
                    self.files_repo().remove_mail(job.id)?;
                }
                Err(e) => {
                    job.attempts += 1;
                    job.last_error = Some(e.to_string());
                    let wait = self.mail().backoff.delay(job.attempts - 1);
                    job.next_at_ms =
                        wall_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    tracing::info!(job = %job.id, error = %e, attempts = job.attempts, "transcript email not sent; will retry");
                    self.files_repo().put_mail(&job)?;
                }
            }
            self.flush().await?;
        }
        Ok(sent)
    }

    /// Sends queued transcript emails as they fall due until `stop` turns true (only when
    /// an SMTP server is configured).
    pub fn spawn_mail_worker(&self, mut stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        if !self.mail().configured() {
            return None;
        }
        let chat = self.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = chat.send_due_mail().await {
                    tracing::warn!(error = %e, "the transcript mail queue failed");
                }
                let next = chat
                    .files_repo()
                    .mail_jobs()
                    .ok()
                    .and_then(|jobs| jobs.iter().map(|j| j.next_at_ms).min());
                let wait = next.map_or(Duration::from_secs(60), |at| {
                    Duration::from_millis(at.saturating_sub(wall_ms()).clamp(50, 60_000))
                });
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = chat.mail().wake.notified() => {}
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            return;
                        }
                    }
                }
            }
        }))
    }
}
