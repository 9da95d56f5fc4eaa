//! Account and socket security (issue 25, items 2, 5 and 7, and tokens in URLs): password
//! guessing is locked out, unknown logins cost what known ones cost, parallel logins do not
//! eat the node's memory; revoked, logged-out and expired tokens lose their open sockets; a
//! query token works only to open a socket; a socket message over 64 KiB closes it with 1009.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use ochat_node::livechat::TestClock;
use ochat_tests::accounts::{
    ChatProcess, Ended, RssPeak, ended_within, login, next_event, socket, socket_by_protocol,
};
use ochat_tests::livechat::ChatNode;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Tests that measure time or memory run one at a time.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

async fn shop(dir: &std::path::Path) -> ChatNode {
    ChatNode::start(&dir.join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_a_login_with_429_until_the_window_has_passed() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let http = reqwest::Client::new();
    let api = shop.node.api.clone();
    shop.operator("ann", json!({})).await.unwrap();

    // Someone guesses Ann's password: five wrong answers are plain 401s...
    for i in 1..=5 {
        let a = login(&http, &api, "ann", &format!("guess-{i}"))
            .await
            .unwrap();
        assert_eq!(a.status, 401, "guess {i}: {:?}", a.body);
    }
    // ...then the login is locked: 429 with the seconds to wait, even for the right password.
    let locked = login(&http, &api, "ann", "guess-6").await.unwrap();
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    assert_eq!(locked.body["error"]["code"], "too_many_requests");
    let wait = locked.retry_after.expect("a 429 says when to retry");
    assert!((1..=15 * 60).contains(&wait), "Retry-After {wait}");
    let right = login(&http, &api, "ann", "pw-ann").await.unwrap();
    assert_eq!(
        right.status, 429,
        "the right password waits too while locked"
    );
    assert!(right.retry_after.is_some());

    // Other people still log in from the same place.
    shop.operator("bob", json!({})).await.unwrap();

    // Once the lock has passed, Ann's right password works again.
    shop.clock.advance_ms(wait * 1000 + 1000);
    let right = login(&http, &api, "ann", "pw-ann").await.unwrap();
    assert_eq!(right.status, 200, "{:?}", right.body);

    // A login nobody has is locked the same way (a lock would otherwise tell who exists).
    for _ in 0..5 {
        assert_eq!(login(&http, &api, "nobody", "x").await.unwrap().status, 401);
    }
    let a = login(&http, &api, "nobody", "x").await.unwrap();
    assert_eq!(a.status, 429);
    assert!(a.retry_after.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_failures_from_one_address_lock_it_for_every_login() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let http = reqwest::Client::new();
    let api = shop.node.api.clone();
    shop.operator("bob", json!({})).await.unwrap();

    // Thirty wrong logins spread over thirty names, from one address.
    for i in 0..30 {
        let a = login(&http, &api, &format!("name-{i}"), "x").await.unwrap();
        assert_eq!(a.status, 401, "try {i}: {:?}", a.body);
    }
    let a = login(&http, &api, "bob", "pw-bob").await.unwrap();
    assert_eq!(a.status, 429, "the address is locked: {:?}", a.body);
    let wait = a.retry_after.expect("Retry-After");
    shop.clock.advance_ms(wait * 1000 + 1000);
    assert_eq!(
        login(&http, &api, "bob", "pw-bob").await.unwrap().status,
        200
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_login_takes_as_long_as_a_wrong_password_for_a_real_one() {
    let _heavy = HEAVY.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let http = reqwest::Client::new();
    let api = shop.node.api.clone();
    shop.operator("ann", json!({})).await.unwrap();

    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..11 {
        // Past any lock window, so every try is really checked.
        shop.clock.advance_ms(16 * MINUTE_MS);
        let t = Instant::now();
        assert_eq!(
            login(&http, &api, "ann", "wrong").await.unwrap().status,
            401
        );
        known.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            login(&http, &api, &format!("nobody-{i}"), "wrong")
                .await
                .unwrap()
                .status,
            401
        );
        unknown.push(t.elapsed());
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64().max(1e-6);
    println!("median wrong password {known:?}, median unknown login {unknown:?}, ratio {ratio:.2}");
    assert!(
        (1.0 / 3.0..3.0).contains(&ratio),
        "a wrong password takes {known:?}, an unknown login {unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_six_parallel_wrong_logins_do_not_grow_the_nodes_memory() {
    let _heavy = HEAVY.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let node = ChatProcess::start(&tmp.path().join("node")).unwrap();
    node.operator_and_channel("ann").await.unwrap();
    let api = node.api().to_string();
    // Warm up: one wrong login for a known and an unknown name.
    assert_eq!(
        login(&node.http, &api, "ann", "x").await.unwrap().status,
        401
    );
    assert_eq!(
        login(&node.http, &api, "zed", "x").await.unwrap().status,
        401
    );

    let before = ochat_tests::accounts::rss_kib(Some(node.pid())).unwrap();
    let peak = RssPeak::start(Some(node.pid()));
    let tries = (0..256).map(|i| {
        let http = node.http.clone();
        let api = api.clone();
        async move {
            let name = if i % 2 == 0 {
                "ann".to_string()
            } else {
                format!("guess-{i}")
            };
            login(&http, &api, &name, &format!("wrong-{i}")).await
        }
    });
    let answers = futures::future::join_all(tries).await;
    let peak = peak.finish();
    let grew_mib = peak.saturating_sub(before) / 1024;
    let mut refused = 0;
    for a in answers {
        let a = a.unwrap();
        match a.status {
            401 => {}
            429 | 503 => {
                refused += 1;
                assert!(a.retry_after.is_some(), "{} without Retry-After", a.status);
            }
            other => panic!("a wrong login answered {other}: {:?}", a.body),
        }
    }
    println!(
        "RSS before {} MiB, peak {} MiB (+{grew_mib} MiB); {refused} of 256 told to retry",
        before / 1024,
        peak / 1024
    );
    assert!(grew_mib < 200, "the node grew by {grew_mib} MiB");
    assert!(refused > 0, "some logins are told to come back later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_an_operators_tokens_closes_their_open_sockets_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let api = shop.node.api.clone();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();

    let mut operator = socket(&api, "/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let mut events = socket(&api, "/api/v1/events", &ann.token).await.unwrap();
    let alice = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    // A conversation reaches its operator once the visitor writes.
    shop.say(&alice.token, &alice.session, "hello")
        .await
        .unwrap();
    let mut on_session = socket(
        &api,
        &format!("/api/v1/livechat/sessions/{}/events", alice.session),
        &ann.token,
    )
    .await
    .unwrap();
    loop {
        if next_event(&mut operator).await.unwrap()["type"] == "new_session" {
            break;
        }
    }

    // The admin revokes Ann's tokens (a lost laptop): every socket she had open closes.
    let revoked = shop
        .admin(
            Method::POST,
            &format!("/api/v1/users/{}/revoke_tokens", ann.id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1);
    for (name, ws) in [
        ("operator events", &mut operator),
        ("/api/v1/events", &mut events),
        ("session events", &mut on_session),
    ] {
        let ended = ended_within(ws, Duration::from_secs(1)).await;
        assert_eq!(ended.unwrap(), Ended::Closed(1008), "{name}");
    }
    // What is still written on the dead socket reaches nobody; a new visitor is not announced.
    let _ = operator
        .send(Message::Text(
            json!({"session_id": alice.session, "text": "still here"})
                .to_string()
                .into(),
        ))
        .await;
    if let Ok(bob) = shop.visit(&sales, "/", "en", None, None).await {
        shop.say(&bob.token, &bob.session, "anyone there?")
            .await
            .ok();
    }
    assert!(matches!(operator.next().await, None | Some(Err(_))));
    let transcript = shop
        .admin(
            Method::GET,
            &format!("/api/v1/livechat/sessions/{}/messages", alice.session),
            None,
        )
        .await
        .unwrap();
    assert!(!transcript.to_string().contains("still here"));
    let (status, _) = shop
        .call(Some(&ann.token), Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_or_changing_the_password_closes_the_tokens_sockets() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let http = reqwest::Client::new();
    let api = shop.node.api.clone();
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    // Ann is signed in twice (office and home).
    let home = login(&http, &api, "ann", "pw-ann").await.unwrap().body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut office_ws = socket(&api, "/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    let mut home_ws = socket(&api, "/api/v1/livechat/operator/events", &home)
        .await
        .unwrap();

    // Logging out at the office closes the office socket only.
    let (status, _) = shop
        .call(Some(&ann.token), Method::POST, "/api/v1/logout", None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(
        ended_within(&mut office_ws, Duration::from_secs(1))
            .await
            .unwrap(),
        Ended::Closed(1008)
    );
    let visit = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    // A conversation reaches its operator once the visitor writes.
    shop.say(&visit.token, &visit.session, "hello")
        .await
        .unwrap();
    loop {
        if next_event(&mut home_ws).await.unwrap()["type"] == "new_session" {
            break;
        }
    }

    // The admin sets a new password: the home token and its socket go too.
    shop.admin(
        Method::PATCH,
        &format!("/api/v1/users/{}", ann.id),
        Some(json!({"password": "a-new-secret"})),
    )
    .await
    .unwrap();
    assert_eq!(
        ended_within(&mut home_ws, Duration::from_secs(1))
            .await
            .unwrap(),
        Ended::Closed(1008)
    );
    let (status, _) = shop
        .call(Some(&home), Method::GET, "/api/v1/users/me", None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(
        login(&http, &api, "ann", "pw-ann").await.unwrap().status,
        401
    );
    assert_eq!(
        login(&http, &api, "ann", "a-new-secret")
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_visitors_open_socket_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let alice = shop
        .visit(&sales, "/", "en", None, Some("visitor-alice"))
        .await
        .unwrap();
    let mut ws = socket(
        &shop.node.api,
        &format!("/api/v1/livechat/sessions/{}/events", alice.session),
        &alice.token,
    )
    .await
    .unwrap();
    shop.admin(
        Method::DELETE,
        "/api/v1/livechat/visitors/visitor-alice",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        ended_within(&mut ws, Duration::from_secs(1)).await.unwrap(),
        Ended::Closed(1008)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_tokens_expire_after_fourteen_idle_days_but_the_admin_token_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let me = |token: String| {
        let shop = &shop;
        async move {
            shop.call(Some(&token), Method::GET, "/api/v1/users/me", None)
                .await
                .unwrap()
                .0
        }
    };
    // Used every ten days, the token lives on.
    for _ in 0..3 {
        shop.clock.advance_ms(10 * DAY_MS);
        assert_eq!(me(ann.token.clone()).await, 200);
    }
    // Left alone for more than fourteen days, it expires.
    shop.clock.advance_ms(14 * DAY_MS + MINUTE_MS);
    assert_eq!(me(ann.token.clone()).await, 401);
    // The admin token from the data folder does not expire.
    shop.admin(Method::GET, "/api/v1/users", None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_token_is_accepted_only_to_open_a_websocket() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let alice = shop.visit(&sales, "/", "en", None, None).await.unwrap();

    for (path, method) in [
        (format!("/api/v1/users/me?token={}", ann.token), Method::GET),
        (
            format!("/api/v1/users?token={}", shop.node.token),
            Method::GET,
        ),
        (
            format!(
                "/api/v1/livechat/sessions/{}/messages?token={}",
                alice.session, alice.token
            ),
            Method::GET,
        ),
    ] {
        let (status, body) = shop.call(None, method, &path, None).await.unwrap();
        assert_eq!(status, 401, "{path}: {body}");
    }

    // Browsers cannot set headers on a WebSocket: there the query token still works.
    let mut ws = socket(
        &shop.node.api,
        "/api/v1/livechat/operator/events",
        &ann.token,
    )
    .await
    .unwrap();
    let visit = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    // A conversation reaches its operator once the visitor writes.
    shop.say(&visit.token, &visit.session, "hello")
        .await
        .unwrap();
    loop {
        if next_event(&mut ws).await.unwrap()["type"] == "new_session" {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_may_carry_its_token_in_the_subprotocol_instead_of_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = shop(tmp.path()).await;
    let ann = shop.operator("ann", json!({})).await.unwrap();
    let sales = shop.channel("Sales", &[&ann], json!({})).await.unwrap();
    let api = shop.node.api.clone();

    let (mut ws, chosen) = socket_by_protocol(&api, "/api/v1/livechat/operator/events", &ann.token)
        .await
        .unwrap();
    assert_eq!(
        chosen.as_deref(),
        Some("ochat"),
        "the token is never echoed"
    );
    let alice = shop.visit(&sales, "/", "en", None, None).await.unwrap();
    // A conversation reaches its operator once the visitor writes.
    shop.say(&alice.token, &alice.session, "hello")
        .await
        .unwrap();
    loop {
        if next_event(&mut ws).await.unwrap()["type"] == "new_session" {
            break;
        }
    }
    // The visitor's socket and the events socket take it the same way.
    let path = format!("/api/v1/livechat/sessions/{}/events", alice.session);
    let (mut visitor, _) = socket_by_protocol(&api, &path, &alice.token).await.unwrap();
    shop.say(&ann.token, &alice.session, "Hello Alice")
        .await
        .unwrap();
    loop {
        if next_event(&mut visitor).await.unwrap()["type"] == "message" {
            break;
        }
    }
    socket_by_protocol(&api, "/api/v1/events", &shop.node.token)
        .await
        .unwrap();
    // A wrong token there opens nothing.
    assert!(
        socket_by_protocol(&api, "/api/v1/livechat/operator/events", "op_00")
            .await
            .is_err()
    );
}

/// Sends `bytes` of text on a socket (in the background: the server may stop reading) and
/// answers how the socket ended.
async fn send_big(ws: ochat_tests::accounts::Ws, bytes: usize) -> Ended {
    let (mut sink, mut stream) = ws.split();
    let text = "x".repeat(bytes);
    let writer = tokio::spawn(async move {
        let _ = sink.send(Message::Text(text.into())).await;
        sink
    });
    let deadline = tokio::time::Instant::now() + ochat_tests::node::WAIT;
    let ended = loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the socket stayed open after a {bytes}-byte message"),
            Ok(Some(Ok(Message::Close(frame)))) => {
                break Ended::Closed(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => break Ended::Dropped,
        }
    };
    writer.abort();
    ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_message_over_64_kib_closes_the_socket_with_1009_and_the_node_stays_small() {
    let _heavy = HEAVY.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let node = ChatProcess::start(&tmp.path().join("node")).unwrap();
    let (ann, sales) = node.operator_and_channel("ann").await.unwrap();
    let (session, visitor) = node.visit(&sales).await.unwrap();
    let api = node.api().to_string();
    let visitor_path = format!("/api/v1/livechat/sessions/{session}/events");

    // A 1 MiB message on each kind of socket: closed with 1009 (message too big).
    for (path, token) in [
        (visitor_path.as_str(), visitor.as_str()),
        ("/api/v1/livechat/operator/events", ann.as_str()),
        ("/api/v1/events", node.admin.as_str()),
    ] {
        let ws = socket(&api, path, token).await.unwrap();
        assert_eq!(send_big(ws, 1 << 20).await, Ended::Closed(1009), "{path}");
    }
    // A message just under the limit is still read (and answered: it is not JSON).
    let mut ws = socket(&api, &visitor_path, &visitor).await.unwrap();
    ws.send(Message::Text("x".repeat(60 * 1024).into()))
        .await
        .unwrap();
    loop {
        if next_event(&mut ws).await.unwrap()["type"] == "error" {
            break;
        }
    }

    // Six visitor sockets sending 15 MiB each: the node does not buffer them.
    let before = ochat_tests::accounts::rss_kib(Some(node.pid())).unwrap();
    let peak = RssPeak::start(Some(node.pid()));
    let mut sockets = Vec::new();
    for _ in 0..6 {
        sockets.push(socket(&api, &visitor_path, &visitor).await.unwrap());
    }
    let ends =
        futures::future::join_all(sockets.into_iter().map(|ws| send_big(ws, 15 << 20))).await;
    let peak = peak.finish();
    let grew_mib = peak.saturating_sub(before) / 1024;
    println!(
        "RSS before {} MiB, peak {} MiB (+{grew_mib} MiB)",
        before / 1024,
        peak / 1024
    );
    assert!(ends.iter().all(|e| *e == Ended::Closed(1009)), "{ends:?}");
    assert!(grew_mib < 32, "the node grew by {grew_mib} MiB");
}
