//! The API document: a UI team reads `GET /api/v1/openapi.json` (no token needed) and finds
//! every route the node serves, the three kinds of token, the error shape and the WebSocket
//! events; the document and the router cannot drift apart (both directions are checked); and
//! Schemathesis, run against a started node with the admin token, finds no server error and
//! no answer the document does not describe.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use ochat_tests::api_document::{
    concrete, document_routes, router_routes, run_schemathesis, schemathesis_command,
};
use ochat_tests::node::{TestNode, WAIT, test_config};
use reqwest::Method;
use serde_json::{Value, json};

async fn served_document(node: &TestNode) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", node.api))
        .timeout(WAIT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the document is public");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_ui_team_reads_the_document_without_a_token_and_finds_tokens_errors_and_events() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Docs", None))
        .await
        .unwrap();
    let doc = served_document(&node).await;
    assert_eq!(doc["openapi"], json!("3.1.0"));

    // The three kinds of token, all bearer tokens.
    let schemes = &doc["components"]["securitySchemes"];
    for kind in ["admin", "operator", "visitor"] {
        assert_eq!(schemes[kind]["type"], json!("http"), "{kind}");
        assert_eq!(schemes[kind]["scheme"], json!("bearer"), "{kind}");
    }
    // Admin-only routes say so; public ones take no token.
    let network = &doc["paths"]["/api/v1/network"]["get"];
    assert_eq!(network["security"], json!([{"admin": []}]));
    let start = &doc["paths"]["/api/v1/livechat/{channel}/sessions"]["post"];
    assert_eq!(start["security"], json!([{}]));

    // The error shape, and its answers on every operation.
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(
        error["properties"]["error"]["$ref"],
        json!("#/components/schemas/ErrorDetail")
    );
    let create = &doc["paths"]["/api/v1/connections"]["post"];
    for code in ["400", "401", "403", "409", "422", "500"] {
        assert_eq!(
            create["responses"][code]["content"]["application/json"]["schema"]["$ref"],
            json!("#/components/schemas/ErrorBody"),
            "{code}"
        );
    }
    let login = &doc["paths"]["/api/v1/login"]["post"];
    for code in ["401", "429", "503"] {
        assert!(login["responses"][code].is_object(), "login answers {code}");
    }

    // Request bodies come from the handlers' types.
    let body = &create["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let name = body.as_str().unwrap().rsplit('/').next().unwrap();
    let schema = &doc["components"]["schemas"][name];
    assert!(
        schema["required"]
            .as_array()
            .unwrap()
            .contains(&json!("remote_uuid"))
    );

    // Two handlers' bodies of the same Rust name stay two schemas.
    let schema_of = |path: &str| {
        let r = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        doc["components"]["schemas"][r].clone()
    };
    let chat_message = schema_of("/api/v1/livechat/sessions/{id}/messages");
    let channel_message = schema_of("/api/v1/channels/{id}/messages");
    assert!(chat_message["properties"]["answer_id"].is_object());
    assert!(channel_message["properties"]["answer_id"].is_null());

    // WebSocket routes describe their events.
    let events = &doc["paths"]["/api/v1/livechat/operator/events"]["get"]["responses"]["101"];
    assert!(
        events["description"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
    let event = &doc["components"]["schemas"]["LiveChatEvent"];
    let kinds: Vec<String> = event["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| {
            v["properties"]["type"]["enum"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for kind in ["new_session", "message", "closed", "typing", "lagged"] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }
    assert!(doc["paths"]["/api/v1/events"]["get"]["responses"]["101"].is_object());
    node.stop().await.unwrap();
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_document_and_every_documented_route_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Routes", None))
        .await
        .unwrap();
    let doc = served_document(&node).await;
    let documented = document_routes(&doc).unwrap();
    let routed = router_routes().unwrap();
    assert!(
        routed.len() > 60,
        "the source scan found the router: {routed:?}"
    );

    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the API document (annotate their handlers with \
         #[utoipa::path] and list them in api/openapi.rs): {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "the document lists routes the router does not have: {unrouted:?}"
    );

    // And the live router answers each documented operation itself (not the fallback's
    // "no such route", not 405).
    let http = reqwest::Client::new();
    for (method, template) in &documented {
        let path = concrete(template);
        let resp = http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", node.api),
            )
            .bearer_auth(&node.token)
            .timeout(WAIT)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}: {text}");
        assert!(
            !text.contains("no such route"),
            "{method} {path} fell through to the fallback: {status} {text}"
        );
    }
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    // Not installed is a failure, not a skip: CI installs it (.ci/run).
    schemathesis_command().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Fuzzed", None))
        .await
        .unwrap();
    // Something to find: an operator on duty, a live chat channel with a session, a canned
    // response, a chatbot, a draft connection. Their ids are given to Schemathesis so its cases
    // reach past the 404.
    let op = node
        .ok(
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": "Ann", "login": "ann", "password": "pw-ann-long-enough"})),
        )
        .await
        .unwrap();
    let user = op["id"].as_str().unwrap().to_string();
    node.ok(
        Method::POST,
        "/api/v1/login",
        Some(json!({"login": "ann", "password": "pw-ann-long-enough"})),
    )
    .await
    .unwrap();
    let channel = node
        .ok(
            Method::POST,
            "/api/v1/livechat/channels",
            Some(json!({"name": "Support", "operators": [user], "published": true})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let session = node
        .ok(
            Method::POST,
            &format!("/api/v1/livechat/{channel}/sessions"),
            Some(json!({"page_url": "https://shop.example/", "visitor_id": "visitor-1"})),
        )
        .await
        .unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let chatbot = node
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
    let connection = node
        .ok(
            Method::POST,
            "/api/v1/connections",
            Some(json!({"remote_uuid": "0190f3a2-7c3e-7000-8000-0000000000aa"})),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let known = [
        ("^/api/v1/livechat/channels/", "id", channel.as_str()),
        ("^/api/v1/livechat/public/channels/", "id", channel.as_str()),
        (
            "^/api/v1/livechat/\\{channel\\}/",
            "channel",
            channel.as_str(),
        ),
        ("^/livechat/support/", "channel", channel.as_str()),
        ("^/api/v1/livechat/sessions/", "id", session.as_str()),
        (
            "^/api/v1/livechat/reports/sessions/",
            "id",
            session.as_str(),
        ),
        ("^/api/v1/livechat/chatbots/", "id", chatbot.as_str()),
        ("^/api/v1/users/", "id", user.as_str()),
        ("^/api/v1/connections/", "id", connection.as_str()),
        (
            "^/api/v1/livechat/visitors/.*/export$",
            "visitor_id",
            "visitor-1",
        ),
    ];

    // 25 cases per operation keep the run near 30 s on two cores; a deeper run:
    // OCHAT_SCHEMATHESIS_EXAMPLES=500.
    let examples = std::env::var("OCHAT_SCHEMATHESIS_EXAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let reports = tmp.path().join("schemathesis");
    let run = run_schemathesis(
        &node.api,
        &node.token,
        examples,
        Duration::from_secs(if examples > 25 { 1800 } else { 170 }),
        &reports,
        &known,
    )
    .await
    .unwrap();
    println!("{}", run.output);
    assert!(run.passed, "Schemathesis found problems:\n{}", run.output);
    // The run reached the API (not, say, a wrong URL).
    assert!(run.output.contains("passed"), "{}", run.output);
    node.stop().await.unwrap();
}
