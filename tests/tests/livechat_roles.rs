//! Roles, as Odoo's Live Chat "User" and "Administrator": a plain operator answers visitors
//! but is refused (403) every live chat administration route; an operator the admin token
//! made administrator sets the live chat up with their own login (channels, rules, operators,
//! groups, canned responses, chatbots, reports, the snippet), without the node's admin token.
//! Only the admin token makes administrators, administrators cannot take each other's
//! accounts over, and the federation routes stay the admin token's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_tests::livechat_cli::{Cli, call_as, login_token};
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::{Value, json};

/// Creates a user with a login through the admin token; answers their id.
async fn operator(node: &TestNode, name: &str, login: &str, administrator: bool) -> String {
    let u = node
        .ok(
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"name": name, "login": login, "password": format!("{login}-password"),
                        "administrator": administrator}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        u["administrator"], administrator,
        "the flag is in the user's JSON"
    );
    u["id"].as_str().unwrap().to_string()
}

/// The administration calls a shop makes, given a channel, a rule, a chatbot, a group and a
/// user to act on.
fn admin_calls(
    channel: &str,
    rule: &str,
    bot: &str,
    group: &str,
    user: &str,
) -> Vec<(Method, String, Option<Value>)> {
    let c = "/api/v1/livechat/channels";
    vec![
        (Method::POST, c.into(), Some(json!({"name": "Another"}))),
        (
            Method::PATCH,
            format!("{c}/{channel}"),
            Some(json!({"button_text": "Hi"})),
        ),
        (
            Method::POST,
            format!("{c}/{channel}/rules"),
            Some(json!({"url_regex": "/shop"})),
        ),
        (
            Method::PUT,
            format!("{c}/{channel}/rules/{rule}"),
            Some(json!({"url_regex": "/x"})),
        ),
        (Method::GET, format!("{c}/{channel}/widget"), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "Mallory"})),
        ),
        (Method::GET, "/api/v1/users".into(), None),
        (
            Method::POST,
            format!("/api/v1/users/{user}/revoke_tokens"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user}"),
            Some(json!({"chat_name": "Z"})),
        ),
        (
            Method::POST,
            "/api/v1/livechat/groups".into(),
            Some(json!({"name": "G2"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/livechat/groups/{group}"),
            Some(json!({"name": "G3"})),
        ),
        (
            Method::POST,
            "/api/v1/livechat/chatbots".into(),
            Some(json!({"name": "B2", "steps": [{"type": "text", "message": "Hi"}]})),
        ),
        (
            Method::PUT,
            format!("/api/v1/livechat/chatbots/{bot}"),
            Some(json!({"name": "B3", "steps": [{"type": "text", "message": "Hi"}]})),
        ),
        (
            Method::GET,
            "/api/v1/livechat/visitors/visitor-1/export".into(),
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_operator_is_refused_every_administration_route() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let ann = operator(&node, "Ann", "ann", false).await;
    let carl = operator(&node, "Carl", "carl", false).await;
    let channel = node
        .ok(
            Method::POST,
            "/api/v1/livechat/channels",
            Some(json!({"name": "Website", "operators": [ann]})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rule = node
        .ok(
            Method::POST,
            &format!("/api/v1/livechat/channels/{channel}/rules"),
            Some(json!({})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bot = node
        .ok(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({"name": "Bot", "steps": [{"type": "text", "message": "Hello"}]})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = node
        .ok(
            Method::POST,
            "/api/v1/livechat/groups",
            Some(json!({"name": "Support", "members": [ann]})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = login_token(&node.api, "ann", "ann-password").await.unwrap();

    for (method, path, body) in admin_calls(&channel, &rule, &bot, &group, &carl) {
        let (status, answer) = call_as(&node.api, &token, method.clone(), &path, body)
            .await
            .unwrap();
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
    // Nor may she make herself an administrator; her profile stays hers to change.
    let (status, answer) = call_as(
        &node.api,
        &token,
        Method::PATCH,
        &format!("/api/v1/users/{ann}"),
        Some(json!({"administrator": true})),
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only the admin token")
    );
    let (status, me) = call_as(
        &node.api,
        &token,
        Method::PATCH,
        &format!("/api/v1/users/{ann}"),
        Some(json!({"chat_name": "Annie"})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(me["administrator"], false, "unchanged: {me}");

    // Nothing changed behind the refusals.
    let c = node
        .ok(
            Method::GET,
            &format!("/api/v1/livechat/channels/{channel}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(c["button_text"], "Have a question? Chat with us.");
    assert_eq!(c["rules"].as_array().unwrap().len(), 1);
    let users = node.ok(Method::GET, "/api/v1/users", None).await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_the_live_chat_with_their_own_login() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    // The owner makes Bob administrator from the CLI (the admin token's place).
    let cli = Cli::new(&node.data_dir);
    let bob = cli
        .json_with(
            &[
                "livechat",
                "operator",
                "create",
                "Bob",
                "--login",
                "bob",
                "--password-stdin",
            ],
            Some("bob-password\n"),
        )
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let made = cli
        .json(&[
            "livechat",
            "operator",
            "update",
            "bob",
            "--administrator",
            "true",
        ])
        .unwrap();
    assert_eq!(made["administrator"], true);
    let dave = operator(&node, "Dave", "dave", true).await;
    let token = login_token(&node.api, "bob", "bob-password").await.unwrap();
    let api = node.api.clone();
    let call = |method: Method, path: String, body: Option<Value>| {
        let (api, token) = (api.clone(), token.clone());
        async move { call_as(&api, &token, method, &path, body).await.unwrap() }
    };

    // Bob creates an operator, a channel with her, a rule, a chatbot, a group and a canned
    // response, and reads the snippet: no admin token involved.
    let (status, ann) = call(
        Method::POST,
        "/api/v1/users".into(),
        Some(json!({"name": "Ann", "login": "ann", "password": "ann-password"})),
    )
    .await;
    assert_eq!(status, 201, "{ann}");
    let ann = ann["id"].as_str().unwrap().to_string();
    let (status, channel) = call(
        Method::POST,
        "/api/v1/livechat/channels".into(),
        Some(json!({"name": "Website", "operators": [ann]})),
    )
    .await;
    assert_eq!(status, 201, "{channel}");
    let channel = channel["id"].as_str().unwrap().to_string();
    let (status, bot) = call(
        Method::POST,
        "/api/v1/livechat/chatbots".into(),
        Some(json!({"name": "Bot", "steps": [{"type": "text", "message": "Hello"}]})),
    )
    .await;
    assert_eq!(status, 201, "{bot}");
    let (status, rule) = call(
        Method::POST,
        format!("/api/v1/livechat/channels/{channel}/rules"),
        Some(json!({"url_regex": "/pricing", "chatbot_id": bot["id"]})),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let (status, group) = call(
        Method::POST,
        "/api/v1/livechat/groups".into(),
        Some(json!({"name": "Support", "members": [ann]})),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let (status, widget) = call(
        Method::GET,
        format!("/api/v1/livechat/channels/{channel}/widget"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{widget}");
    assert!(widget["snippet"].as_str().unwrap().contains(&channel));
    // He may read a channel he is not an operator of, and every user.
    let (status, _) = call(
        Method::GET,
        format!("/api/v1/livechat/channels/{channel}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, users) = call(Method::GET, "/api/v1/users".into(), None).await;
    assert_eq!((status, users.as_array().unwrap().len()), (200, 3));
    // He resets Ann's password and revokes her tokens.
    let ann_token = login_token(&node.api, "ann", "ann-password").await.unwrap();
    let (status, revoked) = call(
        Method::POST,
        format!("/api/v1/users/{ann}/revoke_tokens"),
        None,
    )
    .await;
    assert_eq!((status, revoked["revoked"].clone()), (200, json!(1)));
    let (status, _) = call_as(&node.api, &ann_token, Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = call(
        Method::PATCH,
        format!("/api/v1/users/{ann}"),
        Some(json!({"password": "ann-new-password"})),
    )
    .await;
    assert_eq!(status, 200);
    login_token(&node.api, "ann", "ann-new-password")
        .await
        .unwrap();

    // Reports: a visitor talks to Ann; Bob, who is not in the channel, sees the session.
    let ann_token = login_token(&node.api, "ann", "ann-new-password")
        .await
        .unwrap();
    let started = node
        .ok(
            Method::POST,
            &format!("/api/v1/livechat/{channel}/sessions"),
            Some(json!({"page_url": "https://shop.example/", "visitor_id": "visitor-1"})),
        )
        .await
        .unwrap();
    let (session, visitor) = (
        started["session"]["id"].as_str().unwrap(),
        started["token"].as_str().unwrap(),
    );
    let (status, _) = call_as(
        &node.api,
        visitor,
        Method::POST,
        &format!("/api/v1/livechat/sessions/{session}/messages"),
        Some(json!({"text": "Do you ship to Ghent?"})),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let (status, report) = call(
        Method::GET,
        "/api/v1/livechat/reports/sessions".into(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["sessions"].as_array().unwrap().len(), 1, "{report}");
    let (_, export) = call(
        Method::GET,
        "/api/v1/livechat/visitors/visitor-1/export".into(),
        None,
    )
    .await;
    assert!(export.is_object(), "{export}");
    drop(ann_token);

    // What stays with the admin token: making administrators, and the other administrators'
    // accounts; the federation routes.
    let (status, answer) = call(
        Method::PATCH,
        format!("/api/v1/users/{ann}"),
        Some(json!({"administrator": true})),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = call(
        Method::POST,
        "/api/v1/users".into(),
        Some(json!({"name": "Eve", "administrator": true})),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let (status, _) = call(
        Method::PATCH,
        format!("/api/v1/users/{dave}"),
        Some(json!({"password": "taken-over"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        Method::POST,
        format!("/api/v1/users/{dave}/revoke_tokens"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, me) = call(
        Method::PATCH,
        format!("/api/v1/users/{bob}"),
        Some(json!({"chat_name": "Bobby"})),
    )
    .await;
    assert_eq!((status, me["chat_name"].clone()), (200, json!("Bobby")));
    for path in ["/api/v1/connections", "/api/v1/network"] {
        let (status, _) = call(Method::GET, path.into(), None).await;
        assert_eq!(status, 401, "{path}");
    }
    // Unmade by the admin token, Bob is a plain operator again, at once.
    cli.json(&[
        "livechat",
        "operator",
        "update",
        "bob",
        "--administrator",
        "false",
    ])
    .unwrap();
    let (status, _) = call(
        Method::POST,
        "/api/v1/livechat/channels".into(),
        Some(json!({"name": "Late"})),
    )
    .await;
    assert_eq!(status, 403);

    // The document says an operator token may call these routes.
    let doc = node
        .ok(Method::GET, "/api/v1/openapi.json", None)
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/api/v1/livechat/channels"]["post"]["security"],
        json!([{"admin": []}, {"operator": []}])
    );
    assert_eq!(
        doc["components"]["schemas"]["UserRecord"]["properties"]["administrator"]["type"],
        "boolean"
    );
    node.stop().await.unwrap();
}
