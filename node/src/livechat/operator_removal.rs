//! Deleting a user, as the live chat sees it: [`LiveChat::delete_user`] (the admin's
//! `DELETE /api/v1/users/{id}`, through `api::livechat`) first revokes the user's tokens (their
//! consoles close), then forgets everything the live chat keeps under the user's id, then has
//! `crate::accounts` remove the user. What goes:
//!
//! - their stored and in-memory presence (`lc_presence`; a restart would otherwise load it);
//! - their place in every channel's operators and in the list of those allowed to join back;
//! - their membership of groups;
//! - their own canned responses; one they shared with groups stays for the groups, as the
//!   admin's (owner none);
//! - the returning-visitor entries that name them (a returning visitor is routed anew);
//! - the open conversations they are in: they leave them as with `/leave` (a conversation
//!   closes when its last operator leaves).
//!
//! What stays, on purpose: closed sessions, their messages (with the author's name as it was
//! written), ratings and report facts name the user's id as history does; leads and tickets
//! keep `created_by`. Federation memberships are `crate::federation`'s and read marks on its
//! channels `crate::messaging`'s (the API handler asks them after this).

use serde::Serialize;
use uuid::Uuid;

use super::{LiveChat, LiveChatError, Who};

/// What deleting a user removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserDeleted {
    /// The deleted user's id.
    pub id: Uuid,
    /// Login tokens revoked.
    pub tokens: usize,
    /// Channels they were an operator of (or allowed to join) and no longer are.
    pub channels: usize,
    /// Groups they were a member of.
    pub groups: usize,
    /// Their canned responses deleted (shared ones are kept as the admin's).
    pub canned: usize,
    /// Open conversations they left (closed when they were the last operator).
    pub sessions: usize,
    /// Returning-visitor entries that named them.
    pub returning: usize,
    /// Whether a stored presence was removed.
    pub presence: bool,
    /// O'Chat connections whose members they were (filled in by the API handler).
    pub connections: usize,
    /// Their read marks on O'Chat channels (filled in by the API handler).
    #[serde(default)]
    pub read_marks: usize,
}

impl LiveChat {
    /// Deletes a user (admin only): revokes their tokens, forgets them in the live chat, and
    /// removes their account.
    pub async fn delete_user(&self, who: Who, id: Uuid) -> Result<UserDeleted, LiveChatError> {
        who.admin()?;
        self.accounts().user(id)?;
        // No new request of theirs gets through while the live chat forgets them.
        let tokens = self.accounts().revoke_user_tokens(who, id).await?;
        let mut done = self.forget_operator(id).await?;
        let (_, late) = self.accounts().delete_user(who, id).await?;
        done.tokens = tokens + late;
        // Anything their last in-flight request wrote meanwhile goes too.
        self.forget_presence(id)?;
        self.flush().await?;
        Ok(done)
    }

    /// Removes every trace of `op` the live chat keeps under their id (see the module notes).
    async fn forget_operator(&self, op: Uuid) -> Result<UserDeleted, LiveChatError> {
        let mut done = UserDeleted {
            id: op,
            ..UserDeleted::default()
        };
        done.sessions = self.leave_open_sessions(op).await?;
        for mut channel in self.repo().channels()? {
            let before = (channel.operators.len(), channel.allowed.len());
            channel.operators.retain(|o| *o != op);
            channel.allowed.retain(|o| *o != op);
            if before != (channel.operators.len(), channel.allowed.len()) {
                self.repo().put_channel(&channel)?;
                done.channels += 1;
            }
        }
        for mut group in self.repo().groups()? {
            if group.members.contains(&op) {
                group.members.retain(|m| *m != op);
                self.repo().put_group(&group)?;
                done.groups += 1;
            }
        }
        for mut canned in self.repo().canned_all()? {
            if canned.owner != Some(op) {
                continue;
            }
            if canned.groups.is_empty() {
                self.repo().remove_canned(canned.id)?;
                done.canned += 1;
            } else {
                canned.owner = None;
                self.repo().put_canned(&canned)?;
            }
        }
        done.returning = self.repo().remove_returning_to(op)?;
        done.presence = self.forget_presence(op)?;
        // Made durable with the account's removal (`delete_user`).
        Ok(done)
    }

    /// `op` leaves every open conversation they are in; answers how many.
    async fn leave_open_sessions(&self, op: Uuid) -> Result<usize, LiveChatError> {
        let theirs: Vec<Uuid> = self
            .state()?
            .open
            .values()
            .filter(|s| s.operators.contains(&op))
            .map(|s| s.id)
            .collect();
        for id in &theirs {
            self.operator_leaves(*id, op).await?;
        }
        Ok(theirs.len())
    }

    /// Drops `op`'s presence from memory and from the store; answers whether one was stored.
    fn forget_presence(&self, op: Uuid) -> Result<bool, LiveChatError> {
        self.state()?.presence.remove(&op);
        Ok(self.repo().remove_presence(op)?)
    }
}
