//! What a check asks for: the request, its body (always producible again, for redirects and
//! retries, and sent in pieces that count as progress) and how its answer is to be read.

use crate::content::Blob;
use crate::digest::Algorithm;
use crate::trace::{preview, redact_known, redact_url};
use bytes::Bytes;
use reqwest::Method;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use url::Url;

/// Request bodies go out in pieces of this size, so sending them shows progress.
const SEND_PIECE: usize = 256 << 10;

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
    pub(super) fn preview(&self) -> String {
        match self {
            Body::Empty => String::new(),
            Body::Bytes(b) => preview(b),
            Body::Blob { start, end, .. } => {
                format!("<{} bytes of blob data, offset {}>", end - start, start)
            }
        }
    }
    /// A fresh body for one send; every piece handed to the connection counts as progress.
    pub(super) fn to_reqwest(&self, progress: &Arc<Progress>) -> reqwest::Body {
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
pub(super) struct Progress {
    pub(super) started: Instant,
    last_ms: AtomicU64,
    pub(super) sent: AtomicU64,
}

impl Progress {
    pub(super) fn new() -> Arc<Progress> {
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
    pub(super) fn last(&self) -> u64 {
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
    /// (see [`super::derive_scopes`]), which is what every check needs.
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
