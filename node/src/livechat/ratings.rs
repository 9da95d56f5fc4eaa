//! Ratings: after a session the visitor rates it 5 (happy), 3 (okay) or 1 (unhappy) with an
//! optional comment; one per session, a second replaces the first. The admin may mark one
//! "visible internally only"; a published channel's other ratings are public.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{LiveChat, LiveChatError, Who};

pub use crate::model::livechat::Rating;

/// What the visitor sends.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RatingInput {
    /// 5, 3 or 1.
    pub rating: u8,
    /// Optional comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A rating as the public page shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PublicRating {
    /// 5, 3 or 1.
    pub rating: u8,
    /// Comment.
    pub comment: Option<String>,
    /// The operator's chat name.
    pub operator: Option<String>,
    /// Given (ms).
    pub at_ms: u64,
}

impl LiveChat {
    /// The visitor rates their closed session (a second rating replaces the first).
    pub async fn rate(
        &self,
        who: Who,
        id: Uuid,
        input: RatingInput,
    ) -> Result<Rating, LiveChatError> {
        if who != Who::Visitor(id) {
            return Err(LiveChatError::Forbidden(
                "only the session's visitor rates it".into(),
            ));
        }
        if ![5, 3, 1].contains(&input.rating) {
            return Err(LiveChatError::BadInput(
                "a rating is 5 (happy), 3 (okay) or 1 (unhappy)".into(),
            ));
        }
        if input.comment.as_ref().is_some_and(|c| c.len() > 5000) {
            return Err(LiveChatError::BadInput(
                "a comment has at most 5000 bytes".into(),
            ));
        }
        let session = self.session_for(who, id)?;
        if session.closed_at_ms.is_none() {
            return Err(LiveChatError::Conflict(
                "a session is rated once it is closed".into(),
            ));
        }
        let previous: Option<Rating> = self.repo().rating(id)?;
        let rating = Rating {
            session_id: id,
            channel_id: session.channel_id,
            rating: input.rating,
            comment: input.comment.filter(|c| !c.trim().is_empty()),
            operator: session.all_operators.first().copied(),
            internal_only: previous.is_some_and(|p| p.internal_only),
            at_ms: self.now_ms(),
        };
        self.repo().put_rating(&rating)?;
        self.flush().await?;
        Ok(rating)
    }

    /// A session's rating: its visitor, its operators, the admin.
    pub fn rating(&self, who: Who, id: Uuid) -> Result<Option<Rating>, LiveChatError> {
        self.session_for(who, id)?;
        Ok(self.repo().rating(id)?)
    }

    /// The admin marks a rating visible internally only (or public again).
    pub async fn set_rating_internal(
        &self,
        who: Who,
        id: Uuid,
        internal_only: bool,
    ) -> Result<Rating, LiveChatError> {
        who.admin()?;
        let mut rating: Rating = self
            .repo()
            .rating(id)?
            .ok_or_else(|| LiveChatError::NotFound(format!("session {id} has no rating")))?;
        rating.internal_only = internal_only;
        self.repo().put_rating(&rating)?;
        self.flush().await?;
        Ok(rating)
    }

    /// Every rating of a channel (staff who may read the channel).
    pub fn channel_ratings(&self, who: Who, channel: Uuid) -> Result<Vec<Rating>, LiveChatError> {
        self.channel_for(who, channel)?;
        let list: Vec<Rating> = self.repo().ratings()?;
        Ok(list
            .into_iter()
            .filter(|r| r.channel_id == channel)
            .collect())
    }

    /// A published channel's public ratings (no login); unpublished channels are not found.
    pub fn published_ratings(&self, channel: Uuid) -> Result<Vec<PublicRating>, LiveChatError> {
        let c = self.channel(channel)?;
        if !c.published {
            return Err(LiveChatError::NotFound(format!(
                "no published channel {channel}"
            )));
        }
        let list = self.channel_ratings(Who::Admin, channel)?;
        Ok(list
            .into_iter()
            .filter(|r| !r.internal_only)
            .map(|r| PublicRating {
                rating: r.rating,
                comment: r.comment,
                operator: r.operator.map(|op| self.accounts().chat_name(op)),
                at_ms: r.at_ms,
            })
            .collect())
    }
}
