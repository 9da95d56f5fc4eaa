//! `POST /api/v1/backup`: a backup of the running node, sent as the answer's body.
//!
//! The node writes the backup ([`crate::backup`]) into a private temporary file in its data
//! folder, unlinks it and streams it, so nothing stays behind even if the client goes away.
//! One backup at a time per node (409 while one is written).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::ApiError;
use super::auth::Admin;
use crate::backup::{self, BackupError};
use crate::node::NodeShared;

/// The header with the number of database entries in the backup.
pub const ENTRIES_HEADER: &str = "x-ochat-backup-entries";
/// The header with how long writes waited for the snapshot, in milliseconds.
pub const FROZEN_HEADER: &str = "x-ochat-backup-frozen-ms";

/// Takes a backup of the node (admin token): the identity, the admin token, `instance.json`,
/// `ochat.toml` and a consistent snapshot of the database. It holds the instance's secret keys.
#[utoipa::path(
    post,
    path = "/api/v1/backup",
    tag = "operations",
    security(("admin" = [])),
    responses(
        (status = 200, description = "The backup file (keep it secret: it holds the node's keys)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 409, description = "Another backup of this node is being written", body = super::openapi_shapes::ErrorBody),
        (status = 507, description = "Not enough disk space in the data folder for the backup", body = super::openapi_shapes::ErrorBody),
    )
)]
pub(crate) async fn take(
    _admin: Admin,
    State(node): State<Arc<NodeShared>>,
) -> Result<Response, ApiError> {
    let Ok(_one) = node.backups.busy.try_lock() else {
        return Err(BackupError::Busy.into());
    };
    let path = node
        .backups
        .root
        .join(format!(".backup-{}.tmp", uuid::Uuid::now_v7()));
    let summary = {
        let (node, path) = (node.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            backup::write_file(&node.backups.root, &node.instance, &node.store, &path)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?
    };
    let file = tokio::fs::File::open(&path).await;
    // Unlinked at once: the open file stays readable, and nothing is left if the client leaves.
    let _ = tokio::fs::remove_file(&path).await;
    let file = file.map_err(ApiError::internal)?;
    tracing::info!(
        entries = summary.entries,
        bytes = summary.bytes,
        frozen_ms = summary.frozen_ms,
        "backup taken"
    );
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let name = format!(
        "attachment; filename=\"ochat-{}-{}.ochatbak\"",
        node.instance.uuid, summary.header.created_ms
    );
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (CONTENT_LENGTH, summary.bytes.to_string()),
            (CONTENT_DISPOSITION, name),
        ],
        [
            (ENTRIES_HEADER, summary.entries.to_string()),
            (FROZEN_HEADER, summary.frozen_ms.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
