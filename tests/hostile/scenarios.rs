//! The hostile registries. Each scenario starts its own server on loopback, runs the harness
//! in-process against it (harness::run_and_verify checks the generic properties) and, where
//! the suites may not reach the misbehaviour yet, probes the HTTP layer directly.

use super::harness::{
    self, problem, run_and_verify, run_and_verify_with, Expect, Problem, PASSWORD, USERNAME,
};
use super::server::{chunk, response, response_bytes, Reply, Seen, Server, Step};
use oci_conformance::client::{ErrorKind, Read, Request};
use oci_conformance::digest::Algorithm;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Markup a registry might send; report.html must show it escaped.
pub const SCRIPT_PAYLOAD: &str = "<script>alert('oci-hostile')</script>";

pub type Fut = Pin<Box<dyn Future<Output = Vec<Problem>>>>;
/// A scenario: given its name (for thread names and messages), the run's problems.
pub type ScenarioFn = fn(&'static str) -> Fut;

/// Every scenario, by name.
pub fn all() -> Vec<(&'static str, ScenarioFn)> {
    vec![
        ("connection-refused", |s| Box::pin(connection_refused(s))),
        ("refused-mid-run", |s| Box::pin(refused_mid_run(s))),
        ("reset-mid-body", |s| Box::pin(reset_mid_body(s))),
        ("hang-before-headers", |s| Box::pin(hang_before_headers(s))),
        ("hang-after-headers", |s| Box::pin(hang_after_headers(s))),
        ("slow-headers-1-byte-per-second", |s| {
            Box::pin(slow_headers(s))
        }),
        ("slow-body-1-byte-per-second", |s| Box::pin(slow_body(s))),
        ("slow-body-no-deadline", |s| {
            Box::pin(slow_body_no_deadline(s))
        }),
        ("slow-body-in-preflight", |s| {
            Box::pin(slow_body_in_preflight(s))
        }),
        ("endless-body", |s| Box::pin(endless_body(s))),
        ("endless-body-16-jobs", |s| {
            Box::pin(endless_body_many_jobs(s))
        }),
        ("content-length-longer-then-close", |s| {
            Box::pin(cl_longer_close(s))
        }),
        ("content-length-longer-then-stall", |s| {
            Box::pin(cl_longer_stall(s))
        }),
        ("content-length-shorter", |s| Box::pin(cl_shorter(s))),
        ("invalid-json", |s| Box::pin(invalid_json(s))),
        ("invalid-utf8", |s| Box::pin(invalid_utf8(s))),
        ("json-wrong-shape", |s| Box::pin(wrong_shape(s))),
        ("bursts-of-500", |s| Box::pin(bursts_500(s))),
        ("endless-429-storm", |s| Box::pin(storm_429(s))),
        ("retry-after-far-future", |s| Box::pin(retry_after_far(s))),
        ("redirect-loop", |s| Box::pin(redirect_loop(s))),
        ("redirect-non-http", |s| Box::pin(redirect_non_http(s))),
        ("upload-location-other-host", |s| {
            Box::pin(upload_other_host(s))
        }),
        ("200-to-everything", |s| Box::pin(ok_to_everything(s))),
        ("404-to-everything", |s| {
            Box::pin(not_found_to_everything(s))
        }),
        ("huge-header-list", |s| Box::pin(huge_headers(s))),
        ("tls-to-plain-garbage", |s| Box::pin(tls_garbage(s))),
        ("tls-to-silent-server", |s| Box::pin(tls_silent(s))),
        ("echo-basic-credentials", |s| Box::pin(echo_basic(s))),
        ("echo-bearer-token", |s| Box::pin(echo_bearer(s))),
        ("echo-in-every-field", |s| Box::pin(echo_everywhere(s))),
        ("markup-and-control-characters", |s| Box::pin(markup(s))),
        ("endless-token-endpoint", |s| Box::pin(endless_token(s))),
        ("bearer-realm-not-http", |s| Box::pin(realm_not_http(s))),
        ("always-401", |s| Box::pin(always_401(s))),
        ("signed-upload-location", |s| {
            Box::pin(signed_upload_location(s))
        }),
        ("deadline-during-setup", |s| {
            Box::pin(deadline_during_setup(s))
        }),
        ("deadline-then-cleanup-hangs", |s| {
            Box::pin(deadline_then_cleanup_hangs(s))
        }),
    ]
}

fn ok_v2() -> Reply {
    Reply::json(200, "{}")
}

/// Request 0 is the harness's preflight `GET /v2/`: answer it well so the run gets to the
/// checks, then misbehave.
fn after_preflight(
    f: impl Fn(&Seen, &super::server::Ctx) -> Reply + Send + Sync + 'static,
) -> impl Fn(&Seen, &super::server::Ctx) -> Reply + Send + Sync + 'static {
    move |r, c| if r.n == 0 { ok_v2() } else { f(r, c) }
}

fn headers_only(status: u16, content_length: usize) -> Vec<u8> {
    format!("HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n").into_bytes()
}

/// An address on another loopback host with nothing listening.
fn other_loopback_url(port: u16) -> String {
    format!("http://127.0.0.2:{port}")
}

async fn connection_refused(name: &'static str) -> Vec<Problem> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    run_and_verify(
        name,
        None,
        &format!("http://127.0.0.1:{port}"),
        &Expect::exit(3).within(15),
    )
    .await
}

async fn refused_mid_run(name: &'static str) -> Vec<Problem> {
    // Answers the preflight, then the listener and every connection go away.
    let s = Server::start("127.0.0.1", |_, _| ok_v2().then(Step::Die)).await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(30)).await
}

async fn reset_mid_body(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| {
        let mut b = headers_only(200, 1000);
        b.extend_from_slice(&[b'{'; 100]);
        Reply::raw(b)
            .then(Step::Sleep(Duration::from_millis(20)))
            .then(Step::Reset)
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await
}

async fn hang_before_headers(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| Reply(vec![Step::Hang])).await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(3).within(15)).await
}

async fn hang_after_headers(name: &'static str) -> Vec<Problem> {
    let s = Server::start(
        "127.0.0.1",
        after_preflight(|_, _| Reply::raw(headers_only(200, 100)).then(Step::Hang)),
    )
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn slow_headers(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| {
        Reply(vec![Step::Trickle(
            response(200, &[("Content-Type", "application/json")], b"{}"),
            Duration::from_secs(1),
        )])
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(3).within(15)).await
}

/// Headers at once, then a long body at one byte a second: never a 2 s silence, never over
/// the body cap.
fn trickle_body() -> Reply {
    Reply::raw(headers_only(200, 100_000))
        .then(Step::Trickle(vec![b' '; 100_000], Duration::from_secs(1)))
}

async fn slow_body(name: &'static str) -> Vec<Problem> {
    // The run deadline is what ends this one: 20 s instead of 60 to keep the suite short.
    let s = Server::start("127.0.0.1", after_preflight(|_, _| trickle_body())).await;
    run_and_verify_with(name, Some(&s), &s.url(), &Expect::exit(1).within(45), |a| {
        a.deadline = Some(20.0)
    })
    .await
}

async fn slow_body_no_deadline(name: &'static str) -> Vec<Problem> {
    // Without --deadline only the timeouts bound a run: request_timeout is 2 s, so a body
    // that takes a day to arrive should not be waited for.
    let s = Server::start("127.0.0.1", after_preflight(|_, _| trickle_body())).await;
    // Each request is cut by the minimum body rate within a few timeout windows; the bound
    // leaves room for a loaded CI machine.
    run_and_verify_with(name, Some(&s), &s.url(), &Expect::exit(1).within(60), |a| {
        a.deadline = None
    })
    .await
}

async fn slow_body_in_preflight(name: &'static str) -> Vec<Problem> {
    // --deadline 10 must bound the whole run, the preflight included.
    let s = Server::start("127.0.0.1", |_, _| trickle_body()).await;
    run_and_verify_with(name, Some(&s), &s.url(), &Expect::exit(3).within(25), |a| {
        a.deadline = Some(10.0)
    })
    .await
}

/// A chunked 200 that never ends, `rate` bytes a second.
fn endless(rate: u64) -> Reply {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    Reply::raw(head).then(Step::Endless {
        frame: chunk(&[b'a'; 64 << 10]),
        bytes_per_sec: rate,
    })
}

/// Peak RSS growth bound for a run against an endless body.
const MEMORY_BOUND_MIB: u64 = 128;

/// Runs against endless bodies with `jobs` scenarios at once; checks peak RSS growth.
/// Meant to run alone in its process (see ISOLATED in hostile.rs): VmHWM is per process.
async fn endless_run(
    name: &'static str,
    jobs: usize,
    deadline: f64,
    expect: Expect,
) -> (Vec<Problem>, Server, bool, u64) {
    let s = Server::start("127.0.0.1", after_preflight(|_, _| endless(32 << 20))).await;
    let rss0 = harness::vm_rss_kib().unwrap_or(0);
    let reset = harness::reset_hwm();
    let mut out = run_and_verify_with(name, Some(&s), &s.url(), &expect, |a| {
        a.jobs = Some(jobs);
        a.deadline = Some(deadline);
    })
    .await;
    let base = if reset { rss0 } else { 0 };
    let growth_mib = harness::vm_hwm_kib().unwrap_or(0).saturating_sub(base) / 1024;
    eprintln!(
        "[{name}] --jobs {jobs}: peak RSS growth during the run {growth_mib} MiB{}",
        if reset {
            ""
        } else {
            " (VmHWM could not be reset; not asserted)"
        }
    );
    if reset && growth_mib >= MEMORY_BOUND_MIB {
        out.push(problem("memory", format!("with --jobs {jobs}, peak RSS grew by {growth_mib} MiB during the run (bound {MEMORY_BOUND_MIB} MiB)")));
    }
    (out, s, reset, base)
}

async fn endless_body_many_jobs(name: &'static str) -> Vec<Problem> {
    // Buffered reads are capped per request, not overall: memory grows with --jobs.
    endless_run(name, 16, 20.0, Expect::exit(1).within(60))
        .await
        .0
}

async fn endless_body(name: &'static str) -> Vec<Problem> {
    // --jobs pinned to the default of a 2-CPU machine so the bound means the same everywhere.
    let (mut out, s, reset, base) = endless_run(name, 4, 30.0, Expect::exit(1).within(60)).await;

    // The HTTP layer directly: a buffered read stops at the cap, a hashed read must end too.
    let c = harness::probe_client(&s.url());
    let t = harness::probe_trace();
    match tokio::time::timeout(
        Duration::from_secs(20),
        c.send(&Request::get("/v2/oci-conformance/repo1/manifests/x"), &t),
    )
    .await
    {
        Ok(Err(e)) if e.kind == ErrorKind::TooLarge => {}
        Ok(r) => out.push(problem(
            "endless-buffer",
            format!(
                "buffered GET of an endless body: expected TooLarge, got {:?}",
                r.map(|r| r.status)
            ),
        )),
        Err(_) => out.push(problem(
            "endless-buffer",
            "buffered GET of an endless body did not end in 20 s",
        )),
    }
    let hashed = Request::get("/v2/oci-conformance/repo1/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000").read(Read::Hash(Algorithm::Sha256));
    let started_hash = Instant::now();
    match tokio::time::timeout(Duration::from_secs(15), c.send(&hashed, &t)).await {
        Ok(Err(_)) => {}
        Ok(Ok(r)) => out.push(problem("endless-hash", format!("hashed GET of an endless body ended with {} (no error)", r.status))),
        Err(_) => out.push(problem(
            "endless-hash",
            format!("hashed GET (Read::Hash) of an endless body had not ended after {:.0} s: nothing bounds a streamed blob body", started_hash.elapsed().as_secs_f64()),
        )),
    }
    let growth_mib = harness::vm_hwm_kib().unwrap_or(0).saturating_sub(base) / 1024;
    if reset && growth_mib >= MEMORY_BOUND_MIB {
        out.push(problem(
            "memory",
            format!(
                "peak RSS grew by {growth_mib} MiB with the probes (bound {MEMORY_BOUND_MIB} MiB)"
            ),
        ));
    }
    out
}

async fn cl_longer_close(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| {
        let mut b = headers_only(200, 1000);
        b.extend_from_slice(b"{\"short\":1}");
        Reply::raw(b).then(Step::Close)
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await
}

async fn cl_longer_stall(name: &'static str) -> Vec<Problem> {
    let s = Server::start(
        "127.0.0.1",
        after_preflight(|_, _| {
            let mut b = headers_only(200, 1000);
            b.extend_from_slice(b"{\"short\":1}");
            Reply::raw(b).then(Step::Hang)
        }),
    )
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn cl_shorter(name: &'static str) -> Vec<Problem> {
    // Content-Length 2 but more follows, including a complete fake response: whatever the
    // client makes of the leftovers, the run must end cleanly.
    let s = Server::start("127.0.0.1", |_, _| {
        let mut b = response(
            200,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "2"),
            ],
            b"{}",
        );
        b.extend_from_slice(b"{\"leftover\": true}\r\n");
        b.extend_from_slice(&response(404, &[("X-Smuggled", "yes")], b"{\"errors\":[]}"));
        Reply::raw(b)
    })
    .await;
    run_and_verify(
        name,
        Some(&s),
        &s.url(),
        &Expect::fails_when_exercised().within(90),
    )
    .await
}

/// Routes a request to a body for what the path looks like.
fn kind(r: &Seen) -> &'static str {
    let p = r.path();
    if p == "/v2/" {
        "base"
    } else if p.contains("/blobs/uploads") {
        "upload"
    } else if p.contains("/manifests/") {
        "manifest"
    } else if p.contains("/blobs/") {
        "blob"
    } else if p.contains("/tags/list") {
        "tags"
    } else if p.contains("/referrers/") {
        "referrers"
    } else {
        "other"
    }
}

async fn invalid_json(name: &'static str) -> Vec<Problem> {
    let s = Server::start(
        "127.0.0.1",
        after_preflight(|r, _| {
            let ct = [("Content-Type", "application/json")];
            match (kind(r), r.method.as_str()) {
                ("base", _) => Reply::status(200, &ct, "{\"unterminated\": ["),
                ("upload", "POST") => Reply::status(
                    202,
                    &[
                        ("Location", "/v2/oci-conformance/repo1/blobs/uploads/u1"),
                        ("Content-Type", "application/json"),
                    ],
                    "{,}",
                ),
                ("manifest", "GET") => Reply::status(
                    200,
                    &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                    "{\"schemaVersion\": 2, \"layers\": [",
                ),
                ("tags", _) => Reply::status(200, &ct, "{\"name\": \"x\", \"tags\": [\"a\","),
                ("referrers", _) => Reply::status(
                    200,
                    &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                    "{\"manifests\": [{",
                ),
                _ => Reply::status(404, &ct, "{\"errors\": [{\"code\": \"MANIFEST_UNKNOWN\""),
            }
        }),
    )
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::fails_when_exercised()).await
}

async fn invalid_utf8(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", after_preflight(|r, _| {
        let body: Vec<u8> = [&b"{\"errors\":[{\"code\":\"\xff\xfe\",\"message\":\"\xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80"[..], &b"\"}]}"[..]].concat();
        let h = |k: &str, v: &[u8]| (k.as_bytes().to_vec(), v.to_vec());
        let headers = vec![
            h("Content-Type", b"application/\xc3\x28json"),
            h("Docker-Content-Digest", b"sha256:\xff\xfe"),
            h("Location", b"/v2/oci-conformance/repo1/\xff\xfe"),
            h("Range", b"0-\xff"),
            h("Link", b"</v2/oci-conformance/repo1/tags/list?\xff>; rel=\"next\""),
            h("OCI-Subject", b"\x80\x81"),
            h("Www-Authenticate", b"Bearer realm=\"\xff\""),
        ];
        let status = match (kind(r), r.method.as_str()) {
            ("base", _) => 400,
            ("upload", "POST") => 202,
            ("manifest" | "blob", "GET" | "HEAD") => 200,
            _ => 404,
        };
        Reply::raw(response_bytes(status, &headers, &body))
    }))
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn wrong_shape(name: &'static str) -> Vec<Problem> {
    let deep: String = "[".repeat(100_000) + &"]".repeat(100_000);
    let deep = Arc::new(deep);
    let s = Server::start(
        "127.0.0.1",
        after_preflight(move |r, _| {
            let ct = [("Content-Type", "application/json")];
            match (kind(r), r.method.as_str()) {
                ("base", _) => Reply::status(200, &ct, "[]"),
                ("upload", "POST") => Reply::status(
                    202,
                    &[
                        ("Location", "/v2/oci-conformance/repo1/blobs/uploads/u1"),
                        ("Range", "5-1"),
                        ("OCI-Chunk-Min-Length", "-7"),
                    ],
                    "",
                ),
                ("upload", _) => Reply::status(
                    201,
                    &[
                        ("Location", "/v2/oci-conformance/repo1/blobs/sha256:nothex"),
                        ("Docker-Content-Digest", "md5:abc"),
                    ],
                    "",
                ),
                ("manifest", "PUT") => Reply::status(
                    201,
                    &[("Location", ""), ("Docker-Content-Digest", "sha256:")],
                    "",
                ),
                ("manifest", _) => Reply::status(
                    200,
                    &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                    "\"just a string\"",
                ),
                ("blob", "GET") => Reply::status(200, &ct, deep.as_bytes()),
                ("tags", _) => Reply::status(
                    200,
                    &[
                        ("Content-Type", "application/json"),
                        ("Link", "<>; rel=next, garbage"),
                    ],
                    "{\"name\": 5, \"tags\": {\"a\": 1}}",
                ),
                ("referrers", _) => Reply::status(
                    200,
                    &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                    "{\"manifests\": \"none\"}",
                ),
                _ => Reply::status(404, &ct, "{\"errors\": {\"code\": 1}}"),
            }
        }),
    )
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::fails_when_exercised()).await
}

async fn bursts_500(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |r, _| match r.n % 9 {
        0..=4 => Reply::status(
            500,
            &[("Content-Type", "text/html")],
            "<html><body><h1>500 Internal Server Error</h1></body></html>",
        ),
        5..=7 => Reply::status(503, &[("Retry-After", "0")], ""),
        _ => Reply::status(502, &[], ""),
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn storm_429(name: &'static str) -> Vec<Problem> {
    const AFTER: &[Option<&str>] = &[
        Some("1"),
        Some("0"),
        None,
        Some("-3"),
        Some("soon"),
        Some("1.5"),
        Some("18446744073709551615"),
    ];
    let s = Server::start("127.0.0.1", |r, _| {
        let body = "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}";
        match AFTER[r.n % AFTER.len()] {
            Some(v) => Reply::status(
                429,
                &[("Content-Type", "application/json"), ("Retry-After", v)],
                body,
            ),
            None => Reply::status(429, &[("Content-Type", "application/json")], body),
        }
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn retry_after_far(name: &'static str) -> Vec<Problem> {
    const AFTER: &[&str] = &[
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "18446744073709551615",
        "99999999999999999999999",
        "86400",
    ];
    let s = Server::start("127.0.0.1", |r, _| {
        Reply::status(
            if r.n % 2 == 0 { 503 } else { 429 },
            &[("Retry-After", AFTER[r.n % AFTER.len()])],
            "",
        )
    })
    .await;
    let mut out = run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await;
    // Directly: the client must give the 503 back at once, not sleep for a millennium.
    let c = harness::probe_client(&s.url());
    let started = Instant::now();
    match tokio::time::timeout(
        Duration::from_secs(15),
        c.send(&Request::get("/v2/"), &harness::probe_trace()),
    )
    .await
    {
        Ok(Ok(r))
            if matches!(r.status, 429 | 503) && started.elapsed() < Duration::from_secs(5) => {}
        Ok(r) => out.push(problem(
            "retry-after",
            format!(
                "GET /v2/ with a far Retry-After: {:?} after {:.1} s",
                r.map(|r| r.status),
                started.elapsed().as_secs_f64()
            ),
        )),
        Err(_) => out.push(problem(
            "retry-after",
            "GET /v2/ with a far Retry-After slept for more than 15 s",
        )),
    }
    out
}

async fn redirect_loop(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |r, _| {
        let loc = if r.n % 2 == 0 {
            format!("/v2/?hop={}", r.n)
        } else {
            format!("/v2/oci-conformance/repo1/manifests/loop{}", r.n)
        };
        Reply::status(
            if r.n % 3 == 0 { 302 } else { 307 },
            &[("Location", &loc)],
            "",
        )
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn redirect_non_http(name: &'static str) -> Vec<Problem> {
    // Every target is either not HTTP, unparsable, or loopback: never a real host.
    const LOCATIONS: &[&str] = &[
        "file:///etc/passwd",
        "ftp://127.0.0.1/v2/",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "gopher://127.0.0.1:70/",
        "http://[::1",
        "http://127.0.0.1:0/v2/",
        "\u{1}\u{2}",
    ];
    let s = Server::start("127.0.0.1", |r, _| {
        Reply::status(302, &[("Location", LOCATIONS[r.n % LOCATIONS.len()])], "")
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await
}

async fn upload_other_host(name: &'static str) -> Vec<Problem> {
    // Upload sessions live on 127.0.0.2 at the same port: another origin, nothing listening.
    let s = Server::start("127.0.0.1", |r, c| {
        let other = other_loopback_url(c.addr.port());
        match (kind(r), r.method.as_str()) {
            ("base", _) => ok_v2(),
            ("upload", "POST") => {
                let loc = format!("{other}{}u-{}", r.path(), r.n);
                Reply::status(
                    202,
                    &[
                        ("Location", loc.as_str()),
                        ("Range", "0-0"),
                        ("Docker-Upload-UUID", "u"),
                    ],
                    "",
                )
            }
            ("manifest", "PUT") => {
                let loc = format!("{other}{}", r.path());
                Reply::status(201, &[("Location", loc.as_str())], "")
            }
            _ => Reply::json(
                404,
                "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"no\"}]}",
            ),
        }
    })
    .await;
    let mut out = run_and_verify(name, Some(&s), &s.url(), &Expect::fails_when_exercised()).await;

    // Credentials never go to another origin: an upload URL and a redirect that point at
    // 127.0.0.2 (a listener this time, to see what arrives).
    let other = Server::start("127.0.0.2", |_, _| Reply::status(201, &[], "")).await;
    let other_url = other.url();
    let ou = other_url.clone();
    let auth = Server::start("127.0.0.1", move |r, _| {
        if r.path() == "/v2/redirect" {
            return Reply::status(
                307,
                &[(
                    "Location",
                    &format!("{ou}/v2/oci-conformance/repo1/blobs/x"),
                )],
                "",
            );
        }
        match r.header("authorization") {
            None => Reply::status(401, &[("WWW-Authenticate", "Basic realm=\"hostile\"")], ""),
            Some(_) => ok_v2(),
        }
    })
    .await;
    let c = harness::probe_client(&auth.url());
    let t = harness::probe_trace();
    let first = c.send(&Request::get("/v2/"), &t).await.map(|r| r.status);
    if first.as_ref().ok() != Some(&200)
        || auth
            .seen()
            .iter()
            .all(|r| r.header("authorization").is_none())
    {
        out.push(problem(
            "probe",
            format!("basic auth probe did not authenticate: {first:?}"),
        ));
    }
    let _ = c
        .send(
            &Request::put(format!(
                "{other_url}/v2/oci-conformance/repo1/blobs/uploads/u?digest=sha256:x"
            ))
            .bytes(&b"data"[..]),
            &t,
        )
        .await;
    let _ = c.send(&Request::get("/v2/redirect"), &t).await;
    let arrived = other.seen();
    if arrived.len() < 2 {
        out.push(problem(
            "probe",
            format!("expected 2 requests on 127.0.0.2, saw {}", arrived.len()),
        ));
    }
    for r in arrived {
        if r.header("authorization").is_some()
            || r.headers
                .iter()
                .any(|(_, v)| v.contains(PASSWORD) || v.contains(&harness::basic_credentials()))
        {
            out.push(problem(
                "cross-origin-credentials",
                format!(
                    "{} {} on another origin carried credentials",
                    r.method, r.target
                ),
            ));
        }
    }
    out
}

async fn ok_to_everything(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| Reply::status(200, &[], "")).await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::fails_when_exercised()).await
}

async fn not_found_to_everything(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| {
        Reply::json(
            404,
            "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"nothing here\"}]}",
        )
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(90)).await
}

async fn huge_headers(name: &'static str) -> Vec<Problem> {
    let many: Arc<Vec<u8>> = Arc::new({
        let hs: Vec<(String, String)> = (0..5000)
            .map(|i| (format!("X-Hostile-{i}"), "v".repeat(20)))
            .collect();
        let refs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        response(200, &refs, b"{}")
    });
    let long: Arc<Vec<u8>> = Arc::new(response(200, &[("X-Long", &"x".repeat(1 << 20))], b"{}"));
    let s = Server::start("127.0.0.1", move |r, _| {
        Reply::raw(if r.n % 2 == 0 {
            many.to_vec()
        } else {
            long.to_vec()
        })
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await
}

async fn tls_garbage(name: &'static str) -> Vec<Problem> {
    let s = Server::start_with(
        "127.0.0.1",
        Some(Arc::new(|| {
            let mut g = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            g.extend((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
            vec![Step::Write(g), Step::Close]
        })),
        Arc::new(|_, _| Reply(vec![])),
    )
    .await;
    let url = format!("https://{}", s.addr);
    run_and_verify(name, Some(&s), &url, &Expect::exit(3).within(15)).await
}

async fn tls_silent(name: &'static str) -> Vec<Problem> {
    let s = Server::start_with(
        "127.0.0.1",
        Some(Arc::new(|| vec![Step::Hang])),
        Arc::new(|_, _| Reply(vec![])),
    )
    .await;
    let url = format!("https://{}", s.addr);
    run_and_verify(name, Some(&s), &url, &Expect::exit(3).within(15)).await
}

/// Everything the server knows about the caller's credentials, as a body.
fn echo_body(r: &Seen) -> String {
    let auth = r.header("authorization").unwrap_or("").to_string();
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    serde_json::json!({
        "errors": [{"code": "DENIED", "message": format!("you sent {auth} ({decoded}) {SCRIPT_PAYLOAD}"), "detail": {"authorization": auth, "credentials": decoded}}]
    })
    .to_string()
}

fn echo_headers(r: &Seen) -> Vec<(String, String)> {
    let auth = r.header("authorization").unwrap_or("").to_string();
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Echo-Authorization".into(), auth.clone()),
        ("X-Echo-Password".into(), PASSWORD.into()),
        (
            "Location".into(),
            format!(
                "http://{USERNAME}:{PASSWORD}@127.0.0.1:1/v2/?password={PASSWORD}&token={PASSWORD}"
            ),
        ),
        ("Warning".into(), format!("299 - \"{auth}\"")),
    ]
}

fn echo(status: u16, r: &Seen) -> Reply {
    let hs = echo_headers(r);
    let refs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Reply::status(status, &refs, echo_body(r))
}

/// Basic auth, then every answer echoes the credentials: 403 on `/v2/` so the failure
/// message quotes what the registry sent.
pub fn echo_basic_handler(r: &Seen, _: &super::server::Ctx) -> Reply {
    match r.header("authorization") {
        None => Reply::status(401, &[("WWW-Authenticate", "Basic realm=\"hostile\"")], ""),
        // /v2/ lets the run in (a 403 there would stop it at the preflight as refused
        // credentials); every other answer echoes the credentials into a failure.
        Some(_) if kind(r) == "base" => echo(200, r),
        Some(_) => echo(404, r),
    }
}

async fn echo_basic(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", echo_basic_handler).await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(90)).await
}

const TOKEN: &str = "tok-Xk3Ew9-secret-bearer";

async fn echo_bearer(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |r, c| {
        let realm = format!(
            "Bearer realm=\"http://{}/token\",service=\"hostile\"",
            c.addr
        );
        if r.path() == "/token" {
            return match r.header("authorization") {
                Some(a) if a.starts_with("Basic ") => Reply::json(
                    200,
                    &serde_json::json!({"token": TOKEN, "access_token": TOKEN, "expires_in": 300})
                        .to_string(),
                ),
                _ => Reply::status(401, &[], ""),
            };
        }
        match r.header("authorization") {
            Some(a) if a == format!("Bearer {TOKEN}") => {
                if kind(r) == "base" {
                    let hs = echo_headers(r);
                    let refs: Vec<(&str, &str)> =
                        hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    Reply::status(200, &refs, echo_body(r))
                } else {
                    echo(404, r)
                }
            }
            _ => Reply::status(401, &[("WWW-Authenticate", realm.as_str())], ""),
        }
    })
    .await;
    let e = Expect::fails_when_exercised()
        .within(90)
        .path("/token")
        .secret("secret-token", TOKEN);
    run_and_verify(name, Some(&s), &s.url(), &e).await
}

async fn markup(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", after_preflight(|_, _| {
        let body = format!(
            "{SCRIPT_PAYLOAD} ]]> </testcase></testsuite> <!-- &amp; &#0; &#x1; \u{0}\u{1}\u{7}\u{8}\u{b}\u{c}\u{1b}[31mred\u{1b}[0m \u{7f} \u{fffe}\u{ffff} \u{d}\u{2028}"
        );
        Reply::status(418, &[("Content-Type", "text/html"), ("X-Markup", "<b>\"'&")], body)
    }))
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1)).await
}

async fn endless_token(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |r, c| {
        if r.path() == "/token" {
            return endless(64 << 20);
        }
        Reply::status(
            401,
            &[(
                "WWW-Authenticate",
                &format!(
                    "Bearer realm=\"http://{}/token\",service=\"hostile\"",
                    c.addr
                ),
            )],
            "",
        )
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).path("/token")).await
}

async fn realm_not_http(name: &'static str) -> Vec<Problem> {
    const REALMS: &[&str] = &[
        "file:///etc/passwd",
        "ftp://127.0.0.1/token",
        "javascript:alert(1)",
        "http://[::1",
        "data:,{\\\"token\\\":\\\"x\\\"}",
    ];
    let s = Server::start("127.0.0.1", |r, _| {
        Reply::status(
            401,
            &[(
                "WWW-Authenticate",
                &format!(
                    "Bearer realm=\"{}\",service=\"hostile\"",
                    REALMS[r.n % REALMS.len()]
                ),
            )],
            "",
        )
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(60)).await
}

async fn always_401(name: &'static str) -> Vec<Problem> {
    let s = Server::start("127.0.0.1", |_, _| {
        Reply::status(
            401,
            &[
                ("WWW-Authenticate", "Basic realm=\"never\""),
                ("Content-Type", "application/json"),
            ],
            "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"no\"}]}",
        )
    })
    .await;
    // Refused credentials at the preflight: a configuration error, no check failed.
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(2).within(60)).await
}

async fn signed_upload_location(name: &'static str) -> Vec<Problem> {
    // Upload URLs signed like object-store URLs; every later request is refused, so failure
    // messages quote the request line.
    const SIG: &str = "SIGsecret-Zq81mW";
    const CRED: &str = "CREDsecret-Pw72kX";
    let s = Server::start("127.0.0.1", |r, _| match (kind(r), r.method.as_str()) {
        ("base", _) => ok_v2(),
        ("upload", "POST") => {
            let loc = format!(
                "{}u-{}?X-Amz-Credential={CRED}&X-Amz-Signature={SIG}&_state=s",
                r.path(),
                r.n
            );
            Reply::status(202, &[("Location", loc.as_str()), ("Range", "0-0")], "")
        }
        _ => Reply::json(
            400,
            "{\"errors\":[{\"code\":\"BLOB_UPLOAD_INVALID\",\"message\":\"no\"}]}",
        ),
    })
    .await;
    let e = Expect::fails_when_exercised()
        .secret("secret-signature", SIG)
        .secret("secret-signature", CRED);
    run_and_verify(name, Some(&s), &s.url(), &e).await
}

async fn deadline_during_setup(name: &'static str) -> Vec<Problem> {
    // Everything past GET /v2/ hangs longer than the deadline: the deadline stops the run in
    // the middle of scenario setups.
    let s = Server::start("127.0.0.1", |r, _| {
        if kind(r) == "base" {
            ok_v2()
        } else {
            Reply(vec![Step::Hang])
        }
    })
    .await;
    run_and_verify_with(name, Some(&s), &s.url(), &Expect::exit(1).within(20), |a| {
        a.request_timeout = 30.0;
        a.deadline = Some(5.0);
    })
    .await
}

async fn deadline_then_cleanup_hangs(name: &'static str) -> Vec<Problem> {
    // Pushes succeed (so there is something to clean up), reads and deletes hang: --deadline 5
    // must still end the run soon after 5 s.
    let s = Server::start("127.0.0.1", |r, _| match (kind(r), r.method.as_str()) {
        ("base", _) => ok_v2(),
        ("upload", "POST") => Reply::status(
            202,
            &[
                ("Location", &format!("{}u-{}", r.path(), r.n)),
                ("Range", "0-0"),
            ],
            "",
        ),
        ("upload", "PUT" | "PATCH") => Reply::status(
            201,
            &[("Location", &r.path().replace("/uploads/", "/"))],
            "",
        ),
        ("manifest", "PUT") => Reply::status(201, &[("Location", r.path())], ""),
        (_, "HEAD") => Reply::status(404, &[], ""),
        _ => Reply(vec![Step::Hang]),
    })
    .await;
    run_and_verify_with(name, Some(&s), &s.url(), &Expect::exit(1).within(20), |a| {
        a.request_timeout = 30.0;
        a.deadline = Some(5.0);
    })
    .await
}

async fn echo_everywhere(name: &'static str) -> Vec<Problem> {
    // The credentials in every field a check might quote: error codes, digests, ranges,
    // links, media types, upload locations.
    let s = Server::start("127.0.0.1", |r, _| {
        let Some(auth) = r.header("authorization").map(str::to_string) else {
            return Reply::status(401, &[("WWW-Authenticate", "Basic realm=\"hostile\"")], "");
        };
        let b64 = harness::basic_credentials();
        let body = serde_json::json!({"errors": [{"code": PASSWORD, "message": b64, "detail": {"auth": auth}}], "tags": [PASSWORD], "name": PASSWORD, "manifests": [{"digest": PASSWORD, "artifactType": b64}]}).to_string();
        let link = format!("</v2/oci-conformance/repo1/tags/list?last={PASSWORD}>; rel=\"next\"");
        let warning = format!("299 - \"{PASSWORD}\"");
        let ct = format!("application/json; charset={PASSWORD}");
        let location = format!("{}{PASSWORD}?state={b64}", r.path());
        let mut hs: Vec<(&str, &str)> = vec![
            ("Content-Type", ct.as_str()),
            ("Docker-Content-Digest", PASSWORD),
            ("Range", PASSWORD),
            ("Content-Range", b64.as_str()),
            ("Link", link.as_str()),
            ("Warning", warning.as_str()),
            ("OCI-Chunk-Min-Length", PASSWORD),
            ("OCI-Subject", b64.as_str()),
            ("OCI-Filters-Applied", PASSWORD),
            ("Docker-Upload-UUID", PASSWORD),
        ];
        let status = match (kind(r), r.method.as_str()) {
            ("base", _) => return ok_v2(),
            ("upload", "POST") => 202,
            (_, "PUT") => 201,
            (_, "GET" | "HEAD") => 200,
            (_, "DELETE") => 202,
            _ => 404,
        };
        if matches!(status, 201 | 202) {
            hs.push(("Location", location.as_str()));
        }
        Reply::status(status, &hs, body)
    })
    .await;
    run_and_verify(name, Some(&s), &s.url(), &Expect::exit(1).within(90)).await
}
