//! Visitors the website already knows: the shop's backend signs its logged-in customer's
//! identity with the channel's secret; the widget passes it on; the operator sees a verified
//! customer with name and email. Wrong, stale, foreign or rotated signatures stay unverified
//! claims and never enter the verified customer's history.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::{ChatNode, Operator, Visit};
use ochat_tests::livechat_identity::{make_secret, now_s, signed_claim};
use reqwest::Method;
use serde_json::{Value, json};

const PAGE: &str = "https://shop.example.test/account";

async fn shop(dir: &std::path::Path) -> (ChatNode, Operator, String) {
    let shop = ChatNode::start(&dir.join("shop"), Arc::new(TestClock::new()))
        .await
        .unwrap();
    let ann = shop
        .operator("ann", json!({"chat_name": "Ann", "language": "en"}))
        .await
        .unwrap();
    let channel = shop.channel("Website", &[&ann], json!({})).await.unwrap();
    (shop, ann, channel)
}

/// A visitor of `browser` opens the chat with `identity` (or none) in the start body.
async fn visit_as(shop: &ChatNode, channel: &str, browser: &str, identity: Value) -> Visit {
    let (status, answer) = shop
        .visit_body(
            channel,
            json!({"page_url": PAGE, "visitor_id": browser, "identity": identity}),
            "en",
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{answer}");
    Visit {
        session: answer["session"]["id"].as_str().unwrap().to_string(),
        token: answer["token"].as_str().unwrap().to_string(),
        answer,
    }
}

async fn session_as(shop: &ChatNode, token: &str, id: &str) -> Value {
    shop.ok(
        token,
        Method::GET,
        &format!("/api/v1/livechat/sessions/{id}"),
        None,
    )
    .await
    .unwrap()
}

async fn history_ids(shop: &ChatNode, ann: &Operator, id: &str) -> Vec<String> {
    let list = shop
        .ok(
            &ann.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions/{id}/visitor_history"),
            None,
        )
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signed_by_the_shop_is_verified_and_the_operator_sees_who_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (shop, ann, channel) = shop(tmp.path()).await;

    // The admin makes the channel's secret; only the admin can read it again.
    let secret = make_secret(&shop, &channel).await.unwrap();
    assert_eq!(secret.len(), 64, "32 random bytes in hex");
    let path = format!("/api/v1/livechat/channels/{channel}/identity_secret");
    let again = shop.admin(Method::GET, &path, None).await.unwrap();
    assert_eq!(again["secret"], secret.as_str());
    let (status, _) = shop
        .call(Some(&ann.token), Method::GET, &path, None)
        .await
        .unwrap();
    assert_eq!(status, 403, "an operator never reads the secret");

    // The shop's backend signs Ada's identity; the widget passes it on at the start.
    let claim = signed_claim(
        &secret,
        &channel,
        now_s(&shop),
        "customer-42",
        "Ada Lovelace",
        "ada@example.com",
    );
    let ada = visit_as(&shop, &channel, "browser-ada", claim).await;

    // The widget-facing answer says the identity was verified.
    let mine = &ada.answer["session"]["identity"];
    assert_eq!(mine["verified"], true, "{}", ada.answer);
    assert_eq!(mine["external_id"], "customer-42");

    // The operator sees a verified customer with name and email.
    let seen = session_as(&shop, &ann.token, &ada.session).await;
    assert_eq!(seen["identity"]["verified"], true, "{seen}");
    assert_eq!(seen["identity"]["name"], "Ada Lovelace");
    assert_eq!(seen["identity"]["email"], "ada@example.com");
    assert!(seen["identity"]["problem"].is_null());
    let listed = shop
        .ok(
            &ann.token,
            Method::GET,
            &format!("/api/v1/livechat/sessions?channel={channel}"),
            None,
        )
        .await
        .unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == ada.session.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["identity"]["name"], "Ada Lovelace");

    // A visitor whose page sends nothing has no identity at all.
    let anonymous = visit_as(&shop, &channel, "browser-anon", Value::Null).await;
    assert!(anonymous.answer["session"]["identity"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_stale_foreign_and_rotated_signatures_stay_unverified_and_out_of_the_customers_history()
 {
    let tmp = tempfile::tempdir().unwrap();
    let (shop, ann, channel) = shop(tmp.path()).await;
    let other = shop
        .channel("Other site", &[&ann], json!({}))
        .await
        .unwrap();
    let old_secret = make_secret(&shop, &channel).await.unwrap();
    let other_secret = make_secret(&shop, &other).await.unwrap();
    let now = now_s(&shop);
    let ada = |secret: &str, at: u64| {
        signed_claim(
            secret,
            &channel,
            at,
            "customer-42",
            "Ada",
            "ada@example.com",
        )
    };

    // Ada's first chat, signed by the shop: verified.
    let first = visit_as(&shop, &channel, "browser-ada", ada(&old_secret, now)).await;
    assert_eq!(first.answer["session"]["identity"]["verified"], true);

    // Eve, on her own browser, claims to be Ada in every wrong way.
    let mut forged = ada(&old_secret, now);
    forged["signature"] = json!("00".repeat(32));
    let mut unsigned = ada(&old_secret, now);
    unsigned.as_object_mut().unwrap().remove("signature");
    let mut altered = ada(&old_secret, now);
    altered["email"] = json!("eve@example.com");
    let cases = [
        ("a made-up signature", forged, "bad_signature"),
        ("no signature", unsigned, "unsigned"),
        ("an altered email", altered, "bad_signature"),
        (
            "a signature 11 minutes old",
            ada(&old_secret, now - 660),
            "stale",
        ),
        (
            "a signature from the future",
            ada(&old_secret, now + 600),
            "future",
        ),
        (
            "the other channel's secret",
            ada(&other_secret, now),
            "bad_signature",
        ),
    ];
    let mut eve_sessions = Vec::new();
    for (what, claim, problem) in cases {
        let eve = visit_as(&shop, &channel, "browser-eve", claim).await;
        let identity = session_as(&shop, &ann.token, &eve.session).await["identity"].clone();
        assert_eq!(identity["verified"], false, "{what}: {identity}");
        assert_eq!(identity["problem"], problem, "{what}: {identity}");
        // The claim is still shown (as unverified) to the operator.
        assert_eq!(identity["external_id"], "customer-42", "{what}");
        eve_sessions.push(eve.session);
    }

    // The admin rotates the secret: the old one's signatures no longer verify.
    let new_secret = make_secret(&shop, &channel).await.unwrap();
    assert_ne!(new_secret, old_secret);
    let stale_key = visit_as(&shop, &channel, "browser-eve", ada(&old_secret, now)).await;
    let identity = &stale_key.answer["session"]["identity"];
    assert_eq!(identity["verified"], false, "{identity}");
    assert_eq!(identity["problem"], "bad_signature");
    eve_sessions.push(stale_key.session);

    // Ada comes back, signed with the new secret: verified, and her history holds her first
    // chat and none of Eve's claims.
    let second = visit_as(&shop, &channel, "browser-ada", ada(&new_secret, now)).await;
    assert_eq!(second.answer["session"]["identity"]["verified"], true);
    assert_eq!(
        history_ids(&shop, &ann, &second.session).await,
        vec![first.session.clone()]
    );

    // Eve's history (her browser's unverified chats) never shows Ada's verified ones.
    let eve_history = history_ids(&shop, &ann, &eve_sessions[0]).await;
    assert_eq!(eve_history.len(), eve_sessions.len() - 1, "{eve_history:?}");
    assert!(!eve_history.contains(&first.session));
    assert!(!eve_history.contains(&second.session));

    // Even on Ada's own browser, an unsigned claim is not linked to her verified chats.
    let careless = visit_as(
        &shop,
        &channel,
        "browser-ada",
        json!({"id": "customer-42", "name": "Ada"}),
    )
    .await;
    assert!(history_ids(&shop, &ann, &careless.session).await.is_empty());
    assert_eq!(
        history_ids(&shop, &ann, &second.session).await,
        vec![first.session.clone()]
    );

    // Without a secret nothing verifies any more.
    let path = format!("/api/v1/livechat/channels/{channel}/identity_secret");
    shop.admin(Method::DELETE, &path, None).await.unwrap();
    let after = visit_as(&shop, &channel, "browser-ada", ada(&new_secret, now)).await;
    assert_eq!(after.answer["session"]["identity"]["problem"], "no_secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_claim_is_refused_with_a_clear_error_and_opens_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (shop, ann, channel) = shop(tmp.path()).await;
    for (claim, says) in [
        (json!({"id": ""}), "id"),
        (json!({"id": "x", "name": "Ada\nAdmin"}), "line breaks"),
        (json!({"id": "x".repeat(201)}), "id"),
    ] {
        let (status, answer) = shop
            .visit_body(
                &channel,
                json!({"page_url": PAGE, "visitor_id": "b", "identity": claim}),
                "en",
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let open = shop
        .ok(&ann.token, Method::GET, "/api/v1/livechat/sessions", None)
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 0, "{open}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_manages_the_secret_from_the_command_line() {
    use ochat_tests::livechat_cli::Cli;
    let tmp = tempfile::tempdir().unwrap();
    let (shop, _ann, channel) = shop(tmp.path()).await;
    let cli = Cli::new(&shop.node.data_dir);

    // No secret yet: the CLI says how to make one.
    let error = cli
        .fails(&["livechat", "identity-secret", "Website"])
        .unwrap();
    assert!(error.contains("--rotate"), "{error}");

    // Made, printed again, and it verifies what the website signs with it.
    let made = cli
        .ok(&["livechat", "identity-secret", "Website", "--rotate"])
        .unwrap();
    let secret = made.lines().last().unwrap().trim().to_string();
    let shown = cli
        .json(&["livechat", "identity-secret", "Website"])
        .unwrap();
    assert_eq!(shown["secret"], secret.as_str());
    let claim = signed_claim(
        &secret,
        &channel,
        now_s(&shop),
        "c-7",
        "Bo",
        "bo@example.com",
    );
    let bo = visit_as(&shop, &channel, "browser-bo", claim).await;
    assert_eq!(bo.answer["session"]["identity"]["verified"], true);

    // Removed: nothing verifies.
    cli.ok(&["livechat", "identity-secret", "Website", "--remove"])
        .unwrap();
    let claim = signed_claim(
        &secret,
        &channel,
        now_s(&shop),
        "c-7",
        "Bo",
        "bo@example.com",
    );
    let again = visit_as(&shop, &channel, "browser-bo", claim).await;
    assert_eq!(again.answer["session"]["identity"]["verified"], false);
}
