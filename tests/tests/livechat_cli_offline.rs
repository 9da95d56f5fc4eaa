//! A website owner gives the live chat office hours with nothing but `ochat livechat channel`:
//! a schedule in a time zone, holidays, the offline form and the language, shown back by
//! `channel show`; mistakes (no time zone, a bad slot) fail with a clear message and change
//! nothing; the real binary talks to a real node, whose widget check then says offline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_tests::livechat_cli::Cli;
use ochat_tests::livechat_offline::utc_days_around_now;
use ochat_tests::node::{TestNode, test_config};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_office_hours_holidays_and_the_offline_form_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let node = TestNode::start(test_config(tmp.path(), "Shop", None))
        .await
        .unwrap();
    let cli = Cli::new(&node.data_dir);

    // Hours need a time zone: nothing is created without one.
    let err = cli
        .fails(&[
            "livechat",
            "channel",
            "create",
            "Website",
            "--hours",
            "mon-fri 09:00-17:00",
        ])
        .unwrap();
    assert!(err.contains("--time-zone"), "{err}");
    let list = cli.json(&["livechat", "channel", "list"]).unwrap();
    assert_eq!(list, json!([]));

    let c = cli
        .json(&[
            "livechat",
            "channel",
            "create",
            "Website",
            "--time-zone",
            "Europe/Paris",
            "--hours",
            "mon-fri 09:00-17:00",
            "--hours",
            "sat 10:00-12:00",
            "--holiday",
            "2026-12-25",
            "--offline",
            "form",
            "--offline-record",
            "lead",
            "--default-language",
            "fr",
        ])
        .unwrap();
    assert_eq!(
        c["hours"],
        json!({"time_zone": "Europe/Paris",
               "weekly": ["mon-fri 09:00-17:00", "sat 10:00-12:00"],
               "holidays": ["2026-12-25"]})
    );
    assert_eq!(
        c["offline"],
        json!({"mode": "form", "when_no_operator": false, "record": "lead"})
    );
    assert_eq!(c["default_language"], "fr");
    let id = c["id"].as_str().unwrap().to_string();

    // A bad slot is refused with the node's reason; the channel keeps its hours.
    let err = cli
        .fails(&[
            "livechat",
            "channel",
            "update",
            "Website",
            "--hours",
            "mon 17:00-09:00",
        ])
        .unwrap();
    assert!(err.contains("closes after it opens"), "{err}");
    let shown = cli
        .json(&["livechat", "channel", "show", "Website"])
        .unwrap();
    assert_eq!(shown["hours"], c["hours"]);

    // Open all day every day, but today is a holiday: closed right now. The time zone and
    // the offline settings not named stay.
    let mut args = vec![
        "livechat",
        "channel",
        "update",
        "Website",
        "--hours",
        "mon-sun 00:00-24:00",
    ];
    let days = utc_days_around_now();
    for d in &days {
        args.extend(["--holiday", d.as_str()]);
    }
    let changed = cli.json(&args).unwrap();
    assert_eq!(changed["hours"]["time_zone"], "Europe/Paris");
    assert_eq!(changed["hours"]["holidays"], json!(days));
    assert_eq!(changed["offline"]["record"], "lead");
    let check = node
        .ok(
            Method::POST,
            &format!("/api/v1/livechat/{id}/check"),
            Some(json!({"page_url": "https://shop.example/", "languages": ["de"]})),
        )
        .await
        .unwrap();
    assert_eq!(check["offline"], json!({"reason": "holiday", "form": true}));
    assert_eq!(
        check["texts"]["offline_button"],
        "Hinterlassen Sie uns eine Nachricht"
    );

    // `show` prints it for people.
    let out = cli.ok(&["livechat", "channel", "show", "Website"]).unwrap();
    assert!(
        out.contains("business hours:   mon-sun 00:00-24:00 (Europe/Paris)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("holidays:         {}", days.join(", "))),
        "{out}"
    );
    assert!(
        out.contains("offline:          form (creates a lead"),
        "{out}"
    );
    assert!(out.contains("default language: fr"), "{out}");

    // Always open again; offline also while nobody can answer (the channel has no operator).
    let open = cli
        .json(&[
            "livechat",
            "channel",
            "update",
            "Website",
            "--always-open",
            "--offline-when-no-operator",
            "true",
        ])
        .unwrap();
    assert!(open["hours"].is_null(), "{open}");
    let check = node
        .ok(
            Method::POST,
            &format!("/api/v1/livechat/{id}/check"),
            Some(json!({"page_url": "https://shop.example/"})),
        )
        .await
        .unwrap();
    assert_eq!(
        check["offline"],
        json!({"reason": "no_operator", "form": true})
    );

    // The flags are documented.
    let help = cli
        .ok(&["livechat", "channel", "update", "--help"])
        .unwrap();
    for flag in [
        "--hours",
        "--time-zone",
        "--holiday",
        "--always-open",
        "--offline",
        "--offline-record",
        "--offline-when-no-operator",
        "--default-language",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}
