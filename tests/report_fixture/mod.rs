//! Hand-built event streams for the reporter tests (tests/reports.rs, tests/html_chromium.rs).
#![allow(dead_code)]

use oci_conformance::events::{CheckResult, Event, RunInfo, RunSummary};
use oci_conformance::model::{Bucket, CheckMeta, Level, Outcome, SpecVersion};
use oci_conformance::report::console::{Console, ConsoleSettings, Term};
use oci_conformance::report::{self, Written};
use oci_conformance::trace::Exchange;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub const HOSTILE: &str = "MUST <script>alert('x')</script> & \"quoted\" ]]> \u{1b}[31mred\u{0} end\nsecond line <b>bold</b>";

pub static PLAN: [CheckMeta; 9] = [
    CheckMeta::new(
        "pull.api.v2-base",
        Bucket::Pull,
        Level::Must,
        "determining-support",
        "GET /v2/ answers 200",
    ),
    CheckMeta::new(
        "pull.manifest.get-by-tag",
        Bucket::Pull,
        Level::Must,
        "pulling-manifests",
        "GET manifest by tag",
    ),
    CheckMeta::new(
        "pull.blob.range",
        Bucket::Pull,
        Level::Should,
        "pulling-blobs",
        "Range requests",
    ),
    CheckMeta::new(
        "push.monolithic.single-post",
        Bucket::Push,
        Level::May,
        "single-post",
        "single POST upload",
    ),
    CheckMeta::new(
        "push.chunked.patch-202",
        Bucket::Push,
        Level::Must,
        "pushing-a-blob-in-chunks",
        "PATCH chunk",
    ),
    CheckMeta::new(
        "push.manifest.put-by-tag",
        Bucket::Push,
        Level::Must,
        "pushing-manifests",
        "PUT manifest by tag",
    ),
    CheckMeta::new(
        "content-discovery.tags.list",
        Bucket::ContentDiscovery,
        Level::Must,
        "listing-tags",
        "tags list",
    ),
    CheckMeta::new(
        "referrers.api.list",
        Bucket::Referrers,
        Level::Must,
        "listing-referrers",
        "referrers list",
    ),
    CheckMeta::new(
        "content-management.manifest.delete",
        Bucket::ContentManagement,
        Level::Must,
        "deleting-manifests",
        "delete manifest",
    ),
];

pub fn info() -> Arc<RunInfo> {
    let mut config = BTreeMap::new();
    config.insert("registry".to_string(), "http://127.0.0.1:5000/".to_string());
    config.insert("password".to_string(), "[REDACTED]".to_string());
    config.insert("strict".to_string(), "false".to_string());
    Arc::new(RunInfo {
        tool: "oci-conformance".into(),
        version: "0.1.0".into(),
        spec_version: SpecVersion::V1_1,
        seed: 42,
        registry: "http://127.0.0.1:5000/".into(),
        embedded: false,
        config,
        started_at: "2025-01-02T03:04:05Z".into(),
        command: "oci-conformance --registry http://127.0.0.1:5000 --seed 42".into(),
        plan: PLAN.to_vec(),
        warnings: vec![
            "TLS certificate verification is OFF (--insecure / OCI_TLS=insecure)".into(),
        ],
    })
}

pub fn exchange(status: Option<u16>, body: &str) -> Exchange {
    Exchange {
        method: "GET".into(),
        url: "http://127.0.0.1:5000/v2/repo/manifests/<latest>".into(),
        request_headers: vec![(
            "Accept".into(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        request_body: String::new(),
        status,
        response_headers: vec![
            ("Content-Type".into(), "text/html".into()),
            ("X-Evil".into(), "<img src=x onerror=alert(1)>".into()),
        ],
        response_body: body.into(),
        duration_ms: 7,
        notes: vec!["retried once: connection reset".into()],
        refused: None,
    }
}

pub fn result(
    id: &str,
    bucket: Bucket,
    outcome: Outcome,
    level: Level,
    message: &str,
    trace: Vec<Exchange>,
) -> Event {
    let meta = PLAN.iter().find(|m| m.id == id);
    Event::CheckFinished(Arc::new(CheckResult {
        id: id.into(),
        bucket,
        name: meta
            .map(|m| m.name.to_string())
            .unwrap_or_else(|| "setup: push an image".into()),
        outcome,
        level,
        spec: meta.map(|m| m.spec.to_string()).unwrap_or_default(),
        spec_url: meta
            .map(|m| m.spec_url(SpecVersion::V1_1))
            .unwrap_or_default(),
        requirements: vec![],
        duration_ms: 12,
        message: message.into(),
        expectation: (outcome == Outcome::ExpectedFailure)
            .then(|| "PATCH answers 204 (vendor bug #12)".to_string()),
        trace,
        load: None,
    }))
}

/// One check of every outcome kind, a setup failure, a hostile message, notes.
pub fn full_run() -> Vec<Event> {
    vec![
        Event::RunStarted(info()),
        Event::CheckStarted {
            id: "pull.api.v2-base",
        },
        result(
            "pull.api.v2-base",
            Bucket::Pull,
            Outcome::Passed,
            Level::Must,
            "",
            vec![exchange(Some(200), "{}")],
        ),
        result(
            "pull.manifest.get-by-tag",
            Bucket::Pull,
            Outcome::Failed,
            Level::Must,
            HOSTILE,
            vec![
                exchange(Some(200), "<script>alert(2)</script>"),
                exchange(None, ""),
            ],
        ),
        result(
            "pull.blob.range",
            Bucket::Pull,
            Outcome::Warned,
            Level::Should,
            "SHOULD answer 206 to a Range request\nit answered 200",
            vec![],
        ),
        result(
            "push.monolithic.single-post",
            Bucket::Push,
            Outcome::Unsupported,
            Level::May,
            "single POST not supported (202)",
            vec![],
        ),
        result(
            "push.chunked.patch-202",
            Bucket::Push,
            Outcome::ExpectedFailure,
            Level::Must,
            "expected failure (PATCH answers 204 (vendor bug #12)): MUST answer 202",
            vec![],
        ),
        result(
            "push.manifest.put-by-tag",
            Bucket::Push,
            Outcome::Skipped,
            Level::Must,
            "setup 'push image' failed",
            vec![],
        ),
        result(
            "push.manifest.setup",
            Bucket::Push,
            Outcome::Failed,
            Level::Must,
            "setup 'push an image' of scenario push.manifest failed: 500",
            vec![exchange(Some(500), "oops")],
        ),
        result(
            "content-discovery.tags.list",
            Bucket::ContentDiscovery,
            Outcome::NotRun,
            Level::Must,
            "run cancelled before this check ran",
            vec![],
        ),
        result(
            "referrers.api.list",
            Bucket::Referrers,
            Outcome::Passed,
            Level::Must,
            "",
            vec![],
        ),
        result(
            "content-management.manifest.delete",
            Bucket::ContentManagement,
            Outcome::Passed,
            Level::Must,
            "",
            vec![],
        ),
        Event::Note("cleanup: deleted 3 manifests <ok>".into()),
        finished(None, 0, vec!["deleted 3 manifests <ok>".into()]),
    ]
}

pub fn finished(interrupted: Option<&str>, exit_code: i32, cleanup: Vec<String>) -> Event {
    Event::RunFinished(Arc::new(RunSummary {
        counts: Default::default(),
        duration_ms: 1234,
        http_requests: 56,
        interrupted: interrupted.map(String::from),
        fatal: None,
        exit_code,
        cleanup,
    }))
}

#[derive(Clone, Default)]
pub struct Buf(Arc<Mutex<Vec<u8>>>);
impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Feeds events through the collector (closing the channel after them) into `dir`.
pub fn run(
    events: Vec<Event>,
    dir: &Path,
    settings: ConsoleSettings,
    term: Term,
) -> (Result<Written, String>, String) {
    let buf = Buf::default();
    let console = Console::with_output(settings, term, Box::new(buf.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for e in events {
            tx.send(e).unwrap();
        }
        drop(tx);
        report::consume_with(rx, dir, console, Some(oci_conformance::suites::catalog::coverage_of_run)).await
    });
    (res, buf.text())
}

/// A run that looks like a real one against a registry with a few problems: every bucket,
/// every outcome, traces with headers and JSON bodies. For the rendered-page test.
pub fn realistic_run() -> Vec<Event> {
    use Outcome::*;
    // (id, level, spec anchor, name, outcome, message)
    const ROWS: &[(&str, Level, &str, &str, Outcome, &str)] = &[
        ("pull.api.v2-base", Level::Must, "determining-support", "GET /v2/ answers 200", Passed, ""),
        ("pull.manifest.get-by-tag", Level::Must, "pulling-manifests", "GET manifest by tag, byte-exact", Passed, ""),
        ("pull.manifest.get-by-digest", Level::Must, "pulling-manifests", "GET manifest by digest, byte-exact", Passed, ""),
        ("pull.manifest.get-digest-header", Level::Should, "pulling-manifests", "Docker-Content-Digest on GET", Passed, ""),
        ("pull.manifest.content-type", Level::Should, "pulling-manifests", "Content-Type is the pushed media type", Warned, "SHOULD §pulling-manifests \"the Content-Type header SHOULD match what was pushed\": GET /v2/oci-conformance/repo1/manifests/v1 answered 200 with Content-Type application/json; expected application/vnd.oci.image.manifest.v1+json"),
        ("pull.manifest.head-by-tag", Level::Must, "checking-if-content-exists-in-the-registry", "HEAD manifest by tag", Passed, ""),
        ("pull.manifest.unknown-tag-404", Level::Must, "pulling-manifests", "GET unknown tag answers 404", Passed, ""),
        ("pull.blob.get", Level::Must, "pulling-blobs", "GET blob, body hashes to its digest", Passed, ""),
        ("pull.blob.range", Level::Should, "pulling-blobs", "Range requests answer 206", Passed, "registry answered 206 with Content-Range bytes 10-99/4096"),
        ("pull.blob.unknown-404", Level::Must, "pulling-blobs", "GET unknown blob answers 404", Failed, "MUST §pulling-blobs \"If the blob is not found in the registry, the response code MUST be 404 Not Found\": GET /v2/oci-conformance/repo1/blobs/sha256:9f86…0f00a08 answered 500 Internal Server Error (text/html, 52 bytes: \"<html><body>upstream error</body></html>\"); expected 404"),
        ("pull.errors.json-format", Level::Must, "error-codes", "JSON error bodies are well-formed", Passed, ""),
        ("push.upload.post-202", Level::Must, "post-then-put", "POST starts an upload session", Passed, ""),
        ("push.monolithic.put-201", Level::Must, "post-then-put", "monolithic PUT completes an upload", Passed, ""),
        ("push.monolithic.single-post", Level::May, "single-post", "single POST upload", Unsupported, "POST ?digest= answered 202 with a Location: the registry does not support single-POST uploads (allowed)"),
        ("push.chunked.patch-202", Level::Must, "pushing-a-blob-in-chunks", "PATCH a chunk", Passed, ""),
        ("push.chunked.out-of-order-416", Level::Must, "pushing-a-blob-in-chunks", "out-of-order chunk answers 416", Failed, "MUST §pushing-a-blob-in-chunks \"If a chunk is uploaded out of order, the registry MUST respond with 416 Requested Range Not Satisfiable\": PATCH /v2/oci-conformance/repo1/blobs/uploads/3f1c… answered 202 Accepted; expected 416"),
        ("push.chunked.final-out-of-order-416", Level::Must, "pushing-a-blob-in-chunks", "out-of-order final chunk answers 416", Skipped, "not part of spec 1.1 (since main)"),
        ("push.streamed.patch", Level::May, "pushing-a-blob-in-chunks", "streamed PATCH upload", Passed, ""),
        ("push.digest.mismatch", Level::Must, "pushing-blobs", "digest mismatch is refused", ExpectedFailure, "expected failure (vendor bug OPS-1312): MUST §pushing-blobs: PUT with a wrong digest answered 201"),
        ("push.mount.from", Level::Must, "mounting-a-blob-from-another-repository", "cross-repository mount", Passed, ""),
        ("push.manifest.put-by-tag", Level::Must, "pushing-manifests", "PUT manifest by tag", Passed, ""),
        ("push.manifest.exact-bytes", Level::Must, "pushing-manifests", "odd manifest bytes come back exact", Passed, ""),
        ("push.manifest.too-large-413", Level::Should, "pushing-manifests", "oversized manifest refused with 413", Warned, "SHOULD §pushing-manifests \"registries SHOULD enforce some limit\": a 16 MiB manifest was accepted (201)"),
        ("discovery.tags.list", Level::Must, "listing-tags", "GET tags/list", Passed, ""),
        ("discovery.tags.order", Level::Must, "listing-tags", "tags in lexical order", Passed, ""),
        ("discovery.tags.n", Level::Must, "listing-tags", "?n=k returns k tags", Passed, ""),
        ("discovery.tags.pagination-walk", Level::Must, "listing-tags", "Link pagination yields every tag once", NotRun, "run cancelled before this check ran"),
        ("management.tag.delete", Level::Must, "deleting-tags", "DELETE a tag", Unsupported, "DELETE /v2/oci-conformance/repo1/manifests/v2 answered 405: tag deletion is disabled (allowed)"),
        ("management.manifest.delete", Level::Must, "deleting-manifests", "DELETE a manifest", Passed, ""),
        ("management.blob.delete", Level::Must, "deleting-blobs", "DELETE a blob", Passed, ""),
        ("referrers.api.list", Level::Must, "listing-referrers", "GET referrers", Passed, ""),
        ("referrers.api.artifact-type", Level::Must, "listing-referrers", "artifactType copied", Passed, ""),
        ("referrers.api.filter", Level::Should, "listing-referrers", "?artifactType= filtering", Passed, "OCI-Filters-Applied: artifactType"),
        ("referrers.fallback.tag-schema", Level::Must, "referrers-tag-schema", "tag schema fallback", Skipped, "the registry has the referrers API; the fallback is not needed"),
    ];
    let bucket = |id: &str| match id.split('.').next() {
        Some("pull") => Bucket::Pull,
        Some("push") => Bucket::Push,
        Some("discovery") => Bucket::ContentDiscovery,
        Some("management") => Bucket::ContentManagement,
        _ => Bucket::Referrers,
    };
    let plan: Vec<CheckMeta> = ROWS
        .iter()
        .map(|r| CheckMeta::new(r.0, bucket(r.0), r.1, r.2, r.3))
        .collect();
    let mut i = (*info()).clone();
    i.plan = plan.clone();
    i.registry = "https://registry.example.test:5000/".into();
    i.command = "oci-conformance --registry https://registry.example.test:5000 --insecure --seed 42 --jobs 8".into();
    i.warnings
        .push("spec 1.1: checks added after v1.1.1 are skipped (use --spec-version main)".into());
    let mut ev = vec![Event::RunStarted(Arc::new(i))];
    for (n, (m, r)) in plan.iter().zip(ROWS).enumerate() {
        let path = format!(
            "/v2/oci-conformance/repo1/{}",
            if m.id.contains("blob") {
                "blobs/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            } else {
                "manifests/v1"
            }
        );
        let status = match r.4 {
            Failed if m.id.contains("unknown") => Some(500),
            Failed => Some(202),
            Unsupported => Some(405),
            _ => Some(200),
        };
        let trace = if matches!(r.4, Skipped | NotRun) {
            vec![]
        } else {
            let mut first = exchange(Some(201), "");
            first.method = "PUT".into();
            first.url = format!("https://registry.example.test:5000{path}");
            first.request_body = "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"\n}".into();
            first.response_headers = vec![
                ("Location".into(), path.clone()),
                (
                    "Docker-Content-Digest".into(),
                    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                        .into(),
                ),
            ];
            first.notes.clear();
            let mut last = exchange(
                status,
                if status == Some(500) {
                    "<html><body>upstream error</body></html>"
                } else {
                    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"
                },
            );
            last.url = format!("https://registry.example.test:5000{path}");
            last.response_headers = vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Length".into(), "73".into()),
            ];
            if n % 3 != 0 {
                last.notes.clear();
            }
            vec![first, last]
        };
        ev.push(Event::CheckFinished(Arc::new(CheckResult {
            id: m.id.into(),
            bucket: m.bucket,
            name: m.name.into(),
            outcome: r.4,
            level: m.level,
            spec: m.spec.into(),
            spec_url: m.spec_url(SpecVersion::V1_1),
            requirements: vec![],
            duration_ms: 3 + (n as u64 * 37) % 400,
            message: r.5.into(),
            expectation: (r.4 == ExpectedFailure).then(|| "vendor bug OPS-1312".into()),
            trace,
            load: None,
        })));
    }
    ev.push(Event::Note(
        "cleanup: deleted 14 manifests, 9 blobs; 2 tags could not be deleted (405)".into(),
    ));
    ev.push(finished(
        None,
        0,
        vec!["deleted 14 manifests, 9 blobs; 2 tags could not be deleted (405)".into()],
    ));
    ev
}
