//! Live chat access: each token sees only what its holder may see.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_see_only_what_their_holder_may_see() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let bob = shop.operator("bob", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let alice = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    let mallory = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    let alice_messages = format!("/api/v1/livechat/sessions/{}/messages", alice.session);
    shop.say(&alice.token, &alice.session, "my address is secret")
        .await
        .unwrap();

    // A visitor's token grants only their own session.
    let (status, err) = shop
        .call(Some(&mallory.token), Method::GET, &alice_messages, None)
        .await
        .unwrap();
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "forbidden");
    let (status, _) = shop
        .call(
            Some(&mallory.token),
            Method::POST,
            &alice_messages,
            Some(json!({"text": "hi"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(
            Some(&mallory.token),
            Method::GET,
            "/api/v1/livechat/sessions",
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(
            Some(&mallory.token),
            Method::GET,
            &format!("/api/v1/livechat/channels/{sales}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    // A forged token for Alice's session (right id, wrong secret) is nobody.
    let forged = format!(
        "{}_{}",
        alice.token.rsplit_once('_').unwrap().0,
        "00".repeat(32)
    );
    let (status, _) = shop
        .call(Some(&forged), Method::GET, &alice_messages, None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    // Nor can a visitor open another session's WebSocket.
    let refused = shop
        .socket(
            &format!("/api/v1/livechat/sessions/{}/events", alice.session),
            &mallory.token,
        )
        .await;
    assert!(refused.is_err());

    // Bob is not in Sales: he cannot read the channel, its sessions or transcripts.
    let (status, _) = shop
        .call(
            Some(&bob.token),
            Method::GET,
            &format!("/api/v1/livechat/channels/{sales}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(Some(&bob.token), Method::GET, &alice_messages, None)
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(
            Some(&bob.token),
            Method::GET,
            &format!("/api/v1/livechat/sessions?channel={sales}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let listed = shop
        .ok(&bob.token, Method::GET, "/api/v1/livechat/sessions", None)
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 0);
    // The admin can; Ann, the channel's operator, can.
    let t = shop
        .admin(Method::GET, &alice_messages, None)
        .await
        .unwrap();
    assert_eq!(t[0]["text"], "my address is secret");
    shop.ok(&ann.token, Method::GET, &alice_messages, None)
        .await
        .unwrap();
    // Operators cannot manage channels or users.
    let (status, _) = shop
        .call(
            Some(&bob.token),
            Method::POST,
            "/api/v1/livechat/channels",
            Some(json!({"name": "Mine"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = shop
        .call(Some(&bob.token), Method::GET, "/api/v1/users", None)
        .await
        .unwrap();
    assert_eq!(status, 403);
    // Bob may not join Sales by himself until the admin opens it to self-join; then he
    // joins and may read it.
    let (status, _) = shop
        .call(
            Some(&bob.token),
            Method::POST,
            &format!("/api/v1/livechat/channels/{sales}/join"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    shop.admin(
        Method::PATCH,
        &format!("/api/v1/livechat/channels/{sales}"),
        Some(json!({"self_join": true})),
    )
    .await
    .unwrap();
    shop.ok(
        &bob.token,
        Method::POST,
        &format!("/api/v1/livechat/channels/{sales}/join"),
        None,
    )
    .await
    .unwrap();
    shop.ok(
        &bob.token,
        Method::GET,
        &format!("/api/v1/livechat/channels/{sales}"),
        None,
    )
    .await
    .unwrap();
    shop.ok(
        &bob.token,
        Method::POST,
        &format!("/api/v1/livechat/channels/{sales}/leave"),
        None,
    )
    .await
    .unwrap();
    let (status, _) = shop
        .call(
            Some(&bob.token),
            Method::GET,
            &format!("/api/v1/livechat/channels/{sales}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    // A wrong password is refused; the admin revokes every token of a user.
    let (status, _) = shop
        .call(
            None,
            Method::POST,
            "/api/v1/login",
            Some(json!({"login": "bob", "password": "nope"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    let revoked = shop
        .admin(
            Method::POST,
            &format!("/api/v1/users/{}/revoke_tokens", bob.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1);
    let (status, _) = shop
        .call(Some(&bob.token), Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_without_a_valid_token_answers_401() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = ChatNode::start(&tmp.path().join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let c = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let v = shop.visit(&c, "/", "en", None, None).await.unwrap();
    let s = v.session.clone();
    let u = ann.id.clone();
    let id = "0192f000-0000-7000-8000-000000000000";
    let routes = [
        (Method::POST, "/api/v1/logout".to_string()),
        (Method::POST, "/api/v1/users".into()),
        (Method::GET, "/api/v1/users".into()),
        (Method::GET, "/api/v1/users/me".into()),
        (Method::GET, format!("/api/v1/users/{u}")),
        (Method::PATCH, format!("/api/v1/users/{u}")),
        (Method::POST, format!("/api/v1/users/{u}/revoke_tokens")),
        (Method::POST, "/api/v1/livechat/groups".into()),
        (Method::GET, "/api/v1/livechat/groups".into()),
        (Method::PUT, format!("/api/v1/livechat/groups/{id}")),
        (Method::POST, "/api/v1/livechat/channels".into()),
        (Method::GET, "/api/v1/livechat/channels".into()),
        (Method::GET, format!("/api/v1/livechat/channels/{c}")),
        (Method::PATCH, format!("/api/v1/livechat/channels/{c}")),
        (Method::DELETE, format!("/api/v1/livechat/channels/{c}")),
        (Method::POST, format!("/api/v1/livechat/channels/{c}/join")),
        (Method::POST, format!("/api/v1/livechat/channels/{c}/leave")),
        (Method::POST, format!("/api/v1/livechat/channels/{c}/rules")),
        (
            Method::PUT,
            format!("/api/v1/livechat/channels/{c}/rules/{id}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/livechat/channels/{c}/rules/{id}"),
        ),
        (
            Method::GET,
            format!("/api/v1/livechat/channels/{c}/ratings"),
        ),
        (Method::POST, "/api/v1/livechat/canned".into()),
        (Method::GET, "/api/v1/livechat/canned".into()),
        (Method::GET, "/api/v1/livechat/canned/matches?q=::".into()),
        (Method::DELETE, format!("/api/v1/livechat/canned/{id}")),
        (Method::GET, "/api/v1/livechat/leads".into()),
        (Method::GET, "/api/v1/livechat/tickets".into()),
        (Method::GET, "/api/v1/livechat/sessions".into()),
        (Method::GET, format!("/api/v1/livechat/sessions/{s}")),
        (
            Method::GET,
            format!("/api/v1/livechat/sessions/{s}/messages"),
        ),
        (
            Method::POST,
            format!("/api/v1/livechat/sessions/{s}/messages"),
        ),
        (Method::POST, format!("/api/v1/livechat/sessions/{s}/pages")),
        (
            Method::GET,
            format!("/api/v1/livechat/sessions/{s}/history"),
        ),
        (Method::POST, format!("/api/v1/livechat/sessions/{s}/close")),
        (Method::POST, format!("/api/v1/livechat/sessions/{s}/join")),
        (Method::GET, format!("/api/v1/livechat/sessions/{s}/rating")),
        (
            Method::POST,
            format!("/api/v1/livechat/sessions/{s}/rating"),
        ),
        (
            Method::PUT,
            format!("/api/v1/livechat/sessions/{s}/rating/visibility"),
        ),
        (Method::GET, format!("/api/v1/livechat/sessions/{s}/events")),
        (Method::GET, "/api/v1/livechat/operator/events".into()),
        (Method::POST, "/api/v1/livechat/chatbots".into()),
        (Method::GET, "/api/v1/livechat/chatbots".into()),
        (Method::GET, format!("/api/v1/livechat/chatbots/{id}")),
        (Method::PUT, format!("/api/v1/livechat/chatbots/{id}")),
        (Method::DELETE, format!("/api/v1/livechat/chatbots/{id}")),
        (Method::POST, format!("/api/v1/livechat/chatbots/{id}/test")),
        (Method::GET, "/api/v1/livechat/reports/sessions".into()),
        (
            Method::GET,
            format!("/api/v1/livechat/reports/sessions/{s}/transcript"),
        ),
        (Method::GET, "/api/v1/livechat/reports/stats".into()),
        (Method::GET, "/api/v1/livechat/reports/operators".into()),
        (Method::GET, "/api/v1/livechat/reports/ratings".into()),
        (
            Method::GET,
            "/api/v1/livechat/reports/ratings/shares".into(),
        ),
        (Method::GET, "/api/v1/livechat/visitors/v1/export".into()),
        (Method::DELETE, "/api/v1/livechat/visitors/v1".into()),
    ];
    for (method, path) in routes {
        for token in [
            None,
            Some("op_not-a-token"),
            Some("vs_nothing_here"),
            Some("wrong"),
        ] {
            let (status, body) = shop
                .call(token, method.clone(), &path, Some(json!({})))
                .await
                .unwrap();
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
}
