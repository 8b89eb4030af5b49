//! The embedded reference registry (in memory) and its fault switches.
//! Shares no spec logic with the harness: its grammars, hashing and parsing are its own, so a
//! mistake on one side cannot hide the same mistake on the other.
//!
//! Layout: `state` (content), `router` (the service), one module per endpoint family
//! (`blobs`, `uploads`, `manifests`, `tags`, `referrers`), `faults` (the switches), and the
//! test modes `auth` and `tls`.

mod auth;
mod blobs;
pub mod faults;
mod http;
mod manifests;
mod names;
mod referrers;
mod route;
mod router;
mod state;
mod tags;
mod tls;
mod uploads;

pub use auth::Auth;
pub use tls::TlsIdentity;

use http::{Req, Resp};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use state::State;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Listen address, e.g. `127.0.0.1:0`.
    pub addr: String,
    /// Fault switches by name (see `faults::ALL`).
    pub faults: Vec<String>,
    /// Run without the referrers API (404), as a pre-1.1 registry: clients use the tag schema.
    pub no_referrers_api: bool,
    /// Advertise `OCI-Chunk-Min-Length` on upload POSTs (not enforced).
    pub chunk_min_length: Option<u64>,
    /// Largest blob accepted (default 1 GiB); everything is kept in memory.
    pub max_blob_size: Option<u64>,
    /// Require credentials (basic, or bearer tokens from `/token`).
    pub auth: Option<Auth>,
    /// Serve https with a certificate generated at start (see `Running::ca_pem`).
    pub tls: bool,
    /// Serve https with this certificate chain and key (PEM) instead of a generated one:
    /// for tests of how clients judge certificates (self-signed, expired, other host names).
    pub tls_identity: Option<TlsIdentity>,
    /// Access the credentials never get, as `repository:<name>:<action>` (an ACL): the token
    /// service leaves it out of tokens (401), basic auth answers 403 DENIED.
    pub refuse_scopes: Vec<String>,
    /// With `auth`: reads (GET, HEAD) need no credentials, writes do.
    pub anonymous_pull: bool,
    /// Answer blob GETs with 307 to a second listener (another origin) that serves the bytes.
    pub redirect_blobs: bool,
    /// Wait this long before answering any request.
    pub delay: Option<Duration>,
    /// Never answer requests whose path and query contain this text ("" = every request).
    pub hang: Option<String>,
}

pub struct Running {
    pub addr: SocketAddr,
    /// https (Options::tls).
    pub tls: bool,
    /// PEM of the CA that signed the server certificate, for `--ca-cert`.
    pub ca_pem: Option<String>,
    /// The redirect target's address (Options::redirect_blobs).
    pub redirect_addr: Option<SocketAddr>,
    state: Arc<State>,
    stops: Vec<oneshot::Sender<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }
    pub fn shutdown(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
    /// Requests that reached the redirect target.
    pub fn redirect_requests(&self) -> u64 {
        self.state.redirect_requests.load(Ordering::Relaxed)
    }
    /// Requests that reached the redirect target with an Authorization header (credentials
    /// forwarded across origins: "MUST NOT forward Authorization headers across host boundaries").
    pub fn redirect_requests_with_auth(&self) -> u64 {
        self.state.redirect_auth_seen.load(Ordering::Relaxed)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub async fn start(opts: Options) -> Result<Running, String> {
    for f in &opts.faults {
        if faults::find(f).is_none() {
            return Err(format!("unknown fault {f:?}; list the valid ones with `oci-conformance serve --list-faults`"));
        }
    }
    let listener = TcpListener::bind(&opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {:?}: {e}", opts.addr))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listen address: {e}"))?;
    let tls = match (&opts.tls_identity, opts.tls) {
        (Some(id), _) => Some(tls::from_identity(id)?),
        (None, true) => Some(tls::generate(addr.ip())?),
        (None, false) => None,
    };
    let https = tls.is_some();
    let st = Arc::new(State::new(opts.clone()));
    if let Ok(mut b) = st.self_base.lock() {
        *b = format!("{}://{addr}", if https { "https" } else { "http" });
    }
    let mut stops = vec![];
    let mut redirect_addr = None;
    if opts.redirect_blobs {
        let l2 = TcpListener::bind(SocketAddr::new(addr.ip(), 0))
            .await
            .map_err(|e| format!("cannot listen for the redirect target: {e}"))?;
        let a2 = l2
            .local_addr()
            .map_err(|e| format!("cannot read the redirect address: {e}"))?;
        if let Ok(mut b) = st.redirect_base.lock() {
            *b = Some(format!("http://{a2}"));
        }
        redirect_addr = Some(a2);
        let st2 = st.clone();
        stops.push(serve_loop(l2, None, move |req| {
            redirect_target(st2.clone(), req)
        }));
    }
    let st1 = st.clone();
    let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
    stops.push(serve_loop(listener, tls.map(|t| t.acceptor), move |req| {
        router::serve(st1.clone(), req)
    }));
    Ok(Running {
        addr,
        tls: https,
        ca_pem,
        redirect_addr,
        state: st,
        stops,
    })
}

/// Accepts connections until stopped; each connection is HTTP/1.1 with keep-alive. Stopping
/// (or dropping the sender) closes the listener and every open connection.
fn serve_loop<F, Fut>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: F,
) -> oneshot::Sender<()>
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Infallible>> + Send + 'static,
{
    let (tx, mut rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut rx => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                acc = listener.accept() => {
                    let Ok((stream, _)) = acc else {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let h = handler.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        let svc = hyper::service::service_fn(h);
                        let mut b = hyper::server::conn::http1::Builder::new();
                        b.keep_alive(true);
                        match tls {
                            None => {
                                let _ = b.serve_connection(TokioIo::new(stream), svc).await;
                            }
                            Some(acc) => {
                                if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(10), acc.accept(stream)).await {
                                    let _ = b.serve_connection(TokioIo::new(s), svc).await;
                                }
                            }
                        }
                    });
                }
            }
        }
        conns.abort_all();
    });
    tx
}

/// The second origin of the redirect mode: serves `/blob/<digest>?repo=<name>` and counts
/// requests that carry credentials.
async fn redirect_target(
    st: Arc<State>,
    req: hyper::Request<Incoming>,
) -> Result<Resp, Infallible> {
    st.redirect_requests.fetch_add(1, Ordering::Relaxed);
    if req.headers().contains_key(hyper::header::AUTHORIZATION) {
        st.redirect_auth_seen.fetch_add(1, Ordering::Relaxed);
    }
    let req = Req::from_hyper(req);
    let digest = req
        .path
        .strip_prefix("/blob/")
        .map(http::decode_segment)
        .unwrap_or_default();
    let repo = req.q("repo").unwrap_or("").to_string();
    let found = match names::Dg::parse(&digest) {
        Ok(d) => {
            let s = st.store();
            let data = s
                .repos
                .get(&repo)
                .filter(|r| r.blobs.contains(&digest))
                .and_then(|_| s.blobs.get(&digest).cloned());
            data.map(|b| (d, b))
        }
        Err(_) => None,
    };
    Ok(match found {
        Some((d, data)) => blobs::serve_bytes(&st, &req, &d, data).build(),
        None => http::error(404, "BLOB_UNKNOWN", "no such blob").build(),
    })
}
