//! Ann leaves the company and the admin deletes her user. Nothing of her stays behind in the
//! live chat to route visitors to her or to be read back after a restart: her presence (kept
//! across restarts), her places in channels and groups, her own canned responses, the
//! returning visitors who would be sent back to her; the conversation she was in is left
//! (and closes, as she was its only operator), and her open console is cut off. What she
//! shared with her group stays for the group; Bob, who works on, keeps everything of his.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_node::store::livechat::LiveChatStore;
use ochat_tests::livechat::{ChatNode, Operator};
use ochat_tests::livechat_cli::Cli;
use ochat_tests::node::open_stopped;
use reqwest::Method;
use serde_json::{Value, json};

const T0: u64 = 1_796_810_400_000;

async fn act(chat: &ChatNode, op: &Operator) {
    chat.ok(
        &op.token,
        Method::POST,
        "/api/v1/livechat/operator/activity",
        None,
    )
    .await
    .unwrap();
}

async fn shortcuts(chat: &ChatNode, token: &str) -> Vec<(String, Value)> {
    let list = chat
        .ok(token, Method::GET, "/api/v1/livechat/canned", None)
        .await
        .unwrap();
    let mut out: Vec<(String, Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["shortcut"].as_str().unwrap().to_string(),
                c["owner"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_operator_leaves_nothing_behind_in_the_live_chat() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let clock = Arc::new(TestClock::fixed_at(T0));
    let mut chat = ChatNode::start(&dir, clock).await.unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    let bob = chat
        .operator("bob", json!({"chat_name": "Bob"}))
        .await
        .unwrap();
    let channel = chat
        .channel("Website", &[&ann, &bob], json!({}))
        .await
        .unwrap();
    let group = chat
        .admin(
            Method::POST,
            "/api/v1/livechat/groups",
            Some(json!({"name": "Support", "members": [ann.id, bob.id]})),
        )
        .await
        .unwrap();
    for (shortcut, groups) in [("mine", json!([])), ("team", json!([group["id"]]))] {
        chat.ok(
            &ann.token,
            Method::POST,
            "/api/v1/livechat/canned",
            Some(
                json!({"shortcut": shortcut, "substitution": "Hello from Ann",
                        "groups": groups}),
            ),
        )
        .await
        .unwrap();
    }
    chat.ok(
        &bob.token,
        Method::POST,
        "/api/v1/livechat/canned",
        Some(json!({"shortcut": "bobs", "substitution": "Hello from Bob"})),
    )
    .await
    .unwrap();

    // Both are at work (their presence is stored); Ann has her console open. Two visitors
    // come: one goes to each. Call Ann's Paul (his browser remembers her) and Bob's Zoe.
    act(&chat, &bob).await;
    let first = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-1"))
        .await
        .unwrap();
    act(&chat, &ann).await;
    let mut console = chat
        .socket("/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let paul = chat
        .visit(&channel, "https://shop.example/", "en", None, Some("v-2"))
        .await
        .unwrap();
    // Whoever took the first visitor, the second went to the other (the least busy).
    let ((paul, paul_browser), (zoe, zoe_browser)) = if ChatNode::operator_of(&paul) == ann.id {
        ((paul, "v-2"), (first, "v-1"))
    } else {
        ((first, "v-1"), (paul, "v-2"))
    };
    assert_eq!(ChatNode::operator_of(&paul), ann.id);
    assert_eq!(ChatNode::operator_of(&zoe), bob.id);
    chat.say(&paul.token, &paul.session, "Hello?")
        .await
        .unwrap();

    // The admin deletes Ann.
    let deleted = chat
        .admin(Method::DELETE, &format!("/api/v1/users/{}", ann.id), None)
        .await
        .unwrap();
    assert_eq!(
        deleted,
        json!({"id": ann.id, "tokens": 1, "channels": 1, "groups": 1, "canned": 1,
               "sessions": 1, "returning": 1, "presence": true, "connections": 0,
               "read_marks": 0})
    );

    // She is gone: her token, her console, her account.
    let (status, _) = chat
        .call(Some(&ann.token), Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let closed = tokio::time::timeout(ochat_tests::node::WAIT, async {
        while console.next().await.is_ok() {}
    })
    .await;
    assert!(closed.is_ok(), "her console's socket is closed");
    let (status, _) = chat
        .call(
            Some(chat.node.token.as_str()),
            Method::GET,
            &format!("/api/v1/users/{}", ann.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = chat
        .call(
            Some(chat.node.token.as_str()),
            Method::DELETE,
            &format!("/api/v1/users/{}", ann.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "twice is an error that changes nothing");

    // The channel and the group have only Bob; Ann's own shortcut went, the one she shared
    // with Support stays for the group (as the admin's).
    let c = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(c["operators"], json!([bob.id]), "{c}");
    let groups = chat
        .admin(Method::GET, "/api/v1/livechat/groups", None)
        .await
        .unwrap();
    assert_eq!(groups[0]["members"], json!([bob.id]), "{groups}");
    assert_eq!(
        shortcuts(&chat, &bob.token).await,
        [
            ("bobs".to_string(), json!(bob.id)),
            ("team".to_string(), Value::Null)
        ]
    );

    // Paul's conversation closed when its only operator left; Zoe still talks with Bob.
    let transcript = chat.transcript(&paul.token, &paul.session).await.unwrap();
    let texts: Vec<&str> = transcript
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"Ann left the conversation"), "{texts:?}");
    let session = chat
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}", paul.session),
            None,
        )
        .await
        .unwrap();
    assert!(session["closed_at_ms"].is_u64(), "{session}");
    chat.say(&zoe.token, &zoe.session, "Still there?")
        .await
        .unwrap();

    // Paul comes back: he is not promised Ann any more, Bob takes him.
    act(&chat, &bob).await;
    let back = chat
        .visit(
            &channel,
            "https://shop.example/",
            "en",
            None,
            Some(paul_browser),
        )
        .await
        .unwrap();
    assert_eq!(ChatNode::operator_of(&back), bob.id);

    // After the node stops (writing every presence it holds), only Bob's presence is stored.
    chat.node.stop().await.unwrap();
    let (store, _data) = open_stopped(&dir).unwrap();
    let repo = LiveChatStore::open(&store).unwrap();
    let stored: Vec<String> = repo
        .presences()
        .unwrap()
        .into_iter()
        .map(|(op, _)| op.to_string())
        .collect();
    assert_eq!(stored, std::slice::from_ref(&bob.id));
    assert_eq!(
        repo.returning(zoe_browser)
            .unwrap()
            .unwrap()
            .operator
            .to_string(),
        bob.id
    );
    assert!(
        repo.returning(paul_browser)
            .unwrap()
            .is_some_and(|r| r.operator.to_string() == bob.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_admin_deletes_users_and_administrators_cannot_delete_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::fixed_at(T0)))
        .await
        .unwrap();
    let ann = chat.operator("ann", json!({})).await.unwrap();
    let bob = chat.operator("bob", json!({})).await.unwrap();
    let root = chat
        .operator("root", json!({"administrator": true}))
        .await
        .unwrap();
    let boss = chat
        .operator("boss", json!({"administrator": true}))
        .await
        .unwrap();
    for (who, target, why) in [
        (&ann, &bob, "a plain operator"),
        (&ann, &ann, "a user themselves"),
        (&root, &boss, "an administrator, another administrator"),
        (&root, &root, "an administrator, themselves"),
    ] {
        let (status, body) = chat
            .call(
                Some(&who.token),
                Method::DELETE,
                &format!("/api/v1/users/{}", target.id),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 403, "{why}: {body}");
    }
    // An administrator deletes a plain operator; the admin token deletes an administrator.
    chat.ok(
        &root.token,
        Method::DELETE,
        &format!("/api/v1/users/{}", bob.id),
        None,
    )
    .await
    .unwrap();
    chat.admin(Method::DELETE, &format!("/api/v1/users/{}", boss.id), None)
        .await
        .unwrap();
    let users = chat
        .admin(Method::GET, "/api/v1/users", None)
        .await
        .unwrap();
    let mut names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["ann", "root"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_deletes_an_operator_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let chat = ChatNode::start(tmp.path(), Arc::new(TestClock::fixed_at(T0)))
        .await
        .unwrap();
    let ann = chat
        .operator("ann", json!({"chat_name": "Ann"}))
        .await
        .unwrap();
    chat.channel("Website", &[&ann], json!({})).await.unwrap();
    let cli = Cli::new(&chat.node.data_dir);
    let out = cli.ok(&["livechat", "operator", "delete", "ann"]).unwrap();
    assert!(
        out.contains(&format!("Deleted user {} (ann)", ann.id)),
        "{out}"
    );
    assert!(out.contains("channels: 1"), "{out}");
    let err = cli.fails(&["livechat", "operator", "show", "ann"]).unwrap();
    assert!(err.contains("ann"), "{err}");
    let err = cli
        .fails(&["livechat", "operator", "delete", "ann"])
        .unwrap();
    assert!(err.contains("ann"), "nothing left to delete: {err}");
}
