//! HTTP plumbing for the registry: the parsed request, a response builder that cannot fail,
//! the spec's JSON error bodies, and bounded body reading.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method};

pub type Resp = hyper::Response<Full<Bytes>>;

/// Largest body drained (read and thrown away) after deciding to refuse a request, so the
/// client reads the answer instead of a reset connection. Bigger bodies: answer and close.
pub const DRAIN_MAX: u64 = 64 << 20;

pub const MT_JSON: &str = "application/json";
pub const MT_OCTET: &str = "application/octet-stream";

/// A request as the handlers see it. The body stays a stream.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Incoming,
}

impl Req {
    pub fn from_hyper(r: hyper::Request<Incoming>) -> Req {
        let (parts, body) = r.into_parts();
        let query = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Req {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query,
            headers: parts.headers,
            body,
        }
    }
    /// First value of a query parameter.
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn q_all(&self, k: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// A header as text (None if absent or not visible ASCII).
    pub fn h(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
    /// The declared Content-Length, if any and parsable.
    pub fn content_length(&self) -> Option<u64> {
        self.h("content-length").and_then(|v| v.trim().parse().ok())
    }

    /// Next piece of the body; None at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(format!("reading the request body failed: {e}")),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        if !d.is_empty() {
                            return Ok(Some(d));
                        }
                    }
                }
            }
        }
    }

    /// Reads the whole body if it fits in `limit` bytes. `Ok(None)`: it is larger (the rest has
    /// been drained up to DRAIN_MAX, see `drained_all`).
    pub async fn read_limited(&mut self, limit: usize) -> Result<Option<Bytes>, String> {
        if self
            .content_length()
            .map(|n| n > limit as u64)
            .unwrap_or(false)
        {
            self.drain().await;
            return Ok(None);
        }
        let mut buf = Vec::new();
        while let Some(c) = self.chunk().await? {
            if buf.len() + c.len() > limit {
                self.drain().await;
                return Ok(None);
            }
            buf.extend_from_slice(&c);
        }
        Ok(Some(Bytes::from(buf)))
    }

    /// Reads and discards the rest of the body, up to DRAIN_MAX. Returns false if it stopped
    /// early (the connection should then be closed).
    pub async fn drain(&mut self) -> bool {
        let mut n = 0u64;
        while let Ok(Some(c)) = self.chunk().await {
            n += c.len() as u64;
            if n > DRAIN_MAX {
                return false;
            }
        }
        true
    }
}

/// A response under construction. Header values that are not valid HTTP are dropped rather
/// than failing: every value set here comes from validated names, tags and digests anyway.
#[derive(Debug)]
pub struct R {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Content-Length to announce on a HEAD response (the body stays empty).
    pub head_length: Option<u64>,
}

impl R {
    pub fn new(status: u16) -> R {
        R {
            status,
            headers: vec![],
            body: Bytes::new(),
            head_length: None,
        }
    }
    pub fn header(mut self, k: &'static str, v: impl AsRef<str>) -> R {
        if let Ok(v) = HeaderValue::from_str(v.as_ref()) {
            self.headers.push((HeaderName::from_static(k), v));
        }
        self
    }
    /// Replaces every value of a header.
    pub fn set_header(mut self, k: &'static str, v: impl AsRef<str>) -> R {
        self.headers.retain(|(n, _)| n.as_str() != k);
        self.header(k, v)
    }
    pub fn get_header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str() == k)
            .and_then(|(_, v)| v.to_str().ok())
    }
    pub fn remove_header(mut self, k: &str) -> R {
        self.headers.retain(|(n, _)| n.as_str() != k);
        self
    }
    pub fn body(mut self, content_type: &str, b: impl Into<Bytes>) -> R {
        self = self.set_header("content-type", content_type);
        self.body = b.into();
        self
    }
    pub fn json(self, v: &serde_json::Value) -> R {
        self.body(MT_JSON, serde_json::to_vec(v).unwrap_or_default())
    }
    /// For HEAD: keep the headers of the GET answer, announce its length, send no body.
    pub fn into_head(mut self) -> R {
        self.head_length = Some(self.body.len() as u64);
        self.body = Bytes::new();
        self
    }
    pub fn build(self) -> Resp {
        let mut r = hyper::Response::new(Full::new(self.body));
        *r.status_mut() = hyper::StatusCode::from_u16(self.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        for (k, v) in self.headers {
            h.append(k, v);
        }
        if let Some(n) = self.head_length {
            if !h.contains_key(hyper::header::CONTENT_LENGTH) {
                h.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        r
    }
}

/// The spec's error body: `{"errors": [{"code", "message", "detail"}]}`.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> R {
    errors(status, &[(code, message.into())])
}

pub fn errors(status: u16, list: &[(&str, String)]) -> R {
    let errs: Vec<_> = list
        .iter()
        .map(|(c, m)| serde_json::json!({"code": c, "message": m}))
        .collect();
    R::new(status).json(&serde_json::json!({ "errors": errs }))
}

/// Percent-decodes a path segment (clients may escape ':' in digests); invalid UTF-8 is kept
/// as replacement characters, which no grammar accepts.
pub fn decode_segment(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hexval = |x: u8| (x as char).to_digit(16);
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a value for a query string inside a Link header or Location.
pub fn qenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn decode() {
        assert_eq!(decode_segment("sha256%3Aab"), "sha256:ab");
        assert_eq!(decode_segment("a%"), "a%");
        assert_eq!(decode_segment("a%4"), "a%4");
        assert_eq!(decode_segment("%zz"), "%zz");
        assert_eq!(decode_segment("%e2%82%ac"), "€");
        assert_eq!(decode_segment("%€"), "%€");
    }
}
