//! Canned responses: a shortcut and its substitution, owned by a user and shared with groups.
//! In an operator's message `:shortcut` or `::shortcut` expands; `::` lists every response
//! the operator may use, `::pre` (or `:pre`) those whose shortcut starts with `pre`.
//! A second response with the same shortcut for the same audience is refused. An operator
//! shares only with groups they are a member of (the admin with any).

use serde::Deserialize;
use uuid::Uuid;

use super::{LiveChat, LiveChatError, Who, text};

pub use crate::model::livechat::Canned;

/// Body to create a canned response.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CannedInput {
    /// Shortcut.
    pub shortcut: String,
    /// Substitution.
    pub substitution: String,
    /// Groups to share with.
    #[serde(default)]
    pub groups: Vec<Uuid>,
}

fn valid_shortcut(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Who a response is for: its owner alone, or its set of groups.
fn audience(c: &Canned) -> (Option<Uuid>, Vec<Uuid>) {
    let mut groups = c.groups.clone();
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        (c.owner, groups)
    } else {
        (None, groups)
    }
}

impl LiveChat {
    /// Creates a canned response owned by the caller.
    pub async fn create_canned(
        &self,
        who: Who,
        input: CannedInput,
    ) -> Result<Canned, LiveChatError> {
        who.staff()?;
        let shortcut = input.shortcut.trim().trim_start_matches(':').to_string();
        if !valid_shortcut(&shortcut) {
            return Err(LiveChatError::BadInput(
                "a shortcut has 1 to 100 letters, digits, `_` or `-`".into(),
            ));
        }
        for g in &input.groups {
            let group = self.group(*g)?;
            // An operator shares only with groups they belong to; the admin with any group.
            if let Some(op) = who.operator()
                && !group.members.contains(&op)
            {
                return Err(LiveChatError::Forbidden(format!(
                    "you are not a member of the group {:?}: only its members (or the admin) share canned responses with it",
                    group.name
                )));
            }
        }
        let canned = Canned {
            id: Uuid::now_v7(),
            shortcut,
            substitution: text("substitution", &input.substitution, 10_000)?,
            owner: who.operator(),
            groups: input.groups,
        };
        let existing: Vec<Canned> = self.repo().canned_all()?;
        if existing
            .iter()
            .any(|c| c.shortcut == canned.shortcut && audience(c) == audience(&canned))
        {
            return Err(LiveChatError::Conflict(format!(
                "the shortcut {:?} already exists for this audience",
                canned.shortcut
            )));
        }
        self.repo().put_canned(&canned)?;
        self.flush().await?;
        Ok(canned)
    }

    /// Deletes a canned response: its owner or the admin.
    pub async fn delete_canned(&self, who: Who, id: Uuid) -> Result<(), LiveChatError> {
        who.staff()?;
        let found: Canned = self
            .repo()
            .canned(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no canned response {id}")))?;
        if who != Who::Admin && found.owner != who.operator() {
            return Err(LiveChatError::Forbidden(
                "only its owner or the admin deletes it".into(),
            ));
        }
        self.repo().remove_canned(id)?;
        self.flush().await
    }

    /// The canned responses the caller may use (the admin sees all), sorted by shortcut.
    pub fn canned_for(&self, who: Who) -> Result<Vec<Canned>, LiveChatError> {
        who.staff()?;
        let mut list: Vec<Canned> = self.repo().canned_all()?;
        if let Some(op) = who.operator() {
            let mine: Vec<Uuid> = self
                .groups()?
                .into_iter()
                .filter(|g| g.members.contains(&op))
                .map(|g| g.id)
                .collect();
            list.retain(|c| c.owner == Some(op) || c.groups.iter().any(|g| mine.contains(g)));
        }
        list.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(list)
    }

    /// Matches for what the operator typed: `::` lists all, `::pre` / `:pre` by prefix.
    pub fn canned_matches(&self, who: Who, typed: &str) -> Result<Vec<Canned>, LiveChatError> {
        let prefix = typed.trim().trim_start_matches(':');
        let mut list = self.canned_for(who)?;
        list.retain(|c| c.shortcut.starts_with(prefix));
        Ok(list)
    }

    /// Expands every `:shortcut` / `::shortcut` word the operator may use.
    pub fn expand_canned(&self, op: Uuid, message: &str) -> Result<String, LiveChatError> {
        if !message.contains(':') {
            return Ok(message.to_string());
        }
        let available = self.canned_for(Who::Operator(op))?;
        Ok(expand(message, &available))
    }
}

/// Replaces `:shortcut` and `::shortcut` words (keeping the text around them).
pub fn expand(message: &str, available: &[Canned]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(':') {
        let (head, tail) = rest.split_at(start);
        out.push_str(head);
        let at_word_start = out.chars().next_back().is_none_or(char::is_whitespace);
        let colons = if tail.starts_with("::") { 2 } else { 1 };
        let word_len = tail[colons..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(tail.len() - colons);
        let word = &tail[colons..colons + word_len];
        let found = available.iter().find(|c| c.shortcut == word);
        match (at_word_start && !word.is_empty(), found) {
            (true, Some(c)) => {
                out.push_str(&c.substitution);
                rest = &tail[colons + word_len..];
            }
            _ => {
                out.push(':');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned(shortcut: &str, substitution: &str) -> Canned {
        Canned {
            id: Uuid::now_v7(),
            shortcut: shortcut.into(),
            substitution: substitution.into(),
            owner: None,
            groups: Vec::new(),
        }
    }

    #[test]
    fn single_and_double_colon_shortcuts_expand() {
        let list = [
            canned("hi", "Hello, how can I help?"),
            canned("bye", "Goodbye!"),
        ];
        assert_eq!(expand(":hi", &list), "Hello, how can I help?");
        assert_eq!(expand("::bye see you", &list), "Goodbye! see you");
        assert_eq!(expand("well :hi.", &list), "well Hello, how can I help?.");
    }

    #[test]
    fn unknown_shortcuts_and_colons_inside_words_stay() {
        let list = [canned("hi", "Hello")];
        assert_eq!(expand(":nope and 10:30", &list), ":nope and 10:30");
        assert_eq!(expand("http://x/:hi", &list), "http://x/:hi");
        assert_eq!(expand("::", &list), "::");
        assert_eq!(expand("a::hi", &list), "a::hi");
    }

    #[test]
    fn the_audience_is_the_owner_or_the_groups() {
        let mut a = canned("hi", "x");
        let mut b = canned("hi", "y");
        a.owner = Some(Uuid::from_u128(1));
        b.owner = Some(Uuid::from_u128(2));
        assert_ne!(audience(&a), audience(&b));
        a.groups = vec![Uuid::from_u128(9)];
        b.groups = vec![Uuid::from_u128(9)];
        assert_eq!(audience(&a), audience(&b));
    }
}
