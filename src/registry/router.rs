//! The service: test modes (delay, hang, auth), path routing, name checks, dispatch, and the
//! last touches every response gets (draining unread bodies, the error-body fault).

use super::http::{error, Req, Resp, MT_JSON, R};
use super::names::valid_name;
use super::state::State;
use super::route::{parse, Route};
use super::{auth, blobs, manifests, referrers, tags, uploads};
use hyper::body::Incoming;
use hyper::Method;
use std::convert::Infallible;
use std::sync::Arc;

impl State {
    /// The repository name grammar, as bent by the name faults.
    pub fn name_ok(&self, n: &str) -> bool {
        if self.fault("deep-names-rejected") && n.split('/').count() > 2 {
            return false;
        }
        if self.fault("long-names-rejected") && n.len() > 150 {
            return false;
        }
        valid_name(n)
    }

    /// The tag grammar, as bent by the tag faults.
    pub fn tag_ok(&self, t: &str) -> bool {
        if self.fault("tag-max-100") && t.len() > 100 {
            return false;
        }
        super::names::valid_tag(t)
    }
}

/// The hyper service function.
pub async fn serve(st: Arc<State>, req: hyper::Request<Incoming>) -> Result<Resp, Infallible> {
    if let Some(d) = st.opts.delay {
        tokio::time::sleep(d).await;
    }
    if let Some(h) = &st.opts.hang {
        let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
        if target.contains(h.as_str()) {
            // Never answer; the connection stays open until the client gives up.
            std::future::pending::<()>().await;
        }
    }
    let mut req = Req::from_hyper(req);
    let r = handle(&st, &mut req).await;
    // Read what the handler left of the body, so the client sees the answer on a healthy
    // connection; a body too big to drain gets the answer and a closed connection.
    let complete = req.drain().await;
    let mut r = finish(&st, r);
    if !complete {
        r = r.set_header("connection", "close");
    }
    Ok(r.build())
}

async fn handle(st: &Arc<State>, req: &mut Req) -> R {
    let Some(route) = parse(&req.path) else {
        return error(
            404,
            "UNSUPPORTED",
            format!("no such endpoint: {}", req.path),
        );
    };
    if route == Route::Token {
        return auth::token_endpoint(st, req);
    }
    if let Some(r) = auth::check(st, req, &route) {
        return r;
    }
    if let Some(n) = route.name() {
        if !st.name_ok(n) {
            return error(400, "NAME_INVALID", format!("invalid repository name {n:?}: it must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*"));
        }
    }
    let m = req.method.clone();
    match (route, m) {
        (Route::Base, Method::GET | Method::HEAD) => {
            if st.fault("v2-base-not-found") {
                return error(404, "UNSUPPORTED", "no API here");
            }
            let r = R::new(200)
                .header("docker-distribution-api-version", "registry/2.0")
                .body(MT_JSON, "{}");
            if req.is_head() {
                r.into_head()
            } else {
                r
            }
        }
        (Route::Tags(n), Method::GET) => tags::list(st, req, &n),
        (Route::Manifest(n, r), Method::GET | Method::HEAD) => manifests::get(st, req, &n, &r),
        (Route::Manifest(n, r), Method::PUT) => manifests::put(st, req, &n, &r).await,
        (Route::Manifest(n, r), Method::DELETE) => manifests::delete(st, &n, &r),
        (Route::Blob(n, d), Method::GET | Method::HEAD) => blobs::get(st, req, &n, &d),
        (Route::Blob(n, d), Method::DELETE) => blobs::delete(st, &n, &d),
        (Route::Uploads(n), Method::POST) => uploads::start(st, req, &n).await,
        (Route::Upload(n, id), Method::GET) => uploads::status(st, req, &n, &id).await,
        (Route::Upload(n, id), Method::PATCH) => uploads::patch(st, req, &n, &id).await,
        (Route::Upload(n, id), Method::PUT) => uploads::finish(st, req, &n, &id).await,
        (Route::Upload(n, id), Method::DELETE) => uploads::cancel(st, &n, &id).await,
        (Route::Referrers(n, d), Method::GET) => referrers::list(st, req, &n, &d),
        (_, m) => error(
            405,
            "UNSUPPORTED",
            format!("method {m} is not allowed on {}", req.path),
        ),
    }
}

/// Touches every response gets last.
fn finish(st: &State, mut r: R) -> R {
    if st.fault("warning-header-dated") {
        r = r.header(
            "warning",
            "299 - \"this endpoint is deprecated\" \"Sat, 01 Jan 2000 00:00:00 GMT\"",
        );
    }
    if st.fault("warning-header-oversized") {
        let text = format!("299 - \"{}\"", "w".repeat(1024));
        for _ in 0..5 {
            r = r.header("warning", &text);
        }
    }
    if st.fault("upload-invalid-unlisted-code") && r.status >= 400 {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            if v.pointer("/errors/0/code").and_then(|c| c.as_str()) == Some("BLOB_UPLOAD_INVALID") {
                v["errors"][0]["code"] = "BLOB_UPLOAD_RANGE_INVALID".into();
                r = r.json(&v);
            }
        }
    }
    if st.fault("error-message-not-string") && r.status >= 400 && r.head_length.is_none() {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            if let Some(m) = v.pointer_mut("/errors/0/message") {
                *m = serde_json::json!({ "text": m.clone() });
                r = r.json(&v);
            }
        }
    }
    if st.fault("error-body-not-spec-json")
        && r.status >= 400
        && r.get_header("content-type") == Some(MT_JSON)
    {
        let msg = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| {
                v.pointer("/errors/0/message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let head = r.head_length.is_some();
        r = r.json(&serde_json::json!({ "message": msg }));
        if head {
            r = r.into_head();
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn routes() {
        assert_eq!(parse("/v2/"), Some(Route::Base));
        assert_eq!(parse("/v2/a/b/tags/list"), Some(Route::Tags("a/b".into())));
        assert_eq!(
            parse("/v2/a/manifests/latest"),
            Some(Route::Manifest("a".into(), "latest".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/manifests/sha256:x"),
            Some(Route::Manifest("a/blobs".into(), "sha256:x".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/"),
            Some(Route::Uploads("a".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads"),
            Some(Route::Uploads("a".into()))
        );
        assert_eq!(
            parse("/v2/a/blobs/uploads/123"),
            Some(Route::Upload("a".into(), "123".into()))
        );
        assert_eq!(
            parse("/v2/a/referrers/sha256%3Aab"),
            Some(Route::Referrers("a".into(), "sha256:ab".into()))
        );
        assert_eq!(parse("/v2/blobs/x"), None);
        assert_eq!(parse("/v2/a/manifests/"), None);
        assert_eq!(parse("/v2//manifests/x"), None);
        assert_eq!(parse("/other"), None);
        assert_eq!(parse("/v2/tags/list"), None);
    }
}
