//! The public ratings page, as Odoo's website serves it at `/livechat`: the list of published
//! live chat channels with their satisfaction, and one page per channel
//! (`/livechat/channel/{id}`) with its satisfaction over the last 14 days and its most recent
//! public ratings: the rating, the comment, the operator's chat name and the day. Ratings the
//! admin marked "visible internally only" never appear, not even in the percentages, and
//! unpublished channels are not found.
//!
//! The pages are rendered on the node with every person-written text escaped; they carry the
//! same Content-Security-Policy as the other pages and need no script. Used by [`web`](super).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::livechat::LiveChat;
use crate::livechat::ratings::PublicRating;
use crate::livechat::reports::filter::day;
use crate::livechat::satisfaction::{DEFAULT_DAYS, Satisfaction};
use crate::node::NodeShared;

/// How many ratings a channel's page lists at most (the most recent).
pub const RECENT: usize = 100;

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/web/ratings.css\">\n</head>\n\
         <body>\n<main class=\"ratings\">\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    );
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<h1>Not found</h1>\n<p>There is no published live chat channel here. \
         <a href=\"/livechat\">All channels</a></p>\n",
    )
}

fn failed(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "the public ratings page failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Error",
        "<h1>Something went wrong</h1>\n<p>Please try again later.</p>\n",
    )
}

/// The satisfaction block: the happy share and the three counts.
fn summary(s: &Satisfaction) -> String {
    let percent = match s.percent {
        Some(p) => format!("{p}%"),
        None => "No rating yet".into(),
    };
    format!(
        "<p class=\"satisfaction\"><span class=\"percent\">{percent}</span> \
         <span class=\"what\">happy over the last {} days</span></p>\n\
         <ul class=\"counts\"><li class=\"happy\">Happy: {}</li><li class=\"okay\">Okay: {}</li>\
         <li class=\"unhappy\">Unhappy: {}</li></ul>\n",
        s.days, s.happy, s.okay, s.unhappy
    )
}

fn label(rating: u8) -> &'static str {
    match rating {
        5 => "Happy",
        3 => "Okay",
        _ => "Unhappy",
    }
}

/// One rating as a list item.
fn rating_item(r: &PublicRating) -> String {
    let class = match r.rating {
        5 => "happy",
        3 => "okay",
        _ => "unhappy",
    };
    let mut item = format!(
        "<li class=\"rating {class}\"><span class=\"value\">{}</span> \
         <span class=\"operator\">{}</span> <span class=\"day\">{}</span>",
        label(r.rating),
        escape(r.operator.as_deref().unwrap_or("")),
        day(r.at_ms)
    );
    if let Some(c) = &r.comment {
        item.push_str(&format!("<p class=\"comment\">{}</p>", escape(c)));
    }
    item.push_str("</li>\n");
    item
}

fn channel_summary(
    chat: &LiveChat,
    id: Uuid,
) -> Result<(Satisfaction, Vec<PublicRating>), crate::livechat::LiveChatError> {
    let ratings = chat.published_ratings(id)?;
    Ok((
        chat.public_satisfaction(id, DEFAULT_DAYS, &ratings)?,
        ratings,
    ))
}

/// `GET /livechat`: the published channels.
#[utoipa::path(
    get,
    path = "/livechat",
    tag = "web",
    security(()),
    responses((status = 200, description = "The public ratings page: published channels and their satisfaction", content_type = "text/html", body = String))
)]
pub(crate) async fn index(State(node): State<Arc<NodeShared>>) -> Response {
    let chat = &node.livechat;
    let channels = match chat.published_channels() {
        Ok(list) => list,
        Err(e) => return failed(&e),
    };
    // One pass over the ratings for every channel (the page is public: its cost must not grow
    // with channels × ratings).
    let mut by_channel = match chat.ratings_by_channel() {
        Ok(map) => map,
        Err(e) => return failed(&e),
    };
    let since = chat.window_start(DEFAULT_DAYS);
    let mut body = String::from("<h1>Live chat ratings</h1>\n");
    if channels.is_empty() {
        body.push_str("<p class=\"empty\">No channel is published yet.</p>\n");
    } else {
        body.push_str("<ul class=\"channels\">\n");
        for (id, name) in channels {
            let public = by_channel
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .filter(|r| !r.internal_only)
                .map(|r| (r.rating, r.at_ms));
            let s =
                crate::livechat::satisfaction::of_values((id, &name), DEFAULT_DAYS, since, public);
            let percent = s
                .percent
                .map_or_else(|| "No rating yet".into(), |p| format!("{p}% happy"));
            body.push_str(&format!(
                "<li class=\"channel\"><a href=\"/livechat/channel/{id}\">{}</a> \
                 <span class=\"percent\">{percent}</span></li>\n",
                escape(&name)
            ));
        }
        body.push_str("</ul>\n");
    }
    page(StatusCode::OK, "Live chat ratings", &body)
}

/// `GET /livechat/channel/{id}`: one published channel's satisfaction and recent ratings.
#[utoipa::path(
    get,
    path = "/livechat/channel/{id}",
    tag = "web",
    params(("id" = String, Path, description = "A published channel")),
    security(()),
    responses((status = 200, description = "One published channel's satisfaction and recent ratings", content_type = "text/html", body = String), (status = 404, description = "No such published channel", content_type = "text/html", body = String))
)]
pub(crate) async fn channel(
    State(node): State<Arc<NodeShared>>,
    Path(id): Path<String>,
) -> Response {
    let chat = &node.livechat;
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found();
    };
    let name = match chat.channel(id) {
        Ok(c) if c.published => c.name,
        Ok(_) | Err(crate::livechat::LiveChatError::NotFound(_)) => return not_found(),
        Err(e) => return failed(&e),
    };
    let (s, mut ratings) = match channel_summary(chat, id) {
        Ok(x) => x,
        Err(crate::livechat::LiveChatError::NotFound(_)) => return not_found(),
        Err(e) => return failed(&e),
    };
    ratings.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
    let mut body = format!(
        "<p class=\"back\"><a href=\"/livechat\">All channels</a></p>\n<h1>{}</h1>\n",
        escape(&name)
    );
    body.push_str(&summary(&s));
    body.push_str("<h2>Recent ratings</h2>\n");
    if ratings.is_empty() {
        body.push_str("<p class=\"empty\">No rating yet.</p>\n");
    } else {
        body.push_str("<ul class=\"list\">\n");
        for r in ratings.iter().take(RECENT) {
            body.push_str(&rating_item(r));
        }
        body.push_str("</ul>\n");
    }
    page(StatusCode::OK, &format!("{name} \u{2014} ratings"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_written_text_is_escaped() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let r = PublicRating {
            rating: 1,
            comment: Some("<img src=x onerror=alert(1)>".into()),
            operator: Some("Ann <b>".into()),
            at_ms: 0,
        };
        let html = rating_item(&r);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("Ann &lt;b&gt;"), "{html}");
        assert!(html.contains("1970-01-01"), "{html}");
    }
}
