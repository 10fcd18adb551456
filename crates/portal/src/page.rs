//! What every page shares: the frame around it, the stylesheet, the response headers, and
//! how values are written (short ids, times, ε).

use askama::Template;
use axum::body::Body;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealroom_core::clock::Timestamp;

/// The one stylesheet, served at `{root}/style.css`.
pub const STYLESHEET: &str = include_str!("../static/portal.css");

/// A link in the navigation bar.
#[derive(Debug, Clone)]
pub struct NavLink {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// A banner above the page: a warning or an alarm.
#[derive(Debug, Clone)]
pub struct Banner {
    /// `warning` or `alarm`.
    pub class: &'static str,
    /// What it says.
    pub text: String,
}

/// The frame of a page: title, who is signed in, navigation and banners.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's title.
    pub title: String,
    /// The stylesheet's path.
    pub stylesheet: &'static str,
    /// Where the brand links to.
    pub home: &'static str,
    /// Whose portal this is, or what the site is.
    pub who: String,
    /// Navigation.
    pub nav: Vec<NavLink>,
    /// The session's CSRF token, for the sign-out form; none when not signed in.
    pub sign_out: Option<String>,
    /// Warnings and alarms.
    pub banners: Vec<Banner>,
}

/// A label and a value, for the many small tables of facts.
#[derive(Debug, Clone)]
pub struct Fact {
    /// The label.
    pub label: String,
    /// The value.
    pub value: String,
}

impl Fact {
    /// A fact.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The frame.
    pub chrome: Chrome,
    /// What went wrong.
    pub message: String,
}

/// A page could not be shown.
#[derive(Debug)]
pub struct PageError {
    /// The status to answer with.
    pub status: StatusCode,
    /// What to tell the reader.
    pub message: String,
}

impl PageError {
    /// Not found, saying what.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// A bad request, saying what is wrong with it.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// An internal failure: logged with its cause, shown without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("portal: {cause}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the server failed; its log says why".into(),
        }
    }
}

impl<E: std::fmt::Display> From<E> for PageError
where
    E: std::error::Error,
{
    fn from(e: E) -> Self {
        Self::internal(e)
    }
}

/// Renders a template as an HTML response with `status`.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, html).into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Err(e) => {
            tracing::error!("portal: a page failed to render: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "a page failed to render").into_response()
        }
    }
}

/// The error page for `error`, in `chrome`.
pub fn error_page(mut chrome: Chrome, error: PageError) -> Response {
    chrome.title = match error.status {
        StatusCode::NOT_FOUND => "Not found".into(),
        StatusCode::FORBIDDEN => "Refused".into(),
        StatusCode::BAD_REQUEST => "Bad request".into(),
        _ => "Error".into(),
    };
    render(
        error.status,
        &ErrorPage {
            chrome,
            message: error.message,
        },
    )
}

/// The stylesheet.
pub fn stylesheet() -> Response {
    let mut response = Response::new(Body::from(STYLESHEET));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    response
}

/// Adds the headers every page carries: no scripts, frames or foreign resources at all, no
/// sniffing, no referrer sent to other sites (same-site posts keep their `Origin`); pages are not cached unless they say so.
pub fn protect(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The first 12 characters of an id, for tables (the full id is always one click away).
pub fn short(id: &impl std::fmt::Display) -> String {
    id.to_string().chars().take(12).collect()
}

/// A time as `2026-12-01 08:00:00 UTC`.
pub fn time(at: Timestamp) -> String {
    at.to_string().replace('T', " ").replace('Z', " UTC")
}

/// ε given in millionths, as a decimal with up to six digits after the point.
pub fn epsilon(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Links to pages `page - 1` and `page + 1` of `pages` (counted from 0), as `(previous, next)`:
/// `base` followed by `key=N`.
pub fn pager(base: &str, key: &str, page: u64, pages: u64) -> (Option<String>, Option<String>) {
    let previous = (page > 0).then(|| format!("{base}{key}={}", page - 1));
    let next = (page + 1 < pages).then(|| format!("{base}{key}={}", page + 1));
    (previous, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_is_written_exactly() {
        assert_eq!(epsilon(0), "0");
        assert_eq!(epsilon(2_000_000), "2");
        assert_eq!(epsilon(500_000), "0.5");
        assert_eq!(epsilon(1_000_001), "1.000001");
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(time(Timestamp(0)), "1970-01-01 00:00:00 UTC");
    }
}
