//! Files in live chat sessions, through a real node: a channel takes files only once the
//! admin turns them on; the size limit is enforced on the streamed body (413 before the rest
//! is read); the content must be of the declared, allowed type (415); a download is always an
//! attachment with `nosniff`; a visitor reaches only their own session's files; an operator
//! sends a file the visitor downloads; and erasing the visitor removes every piece from sled.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator, Visit};
use ochat_tests::livechat_files::{PDF, PNG, download, upload, upload_streamed};
use ochat_tests::node::open_stopped;
use reqwest::Method;
use serde_json::{Value, json};

async fn shop(dir: &std::path::Path) -> (ChatNode, Operator, String) {
    let chat = ChatNode::start(dir, Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    (chat, ann, channel)
}

async fn visit(chat: &ChatNode, channel: &str, visitor: &str) -> Visit {
    chat.visit(channel, "https://shop.test/", "en", None, Some(visitor))
        .await
        .unwrap()
}

async fn files_on(chat: &ChatNode, channel: &str, settings: Value) -> Value {
    chat.admin(
        Method::PUT,
        &format!("/api/v1/livechat/channels/{channel}/files"),
        Some(settings),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_sends_a_file_only_where_allowed_and_the_operator_downloads_it_as_an_attachment()
{
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await;
    let v = visit(&chat, &channel, "v-alice").await;

    // Off by default: the widget is told so, and an upload is refused.
    let features = chat
        .call(
            None,
            Method::GET,
            &format!("/api/v1/livechat/{channel}/features"),
            None,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(features["files"]["enabled"], json!(false));
    assert_eq!(features["files"]["max_bytes"], json!(10 * 1024 * 1024));
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "cat.png",
        "image/png",
        PNG.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], json!("files_disabled"));

    // Only the admin changes the settings; unknown types are refused with the known list.
    let (status, _) = chat
        .call(
            Some(&ann.token),
            Method::PUT,
            &format!("/api/v1/livechat/channels/{channel}/files"),
            Some(json!({"enabled": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, body) = chat
        .call(
            Some(&chat.node.token),
            Method::PUT,
            &format!("/api/v1/livechat/channels/{channel}/files"),
            Some(json!({"allowed_types": ["text/html"]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let settings = files_on(
        &chat,
        &channel,
        json!({"enabled": true, "max_bytes": 1_000_000}),
    )
    .await;
    assert_eq!(settings["enabled"], json!(true));

    // A real PNG goes through; the operator sees it as a message with a file and downloads it.
    let (status, message) = upload(
        &chat,
        &v.token,
        &v.session,
        "../../cat.png",
        "image/png",
        PNG.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{message}");
    let file = &message["file"];
    assert_eq!(file["name"], json!("cat.png"), "path parts are dropped");
    assert_eq!(file["mime"], json!("image/png"));
    assert_eq!(file["size"], json!(PNG.len()));
    let file_id = file["id"].as_str().unwrap().to_string();
    let transcript = chat.transcript(&ann.token, &v.session).await.unwrap();
    assert!(transcript.iter().any(|m| m["file"]["id"] == json!(file_id)));
    let (status, headers, bytes) = download(&chat, &ann.token, &v.session, &file_id)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(bytes, PNG);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("cat.png"), "{disposition}");

    // A file whose name has no usable type is named by its Content-Type; octet-stream falls
    // back to the extension.
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "invoice.pdf",
        "application/octet-stream",
        PDF.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["file"]["mime"], json!("application/pdf"));

    // Type checks: an HTML page is not allowed; a "PNG" that is really a PDF, or a "text"
    // file with binary bytes, is refused for its content.
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let (status, body) = upload(&chat, &v.token, &v.session, "page.html", "text/html", html)
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (415, json!("type_not_allowed"))
    );
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "cat.png",
        "image/png",
        PDF.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (415, json!("type_mismatch"))
    );
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "notes.txt",
        "text/plain",
        b"abc\0\x01\x02".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (415, json!("type_mismatch"))
    );
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "notes.txt",
        "text/plain",
        PDF.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (415, json!("type_mismatch"))
    );

    // Size: a declared length over the limit is refused at once; a chunked body that passes
    // the limit is stopped there, long before the client has sent it all.
    let (status, body) = upload(&chat, &v.token, &v.session, "big.png", "image/png", {
        let mut b = PNG.to_vec();
        b.resize(1_000_001, 0);
        b
    })
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (413, json!("too_large"))
    );
    let (status, sent) = upload_streamed(
        &chat,
        &v.token,
        &v.session,
        "huge.png",
        "image/png",
        PNG,
        64 << 20,
    )
    .await
    .unwrap();
    assert_eq!(status, 413);
    assert!(
        sent < 32 << 20,
        "the server answered after {sent} bytes of 64 MiB"
    );

    // Only the two good files are kept.
    let list = chat
        .ok(
            &v.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/files", v.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reaches_only_their_own_files_and_gets_what_the_operator_sends() {
    let tmp = tempfile::tempdir().unwrap();
    let (chat, ann, channel) = shop(tmp.path()).await;
    let bob = chat
        .operator("bob", json!({"chat_name": "Bob"}))
        .await
        .unwrap();
    files_on(&chat, &channel, json!({"enabled": true})).await;
    let alice = visit(&chat, &channel, "v-alice").await;
    let mallory = visit(&chat, &channel, "v-mallory").await;
    chat.say(&alice.token, &alice.session, "here is my receipt")
        .await
        .unwrap();
    let (status, m) = upload(
        &chat,
        &alice.token,
        &alice.session,
        "receipt.pdf",
        "application/pdf",
        PDF.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{m}");
    let file = m["file"]["id"].as_str().unwrap().to_string();

    // Another visitor's token: refused, on the list and on the file.
    let (status, _, _) = download(&chat, &mallory.token, &alice.session, &file)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = chat
        .call(
            Some(&mallory.token),
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/files", alice.session),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    // The file id under the other visitor's own session: not there.
    let (status, _, _) = download(&chat, &mallory.token, &mallory.session, &file)
        .await
        .unwrap();
    assert_eq!(status, 404);
    // An operator outside the channel: refused; no token: 401.
    let (status, _, _) = download(&chat, &bob.token, &alice.session, &file)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _, _) = download(&chat, "", &alice.session, &file).await.unwrap();
    assert_eq!(status, 401);

    // Ann sends a file back; Alice downloads it with her session token.
    let text = "Your order:\n1 chair — 49 €\n".as_bytes().to_vec();
    let (status, m) = upload(
        &chat,
        &ann.token,
        &alice.session,
        "order.txt",
        "text/plain; charset=utf-8",
        text.clone(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["author"], json!("operator"));
    let theirs = chat.transcript(&alice.token, &alice.session).await.unwrap();
    let sent = theirs
        .iter()
        .find(|m| m["file"]["name"] == json!("order.txt"))
        .unwrap();
    let (status, headers, bytes) = download(
        &chat,
        &alice.token,
        &alice.session,
        sent["file"]["id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!((status, bytes), (200, text));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    // Bob, who is not in the session, may not send into it.
    let (status, _) = upload(
        &chat,
        &bob.token,
        &alice.session,
        "x.txt",
        "text/plain",
        b"hi".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_visitor_removes_their_files_from_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let (mut chat, _ann, channel) = shop(&dir).await;
    files_on(
        &chat,
        &channel,
        json!({"enabled": true, "max_bytes": 2_000_000}),
    )
    .await;
    let alice = visit(&chat, &channel, "v-alice").await;
    let carol = visit(&chat, &channel, "v-carol").await;
    // 300 KB of text: several 64 KiB pieces.
    let big: Vec<u8> = "0123456789abcdef\n".repeat(18_000).into_bytes();
    for v in [&alice, &carol] {
        let (status, body) = upload(
            &chat,
            &v.token,
            &v.session,
            "log.txt",
            "text/plain",
            big.clone(),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let erased = chat
        .admin(Method::DELETE, "/api/v1/livechat/visitors/v-alice", None)
        .await
        .unwrap();
    assert_eq!(erased["files"], json!(1), "{erased}");
    let (status, _, _) = download(
        &chat,
        &chat.node.token,
        &alice.session,
        "00000000-0000-0000-0000-000000000000",
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
    chat.node.stop().await.unwrap();

    let (store, _) = open_stopped(&dir).unwrap();
    let pieces = store
        .tree(ochat_node::store::trees::LC_FILE_PIECES)
        .unwrap();
    let files = store.tree(ochat_node::store::trees::LC_FILES).unwrap();
    let of = |session: &str| uuid_bytes(session);
    assert_eq!(
        pieces.scan_prefix(of(&alice.session)).count(),
        0,
        "Alice's pieces are gone"
    );
    assert_eq!(files.scan_prefix(of(&alice.session)).count(), 0);
    let carols = pieces.scan_prefix(of(&carol.session)).count();
    assert_eq!(
        carols,
        big.len().div_ceil(64 * 1024),
        "Carol's file stays whole"
    );
    let longest = pieces
        .iter()
        .values()
        .map(|v| v.unwrap().len())
        .max()
        .unwrap();
    assert!(
        longest <= 64 * 1024,
        "no stored piece is over 64 KiB ({longest})"
    );
}

fn uuid_bytes(id: &str) -> Vec<u8> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_removes_the_files_of_old_closed_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::new());
    let mut chat = ChatNode::start_with(&dir, clock.clone(), |c| {
        c.livechat.retention_days = Some(1);
        c.livechat.retention_sweep_every = Some(std::time::Duration::from_millis(100));
    })
    .await
    .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let channel = chat.channel("Website", &[&ann], json!({})).await.unwrap();
    files_on(&chat, &channel, json!({"enabled": true})).await;
    let v = visit(&chat, &channel, "v-alice").await;
    let (status, body) = upload(
        &chat,
        &v.token,
        &v.session,
        "photo.png",
        "image/png",
        PNG.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{body}");
    chat.ok(
        &v.token,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{}/close", v.session),
        None,
    )
    .await
    .unwrap();

    // Two days later the sweep deletes the closed session, and its file with it.
    clock.advance_ms(2 * 24 * 3_600_000);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, _) = chat
            .call(
                Some(&chat.node.token),
                Method::GET,
                &format!("/api/v1/livechat/sessions/{}", v.session),
                None,
            )
            .await
            .unwrap();
        if status == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session was not swept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    chat.node.stop().await.unwrap();
    let (store, _) = open_stopped(&dir).unwrap();
    assert_eq!(
        store
            .tree(ochat_node::store::trees::LC_FILE_PIECES)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .tree(ochat_node::store::trees::LC_FILES)
            .unwrap()
            .len(),
        0
    );
}
