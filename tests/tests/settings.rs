//! An operator configures ochat without code: every setting of `ochat run` and `ochat directory
//! run` is a flag, an environment variable or a key of `ochat.toml`, in that order of
//! precedence; `ochat config show` tells what is in force and where it came from; a typo or a
//! bad value stops the start with the key and the reason. The lead webhook is signed with the
//! configured secret and checked by a real HTTP receiver; visitors' countries come from a real
//! MaxMind-format database. Completions and manual pages come from the same definition.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use ochat_tests::node::WAIT;
use ochat_tests::process::ochat;
use ochat_tests::settings::{
    Api, DirectoryProcess, ochat_with_env, run_until_exit, start_node, webhook_receiver,
    write_country_db,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const START: Duration = Duration::from_secs(60);
const SECRET: &str = "a-shared-secret-of-the-crm-2026";

fn show(args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = ochat_with_env(args, env).unwrap();
    assert!(
        out.status.success(),
        "config show failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn setting<'a>(shown: &'a Value, key: &str) -> &'a Value {
    shown["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("{key} is a setting"))
}

fn failure(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "the start was refused");
    assert_ne!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_flag_beats_a_variable_which_beats_the_file_which_beats_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("ochat.toml"),
        format!(
            "api_listen = \"127.0.0.1:7999\"\nsync_interval = 100\nretention_days = 30\n\
             token_idle_days = 3\ntrusted_proxies = [\"10.0.0.1\", \"192.168.0.0/16\"]\n\
             mdns = true\nwebhook_url = \"http://127.0.0.1:9/hook\"\n\
             webhook_secret = \"{SECRET}\"\nmax_pending_per_peer = 2\n"
        ),
    )
    .unwrap();
    let dir = data.to_str().unwrap();
    let shown = show(
        &[
            "config",
            "show",
            "--json",
            "-d",
            dir,
            "--retention-days",
            "7",
        ],
        &[
            ("OCHAT_SYNC_INTERVAL", "200"),
            ("OCHAT_RETENTION_DAYS", "20"),
        ],
    );
    assert_eq!(shown["command"], "run");
    assert_eq!(
        shown["file"],
        data.join("ochat.toml").display().to_string(),
        "ochat.toml in the data folder is read by default"
    );
    let expect = [
        ("retention_days", json!("7"), "flag"),
        ("sync_interval", json!("200"), "env"),
        ("api_listen", json!("127.0.0.1:7999"), "file"),
        ("token_idle_days", json!("3"), "file"),
        ("max_pending_per_peer", json!("2"), "file"),
        (
            "trusted_proxies",
            json!(["10.0.0.1", "192.168.0.0/16"]),
            "file",
        ),
        ("mdns", json!(true), "file"),
        ("give_up_after", json!("604800"), "default"),
        ("max_pending_incoming", json!("1000"), "default"),
        ("country_header", Value::Null, "default"),
    ];
    for (key, value, source) in expect {
        let s = setting(&shown, key);
        assert_eq!(s["value"], value, "{key}");
        assert_eq!(s["source"], source, "{key}");
    }
    let secret = setting(&shown, "webhook_secret");
    assert_eq!(secret["value"], "<redacted>");
    assert_eq!(secret["env"], "OCHAT_WEBHOOK_SECRET");
    assert_eq!(
        setting(&shown, "http_body_timeout")["flag"],
        "--http-body-timeout"
    );

    // The text form says the same, is itself a settings file, and shows no secret either.
    let text = ochat_with_env(&["config", "show", "-d", dir], &[]).unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("api_listen = \"127.0.0.1:7999\"  # file"),
        "{text}"
    );
    assert!(text.contains("give_up_after = 604800  # default"), "{text}");
    let copy = tmp.path().join("copy.toml");
    std::fs::write(&copy, text.replace("<redacted>", SECRET)).unwrap();
    let again = show(
        &[
            "config",
            "show",
            "--json",
            "--config",
            copy.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(setting(&again, "api_listen")["value"], "127.0.0.1:7999");
    assert_eq!(setting(&again, "mdns")["value"], true);

    // --config names another file; OCHAT_CONFIG does too.
    let other = tmp.path().join("other.toml");
    std::fs::write(&other, "api_listen = \"127.0.0.1:7111\"\n").unwrap();
    let shown = show(
        &["config", "show", "--json", "-d", dir],
        &[("OCHAT_CONFIG", other.to_str().unwrap())],
    );
    assert_eq!(setting(&shown, "api_listen")["value"], "127.0.0.1:7111");
    assert_eq!(setting(&shown, "sync_interval")["source"], "default");
}

#[test]
fn the_directory_reads_its_own_settings_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("directory");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("ochat.toml"),
        "rate_limit_burst = 120\nno_p2p = true\nhttp_max_connections = 900\n",
    )
    .unwrap();
    let shown = show(
        &[
            "config",
            "show-directory",
            "--json",
            "-d",
            data.to_str().unwrap(),
        ],
        &[("OCHAT_TRUSTED_PROXIES", "127.0.0.1,::1")],
    );
    assert_eq!(shown["command"], "directory run");
    assert_eq!(setting(&shown, "rate_limit_burst")["value"], "120");
    assert_eq!(setting(&shown, "rate_limit_burst")["source"], "file");
    assert_eq!(setting(&shown, "no_p2p")["value"], true);
    assert_eq!(setting(&shown, "http_max_connections")["value"], "900");
    let proxies = setting(&shown, "trusted_proxies");
    assert_eq!(proxies["value"], json!(["127.0.0.1", "::1"]));
    assert_eq!(proxies["source"], "env");
    assert_eq!(setting(&shown, "listen")["env"], "OCHAT_DIRECTORY_LISTEN");

    // The running directory uses the file: its address, no libp2p node, and a rate limit of
    // two requests back to back.
    std::fs::write(
        data.join("ochat.toml"),
        "listen = \"127.0.0.1:0\"\nno_p2p = true\nrate_limit_burst = 2\nrate_limit_per_minute = 1\n",
    )
    .unwrap();
    let directory = DirectoryProcess::start(&["-d", data.to_str().unwrap()], START).unwrap();
    assert!(
        directory.url.starts_with("http://127.0.0.1:"),
        "{}",
        directory.url
    );
    let lookup = format!(
        "{}/v1/instances/018f2c7e-3b1a-7cde-8f01-23456789abcd",
        directory.url
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses: Vec<u16> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let r = client.get(&lookup).timeout(WAIT).send().await.unwrap();
            statuses.push(r.status().as_u16());
        }
        statuses
    });
    assert_eq!(
        statuses,
        [404, 404, 429],
        "two lookups, then the file's limit"
    );
    drop(directory);

    // A node key is not a directory key.
    std::fs::write(
        data.join("ochat.toml"),
        "webhook_url = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let out = run_until_exit(
        &["directory", "run", "-d", data.to_str().unwrap()],
        &[],
        START,
    )
    .unwrap();
    let err = failure(&out);
    assert!(err.contains("unknown key `webhook_url`"), "{err}");
}

#[test]
fn a_misspelt_key_stops_the_start_with_its_name_and_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("ochat.toml"),
        "webhok_url = \"https://crm.example/hook\"\n",
    )
    .unwrap();
    let out = run_until_exit(&["run", "-d", data.to_str().unwrap()], &[], START).unwrap();
    let err = failure(&out);
    assert!(err.contains("unknown key `webhok_url`"), "{err}");
    assert!(err.contains("did you mean `webhook_url`?"), "{err}");
    assert!(
        !data.join("admin.token").exists(),
        "nothing was created: the node never started"
    );
}

#[test]
fn a_bad_value_stops_the_start_with_the_key_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dir = data.to_str().unwrap();
    let cases = [
        (
            "http_body_timeout = 0\n",
            "`http_body_timeout`",
            "0 is not in 1..=3600",
        ),
        (
            "reachability = \"maybe\"\n",
            "`reachability`",
            "possible values",
        ),
        (
            "trusted_proxies = \"not-an-ip\"\n",
            "`trusted_proxies`",
            "not-an-ip",
        ),
        (
            "geoip_db = \"/nonexistent/countries.mmdb\"\n",
            "`geoip_db`",
            "No such file",
        ),
        (
            "webhook_url = \"ftp://crm.example/\"\n",
            "`webhook_url`",
            "http or https",
        ),
        (
            "retention_days = [1, 2]\n",
            "`retention_days`",
            "not a list",
        ),
        ("mdns = \"yes\"\n", "`mdns`", "true or false"),
        (
            "[livechat]\nretention_days = 3\n",
            "`livechat`",
            "top-level",
        ),
        ("api_listen = \n", "not valid TOML", ""),
    ];
    for (file, key, reason) in cases {
        std::fs::write(data.join("ochat.toml"), file).unwrap();
        let out = run_until_exit(&["run", "-d", dir], &[], START).unwrap();
        let err = failure(&out);
        assert!(err.contains(key), "{file}: {err}");
        assert!(err.contains(reason), "{file}: {err}");
    }
    std::fs::remove_file(data.join("ochat.toml")).unwrap();

    // A variable's bad value is reported with the variable's name.
    let out = run_until_exit(
        &["run", "-d", dir],
        &[("OCHAT_LIVECHAT_SESSIONS_PER_ADDRESS", "many")],
        START,
    )
    .unwrap();
    let err = failure(&out);
    assert!(
        err.contains("environment variable OCHAT_LIVECHAT_SESSIONS_PER_ADDRESS"),
        "{err}"
    );
    // A secret without a URL to send it to is a mistake.
    let out = run_until_exit(
        &["run", "-d", dir],
        &[("OCHAT_WEBHOOK_SECRET", SECRET)],
        START,
    )
    .unwrap();
    let err = failure(&out);
    assert!(err.contains("webhook_url is not"), "{err}");
    assert!(!data.join("admin.token").exists(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_reaches_the_webhook_signed_with_the_configured_secret() {
    let (url, mut hooks) = webhook_receiver().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shop");
    std::fs::create_dir_all(&data).unwrap();
    // The URL in the file, the secret in the environment (as a service manager would pass it).
    std::fs::write(
        data.join("ochat.toml"),
        format!("webhook_url = \"{url}\"\n"),
    )
    .unwrap();
    let node = start_node(&data, &[], &[("OCHAT_WEBHOOK_SECRET", SECRET)], START).unwrap();
    let api = Api::of(&node).unwrap();
    let (ann, channel) = api.operator_and_channel("ann").await.unwrap();
    let visit = api.visit(&channel, &[]).await.unwrap();
    let session = visit["session"]["id"].as_str().unwrap();
    let lead = api
        .ok(
            &ann,
            Method::POST,
            &format!("/api/v1/livechat/sessions/{session}/messages"),
            Some(json!({"text": "/lead Oak chairs for a restaurant"})),
        )
        .await
        .unwrap();
    assert_eq!(
        lead["text"],
        "Created a new lead #1: Oak chairs for a restaurant"
    );

    let hook = tokio::time::timeout(WAIT, hooks.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["kind"], "lead");
    assert_eq!(body["record"]["title"], "Oak chairs for a restaurant");
    // The receiver recomputes the HMAC over the bytes it got, with the secret it shares.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&hook.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hook.signature.as_deref(), Some(expected.as_str()));
    // A receiver with another secret would refuse it.
    let mut wrong = <Hmac<Sha256> as KeyInit>::new_from_slice(b"another-secret-entirely").unwrap();
    wrong.update(&hook.body);
    assert_ne!(
        hook.signature.as_deref(),
        Some(format!("sha256={}", hex::encode(wrong.finalize().into_bytes())).as_str())
    );
    node.terminate(WAIT).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_countries_come_from_the_configured_geoip_database_and_header() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("countries.mmdb");
    write_country_db(&db, &[("203.0.113.0/24", "DE"), ("198.51.100.0/24", "FR")]).unwrap();
    let data = tmp.path().join("shop");
    std::fs::create_dir_all(&data).unwrap();
    // The proxy in front (played by the test on 127.0.0.1) is trusted; it names the visitor
    // in X-Forwarded-For and may tell the country in a header.
    std::fs::write(
        data.join("ochat.toml"),
        "trusted_proxies = [\"127.0.0.1\"]\ncountry_header = \"X-Visitor-Country\"\n",
    )
    .unwrap();
    let node = start_node(
        &data,
        &[],
        &[("OCHAT_GEOIP_DB", db.to_str().unwrap())],
        START,
    )
    .unwrap();
    let api = Api::of(&node).unwrap();
    let (_ann, channel) = api.operator_and_channel("ann").await.unwrap();

    let berlin = api
        .visit(&channel, &[("x-forwarded-for", "203.0.113.7")])
        .await
        .unwrap();
    assert_eq!(berlin["session"]["country"], "DE");
    let paris = api
        .visit(&channel, &[("x-forwarded-for", "198.51.100.9")])
        .await
        .unwrap();
    assert_eq!(paris["session"]["country"], "FR");
    let unknown = api
        .visit(&channel, &[("x-forwarded-for", "192.0.2.1")])
        .await
        .unwrap();
    assert_eq!(unknown["session"]["country"], Value::Null);
    // The proxy's header wins over the database.
    let told = api
        .visit(
            &channel,
            &[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-visitor-country", "jp"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(told["session"]["country"], "JP");
    node.terminate(WAIT).unwrap();
}

#[test]
fn completions_and_the_manual_page_name_every_command() {
    let commands = ["run", "directory", "config", "connect", "chatbot", "report"];
    for shell in ["bash", "zsh", "fish"] {
        let out = ochat(&["completions", shell]).unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for command in commands {
            assert!(script.contains(command), "{shell} completes {command}");
        }
        assert!(
            script.contains("webhook-secret"),
            "{shell} completes the flags"
        );
    }
    let out = ochat(&["man"]).unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH ochat"),
        "{page}"
    );
    for command in commands {
        assert!(page.contains(command), "the page names {command}");
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = ochat(&["man", "--out-dir", dir.to_str().unwrap()]).unwrap();
    assert!(out.status.success());
    let run = std::fs::read_to_string(dir.join("ochat-run.1")).unwrap();
    assert!(
        run.contains("webhook\\-url") || run.contains("webhook-url"),
        "{run}"
    );
    assert!(
        run.contains("OCHAT_WEBHOOK_URL"),
        "the page names the variables"
    );
    assert!(dir.join("ochat-directory-run.1").exists());
}
