//! The one HTTP layer every check goes through: auth, redirects followed by hand, retries on
//! 429/503, timeouts, bounded reads, streamed blob bodies and a trace of every exchange.
//! One concern a file: `request` (what is sent, replayable bodies), `response` (what came
//! back, errors), `exchange` (one request/response, timeouts, the trace record), `read`
//! (response bodies within limits), `auth` (credentials, tokens, 401/403), `scopes` (token
//! scopes of a path), `redirect` (next hops, origins), `retry` (429/503), `tls` (trust),
//! `early_answer` (a registry that answers before reading the whole body). `send` below
//! composes them.
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

mod auth;
mod early_answer;
mod exchange;
mod read;
mod redirect;
mod request;
mod response;
mod retry;
mod scopes;
mod tls;

pub use request::{Body, Read, Request};
pub use response::{ErrorKind, HttpError, Response};
pub use scopes::{derive_scopes, merge_scopes, repository_route};

use auth::AuthState;
use redirect::{same_origin, Follow, Hop};
use response::{cancelled, herr};
use retry::Retry;
use scopes::scope_key;
use crate::trace::{redact_url, register_credential, TraceSink};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

/// Cap on any body the harness buffers (manifests, indexes, tag lists, errors): the 4 MiB
/// manifest size clients must support ("at least 4 megabytes"), plus 64 KiB of margin. Kept
/// tight because it is per request: --jobs requests may buffer at once.
pub const DEFAULT_BODY_CAP: usize = (4 << 20) + (64 << 10);

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

impl Client {
    pub fn new(base: Url, opts: ClientOptions) -> Result<Arc<Client>, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(32)
            .user_agent(opts.user_agent.clone())
            .no_proxy();
        let trust = tls::Trust {
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
            b = b.use_preconfigured_tls(tls::client_config(&trust)?);
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
        let mut hop = Hop { url: self.resolve(&req.target)?, method: req.method.clone(), body: req.body.clone(), headers: req.headers.clone() };
        let describe = req.describe();
        let (mut hops, mut retries, mut auth_answered) = (0usize, 0usize, false);
        loop {
            if self.cancel.is_cancelled() {
                return Err(cancelled());
            }
            let same = self.same_origin(&hop.url);
            let scopes = if same { self.scopes_for(req, &hop.url) } else { vec![] };
            let key = scope_key(&scopes);
            let auth = if same { self.authorization(&scopes, &key, trace).await? } else { None };
            // Credentials of any kind never leave the registry's origin.
            let headers = if same { hop.headers.clone() } else { redirect::without_credentials(&hop.headers) };
            let (resp, mut ex) = self
                .exchange(&hop.method, &hop.url, &headers, req.read, &hop.body, auth.as_deref(), &describe, trace)
                .await?;
            let status = resp.status;
            if status == 401 && same {
                if self.answer_401(&resp, ex, auth.as_deref(), &mut auth_answered, &scopes, &key, &describe, trace).await? {
                    continue;
                }
                return Ok(resp);
            }
            if status == 403 && same {
                ex.refused = Some(self.forbidden(&describe, &scopes));
            }
            if matches!(status, 429 | 503) {
                match retry::decide(&resp, retries, &self.opts, hop.body.len()) {
                    Retry::After(wait, note) => {
                        retries += 1;
                        ex.notes.push(note);
                        trace.push(ex);
                        self.sleep(wait).await?;
                        continue;
                    }
                    Retry::No(note) => ex.notes.push(note),
                }
            }
            if redirect::is_redirect(status) {
                hops += 1;
                match redirect::follow(status, resp.header("location"), &hop, hops, self.opts.max_redirects, &describe, &self.base) {
                    Follow::To(next, note) => {
                        ex.notes.push(note);
                        trace.push(ex);
                        hop = next;
                        continue;
                    }
                    Follow::Stop(note) => ex.notes.push(note),
                    Follow::Fail(m) => {
                        ex.notes.push(m.clone());
                        trace.push(ex);
                        return Err(herr(ErrorKind::Redirect, m));
                    }
                }
            }
            trace.push(ex);
            return Ok(resp);
        }
    }

    async fn sleep(&self, d: Duration) -> Result<(), HttpError> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.cancel.cancelled() => Err(cancelled()),
        }
    }
}
