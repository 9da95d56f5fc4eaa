//! The console's reports page, `GET /console/reports`: three SVG charts drawn in the browser
//! from the report API (sessions per day, average time to answer per operator, rating shares
//! per channel and operator), with a date range and channel filter.
//!
//! The page is static HTML, CSS and JS embedded in the binary; its policy allows only its own
//! script and styles (`script-src 'self'`, no inline script) and the JS writes text with
//! `textContent` only. Like the console at `/console`, it keeps the token in
//! `sessionStorage["ochat.token"]`; it also takes one from the URL fragment (`#token=…`, for
//! links and screenshots) and otherwise asks for a login or a token.

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `GET /console/reports`.
pub const HTML: &str = include_str!("page/reports.html");

/// `GET /console/reports/reports.js`.
pub const JS: &str = include_str!("page/reports.js");

/// `GET /console/reports/reports.css`.
pub const CSS: &str = include_str!("page/reports.css");
