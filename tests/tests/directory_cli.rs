//! An operator runs a UUID directory from the command line (`ochat directory run`), and anyone
//! can check what it lists with `ochat directory lookup`.
//!
//! The real `ochat` binary as a child process; every wait has a timeout.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ochat_node::directory::DirectoryClient;
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, SignedRecord};
use ochat_tests::process::ochat_bin;

/// The longest any single step may take.
const WAIT: Duration = Duration::from_secs(10);

/// Kills the process with this pid if the test ends before it exited on its own.
struct Reaper(Option<String>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

fn acme_record() -> (InstanceId, SignedRecord) {
    let key = IdentityKey::generate().unwrap();
    let record = InstanceRecord {
        uuid: InstanceId::generate(),
        name: "Acme Corp".into(),
        identity: key.public(),
        prekey: [3; 32],
        addresses: vec!["/ip4/192.0.2.10/tcp/4001".into()],
        seq: 4,
        signed_at_ms: 1_700_000_000_000,
    };
    (record.uuid, record.sign(&key).unwrap())
}

/// Runs `ochat ARGS` to completion, in a thread so the test can give up after [`WAIT`].
fn ochat(args: &[&str]) -> Output {
    let mut command = Command::new(ochat_bin());
    command.args(args).env_remove("OCHAT_DIRECTORY");
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(command.output());
    });
    done.recv_timeout(WAIT)
        .expect("ochat finishes within the timeout")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn an_operator_runs_a_directory_from_the_command_line() {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("ochat-directory");
    let data_arg = data.to_str().unwrap();
    let run = [
        "directory",
        "run",
        "--data-dir",
        data_arg,
        "--listen",
        "127.0.0.1:0",
        "--p2p-listen",
        "/ip4/127.0.0.1/tcp/0",
    ];
    let mut child = Command::new(ochat_bin())
        .args(run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut reaper = Reaper(Some(pid.clone()));
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut printed = Vec::new();
    let url = loop {
        let line = lines
            .recv_timeout(WAIT)
            .expect("ochat directory run prints its address");
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("Directory:") {
            break url.trim().to_string();
        }
    };
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // Acme's node publishes its record; anyone can check it from the command line.
    let (uuid, signed) = acme_record();
    let client = DirectoryClient::new(&url).unwrap();
    tokio::time::timeout(WAIT, client.publish(&signed))
        .await
        .expect("publishing within the timeout")
        .unwrap();
    let found = ochat(&["directory", "lookup", &uuid.to_string(), "--url", &url]);
    let out = text(&found.stdout);
    assert!(found.status.success(), "{}", text(&found.stderr));
    assert!(out.contains(&format!("Instance UUID: {uuid}")), "{out}");
    assert!(out.contains("Name:          Acme Corp"), "{out}");
    assert!(out.contains("Version (seq): 4"), "{out}");
    assert!(
        out.contains("Address:       /ip4/192.0.2.10/tcp/4001"),
        "{out}"
    );

    let unknown = InstanceId::generate().to_string();
    let missing = ochat(&["directory", "lookup", &unknown, "--url", &url]);
    assert!(!missing.status.success());
    let err = text(&missing.stderr);
    assert!(err.contains("is not in the directory"), "{err}");

    // A second directory on the same folder refuses to start, and says why.
    let second = ochat(&run);
    assert!(!second.status.success());
    let err = text(&second.stderr);
    assert!(
        err.contains("already running") && err.contains(&pid),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // SIGTERM stops it cleanly.
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (exited_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exited_tx.send(child.wait());
    });
    let status = exited
        .recv_timeout(WAIT)
        .expect("ochat directory run stops within the timeout after SIGTERM")
        .unwrap();
    reaper.0 = None;
    assert!(status.success(), "{status}");
    // The rest of its output, up to the end of the pipe.
    while let Ok(line) = lines.recv_timeout(WAIT) {
        printed.push(line);
    }
    let printed = printed.join("\n");
    assert!(
        printed.contains(&format!("Data folder: {data_arg}")),
        "{printed}"
    );
    assert!(printed.contains("Stopped; data flushed."), "{printed}");
}

#[test]
fn a_lookup_without_a_directory_url_explains_what_is_missing() {
    let out = ochat(&["directory", "lookup", &InstanceId::generate().to_string()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--url"), "{err}");
}
