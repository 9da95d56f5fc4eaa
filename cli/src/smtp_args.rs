//! The SMTP settings of `ochat run` ([`SmtpArgs`]): where the live chat sends transcripts by
//! email. Each is a flag, an `OCHAT_SMTP_*` variable and a key of `ochat.toml` like every
//! setting ([`crate::settings`]); without `--smtp-host` the node sends no email and the widget
//! does not offer the transcript. The password is never printed by `ochat config show`.

use std::time::Duration;

use clap::Args;
use ochat_node::livechat::mail::{SmtpConfig, SmtpPassword, SmtpTls};

/// The SMTP server for transcript emails.
#[derive(Debug, Clone, Args)]
pub struct SmtpArgs {
    /// The SMTP server transcripts are emailed through (host name; with TLS it must match the
    /// server's certificate). Unset: the node sends no email.
    #[arg(long, value_name = "HOST", env = "OCHAT_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Its port. Default: 587 for starttls, 465 for tls, 25 for none.
    #[arg(long, value_name = "PORT", env = "OCHAT_SMTP_PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub smtp_port: Option<u16>,
    /// How the connection is secured: starttls (required upgrade, the default), tls (TLS from
    /// the first byte) or none (plain text: only for a relay on the same host or network).
    #[arg(long, value_name = "MODE", env = "OCHAT_SMTP_TLS", default_value = "starttls",
          value_parser = parse_tls)]
    pub smtp_tls: String,
    /// The login on the SMTP server, if it wants one (with --smtp-password).
    #[arg(long, value_name = "USER", env = "OCHAT_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// The password for --smtp-user. Prefer the variable or the file to the flag (other local
    /// users can read a process's flags).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "OCHAT_SMTP_PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
    /// The sender of transcript emails, e.g. "Shop <chat@shop.example>" (required with
    /// --smtp-host).
    #[arg(long, value_name = "ADDRESS", env = "OCHAT_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The longest wait, in seconds, between two tries of a queued email (the wait starts at
    /// one second and doubles).
    #[arg(long, value_name = "SECONDS", env = "OCHAT_SMTP_RETRY_MAX", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub smtp_retry_max: u64,
}

fn parse_tls(s: &str) -> Result<String, String> {
    s.parse::<SmtpTls>().map(|_| s.trim().to_ascii_lowercase())
}

impl SmtpArgs {
    /// The SMTP configuration, if a host is set.
    ///
    /// # Errors
    ///
    /// A host without a sender, or a user without a password (or the reverse).
    pub fn config(&self) -> anyhow::Result<Option<SmtpConfig>> {
        let Some(host) = &self.smtp_host else {
            if self.smtp_from.is_some() || self.smtp_user.is_some() {
                anyhow::bail!("smtp_from or smtp_user is set but smtp_host is not");
            }
            return Ok(None);
        };
        let Some(from) = &self.smtp_from else {
            anyhow::bail!("smtp_host is set but smtp_from (the sender's address) is not");
        };
        if self.smtp_user.is_some() != self.smtp_password.is_some() {
            anyhow::bail!("smtp_user and smtp_password go together");
        }
        let tls = self
            .smtp_tls
            .parse::<SmtpTls>()
            .map_err(|e| anyhow::anyhow!("smtp_tls: {e}"))?;
        Ok(Some(SmtpConfig {
            host: host.clone(),
            port: self.smtp_port,
            tls,
            user: self.smtp_user.clone(),
            password: self.smtp_password.as_deref().map(SmtpPassword::new),
            from: from.clone(),
            retry_max: Some(Duration::from_secs(self.smtp_retry_max)),
        }))
    }
}
