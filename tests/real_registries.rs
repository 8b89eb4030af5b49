//! Verdicts against real registries. Every failure and warning the harness reports against a
//! real registry must be a true, cited spec violation: the expected set lives in
//! tests/known/<registry>.toml (id, outcome, the spec sentence broken, what the registry does).
//! A new failure (a false verdict, or a regression) or a lost one turns this test red.
//!
//! Debian's docker-registry (apt) is required on CI (OCI_CONFORMANCE_REQUIRE_REAL=1); the
//! registries from ../shared/registries are used when present and skipped with a message
//! otherwise.

use oci_conformance::config::{Config, RunArgs};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Deserialize)]
struct Known {
    #[serde(default)]
    violation: Vec<Violation>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Violation {
    id: String,
    outcome: String,
    spec: String,
    why: String,
}

#[path = "registry_support.rs"]
mod support;
use support::Server;

/// Starts a server; None (with the reason printed) when it is absent or does not start.
fn started(r: Result<Option<Server>, String>) -> Option<(Server, u16)> {
    match r {
        Ok(Some(s)) => {
            let port = s.port;
            Some((s, port))
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

fn start_docker_registry() -> Option<(Server, u16)> {
    started(Server::docker_registry())
}

fn start_shared(script: &str) -> Option<(Server, u16)> {
    started(Server::shared(script))
}

fn verdicts(port: u16) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let report = tempfile::tempdir().unwrap();
    let args = RunArgs {
        registry: Some(format!("http://127.0.0.1:{port}")),
        report_dir: Some(report.path().to_path_buf()),
        seed: Some(20261129),
        quiet: true,
        ..Default::default()
    };
    let cfg = Config::resolve(&args, &BTreeMap::<String, String>::new(), String::new()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(oci_conformance::app::run(cfg, false));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path().join("results.json")).unwrap())
            .unwrap();
    let mut bad = BTreeMap::new();
    let mut messages = BTreeMap::new();
    for t in v["tests"].as_array().unwrap() {
        let o = t["outcome"].as_str().unwrap_or("").to_string();
        if matches!(o.as_str(), "failed" | "warned" | "not-run") {
            let id = t["id"].as_str().unwrap_or("").to_string();
            messages.insert(id.clone(), t["message"].as_str().unwrap_or("").to_string());
            bad.insert(id, o);
        }
    }
    (bad, messages)
}

/// Differences between a run's verdicts and tests/known/<name>.toml; empty when they agree.
fn differences(name: &str, got: &BTreeMap<String, String>, messages: &BTreeMap<String, String>) -> Vec<String> {
    let known_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/known/{name}.toml"));
    let known: Known = toml::from_str(&std::fs::read_to_string(&known_path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: {e}", known_path.display()));
    let want: BTreeMap<String, String> = known
        .violation
        .iter()
        .map(|v| (v.id.clone(), v.outcome.clone()))
        .collect();
    let mut problems = vec![];
    for (id, o) in got {
        match want.get(id) {
            None => problems.push(format!("NEW {o}: {id}: {}", messages[id])),
            Some(w) if w != o => problems.push(format!(
                "CHANGED {id}: known {w}, now {o}: {}",
                messages[id]
            )),
            _ => {}
        }
    }
    let got_ids: BTreeSet<_> = got.keys().collect();
    for v in &known.violation {
        if !got_ids.contains(&v.id) {
            problems.push(format!(
                "LOST {} {}: no longer reported (known: {})",
                v.outcome, v.id, v.why
            ));
        }
    }
    problems
}

/// Compares a run's verdicts with the known list. A difference must show on a second run against
/// a fresh registry before it fails the test: real registries have races of their own (seen once:
/// docker-registry refusing a manifest while several scenarios pushed the same blob).
fn compare(name: &str, port: u16, restart: impl Fn() -> Option<(Server, u16)>) {
    let (got, messages) = verdicts(port);
    let problems = differences(name, &got, &messages);
    if problems.is_empty() {
        eprintln!("{name}: {} known violations confirmed", got.len());
        return;
    }
    eprintln!("{name}: verdicts differ on the first run, running once more:\n{}", problems.join("\n"));
    let (_s, port) = restart().expect("the registry starts again");
    let (got, messages) = verdicts(port);
    let problems = differences(name, &got, &messages);
    assert!(problems.is_empty(), "{name}: verdicts differ from tests/known/{name}.toml on two runs:\n{}", problems.join("\n"));
    eprintln!("{name}: {} known violations confirmed (on the second run)", got.len());
}

#[test]
fn docker_registry_2_8() {
    match start_docker_registry() {
        Some((_s, port)) => compare("docker-registry-2.8", port, start_docker_registry),
        None if support::require_real() => panic!("docker-registry is required (apt-get install docker-registry) but could not be started"),
        None => eprintln!("skipped: /usr/bin/docker-registry not installed (apt-get install docker-registry)"),
    }
}

macro_rules! shared_registry {
    ($fn:ident, $script:literal, $name:literal) => {
        #[test]
        fn $fn() {
            match start_shared($script) {
                Some((_s, port)) => compare($name, port, || start_shared($script)),
                None => eprintln!(
                    "skipped: ../shared/registries/{} not present or did not start",
                    $script
                ),
            }
        }
    };
}
shared_registry!(distribution_v3, "start-distribution.sh", "distribution-3.1");
shared_registry!(olareg, "start-olareg.sh", "olareg-0.2");
shared_registry!(ggcr, "start-ggcr.sh", "ggcr-0.21");
shared_registry!(trow, "start-trow.sh", "trow-0.10");
