//! Commands that read the data folder or talk to a running node's API with its admin token.

use std::path::Path;

use anyhow::{Context, bail};
use ochat_node::data_dir::{read_client_access, read_instance};
use reqwest::Method;
use serde_json::{Value, json};

use crate::args::{
    ConnectArgs, ConnectionAction, ConnectionArgs, DataDirArg, ListArgs, UserAction, UserArgs,
};

/// `ochat uuid`: prints the Instance UUID as Settings shows it.
pub fn uuid(args: &DataDirArg) -> anyhow::Result<()> {
    let info = read_instance(&args.data_dir).context("cannot read the instance")?;
    println!("{}", info.uuid);
    Ok(())
}

/// The JSON of an answer, or its error message as an error.
async fn answer(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = value["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| status.to_string());
        bail!("{message}");
    }
    Ok(value)
}

/// A client of a running node's API.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    /// Reads the API address and admin token from the data folder.
    pub fn from_data_dir(dir: &Path) -> anyhow::Result<Self> {
        let (addr, token) = read_client_access(dir)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Api {
            base: format!("http://{addr}"),
            token: token.to_string(),
            http,
        })
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The admin token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Uploads raw bytes.
    pub async fn upload(&self, path: &str, mime: &str, data: Vec<u8>) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", mime)
            .body(data)
            .timeout(std::time::Duration::from_secs(300))
            .send()
            .await
            .with_context(|| format!("cannot reach the node at {}", self.base))?;
        answer(resp).await
    }

    /// Sends a POST whose answer is a (long) stream of bytes: no overall timeout; an error
    /// answer becomes a readable error.
    pub async fn post_stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        let resp = http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| {
                format!(
                    "cannot reach the node at {} (is `ochat run` running?)",
                    self.base
                )
            })?;
        if !resp.status().is_success() {
            answer(resp).await?;
            bail!("the node answered without a body");
        }
        Ok(resp)
    }

    /// Calls the API; turns error answers into readable errors.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the node at {} (is `ochat run` running?)",
                self.base
            )
        })?;
        answer(resp).await
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_connection(c: &Value) {
    println!("Connection {}", text(&c["id"]));
    println!("  direction:  {}", text(&c["direction"]));
    println!("  status:     {}", text(&c["status"]));
    println!(
        "  remote:     {} ({})",
        text(&c["remote_uuid"]),
        text(&c["remote_name"])
    );
    println!("  contact:    {}", text(&c["contact"]));
    println!("  message:    {}", text(&c["message"]));
    if !c["reject_reason"].is_null() {
        println!("  reason:     {}", text(&c["reject_reason"]));
    }
    if !c["channel_id"].is_null() {
        println!("  channel:    {}", text(&c["channel_id"]));
    }
    println!("  delivered:  {}", text(&c["delivered"]));
    if !c["network"].is_null() {
        println!("  network:    {}", crate::network::path_line(&c["network"]));
    }
    if !c["delivery_error"].is_null() {
        println!("  last error: {}", text(&c["delivery_error"]));
    }
    if let Some(members) = c["members"].as_array()
        && !members.is_empty()
    {
        let m: Vec<String> = members.iter().map(text).collect();
        println!("  members:    {}", m.join(", "));
    }
}

fn output(json_out: bool, v: &Value) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print_connection(v);
    }
}

/// `ochat connect UUID`.
pub async fn connect(args: &ConnectArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let body = json!({
        "remote_uuid": args.uuid,
        "contact": args.contact,
        "message": args.message,
        "send": !args.draft,
    });
    let c = api
        .call(Method::POST, "/api/v1/connections", Some(body))
        .await?;
    output(args.json, &c);
    Ok(())
}

/// `ochat connections`.
pub async fn connections(args: &ListArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let mut query = Vec::new();
    if args.incoming {
        query.push("direction=incoming".to_string());
    }
    if args.outgoing {
        query.push("direction=outgoing".to_string());
    }
    if let Some(s) = &args.status {
        query.push(format!("status={}", s.replace(' ', "%20")));
    }
    let path = format!("/api/v1/connections?{}", query.join("&"));
    let list = api.call(Method::GET, &path, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let rows = list.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("No connections.");
        return Ok(());
    }
    // NEW marks an incoming request the administrator has not opened yet
    // (`ochat connection show ID` opens it).
    println!(
        "{:<36}  {:<3}  {:<8}  {:<9}  {:<36}  CONTACT / NAME",
        "ID", "NEW", "DIR", "STATUS", "REMOTE UUID"
    );
    for c in rows {
        let who = if c["contact"].is_null() {
            &c["remote_name"]
        } else {
            &c["contact"]
        };
        println!(
            "{:<36}  {:<3}  {:<8}  {:<9}  {:<36}  {}",
            text(&c["id"]),
            if c["new"] == Value::Bool(true) {
                "*"
            } else {
                ""
            },
            text(&c["direction"]),
            text(&c["status"]),
            text(&c["remote_uuid"]),
            text(who)
        );
    }
    Ok(())
}

/// `ochat connection ACTION ID`.
pub async fn connection(args: &ConnectionArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    let base = "/api/v1/connections";
    let c = match &args.action {
        ConnectionAction::Show { id } => {
            // Showing a request is the administrator opening it: it is no longer new.
            let mut c = post(&api, &format!("{base}/{id}/seen"), None).await?;
            // How its peer is connected now (only accepted connections have a line).
            if let Ok(n) = api.call(Method::GET, "/api/v1/network", None).await
                && let Some(line) = n["peers"]
                    .as_array()
                    .and_then(|peers| peers.iter().find(|p| p["connection_id"] == c["id"]))
            {
                c["network"] = line.clone();
            }
            c
        }
        ConnectionAction::Send { id } => post(&api, &format!("{base}/{id}/send"), None).await?,
        ConnectionAction::Sync { id } => post(&api, &format!("{base}/{id}/sync"), None).await?,
        ConnectionAction::Cancel { id } => post(&api, &format!("{base}/{id}/cancel"), None).await?,
        ConnectionAction::Retry { id } => post(&api, &format!("{base}/{id}/retry"), None).await?,
        ConnectionAction::Accept { id, contact } => {
            post(
                &api,
                &format!("{base}/{id}/accept"),
                Some(json!({"contact": contact})),
            )
            .await?
        }
        ConnectionAction::Reject { id, reason } => {
            post(
                &api,
                &format!("{base}/{id}/reject"),
                Some(json!({"reason": reason})),
            )
            .await?
        }
        ConnectionAction::Edit { id, uuid } => {
            post(
                &api,
                &format!("{base}/{id}/edit"),
                Some(json!({"remote_uuid": uuid})),
            )
            .await?
        }
        ConnectionAction::Delete { id } => {
            api.call(Method::DELETE, &format!("{base}/{id}"), None)
                .await?
        }
        ConnectionAction::AddMember { id, user } => {
            api.call(Method::PUT, &format!("{base}/{id}/members/{user}"), None)
                .await?
        }
        ConnectionAction::RemoveMember { id, user } => {
            api.call(Method::DELETE, &format!("{base}/{id}/members/{user}"), None)
                .await?
        }
    };
    output(args.json, &c);
    Ok(())
}

async fn post(api: &Api, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
    api.call(Method::POST, path, body).await
}

/// `ochat user add|list`.
pub async fn user(args: &UserArgs) -> anyhow::Result<()> {
    let api = Api::from_data_dir(&args.data.data_dir)?;
    match &args.action {
        UserAction::Add { name } => {
            let u = api
                .call(Method::POST, "/api/v1/users", Some(json!({"name": name})))
                .await?;
            println!("{}  {}", text(&u["id"]), text(&u["name"]));
        }
        UserAction::List => {
            let list = api.call(Method::GET, "/api/v1/users", None).await?;
            for u in list.as_array().cloned().unwrap_or_default() {
                println!("{}  {}", text(&u["id"]), text(&u["name"]));
            }
        }
    }
    Ok(())
}
