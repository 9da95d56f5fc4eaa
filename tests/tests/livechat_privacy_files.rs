//! Alice sent the shop a photo and a long log file in a chat, then asks (GDPR) for a copy of
//! everything the shop holds about her. The admin's export carries each of her files with its
//! name, type, size and SHA-256 and the content itself in base64, not only the file names in
//! the messages. An export includes at most a budget of file content (16 MiB unless the admin
//! asks for another, up to 64 MiB); a file beyond it is listed with where to download it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use ochat_tests::livechat_files::{PNG, upload};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn export(chat: &ChatNode, query: &str) -> (u16, Value) {
    chat.call(
        Some(chat.node.token.as_str()),
        Method::GET,
        &format!("/api/v1/livechat/visitors/v-alice/export{query}"),
        None,
    )
    .await
    .unwrap()
}

fn content(file: &Value) -> Option<Vec<u8>> {
    file["content_base64"]
        .as_str()
        .map(|b| STANDARD.decode(b).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitors_export_carries_the_content_of_their_files_within_a_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    chat.admin(
        Method::PUT,
        &format!("/api/v1/livechat/channels/{channel}/files"),
        Some(json!({"enabled": true, "max_bytes": 2_000_000})),
    )
    .await
    .unwrap();
    let alice = chat
        .visit(&channel, "https://shop.test/", "en", None, Some("v-alice"))
        .await
        .unwrap();
    let carol = chat
        .visit(&channel, "https://shop.test/", "en", None, Some("v-carol"))
        .await
        .unwrap();
    // A photo, then 300 KB of log (several 64 KiB pieces in the store).
    let log: Vec<u8> = "0123456789abcdef\n".repeat(18_000).into_bytes();
    for (v, name, mime, body) in [
        (&alice, "photo.png", "image/png", PNG.to_vec()),
        (&alice, "log.txt", "text/plain", log.clone()),
        (&carol, "carol.txt", "text/plain", b"not Alice's".to_vec()),
    ] {
        let (status, body) = upload(&chat, &v.token, &v.session, name, mime, body)
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }

    // The default budget holds both of her files, byte for byte; Carol's is not hers.
    let (status, all) = export(&chat, "").await;
    assert_eq!(status, 200, "{all}");
    let files = all["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["photo.png", "log.txt"]);
    for (file, bytes, mime) in [
        (&files[0], PNG.to_vec(), "image/png"),
        (&files[1], log.clone(), "text/plain"),
    ] {
        assert_eq!(content(file).unwrap(), bytes);
        assert_eq!(file["mime"], mime);
        assert_eq!(file["size"], bytes.len());
        assert_eq!(file["sha256"], hex::encode(Sha256::digest(&bytes)));
        assert_eq!(file["session_id"], alice.session.as_str());
        assert_eq!(file["uploaded_by"], "visitor");
        assert!(file["omitted"].is_null(), "{file}");
    }

    // A budget that holds the photo only: the log is listed, with where to download it.
    let (status, small) = export(&chat, &format!("?file_bytes={}", PNG.len())).await;
    assert_eq!(status, 200, "{small}");
    let files = small["files"].as_array().unwrap();
    assert_eq!(content(&files[0]).unwrap(), PNG);
    assert!(content(&files[1]).is_none());
    let why = files[1]["omitted"].as_str().unwrap();
    let id = files[1]["id"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "/api/v1/livechat/sessions/{}/files/{id}",
            alice.session
        )),
        "{why}"
    );
    assert_eq!(files[1]["size"], log.len());

    // No content at all, and a budget beyond the bound is refused.
    let (_, none) = export(&chat, "?file_bytes=0").await;
    assert!(
        none["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["content_base64"].is_null())
    );
    let (status, refused) = export(&chat, "?file_bytes=67108865").await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("file_bytes"),
        "{refused}"
    );
}
