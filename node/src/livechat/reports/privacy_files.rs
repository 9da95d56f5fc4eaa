//! The files of a visitor's export ([`super::privacy`]): each file sent in their sessions
//! with its record (name, type, size, SHA-256, who sent it, when) and its content in base64,
//! within a budget of content bytes per export (`?file_bytes=`, [`DEFAULT_EXPORT_FILE_BYTES`]
//! unless asked, at most [`MAX_EXPORT_FILE_BYTES`]) so that one export cannot grow without
//! bound in memory. Files are taken in the order of the sessions and of their sending; a file
//! that no longer fits is listed without its content, saying why and where to download it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::livechat::{LiveChat, LiveChatError};
use crate::model::livechat_files::StoredFile;

/// File content one export includes unless the admin asks otherwise (bytes, before base64).
pub const DEFAULT_EXPORT_FILE_BYTES: u64 = 16 << 20;
/// The most file content one export may include (bytes, before base64).
pub const MAX_EXPORT_FILE_BYTES: u64 = 64 << 20;

/// A file of the visitor's sessions, as exported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ExportedFile {
    /// File id.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// "visitor" or "operator".
    pub uploaded_by: String,
    /// The operator who sent it.
    pub author_id: Option<Uuid>,
    /// Stored (ms).
    pub at_ms: u64,
    /// The content in base64 (standard alphabet, padded); none when it is over the budget.
    pub content_base64: Option<String>,
    /// Why the content is not included, and where to download it, when it is not.
    pub omitted: Option<String>,
}

/// The budget an export asks for, checked: `None` is the default.
pub fn export_budget(asked: Option<u64>) -> Result<u64, LiveChatError> {
    match asked {
        None => Ok(DEFAULT_EXPORT_FILE_BYTES),
        Some(b) if b <= MAX_EXPORT_FILE_BYTES => Ok(b),
        Some(_) => Err(LiveChatError::BadInput(format!(
            "file_bytes is 0 to {MAX_EXPORT_FILE_BYTES}"
        ))),
    }
}

impl LiveChat {
    /// The files of these sessions with as much content as `budget` bytes allow.
    pub(crate) fn export_files(
        &self,
        sessions: &[Uuid],
        budget: u64,
    ) -> Result<Vec<ExportedFile>, LiveChatError> {
        let mut left = budget;
        let mut out = Vec::new();
        for session in sessions {
            for file in self.files_repo().files(*session)? {
                let (content, omitted) = if file.size <= left {
                    left -= file.size;
                    (Some(STANDARD.encode(self.file_content(&file)?)), None)
                } else {
                    let why = format!(
                        "over the export's budget of {budget} bytes of file content; download it at /api/v1/livechat/sessions/{}/files/{}",
                        file.session_id, file.id
                    );
                    (None, Some(why))
                };
                out.push(exported(file, content, omitted));
            }
        }
        Ok(out)
    }

    /// A stored file's whole content, checked against its recorded size.
    fn file_content(&self, file: &StoredFile) -> Result<Vec<u8>, LiveChatError> {
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        for piece in self.files_repo().pieces(file.session_id, file.id) {
            bytes.extend_from_slice(&piece?);
        }
        if bytes.len() as u64 != file.size {
            return Err(LiveChatError::Internal(format!(
                "file {} has {} bytes stored, its record says {}",
                file.id,
                bytes.len(),
                file.size
            )));
        }
        Ok(bytes)
    }
}

fn exported(
    f: StoredFile,
    content_base64: Option<String>,
    omitted: Option<String>,
) -> ExportedFile {
    ExportedFile {
        id: f.id,
        session_id: f.session_id,
        name: f.name,
        mime: f.mime,
        size: f.size,
        sha256: f.sha256,
        uploaded_by: f.uploaded_by,
        author_id: f.author_id,
        at_ms: f.at_ms,
        content_base64,
        omitted,
    }
}
