//! Retention and privacy: a periodic sweep deletes closed sessions older than the configured
//! retention (with their messages, rating and report facts), and the admin can export or
//! erase everything stored about one visitor (sessions, messages, ratings, the leads and
//! tickets made from those sessions or from their offline forms, and the returning-visitor
//! entry).

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::privacy_files::ExportedFile;
use crate::livechat::commands::{Kind, Record};
use crate::livechat::messages::Message;
use crate::livechat::ratings::Rating;
use crate::livechat::sessions::{Session, SessionView};
use crate::livechat::{LiveChat, LiveChatError, Who};

const DAY_MS: u64 = 86_400_000;

/// How often the retention sweep runs unless configured.
pub const DEFAULT_SWEEP_EVERY: Duration = Duration::from_secs(600);

pub use crate::model::livechat::ReturningEntry;

/// Everything stored about one visitor.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VisitorExport {
    /// The visitor's browser id.
    pub visitor_id: String,
    /// The returning-visitor entry (their previous operator), if any.
    pub returning: Option<ReturningEntry>,
    /// Their sessions.
    pub sessions: Vec<SessionView>,
    /// Every message of those sessions (private notices included).
    pub messages: Vec<Message>,
    /// Ratings of those sessions.
    pub ratings: Vec<Rating>,
    /// Leads made from those sessions or from the visitor's offline forms.
    pub leads: Vec<Record>,
    /// Tickets made from those sessions or from the visitor's offline forms.
    pub tickets: Vec<Record>,
    /// Files sent in those sessions, with their content in base64 within the export's
    /// budget (see [`super::privacy_files`]).
    #[serde(default)]
    pub files: Vec<ExportedFile>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Erased {
    /// Sessions.
    pub sessions: usize,
    /// Messages.
    pub messages: usize,
    /// Ratings.
    pub ratings: usize,
    /// Leads and tickets.
    pub records: usize,
    /// Whether a returning-visitor entry was removed.
    pub returning: bool,
    /// Files sent in those sessions (their content in pieces went with them).
    #[serde(default)]
    pub files: usize,
}

impl LiveChat {
    /// Deletes one stored session with its messages, rating and facts; counts what went.
    pub(crate) fn delete_session(
        &self,
        id: Uuid,
        erased: &mut Erased,
    ) -> Result<(), LiveChatError> {
        let repo = self.repo();
        erased.messages += repo.remove_messages(id)?;
        erased.ratings += usize::from(repo.remove_rating(id)?);
        erased.files += self.files_repo().remove_session(id)?;
        self.unindex_session(id)?;
        erased.sessions += usize::from(repo.remove_session(id)?);
        Ok(())
    }

    /// Deletes closed sessions that closed more than `days` days ago; answers how many.
    pub async fn sweep_retention(&self, days: u32) -> Result<usize, LiveChatError> {
        let cutoff = self.now_ms().saturating_sub(u64::from(days) * DAY_MS);
        let mut old = Vec::new();
        for s in self.repo().sessions() {
            let s: Session = s?;
            if s.closed_at_ms.is_some_and(|c| c < cutoff) {
                old.push(s.id);
            }
        }
        let mut erased = Erased::default();
        for id in &old {
            self.delete_session(*id, &mut erased)?;
        }
        if erased.sessions > 0 {
            self.flush().await?;
            tracing::info!(
                sessions = erased.sessions,
                days,
                "retention: deleted old closed sessions"
            );
        }
        Ok(erased.sessions)
    }

    /// The sessions of one visitor (by browser id), from the store and memory.
    fn visitor_sessions(&self, visitor_id: &str) -> Result<Vec<Session>, LiveChatError> {
        let mut out = Vec::new();
        for stored in self.repo().sessions() {
            let stored: Session = stored?;
            if stored.visitor_id.as_deref() == Some(visitor_id) {
                out.push(self.load_session(stored.id)?.unwrap_or(stored));
            }
        }
        Ok(out)
    }

    /// The leads or tickets about a visitor: those made from their sessions, and those that
    /// carry their visitor id (their offline forms; records stored before the id was kept
    /// have none and are found only through a session).
    fn records_of(
        &self,
        kind: Kind,
        sessions: &HashSet<Uuid>,
        visitor_id: &str,
    ) -> Result<Vec<Record>, LiveChatError> {
        let mut list = self.repo().records(kind)?;
        list.retain(|r| {
            sessions.contains(&r.session_id) || r.visitor_id.as_deref() == Some(visitor_id)
        });
        Ok(list)
    }

    /// Everything stored about a visitor (admin only), with up to `file_bytes` bytes of the
    /// content of their sessions' files.
    pub fn export_visitor(
        &self,
        who: Who,
        visitor_id: &str,
        file_bytes: u64,
    ) -> Result<VisitorExport, LiveChatError> {
        who.admin()?;
        let sessions = self.visitor_sessions(visitor_id)?;
        let ids: HashSet<Uuid> = sessions.iter().map(|s| s.id).collect();
        let mut messages = Vec::new();
        let mut ratings = Vec::new();
        for s in &sessions {
            messages.extend(self.messages_of(s.id)?);
            ratings.extend(self.repo().rating(s.id)?);
        }
        let returning = self.repo().returning(visitor_id)?;
        Ok(VisitorExport {
            visitor_id: visitor_id.to_string(),
            returning,
            sessions: sessions.iter().map(SessionView::from).collect(),
            messages,
            ratings,
            leads: self.records_of(Kind::Lead, &ids, visitor_id)?,
            tickets: self.records_of(Kind::Ticket, &ids, visitor_id)?,
            files: self.export_files(
                &sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
                file_bytes,
            )?,
        })
    }

    /// Erases everything stored about a visitor (admin only); open sessions are closed first.
    pub async fn erase_visitor(&self, who: Who, visitor_id: &str) -> Result<Erased, LiveChatError> {
        who.admin()?;
        let sessions = self.visitor_sessions(visitor_id)?;
        for s in sessions.iter().filter(|s| s.closed_at_ms.is_none()) {
            self.close_session(Who::Admin, s.id).await?;
        }
        let ids: HashSet<Uuid> = sessions.iter().map(|s| s.id).collect();
        let mut erased = Erased::default();
        for kind in [Kind::Lead, Kind::Ticket] {
            for r in self.records_of(kind, &ids, visitor_id)? {
                self.repo().remove_record(kind, r.number)?;
                erased.records += 1;
            }
        }
        for id in &ids {
            self.delete_session(*id, &mut erased)?;
        }
        erased.returning = self.repo().remove_returning(visitor_id)?;
        self.flush().await?;
        // The erased sessions' visitor tokens are gone: their open sockets close.
        self.hub().tokens_revoked();
        Ok(erased)
    }

    /// Runs the retention sweep every `every` until `stop` turns true.
    pub fn spawn_retention(
        &self,
        days: u32,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let chat = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Err(e) = chat.sweep_retention(days).await {
                            tracing::warn!(error = %e, "retention sweep failed");
                        }
                    }
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            return;
                        }
                    }
                }
            }
        })
    }
}
