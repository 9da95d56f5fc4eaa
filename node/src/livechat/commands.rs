//! Operator commands, typed as messages and answered to the operator alone: `/help`,
//! `/history`, `/lead [title]`, `/ticket [title]`, `/search_tickets <words|#number>`,
//! `/leave`. Leads and tickets carry the transcript, are kept in the live chat's tables (`store::livechat`)
//! (listable through the API) and are POSTed to the configured webhook, if any. Operators
//! list and search only the records of the channels they operate; the admin sees all.

use serde_json::json;
use uuid::Uuid;

use super::messages::Message;
use super::sessions::Session;
use super::{LiveChat, LiveChatError, Who};

const HELP: &str = "Commands available in this conversation:\n\
/help — show this list\n\
/history — the visitor's last 15 pages of the last day\n\
/lead [title] — create a lead with this conversation\n\
/ticket [title] — create a ticket with this conversation\n\
/search_tickets <words|#number> — find tickets\n\
/leave — leave this conversation (it closes when the last operator leaves)";

pub use crate::model::livechat::{Kind, Record};

/// What a new record carries besides the session's transcript.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordDraft {
    pub(crate) title: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) created_by: Option<Uuid>,
    pub(crate) created_by_bot: Option<Uuid>,
}

impl Kind {
    /// "lead" or "ticket".
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Ticket => "ticket",
        }
    }
}

fn transcript_text(messages: &[Message]) -> String {
    messages
        .iter()
        .filter(|m| m.only_for.is_none())
        .map(|m| format!("[{}] {}", m.author_name, m.text))
        .collect::<Vec<_>>()
        .join("\n")
}

impl LiveChat {
    /// The leads or tickets the caller may read, by number: the admin all of them, an
    /// operator those of the channels they operate now.
    pub fn records(&self, who: Who, kind: Kind) -> Result<Vec<Record>, LiveChatError> {
        who.staff()?;
        let mut list: Vec<Record> = self.repo().records(kind)?;
        if let Some(op) = who.operator() {
            let mine = self.operated_channels(op)?;
            list.retain(|r| mine.contains(&r.channel_id));
        }
        Ok(list)
    }

    /// The channels `op` is an operator of now.
    pub(crate) fn operated_channels(&self, op: Uuid) -> Result<Vec<Uuid>, LiveChatError> {
        let channels = self.repo().channels()?;
        Ok(channels
            .into_iter()
            .filter(|c| c.operators.contains(&op))
            .map(|c| c.id)
            .collect())
    }

    /// Runs an operator's command and answers them alone.
    pub(crate) async fn run_command(
        &self,
        session: &Session,
        op: Uuid,
        line: &str,
    ) -> Result<Message, LiveChatError> {
        let (name, args) = match line.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (line, ""),
        };
        let reply = match name {
            "/help" => HELP.to_string(),
            "/history" => {
                let pages = super::page_history::recent_pages(session, self.now_ms());
                if pages.is_empty() {
                    "No history found".to_string()
                } else {
                    let lines: Vec<String> = pages
                        .iter()
                        .rev()
                        .enumerate()
                        .map(|(i, p)| format!("{}. {p}", i + 1))
                        .collect();
                    format!(
                        "Recent pages of the visitor (newest first):\n{}",
                        lines.join("\n")
                    )
                }
            }
            "/lead" | "/ticket" => {
                let kind = if name == "/lead" {
                    Kind::Lead
                } else {
                    Kind::Ticket
                };
                let r = self.create_record(session, op, kind, args).await?;
                format!("Created a new {} #{}: {}", kind.name(), r.number, r.title)
            }
            "/search_tickets" => self.search_tickets(Who::Operator(op), args)?,
            "/leave" => {
                let reply = self.append(
                    session.id,
                    "system",
                    None,
                    "System".into(),
                    "You left the conversation.".into(),
                    Some(op),
                )?;
                self.operator_leaves(session.id, op).await?;
                return Ok(reply);
            }
            other => format!("Unknown command {other}. Type /help to see the available commands."),
        };
        self.append(session.id, "system", None, "System".into(), reply, Some(op))
    }

    async fn create_record(
        &self,
        session: &Session,
        op: Uuid,
        kind: Kind,
        title: &str,
    ) -> Result<Record, LiveChatError> {
        let title = if title.is_empty() {
            self.transcript(Who::Admin, session.id)?
                .iter()
                .find(|m| m.author == "visitor")
                .map(|m| m.text.chars().take(100).collect::<String>())
                .unwrap_or_else(|| {
                    format!(
                        "Visitor's New {}",
                        if kind == Kind::Lead { "Lead" } else { "Ticket" }
                    )
                })
        } else {
            title.chars().take(200).collect()
        };
        self.store_record(
            session,
            kind,
            RecordDraft {
                title,
                created_by: Some(op),
                ..RecordDraft::default()
            },
        )
        .await
    }

    /// Stores a lead or ticket with the session's transcript, makes it durable, and POSTs it
    /// to the webhook if one is configured.
    pub(crate) async fn store_record(
        &self,
        session: &Session,
        kind: Kind,
        draft: RecordDraft,
    ) -> Result<Record, LiveChatError> {
        let messages = self.transcript(Who::Admin, session.id)?;
        let record = Record {
            number: self.repo().next_record_number(kind)?,
            kind: kind.name().into(),
            title: draft.title,
            session_id: session.id,
            channel_id: session.channel_id,
            transcript: transcript_text(&messages),
            email: draft.email,
            phone: draft.phone,
            created_by: draft.created_by,
            created_by_bot: draft.created_by_bot,
            created_at_ms: self.now_ms(),
            visitor_id: session.visitor_id.clone(),
        };
        self.keep_record(kind, record).await
    }

    /// Stores a numbered record, makes it durable, and POSTs it to the webhook if one is
    /// configured.
    pub(crate) async fn keep_record(
        &self,
        kind: Kind,
        record: Record,
    ) -> Result<Record, LiveChatError> {
        self.repo().put_record(kind, &record)?;
        self.flush().await?;
        if let Some(webhook) = &self.inner.webhook {
            webhook.post(&json!({"kind": kind.name(), "record": record}));
        }
        Ok(record)
    }

    fn search_tickets(&self, who: Who, query: &str) -> Result<String, LiveChatError> {
        if query.is_empty() {
            return Ok("Usage: /search_tickets <words|#number>".into());
        }
        let tickets = self.records(who, Kind::Ticket)?;
        let found: Vec<&Record> = match query.strip_prefix('#').map(str::parse::<u64>) {
            Some(Ok(n)) => tickets.iter().filter(|t| t.number == n).collect(),
            _ => {
                let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
                tickets
                    .iter()
                    .filter(|t| {
                        let hay = format!("{} {}", t.title, t.transcript).to_lowercase();
                        words.iter().all(|w| hay.contains(w.as_str()))
                    })
                    .collect()
            }
        };
        if found.is_empty() {
            return Ok(format!("No tickets found for \"{query}\"."));
        }
        let lines: Vec<String> = found
            .iter()
            .map(|t| format!("#{} {}", t.number, t.title))
            .collect();
        Ok(format!("Tickets found:\n{}", lines.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transcript_leaves_out_operator_only_notices() {
        let m = |author: &str, text: &str, only: Option<Uuid>| Message {
            id: Uuid::now_v7(),
            session_id: Uuid::nil(),
            seq: 0,
            author: "x".into(),
            author_id: None,
            author_name: author.into(),
            text: text.into(),
            at_ms: 0,
            only_for: only,
            answers: Vec::new(),
            file: None,
        };
        let text = transcript_text(&[
            m("Visitor", "Hi", None),
            m("System", "secret", Some(Uuid::from_u128(1))),
            m("Ann", "Hello", None),
        ]);
        assert_eq!(text, "[Visitor] Hi\n[Ann] Hello");
    }

    #[test]
    fn help_lists_every_command() {
        for c in [
            "/help",
            "/history",
            "/lead",
            "/ticket",
            "/search_tickets",
            "/leave",
        ] {
            assert!(HELP.contains(c), "{c}");
        }
    }
}
