//! Redirects, followed by hand: where the next hop goes, with which method and body, and what
//! credentials may go with it (none across origins).

use super::request::Body;
use crate::trace::redact_url;
use reqwest::Method;
use url::Url;

/// One hop of a request: what is sent where.
#[derive(Clone)]
pub(super) struct Hop {
    pub url: Url,
    pub method: Method,
    pub body: Body,
    pub headers: Vec<(String, String)>,
}

/// What to do with a 3xx.
pub(super) enum Follow {
    /// Send `Hop` next; the note says how it differs.
    To(Hop, String),
    /// Hand the response back as it is (no Location).
    Stop(String),
    /// Fail the request (too many hops, a Location that cannot be followed).
    Fail(String),
}

pub(super) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The next hop after `status` with Location `location` (None: missing), as hop number `hops`.
pub(super) fn follow(status: u16, location: Option<&str>, hop: &Hop, hops: usize, max: usize, describe: &str, registry: &Url) -> Follow {
    let Some(loc) = location else {
        return Follow::Stop(format!("{status} without a Location: not followed"));
    };
    if hops > max {
        return Follow::Fail(format!("{describe}: more than {max} redirects (the last to {})", redact_url(loc)));
    }
    let next = match hop.url.join(loc.trim()) {
        Ok(n) => n,
        Err(e) => return Follow::Fail(format!("{describe}: {status} redirect to an unparsable Location {:?}: {e}", redact_url(loc))),
    };
    if !matches!(next.scheme(), "http" | "https") {
        return Follow::Fail(format!("{describe}: {status} redirect to a non-HTTP URL ({}:), which the harness does not follow", next.scheme()));
    }
    let mut note = format!("{status} redirect to {}", redact_url(next.as_str()));
    if !same_origin(&next, registry) {
        note.push_str("; another origin: no credentials sent there");
    }
    if hop.url.scheme() == "https" && next.scheme() == "http" {
        note.push_str("; from https down to plain http");
    }
    let mut to = Hop { url: next, ..hop.clone() };
    // RFC 9110 §15.4: 303 turns any method but HEAD into GET; 301/302 after POST do too (what
    // every client does). 307/308 keep the method and the body.
    if (status == 303 && hop.method != Method::HEAD) || (matches!(status, 301 | 302) && hop.method == Method::POST) {
        if hop.method != Method::GET {
            note.push_str(&format!("; {} becomes GET without a body", hop.method));
        }
        to.method = Method::GET;
        to.body = Body::Empty;
        to.headers.retain(|(k, _)| !is_body_header(k));
    } else if !hop.body.is_empty() {
        note.push_str(&format!("; the {}-byte request body is sent again (generated, replayable)", hop.body.len()));
    }
    Follow::To(to, note)
}

/// `headers` without any credential: what may go to another origin.
pub(super) fn without_credentials(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers.iter().filter(|(k, _)| !is_credential_header(k)).cloned().collect()
}

/// Same scheme, host and port: where credentials may go.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn is_credential_header(k: &str) -> bool {
    matches!(
        k.to_ascii_lowercase().as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    )
}

/// Headers that describe a request body: dropped with the body when a redirect turns the
/// request into a GET.
fn is_body_header(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.starts_with("content-") || k == "transfer-encoding" || k == "digest"
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn origins() {
        let b = Url::parse("https://r.example:443/").unwrap();
        assert!(same_origin(
            &Url::parse("https://r.example/v2/").unwrap(),
            &b
        ));
        assert!(!same_origin(
            &Url::parse("http://r.example/v2/").unwrap(),
            &b
        ));
        assert!(!same_origin(
            &Url::parse("https://r.example:8443/v2/").unwrap(),
            &b
        ));
        assert!(!same_origin(
            &Url::parse("https://cdn.example/v2/").unwrap(),
            &b
        ));
    }
}
