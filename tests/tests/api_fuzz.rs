//! Fuzz-style: whatever JSON (or not-JSON) a visitor, an operator UI or a script sends to a
//! route that reads a body, the node answers 2xx or a 4xx with the API's error shape
//! (`{"error": {"code", "message"}}`), never a 5xx, and keeps serving. Random values are built
//! from the field names the API really uses, so many of them get past the first checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::sync::Arc;

use ochat_node::livechat::TestClock;
use ochat_tests::livechat::ChatNode;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Field names the API reads, and a few it does not.
const FIELDS: &[&str] = &[
    "remote_uuid",
    "send",
    "contact",
    "message",
    "text",
    "name",
    "login",
    "password",
    "operators",
    "url",
    "regex",
    "country",
    "countries",
    "action",
    "chatbot",
    "steps",
    "kind",
    "answers",
    "only_if",
    "shortcut",
    "content",
    "groups",
    "members",
    "visitor_id",
    "language",
    "languages",
    "expertise",
    "session_cap",
    "sequence",
    "auto_open_after",
    "page_url",
    "rating",
    "reason",
    "admin",
    "title",
    "email",
    "phone",
    "id",
    "zzz",
    "",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        ".{0,30}".prop_map(Value::String),
        "[a-z:/._-]{0,12}".prop_map(Value::String),
        Just(json!("00000000-0000-0000-0000-000000000000")),
        Just(json!("(a+)+$")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..7).prop_map(
                |pairs| {
                    let mut object = Map::new();
                    for (k, v) in pairs {
                        object.insert(k.to_string(), v);
                    }
                    Value::Object(object)
                }
            ),
        ]
    })
}

/// A body as sent: JSON, or raw bytes under a JSON content type.
#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        8 => value().prop_map(Body::Json),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Body::Raw),
    ]
}

/// Bodies that once broke, or could break, a JSON reader.
fn corpus() -> Vec<Body> {
    vec![
        Body::Raw(b"[".repeat(10_000)),
        Body::Raw(format!("{}1{}", "[".repeat(200), "]".repeat(200)).into_bytes()),
        Body::Raw(b"{\"name\": \"\xff\xfe\"}".to_vec()),
        Body::Raw(b"\xef\xbb\xbf{}".to_vec()),
        Body::Raw(b"{\"name\": \"a\", \"name\": \"b\"}".to_vec()),
        Body::Raw(b"1e99999".to_vec()),
        Body::Raw(b"{\"name\": \"\\ud800\"}".to_vec()),
        Body::Raw(b"".to_vec()),
        Body::Json(json!({"name": "x".repeat(100_000)})),
        Body::Json(json!({"steps": vec![json!({"kind": "text", "text": "hi"}); 5_000]})),
    ]
}

#[derive(Clone, Copy)]
enum Who {
    Admin,
    Nobody,
}

async fn send(node: &ChatNode, who: Who, method: Method, path: &str, body: &Body) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", node.node.api))
        .header("content-type", "application/json")
        .timeout(std::time::Duration::from_secs(20));
    if let Who::Admin = who {
        request = request.bearer_auth(&node.node.token);
    }
    request = match body {
        Body::Json(v) => request.body(serde_json::to_vec(v).unwrap()),
        Body::Raw(bytes) => request.body(bytes.clone()),
    };
    let answer = request.send().await.expect("the node stopped answering");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn well_formed(path: &str, body: &Body, status: u16, answer: &Value) -> Result<(), String> {
    // 503 is a documented answer of a visitor route ("nobody can take the chat now"), not a fault.
    let deliberate = status == 503
        && matches!(
            answer["error"]["code"].as_str(),
            Some("no_operator" | "busy")
        );
    if status >= 500 && !deliberate {
        return Err(format!("{path} answered {status} {answer} to {body:?}"));
    }
    if status >= 400 {
        let error = &answer["error"];
        if !(error["code"].is_string() && error["message"].is_string()) {
            return Err(format!(
                "{path} answered {status} without the error shape: {answer} to {body:?}"
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_makes_any_route_fail_or_answer_outside_the_error_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Arc::new(
        ChatNode::start(tmp.path(), Arc::new(TestClock::new()))
            .await
            .unwrap(),
    );
    let channel = node.channel("Support", &[], json!({})).await.unwrap();
    let routes: Vec<(Who, Method, String)> = vec![
        (Who::Admin, Method::POST, "/api/v1/connections".into()),
        (Who::Nobody, Method::POST, "/api/v1/login".into()),
        (Who::Admin, Method::POST, "/api/v1/users".into()),
        (Who::Admin, Method::POST, "/api/v1/livechat/groups".into()),
        (Who::Admin, Method::POST, "/api/v1/livechat/channels".into()),
        (
            Who::Admin,
            Method::PUT,
            format!("/api/v1/livechat/channels/{channel}"),
        ),
        (
            Who::Admin,
            Method::POST,
            format!("/api/v1/livechat/channels/{channel}/rules"),
        ),
        (Who::Admin, Method::POST, "/api/v1/livechat/canned".into()),
        (Who::Admin, Method::POST, "/api/v1/livechat/chatbots".into()),
        (
            Who::Nobody,
            Method::POST,
            format!("/api/v1/livechat/{channel}/sessions"),
        ),
        (
            Who::Nobody,
            Method::POST,
            format!("/api/v1/livechat/{channel}/check"),
        ),
    ];

    for body in corpus() {
        for (who, method, path) in &routes {
            let (status, answer) = send(&node, *who, method.clone(), path, &body).await;
            well_formed(path, &body, status, &answer).unwrap();
        }
    }

    let handle = tokio::runtime::Handle::current();
    let checked = tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&body(), |body| {
            for (who, method, path) in &routes {
                let (status, answer) =
                    handle.block_on(send(&node, *who, method.clone(), path, &body));
                well_formed(path, &body, status, &answer).map_err(TestCaseError::fail)?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    checked.unwrap();
}
