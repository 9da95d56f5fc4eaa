//! A website owner sets the live chat up with nothing but the `ochat livechat` command: a
//! channel with its operator, its rules, canned responses shared with a group, and the snippet
//! to paste, with the real binary talking to a real node through its data folder (API address
//! and admin token). Mistakes get a clear error, a non-zero exit, and change nothing; every
//! command and flag has help text. Operators and groups: `livechat_cli_operators.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use clap::CommandFactory;
use ochat_tests::livechat_cli::{Cli, call_as, login_token};
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_up_a_channel_with_rules_canned_responses_and_the_snippet() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let cli = Cli::new(&node.data_dir);
    cli.ok_with(
        &[
            "livechat",
            "operator",
            "create",
            "Ann",
            "--login",
            "ann",
            "--password-stdin",
        ],
        Some("ann-password\n"),
    )
    .unwrap();
    let bot = node
        .ok(
            Method::POST,
            "/api/v1/livechat/chatbots",
            Some(json!({"name": "Greeter", "steps": [{"type": "text", "message": "Hello"}]})),
        )
        .await
        .unwrap();

    // The channel, with Ann as its operator.
    let out = cli.ok(&["livechat", "channel", "list"]).unwrap();
    assert!(out.contains("No live chat channels"), "{out}");
    let channel = cli
        .json(&[
            "livechat",
            "channel",
            "create",
            "Website",
            "--operator",
            "ann",
            "--button-text",
            "Questions?",
            "--button-color",
            "#112233",
            "--max-sessions",
            "3",
            "--published",
            "true",
        ])
        .unwrap();
    let id = channel["id"].as_str().unwrap().to_string();
    assert_eq!(channel["button_text"], "Questions?");
    assert_eq!(channel["max_sessions_per_operator"], 3);
    assert_eq!(channel["published"], true);
    assert_eq!(channel["operators"].as_array().unwrap().len(), 1);
    let list = cli.json(&["livechat", "channel", "list"]).unwrap();
    assert_eq!(list[0]["name"], "Website");
    let changed = cli
        .json(&[
            "livechat",
            "channel",
            "update",
            "Website",
            "--welcome-message",
            "Hi there!",
        ])
        .unwrap();
    assert_eq!(changed["welcome_message"], "Hi there!");
    assert_eq!(
        changed["button_text"], "Questions?",
        "what is not named stays"
    );

    // Rules: one for Belgian visitors on pricing pages with the chatbot, one hiding on /admin.
    let rule = cli
        .json(&[
            "livechat",
            "rule",
            "create",
            "Website",
            "--url-regex",
            "/pricing",
            "--action",
            "auto-open",
            "--auto-open-after",
            "5",
            "--country",
            "be",
            "--chatbot",
            "Greeter",
            "--chatbot-condition",
            "only-if-no-operator",
            "--sequence",
            "10",
        ])
        .unwrap();
    assert_eq!(rule["action"], "auto_open");
    assert_eq!(rule["countries"], json!(["BE"]));
    assert_eq!(rule["chatbot_id"], bot["id"]);
    assert_eq!(rule["chatbot_condition"], "only_if_no_operator");
    let rule_id = rule["id"].as_str().unwrap().to_string();
    cli.json(&[
        "livechat",
        "rule",
        "create",
        &id[..13],
        "--url-regex",
        "^https://[^/]+/admin",
        "--action",
        "hide",
        "--sequence",
        "20",
    ])
    .unwrap();
    let rules = cli.json(&["livechat", "rule", "list", "Website"]).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 2);
    assert_eq!(rules[0]["id"], rule_id.as_str(), "sorted by sequence");
    // An update by the rule's id prefix keeps what it does not name.
    let updated = cli
        .json(&[
            "livechat",
            "rule",
            "update",
            "Website",
            &rule_id[..],
            "--sequence",
            "30",
            "--no-chatbot",
        ])
        .unwrap();
    assert_eq!(updated["sequence"], 30);
    assert_eq!(updated["url_regex"], "/pricing");
    assert_eq!(updated["countries"], json!(["BE"]));
    assert!(updated["chatbot_id"].is_null());
    let rules = cli.json(&["livechat", "rule", "list", "Website"]).unwrap();
    assert_eq!(
        rules[1]["id"],
        rule_id.as_str(),
        "moved after the hide rule"
    );
    let shown = cli
        .ok(&["livechat", "rule", "show", "Website", &rule_id])
        .unwrap();
    assert!(shown.contains("URL regex:          /pricing"), "{shown}");
    let channel_text = cli.ok(&["livechat", "channel", "show", "Website"]).unwrap();
    assert!(
        channel_text.contains("operators:        Ann ("),
        "{channel_text}"
    );
    assert!(
        channel_text.contains("rules:            2"),
        "{channel_text}"
    );
    cli.ok(&["livechat", "rule", "delete", "Website", &rule_id])
        .unwrap();
    assert_eq!(
        cli.json(&["livechat", "rule", "list", "Website"])
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Canned responses, shared with a group; Ann can use it in her console.
    cli.json(&["livechat", "group", "create", "Support", "--member", "ann"])
        .unwrap();
    let canned = cli
        .json(&[
            "livechat",
            "canned",
            "create",
            ":hello",
            "Hello, how can I help?",
            "--group",
            "Support",
        ])
        .unwrap();
    assert_eq!(canned["shortcut"], "hello");
    let token = login_token(&node.api, "ann", "ann-password").await.unwrap();
    let (_, hers) = call_as(
        &node.api,
        &token,
        Method::GET,
        "/api/v1/livechat/canned/matches?q=hel",
        None,
    )
    .await
    .unwrap();
    assert_eq!(hers[0]["substitution"], "Hello, how can I help?");
    let list = cli.ok(&["livechat", "canned", "list"]).unwrap();
    assert!(
        list.contains(":hello") && list.contains("Hello, how can I help?"),
        "{list}"
    );
    let shown = cli.ok(&["livechat", "canned", "show", "hello"]).unwrap();
    assert!(shown.contains("shared:  Support"), "{shown}");
    cli.ok(&["livechat", "canned", "delete", "hello"]).unwrap();
    assert_eq!(
        cli.json(&["livechat", "canned", "list"]).unwrap(),
        json!([])
    );

    // The snippet to paste, and the link, at the API's address or the public one.
    let out = cli.ok(&["livechat", "snippet", "Website"]).unwrap();
    let loader = format!("{}/livechat/loader/{id}.js", node.api);
    assert!(
        out.contains(&format!("<script src=\"{loader}\" async></script>")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Direct chat link: {}/livechat/support/{id}",
            node.api
        )),
        "{out}"
    );
    let public = cli
        .json(&[
            "livechat",
            "snippet",
            "Website",
            "--public-url",
            "https://chat.shop.example/",
        ])
        .unwrap();
    assert_eq!(
        public["link"],
        format!("https://chat.shop.example/livechat/support/{id}")
    );
    assert_eq!(
        public["loader"],
        format!("https://chat.shop.example/livechat/loader/{id}.js")
    );
    let resp = reqwest::get(&loader).await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "the snippet's loader is served"
    );

    // Deleting the channel.
    cli.ok(&["livechat", "channel", "delete", "Website"])
        .unwrap();
    assert_eq!(
        cli.json(&["livechat", "channel", "list"]).unwrap(),
        json!([])
    );

    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_get_a_clear_error_a_failing_exit_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let cli = Cli::new(&node.data_dir);
    cli.json(&["livechat", "channel", "create", "Website"])
        .unwrap();

    let err = cli.fails(&["livechat", "snippet", "Webshop"]).unwrap();
    assert!(
        err.contains("no live chat channel matches \"Webshop\""),
        "{err}"
    );
    assert!(err.contains("ochat livechat channel list"), "{err}");
    let err = cli
        .fails(&["livechat", "channel", "delete", "Nope"])
        .unwrap();
    assert!(
        err.contains("no live chat channel matches \"Nope\""),
        "{err}"
    );

    // The node's own message for a bad regex, a bad country and an unknown language.
    let err = cli
        .fails(&[
            "livechat",
            "rule",
            "create",
            "Website",
            "--url-regex",
            "(unclosed",
        ])
        .unwrap();
    assert!(err.contains("invalid url_regex"), "{err}");
    let err = cli
        .fails(&[
            "livechat",
            "rule",
            "create",
            "Website",
            "--country",
            "Belgium",
        ])
        .unwrap();
    assert!(err.contains("two-letter ISO code"), "{err}");
    let err = cli
        .fails(&[
            "livechat",
            "rule",
            "create",
            "Website",
            "--chatbot",
            "Ghost",
        ])
        .unwrap();
    assert!(err.contains("no chatbot matches \"Ghost\""), "{err}");
    let err = cli
        .fails(&[
            "livechat",
            "operator",
            "create",
            "Eve",
            "--login",
            "eve",
            "--chat-language",
            "xx",
        ])
        .unwrap();
    assert!(err.contains("no terminal to ask the password on"), "{err}");
    let ran = cli
        .run_with(
            &[
                "livechat",
                "operator",
                "create",
                "Eve",
                "--login",
                "eve",
                "--password-stdin",
                "--chat-language",
                "xx",
            ],
            Some("eve-password\n"),
        )
        .unwrap();
    assert!(!ran.ok && ran.code == 1, "{ran:?}");
    assert!(
        ran.stderr.contains("xx"),
        "the node says which language: {}",
        ran.stderr
    );
    let err = cli
        .fails(&["livechat", "channel", "update", "Website"])
        .unwrap();
    assert!(err.contains("nothing to change"), "{err}");
    let err = cli
        .fails(&[
            "livechat",
            "snippet",
            "Website",
            "--public-url",
            "chat.example",
        ])
        .unwrap();
    assert!(err.contains("--public-url must start with http"), "{err}");

    // Nothing changed: one channel without rules, no users.
    let channel = cli
        .json(&["livechat", "channel", "show", "Website"])
        .unwrap();
    assert_eq!(channel["rules"], json!([]));
    assert_eq!(
        cli.json(&["livechat", "operator", "list"]).unwrap(),
        json!([])
    );

    node.stop().await.unwrap();
}

#[test]
fn every_livechat_command_and_flag_explains_itself() {
    let root = ochat_cli::args::Cli::command();
    let livechat = root
        .find_subcommand("livechat")
        .expect("ochat has a livechat command");
    let mut missing = Vec::new();
    let mut seen = 0;
    let mut stack = vec![(String::from("livechat"), livechat.clone())];
    while let Some((path, cmd)) = stack.pop() {
        seen += 1;
        if cmd.get_about().is_none() && path != "livechat" {
            missing.push(path.clone());
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
        }
    }
    assert!(missing.is_empty(), "without help text: {missing:?}");
    // channel, rule, operator, canned, group (each with its actions) and snippet.
    assert!(seen >= 25, "only {seen} commands");
    for group in ["channel", "rule", "operator", "canned", "group"] {
        let sub = livechat.find_subcommand(group).unwrap();
        for action in ["list", "show", "create"] {
            assert!(sub.find_subcommand(action).is_some(), "{group} {action}");
        }
    }
}
