//! results.json: `summary` and `tests` as DEVELOPERS.md fixes them, plus run metadata and
//! `coverage` (every requirement of the spec version under test with its checks' outcome).

use super::RunRecord;
use serde_json::json;

pub fn render(r: &RunRecord) -> String {
    let c = r.counts();
    let tests: Vec<_> = r
        .results
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "bucket": t.bucket, "name": t.name, "outcome": t.outcome,
                "level": t.level, "spec": t.spec, "spec_url": t.spec_url,
                "requirements": t.requirements, "duration_ms": t.duration_ms, "message": t.message,
                "expectation": t.expectation, "trace": t.trace, "load": t.load,
            })
        })
        .collect();
    let buckets: serde_json::Map<String, serde_json::Value> = r
        .buckets()
        .into_iter()
        .map(|(b, c)| {
            (
                b.as_str().to_string(),
                serde_json::to_value(c).unwrap_or_default(),
            )
        })
        .collect();
    let v = json!({
        "tool": r.info.tool, "version": r.info.version,
        "spec_version": r.info.spec_version, "seed": r.info.seed,
        "registry": r.info.registry, "embedded": r.info.embedded,
        "started_at": r.info.started_at, "command": r.info.command,
        "config": r.info.config, "warnings": r.info.warnings, "notes": r.notes,
        "summary": {
            "total": c.total, "passed": c.passed, "failed": c.failed, "warned": c.warned,
            "unsupported": c.unsupported, "skipped": c.skipped,
            "expected_failure": c.expected_failure, "not_run": c.not_run,
            "status": r.status().as_str(),
            "duration_ms": r.summary.duration_ms, "http_requests": r.summary.http_requests,
            "interrupted": r.summary.interrupted, "fatal": r.summary.fatal,
            "exit_code": r.exit_code(), "cleanup": r.summary.cleanup,
            "buckets": buckets,
        },
        "tests": tests,
        "coverage": r.coverage,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
