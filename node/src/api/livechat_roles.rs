//! Live chat roles: a user flagged `administrator` (Odoo's Live Chat "Administrator", as
//! opposed to "User") administers the live chat without the node's admin token.
//!
//! The handlers of the live chat administration routes (users, groups, channels and their
//! rules, canned responses, chatbots, reports, the widget snippet) ask
//! [`Caller::administering`] who they act for: the admin token and an administrator's
//! operator token both act as [`Who::Admin`]; anyone else acts as themselves, and the service
//! refuses (403) what they may not do. Everywhere else (sessions, joining, sockets) an
//! administrator stays the operator they are.
//!
//! Two limits keep the admin token the root of trust: only the admin token makes or unmakes
//! an administrator ([`Caller::may_set_role`]), and an administrator does not change another
//! administrator's profile or password, nor revoke their tokens
//! ([`Caller::administering_user`]). So a stolen operator password cannot mint more
//! administrators nor lock the others out; the admin token (in the data folder, mode 0600)
//! can always undo it.
//!
//! Used by `api::livechat`, `api::livechat_chatbots`, `api::livechat_reports` and `web::api`.

use uuid::Uuid;

use super::ApiError;
use crate::accounts::{Caller, Who};
use crate::livechat::LiveChatError;
use crate::node::NodeShared;

impl Caller {
    /// Who the caller acts as on a live chat administration route: the admin for the admin
    /// token and for an administrator's token, else themselves.
    pub(crate) fn administering(&self, node: &NodeShared) -> Result<Who, ApiError> {
        match self.who {
            Who::Operator(id) if is_administrator(node, id)? => Ok(Who::Admin),
            who => Ok(who),
        }
    }

    /// Like [`Caller::administering`], for a route acting on the user `target`: an
    /// administrator acts as the admin on users who are not administrators, and as
    /// themselves on other administrators (so the service refuses them).
    pub(crate) fn administering_user(
        &self,
        node: &NodeShared,
        target: Uuid,
    ) -> Result<Who, ApiError> {
        match self.who {
            Who::Operator(id) if id != target && is_administrator(node, target)? => Ok(self.who),
            _ => self.administering(node),
        }
    }

    /// Refuses a change of the administrator flag from anyone but the admin token.
    pub(crate) fn may_set_role(&self, administrator: Option<bool>) -> Result<(), ApiError> {
        if administrator.is_none() || self.who == Who::Admin {
            return Ok(());
        }
        Err(LiveChatError::Forbidden(
            "only the admin token makes or unmakes an administrator".into(),
        )
        .into())
    }
}

/// Whether the user `id` is a live chat administrator (an unknown user is not).
fn is_administrator(node: &NodeShared, id: Uuid) -> Result<bool, ApiError> {
    match node.accounts.user(id) {
        Ok(user) => Ok(user.administrator),
        Err(crate::accounts::AccountsError::NotFound(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde::Serialize;
    use uuid::Uuid;

    use crate::model::UserRecord;
    use crate::store::{decode, encode};

    /// A user as stored before roles existed.
    #[derive(Serialize)]
    struct OldUser {
        id: Uuid,
        name: String,
        created_at_ms: u64,
        login: Option<String>,
    }

    #[test]
    fn users_stored_before_roles_open_as_plain_operators() {
        let old = OldUser {
            id: Uuid::now_v7(),
            name: "Ann".into(),
            created_at_ms: 1,
            login: Some("ann".into()),
        };
        let bytes = encode("users", &old).unwrap();
        let user: UserRecord = decode("users", &bytes).unwrap();
        assert_eq!(user.login.as_deref(), Some("ann"));
        assert!(!user.administrator);
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["administrator"], false, "shown in the user's JSON");
    }
}
