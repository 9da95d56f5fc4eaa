//! Files in live chat sessions: a visitor sends one to the operators, an operator to the
//! visitor. Per channel ([`FileSettings`]): a switch (off by default), a size limit (10 MiB
//! by default) and the allowed types ([`super::file_types`]).
//!
//! An upload is streamed: a declared length over the limit is refused at once (413), and the
//! body is counted as it comes, so a client that lies about the length is stopped when it
//! passes the limit, before the whole body was read. The first bytes must show the declared
//! type (its magic; a text type must be UTF-8 without NUL), else 415. The content is written
//! in 64 KiB pieces as it arrives (`store/livechat/files.rs`); a refused or broken upload
//! removes what it wrote. The file is then a message of the session carrying a [`FileRef`],
//! pushed like any other message.
//!
//! Access is the session's: its visitor with their session token, its operators and the
//! channel's operators by the rules of [`LiveChat::session_for`]; only the visitor and the
//! session's operators send. Files go with their session (retention, the clean-up of unwritten
//! sessions and the GDPR erasure all end in `delete_session`).
//!
//! Used by `api::livechat_files`.

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use super::file_types::{self, SNIFF_LEN, TextCheck};
use super::messages::NewMessage;
use super::{LiveChat, LiveChatError, Who};
use crate::model::livechat::Message;
use crate::model::livechat_files::{FileRef, FileSettings, StoredFile};
use crate::store::livechat::files::PIECE;

/// The largest size limit a channel may set (100 MiB).
pub const MAX_LIMIT: u64 = 100 << 20;
/// Files one session may hold at most.
pub const MAX_FILES_PER_SESSION: usize = 100;
const MAX_NAME: usize = 200;

/// Why a file is refused; the API maps each to its status.
#[derive(Debug, Error)]
pub enum FileError {
    /// A live chat error (access, session closed, storage).
    #[error(transparent)]
    LiveChat(#[from] LiveChatError),
    /// The channel does not take files.
    #[error("this channel does not accept files")]
    Disabled,
    /// Larger than the channel allows (413).
    #[error("the file is larger than this channel's limit of {max} bytes")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// A type the channel does not allow (415).
    #[error("files of type {0} are not accepted here; allowed: {1}")]
    NotAllowed(String, String),
    /// The content is not of the declared type (415).
    #[error("the content is not a {0} file")]
    Mismatch(String),
    /// The body could not be read.
    #[error("the upload was interrupted: {0}")]
    Body(String),
}

impl From<crate::store::StoreError> for FileError {
    fn from(e: crate::store::StoreError) -> Self {
        FileError::LiveChat(e.into())
    }
}

/// Body of `PUT /api/v1/livechat/channels/{id}/files`; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct FileSettingsInput {
    /// Whether files may be sent in the channel's sessions.
    pub enabled: Option<bool>,
    /// The largest file, in bytes (1 to 100 MiB).
    pub max_bytes: Option<u64>,
    /// Allowed types: MIME types or extensions among those the node recognises.
    pub allowed_types: Option<Vec<String>>,
}

/// A file about to be stored: its name and the type the sender declared.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The file name as sent.
    pub name: String,
    /// The `Content-Type` sent, if any.
    pub declared: Option<String>,
    /// The `Content-Length` sent, if any.
    pub length: Option<u64>,
}

/// A file name without path parts or control characters.
fn clean_name(name: &str) -> Result<String, FileError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() || clean.len() > MAX_NAME || clean == "." || clean == ".." {
        return Err(
            LiveChatError::BadInput(format!("a file name has 1 to {MAX_NAME} bytes")).into(),
        );
    }
    Ok(clean)
}

impl LiveChat {
    /// A channel's file settings (admin, or one of its operators).
    pub fn file_settings(&self, who: Who, channel: Uuid) -> Result<FileSettings, LiveChatError> {
        Ok(self.channel_for(who, channel)?.files)
    }

    /// Changes a channel's file settings (admin only).
    pub async fn set_file_settings(
        &self,
        who: Who,
        channel: Uuid,
        input: FileSettingsInput,
    ) -> Result<FileSettings, LiveChatError> {
        who.admin()?;
        let mut c = self.channel(channel)?;
        if let Some(e) = input.enabled {
            c.files.enabled = e;
        }
        if let Some(max) = input.max_bytes {
            if max == 0 || max > MAX_LIMIT {
                return Err(LiveChatError::BadInput(format!(
                    "max_bytes is 1 to {MAX_LIMIT}"
                )));
            }
            c.files.max_bytes = max;
        }
        if let Some(types) = input.allowed_types {
            let mut out = Vec::new();
            for t in &types {
                let mime = file_types::normalise(t).ok_or_else(|| {
                    LiveChatError::BadInput(format!(
                        "the node does not recognise the type {t:?}; it knows {}",
                        file_types::known_types().join(", ")
                    ))
                })?;
                if !out.iter().any(|o| o == mime) {
                    out.push(mime.to_string());
                }
            }
            c.files.allowed_types = out;
        }
        self.repo().put_channel(&c)?;
        self.flush().await?;
        Ok(c.files)
    }

    /// A session's files the caller may see (its visitor, its operators, the channel's).
    pub fn session_files(&self, who: Who, session: Uuid) -> Result<Vec<StoredFile>, LiveChatError> {
        self.session_for(who, session)?;
        Ok(self.files_repo().files(session)?)
    }

    /// A file's record and its pieces, for a caller who may see the session.
    pub fn file_download(
        &self,
        who: Who,
        session: Uuid,
        file: Uuid,
    ) -> Result<
        (
            StoredFile,
            impl Iterator<Item = Result<Vec<u8>, crate::store::StoreError>> + Send + use<>,
        ),
        LiveChatError,
    > {
        self.session_for(who, session)?;
        let record = self
            .files_repo()
            .file(session, file)?
            .ok_or_else(|| LiveChatError::NotFound(format!("no file {file} in this session")))?;
        Ok((record, self.files_repo().pieces(session, file)))
    }

    /// Stores a file sent into a session by its visitor or one of its operators, checking
    /// the channel's switch, size and types as the body streams in (see the module notes),
    /// and posts the message that carries it. Answers once it is durable.
    pub async fn upload_file<S, E>(
        &self,
        who: Who,
        session_id: Uuid,
        upload: Upload,
        mut body: S,
    ) -> Result<Message, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let session = self.session_for(who, session_id)?;
        let (author, author_id, author_name) = match who {
            Who::Visitor(_) => ("visitor", None, "Visitor".to_string()),
            Who::Operator(op) if session.operators.contains(&op) => {
                ("operator", Some(op), self.accounts().chat_name(op))
            }
            _ => {
                return Err(LiveChatError::Forbidden(
                    "only the visitor and the session's operators send files in it".into(),
                )
                .into());
            }
        };
        if session.closed_at_ms.is_some() {
            return Err(LiveChatError::Conflict("this session is closed".into()).into());
        }
        let settings = self.channel(session.channel_id)?.files;
        if !settings.enabled {
            return Err(FileError::Disabled);
        }
        let name = clean_name(&upload.name)?;
        let declared = upload
            .declared
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty() && !d.starts_with("application/octet-stream"));
        let mime = match declared {
            Some(d) => file_types::normalise(d).ok_or_else(|| {
                FileError::NotAllowed(d.to_string(), settings.allowed_types.join(", "))
            })?,
            None => file_types::from_name(&name).ok_or_else(|| {
                FileError::NotAllowed(
                    "application/octet-stream".into(),
                    settings.allowed_types.join(", "),
                )
            })?,
        };
        if !settings.allowed_types.iter().any(|t| t == mime) {
            return Err(FileError::NotAllowed(
                mime.into(),
                settings.allowed_types.join(", "),
            ));
        }
        if upload.length.is_some_and(|l| l > settings.max_bytes) {
            return Err(FileError::TooLarge {
                max: settings.max_bytes,
            });
        }
        if self.files_repo().files(session_id)?.len() >= MAX_FILES_PER_SESSION {
            return Err(LiveChatError::Conflict(format!(
                "a session holds at most {MAX_FILES_PER_SESSION} files"
            ))
            .into());
        }
        let id = Uuid::now_v7();
        let stored = self
            .store_pieces(session_id, id, mime, settings.max_bytes, &mut body)
            .await;
        let (size, pieces, sha256) = match stored {
            Ok(done) => done,
            Err(e) => {
                self.files_repo().remove_file(session_id, id)?;
                return Err(e);
            }
        };
        let record = StoredFile {
            id,
            session_id,
            name: name.clone(),
            mime: mime.into(),
            size,
            sha256,
            uploaded_by: author.into(),
            author_id,
            at_ms: self.now_ms(),
            pieces,
        };
        self.files_repo().put_file(&record)?;
        let message = self.append_message(
            session_id,
            NewMessage {
                author,
                author_id,
                author_name,
                text: format!("\u{1F4CE} {name}"),
                only_for: None,
                answers: Vec::new(),
                file: Some(FileRef {
                    id,
                    name,
                    mime: mime.into(),
                    size,
                }),
            },
        );
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                self.files_repo().remove_file(session_id, id)?;
                return Err(e.into());
            }
        };
        self.flush().await?;
        Ok(message)
    }

    /// Reads the body into 64 KiB pieces, checking size and type; answers (size, pieces,
    /// SHA-256 hex).
    async fn store_pieces<S, E>(
        &self,
        session: Uuid,
        file: Uuid,
        mime: &str,
        max: u64,
        body: &mut S,
    ) -> Result<(u64, u32, String), FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut buf: Vec<u8> = Vec::with_capacity(PIECE);
        let mut size: u64 = 0;
        let mut index: u32 = 0;
        let mut head_checked = false;
        let mut text = file_types::is_text(mime).then(TextCheck::default);
        let mut hash = Sha256::new();
        let mut flush_piece = |buf: &mut Vec<u8>, index: &mut u32| -> Result<(), FileError> {
            let piece = std::mem::replace(buf, Vec::with_capacity(PIECE));
            if let Some(t) = text.as_mut()
                && !t.feed(&piece)
            {
                return Err(FileError::Mismatch(mime.into()));
            }
            hash.update(&piece);
            self.files_repo().put_piece(session, file, *index, piece)?;
            *index += 1;
            Ok(())
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FileError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(FileError::TooLarge { max });
            }
            let mut rest: &[u8] = &chunk;
            while !rest.is_empty() {
                let take = (PIECE - buf.len()).min(rest.len());
                buf.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if !head_checked && buf.len() >= SNIFF_LEN {
                    if !file_types::head_fits(mime, &buf) {
                        return Err(FileError::Mismatch(mime.into()));
                    }
                    head_checked = true;
                }
                if buf.len() == PIECE {
                    flush_piece(&mut buf, &mut index)?;
                }
            }
        }
        if size == 0 {
            return Err(LiveChatError::BadInput("the file is empty".into()).into());
        }
        if !head_checked && !file_types::head_fits(mime, &buf) {
            return Err(FileError::Mismatch(mime.into()));
        }
        if !buf.is_empty() {
            flush_piece(&mut buf, &mut index)?;
        }
        if text.as_ref().is_some_and(|t| !t.finish()) {
            return Err(FileError::Mismatch(mime.into()));
        }
        Ok((size, index, hex::encode(hash.finalize())))
    }
}
