//! A website owner manages the live chat's people with `ochat livechat operator` and
//! `ochat livechat group`: an operator created with a password on standard input and a
//! profile, an administrator, a profile change, a password reset that logs the old consoles
//! out, revoked tokens, and a group edited member by member. The real binary, a real node.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_tests::livechat_cli::{Cli, call_as, login_token};
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::json;

const ANN_PASSWORD: &str = "ann-first-password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_creates_and_manages_operators_and_groups_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let cli = Cli::new(&node.data_dir);

    // Ann gets a login (password on standard input, never on the command line) and a profile.
    let ann = cli
        .json_with(
            &[
                "livechat",
                "operator",
                "create",
                "Ann Smith",
                "--login",
                "ann",
                "--password-stdin",
                "--chat-name",
                "Ann",
                "--language",
                "en",
                "--chat-language",
                "en",
                "--chat-language",
                "fr",
                "--expertise",
                "billing",
                "--country",
                "be",
            ],
            Some(&format!("{ANN_PASSWORD}\n")),
        )
        .unwrap();
    assert_eq!(ann["login"], "ann");
    assert_eq!(ann["chat_name"], "Ann");
    assert_eq!(ann["chat_languages"], json!(["en", "fr"]));
    assert_eq!(ann["expertise"], json!(["billing"]));
    assert_eq!(ann["country"], "BE");
    assert_eq!(ann["administrator"], false);
    let token = login_token(&node.api, "ann", ANN_PASSWORD).await.unwrap();

    // Bob, an administrator; both are listed, and shown by login.
    cli.ok_with(
        &[
            "livechat",
            "operator",
            "create",
            "Bob",
            "--login",
            "bob",
            "--password-stdin",
            "--administrator",
        ],
        Some("bob-password\n"),
    )
    .unwrap();
    let list = cli.ok(&["livechat", "operator", "list"]).unwrap();
    assert!(list.contains("ann") && list.contains("Ann Smith"), "{list}");
    assert!(
        list.lines().any(|l| l.contains("bob") && l.contains("yes")),
        "{list}"
    );
    let shown = cli.ok(&["livechat", "operator", "show", "bob"]).unwrap();
    assert!(shown.contains("role:           administrator"), "{shown}");

    // A profile change keeps what is not named.
    let changed = cli
        .json(&[
            "livechat",
            "operator",
            "update",
            "ann",
            "--expertise",
            "sales",
            "--country",
            "fr",
        ])
        .unwrap();
    assert_eq!(changed["expertise"], json!(["sales"]));
    assert_eq!(changed["country"], "FR");
    assert_eq!(changed["chat_name"], "Ann");

    // A password reset logs Ann's consoles out; the new password works, the old one not.
    let out = cli
        .ok_with(
            &[
                "livechat",
                "operator",
                "reset-password",
                "ann",
                "--password-stdin",
            ],
            Some("ann-second-password\n"),
        )
        .unwrap();
    assert!(out.contains("their tokens are revoked"), "{out}");
    let (status, _) = call_as(&node.api, &token, Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401, "the old token is gone");
    assert!(login_token(&node.api, "ann", ANN_PASSWORD).await.is_err());
    login_token(&node.api, "ann", "ann-second-password")
        .await
        .unwrap();

    // Revoking tokens by hand.
    let revoked = cli
        .json(&["livechat", "operator", "revoke-tokens", "ann"])
        .unwrap();
    assert_eq!(revoked["revoked"], 1);

    // A group with Ann, then Bob added and Ann removed.
    let group = cli
        .json(&["livechat", "group", "create", "Support", "--member", "ann"])
        .unwrap();
    assert_eq!(group["members"], json!([ann["id"]]));
    let shown = cli.ok(&["livechat", "group", "show", "Support"]).unwrap();
    assert!(shown.contains("Ann Smith (ann)"), "{shown}");
    let group = cli
        .json(&[
            "livechat",
            "group",
            "update",
            "Support",
            "--add-member",
            "bob",
            "--remove-member",
            "ann",
            "--name",
            "Helpdesk",
        ])
        .unwrap();
    assert_eq!(group["name"], "Helpdesk");
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    let groups = cli.json(&["livechat", "group", "list"]).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 1);
    assert!(
        cli.ok(&["livechat", "group", "list"])
            .unwrap()
            .contains("Helpdesk")
    );

    node.stop().await.unwrap();
}
