//! The clients bucket (issue 19): crane, skopeo (+ umoci) and podman against the embedded
//! registry, clean and with faults a client meets, with credentials and TLS, and against the
//! real registries (their client verdicts pinned in tests/known/*.toml like the others).
//!
//! The clients come from apt (skopeo, umoci, podman: scripts/test.sh installs them) and from
//! ../shared/registries/bin/crane. Missing ones fail the tests under CI=true and skip otherwise.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::registry::{self, Auth, Options};
use std::collections::BTreeMap;
use std::path::PathBuf;
use support::{RunResult, Server};

const CLIENTS: [&str; 3] = ["crane", "skopeo", "podman"];
/// crane and skopeo: 7 checks each; podman 4 (no index, artifact or delete command).
const CHECKS: usize = 18;

fn crane() -> PathBuf {
    support::shared_registries().join("bin/crane")
}

/// The tools are there; otherwise a reason (a failure under CI).
fn tools() -> Result<(), String> {
    let mut missing = vec![];
    if !crane().is_file() {
        missing.push(crane().display().to_string());
    }
    for t in ["skopeo", "umoci", "podman"] {
        if oci_conformance::tool::locate(t, None).is_err() {
            missing.push(t.to_string());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let why = format!("clients missing: {} (apt-get install skopeo umoci podman; ../shared beside the repository)", missing.join(", "));
    if support::require_real() {
        panic!("{why}");
    }
    Err(why)
}

macro_rules! need_tools {
    () => {
        if let Err(why) = tools() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn run(flags: &[&str], env: BTreeMap<String, String>) -> RunResult {
    let mut f: Vec<String> = vec!["--client-tool".into(), format!("crane={}", crane().display()), "--seed".into(), "19".into()];
    f.extend(flags.iter().map(|s| s.to_string()));
    rt().block_on(support::run(&f, env)).expect("harness run")
}

fn clients_of(r: &RunResult) -> BTreeMap<&String, &(String, String)> {
    r.outcomes.iter().filter(|(id, _)| id.starts_with("clients.")).collect()
}

/// Every client check passed.
fn assert_clean(what: &str, r: &RunResult) {
    let c = clients_of(r);
    assert_eq!(c.len(), CHECKS, "{what}: {c:#?}");
    for (id, (o, m)) in c {
        assert_eq!(o, "passed", "{what}: {id}: {m}");
    }
}

#[test]
fn every_client_passes_on_the_embedded_registry_and_leaves_nothing() {
    need_tools!();
    let r = run(&["--bucket", "clients"], BTreeMap::new());
    assert_clean("embedded", &r);
    assert_eq!(r.exit_code, 0);
    // the trace shows each client's command line and version; cleanup removed everything
    let tests = r.results["tests"].as_array().unwrap();
    for c in CLIENTS {
        let t = tests.iter().find(|t| t["id"] == format!("clients.{c}.push")).unwrap();
        let exec = t["trace"].as_array().unwrap().iter().find(|e| e["method"] == "EXEC").expect("an EXEC entry");
        assert!(exec["url"].as_str().unwrap().starts_with(c), "{exec}");
        assert!(t["message"].as_str().unwrap().contains(c), "{}", t["message"]);
    }
    let notes = r.results["notes"].to_string();
    assert!(!notes.contains("not deleted") && notes.contains("cleanup"), "{notes}");
}

#[test]
fn a_default_run_never_runs_clients() {
    let r = rt().block_on(support::run(&["--filter".to_string(), "pull.api".to_string()], BTreeMap::new())).unwrap();
    assert!(clients_of(&r).is_empty());
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_oci-conformance")).arg("--list").output().unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("clients."));
}

#[test]
fn a_missing_client_is_skipped_with_the_reason() {
    let r = run(&["--bucket", "clients", "--client-tool", "podman=/nonexistent/podman", "--filter", "podman"], BTreeMap::new());
    let c = clients_of(&r);
    assert_eq!(c.len(), 4);
    for (id, (o, m)) in c {
        assert_eq!(o, "skipped", "{id}");
        assert!(m.contains("/nonexistent/podman") && m.contains("--client-tool"), "{id}: {m}");
    }
    assert_eq!(r.exit_code, 0);
}

/// A fault a client meets fails its check, and the verdict names the protocol check of the same
/// run that explains it.
#[test]
fn client_failures_point_to_the_protocol_check_that_explains_them() {
    need_tools!();
    for (fault, buckets, check, protocol) in [
        ("blob-wrong-bytes", "pull,clients", "clients.crane.pull", "pull.blob.get"),
        ("blob-wrong-bytes", "pull,clients", "clients.skopeo.pull", "pull.blob.get"),
        ("blob-wrong-bytes", "pull,clients", "clients.podman.pull", "pull.blob.get"),
        ("manifest-by-tag-wrong-bytes", "pull,clients", "clients.crane.pull", "pull.manifest.get-by-tag"),
        ("mount-not-copied", "push,clients", "clients.crane.copy", "push.mount.from"),
        ("mount-not-copied", "push,clients", "clients.skopeo.copy", "push.mount.from"),
        ("mount-not-copied", "push,clients", "clients.podman.copy", "push.mount.from"),
        ("artifact-rejected", "push,clients", "clients.crane.artifact", "push.manifest.artifact"),
        ("tags-list-bad-json", "content-discovery,clients", "clients.skopeo.tags", "discovery.tags.list"),
        ("manifest-delete-ignored", "content-management,clients", "clients.crane.delete", "management.manifest.deleted-404"),
    ] {
        let r = run(&["--bucket", buckets, "--embedded-fault", fault], BTreeMap::new());
        let (o, m) = &r.outcomes[check];
        assert_eq!(o, "failed", "{fault}: {check}: {m}");
        assert!(m.contains("Registry fault") && m.contains(protocol), "{fault}: {check} does not point to {protocol}: {m}");
        assert_eq!(r.outcomes[protocol].0, "failed", "{fault}: {protocol}");
    }
}

/// Without the protocol checks, a client failure is still failed, and says that nothing
/// explained it.
#[test]
fn an_unexplained_client_failure_says_so() {
    need_tools!();
    let r = run(&["--bucket", "clients", "--embedded-fault", "blob-wrong-bytes", "--filter", "crane.pull"], BTreeMap::new());
    let (o, m) = &r.outcomes["clients.crane.pull"];
    assert_eq!(o, "failed", "{m}");
    assert!(m.contains("No protocol check of this run failed"), "{m}");
}

/// Basic and token credentials, behind TLS trusted with --ca-cert: the clients get them from a
/// private auth file, and no report holds the password or its base64 form.
#[test]
fn clients_use_the_run_credentials_and_ca_and_never_leak_them() {
    need_tools!();
    const PASSWORD: &str = "cl1ent-Secret-7Hq";
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("bob:{PASSWORD}"));
    let rt = rt();
    for auth in [
        Auth::Basic { user: "bob".into(), password: PASSWORD.into() },
        Auth::Token { user: "bob".into(), password: PASSWORD.into() },
    ] {
        let what = format!("{auth:?}").split_whitespace().next().unwrap().to_string();
        let reg = rt
            .block_on(registry::start(Options { addr: "127.0.0.1:0".into(), auth: Some(auth), tls: true, ..Default::default() }))
            .unwrap();
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), reg.ca_pem.clone().unwrap()).unwrap();
        let env = BTreeMap::from([("OCI_USERNAME".to_string(), "bob".to_string()), ("OCI_PASSWORD".to_string(), PASSWORD.to_string())]);
        let url = reg.url();
        let r = run(&["--registry", &url, "--bucket", "clients", "--ca-cert", ca.path().to_str().unwrap()], env);
        assert_clean(&what, &r);
        let text = r.results.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains(&b64), "{what}: a credential is in results.json");
    }
}

#[derive(serde::Deserialize)]
struct Known {
    #[serde(default)]
    violation: Vec<Violation>,
}

#[derive(serde::Deserialize)]
struct Violation {
    id: String,
    outcome: String,
}

/// Client verdicts on a real registry agree with tests/known/<name>.toml (its clients.* entries).
fn pinned(name: &str, server: Result<Option<Server>, String>) {
    let server = match server {
        Ok(Some(s)) => s,
        Ok(None) if name.starts_with("docker-registry") && support::require_real() => panic!("{name} is required"),
        Ok(None) => return eprintln!("skipped: {name} is not installed"),
        Err(e) => panic!("{name}: {e}"),
    };
    let r = run(&["--registry", &server.url(), "--bucket", "pull,push,content-discovery,content-management,referrers,clients"], BTreeMap::new());
    let path = format!("{}/tests/known/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let known: Known = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want: BTreeMap<&str, &str> = known.violation.iter().filter(|v| v.id.starts_with("clients.")).map(|v| (v.id.as_str(), v.outcome.as_str())).collect();
    let got: BTreeMap<&str, &str> = clients_of(&r)
        .into_iter()
        .filter(|(_, (o, _))| matches!(o.as_str(), "failed" | "warned" | "not-run"))
        .map(|(id, (o, _))| (id.as_str(), o.as_str()))
        .collect();
    let detail: Vec<String> = clients_of(&r).iter().filter(|(id, _)| got.contains_key(id.as_str())).map(|(id, (o, m))| format!("{id} {o}: {m}")).collect();
    assert_eq!(got, want, "{name}: client verdicts differ from {path}:\n{}", detail.join("\n"));
    let skipped: Vec<_> = clients_of(&r).into_iter().filter(|(_, (o, _))| o == "skipped").collect();
    assert!(skipped.is_empty(), "{name}: {skipped:#?}");
}

#[test]
fn real_registries_client_verdicts_are_pinned() {
    need_tools!();
    pinned("docker-registry-2.8", Server::docker_registry());
    for (script, name) in [
        ("start-distribution.sh", "distribution-3.1"),
        ("start-olareg.sh", "olareg-0.2"),
        ("start-ggcr.sh", "ggcr-0.21"),
        ("start-trow.sh", "trow-0.10"),
    ] {
        pinned(name, Server::shared(script));
    }
}
