//! Records of HTTP exchanges, kept per check for the reports. Redaction happens here, once,
//! before anything is stored: no reporter ever sees a credential.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// How much of each body a trace keeps.
pub const BODY_PREVIEW: usize = 4096;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
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
    /// Set when the registry (or its token service) refused the run's credentials for this
    /// request (401 it cannot answer, 403): why, and which access. A check whose verdict rests
    /// on such an answer is not judged (see runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `Exchange::method` of a program run (the clients bucket): `url` is its command line,
/// `response_body` the end of its stderr, the first note its exit.
pub const EXEC: &str = "EXEC";

impl Exchange {
    /// How it ended, for reports: the HTTP status, a program's exit, or "no response".
    pub fn ending(&self) -> String {
        match self.status {
            Some(c) => c.to_string(),
            None if self.method == EXEC => self.notes.first().cloned().unwrap_or_default(),
            None => "no response".into(),
        }
    }
}

/// Where a check's exchanges go. Cloned into the client call; cheap.
#[derive(Clone, Default)]
pub struct TraceSink {
    inner: Arc<Mutex<Vec<Exchange>>>,
    secrets: Arc<Vec<String>>,
}

impl TraceSink {
    pub fn new(secrets: Arc<Vec<String>>) -> TraceSink {
        TraceSink {
            inner: Arc::default(),
            secrets,
        }
    }
    pub fn push(&self, mut e: Exchange) {
        e.url = self.redact(&redact_url(&e.url));
        for (k, v) in e
            .request_headers
            .iter_mut()
            .chain(e.response_headers.iter_mut())
        {
            *v = redact_header(k, v);
            if URL_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                *v = redact_url(v);
            }
            *v = self.redact(v);
        }
        e.request_body = self.redact(&e.request_body);
        e.response_body = self.redact(&redact_tokens_in_body(&e.response_body));
        e.notes = e.notes.iter().map(|n| self.redact(n)).collect();
        e.refused = e.refused.map(|r| self.redact(&r));
        self.inner.lock().unwrap().push(e);
    }
    /// The first refusal of credentials among the exchanges so far (see `Exchange::refused`)
    /// that `counts` accepts as one.
    pub fn refusal(&self, counts: impl Fn(&Exchange) -> bool) -> Option<String> {
        self.inner.lock().unwrap().iter().filter(|e| counts(e)).find_map(|e| e.refused.clone())
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

/// Replaces `secrets` and every secret registered with [`register_secret`] in `s`.
pub fn redact_secrets(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for sec in secrets.iter().filter(|s| s.len() >= MIN_SECRET) {
        if out.contains(sec.as_str()) {
            out = out.replace(sec.as_str(), "[REDACTED]");
        }
    }
    match LEARNT.read() {
        Ok(l) => l.redact(&out),
        Err(e) => e.into_inner().redact(&out),
    }
}

/// Redacts only what was registered with [`register_secret`]: for text built where the
/// run's configured secrets are not at hand (failure summaries, HTTP error messages).
pub fn redact_known(s: &str) -> String {
    redact_secrets(s, &[])
}

/// Shorter strings are not redacted: replacing every "pw" in a report would mangle it and
/// hide nothing.
const MIN_SECRET: usize = 3;

/// Secrets learnt while running: bearer tokens the registry issued, the `Basic` form of the
/// credentials, the password. Process-wide, because every trace, message and report of the
/// process must hide them, and redacting more than one run's secrets hides nothing wrongly.
static LEARNT: std::sync::RwLock<Learnt> = std::sync::RwLock::new(Learnt::new());

/// Bound on the learnt tokens (a registry issuing a fresh token per request must not grow the
/// set forever); past it the oldest token goes, by then long out of use. Credentials
/// ([`register_credential`]) are never dropped.
const MAX_LEARNT: usize = 16384;

/// Secrets indexed by length and by their last 8 bytes, so one pass over a text finds every
/// one of thousands of them (a `replace` per secret would make each redaction as slow as the
/// number of tokens a long run learnt).
struct Learnt {
    /// Tokens in registration order, for eviction.
    order: std::collections::VecDeque<String>,
    pinned: Vec<String>,
    /// length → key of the last 8 bytes → secrets
    index: std::collections::BTreeMap<usize, std::collections::HashMap<u64, Vec<String>>>,
}

fn tail_key(b: &[u8]) -> u64 {
    let t = &b[b.len().saturating_sub(8)..];
    let mut k = [0u8; 8];
    k[..t.len()].copy_from_slice(t);
    u64::from_le_bytes(k)
}

impl Learnt {
    const fn new() -> Learnt {
        Learnt {
            order: std::collections::VecDeque::new(),
            pinned: Vec::new(),
            index: std::collections::BTreeMap::new(),
        }
    }
    fn contains(&self, s: &str) -> bool {
        self.index
            .get(&s.len())
            .and_then(|m| m.get(&tail_key(s.as_bytes())))
            .is_some_and(|v| v.iter().any(|x| x == s))
    }
    fn add(&mut self, s: &str, pin: bool) {
        if self.contains(s) {
            if pin && !self.pinned.iter().any(|x| x == s) {
                self.order.retain(|x| x != s);
                self.pinned.push(s.to_string());
            }
            return;
        }
        self.index
            .entry(s.len())
            .or_default()
            .entry(tail_key(s.as_bytes()))
            .or_default()
            .push(s.to_string());
        if pin {
            self.pinned.push(s.to_string());
            return;
        }
        self.order.push_back(s.to_string());
        if self.order.len() > MAX_LEARNT {
            if let Some(old) = self.order.pop_front() {
                self.remove(&old);
            }
        }
    }
    fn remove(&mut self, s: &str) {
        if let Some(m) = self.index.get_mut(&s.len()) {
            let k = tail_key(s.as_bytes());
            if let Some(v) = m.get_mut(&k) {
                v.retain(|x| x != s);
                if v.is_empty() {
                    m.remove(&k);
                }
            }
            if m.is_empty() {
                self.index.remove(&s.len());
            }
        }
    }
    /// Every occurrence replaced, longest secret first where several start at one place.
    fn redact(&self, s: &str) -> String {
        if self.index.is_empty() {
            return s.to_string();
        }
        let b = s.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(b.len());
        let mut i = 0;
        'text: while i < b.len() {
            for (&len, m) in self.index.iter().rev() {
                if let Some(cand) = b.get(i..i + len) {
                    if m.get(&tail_key(cand))
                        .is_some_and(|v| v.iter().any(|x| x.as_bytes() == cand))
                    {
                        out.extend_from_slice(b"[REDACTED]");
                        i += len;
                        continue 'text;
                    }
                }
            }
            out.push(b[i]);
            i += 1;
        }
        // Whole secrets (valid UTF-8) were cut out at their boundaries: still UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

fn learn(s: &str, pin: bool) {
    if s.len() < MIN_SECRET {
        return;
    }
    match LEARNT.write() {
        Ok(mut l) => l.add(s, pin),
        Err(e) => e.into_inner().add(s, pin),
    }
}

/// Adds a secret that every later redaction in this process hides (bearer tokens: the
/// oldest are dropped past a bound).
pub fn register_secret(s: &str) {
    learn(s, false);
}

/// Like [`register_secret`], for the configured credentials: never dropped.
pub fn register_credential(s: &str) {
    learn(s, true);
}

const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-registry-auth",
    "x-registry-token",
    "x-auth-token",
    "x-api-key",
    "x-amz-security-token",
];

/// Headers whose value is a URL (signed redirect targets and upload locations).
const URL_HEADERS: &[&str] = &["location", "content-location"];

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
/// Relative references (`/v2/x/blobs/uploads/1?sig=…`) are redacted the same way.
pub fn redact_url(u: &str) -> String {
    let mut url = match url::Url::parse(u) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => return redact_relative(u),
        Err(_) => return u.to_string(),
    };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| is_secret_param(k)) {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, if is_secret_param(k) { "[REDACTED]" } else { v });
        }
    }
    // readable in reports: the placeholder is not data
    url.to_string().replace("%5BREDACTED%5D", "[REDACTED]")
}

/// A relative reference keeps its own form: only the query values are replaced.
fn redact_relative(u: &str) -> String {
    let Some((head, query)) = u.split_once('?') else {
        return u.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| {
            let key = p.split_once('=').map(|(k, _)| k).unwrap_or(p);
            let decoded: String = url::form_urlencoded::parse(key.as_bytes())
                .map(|(k, _)| k.into_owned())
                .next()
                .unwrap_or_default();
            if is_secret_param(&decoded) {
                format!("{key}=[REDACTED]")
            } else {
                p.to_string()
            }
        })
        .collect();
    let mut out = format!("{head}?{}", parts.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn is_secret_param(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "token",
        "signature",
        "sig",
        "password",
        "secret",
        "credential",
        "key",
        "auth",
        "x-amz-signature",
        "x-amz-credential",
        "x-goog-signature",
    ]
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
    let more = if data.len() > cut.len() {
        format!("… ({} bytes in all)", data.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(cut) {
        Ok(s) => format!("{s}{more}"),
        Err(e) if e.valid_up_to() + 4 > cut.len() => {
            format!("{}{more}", String::from_utf8_lossy(cut))
        }
        Err(_) => format!("<{} bytes of binary data>", data.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn redacts() {
        assert_eq!(
            redact_header("Authorization", "Bearer abc.def"),
            "Bearer [REDACTED]"
        );
        assert_eq!(
            redact_header("authorization", "Basic dXNlcjpwYXNz"),
            "Basic [REDACTED]"
        );
        assert!(!redact_url("http://u:p@h/x?token=abc&n=1").contains("abc"));
        assert!(redact_url("http://h/x?token=abc&n=1").contains("n=1"));
        assert!(!redact_tokens_in_body(r#"{"token":"sekret","expires_in":60}"#).contains("sekret"));
        assert_eq!(
            redact_secrets("pw=hunter2", &["hunter2".into()]),
            "pw=[REDACTED]"
        );
    }
    #[test]
    fn learnt_secrets_are_bounded_but_credentials_stay() {
        let mut l = Learnt::new();
        l.add("password-pinned", true);
        for i in 0..MAX_LEARNT + 10 {
            l.add(&format!("tok-{i:06}-issued"), false);
        }
        assert_eq!(l.redact("password-pinned"), "[REDACTED]");
        assert_eq!(
            l.redact("tok-000000-issued"),
            "tok-000000-issued",
            "the oldest token went"
        );
        assert_eq!(
            l.redact(&format!("a tok-{:06}-issued b", MAX_LEARNT + 9)),
            "a [REDACTED] b"
        );
        assert_eq!(l.order.len(), MAX_LEARNT);
    }
    #[test]
    fn redacts_relative_urls() {
        let r =
            redact_url("/v2/a/blobs/uploads/1?X-Amz-Signature=abc&_state=s&X-Amz-Credential=def");
        assert_eq!(
            r,
            "/v2/a/blobs/uploads/1?X-Amz-Signature=[REDACTED]&_state=s&X-Amz-Credential=[REDACTED]"
        );
        assert_eq!(redact_url("/v2/a/tags/list?n=1"), "/v2/a/tags/list?n=1");
        assert_eq!(redact_url("/v2/"), "/v2/");
    }
    #[test]
    fn registered_secrets_are_redacted_everywhere() {
        register_secret("tok-registered-7Hq2");
        assert_eq!(redact_known("a tok-registered-7Hq2 b"), "a [REDACTED] b");
        assert_eq!(redact_secrets("tok-registered-7Hq2", &[]), "[REDACTED]");
        register_secret("ab");
        assert_eq!(redact_known("ab"), "ab");
        // longest first, every occurrence, UTF-8 kept
        register_secret("tok-registered-7Hq2-longer");
        assert_eq!(
            redact_known("é tok-registered-7Hq2-longer tok-registered-7Hq2é"),
            "é [REDACTED] [REDACTED]é"
        );
        let t = TraceSink::new(Arc::new(vec![]));
        t.push(Exchange {
            method: "GET".into(),
            url: "http://h/v2/".into(),
            request_headers: vec![],
            request_body: String::new(),
            status: Some(307),
            response_headers: vec![
                ("Location".into(), "http://cdn/x?sig=s1&n=1".into()),
                ("X-Echo".into(), "tok-registered-7Hq2".into()),
            ],
            response_body: String::new(),
            duration_ms: 0,
            notes: vec![],
            refused: None,
        });
        let e = &t.take()[0];
        assert_eq!(e.response_headers[0].1, "http://cdn/x?sig=[REDACTED]&n=1");
        assert_eq!(e.response_headers[1].1, "[REDACTED]");
    }
}
