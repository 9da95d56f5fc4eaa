//! The live chat's files and transcript-mail queue: [`LiveChatFiles`], the repository that
//! `livechat::files` and `livechat::mail` use.
//!
//! A file's content is stored in pieces of at most [`PIECE`] (64 KiB) under session id ‖ file
//! id ‖ piece index, far below the value-size limit of `store/tree.rs`, as federation
//! attachments are (`store/attachments.rs`); its record (name, type, size, hash) is written
//! last, so a file without a record is an upload that did not finish and is never shown.
//! Everything of a session goes with one prefix scan ([`LiveChatFiles::remove_session`]),
//! which the retention sweep, the clean-up of unwritten sessions and the GDPR erasure call.

use uuid::Uuid;

use crate::model::livechat_files::{MailJob, StoredFile};
use crate::store::table::{Cbor, Raw, Table, table};
use crate::store::{Store, StoreError, trees};

/// The size of a stored piece of a file.
pub const PIECE: usize = 64 * 1024;

table! {
    /// `lc_files`: session id ‖ file id → the file's record.
    pub Files = trees::LC_FILES; (Uuid, Uuid) => Cbor<StoredFile>
}

table! {
    /// `lc_file_pieces`: session id ‖ file id ‖ index → a piece of the content.
    pub FilePieces = trees::LC_FILE_PIECES; (Uuid, Uuid, u32) => Raw
}

table! {
    /// `lc_mail_queue`: job id → a transcript email waiting to be sent.
    pub MailQueue = trees::LC_MAIL_QUEUE; Uuid => Cbor<MailJob>
}

/// The files' and the mail queue's tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveChatFiles {
    files: Table<Files>,
    pieces: Table<FilePieces>,
    mail: Table<MailQueue>,
}

impl LiveChatFiles {
    /// Opens the tables.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn open(store: &Store) -> Result<Self, StoreError> {
        Ok(LiveChatFiles {
            files: store.table()?,
            pieces: store.table()?,
            mail: store.table()?,
        })
    }

    /// Writes piece `index` of a file (at most [`PIECE`] bytes; not durable until a flush).
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] for a piece over [`PIECE`], [`StoreError::Sled`].
    pub fn put_piece(
        &self,
        session: Uuid,
        file: Uuid,
        index: u32,
        piece: Vec<u8>,
    ) -> Result<(), StoreError> {
        if piece.len() > PIECE {
            return Err(StoreError::TooLarge {
                tree: trees::LC_FILE_PIECES,
                len: piece.len(),
                max: PIECE,
            });
        }
        self.pieces.put(&(session, file, index), &Raw(piece))
    }

    /// Writes a file's record (after its pieces).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn put_file(&self, file: &StoredFile) -> Result<(), StoreError> {
        self.files.put_ref(&(file.session_id, file.id), file)
    }

    /// A file's record.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn file(&self, session: Uuid, file: Uuid) -> Result<Option<StoredFile>, StoreError> {
        Ok(self.files.get(&(session, file))?.map(|Cbor(f)| f))
    }

    /// A session's files, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn files(&self, session: Uuid) -> Result<Vec<StoredFile>, StoreError> {
        self.files
            .scan(&session)
            .map(|e| e.map(|(_, Cbor(f))| f))
            .collect()
    }

    /// A file's pieces in order, read as the iterator goes.
    pub fn pieces(
        &self,
        session: Uuid,
        file: Uuid,
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + Send + use<> {
        self.pieces
            .scan(&(session, file))
            .map(|e| e.map(|(_, Raw(p))| p))
    }

    /// Removes one file's pieces and record; answers how many pieces went.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn remove_file(&self, session: Uuid, file: Uuid) -> Result<usize, StoreError> {
        let keys: Vec<(Uuid, Uuid, u32)> = self
            .pieces
            .scan_keys(&(session, file))
            .collect::<Result<_, _>>()?;
        for k in &keys {
            self.pieces.remove(k)?;
        }
        self.files.remove(&(session, file))?;
        Ok(keys.len())
    }

    /// Removes every file of a session (records and pieces, finished or not) and its queued
    /// transcript emails; answers how many files had a record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`], [`StoreError::Corrupt`].
    pub fn remove_session(&self, session: Uuid) -> Result<usize, StoreError> {
        let pieces: Vec<(Uuid, Uuid, u32)> =
            self.pieces.scan_keys(&session).collect::<Result<_, _>>()?;
        for k in &pieces {
            self.pieces.remove(k)?;
        }
        let files: Vec<(Uuid, Uuid)> = self.files.scan_keys(&session).collect::<Result<_, _>>()?;
        for k in &files {
            self.files.remove(k)?;
        }
        for job in self.mail_jobs()? {
            if job.session_id == session {
                self.mail.remove(&job.id)?;
            }
        }
        Ok(files.len())
    }

    /// Queues (or rewrites) a transcript email.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn put_mail(&self, job: &MailJob) -> Result<(), StoreError> {
        self.mail.put_ref(&job.id, job)
    }

    /// Every queued transcript email, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub fn mail_jobs(&self) -> Result<Vec<MailJob>, StoreError> {
        self.mail
            .values()
            .map(|v| v.into_iter().map(|Cbor(j)| j).collect())
    }

    /// Removes a queued email (sent, or given up).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sled`].
    pub fn remove_mail(&self, id: Uuid) -> Result<bool, StoreError> {
        self.mail.remove(&id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_session_s_files_go_with_it_and_no_other_session_s() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let repo = LiveChatFiles::open(&store).unwrap();
        let (s1, s2, f1, f2) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let record = |session, id| StoredFile {
            id,
            session_id: session,
            name: "a.txt".into(),
            mime: "text/plain".into(),
            size: 3,
            sha256: String::new(),
            uploaded_by: "visitor".into(),
            author_id: None,
            at_ms: 1,
            pieces: 2,
        };
        for (s, f) in [(s1, f1), (s2, f2)] {
            repo.put_piece(s, f, 0, vec![1; PIECE]).unwrap();
            repo.put_piece(s, f, 1, vec![2; 5]).unwrap();
            repo.put_file(&record(s, f)).unwrap();
        }
        assert!(repo.put_piece(s1, f1, 2, vec![0; PIECE + 1]).is_err());
        let joined: Vec<u8> = repo.pieces(s1, f1).flat_map(Result::unwrap).collect();
        assert_eq!(joined.len(), PIECE + 5);
        assert_eq!(repo.remove_session(s1).unwrap(), 1);
        assert_eq!(repo.pieces(s1, f1).count(), 0);
        assert!(repo.file(s1, f1).unwrap().is_none());
        assert_eq!(repo.files(s2).unwrap().len(), 1);
        assert_eq!(repo.pieces(s2, f2).count(), 2);
    }
}
