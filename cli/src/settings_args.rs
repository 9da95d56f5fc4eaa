//! Setting groups shared by `ochat run` and `ochat directory run` ([`ConfigFileArg`],
//! [`HttpArgs`]) and the live chat settings of `ochat run` ([`LiveChatArgs`]).
//!
//! Every setting here is a flag, an environment variable `OCHAT_<KEY>` and a key of the TOML
//! file; [`crate::settings`] merges the three. Each value is checked by its parser here, so a
//! bad value is refused the same way whichever of the three it came from.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ochat_node::client_addr::TrustedProxy;
use ochat_node::http_server::HttpConfig;
use ochat_node::livechat::limits::VisitorLimits;
use ochat_node::livechat::webhook::WebhookSecret;
use ochat_node::livechat::{LiveChatConfig, LiveChatError};

use crate::args::BadFlagValue;

/// `--config FILE`: where the settings file is.
#[derive(Debug, Clone, Args)]
pub struct ConfigFileArg {
    /// A TOML settings file; keys are the flags' names with `_` for `-` (see `ochat config
    /// show`). Default: `ochat.toml` in the data folder, when it exists. Flags and
    /// environment variables win over the file.
    #[arg(long, env = "OCHAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The HTTP server's settings (the node's API, or the directory).
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// A reverse proxy in front whose X-Forwarded-For names the client: an address or CIDR
    /// block (repeatable, or comma-separated in the variable). Default: none, the TCP peer is
    /// the client and forwarding headers from it are dropped.
    #[arg(
        long = "trusted-proxy",
        value_name = "IP|CIDR",
        env = "OCHAT_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_HTTP_HEADER_TIMEOUT", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_header_timeout: u64,
    /// Longest silence in seconds while a request body is sent.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_HTTP_BODY_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_body_timeout: u64,
    /// HTTP connections open at once (lowered to fit the open-file limit, minus 512).
    #[arg(long, env = "OCHAT_HTTP_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub http_max_connections: u64,
    /// HTTP connections one client address (IPv6: its /64) may hold open; trusted proxies are
    /// exempt.
    #[arg(long, env = "OCHAT_HTTP_MAX_CONNECTIONS_PER_IP", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub http_max_connections_per_ip: u64,
    /// MiB kept free on the data folder's disk: below it the server refuses writes (HTTP 507
    /// with the reason; peers are told to try later) and takes them again by itself when
    /// space comes back. 0 turns the check off.
    #[arg(long, value_name = "MIB", env = "OCHAT_MIN_FREE_SPACE", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=1_048_576))]
    pub min_free_space: u64,
}

impl HttpArgs {
    /// Writes these settings into a server configuration.
    pub fn apply(&self, http: &mut HttpConfig) {
        http.trusted_proxies = self.trusted_proxies.iter().copied().collect();
        http.header_read_timeout = Duration::from_secs(self.http_header_timeout);
        http.body_read_timeout = Duration::from_secs(self.http_body_timeout);
        http.max_connections = usize::try_from(self.http_max_connections).unwrap_or(usize::MAX);
        http.max_connections_per_ip =
            usize::try_from(self.http_max_connections_per_ip).unwrap_or(usize::MAX);
        http.min_free_space = self.min_free_space << 20;
    }
}

/// The live chat's settings.
#[derive(Debug, Clone, Args)]
pub struct LiveChatArgs {
    /// A request header in which the reverse proxy tells the visitor's ISO country code (e.g.
    /// CF-IPCountry). Only a trusted proxy's value counts; it wins over GeoIP.
    #[arg(long, value_name = "HEADER", env = "OCHAT_COUNTRY_HEADER", value_parser = parse_header)]
    pub country_header: Option<String>,
    /// A MaxMind-format (mmdb) country database; visitors' countries for channel rules and
    /// routing come from it when no country header says otherwise.
    #[arg(long, value_name = "FILE", env = "OCHAT_GEOIP_DB", value_parser = parse_geoip)]
    pub geoip_db: Option<PathBuf>,
    /// Where leads and tickets are POSTed as JSON ({"kind", "record"}), http or https.
    #[arg(long, value_name = "URL", env = "OCHAT_WEBHOOK_URL", value_parser = parse_webhook_url)]
    pub webhook_url: Option<String>,
    /// Signs each webhook body with HMAC-SHA256 under this secret, in the header
    /// `X-Ochat-Signature: sha256=<hex>`. Prefer the variable or the file to the flag
    /// (other local users can read a process's flags).
    #[arg(long, value_name = "SECRET", env = "OCHAT_WEBHOOK_SECRET",
          hide_env_values = true, value_parser = parse_secret)]
    pub webhook_secret: Option<String>,
    /// Delete closed live chat sessions (messages, ratings) this many days after they closed.
    /// Default: keep them.
    #[arg(long, value_name = "DAYS", env = "OCHAT_RETENTION_DAYS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,
    /// Operator login tokens unused for this many days expire (the admin token never does).
    #[arg(long, value_name = "DAYS", env = "OCHAT_TOKEN_IDLE_DAYS", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub token_idle_days: u32,
    /// New live chat sessions one client address may start at once (then one more every
    /// --livechat-session-refill-seconds). Raise it when many visitors share one address.
    #[arg(long, env = "OCHAT_LIVECHAT_SESSIONS_PER_ADDRESS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub livechat_sessions_per_address: u32,
    /// Seconds after which an address may start one more session.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_LIVECHAT_SESSION_REFILL_SECONDS",
          default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub livechat_session_refill_seconds: u64,
    /// New sessions one visitor id (one browser) may start at once.
    #[arg(long, env = "OCHAT_LIVECHAT_SESSIONS_PER_VISITOR", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub livechat_sessions_per_visitor: u32,
    /// Seconds after which a visitor id may start one more session.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_LIVECHAT_VISITOR_REFILL_SECONDS",
          default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub livechat_visitor_refill_seconds: u64,
    /// Leads and tickets a chatbot may create for one client address at once.
    #[arg(long, env = "OCHAT_LIVECHAT_BOT_RECORDS_PER_ADDRESS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub livechat_bot_records_per_address: u32,
    /// Seconds after which an address may have one more chatbot lead or ticket.
    #[arg(long, value_name = "SECONDS", env = "OCHAT_LIVECHAT_RECORD_REFILL_SECONDS",
          default_value_t = 360, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub livechat_record_refill_seconds: u64,
    /// The languages enabled for live chat operators, as ISO 639-1 codes (repeatable, or
    /// comma-separated); default: 30 common languages (`GET /api/v1/livechat/languages`).
    #[arg(
        long,
        value_name = "CODE",
        env = "OCHAT_LIVECHAT_LANGUAGES",
        value_delimiter = ','
    )]
    pub livechat_languages: Vec<String>,
    /// How old a website's signature of a visitor's identity may be, in seconds; older ones
    /// are kept as unverified claims (see `ochat livechat identity-secret`).
    #[arg(long, value_name = "SECONDS", env = "OCHAT_LIVECHAT_IDENTITY_MAX_AGE",
          default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub livechat_identity_max_age: u64,
}

impl LiveChatArgs {
    /// Writes these settings into the live chat's configuration.
    pub fn apply(&self, livechat: &mut LiveChatConfig) -> anyhow::Result<()> {
        livechat.country_header = self.country_header.clone();
        livechat.geoip_db = self.geoip_db.clone();
        livechat.webhook_url = self.webhook_url.clone();
        livechat.webhook_secret = match &self.webhook_secret {
            Some(s) => Some(WebhookSecret::new(s)?),
            None => None,
        };
        livechat.retention_days = self.retention_days;
        livechat.token_idle_days = Some(self.token_idle_days);
        livechat.visitor_limits = Some(VisitorLimits {
            sessions_per_address: self.livechat_sessions_per_address,
            session_refill_ms: self.livechat_session_refill_seconds * 1000,
            sessions_per_visitor: self.livechat_sessions_per_visitor,
            visitor_refill_ms: self.livechat_visitor_refill_seconds * 1000,
            bot_records_per_address: self.livechat_bot_records_per_address,
            record_refill_ms: self.livechat_record_refill_seconds * 1000,
        });
        livechat.languages =
            (!self.livechat_languages.is_empty()).then(|| self.livechat_languages.clone());
        livechat.identity_max_age_s = Some(self.livechat_identity_max_age);
        Ok(())
    }
}

fn parse_header(s: &str) -> Result<String, BadFlagValue> {
    reqwest::header::HeaderName::from_bytes(s.trim().as_bytes())
        .map(|h| h.as_str().to_string())
        .map_err(|_| BadFlagValue::HeaderName(s.to_string()))
}

fn parse_geoip(s: &str) -> Result<PathBuf, LiveChatError> {
    let path = PathBuf::from(s);
    ochat_node::livechat::rules::GeoIp::open(&path)?;
    Ok(path)
}

fn parse_webhook_url(s: &str) -> Result<String, LiveChatError> {
    ochat_node::livechat::webhook::parse_url(s).map(|_| s.to_string())
}

fn parse_secret(s: &str) -> Result<String, BadFlagValue> {
    if s.len() < 16 {
        return Err(BadFlagValue::ShortSecret);
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_node_defaults() {
        let http = HttpConfig::default();
        let limits = VisitorLimits::default();
        assert_eq!(http.header_read_timeout.as_secs(), 15);
        assert_eq!(http.body_read_timeout.as_secs(), 30);
        assert_eq!(http.max_connections, 4096);
        assert_eq!(http.max_connections_per_ip, 256);
        assert_eq!(limits.sessions_per_address, 60);
        assert_eq!(limits.session_refill_ms, 10_000);
        assert_eq!(limits.sessions_per_visitor, 10);
        assert_eq!(limits.visitor_refill_ms, 60_000);
        assert_eq!(limits.bot_records_per_address, 10);
        assert_eq!(limits.record_refill_ms, 360_000);
    }
}
