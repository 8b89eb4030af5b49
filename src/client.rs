//! The one HTTP layer every check goes through: auth, redirects followed by hand, retries on
//! 429/503, timeouts, bounded reads, streamed blob bodies and a trace of every exchange.
//!
//! What it guarantees, whatever the registry does:
//! - every wait is bounded: the connection by `connect_timeout`; an exchange by
//!   `request_timeout` of silence (sending the body, waiting for the headers, between two
//!   reads of the body) and by a minimum body rate; retries, redirects and auth rounds by
//!   counts; everything by the run's cancellation token (signals, --deadline);
//! - credentials (basic, bearer tokens, any Authorization or Cookie header) only go to the
//!   registry's own origin (scheme, host, port) and to the token service it names;
//! - every request body can be sent again (generated content), so 307/308 and retries re-send
//!   it, and the trace says so;
//! - every secret is registered for redaction before anything that could show it is stored.

use crate::content::Blob;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::headers::{self, Challenge};
use crate::trace::{
    preview, redact_known, redact_url, register_credential, register_secret, Exchange, TraceSink,
    BODY_PREVIEW,
};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Cap on any body the harness buffers (manifests, indexes, tag lists, errors): the 4 MiB
/// manifest size clients must support ("at least 4 megabytes"), plus 64 KiB of margin. Kept
/// tight because it is per request: --jobs requests may buffer at once.
pub const DEFAULT_BODY_CAP: usize = (4 << 20) + (64 << 10);

/// Request bodies go out in pieces of this size, so sending them shows progress.
const SEND_PIECE: usize = 256 << 10;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Longest silence in an exchange: sending the body, waiting for the response headers,
    /// and between two reads of the response body.
    pub request_timeout: Duration,
    pub max_redirects: usize,
    /// 429/503 retries and the longest Retry-After honoured.
    pub max_retries: usize,
    pub max_retry_wait: Duration,
    pub body_cap: usize,
    /// Slowest response body accepted, in bytes per second, averaged over `request_timeout`
    /// (0: no limit). A body trickling a byte a second never falls silent, yet would take days.
    pub min_body_rate: u64,
    /// Longest body a hashed read (Read::Hash) takes; None: unbounded (a blob of any size).
    /// Without it an endless chunked body ends only with the run's deadline.
    pub max_hash_body: Option<u64>,
    pub insecure: bool,
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Client certificate chain and key (PEM) for registries that require mutual TLS.
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
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
            min_body_rate: 1024,
            max_hash_body: None,
            insecure: false,
            ca_cert_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
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
    Blob {
        blob: Blob,
        start: u64,
        end: u64,
    },
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
            Body::Blob { start, end, .. } => {
                format!("<{} bytes of blob data, offset {}>", end - start, start)
            }
        }
    }
    /// A fresh body for one send; every piece handed to the connection counts as progress.
    fn to_reqwest(&self, progress: &Arc<Progress>) -> reqwest::Body {
        let pieces: Box<dyn Iterator<Item = Bytes> + Send> = match self {
            Body::Empty => return reqwest::Body::from(Bytes::new()),
            Body::Bytes(b) if b.len() <= SEND_PIECE => {
                // handed over whole: the socket buffers take it at once
                progress.sent.store(b.len() as u64, Ordering::Relaxed);
                return reqwest::Body::from(b.clone());
            }
            Body::Bytes(b) => {
                let b = b.clone();
                Box::new(
                    (0..b.len())
                        .step_by(SEND_PIECE)
                        .map(move |i| b.slice(i..(i + SEND_PIECE).min(b.len()))),
                )
            }
            Body::Blob { blob, start, end } => Box::new(blob.pieces(*start, *end, SEND_PIECE)),
        };
        let p = progress.clone();
        reqwest::Body::wrap_stream(futures_util::stream::iter(pieces.map(move |b| {
            p.sent(b.len());
            Ok::<Bytes, std::io::Error>(b)
        })))
    }
}

/// When an exchange last made progress (milliseconds after it started) and how much of the
/// request body was handed over.
struct Progress {
    started: Instant,
    last_ms: AtomicU64,
    sent: AtomicU64,
}

impl Progress {
    fn new() -> Arc<Progress> {
        Arc::new(Progress {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }
    fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn last(&self) -> u64 {
        self.last_ms.load(Ordering::Relaxed)
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
    /// Bearer token scopes (`repository:<name>:<actions>`). Empty: derived from the URL
    /// (see [`derive_scopes`]), which is what every check needs.
    pub scopes: Vec<String>,
}

impl Request {
    pub fn new(method: Method, target: impl Into<String>) -> Request {
        Request {
            method,
            target: target.into(),
            headers: vec![],
            body: Body::Empty,
            read: Read::Buffer,
            scopes: vec![],
        }
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
        redact_known(&format!("{} {}", self.method, redact_url(&path)))
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

fn herr(kind: ErrorKind, message: impl Into<String>) -> HttpError {
    HttpError {
        kind,
        message: redact_known(&message.into()),
    }
}

fn cancelled() -> HttpError {
    herr(ErrorKind::Cancelled, "run cancelled")
}

/// A bearer token and what it was asked for.
#[derive(Clone)]
struct Token {
    value: String,
    scopes: Vec<String>,
    expires: Instant,
}

#[derive(Default)]
struct AuthState {
    /// The registry's last challenge: decides what later requests send up front.
    challenge: Option<Challenge>,
    /// Bearer tokens by scope key (see [`scope_key`]).
    tokens: HashMap<String, Token>,
}

pub struct Client {
    http: reqwest::Client,
    pub base: Url,
    pub opts: ClientOptions,
    requests: AtomicU64,
    auth: Mutex<AuthState>,
    /// One token fetch at a time: concurrent checks on a fresh repository then share one.
    token_fetch: tokio::sync::Mutex<()>,
    /// `Basic …` for the configured credentials.
    basic: Option<String>,
    pub cancel: tokio_util::sync::CancellationToken,
}

/// What to do with a 401.
enum AuthStep {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    GiveUp(String),
}

impl Client {
    pub fn new(base: Url, opts: ClientOptions) -> Result<Arc<Client>, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(32)
            .user_agent(opts.user_agent.clone())
            .no_proxy();
        let trust = crate::tls::Trust {
            ca_pem: opts.ca_cert_pem.clone(),
            client_cert_pem: opts.client_cert_pem.clone(),
            client_key_pem: opts.client_key_pem.clone(),
        };
        if opts.insecure {
            if opts.client_cert_pem.is_some() {
                return Err("--insecure cannot be combined with --client-cert: pass the registry's CA with --ca-cert instead".into());
            }
            b = b.danger_accept_invalid_certs(true);
        } else if trust.is_custom() {
            b = b.use_preconfigured_tls(crate::tls::client_config(&trust)?);
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        let basic = match (&opts.username, &opts.password) {
            (Some(u), Some(p)) => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                // The wire form of the credentials is as secret as the password.
                register_credential(p);
                register_credential(&encoded);
                Some(format!("Basic {encoded}"))
            }
            _ => None,
        };
        Ok(Arc::new(Client {
            http,
            base,
            opts,
            requests: AtomicU64::new(0),
            auth: Mutex::default(),
            token_fetch: tokio::sync::Mutex::new(()),
            basic,
            cancel: tokio_util::sync::CancellationToken::new(),
        }))
    }

    /// Number of HTTP requests sent so far (including redirects, retries and token fetches).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn resolve(&self, target: &str) -> Result<Url, HttpError> {
        let u = if target.starts_with("http://") || target.starts_with("https://") {
            Url::parse(target).map_err(|e| {
                herr(
                    ErrorKind::Protocol,
                    format!("bad URL {:?}: {e}", redact_url(target)),
                )
            })?
        } else {
            self.base.join(target).map_err(|e| {
                herr(
                    ErrorKind::Protocol,
                    format!("bad location {:?}: {e}", redact_url(target)),
                )
            })?
        };
        if !matches!(u.scheme(), "http" | "https") {
            return Err(herr(
                ErrorKind::Protocol,
                format!("{:?} is not an http(s) URL", redact_url(target)),
            ));
        }
        Ok(u)
    }

    /// Same scheme, host and port as the registry: where credentials may go.
    fn same_origin(&self, u: &Url) -> bool {
        same_origin(u, &self.base)
    }

    /// Scopes a request needs: its own, or derived from the URL path below the base path.
    fn scopes_for(&self, req: &Request, url: &Url) -> Vec<String> {
        if !req.scopes.is_empty() {
            return merge_scopes(req.scopes.iter().map(String::as_str));
        }
        derive_scopes(self.api_path(url), url.query())
    }

    /// `url`'s path below the registry's base path.
    fn api_path<'u>(&self, url: &'u Url) -> &'u str {
        let base_path = self.base.path().trim_end_matches('/');
        url.path().strip_prefix(base_path).unwrap_or(url.path())
    }

    /// The repository a traced request (its URL as recorded) was about, if any.
    pub fn repository_of(&self, url: &str) -> Option<String> {
        let u = Url::parse(url).ok()?;
        repository_route(self.api_path(&u)).map(|(name, _)| name)
    }

    /// Sends a request; follows redirects, retries 429/503, answers auth challenges.
    pub async fn send(&self, req: &Request, trace: &TraceSink) -> Result<Response, HttpError> {
        let mut url = self.resolve(&req.target)?;
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        let mut req_headers = req.headers.clone();
        let describe = req.describe();
        let (mut hops, mut retries, mut auth_answered) = (0usize, 0usize, false);
        loop {
            if self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let same = self.same_origin(&url);
            let scopes = if same {
                self.scopes_for(req, &url)
            } else {
                vec![]
            };
            let key = scope_key(&scopes);
            let auth = if same {
                self.authorization(&scopes, &key, trace).await?
            } else {
                None
            };
            // Credentials of any kind never leave the registry's origin.
            let hs: Vec<(String, String)> = if same {
                req_headers.clone()
            } else {
                req_headers
                    .iter()
                    .filter(|(k, _)| !is_credential_header(k))
                    .cloned()
                    .collect()
            };
            let read = req.read;
            let (resp, mut ex) = self
                .exchange(
                    &method,
                    &url,
                    &hs,
                    read,
                    &body,
                    auth.as_deref(),
                    &describe,
                    trace,
                )
                .await?;
            let status = resp.status;

            if status == 401 && same {
                let step = self.auth_step(&resp, auth.as_deref(), auth_answered);
                match step {
                    AuthStep::GiveUp(why) => {
                        ex.refused = Some(format!("{describe} answered 401{}: {why}", scope_note(&scopes)));
                        ex.notes.push(why);
                        trace.push(ex);
                        return Ok(resp);
                    }
                    AuthStep::Basic => {
                        auth_answered = true;
                        let user = self.opts.username.clone().unwrap_or_default();
                        ex.notes.push(format!("401 with a Basic challenge: retrying with the credentials of user {user:?}"));
                        trace.push(ex);
                        self.auth.lock().unwrap().challenge =
                            Some(Challenge::Basic { realm: None });
                        continue;
                    }
                    AuthStep::Bearer {
                        realm,
                        service,
                        scope,
                    } => {
                        auth_answered = true;
                        let previous = self
                            .auth
                            .lock()
                            .unwrap()
                            .tokens
                            .get(&key)
                            .map(|t| t.scopes.clone())
                            .unwrap_or_default();
                        let wanted = merge_scopes(
                            scopes
                                .iter()
                                .chain(previous.iter())
                                .map(String::as_str)
                                .chain(scope.iter().flat_map(|s| s.split_whitespace())),
                        );
                        ex.notes.push(format!(
                            "401 with a Bearer challenge: asking {} for a token{}",
                            redact_url(&realm),
                            scope_note(&wanted)
                        ));
                        trace.push(ex);
                        self.auth.lock().unwrap().challenge = Some(Challenge::Bearer {
                            realm: realm.clone(),
                            service: service.clone(),
                            scope: None,
                        });
                        let rejected = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
                        self.fetch_token(
                            &realm,
                            service.as_deref(),
                            &wanted,
                            &key,
                            rejected,
                            &describe,
                            trace,
                        )
                        .await?;
                        continue;
                    }
                }
            }

            if status == 403 && same {
                let who = match &self.opts.username {
                    Some(u) => format!("user {u:?}"),
                    None => "anonymous access".to_string(),
                };
                ex.refused = Some(format!("{describe} answered 403 Forbidden{}: the registry denies this to {who}", scope_note(&scopes)));
            }

            if matches!(status, 429 | 503) {
                let wait = resp
                    .header("retry-after")
                    .and_then(headers::parse_retry_after);
                match wait {
                    Some(w) if w <= self.opts.max_retry_wait && retries < self.opts.max_retries => {
                        retries += 1;
                        let again = if body.is_empty() { String::new() } else { format!(" (the {}-byte body is sent again)", body.len()) };
                        ex.notes.push(format!("{status} with Retry-After {} s: waiting, then retry {retries} of {}{again}", w.as_secs_f64(), self.opts.max_retries));
                        trace.push(ex);
                        self.sleep(w).await?;
                        continue;
                    }
                    Some(w) if w > self.opts.max_retry_wait => {
                        ex.notes.push(format!("{status} with Retry-After {} s, longer than the {} s the harness waits: not retried", w.as_secs(), self.opts.max_retry_wait.as_secs_f64()))
                    }
                    Some(_) => ex.notes.push(format!("{status} again after {} retries: giving up", self.opts.max_retries)),
                    None => ex.notes.push(format!("{status} without a usable Retry-After: not retried")),
                }
            }

            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let Some(loc) = resp.header("location").map(str::to_string) else {
                    ex.notes
                        .push(format!("{status} without a Location: not followed"));
                    trace.push(ex);
                    return Ok(resp);
                };
                let fail = |ex: Exchange, m: String| -> Result<Response, HttpError> {
                    let mut ex = ex;
                    ex.notes.push(m.clone());
                    trace.push(ex);
                    Err(herr(ErrorKind::Redirect, m))
                };
                hops += 1;
                if hops > self.opts.max_redirects {
                    return fail(
                        ex,
                        format!(
                            "{describe}: more than {} redirects (the last to {})",
                            self.opts.max_redirects,
                            redact_url(&loc)
                        ),
                    );
                }
                let next = match url.join(loc.trim()) {
                    Ok(n) => n,
                    Err(e) => {
                        return fail(
                            ex,
                            format!(
                                "{describe}: {status} redirect to an unparsable Location {:?}: {e}",
                                redact_url(&loc)
                            ),
                        )
                    }
                };
                if !matches!(next.scheme(), "http" | "https") {
                    return fail(ex, format!("{describe}: {status} redirect to a non-HTTP URL ({}:), which the harness does not follow", next.scheme()));
                }
                let mut note = format!("{status} redirect to {}", redact_url(next.as_str()));
                if !self.same_origin(&next) {
                    note.push_str("; another origin: no credentials sent there");
                }
                if url.scheme() == "https" && next.scheme() == "http" {
                    note.push_str("; from https down to plain http");
                }
                // RFC 9110 §15.4: 303 turns any method but HEAD into GET; 301/302 after POST
                // do too (what every client does). 307/308 keep the method and the body.
                if (status == 303 && method != Method::HEAD)
                    || (matches!(status, 301 | 302) && method == Method::POST)
                {
                    if method != Method::GET {
                        note.push_str(&format!("; {method} becomes GET without a body"));
                    }
                    method = Method::GET;
                    body = Body::Empty;
                    req_headers.retain(|(k, _)| !is_body_header(k));
                } else if !body.is_empty() {
                    note.push_str(&format!(
                        "; the {}-byte request body is sent again (generated, replayable)",
                        body.len()
                    ));
                }
                ex.notes.push(note);
                trace.push(ex);
                url = next;
                continue;
            }
            trace.push(ex);
            return Ok(resp);
        }
    }

    /// How to answer a 401 from the registry's origin.
    fn auth_step(&self, resp: &Response, sent: Option<&str>, answered: bool) -> AuthStep {
        let challenges: Vec<Challenge> = resp
            .header_all("www-authenticate")
            .iter()
            .flat_map(|v| headers::parse_challenges(v))
            .collect();
        let user = self.opts.username.as_deref().unwrap_or("");
        let sent_basic = sent.map(|a| a.starts_with("Basic ")).unwrap_or(false);
        let no_creds = "the registry requires authentication and no credentials were given";
        if answered {
            return AuthStep::GiveUp(match sent {
                Some(a) if a.starts_with("Basic ") => format!("the registry refused the credentials of user {user:?}"),
                Some(_) if self.basic.is_none() => format!("401 again with an anonymous token: {no_creds}"),
                Some(_) => format!("401 again with the token just issued for user {user:?}: the token service granted less than this request needs"),
                None => no_creds.to_string(),
            });
        }
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => Some(AuthStep::Bearer {
                realm: realm.clone(),
                service: service.clone(),
                scope: scope.clone(),
            }),
            _ => None,
        });
        if let Some(b) = bearer {
            return b;
        }
        if challenges
            .iter()
            .any(|c| matches!(c, Challenge::Basic { .. }))
        {
            return match (&self.basic, sent_basic) {
                (None, _) => AuthStep::GiveUp(no_creds.to_string()),
                (Some(_), true) => AuthStep::GiveUp(format!(
                    "the registry refused the credentials of user {user:?}"
                )),
                (Some(_), false) => AuthStep::Basic,
            };
        }
        AuthStep::GiveUp(if challenges.is_empty() {
            "401 without a WWW-Authenticate challenge the harness can answer (Basic or Bearer)"
                .to_string()
        } else {
            "401 with a challenge the harness cannot answer".to_string()
        })
    }

    /// The Authorization value for a request to the registry's origin, from what earlier
    /// challenges taught: basic credentials, or a bearer token for the request's scopes
    /// (fetched now if there is none yet: this saves a 401 per repository).
    async fn authorization(
        &self,
        scopes: &[String],
        key: &str,
        trace: &TraceSink,
    ) -> Result<Option<String>, HttpError> {
        let (challenge, cached) = {
            let st = self.auth.lock().unwrap();
            (
                st.challenge.clone(),
                st.tokens
                    .get(key)
                    .filter(|t| t.expires > Instant::now())
                    .map(|t| t.value.clone()),
            )
        };
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => Ok(self.basic.clone()),
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(t) = cached {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let t = self
                    .fetch_token(&realm, service.as_deref(), scopes, key, None, "", trace)
                    .await?;
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    /// Docker token flow: `GET realm?service=…&scope=…` (with basic credentials if any);
    /// the token is cached under `key` and registered as a secret. `rejected` is a token the
    /// registry just refused: never handed out again.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        key: &str,
        rejected: Option<&str>,
        describe: &str,
        trace: &TraceSink,
    ) -> Result<String, HttpError> {
        let _one = tokio::select! {
            g = self.token_fetch.lock() => g,
            _ = self.cancel.cancelled() => return Err(cancelled()),
        };
        // Another check may have fetched it while this one waited.
        if let Some(t) = self.auth.lock().unwrap().tokens.get(key) {
            if t.expires > Instant::now()
                && Some(t.value.as_str()) != rejected
                && scopes.iter().all(|s| t.scopes.contains(s))
            {
                return Ok(t.value.clone());
            }
        }
        let prefix = if describe.is_empty() {
            String::new()
        } else {
            format!("{describe}: ")
        };
        let fail = |m: String| {
            herr(
                ErrorKind::Auth,
                format!("{prefix}authentication failed: {m}"),
            )
        };
        let mut url = match Url::parse(realm).or_else(|_| self.base.join(realm)) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return Err(fail(format!(
                    "the Bearer challenge's realm {:?} is not an http(s) URL",
                    redact_url(realm)
                )))
            }
        };
        if self.basic.is_some() && self.base.scheme() == "https" && url.scheme() == "http" {
            return Err(fail(format!("the token service {} is plain http while the registry is https: credentials are not sent in the clear", redact_url(url.as_str()))));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let hint = if self.basic.is_some() {
            format!(
                ": it refused the credentials of user {:?}",
                self.opts.username.as_deref().unwrap_or("")
            )
        } else {
            ": no credentials were given".to_string()
        };
        let (resp, mut ex) = self
            .exchange(
                &Method::GET,
                &url,
                &[],
                Read::Buffer,
                &Body::Empty,
                self.basic.as_deref(),
                describe,
                trace,
            )
            .await?;
        let token = if resp.status == 200 {
            serde_json::from_slice::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| {
                    let t = v
                        .get("token")
                        .or_else(|| v.get("access_token"))
                        .and_then(|t| t.as_str())
                        .filter(|t| !t.is_empty())?
                        .to_string();
                    // Docker token spec: expires_in defaults to 60 s.
                    let life = v
                        .get("expires_in")
                        .and_then(|e| e.as_u64())
                        .unwrap_or(60)
                        .clamp(1, 24 * 3600);
                    Some((t, life))
                })
        } else {
            None
        };
        let Some((token, life)) = token else {
            let m = if resp.status == 200 {
                format!(
                    "the token service {} answered 200 without a token in a JSON body",
                    redact_url(url.as_str())
                )
            } else {
                format!(
                    "the token service {} answered {}{}{hint}",
                    redact_url(url.as_str()),
                    resp.status,
                    scope_note(scopes)
                )
            };
            ex.notes.push(m.clone());
            if matches!(resp.status, 401 | 403) {
                ex.refused = Some(format!("{prefix}{m}"));
            }
            trace.push(ex);
            return Err(fail(m));
        };
        // Registered before the exchange is stored: a trace must never hold it.
        register_secret(&token);
        ex.notes.push(format!(
            "bearer token issued{}, valid {life} s",
            scope_note(scopes)
        ));
        trace.push(ex);
        // Renew a little early, so a token does not expire between the check and the use.
        let life = Duration::from_secs(life);
        let expires = Instant::now() + life - (life / 10).min(Duration::from_secs(10));
        self.auth.lock().unwrap().tokens.insert(
            key.to_string(),
            Token {
                value: token.clone(),
                scopes: scopes.to_vec(),
                expires,
            },
        );
        Ok(token)
    }

    async fn sleep(&self, d: Duration) -> Result<(), HttpError> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(cancelled()),
        }
    }

    /// One request/response. Applies the timeouts and the body read mode. On success the
    /// exchange is returned for the caller to annotate and store; on error it is stored here.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        req_headers: &[(String, String)],
        read: Read,
        body: &Body,
        auth: Option<&str>,
        describe: &str,
        trace: &TraceSink,
    ) -> Result<(Response, Exchange), HttpError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let progress = Progress::new();
        let started = progress.started;
        let mut hm = HeaderMap::new();
        for (k, v) in req_headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                hm.append(k, v);
            }
        }
        if let Some(a) = auth {
            if let Ok(v) = HeaderValue::from_str(a) {
                hm.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        let has_body = !matches!(body, Body::Empty)
            || matches!(*method, Method::PUT | Method::POST | Method::PATCH);
        if has_body && !hm.contains_key(reqwest::header::CONTENT_LENGTH) {
            hm.insert(
                reqwest::header::CONTENT_LENGTH,
                HeaderValue::from(body.len()),
            );
        }
        let shown_url = redact_url(url.as_str());
        let where_ = format!("{method} {shown_url}");
        let mut ex = Exchange {
            method: method.to_string(),
            url: url.to_string(),
            request_headers: hm
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            request_body: body.preview(),
            status: None,
            response_headers: vec![],
            response_body: String::new(),
            duration_ms: 0,
            notes: vec![],
            refused: None,
        };
        let give_up = |mut ex: Exchange, e: HttpError| {
            ex.notes.push(e.message.clone());
            ex.duration_ms = started.elapsed().as_millis() as u64;
            trace.push(ex);
            Err(e)
        };
        let mut rb = self.http.request(method.clone(), url.clone()).headers(hm);
        if has_body {
            rb = rb.body(body.to_reqwest(&progress));
        }
        let to = self.opts.request_timeout;
        let secs = to.as_secs_f64();
        // Until the response headers: the timeout counts from the last progress (the last
        // piece of the body handed over), so a long upload is not cut while it moves.
        let fut = rb.send();
        tokio::pin!(fut);
        let sent = loop {
            let last = progress.last();
            let wake = started + Duration::from_millis(last) + to;
            tokio::select! {
                r = &mut fut => break r,
                _ = tokio::time::sleep_until(wake.into()) => {
                    if progress.last() == last {
                        let done = progress.sent.load(Ordering::Relaxed);
                        let m = if has_body && done < body.len() {
                            format!("{where_}: timed out after {secs} s: the registry stopped reading the request body ({done} of {} bytes sent)", body.len())
                        } else {
                            format!("{where_}: timed out after {secs} s waiting for the response")
                        };
                        return give_up(ex, herr(ErrorKind::Timeout, m));
                    }
                }
                _ = self.cancel.cancelled() => return give_up(ex, cancelled()),
            }
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let (kind, m) = self.send_error(&e, url);
                if has_body && crate::early_answer::is_body_write_error(&m) {
                    if let Some(r) = self.early_answer(method, url, &ex, body, &m, describe).await {
                        let (resp, mut ex) = (r.0, ex);
                        ex.status = Some(resp.status);
                        ex.response_headers = resp.headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
                        ex.response_body = preview(&resp.body);
                        ex.notes.push(r.1);
                        ex.duration_ms = started.elapsed().as_millis() as u64;
                        return Ok((resp, ex));
                    }
                }
                return give_up(ex, herr(kind, format!("{where_}: {m}")));
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        ex.status = Some(status);
        ex.response_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let read = if *method == Method::HEAD {
            Read::Discard
        } else {
            read
        };
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308)
            && headers.contains_key(reqwest::header::LOCATION);
        // Error statuses are buffered so their bodies can be judged and shown; a redirect's
        // body only previewed (it is not what was asked for).
        let (read, keep_cap, stop_at_cap) = match read {
            _ if redirect && *method != Method::HEAD => (Read::Buffer, BODY_PREVIEW, true),
            Read::Hash(_) if status >= 300 => (Read::Buffer, self.opts.body_cap, false),
            Read::Discard if status >= 400 && *method != Method::HEAD => {
                (Read::Buffer, self.opts.body_cap, false)
            }
            Read::Buffer => (Read::Buffer, self.opts.body_cap, false),
            Read::Hash(a) => (Read::Hash(a), BODY_PREVIEW, false),
            Read::Discard => (Read::Discard, 0, false),
        };
        let mut hasher = match read {
            Read::Hash(a) => Some(Hasher::new(a)),
            _ => None,
        };
        let mut kept: Vec<u8> = Vec::new();
        let mut result: Result<(), HttpError> = Ok(());
        if !matches!(read, Read::Discard) {
            let mut stream = resp.bytes_stream();
            // Minimum rate, judged over windows of `request_timeout`.
            let window = to.max(Duration::from_secs(1));
            let (mut win_start, mut win_bytes) = (Instant::now(), 0u64);
            let min_in_window = (self.opts.min_body_rate as f64 * window.as_secs_f64()) as u64;
            loop {
                let next = tokio::select! {
                    n = tokio::time::timeout(to, stream.next()) => n,
                    _ = self.cancel.cancelled() => { result = Err(cancelled()); break; }
                };
                match next {
                    Err(_) => {
                        result = Err(herr(ErrorKind::Timeout, format!("{where_}: timed out after {secs} s without body data ({} bytes read)", hasher.as_ref().map(|h| h.len).unwrap_or(kept.len() as u64))));
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        result = Err(herr(
                            ErrorKind::Protocol,
                            format!(
                                "{where_}: reading the body failed: {}",
                                redact_known(&error_chain(&e)).replace(url.as_str(), &shown_url)
                            ),
                        ));
                        break;
                    }
                    Ok(Some(Ok(chunk))) => {
                        if let Some(h) = hasher.as_mut() {
                            h.update(&chunk);
                            if let Some(max) = self.opts.max_hash_body.filter(|m| h.len > *m) {
                                result = Err(herr(ErrorKind::TooLarge, format!("{where_}: blob body is longer than the {max} bytes the harness reads")));
                                break;
                            }
                        }
                        if kept.len() < keep_cap {
                            let n = chunk.len().min(keep_cap - kept.len());
                            // grow by doubling, but never past the cap (no 2x overshoot)
                            if kept.len() + n > kept.capacity() {
                                let target = (kept.capacity() * 2).max(kept.len() + n).min(keep_cap);
                                kept.reserve_exact(target - kept.len());
                            }
                            kept.extend_from_slice(&chunk[..n]);
                            if n < chunk.len() && matches!(read, Read::Buffer) && !stop_at_cap {
                                result = Err(herr(ErrorKind::TooLarge, format!("{where_}: response body is larger than the {keep_cap} byte cap")));
                                break;
                            }
                        } else if matches!(read, Read::Buffer) {
                            if !stop_at_cap {
                                result = Err(herr(ErrorKind::TooLarge, format!("{where_}: response body is larger than the {keep_cap} byte cap")));
                            }
                            break;
                        }
                        win_bytes += chunk.len() as u64;
                        if self.opts.min_body_rate > 0 && win_start.elapsed() >= window {
                            if win_bytes < min_in_window {
                                result = Err(herr(
                                    ErrorKind::Timeout,
                                    format!("{where_}: body too slow: {win_bytes} bytes in {:.0} s (the harness needs at least {} bytes/s)", win_start.elapsed().as_secs_f64(), self.opts.min_body_rate),
                                ));
                                break;
                            }
                            (win_start, win_bytes) = (Instant::now(), 0);
                        }
                    }
                }
            }
        }
        ex.response_body = preview(&kept);
        ex.duration_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = result {
            return give_up(ex, e);
        }
        let describe = if describe.is_empty() {
            format!("{method} {}", redact_url(url.path()))
        } else {
            describe.to_string()
        };
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
                request: describe,
            },
            ex,
        ))
    }

    /// The registry's answer to a request whose body it stopped reading (the send failed with
    /// a broken pipe): sent once more by `early_answer`, which reads while it writes. Plain HTTP
    /// and bodies up to the materialize limit only; None leaves the failure as it was.
    async fn early_answer(&self, method: &Method, url: &Url, ex: &Exchange, body: &Body, why: &str, describe: &str) -> Option<(Response, String)> {
        let bytes = match body {
            Body::Bytes(b) => b.clone(),
            Body::Blob { blob, start, end } if end - start <= crate::content::MATERIALIZE_LIMIT => blob.range(*start, *end),
            _ => return None,
        };
        let total = bytes.len();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let e = crate::early_answer::send(method.as_str(), url, &ex.request_headers, bytes, self.opts.request_timeout, self.opts.body_cap).await?;
        let note = format!(
            "the first send failed writing the body ({why}); sent again reading while writing: the registry answered {} after {} of {total} body bytes",
            e.status, e.written
        );
        let request = if describe.is_empty() { format!("{method} {}", redact_url(url.path())) } else { describe.to_string() };
        Some((Response { status: e.status, headers: e.headers, body: e.body, hashed: None, url: url.clone(), request }, note))
    }

    /// A failed send, classified, with a message that says what to do about TLS trouble.
    fn send_error(&self, e: &reqwest::Error, url: &Url) -> (ErrorKind, String) {
        let chain = redact_known(&error_chain(e)).replace(url.as_str(), &redact_url(url.as_str()));
        let lower = chain.to_ascii_lowercase();
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        if url.scheme() == "https"
            && (lower.contains("certificate")
                || lower.contains("unknownissuer")
                || lower.contains("notvalidforname")
                || lower.contains("causedasendentity"))
        {
            let what = certificate_problem(&lower, &host, self.opts.ca_cert_pem.is_some());
            return (
                ErrorKind::Connect,
                format!("TLS certificate verification of {host} failed: {what} ({chain})"),
            );
        }
        if url.scheme() == "https"
            && (lower.contains("tls")
                || lower.contains("handshake")
                || lower.contains("corrupt message")
                || lower.contains("invalidcontenttype"))
        {
            return (ErrorKind::Connect, format!("TLS handshake with {host} failed ({chain}); if the registry speaks plain http, use an http:// URL"));
        }
        let kind = if e.is_connect() {
            ErrorKind::Connect
        } else if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Protocol
        };
        (kind, chain)
    }
}

/// What is wrong with a registry's certificate, and what to do, from rustls' error text.
fn certificate_problem(lower: &str, host: &str, ca_given: bool) -> String {
    let trust = if ca_given {
        "it does not chain to the --ca-cert given (nor to a public root), and is not itself in that file"
    } else {
        "pass the registry's CA (or its self-signed certificate) with --ca-cert FILE.pem, or skip verification with --insecure (OCI_TLS=insecure)"
    };
    if lower.contains("expired") {
        "the registry's certificate has expired: renew it".into()
    } else if lower.contains("notvalidyet") || lower.contains("not valid yet") {
        "the registry's certificate is not valid yet (check the clocks)".into()
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        format!("the registry's certificate does not name the host of {host}: its subjectAltName must include it, or use a URL with a name it has")
    } else if lower.contains("causedasendentity") {
        format!("the registry serves a CA certificate as its own (a self-signed certificate marked CA:TRUE); {trust}")
    } else if lower.contains("unknownissuer") {
        format!("the registry's certificate is signed by an unknown issuer; {trust}")
    } else {
        format!("the registry's certificate was refused; {trust}")
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
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

fn scope_note(scopes: &[String]) -> String {
    if scopes.is_empty() {
        String::new()
    } else {
        format!(" (scope {})", scopes.join(" "))
    }
}

/// The token scopes a registry path needs: `repository:<name>:pull,push` for
/// `/v2/<name>/(blobs|manifests|tags|referrers)/…`, plus `repository:<from>:pull` for a
/// cross-repository mount (`?mount=…&from=<from>`), `registry:catalog:*` for `/v2/_catalog`,
/// nothing for `/v2/` and anything else. `path` is relative to the registry's base path.
pub fn derive_scopes(path: &str, query: Option<&str>) -> Vec<String> {
    if path == "/v2/_catalog" {
        return vec!["registry:catalog:*".into()];
    }
    let Some((name, route)) = repository_route(path) else {
        return vec![];
    };
    let mut scopes = vec![format!("repository:{name}:pull,push")];
    if let Some(q) = query {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        let mount = pairs.iter().any(|(k, _)| k == "mount");
        if let Some((_, from)) = pairs.iter().find(|(k, v)| k == "from" && !v.is_empty()) {
            if mount && route == "blobs" {
                scopes.push(format!("repository:{from}:pull"));
            }
        }
    }
    merge_scopes(scopes.iter().map(String::as_str))
}

/// The repository a registry API path names and the route after it (`manifests`, `blobs`,
/// `tags`, `referrers`): `/v2/<name>/(blobs|manifests|tags|referrers)/…`, `path` relative to
/// the registry's base path. None for any other path.
pub fn repository_route(path: &str) -> Option<(String, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    // The leftmost split whose remainder is an API route: names may contain `blobs` or
    // `manifests` as components, the routes after the name have a fixed shape.
    let n = (1..segs.len()).find(|&i| {
        let r = &segs[i..];
        match r[0] {
            "manifests" | "referrers" => r.len() == 2 && !r[1].is_empty(),
            "tags" => r.len() == 2 && r[1] == "list",
            "blobs" => (r.len() == 2 && !r[1].is_empty()) || (r.len() >= 2 && r[1] == "uploads"),
            _ => false,
        }
    })?;
    if segs[..n].iter().any(|s| s.is_empty()) {
        return None;
    }
    Some((segs[..n].join("/"), segs[n]))
}

/// Merges scopes on the same resource (`repository:a:pull` + `repository:a:push` →
/// `repository:a:pull,push`), keeping the resources' first-seen order; pull and push lead.
pub fn merge_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    for s in scopes.into_iter().flat_map(|s| s.split_whitespace()) {
        // type:name:actions, where the name may hold colons (a registry host with a port)
        let (resource, actions) = match s.rsplit_once(':') {
            Some((r, a)) if r.contains(':') => (
                r.to_string(),
                a.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            _ => (s.to_string(), vec![]),
        };
        match out.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, acts)) => {
                for a in actions {
                    if !acts.contains(&a) {
                        acts.push(a);
                    }
                }
            }
            None => out.push((
                resource,
                actions.into_iter().fold(vec![], |mut v, a| {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                    v
                }),
            )),
        }
    }
    out.into_iter()
        .map(|(r, mut acts)| {
            let rank = |a: &String| match a.as_str() {
                "pull" => 0,
                "push" => 1,
                _ => 2,
            };
            acts.sort_by_key(rank);
            if acts.is_empty() {
                r
            } else {
                format!("{r}:{}", acts.join(","))
            }
        })
        .collect()
}

/// The token cache key of a scope list.
fn scope_key(scopes: &[String]) -> String {
    scopes.join(" ")
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

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scopes_from_paths() {
        let d = |p: &str, q: Option<&str>| derive_scopes(p, q);
        assert_eq!(d("/v2/", None), Vec::<String>::new());
        assert_eq!(
            d("/v2/a/b/manifests/latest", None),
            vec!["repository:a/b:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/sha256:00", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/x/y", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/tags/list", Some("n=1")),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/referrers/sha256:00", Some("artifactType=x")),
            vec!["repository:a:pull,push"]
        );
        // names with route words as components
        assert_eq!(
            d("/v2/x/blobs/y/manifests/t", None),
            vec!["repository:x/blobs/y:pull,push"]
        );
        assert_eq!(
            d("/v2/tags/tags/list", None),
            vec!["repository:tags:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", Some("mount=sha256:00&from=b/c")),
            vec!["repository:a:pull,push", "repository:b/c:pull"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", Some("mount=sha256:00&from=a")),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(d("/v2/_catalog", None), vec!["registry:catalog:*"]);
        assert_eq!(d("/token", None), Vec::<String>::new());
        assert_eq!(d("/v2//manifests/x", None), Vec::<String>::new());
    }
    #[test]
    fn scope_merging() {
        assert_eq!(
            merge_scopes([
                "repository:a:push",
                "repository:a:pull repository:b:pull",
                "repository:a:delete"
            ]),
            vec!["repository:a:pull,push,delete", "repository:b:pull"]
        );
        assert_eq!(
            merge_scopes(["repository:127.0.0.1:5000/a:pull"]),
            vec!["repository:127.0.0.1:5000/a:pull"]
        );
        assert_eq!(merge_scopes(["weird"]), vec!["weird"]);
    }
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
