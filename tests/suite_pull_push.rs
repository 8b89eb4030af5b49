//! The pull and push suites: their shared helpers, their verdicts on the embedded registry
//! (clean: everything passes; with a fault: the right check fails or only warns, at the level
//! the spec gives), and their verdicts on Debian's docker-registry 2.8 when it is installed.

use bytes::Bytes;
use oci_conformance::client::Response;
use oci_conformance::digest::{Algorithm, Digest};
use oci_conformance::suites::common::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::{BTreeMap, BTreeSet};

#[path = "registry_support.rs"]
mod support;
use support::RunResult;

fn response(status: u16, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Response {
        status,
        headers: h,
        body: Bytes::copy_from_slice(body),
        hashed: None,
        url: url::Url::parse(url).unwrap(),
        request: "TEST".into(),
    }
}

#[test]
fn location_resolves_against_the_answering_url() {
    let base = "http://127.0.0.1:5000/v2/a/b/blobs/uploads/";
    let r = |l: &str| location(&response(202, base, &[("location", l)], b""));
    assert_eq!(
        r("/v2/a/b/blobs/uploads/u1?_state=x%3D").as_deref(),
        Some("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u1?_state=x%3D")
    );
    assert_eq!(
        r("u2?s=1").as_deref(),
        Some("http://127.0.0.1:5000/v2/a/b/blobs/uploads/u2?s=1")
    );
    assert_eq!(
        r("https://storage.example/up?sig=abc").as_deref(),
        Some("https://storage.example/up?sig=abc")
    );
    assert_eq!(r("  ").as_deref(), None);
    assert_eq!(location(&response(202, base, &[], b"")), None);
    // The digest is added after the location's own query parameters, encoded.
    assert_eq!(
        with_query("http://h/up?s=1", "digest", "sha256:ab"),
        "http://h/up?s=1&digest=sha256%3Aab"
    );
    assert_eq!(
        with_query("/up", "digest", "sha256:ab"),
        "/up?digest=sha256%3Aab"
    );
}

#[test]
fn chunk_sizes_honour_the_registry_minimum() {
    let r = |v: &str| {
        chunk_min_length(&response(
            202,
            "http://h/",
            &[("oci-chunk-min-length", v)],
            b"",
        ))
    };
    assert_eq!(r("5242880"), Ok(Some(5 << 20)));
    assert_eq!(r(" 7 "), Ok(Some(7)));
    assert!(r("0").is_err() && r("-1").is_err() && r("5MB").is_err() && r("").is_err());
    assert_eq!(
        chunk_min_length(&response(202, "http://h/", &[], b"")),
        Ok(None)
    );
    assert_eq!(chunk_size(None, 1 << 20), 1 << 20);
    assert_eq!(chunk_size(Some(5 << 20), 1 << 20), 5 << 20);
    assert_eq!(chunk_size(Some(1), 1 << 20), 1 << 20);
    assert_eq!(chunk_size(Some(1 << 40), 1 << 20), CHUNK_CAP);
}

#[test]
fn digest_header_accepts_any_matching_algorithm() {
    let body = b"{\"x\":1}";
    let expect = |a: Algorithm| Digest::of(a, body);
    let judge = |v: &str| {
        digest_header(
            &response(200, "http://h/", &[("docker-content-digest", v)], b""),
            expect,
        )
    };
    let s256 = Digest::sha256(body).to_string();
    let s512 = Digest::of(Algorithm::Sha512, body).to_string();
    assert_eq!(judge(&s256), DigestHeader::Matches(s256.clone()));
    // "MAY differ from the provided digest ... the hashing algorithms used do not match"
    assert_eq!(judge(&s512), DigestHeader::Matches(s512.clone()));
    assert!(matches!(
        judge(&Digest::sha256(b"other").to_string()),
        DigestHeader::Differs(_)
    ));
    assert!(matches!(
        judge(&s256.to_uppercase()),
        DigestHeader::Differs(_)
    ));
    assert!(matches!(judge("sha256:abc"), DigestHeader::Differs(_)));
    assert!(matches!(judge("garbage"), DigestHeader::Differs(_)));
    assert!(matches!(
        judge("blake3:0123abcd"),
        DigestHeader::Unverifiable(_)
    ));
    assert_eq!(
        digest_header(&response(200, "http://h/", &[], b""), expect),
        DigestHeader::Absent
    );
}

#[test]
fn error_bodies_are_read_loosely() {
    let r = |b: &str| error_codes_loose(&response(404, "http://h/", &[], b.as_bytes()));
    assert_eq!(
        r(r#"{"errors":[{"code":"BLOB_UNKNOWN"},{"code":"NAME_UNKNOWN"}]}"#),
        Some(vec!["BLOB_UNKNOWN".to_string(), "NAME_UNKNOWN".to_string()])
    );
    assert_eq!(r("404 page not found"), None);
    assert_eq!(r(r#"{"message":"nope"}"#), None);
}

// ---- runs ----

const SEED: &str = "20261129";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run(extra: &[&str]) -> RunResult {
    let mut flags: Vec<String> = ["--seed", SEED, "--deadline", "300"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    flags.extend(extra.iter().map(|s| s.to_string()));
    rt().block_on(support::run(&flags, BTreeMap::new()))
        .unwrap_or_else(|e| panic!("harness run {extra:?}: {e}"))
}

fn ids(r: &RunResult, outcome: &str) -> BTreeSet<String> {
    r.with(&[outcome])
        .into_iter()
        .map(|(id, _)| id.clone())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every pull and push check, as declared in suites/ (the large-blob ones run only on request).
fn declared() -> Vec<&'static oci_conformance::model::CheckMeta> {
    oci_conformance::suites::checks()
        .into_iter()
        .filter(|m| (m.id.starts_with("pull.") || m.id.starts_with("push.")) && !m.id.contains(".large."))
        .collect()
}

#[test]
fn every_check_is_declared_once() {
    let all: Vec<&str> = oci_conformance::suites::checks().into_iter().map(|m| m.id).collect();
    let checks = declared();
    assert!(checks.len() > 50, "only {} pull and push checks", checks.len());
    for m in checks {
        assert_eq!(all.iter().filter(|x| **x == m.id).count(), 1, "{} declared more than once", m.id);
    }
}

/// The embedded registry implements every feature: under main every check passes.
#[test]
fn embedded_registry_passes_pull_and_push() {
    for spec in ["1.1", "main"] {
        let r = run(&["--bucket", "pull,push", "--spec-version", spec]);
        assert!(
            r.caught().is_empty() && ids(&r, "not-run").is_empty(),
            "spec {spec}: {}",
            r.problems()
        );
        for m in declared() {
            let id = &m.id;
            let o = r.outcomes.get(*id).map(|(o, _)| o.as_str());
            let since_main = m.since == oci_conformance::model::SpecVersion::Main;
            let want = if spec == "1.1" && since_main {
                "skipped"
            } else {
                "passed"
            };
            assert_eq!(
                o,
                Some(want),
                "spec {spec}: {id}: {:?}",
                r.outcomes.get(*id)
            );
        }
    }
}

/// Faults whose verdict depends on the requirement's level: SHOULD → warned, MUST → failed,
/// and the levels that changed between v1.1.1 and main.
#[test]
fn embedded_faults_get_the_level_the_spec_gives() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("blob-range-ignored", "main", "pull.blob.range", "warned"),
        (
            "blob-range-wrong-bytes",
            "main",
            "pull.blob.range",
            "failed",
        ),
        (
            "manifest-head-wrong-length",
            "main",
            "pull.manifest.head-content-length",
            "failed",
        ),
        (
            "manifest-head-wrong-length",
            "1.1",
            "pull.manifest.head-content-length",
            "warned",
        ),
        ("blob-head-wrong-length", "main", "pull.blob.head", "failed"),
        ("blob-head-wrong-length", "1.1", "pull.blob.head", "warned"),
        (
            "manifest-wrong-digest-header",
            "1.1",
            "pull.manifest.get-digest-header",
            "failed",
        ),
        (
            "digest-mismatch-accepted",
            "1.1",
            "push.digest.mismatch",
            "failed",
        ),
        (
            "invalid-digest-404",
            "main",
            "push.digest.invalid-400",
            "warned",
        ),
        (
            "mount-unknown-blob-201",
            "1.1",
            "push.mount.unknown-blob",
            "failed",
        ),
        (
            "manifest-no-size-limit",
            "1.1",
            "push.manifest.too-large-413",
            "warned",
        ),
        (
            "upload-cancel-ignored",
            "main",
            "push.upload.cancel",
            "warned",
        ),
        (
            "tag-param-no-oci-tag",
            "main",
            "push.manifest.tag-param",
            "failed",
        ),
    ];
    for (fault, spec, id, want) in cases {
        let r = run(&[
            "--embedded-fault",
            fault,
            "--spec-version",
            spec,
            "--filter",
            id,
        ]);
        let got = r.outcomes.get(*id).cloned().unwrap_or_default();
        assert_eq!(
            got.0, *want,
            "fault {fault} (spec {spec}): {id} was {} ({})",
            got.0, got.1
        );
        assert!(
            got.1
                .contains(if *want == "failed" { "MUST" } else { "SHOULD" }),
            "fault {fault}: message names no level: {}",
            got.1
        );
    }
}

/// Registry freedoms the checks must accept: blobs served by another origin after a 307 (no
/// registry headers there), and a minimum chunk size that every chunked upload must honour.
#[test]
fn embedded_registry_modes_pass_pull_and_push() {
    use oci_conformance::registry::{self, Options};
    let rt = rt();
    let modes = [
        (
            "redirected blob GETs",
            Options {
                redirect_blobs: true,
                ..Default::default()
            },
        ),
        (
            "OCI-Chunk-Min-Length",
            Options {
                chunk_min_length: Some(3 << 20),
                ..Default::default()
            },
        ),
    ];
    for (what, o) in modes {
        let reg = rt
            .block_on(registry::start(Options {
                addr: "127.0.0.1:0".into(),
                ..o
            }))
            .expect("registry starts");
        let flags: Vec<String> = [
            "--registry",
            &reg.url(),
            "--bucket",
            "pull,push",
            "--spec-version",
            "main",
            "--seed",
            SEED,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = rt
            .block_on(support::run(&flags, BTreeMap::new()))
            .expect("harness run");
        assert!(
            r.caught().is_empty() && ids(&r, "not-run").is_empty(),
            "{what}: {}",
            r.problems()
        );
        if what == "OCI-Chunk-Min-Length" {
            let (o, m) = &r.outcomes["push.chunked.min-length"];
            assert!(
                o == "passed" && m.contains("3145728; chunks of that size were accepted"),
                "{what}: {o} {m}"
            );
        }
    }
}

// ---- Debian's docker-registry 2.8 ----

fn start_docker_registry() -> Option<(support::Server, u16)> {
    let s = support::Server::docker_registry().unwrap_or_else(|e| panic!("{e}"))?;
    let port = s.port;
    Some((s, port))
}

/// distribution 2.8 ignores Content-Range (its PATCH handler has "TODO(dmcgowan): support
/// Content-Range header to seek and write range"), answers 400 MANIFEST_INVALID to an
/// oversized manifest, and has no single-POST upload or ?tag= support. Everything else passes.
/// A difference must show on two runs, each against a fresh registry, before it fails: real
/// registries have races of their own under a concurrent run.
#[test]
fn docker_registry_2_8_verdicts() {
    if std::thread::spawn(docker_registry_2_8_verdicts_once).join().is_err() {
        eprintln!("docker-registry verdicts differed on the first run; running once more");
        std::thread::spawn(docker_registry_2_8_verdicts_once)
            .join()
            .expect("docker-registry verdicts differ on two runs");
    }
}

fn docker_registry_2_8_verdicts_once() {
    let Some((_server, port)) = start_docker_registry() else {
        eprintln!(
            "skipped: /usr/bin/docker-registry not installed (apt-get install docker-registry)"
        );
        return;
    };
    let url = format!("http://127.0.0.1:{port}");
    for spec in ["1.1", "main"] {
        let r = run(&[
            "--registry",
            &url,
            "--bucket",
            "pull,push",
            "--spec-version",
            spec,
        ]);
        // "If a chunk is uploaded out of order, the registry MUST respond with a 416" (every
        // chunk, the final one in the closing PUT too; main repeats it for the final chunk)
        // and "The response to a successful mount MUST be 201 Created, and MUST contain …
        // Location: <blob-location>" (a sha512 mount's Location answers 404), and "The response to
        // an active upload <location> MUST be a 204" for the Location of any preceding POST or
        // PATCH (an earlier one answers 404)
        let failed = set(&["push.chunked.out-of-order-416", "push.chunked.final-out-of-order-416", "push.mount.sha512", "push.chunked.status-any-location"]);
        let mut unsupported = set(&["push.monolithic.single-post"]);
        if spec == "main" {
            unsupported.insert("push.manifest.tag-param".into());
            unsupported.insert("push.manifest.tag-param-10".into());
        }
        assert_eq!(ids(&r, "failed"), failed, "spec {spec}: {}", r.problems());
        // "A registry that enforces this limit SHOULD respond ... with a response code 413"
        assert_eq!(
            ids(&r, "warned"),
            set(&["push.manifest.too-large-413"]),
            "spec {spec}: {}",
            r.problems()
        );
        assert_eq!(ids(&r, "unsupported"), unsupported, "spec {spec}");
        assert!(
            ids(&r, "not-run").is_empty(),
            "spec {spec}: {}",
            r.problems()
        );
    }
}
