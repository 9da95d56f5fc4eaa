//! Data folders written by an earlier release (issues 26 and 28): the committed fixture
//! `tests/fixtures/data-v0/` holds two linked nodes, Acme and Bolt, with messages both ways, as
//! the release before typed tables wrote them (ratchets inside the channel records). Tests copy
//! it to a temporary folder and start today's node on the copy; [`write_fixture`] is how it was
//! made (see the fixture's README). Used by `tests/tests/upgrade.rs`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::Method;

use crate::node::{TestNode, link, reaching, test_config};

/// The texts Acme sent Bolt in the fixture, in order.
pub const ACME_SAID: [&str; 3] = ["hello Bolt", "the order ships Monday", "three from Acme"];
/// The texts Bolt sent Acme in the fixture, in order.
pub const BOLT_SAID: [&str; 3] = ["hello Acme", "thanks, noted", "three from Bolt"];
/// The file Acme sent Bolt in the fixture: its name and bytes.
pub const ACME_FILE: (&str, &[u8]) = ("terms.txt", b"payment within 30 days");

/// The fixture written by the release before typed tables.
pub fn fixture_v0() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/data-v0")
}

/// Copies the folder `from` into `to` (created), files and folders alike.
pub fn copy_folder(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The node configurations of a copy of the fixture in `root` (folders `acme` and `bolt`):
/// each listens on a port of its own and is told where the other one is, since the addresses
/// recorded in the fixture are long gone.
pub fn fixture_configs(root: &Path) -> Result<(ochat_node::NodeConfig, ochat_node::NodeConfig)> {
    let (acme_dir, bolt_dir) = (root.join("acme"), root.join("bolt"));
    let (a_addr, b_addr) = (
        format!("/ip4/127.0.0.1/tcp/{}", free_port()?),
        format!("/ip4/127.0.0.1/tcp/{}", free_port()?),
    );
    let (a_uuid, a_peer) = who(&acme_dir)?;
    let (b_uuid, b_peer) = who(&bolt_dir)?;
    let mut acme = test_config(&acme_dir, "Acme", None);
    let mut bolt = test_config(&bolt_dir, "Bolt", None);
    acme.p2p_listen = vec![a_addr.clone()];
    bolt.p2p_listen = vec![b_addr.clone()];
    acme.peers = vec![(b_uuid, format!("{b_addr}/p2p/{b_peer}"))];
    bolt.peers = vec![(a_uuid, format!("{a_addr}/p2p/{a_peer}"))];
    Ok((acme, bolt))
}

/// The Instance UUID and libp2p peer id of the (stopped) node in `dir`.
fn who(dir: &Path) -> Result<(String, String)> {
    let data = ochat_node::data_dir::DataDir::open(dir, None)?;
    let peer = ochat_node::network::peer_id_of(&data.secrets.identity.public())?;
    Ok((data.instance.uuid.to_string(), peer.to_string()))
}

/// Waits until every message `node` sent on `channel` is in `state` and its outbox is empty.
pub async fn wait_sent_all(node: &TestNode, channel: &str, state: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + crate::node::WAIT;
    loop {
        let history = node.history(channel).await?;
        let channels = node.ok(Method::GET, "/api/v1/channels", None).await?;
        let queued = channels
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["id"] == channel)
            .map(|c| c["queued"].as_u64().unwrap_or(u64::MAX))
            .sum::<u64>();
        if queued == 0
            && history
                .iter()
                .filter(|m| m["direction"] == "out")
                .all(|m| m["state"] == state)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("messages of {channel} are not all {state} ({queued} queued): {history:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes the fixture into `root` (folders `acme` and `bolt`) with the node of this checkout:
/// Bolt asks Acme, Acme accepts, each sends three texts, Acme sends a file, everything is
/// delivered and both stop cleanly.
pub async fn write_fixture(root: &Path) -> Result<()> {
    let mut acme = TestNode::start(test_config(&root.join("acme"), "Acme", None)).await?;
    let (b_config, _) = reaching(&acme, &root.join("bolt"), "Bolt").await?;
    let mut bolt = TestNode::start(b_config).await?;
    let (b_ch, a_ch) = link(&bolt, &acme).await?;
    for (a, b) in ACME_SAID.iter().zip(BOLT_SAID) {
        acme.send(&a_ch, a).await?;
        bolt.send(&b_ch, b).await?;
    }
    let (name, bytes) = ACME_FILE;
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/channels/{a_ch}/attachments?name={name}",
            acme.api
        ))
        .bearer_auth(&acme.token)
        .header("content-type", "text/plain")
        .body(bytes.to_vec())
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("the file was refused: {}", resp.status());
    }
    acme.wait_history(&a_ch, 7, crate::node::WAIT).await?;
    bolt.wait_history(&b_ch, 7, crate::node::WAIT).await?;
    wait_sent_all(&bolt, &b_ch, "delivered").await?;
    // Bolt has read what Acme wrote (a read mark, and a receipt that Acme shows).
    bolt.ok(
        Method::POST,
        &format!("/api/v1/channels/{b_ch}/read"),
        Some(serde_json::json!({})),
    )
    .await?;
    wait_sent_all(&acme, &a_ch, "read").await?;
    wait_sent_all(&bolt, &b_ch, "delivered").await?;
    acme.stop().await?;
    bolt.stop().await?;
    Ok(())
}
