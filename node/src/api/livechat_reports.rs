//! Live chat reports over HTTP (staff tokens; the admin sees every session, an operator the
//! sessions they were in and those of their channels), the per-visitor export and erasure
//! (admin), and the console page with the charts.
//!
//! Every report answers JSON, or CSV with `?format=csv` or `Accept: text/csv`. Filters (all
//! optional): `from`, `to` (UTC day `2026-11-02`, both included, or an RFC 3339 time, `to`
//! excluded), `channel`, `operator`, `rating` (5|3|1|0 or happy|okay|unhappy|none),
//! `outcome`.
//!
//! | method | path | who |
//! |---|---|---|
//! | GET | /api/v1/livechat/reports/sessions | staff |
//! | GET | /api/v1/livechat/reports/sessions/{id}/transcript | staff who may see it (text) |
//! | GET | /api/v1/livechat/reports/stats?group_by= | staff |
//! | GET | /api/v1/livechat/reports/operators | staff |
//! | GET | /api/v1/livechat/reports/ratings?public=true | staff (CSV: the list) |
//! | GET | /api/v1/livechat/reports/ratings/shares | staff (CSV: the shares) |
//! | GET | /api/v1/livechat/visitors/{visitor_id}/export | admin |
//! | DELETE | /api/v1/livechat/visitors/{visitor_id} | admin |
//! | GET | /console/reports (+ `reports.js`, `reports.css`) | anyone; the page asks for a token |

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use uuid::Uuid;

use super::ApiError;
use crate::accounts::Caller;
use crate::livechat::LiveChat;
use crate::livechat::reports::filter::{Filter, GroupBy, ReportQuery};
use crate::livechat::reports::history::{CsvRow, Dataset, history, to_csv};
use crate::livechat::reports::page;
use crate::livechat::reports::people::{operators, ratings};
use crate::livechat::reports::privacy::{Erased, VisitorExport};
use crate::livechat::reports::stats::stats;
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;
type Q = Result<Query<ReportQuery>, QueryRejection>;

pub(super) fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/livechat/reports/sessions", get(sessions))
        .route(
            "/api/v1/livechat/reports/sessions/{id}/transcript",
            get(transcript),
        )
        .route("/api/v1/livechat/reports/stats", get(statistics))
        .route("/api/v1/livechat/reports/operators", get(operator_analysis))
        .route("/api/v1/livechat/reports/ratings", get(rating_list))
        .route(
            "/api/v1/livechat/reports/ratings/shares",
            get(rating_shares),
        )
        .route("/api/v1/livechat/visitors/{visitor_id}/export", get(export))
        .route(
            "/api/v1/livechat/visitors/{visitor_id}",
            axum::routing::delete(erase),
        )
        .route("/console/reports", get(page_html))
        .route("/console/reports/reports.js", get(page_js))
        .route("/console/reports/reports.css", get(page_css))
}

/// The query, or a JSON 400 saying what is wrong with it.
fn query(q: Q) -> Result<ReportQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// Whether the caller asked for CSV.
fn wants_csv(q: &ReportQuery, headers: &HeaderMap) -> Result<bool, ApiError> {
    match q.format.as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "format is csv or json, not {other:?}"
        ))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"))),
    }
}

/// Reads the report's data on the blocking pool (a report may scan many sessions).
async fn data(node: &NodeShared, c: &Caller, q: &ReportQuery) -> Result<Dataset, ApiError> {
    let filter = Filter::parse(q)?;
    let chat: LiveChat = node.livechat.clone();
    let who = c.administering(node)?;
    let data = tokio::task::spawn_blocking(move || chat.report_data(who, &filter))
        .await
        .map_err(ApiError::internal)??;
    Ok(data)
}

fn csv_response<R: CsvRow>(rows: &[R], name: &str) -> Result<Response, ApiError> {
    let body = to_csv(rows)?;
    download("text/csv; charset=utf-8", &format!("{name}.csv"), body)
}

/// A file the browser saves: its type, its name, its bytes.
fn download(
    content_type: &'static str,
    filename: &str,
    body: impl IntoResponse,
) -> Result<Response, ApiError> {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/sessions",
    tag = "reports",
    params(ReportQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "One row per session (JSON; CSV with `format=csv` or `Accept: text/csv`)", content((
        crate::api::openapi_shapes::SessionsReport = "application/json"), (String = "text/csv"))))
)]
async fn sessions(
    State(node): Shared,
    c: Caller,
    headers: HeaderMap,
    q: Q,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let csv = wants_csv(&q, &headers)?;
    let rows = history(&data(&node, &c, &q).await?);
    if csv {
        return csv_response(&rows, "sessions");
    }
    Ok(Json(json!({"sessions": rows})).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/sessions/{id}/transcript",
    tag = "reports",
    params(("id" = String, Path, description = "the session id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The transcript as a text file", content_type = "text/plain", body = String))
)]
async fn transcript(
    State(node): Shared,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a session id")))?;
    let text = node.livechat.transcript_text(c.administering(&node)?, id)?;
    download(
        "text/plain; charset=utf-8",
        &format!("transcript-{id}.txt"),
        text,
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/stats",
    tag = "reports",
    params(ReportQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Figures per group (JSON; CSV with `format=csv` or `Accept: text/csv`)", content((
        crate::api::openapi_shapes::StatsReport = "application/json"), (String = "text/csv"))))
)]
async fn statistics(
    State(node): Shared,
    c: Caller,
    headers: HeaderMap,
    q: Q,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let csv = wants_csv(&q, &headers)?;
    let by: GroupBy = q.group_by.as_deref().unwrap_or("day").parse()?;
    let rows = stats(&data(&node, &c, &q).await?, by);
    if csv {
        return csv_response(&rows, &format!("stats-by-{by}"));
    }
    Ok(Json(json!({"group_by": by.to_string(), "rows": rows})).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/operators",
    tag = "reports",
    params(ReportQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Figures per operator (JSON; CSV with `format=csv` or `Accept: text/csv`)", content((
        crate::api::openapi_shapes::OperatorsReport = "application/json"), (String = "text/csv"))))
)]
async fn operator_analysis(
    State(node): Shared,
    c: Caller,
    headers: HeaderMap,
    q: Q,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let csv = wants_csv(&q, &headers)?;
    let rows = operators(&data(&node, &c, &q).await?);
    if csv {
        return csv_response(&rows, "operators");
    }
    Ok(Json(json!({"operators": rows})).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/ratings",
    tag = "reports",
    params(ReportQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Ratings and their shares (CSV: the list) (JSON; CSV with `format=csv` or `Accept: text/csv`)", content((
        crate::livechat::reports::people::RatingsReport = "application/json"), (String = "text/csv"))))
)]
async fn rating_list(
    State(node): Shared,
    c: Caller,
    headers: HeaderMap,
    q: Q,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let csv = wants_csv(&q, &headers)?;
    let report = ratings(&data(&node, &c, &q).await?, q.public.unwrap_or(false));
    if csv {
        return csv_response(&report.ratings, "ratings");
    }
    Ok(Json(report).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/reports/ratings/shares",
    tag = "reports",
    params(ReportQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The shares of each rating (JSON; CSV with `format=csv` or `Accept: text/csv`)", content((
        crate::api::openapi_shapes::SharesReport = "application/json"), (String = "text/csv"))))
)]
async fn rating_shares(
    State(node): Shared,
    c: Caller,
    headers: HeaderMap,
    q: Q,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let csv = wants_csv(&q, &headers)?;
    let report = ratings(&data(&node, &c, &q).await?, q.public.unwrap_or(false));
    if csv {
        return csv_response(&report.shares, "rating-shares");
    }
    Ok(Json(json!({"shares": report.shares})).into_response())
}

fn visitor_id(v: &str) -> Result<&str, ApiError> {
    if v.is_empty() || v.len() > 200 {
        return Err(ApiError::bad_request("visitor_id has 1 to 200 bytes"));
    }
    Ok(v)
}

/// The export's query.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// Bytes of file content to include, in base64 (0 to 67108864; 16777216 when absent):
    /// files beyond it are listed without their content.
    file_bytes: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/visitors/{visitor_id}/export",
    tag = "reports",
    params(("visitor_id" = String, Path, description = "the widget's visitor id (1 to 200 bytes)"), ExportQuery),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 200, description = "Everything stored about the visitor, their files' content in base64 within the budget", body = VisitorExport),
        (status = 400, description = "bad_request: file_bytes over 67108864, or a bad visitor id", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
async fn export(
    State(node): Shared,
    c: Caller,
    Path(v): Path<String>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Json<VisitorExport>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let budget = crate::livechat::reports::privacy_files::export_budget(q.file_bytes)?;
    let who = c.administering(&node)?;
    let v = visitor_id(&v)?.to_string();
    let chat: LiveChat = node.livechat.clone();
    // Reads every session of the visitor and up to the budget of file content.
    let export = tokio::task::spawn_blocking(move || chat.export_visitor(who, &v, budget))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(export))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/visitors/{visitor_id}",
    tag = "reports",
    params(("visitor_id" = String, Path, description = "the widget's visitor id (1 to 200 bytes)")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "What was erased", body = Erased))
)]
async fn erase(
    State(node): Shared,
    c: Caller,
    Path(v): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    Ok(Json(
        node.livechat
            .erase_visitor(c.administering(&node)?, visitor_id(&v)?)
            .await?,
    ))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(page::CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/console/reports",
    tag = "web",
    security(()),
    responses((status = 200, description = "The reports page", content_type = "text/html", body = String))
)]
async fn page_html() -> Response {
    asset("text/html; charset=utf-8", page::HTML)
}

#[utoipa::path(
    get,
    path = "/console/reports/reports.js",
    tag = "web",
    security(()),
    responses((status = 200, description = "The reports page's script", content_type = "text/javascript", body = String))
)]
async fn page_js() -> Response {
    asset("text/javascript; charset=utf-8", page::JS)
}

#[utoipa::path(
    get,
    path = "/console/reports/reports.css",
    tag = "web",
    security(()),
    responses((status = 200, description = "The reports page's style", content_type = "text/css", body = String))
)]
async fn page_css() -> Response {
    asset("text/css; charset=utf-8", page::CSS)
}
