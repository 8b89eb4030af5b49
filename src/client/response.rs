//! What came back: a response (buffered body or a hash of it) and the ways an exchange fails.

use crate::digest::Digest;
use crate::trace::{preview, redact_known, redact_url};
use bytes::Bytes;
use reqwest::header::HeaderMap;
use url::Url;

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// Buffered body (Read::Buffer), or a preview (Read::Hash).
    pub body: Bytes,
    /// Digest and length of the whole body (Read::Hash).
    pub hashed: Option<(Digest, u64)>,
    /// URL of the final response after redirects.
    pub url: Url,
    pub request: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response body is not JSON: {e}"))
    }
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }
    /// Short summary for failure messages: status, key headers, body preview. Secrets the
    /// client learnt (tokens, credentials) are redacted: registries may echo them.
    pub fn summary(&self) -> String {
        let mut s = format!("{}", self.status);
        for h in [
            "content-type",
            "location",
            "docker-content-digest",
            "range",
            "content-length",
            "link",
            "www-authenticate",
            "retry-after",
        ] {
            if let Some(v) = self.header(h) {
                let v = if h == "location" {
                    redact_url(v)
                } else {
                    v.to_string()
                };
                s.push_str(&format!(", {h}: {v}"));
            }
        }
        if !self.body.is_empty() {
            let p = preview(&self.body[..self.body.len().min(300)]);
            s.push_str(&format!(", body: {}", p.replace('\n', " ")));
        }
        redact_known(&s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection: refused, unreachable, TLS handshake or certificate refused.
    Connect,
    Timeout,
    TooLarge,
    Redirect,
    Protocol,
    Cancelled,
    /// Credentials or tokens could not be obtained (token service refused, bad realm).
    Auth,
}

#[derive(Debug, Clone)]
pub struct HttpError {
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub(super) fn herr(kind: ErrorKind, message: impl Into<String>) -> HttpError {
    HttpError {
        kind,
        message: redact_known(&message.into()),
    }
}

pub(super) fn cancelled() -> HttpError {
    herr(ErrorKind::Cancelled, "run cancelled")
}

/// An error with its sources, each said once.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}
