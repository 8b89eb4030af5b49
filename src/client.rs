//! The one HTTP layer every check goes through: auth, redirects followed by hand, retries on
//! 429/503, timeouts, bounded reads, streamed blob bodies and a trace of every exchange.

use crate::content::Blob;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::headers;
use crate::trace::{preview, Exchange, TraceSink, BODY_PREVIEW};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Cap on any body the harness buffers (manifests, indexes, tag lists, errors): the 4 MiB
/// manifest size clients must support, plus margin for the too-large manifest checks' echoes.
pub const DEFAULT_BODY_CAP: usize = 8 << 20;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Until the response headers arrive, and between two reads of a body.
    pub request_timeout: Duration,
    pub max_redirects: usize,
    /// 429/503 retries and the longest Retry-After honoured.
    pub max_retries: usize,
    pub max_retry_wait: Duration,
    pub body_cap: usize,
    pub insecure: bool,
    pub ca_cert_pem: Option<Vec<u8>>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_redirects: 10,
            max_retries: 3,
            max_retry_wait: Duration::from_secs(10),
            body_cap: DEFAULT_BODY_CAP,
            insecure: false,
            ca_cert_pem: None,
            username: None,
            password: None,
            user_agent: format!("oci-conformance/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A request body that can always be produced again (for redirects and retries).
#[derive(Clone, Debug, Default)]
pub enum Body {
    #[default]
    Empty,
    Bytes(Bytes),
    /// `blob[start..end]`, generated while it is sent.
    Blob { blob: Blob, start: u64, end: u64 },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Blob { start, end, .. } => end - start,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn preview(&self) -> String {
        match self {
            Body::Empty => String::new(),
            Body::Bytes(b) => preview(b),
            Body::Blob { start, end, .. } => format!("<{} bytes of blob data, offset {}>", end - start, start),
        }
    }
    fn to_reqwest(&self) -> reqwest::Body {
        match self {
            Body::Empty => reqwest::Body::from(Bytes::new()),
            Body::Bytes(b) => reqwest::Body::from(b.clone()),
            Body::Blob { blob, start, end } => {
                let it = blob.pieces(*start, *end, 256 << 10).map(Ok::<Bytes, std::io::Error>);
                reqwest::Body::wrap_stream(futures_util::stream::iter(it))
            }
        }
    }
}

/// How to read the response body.
#[derive(Clone, Copy, Debug)]
pub enum Read {
    /// Keep it, up to the client's cap; past it the request fails with `TooLarge`.
    Buffer,
    /// Stream it through a hasher, keep only a preview. For blobs of any size.
    Hash(Algorithm),
    /// Do not read it (HEAD, or when only the status matters).
    Discard,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// A path on the registry (`/v2/...`) or an absolute URL (upload locations, redirects).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub read: Read,
    /// Repository scope for bearer tokens: (repo, actions), plus extra scopes for mounts.
    pub scopes: Vec<String>,
}

impl Request {
    pub fn new(method: Method, target: impl Into<String>) -> Request {
        Request { method, target: target.into(), headers: vec![], body: Body::Empty, read: Read::Buffer, scopes: vec![] }
    }
    pub fn get(t: impl Into<String>) -> Request {
        Request::new(Method::GET, t)
    }
    pub fn head(t: impl Into<String>) -> Request {
        Request::new(Method::HEAD, t).read(Read::Discard)
    }
    pub fn put(t: impl Into<String>) -> Request {
        Request::new(Method::PUT, t)
    }
    pub fn post(t: impl Into<String>) -> Request {
        Request::new(Method::POST, t)
    }
    pub fn patch(t: impl Into<String>) -> Request {
        Request::new(Method::PATCH, t)
    }
    pub fn delete(t: impl Into<String>) -> Request {
        Request::new(Method::DELETE, t)
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Request {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    pub fn body(mut self, b: Body) -> Request {
        self.body = b;
        self
    }
    pub fn bytes(self, b: impl Into<Bytes>) -> Request {
        self.body(Body::Bytes(b.into()))
    }
    pub fn read(mut self, r: Read) -> Request {
        self.read = r;
        self
    }
    pub fn scope(mut self, s: impl Into<String>) -> Request {
        self.scopes.push(s.into());
        self
    }
    /// `METHOD /path` for messages.
    pub fn describe(&self) -> String {
        let path = match Url::parse(&self.target) {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{}", u.path(), q),
                None => u.path().to_string(),
            },
            Err(_) => self.target.clone(),
        };
        format!("{} {}", self.method, crate::trace::redact_url(&path))
    }
}

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
        self.headers.get_all(name).iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response body is not JSON: {e}"))
    }
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }
    /// Short summary for failure messages: status, key headers, body preview.
    pub fn summary(&self) -> String {
        let mut s = format!("{}", self.status);
        for h in ["content-type", "location", "docker-content-digest", "range", "content-length", "link"] {
            if let Some(v) = self.header(h) {
                s.push_str(&format!(", {h}: {v}"));
            }
        }
        if !self.body.is_empty() {
            let p = preview(&self.body[..self.body.len().min(300)]);
            s.push_str(&format!(", body: {}", p.replace('\n', " ")));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Connect,
    Timeout,
    TooLarge,
    Redirect,
    Protocol,
    Cancelled,
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

fn herr(kind: ErrorKind, message: impl Into<String>) -> HttpError {
    HttpError { kind, message: message.into() }
}

pub struct Client {
    http: reqwest::Client,
    pub base: Url,
    pub opts: ClientOptions,
    requests: AtomicU64,
    /// Bearer tokens by scope string.
    tokens: Mutex<std::collections::HashMap<String, String>>,
    /// Remembered challenge, so later requests can fetch tokens before the first 401.
    challenge: Mutex<Option<headers::Challenge>>,
    pub cancel: tokio_util::sync::CancellationToken,
}

impl Client {
    pub fn new(base: Url, opts: ClientOptions) -> Result<Arc<Client>, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(32)
            .user_agent(opts.user_agent.clone())
            .no_proxy();
        if opts.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &opts.ca_cert_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("--ca-cert: not a PEM certificate: {e}"))?;
            if certs.is_empty() {
                return Err("--ca-cert: no certificate in the file".into());
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(Arc::new(Client {
            http,
            base,
            opts,
            requests: AtomicU64::new(0),
            tokens: Mutex::default(),
            challenge: Mutex::default(),
            cancel: tokio_util::sync::CancellationToken::new(),
        }))
    }

    /// Number of HTTP requests sent so far (including redirects, retries and token fetches).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn resolve(&self, target: &str) -> Result<Url, HttpError> {
        if target.starts_with("http://") || target.starts_with("https://") {
            Url::parse(target).map_err(|e| herr(ErrorKind::Protocol, format!("bad URL {target:?}: {e}")))
        } else {
            self.base.join(target).map_err(|e| herr(ErrorKind::Protocol, format!("bad location {target:?}: {e}")))
        }
    }

    fn same_origin(&self, u: &Url) -> bool {
        u.scheme() == self.base.scheme() && u.host_str() == self.base.host_str() && u.port_or_known_default() == self.base.port_or_known_default()
    }

    /// Sends a request; follows redirects, retries 429/503, answers auth challenges.
    pub async fn send(&self, req: &Request, trace: &TraceSink) -> Result<Response, HttpError> {
        let mut url = self.resolve(&req.target)?;
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        let mut hops = 0;
        let mut retries = 0;
        let mut auth_tried = false;
        loop {
            if self.cancel.is_cancelled() {
                return Err(herr(ErrorKind::Cancelled, "run cancelled"));
            }
            let send_creds = self.same_origin(&url);
            let auth = if send_creds { self.auth_header(&req.scopes) } else { None };
            let (resp, mut notes) = self.exchange(&method, &url, req, &body, auth.as_deref(), trace).await?;
            let status = resp.status;
            // Auth challenge: fetch a token (or use basic) once, then retry.
            if status == 401 && send_creds && !auth_tried {
                if let Some(ch) = resp.header("www-authenticate").and_then(headers::parse_challenge) {
                    auth_tried = true;
                    if self.answer_challenge(ch, &req.scopes, trace).await? {
                        continue;
                    }
                }
            }
            if matches!(status, 429 | 503) && retries < self.opts.max_retries {
                let wait = resp.header("retry-after").and_then(headers::parse_retry_after);
                if let Some(w) = wait {
                    if w <= self.opts.max_retry_wait {
                        retries += 1;
                        notes.push(format!("{status} with Retry-After {}s: retrying", w.as_secs()));
                        self.sleep(w).await?;
                        continue;
                    }
                }
            }
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let Some(loc) = resp.header("location") else { return Ok(resp) };
                hops += 1;
                if hops > self.opts.max_redirects {
                    return Err(herr(ErrorKind::Redirect, format!("{}: more than {} redirects (last to {})", req.describe(), self.opts.max_redirects, crate::trace::redact_url(loc))));
                }
                let next = url.join(loc).map_err(|e| herr(ErrorKind::Redirect, format!("{}: redirect to unparsable Location {loc:?}: {e}", req.describe())))?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(herr(ErrorKind::Redirect, format!("{}: redirect to a non-HTTP URL ({})", req.describe(), next.scheme())));
                }
                if status == 303 || (matches!(status, 301 | 302) && method == Method::POST) {
                    method = if method == Method::HEAD { Method::HEAD } else { Method::GET };
                    body = Body::Empty;
                }
                url = next;
                continue;
            }
            return Ok(resp);
        }
    }

    async fn sleep(&self, d: Duration) -> Result<(), HttpError> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(herr(ErrorKind::Cancelled, "run cancelled")),
        }
    }

    fn auth_header(&self, scopes: &[String]) -> Option<String> {
        let key = scopes.join(" ");
        if let Some(t) = self.tokens.lock().unwrap().get(&key) {
            return Some(format!("Bearer {t}"));
        }
        if let (Some(u), Some(p)) = (&self.opts.username, &self.opts.password) {
            let is_basic = matches!(&*self.challenge.lock().unwrap(), Some(headers::Challenge::Basic { .. }));
            if is_basic {
                use base64::Engine;
                return Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
            }
        }
        None
    }

    /// Returns true if a retry has a chance (credentials or a token were obtained).
    async fn answer_challenge(&self, ch: headers::Challenge, scopes: &[String], trace: &TraceSink) -> Result<bool, HttpError> {
        *self.challenge.lock().unwrap() = Some(ch.clone());
        match ch {
            headers::Challenge::Basic { .. } => Ok(self.opts.username.is_some()),
            headers::Challenge::Bearer { realm, service, scope } => {
                let mut url = Url::parse(&realm).or_else(|_| self.base.join(&realm)).map_err(|e| herr(ErrorKind::Protocol, format!("bearer realm {realm:?} is not a URL: {e}")))?;
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = &service {
                        q.append_pair("service", s);
                    }
                    if scopes.is_empty() {
                        if let Some(s) = &scope {
                            q.append_pair("scope", s);
                        }
                    }
                    for s in scopes {
                        q.append_pair("scope", s);
                    }
                }
                let mut r = Request::get(url.to_string());
                if let (Some(u), Some(p)) = (&self.opts.username, &self.opts.password) {
                    use base64::Engine;
                    r = r.header("Authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
                }
                let (resp, _) = self.exchange(&Method::GET, &url, &r, &Body::Empty, None, trace).await?;
                if resp.status != 200 {
                    return Ok(false);
                }
                let v: serde_json::Value = match serde_json::from_slice(&resp.body) {
                    Ok(v) => v,
                    Err(_) => return Ok(false),
                };
                let tok = v.get("token").or_else(|| v.get("access_token")).and_then(|t| t.as_str());
                match tok {
                    Some(t) if !t.is_empty() => {
                        self.tokens.lock().unwrap().insert(scopes.join(" "), t.to_string());
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            }
        }
    }

    /// One request/response, traced. Applies the timeouts and the body read mode.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        req: &Request,
        body: &Body,
        auth: Option<&str>,
        trace: &TraceSink,
    ) -> Result<(Response, Vec<String>), HttpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let mut hm = HeaderMap::new();
        for (k, v) in &req.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
                hm.append(k, v);
            }
        }
        if let Some(a) = auth {
            if let Ok(v) = HeaderValue::from_str(a) {
                hm.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        let has_body = !matches!(body, Body::Empty) || matches!(*method, Method::PUT | Method::POST | Method::PATCH);
        if has_body && !hm.contains_key(reqwest::header::CONTENT_LENGTH) {
            hm.insert(reqwest::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let mut ex = Exchange {
            method: method.to_string(),
            url: url.to_string(),
            request_headers: hm.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect(),
            request_body: body.preview(),
            status: None,
            response_headers: vec![],
            response_body: String::new(),
            duration_ms: 0,
            notes: vec![],
        };
        let mut rb = self.http.request(method.clone(), url.clone()).headers(hm);
        if has_body {
            rb = rb.body(body.to_reqwest());
        }
        let to = self.opts.request_timeout;
        let sent = tokio::select! {
            r = tokio::time::timeout(to, rb.send()) => r,
            _ = self.cancel.cancelled() => {
                ex.notes.push("cancelled".into());
                trace.push(ex);
                return Err(herr(ErrorKind::Cancelled, "run cancelled"));
            }
        };
        let resp = match sent {
            Err(_) => {
                let m = format!("{} {}: timed out after {} s waiting for the response", method, url.path(), to.as_secs_f64());
                ex.notes.push(m.clone());
                ex.duration_ms = started.elapsed().as_millis() as u64;
                trace.push(ex);
                return Err(herr(ErrorKind::Timeout, m));
            }
            Ok(Err(e)) => {
                let kind = if e.is_connect() { ErrorKind::Connect } else if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Protocol };
                let m = format!("{} {}: {}", method, crate::trace::redact_url(url.as_str()), error_chain(&e));
                ex.notes.push(m.clone());
                ex.duration_ms = started.elapsed().as_millis() as u64;
                trace.push(ex);
                return Err(herr(kind, m));
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        ex.status = Some(status);
        ex.response_headers = headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let read = if *method == Method::HEAD { Read::Discard } else { req.read };
        // Error statuses are always buffered so their bodies can be judged and shown.
        let read = match read {
            Read::Hash(_) if status >= 300 => Read::Buffer,
            Read::Discard if status >= 400 && *method != Method::HEAD => Read::Buffer,
            r => r,
        };
        let mut hasher = match read {
            Read::Hash(a) => Some(Hasher::new(a)),
            _ => None,
        };
        let mut kept: Vec<u8> = Vec::new();
        let keep_cap = match read {
            Read::Buffer => self.opts.body_cap,
            Read::Hash(_) => BODY_PREVIEW,
            Read::Discard => 0,
        };
        let mut result: Result<(), HttpError> = Ok(());
        if !matches!(read, Read::Discard) {
            let mut stream = resp.bytes_stream();
            loop {
                let next = tokio::select! {
                    n = tokio::time::timeout(to, stream.next()) => n,
                    _ = self.cancel.cancelled() => { result = Err(herr(ErrorKind::Cancelled, "run cancelled")); break; }
                };
                match next {
                    Err(_) => {
                        result = Err(herr(ErrorKind::Timeout, format!("{} {}: body stalled: no data for {} s", method, url.path(), to.as_secs_f64())));
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        result = Err(herr(ErrorKind::Protocol, format!("{} {}: reading the body failed: {}", method, url.path(), error_chain(&e))));
                        break;
                    }
                    Ok(Some(Ok(chunk))) => {
                        if let Some(h) = hasher.as_mut() {
                            h.update(&chunk);
                        }
                        if kept.len() < keep_cap {
                            let n = chunk.len().min(keep_cap - kept.len());
                            kept.extend_from_slice(&chunk[..n]);
                        } else if matches!(read, Read::Buffer) {
                            result = Err(herr(ErrorKind::TooLarge, format!("{} {}: response body is larger than the {} byte cap", method, url.path(), keep_cap)));
                            break;
                        }
                    }
                }
            }
        }
        ex.response_body = preview(&kept);
        ex.duration_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = &result {
            ex.notes.push(e.message.clone());
        }
        let notes = ex.notes.clone();
        trace.push(ex);
        result?;
        Ok((
            Response {
                status,
                headers,
                body: Bytes::from(kept),
                hashed: hasher.map(|h| {
                    let len = h.len;
                    (h.finish(), len)
                }),
                url: url.clone(),
                request: req.describe(),
            },
            notes,
        ))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
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
