//! The CI templates (action.yml for GitHub Actions, docs/ci/gitlab-template.yml for GitLab)
//! and the one script both run, scripts/ci-run.sh: the templates hand every input to the
//! script, and the script, run with the environment the templates give it, runs the harness,
//! leaves the reports, writes the step summary, keeps credentials out of everything, and ends
//! with the harness's exit status.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

#[test]
fn the_action_hands_every_input_to_the_script_and_uploads_the_reports() {
    let a = yaml("action.yml");
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    let steps = a["runs"]["steps"].as_sequence().expect("steps");
    let run = steps.iter().find(|s| s["run"].as_str().is_some_and(|r| r.contains("scripts/ci-run.sh"))).expect("a step runs scripts/ci-run.sh");
    let env = run["env"].as_mapping().expect("the run step's env");
    let inputs = a["inputs"].as_mapping().expect("inputs");
    for (name, _) in inputs {
        let name = name.as_str().unwrap();
        if name == "artifact-name" {
            continue;
        }
        let wired = env.values().any(|v| v.as_str() == Some(&format!("${{{{ inputs.{name} }}}}")));
        assert!(wired, "input {name} does not reach the script");
    }
    for var in ["OCI_ROOT_URL", "OCI_NAMESPACE", "OCI_USERNAME", "OCI_PASSWORD", "OCI_REPORT_DIR"] {
        assert!(env.contains_key(var), "{var} is not set for the script");
    }
    let upload = steps.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@"))).expect("an upload step");
    assert_eq!(upload["if"].as_str(), Some("always()"), "the reports are uploaded whatever the outcome");
    assert_eq!(upload["with"]["path"].as_str(), Some("${{ inputs.report-dir }}"));
}

#[test]
fn the_gitlab_template_runs_the_same_script_and_keeps_the_reports() {
    let t = yaml("docs/ci/gitlab-template.yml");
    let job = &t[".oci-conformance"];
    let script: Vec<&str> = job["script"].as_sequence().expect("script").iter().filter_map(|s| s.as_str()).collect();
    assert!(script.iter().any(|s| s.contains("scripts/ci-run.sh")), "{script:?}");
    assert_eq!(job["artifacts"]["when"].as_str(), Some("always"));
    assert_eq!(job["artifacts"]["reports"]["junit"].as_str(), Some("$OCI_REPORT_DIR/junit.xml"));
}

struct Ran {
    status: i32,
    console: String,
    summary: String,
    dir: tempfile::TempDir,
}

/// scripts/ci-run.sh with the environment action.yml gives it (unset inputs are empty).
fn ci_run(vars: &[(&str, &str)]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<&str, String> = [
        "OCI_ROOT_URL", "OCI_NAMESPACE", "OCI_CROSSMOUNT_NAMESPACE", "OCI_USERNAME", "OCI_PASSWORD",
        "OCI_DEBUG", "OCI_VERSION", "OCI_CONFORMANCE_EXPECT", "OCI_CONFORMANCE_ARGS",
    ]
    .into_iter()
    .map(|k| (k, String::new()))
    .collect();
    env.insert("OCI_REPORT_DIR", "report".into());
    for (k, v) in vars {
        env.insert(k, v.to_string());
    }
    let summary = dir.path().join("summary.md");
    let out = Command::new("bash")
        .arg(root().join("scripts/ci-run.sh"))
        .current_dir(dir.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("OCI_CONFORMANCE_BIN", env!("CARGO_BIN_EXE_oci-conformance"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("bash");
    Ran {
        status: out.status.code().unwrap_or(-1),
        console: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        dir,
    }
}

fn reports(dir: &Path) -> String {
    let mut all = String::new();
    for f in ["results.json", "junit.xml", "report.html"] {
        let t = std::fs::read_to_string(dir.join("report").join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        all.push_str(&t);
    }
    all
}

#[test]
fn the_script_runs_the_harness_and_ends_with_its_status() {
    // Clean registry (the embedded one): exit 0, reports, a summary.
    let r = ci_run(&[]);
    assert_eq!(r.status, 0, "{}", r.console);
    reports(r.dir.path());
    assert!(r.summary.contains("exit 0") && r.summary.contains("| passed |"), "{}", r.summary);

    // A registry that breaks a MUST: exit 1, the failure named in the summary, reports still there.
    let r = ci_run(&[("OCI_CONFORMANCE_ARGS", "--embedded-fault blob-wrong-bytes --bucket pull")]);
    assert_eq!(r.status, 1, "{}", r.console);
    reports(r.dir.path());
    assert!(r.summary.contains("**pull.blob.get**"), "{}", r.summary);

    // A bad setting: the harness's configuration error comes through.
    let r = ci_run(&[("OCI_VERSION", "9.9")]);
    assert_eq!(r.status, 2, "{}", r.console);
}

#[test]
fn credentials_stay_out_of_the_console_the_summary_and_the_reports() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    const PASSWORD: &str = "ci-Template-pw-8Jx";
    let reg = rt
        .block_on(oci_conformance::registry::start(oci_conformance::registry::Options {
            addr: "127.0.0.1:0".into(),
            auth: Some(oci_conformance::registry::Auth::Basic { user: "ci".into(), password: PASSWORD.into() }),
            ..Default::default()
        }))
        .unwrap();
    let url = reg.url();
    let r = ci_run(&[("OCI_ROOT_URL", url.as_str()), ("OCI_USERNAME", "ci"), ("OCI_PASSWORD", PASSWORD), ("OCI_DEBUG", "true"), ("OCI_CONFORMANCE_ARGS", "--bucket pull")]);
    assert_eq!(r.status, 0, "{}", r.console);
    for (what, text) in [("console", r.console.as_str()), ("summary", r.summary.as_str()), ("reports", reports(r.dir.path()).as_str())] {
        assert!(!text.contains(PASSWORD), "the password is in the {what}");
    }
}
