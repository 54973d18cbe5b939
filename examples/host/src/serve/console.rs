//! The web console: a page served by `sre serve` itself, from assets compiled into the
//! binary (no CDN, nothing to install), that uses the same API with the same token (typed
//! into a login form, kept for the browser session). A strict Content-Security-Policy lets
//! the page run only its own script and talk only to this server; the script puts
//! everything it shows in the page as text.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const THREAD: &str = include_str!("console/thread.js");
const REPORT: &str = include_str!("console/report.js");
const STYLE: &str = include_str!("console/console.css");

/// Only this server's own script, style and data; no frames, no plugins, no inline code.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The console's routes: `/` (the page) and its assets under `/console/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/thread.js",
            get(|| async { asset(THREAD, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/report.js",
            get(|| async { asset(REPORT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

/// Every response, the API's too: never sniffed as another type, no referrer.
pub async fn hardened(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    r
}

/// Bytes of the page and its assets (the console's whole weight).
pub fn weight() -> usize {
    INDEX.len() + SCRIPT.len() + THREAD.len() + REPORT.len() + STYLE.len()
}
