//! User groups: canned responses are shared with groups. The admin creates and changes them;
//! staff list them. Members are accounts' users (`crate::accounts`).

use serde::Deserialize;
use uuid::Uuid;

use super::{LiveChat, LiveChatError, Who, text};

const MAX_NAME: usize = 200;

pub use crate::model::livechat::Group;

/// Body to create or change a group.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct GroupInput {
    /// Name.
    pub name: String,
    /// Members.
    #[serde(default)]
    pub members: Vec<Uuid>,
}

impl LiveChat {
    /// Creates a group (admin only).
    pub async fn create_group(&self, who: Who, input: GroupInput) -> Result<Group, LiveChatError> {
        who.admin()?;
        let group = Group {
            id: Uuid::now_v7(),
            name: text("name", &input.name, MAX_NAME)?,
            members: input.members,
        };
        for m in &group.members {
            self.accounts().user(*m)?;
        }
        self.repo().put_group(&group)?;
        self.flush().await?;
        Ok(group)
    }

    /// Replaces a group's name and members (admin only).
    pub async fn update_group(
        &self,
        who: Who,
        id: Uuid,
        input: GroupInput,
    ) -> Result<Group, LiveChatError> {
        who.admin()?;
        let mut group = self.group(id)?;
        group.name = text("name", &input.name, MAX_NAME)?;
        for m in &input.members {
            self.accounts().user(*m)?;
        }
        group.members = input.members;
        self.repo().put_group(&group)?;
        self.flush().await?;
        Ok(group)
    }

    /// One group.
    pub fn group(&self, id: Uuid) -> Result<Group, LiveChatError> {
        self.repo()
            .group(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no group {id}")))
    }

    /// Every group.
    pub fn groups(&self) -> Result<Vec<Group>, LiveChatError> {
        Ok(self.repo().groups()?)
    }
}
