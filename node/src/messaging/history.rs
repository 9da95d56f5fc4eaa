//! Reading channels: the list with unread counts per member, paginated history (newest first,
//! cursor by message id), read marks that send receipts, and attachment downloads.

use serde::Serialize;
use uuid::Uuid;

use super::{Messaging, MessagingError, Viewer};
use crate::model::{ChannelRecord, MessageView};

/// How the API shows a channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    /// Channel id.
    pub id: Uuid,
    /// Name (the contact, else the remote instance's name).
    pub name: String,
    /// The remote Instance UUID.
    pub remote_uuid: String,
    /// The connection.
    pub connection_id: Uuid,
    /// Members (local user ids).
    pub members: Vec<Uuid>,
    /// Incoming messages the viewer has not read.
    pub unread: usize,
    /// Messages waiting to be delivered.
    pub queued: usize,
    /// `ok`, or `peer_rolled_back` once the peer reused a message header with other contents
    /// (its ratchet state was restored from an older copy): those messages are refused and the
    /// channel needs a re-key.
    pub integrity: &'static str,
    /// Details when `integrity` is `peer_rolled_back`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<crate::model::RollbackSeen>,
    /// The ratchet's epoch: 0 from the connection handshake, one more per re-key.
    pub epoch: u32,
    /// Why the channel waits for a re-key before it sends again (this node was restored from
    /// a backup, the peer reused a message number); absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekey_needed: Option<String>,
    /// Our re-key request is stored and sent (again after a restart) until the peer answers.
    pub rekey_requested: bool,
}

/// A page of history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// Newest first.
    pub messages: Vec<MessageView>,
    /// Pass as `before` for the next (older) page; `None` at the beginning.
    pub next_before: Option<Uuid>,
}

/// Largest page.
pub const MAX_PAGE: usize = 500;

impl Messaging {
    /// The channels the viewer may use.
    pub fn channels(&self, viewer: Viewer) -> Result<Vec<ChannelView>, MessagingError> {
        let mut out = Vec::new();
        for ch in self.inner.channels.all()? {
            let Some(conn) = self.inner.connections.load(&ch.connection_id)? else {
                continue;
            };
            if let Viewer::User(u) = viewer
                && !conn.members.contains(&u)
            {
                continue;
            }
            let rollback = self.inner.ratchets.rollback(ch.id)?;
            let rekey = self.inner.rekeys.state(ch.id)?;
            out.push(ChannelView {
                id: ch.id,
                name: ch.name.clone(),
                remote_uuid: ch.remote.to_string(),
                connection_id: ch.connection_id,
                members: conn.members.clone(),
                unread: self.unread(ch.id, viewer)?,
                queued: self.queued(ch.id),
                integrity: if rollback.is_some() {
                    "peer_rolled_back"
                } else {
                    "ok"
                },
                rollback,
                epoch: rekey.epoch,
                rekey_needed: rekey.needed.then(|| rekey.reason.clone()),
                rekey_requested: rekey.pending.is_some(),
            });
        }
        Ok(out)
    }

    fn read_mark(&self, channel: Uuid, viewer: Viewer) -> Result<Uuid, MessagingError> {
        Ok(self.inner.messages.read_mark(channel, viewer.mark_id())?)
    }

    fn unread(&self, channel: Uuid, viewer: Viewer) -> Result<usize, MessagingError> {
        let mark = self.read_mark(channel, viewer)?;
        Ok(self.inner.messages.incoming_after(channel, mark)?)
    }

    /// A page of a channel's history, newest first, older than `before`.
    pub fn history(
        &self,
        channel: Uuid,
        viewer: Viewer,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<HistoryPage, MessagingError> {
        self.channel_for_reading(channel, viewer)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let messages: Vec<MessageView> = self
            .inner
            .messages
            .newest_first(channel, before, limit)?
            .iter()
            .map(MessageView::from)
            .collect();
        let next_before = if messages.len() == limit {
            messages.last().map(|m| m.id)
        } else {
            None
        };
        Ok(HistoryPage {
            messages,
            next_before,
        })
    }

    /// Whether local user `user` is a member of `channel`'s connection (false when the channel
    /// or its connection is gone, or the store cannot be read): who sees a message's events.
    pub fn is_member(&self, channel: Uuid, user: Uuid) -> bool {
        let Ok(Some(ch)) = self.inner.channels.get(channel) else {
            return false;
        };
        matches!(
            self.inner.connections.load(&ch.connection_id),
            Ok(Some(c)) if c.members.contains(&user)
        )
    }

    /// Like `channel_for`, but a channel whose connection is no longer accepted stays readable.
    fn channel_for_reading(
        &self,
        channel: Uuid,
        viewer: Viewer,
    ) -> Result<ChannelRecord, MessagingError> {
        let ch = self
            .inner
            .channels
            .get(channel)?
            .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        if let Viewer::User(u) = viewer {
            let conn = self.inner.connections.load(&ch.connection_id)?;
            if !conn.is_some_and(|c| c.members.contains(&u)) {
                return Err(MessagingError::Forbidden(
                    "only members of the connection can read its channel".into(),
                ));
            }
        }
        Ok(ch)
    }

    /// Forgets a deleted user's read marks on every channel, durably; answers how many went.
    pub async fn forget_reader(&self, user: Uuid) -> Result<usize, MessagingError> {
        let removed = self.inner.messages.remove_read_marks_of(user)?;
        if removed > 0 {
            self.inner.flush.wait().await?;
        }
        Ok(removed)
    }

    /// Marks the channel read for the viewer up to `up_to` (default: everything) and sends a
    /// read receipt for the incoming messages seen for the first time.
    pub async fn mark_read(
        &self,
        channel: Uuid,
        viewer: Viewer,
        up_to: Option<Uuid>,
    ) -> Result<usize, MessagingError> {
        self.channel_for_reading(channel, viewer)?;
        let mark = self.read_mark(channel, viewer)?;
        let messages = &self.inner.messages;
        let mut newest = None;
        let mut receipt = Vec::new();
        for m in messages.from_up_to(channel, mark, up_to) {
            let mut m = m?;
            newest = Some(m.id);
            if !m.outgoing && !m.read {
                m.read = true;
                receipt.push(m.id);
                // A rewrite: the message is already in the incoming index (`Messages::put`
                // would write its entry again).
                let id = m.id;
                messages.put_encoded(channel, id, messages.encode(m)?)?;
            }
        }
        if let Some(newest) = newest.filter(|n| *n > mark) {
            messages.set_read_mark(channel, viewer.mark_id(), newest)?;
        }
        let count = receipt.len();
        if count > 0 {
            self.send_receipt(channel, receipt).await?;
        } else {
            self.inner.flush.wait().await?;
        }
        Ok(count)
    }

    /// An attachment's bytes and facts (only when complete, and checked again against its size
    /// and hash).
    pub fn attachment(
        &self,
        channel: Uuid,
        viewer: Viewer,
        attachment: Uuid,
    ) -> Result<(crate::model::AttachmentMeta, Vec<u8>), MessagingError> {
        self.channel_for_reading(channel, viewer)?;
        let meta = self
            .inner
            .messages
            .attachment(channel, attachment)?
            .ok_or_else(|| MessagingError::NotFound(format!("no attachment {attachment}")))?;
        if !meta.complete {
            return Err(MessagingError::NotFound(
                "the attachment did not arrive complete (hash mismatch or missing pieces)".into(),
            ));
        }
        let data = super::files::read_file(&self.inner.attachments, channel, &meta)?;
        Ok((meta, data))
    }
}

impl Messaging {
    /// Whether `viewer` may read `channel`'s messages (the admin always; a user when they are a
    /// member of its connection): the events socket filters message events with this.
    pub fn may_read(&self, channel: Uuid, viewer: Viewer) -> bool {
        self.channel_for_reading(channel, viewer).is_ok()
    }
}
