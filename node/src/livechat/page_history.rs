//! The pages a visitor went through, for the operator's `/history` command and
//! `GET …/sessions/{id}/history`: the last [`HISTORY_PAGES`] distinct pages of the last day
//! (LIVECHAT-RULES.md "Commands and history", Odoo's rule). The widget keeps them in the
//! browser (`localStorage`, each with its time, dropping those older than a day) and reports
//! them with their time when a chat starts; the node keeps each page's time with the session
//! (`Session::page_times`) and leaves out pages older than a day whenever it answers, so a
//! conversation that stays open for days never shows a stale page. Records from before the
//! times were kept count their pages as visited when the session started.
//!
//! Used by `livechat::messages` (a page reported), `livechat::commands` (`/history`) and the
//! sessions API.

use super::sessions::Session;

/// How many distinct pages are kept.
pub const HISTORY_PAGES: usize = 15;
/// Pages older than this are left out (ms).
pub const PAGE_MAX_AGE_MS: u64 = 24 * 3_600_000;

/// Each page's time, aligned with `session.pages` (missing times: the session's start).
fn times(session: &Session) -> Vec<u64> {
    let missing = session.pages.len().saturating_sub(session.page_times.len());
    let mut out = vec![session.created_at_ms; missing];
    out.extend(
        session
            .page_times
            .iter()
            .take(session.pages.len() - missing),
    );
    out
}

fn fresh(at: u64, now: u64) -> bool {
    now.saturating_sub(at) < PAGE_MAX_AGE_MS
}

/// The pages of the last day, oldest first.
pub fn recent_pages(session: &Session, now: u64) -> Vec<String> {
    session
        .pages
        .iter()
        .zip(times(session))
        .filter(|(_, at)| fresh(*at, now))
        .map(|(p, _)| p.clone())
        .collect()
}

/// Records that the visitor opened `url` at `at` (a time in the future counts as now): it
/// moves to its place by time, pages older than a day go, and only the newest
/// [`HISTORY_PAGES`] stay. A page reported older than a day is not kept.
pub fn record_page(session: &mut Session, url: &str, at: Option<u64>, now: u64) {
    let at = at.map_or(now, |t| t.min(now));
    let mut pages: Vec<(String, u64)> = session
        .pages
        .iter()
        .cloned()
        .zip(times(session))
        .filter(|(p, t)| p != url && fresh(*t, now))
        .collect();
    if fresh(at, now) {
        let place = pages.partition_point(|(_, t)| *t <= at);
        pages.insert(place, (url.to_string(), at));
    }
    let excess = pages.len().saturating_sub(HISTORY_PAGES);
    pages.drain(..excess);
    (session.pages, session.page_times) = pages.into_iter().unzip();
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = PAGE_MAX_AGE_MS;

    fn session(pages: &[&str], times: &[u64]) -> Session {
        let mut s: Session = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::nil(), "channel_id": uuid::Uuid::nil(), "visitor_id": null,
            "token_hash": [], "language": null, "country": null, "page_url": "/",
            "operators": [], "all_operators": [], "chatbot_id": null,
            "created_at_ms": 1_000, "last_activity_ms": 1_000, "closed_at_ms": null,
            "pages": [], "next_seq": 0,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        s.pages = pages.iter().map(|p| p.to_string()).collect();
        s.page_times = times.to_vec();
        s
    }

    #[test]
    fn pages_older_than_a_day_are_left_out_and_the_rest_kept_by_time() {
        let now = 10 * DAY;
        let mut s = session(&["/old", "/a"], &[now - DAY - 1, now - 5_000]);
        assert_eq!(recent_pages(&s, now), ["/a"]);
        record_page(&mut s, "/b", Some(now - 10_000), now);
        record_page(&mut s, "/c", Some(now + 99_999), now);
        record_page(&mut s, "/ancient", Some(now - 2 * DAY), now);
        assert_eq!(s.pages, ["/b", "/a", "/c"]);
        assert_eq!(s.page_times, [now - 10_000, now - 5_000, now]);
        // A page visited again moves to the end.
        record_page(&mut s, "/b", None, now + 1);
        assert_eq!(recent_pages(&s, now + 1), ["/a", "/c", "/b"]);
    }

    #[test]
    fn older_records_count_their_pages_from_the_sessions_start() {
        let s = session(&["/x", "/y"], &[]);
        assert_eq!(recent_pages(&s, 1_000 + DAY - 1), ["/x", "/y"]);
        assert!(recent_pages(&s, 1_000 + DAY).is_empty());
    }

    #[test]
    fn only_the_newest_fifteen_stay() {
        let mut s = session(&[], &[]);
        for i in 0..20u64 {
            record_page(&mut s, &format!("/{i}"), Some(DAY + i), DAY + 100);
        }
        assert_eq!(s.pages.len(), HISTORY_PAGES);
        assert_eq!(s.pages[0], "/5");
    }
}
