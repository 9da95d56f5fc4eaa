//! Data folders of instances created before Instance UUIDs were derived from keys: a random
//! version-4 UUID written into `instance.json` before the first start, which the node keeps.
//! Tests use them to show that the old trust path (pinning, the directory's first-come rule)
//! still holds next to self-certifying UUIDs.

use std::path::Path;

use anyhow::{Context, Result};
use ochat_protocol::identity::InstanceId;

/// Prepares `dir` as the folder of a pre-derivation instance named `name` and returns its random
/// v4 UUID; `ochat run` (or an in-process node) on it keeps that UUID.
pub fn folder_with_random_uuid(dir: &Path, name: &str) -> Result<InstanceId> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let uuid = InstanceId::generate();
    let info = serde_json::json!({"uuid": uuid.to_string(), "name": name});
    std::fs::write(dir.join("instance.json"), info.to_string())
        .with_context(|| format!("writing {}/instance.json", dir.display()))?;
    Ok(uuid)
}
