//! Helpers for the API document's tests (`tests/tests/api_document.rs`, `tests/tests/metrics.rs`):
//! the routes the router registers, read from the node's source (every `.route("…", get(…)…)`
//! call), the routes the served document lists, Schemathesis run as a subprocess against a
//! running node, and a reader of the Prometheus text format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One route: (method in upper case, path template as axum writes it).
pub type Route = (String, String);

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// The node crate's source folder.
pub fn node_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/src")
}

/// Every route the node's API router registers: the `.route(path, method_router)` calls in
/// the node's source, except the directory server's (a different server).
pub fn router_routes() -> Result<BTreeSet<Route>> {
    let mut files = Vec::new();
    collect_rs(&node_src(), &mut files)?;
    let mut routes = BTreeSet::new();
    for file in files {
        if file.components().any(|c| c.as_os_str() == "directory") {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        // Routes this scan cannot read would escape the check: keep to `.route(path, …)`.
        for hidden in [".nest(", ".nest_service(", ".route_service("] {
            if text.contains(hidden) {
                bail!(
                    "{} uses {hidden}: list its routes with .route(\"…\", …) so the API \
                     document's test can see them",
                    file.display()
                );
            }
        }
        for call in route_calls(&text) {
            let Some((path, rest)) = first_string(&call) else {
                bail!(
                    "a .route( call without a path in {}: {call}",
                    file.display()
                );
            };
            let methods = methods_in(rest);
            if methods.is_empty() {
                bail!("no method in the route {path} of {}", file.display());
            }
            for m in methods {
                routes.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    Ok(routes)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The argument text of every `.route(` call (up to its closing parenthesis).
fn route_calls(text: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        let after = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        // Only calls whose first argument is a string literal are router routes.
        let args = &after[..end];
        if args.trim_start().starts_with('"') {
            calls.push(args.to_string());
        }
        rest = &after[end..];
    }
    calls
}

fn first_string(args: &str) -> Option<(String, &str)> {
    let start = args.find('"')? + 1;
    let len = args[start..].find('"')?;
    Some((
        args[start..start + len].to_string(),
        &args[start + len + 1..],
    ))
}

/// Method router calls (`get(`, `axum::routing::delete(`, `.post(`) in a route's arguments.
fn methods_in(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (i, _) in text.char_indices() {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for m in METHODS {
            if text[i..].starts_with(m) && text[i + m.len()..].starts_with('(') {
                found.push(m);
            }
        }
    }
    found
}

/// Every (method, path) the document lists.
pub fn document_routes(doc: &Value) -> Result<BTreeSet<Route>> {
    let paths = doc["paths"]
        .as_object()
        .context("the document has no paths")?;
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().context("a path item is not an object")?;
        for method in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    Ok(routes)
}

/// A concrete path for a template: UUIDs for ids, `send` for the connection action.
pub fn concrete(template: &str) -> String {
    let id = "0190f3a2-7c3e-7000-8000-000000000001";
    template
        .replace("{action}", "sync")
        .replace("{file}", "widget.js")
        .replace("{visitor_id}", "visitor-1")
        .split('/')
        .map(|seg| if seg.starts_with('{') { id } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where the `schemathesis` command is (PATH), or a clear error saying how to install it.
pub fn schemathesis_command() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("schemathesis"))
        .find(|p| p.is_file())
        .context(
            "Schemathesis is not installed: `pip install schemathesis` (CI's .ci/run installs it)",
        )
}

/// What a Schemathesis run printed, and whether it passed.
#[derive(Debug)]
pub struct SchemathesisRun {
    /// Exit status 0.
    pub passed: bool,
    /// Its standard output and error.
    pub output: String,
}

/// Runs Schemathesis against the node at `api` with `token`, checking for server errors and
/// answers (status, content type, headers, body) that the document does not describe.
/// `max_examples` bounds the cases per operation; `limit` the whole run.
/// `known` pins path parameters of some routes to objects that exist, so that the cases reach
/// past the 404: (path regex, parameter, value).
pub async fn run_schemathesis(
    api: &str,
    token: &str,
    max_examples: u32,
    limit: Duration,
    report_dir: &Path,
    known: &[(&str, &str, &str)],
) -> Result<SchemathesisRun> {
    let command = schemathesis_command()?;
    std::fs::create_dir_all(report_dir)?;
    let config = report_dir.join("schemathesis.toml");
    let mut toml = String::new();
    for (regex, name, value) in known {
        toml.push_str(&format!(
            "[[operations]]\ninclude-path-regex = {}\nparameters = {{ \"path.{name}\" = \"{value}\" }}\n\n",
            serde_json::to_string(regex)?
        ));
    }
    std::fs::write(&config, toml)?;
    let child = tokio::process::Command::new(command)
        .args([
            "--config-file",
            &config.display().to_string(),
            "run",
            &format!("{api}/api/v1/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "--max-examples",
            &max_examples.to_string(),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--seed",
            "27",
            "--no-shrink",
            // One worker: Hypothesis's strategy descriptions are not thread-safe (a run with two
            // workers died once inside Schemathesis with "AST constructor recursion depth
            // mismatch").
            "--workers",
            "1",
            "--request-timeout",
            "20",
            // WebSockets cannot be tested over plain HTTP.
            "--exclude-path-regex",
            "/events$",
            "--report-dir",
            &report_dir.display().to_string(),
        ])
        // Its caches (.schemathesis, .hypothesis) go to the report folder, not the source tree.
        .current_dir(report_dir)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting schemathesis")?;
    // Dropped on a timeout: kill_on_drop stops it.
    let done = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .context("schemathesis did not finish in time")??;
    let mut output = String::from_utf8_lossy(&done.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&done.stderr));
    let status = done.status;
    Ok(SchemathesisRun {
        passed: status.success(),
        output,
    })
}

/// The samples of a Prometheus text exposition: `name{labels}` → value. Fails on a sample
/// whose family has no `# TYPE` line before it, or on a value that is not a number.
pub fn prometheus_samples(text: &str) -> Result<BTreeMap<String, f64>> {
    let mut typed = BTreeSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest
                .split_whitespace()
                .next()
                .context("a TYPE line without a name")?;
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').context("a sample without a value")?;
        let family = series.split('{').next().unwrap_or(series);
        if !typed.contains(family) {
            bail!("{family} has no # TYPE line before its samples");
        }
        let value: f64 = value
            .parse()
            .with_context(|| format!("{series}: {value} is not a number"))?;
        samples.insert(series.to_string(), value);
    }
    Ok(samples)
}
