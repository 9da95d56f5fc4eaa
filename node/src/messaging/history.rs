//! Reading channels: the list with unread counts per member, paginated history (newest first,
//! cursor by message id), read marks that send receipts, and attachment downloads.

use serde::Serialize;
use uuid::Uuid;

use super::{Messaging, MessagingError, Viewer};
use crate::model::{ChannelRecord, ConnectionRecord, MessageRecord, MessageView};
use crate::store::{Store, decode, encode, key, trees};

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
        for ch in Store::all::<ChannelRecord>(&self.inner.store.channels, trees::CHANNELS)? {
            let Some(conn) = Store::get::<ConnectionRecord>(
                &self.inner.store.connections,
                trees::CONNECTIONS,
                ch.connection_id.as_bytes(),
            )?
            else {
                continue;
            };
            if let Viewer::User(u) = viewer
                && !conn.members.contains(&u)
            {
                continue;
            }
            out.push(ChannelView {
                id: ch.id,
                name: ch.name.clone(),
                remote_uuid: ch.remote.to_string(),
                connection_id: ch.connection_id,
                members: conn.members.clone(),
                unread: self.unread(ch.id, viewer)?,
                queued: self.queued(ch.id),
                integrity: if ch.rollback.is_some() {
                    "peer_rolled_back"
                } else {
                    "ok"
                },
                rollback: ch.rollback.clone(),
            });
        }
        Ok(out)
    }

    fn read_mark(&self, channel: Uuid, viewer: Viewer) -> Result<Uuid, MessagingError> {
        let k = key(&[channel.as_bytes(), viewer.mark_id().as_bytes()]);
        Ok(match self.inner.store.read_marks.get(k)? {
            Some(b) => Uuid::from_slice(&b).unwrap_or_default(),
            None => Uuid::nil(),
        })
    }

    fn unread(&self, channel: Uuid, viewer: Viewer) -> Result<usize, MessagingError> {
        let mark = self.read_mark(channel, viewer)?;
        let from = key(&[channel.as_bytes(), mark.as_bytes()]);
        let to = key(&[channel.as_bytes(), &[0xff; 16]]);
        let mut n = 0;
        for item in self.inner.store.messages.range(from..to) {
            let (k, v) = item?;
            if k.ends_with(mark.as_bytes()) {
                continue;
            }
            let m: MessageRecord = decode(trees::MESSAGES, &v)?;
            if !m.outgoing {
                n += 1;
            }
        }
        Ok(n)
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
        let from = key(&[channel.as_bytes(), &[0u8; 16]]);
        let to = match before {
            Some(b) => key(&[channel.as_bytes(), b.as_bytes()]),
            None => key(&[channel.as_bytes(), &[0xff; 16]]),
        };
        let mut messages = Vec::with_capacity(limit);
        for item in self.inner.store.messages.range(from..to).rev() {
            let (_, v) = item?;
            let m: MessageRecord = decode(trees::MESSAGES, &v)?;
            messages.push(MessageView::from(&m));
            if messages.len() == limit {
                break;
            }
        }
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

    /// Like `channel_for`, but a channel whose connection is no longer accepted stays readable.
    fn channel_for_reading(
        &self,
        channel: Uuid,
        viewer: Viewer,
    ) -> Result<ChannelRecord, MessagingError> {
        let ch: ChannelRecord = Store::get(
            &self.inner.store.channels,
            trees::CHANNELS,
            channel.as_bytes(),
        )?
        .ok_or_else(|| MessagingError::NotFound(format!("no channel {channel}")))?;
        if let Viewer::User(u) = viewer {
            let conn: Option<ConnectionRecord> = Store::get(
                &self.inner.store.connections,
                trees::CONNECTIONS,
                ch.connection_id.as_bytes(),
            )?;
            if !conn.is_some_and(|c| c.members.contains(&u)) {
                return Err(MessagingError::Forbidden(
                    "only members of the connection can read its channel".into(),
                ));
            }
        }
        Ok(ch)
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
        let from = key(&[channel.as_bytes(), mark.as_bytes()]);
        let to = match up_to {
            Some(id) => {
                let mut k = key(&[channel.as_bytes(), id.as_bytes()]);
                k.push(0);
                k
            }
            None => key(&[channel.as_bytes(), &[0xff; 16]]),
        };
        let mut newest = None;
        let mut receipt = Vec::new();
        for item in self.inner.store.messages.range(from..to) {
            let (k, v) = item?;
            let mut m: MessageRecord = decode(trees::MESSAGES, &v)?;
            newest = Some(m.id);
            if !m.outgoing && !m.read {
                m.read = true;
                receipt.push(m.id);
                self.inner
                    .store
                    .messages
                    .insert(k, encode(trees::MESSAGES, &m)?)?;
            }
        }
        if let Some(newest) = newest.filter(|n| *n > mark) {
            let k = key(&[channel.as_bytes(), viewer.mark_id().as_bytes()]);
            self.inner.store.read_marks.insert(k, newest.as_bytes())?;
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
        let mut meta = None;
        for item in self.inner.store.messages.scan_prefix(channel.as_bytes()) {
            let (_, v) = item?;
            let m: MessageRecord = decode(trees::MESSAGES, &v)?;
            if let Some(a) = m.attachment.filter(|a| a.id == attachment) {
                meta = Some(a);
                break;
            }
        }
        let meta =
            meta.ok_or_else(|| MessagingError::NotFound(format!("no attachment {attachment}")))?;
        if !meta.complete {
            return Err(MessagingError::NotFound(
                "the attachment did not arrive complete (hash mismatch or missing pieces)".into(),
            ));
        }
        let data = super::files::read_file(&self.inner.store, channel, &meta)?;
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
