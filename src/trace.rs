//! Records of HTTP exchanges, kept per check for the reports. Redaction happens here, once,
//! before anything is stored: no reporter ever sees a credential.

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// How much of each body a trace keeps.
pub const BODY_PREVIEW: usize = 4096;

#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    pub duration_ms: u64,
    /// Redirect hops, retries, timeouts, read errors.
    pub notes: Vec<String>,
}

/// Where a check's exchanges go. Cloned into the client call; cheap.
#[derive(Clone, Default)]
pub struct TraceSink {
    inner: Arc<Mutex<Vec<Exchange>>>,
    secrets: Arc<Vec<String>>,
}

impl TraceSink {
    pub fn new(secrets: Arc<Vec<String>>) -> TraceSink {
        TraceSink { inner: Arc::default(), secrets }
    }
    pub fn push(&self, mut e: Exchange) {
        e.url = self.redact(&redact_url(&e.url));
        for (k, v) in e.request_headers.iter_mut().chain(e.response_headers.iter_mut()) {
            *v = redact_header(k, v);
            *v = self.redact(v);
        }
        e.request_body = self.redact(&e.request_body);
        e.response_body = self.redact(&redact_tokens_in_body(&e.response_body));
        e.notes = e.notes.iter().map(|n| self.redact(n)).collect();
        self.inner.lock().unwrap().push(e);
    }
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.inner.lock().unwrap())
    }
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Replaces every configured secret in `s`.
    pub fn redact(&self, s: &str) -> String {
        redact_secrets(s, &self.secrets)
    }
}

pub fn redact_secrets(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for sec in secrets.iter().filter(|s| s.len() >= 3) {
        if out.contains(sec.as_str()) {
            out = out.replace(sec.as_str(), "[REDACTED]");
        }
    }
    out
}

const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-registry-auth"];

pub fn redact_header(name: &str, value: &str) -> String {
    let n = name.to_ascii_lowercase();
    if SECRET_HEADERS.contains(&n.as_str()) {
        // keep the scheme so a reader can tell basic from bearer
        match value.split_once(' ') {
            Some((scheme, _)) if n.contains("authorization") => format!("{scheme} [REDACTED]"),
            _ => "[REDACTED]".into(),
        }
    } else {
        value.to_string()
    }
}

/// Drops userinfo and values of token-like query parameters (signed URLs, access tokens).
pub fn redact_url(u: &str) -> String {
    let Ok(mut url) = url::Url::parse(u) else { return u.to_string() };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if pairs.iter().any(|(k, _)| is_secret_param(k)) {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, if is_secret_param(k) { "[REDACTED]" } else { v });
        }
    }
    url.to_string()
}

fn is_secret_param(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["token", "signature", "sig", "password", "secret", "credential", "x-amz-signature", "x-amz-credential", "x-goog-signature"]
        .iter()
        .any(|s| k == *s || k.ends_with(&format!("_{s}")) || k.ends_with(&format!("-{s}")))
}

/// Token endpoint answers carry `token` / `access_token` / `refresh_token`: blank their values.
pub fn redact_tokens_in_body(body: &str) -> String {
    if !(body.contains("token")) {
        return body.to_string();
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut m)) => {
            let mut changed = false;
            for k in ["token", "access_token", "refresh_token", "id_token"] {
                if let Some(v) = m.get_mut(k) {
                    *v = serde_json::Value::String("[REDACTED]".into());
                    changed = true;
                }
            }
            if changed {
                serde_json::to_string(&m).unwrap_or_default()
            } else {
                body.to_string()
            }
        }
        _ => body.to_string(),
    }
}

/// A printable preview of a body: UTF-8 text up to BODY_PREVIEW bytes, else a hex summary.
pub fn preview(data: &[u8]) -> String {
    let cut = &data[..data.len().min(BODY_PREVIEW)];
    let more = if data.len() > cut.len() { format!("… ({} bytes in all)", data.len()) } else { String::new() };
    match std::str::from_utf8(cut) {
        Ok(s) => format!("{s}{more}"),
        Err(e) if e.valid_up_to() + 4 > cut.len() => format!("{}{more}", String::from_utf8_lossy(cut)),
        Err(_) => format!("<{} bytes of binary data>", data.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn redacts() {
        assert_eq!(redact_header("Authorization", "Bearer abc.def"), "Bearer [REDACTED]");
        assert_eq!(redact_header("authorization", "Basic dXNlcjpwYXNz"), "Basic [REDACTED]");
        assert!(!redact_url("http://u:p@h/x?token=abc&n=1").contains("abc"));
        assert!(redact_url("http://h/x?token=abc&n=1").contains("n=1"));
        assert!(!redact_tokens_in_body(r#"{"token":"sekret","expires_in":60}"#).contains("sekret"));
        assert_eq!(redact_secrets("pw=hunter2", &["hunter2".into()]), "pw=[REDACTED]");
    }
}
