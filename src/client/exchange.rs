//! One request and its response: headers, the body sent with progress, the silence timeout
//! until the answer, the body read within its limits, and the exchange recorded for the trace.
//! A send that fails writing the body is tried once more reading while writing
//! (`early_answer`); a failed send is classified, with what to do about TLS trouble.

use super::read;
use super::redirect::is_redirect;
use super::request::{Body, Progress, Read};
use super::response::{cancelled, error_chain, herr, ErrorKind, HttpError, Response};
use super::Client;
use crate::trace::{preview, redact_known, redact_url, Exchange, TraceSink};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use std::sync::atomic::Ordering;
use std::time::Duration;
use url::Url;

impl Client {
    /// One request/response. Applies the timeouts and the body read mode. On success the
    /// exchange is returned for the caller to annotate and store; on error it is stored here.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn exchange(
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
                if has_body && super::early_answer::is_body_write_error(&m) {
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
        let redirect = is_redirect(status) && headers.contains_key(reqwest::header::LOCATION);
        let plan = read::plan(read, status, redirect, *method == Method::HEAD, self.opts.body_cap);
        let limits = read::Limits {
            silence: to,
            min_rate: self.opts.min_body_rate,
            max_hash: self.opts.max_hash_body,
            cancel: &self.cancel,
            where_: &where_,
            url: url.as_str(),
            shown_url: &shown_url,
        };
        let (kept, hasher, result) = read::body(resp, &plan, &limits).await;
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
        let e = super::early_answer::send(method.as_str(), url, &ex.request_headers, bytes, self.opts.request_timeout, self.opts.body_cap).await?;
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
