//! Live chat under load: 200 visitors chat at once with 5 operators, and every message reaches
//! the other side exactly once, counted over the WebSockets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::join_all;
use ochat_node::livechat::TestClock;
use ochat_node::livechat::limits::VisitorLimits;
use ochat_tests::livechat::{ChatNode, Visit};
use serde_json::json;

const VISITORS: usize = 200;
const OPERATORS: usize = 5;
const QUESTIONS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_visitors_and_five_operators_each_message_arrives_once() {
    let tmp = tempfile::tempdir().unwrap();
    let shop = Arc::new(
        // 200 visitors, all from 127.0.0.1: the per-address limit is raised for them.
        ChatNode::start_with(&tmp.path().join("shop"), Arc::new(TestClock::new()), |c| {
            c.livechat.visitor_limits = Some(VisitorLimits {
                sessions_per_address: 1_000,
                ..VisitorLimits::default()
            });
        })
        .await
        .unwrap(),
    );
    let mut ops = Vec::new();
    for i in 0..OPERATORS {
        ops.push(
            shop.operator(&format!("op{i}"), json!({"language": "en"}))
                .await
                .unwrap(),
        );
    }
    let channel = shop
        .channel("Website", &ops.iter().collect::<Vec<_>>(), json!({}))
        .await
        .unwrap();
    let mut op_sockets = Vec::new();
    for op in &ops {
        op_sockets.push(
            shop.socket("/api/v1/livechat/operator/events", &op.token)
                .await
                .unwrap(),
        );
    }

    // 200 visitors start chats and open their sockets.
    let visits: Vec<Visit> = futures::stream::iter(0..VISITORS)
        .map(|i| {
            let shop = shop.clone();
            let channel = channel.clone();
            async move {
                shop.visit(&channel, &format!("/shop/{i}"), "en", None, None)
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let owner: HashMap<String, String> = visits
        .iter()
        .map(|v| (v.session.clone(), ChatNode::operator_of(v)))
        .collect();
    let mut per_op: HashMap<&str, usize> = HashMap::new();
    for o in owner.values() {
        *per_op.entry(o.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_op.len(),
        OPERATORS,
        "every operator got visitors: {per_op:?}"
    );
    assert!(
        per_op.values().all(|n| *n == VISITORS / OPERATORS),
        "least busy spreads evenly: {per_op:?}"
    );

    let mut visitor_sockets = Vec::new();
    for v in &visits {
        visitor_sockets.push(
            shop.socket(
                &format!("/api/v1/livechat/sessions/{}/events", v.session),
                &v.token,
            )
            .await
            .unwrap(),
        );
    }

    // Operators answer every visitor message they receive, once.
    let operators = ops.iter().zip(op_sockets).map(|(op, mut ws)| {
        let shop = shop.clone();
        let owner = owner.clone();
        let op = op.clone();
        async move {
            let expected = owner.values().filter(|o| **o == op.id).count() * QUESTIONS;
            let mut seen = HashSet::new();
            while seen.len() < expected {
                let e = ws
                    .until(|e| e["type"] == "message" && e["message"]["author"] == "visitor")
                    .await
                    .unwrap();
                let sid = e["session_id"].as_str().unwrap().to_string();
                assert_eq!(owner[&sid], op.id, "a message reached the wrong operator");
                assert!(
                    seen.insert(e["message"]["id"].as_str().unwrap().to_string()),
                    "duplicate: {e}"
                );
                shop.say(
                    &op.token,
                    &sid,
                    &format!("answer to {}", e["message"]["text"].as_str().unwrap()),
                )
                .await
                .unwrap();
            }
            seen.len()
        }
    });
    // Visitors ask their questions, then wait for as many answers.
    let visitors = visits.iter().zip(visitor_sockets).map(|(v, mut ws)| {
        let shop = shop.clone();
        let v = v.clone();
        async move {
            for q in 0..QUESTIONS {
                shop.say(
                    &v.token,
                    &v.session,
                    &format!("question {q} from {}", v.session),
                )
                .await
                .unwrap();
            }
            let mut answers = HashSet::new();
            let mut own = HashSet::new();
            while answers.len() < QUESTIONS || own.len() < QUESTIONS {
                let e = ws.until(|e| e["type"] == "message").await.unwrap();
                assert_eq!(
                    e["session_id"],
                    v.session.as_str(),
                    "a message reached the wrong visitor"
                );
                let id = e["message"]["id"].as_str().unwrap().to_string();
                let fresh = if e["message"]["author"] == "operator" {
                    assert!(e["message"]["text"].as_str().unwrap().contains(&v.session));
                    answers.insert(id)
                } else {
                    own.insert(id)
                };
                assert!(fresh, "duplicate: {e}");
            }
            answers.len()
        }
    });
    let started = std::time::Instant::now();
    let (received_by_ops, received_by_visitors) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join(join_all(operators), join_all(visitors)),
    )
    .await
    .expect("all messages delivered in time");
    assert_eq!(received_by_ops.iter().sum::<usize>(), VISITORS * QUESTIONS);
    assert_eq!(
        received_by_visitors.iter().sum::<usize>(),
        VISITORS * QUESTIONS
    );
    eprintln!(
        "{} messages each way in {:?}",
        VISITORS * QUESTIONS,
        started.elapsed()
    );
}
