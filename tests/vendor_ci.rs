//! Vendor-CI features: expectations files, `diff`, `bundle`, and the subcommands of the binary.
//! Fixtures are results.json files written by hand into temporary dirs.

use oci_conformance::bundle::{self, Product};
use oci_conformance::suites::workflows::WORKFLOWS;
use oci_conformance::diff::{self, Change};
use oci_conformance::expect::{self, Expectations};
use oci_conformance::model::Outcome;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------- fixtures

/// A results.json as the harness writes it, with the given (id, outcome, message) rows.
fn results_json(tests: &[(&str, &str, &str)]) -> Value {
    let rows: Vec<Value> = tests
        .iter()
        .map(|(id, outcome, message)| {
            json!({
                "id": id, "bucket": id.split('.').next().unwrap_or("pull"), "name": format!("check {id}"),
                "outcome": outcome, "level": "MUST", "spec": "pulling-manifests",
                "spec_url": "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests",
                "requirements": [format!("req-{id}")], "duration_ms": 3, "message": message,
            })
        })
        .collect();
    json!({
        "tool": "oci-conformance", "version": "0.1.0", "spec_version": "1.1", "seed": 4242,
        "registry": "http://127.0.0.1:5000/", "embedded": false, "started_at": "2025-01-02T03:04:05Z",
        "command": "/home/ci/target/release/oci-conformance --registry http://127.0.0.1:5000 --seed 4242",
        "config": {"registry": "http://127.0.0.1:5000/", "namespace": "acme/repo1", "password": "[REDACTED]", "seed": "4242", "spec_version": "1.1", "username": "ci-bot"},
        "warnings": [], "notes": [],
        "summary": {"total": rows.len(), "passed": 0, "failed": 0, "warned": 0, "unsupported": 0, "skipped": 0,
                    "expected_failure": 0, "not_run": 0, "duration_ms": 10, "http_requests": 5,
                    "interrupted": null, "fatal": null, "exit_code": 0, "cleanup": []},
        "tests": rows,
    })
}

/// Writes a report dir (results.json, junit.xml, report.html) and returns its path.
fn report_dir(root: &Path, name: &str, v: &Value) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("results.json"),
        serde_json::to_string_pretty(v).unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("junit.xml"), JUNIT).unwrap();
    std::fs::write(
        d.join("report.html"),
        "<!doctype html><html><body>report</body></html>\n",
    )
    .unwrap();
    d
}

const JUNIT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pull" tests="1" failures="0"><testcase name="pull.blob.get"/></testsuite></testsuites>
"#;

const PRODUCT: &str = "vendor: Acme Corp\nname: Acme Registry\nversion: 1.10\nwebsite_url: https://acme.example/\nrepo_url: https://github.com/acme/registry\ndocumentation_url: https://acme.example/docs\nproduct_logo_url: https://acme.example/logo.svg\ntype: distribution\ndescription: A registry for testing the bundle command.\n";

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------- expectations

#[test]
fn expectations_parse_and_lookup() {
    let text = r#"
# known failures
[[expected]]
id = "push.chunked.out-of-order-416"   # a check id
reason = "our proxy answers 400"
link = "https://tracker.example/123"

[[expected]]
id = "req-pull.blob.range"
reason = "  range support lands in 2.0  "
"#;
    let e = Expectations::parse(text, "x.toml").unwrap();
    assert_eq!(e.entries.len(), 2);
    assert_eq!(
        e.entries[0].link.as_deref(),
        Some("https://tracker.example/123")
    );
    assert_eq!(e.entries[0].line, 3);
    assert_eq!(e.entries[1].reason, "range support lands in 2.0");
    assert_eq!(
        e.lookup("push.chunked.out-of-order-416", &[])
            .unwrap()
            .reason,
        "our proxy answers 400"
    );
    // by requirement id
    assert!(e
        .lookup("pull.blob.range", &["req-pull.blob.range".to_string()])
        .is_some());
    assert!(e
        .lookup("pull.blob.get", &["req-pull.blob.get".to_string()])
        .is_none());
    assert_eq!(
        e.unknown_ids(&["push.chunked.out-of-order-416"], &[]),
        vec!["req-pull.blob.range".to_string()]
    );
    assert!(e
        .unknown_ids(&["push.chunked.out-of-order-416"], &["req-pull.blob.range"])
        .is_empty());
    // an empty file is valid: nothing expected
    assert!(Expectations::parse("# nothing yet\n", "x.toml")
        .unwrap()
        .entries
        .is_empty());
}

#[test]
fn expectations_errors_name_file_line_and_field() {
    let cases: &[(&str, &[&str])] = &[
        ("[[expected]]\nid = \"a.b\"\n", &["e.toml:1", "reason"]),
        ("[[expected]]\nid = \"a.b\"\nreason = \"r\"\n\n[[expected]]\nreason = \"r\"\n", &["e.toml:5", "id"]),
        ("[[expected]]\nid = \"a.b\"\nreason = \"r\"\nreasn = \"typo\"\n", &["e.toml:", "unknown field", "reasn"]),
        ("[[expected]]\nid = \"a.b\"\nreason = \"r\"\n[[expected]]\nid = \"a.b\"\nreason = \"s\"\n", &["e.toml:5", "duplicate id", "\"a.b\"", "line 2"]),
        ("[[expected]]\nid = \"a.b\"\nreason = \"   \"\n", &["e.toml:3", "reason", "empty"]),
        ("[[expected]]\nid = \"\"\nreason = \"r\"\n", &["e.toml:2", "id", "empty"]),
        ("[[expected]]\nid = \"a b\"\nreason = \"r\"\n", &["e.toml:2", "whitespace"]),
        ("[[expected]]\nid = \"a.b\"\nreason = \"r\"\nlink = \"TRACK-1\"\n", &["e.toml:4", "link", "http"]),
        ("[[expect]]\nid = \"a.b\"\nreason = \"r\"\n", &["e.toml:1", "unknown field", "expect"]),
        ("[[expected]]\nid = a.b\n", &["e.toml:2"]),
        ("[[expected]]\nid = 5\nreason = \"r\"\n", &["e.toml:2", "string"]),
    ];
    for (text, wants) in cases {
        let err = Expectations::parse(text, "e.toml").expect_err(text);
        for w in *wants {
            assert!(
                err.contains(w),
                "error for {text:?} should contain {w:?}: {err}"
            );
        }
    }
    let err = Expectations::load(Path::new("/nonexistent/e.toml")).unwrap_err();
    assert!(err.contains("/nonexistent/e.toml"), "{err}");
}

#[test]
fn write_from_results_round_trips() {
    let d = tmp();
    let mut v = results_json(&[
        (
            "push.z-last",
            "failed",
            "expected 416, got \"400\"\nPATCH /v2/x/blobs/uploads/1\n→ 400",
        ),
        ("pull.blob.get", "passed", ""),
        ("pull.blob.range", "warned", "no Range support"),
        (
            "push.a-first",
            "expected-failure",
            "expected failure (proxy bug): expected 201, got 500",
        ),
        ("push.no-message", "failed", ""),
    ]);
    v["tests"][3]["expectation"] = json!("proxy bug");
    let dir = report_dir(d.path(), "report", &v);
    // a report dir and its results.json give the same file, apart from the path in the header
    let from_dir = expect::write_from_results(&dir).unwrap();
    let from_file = expect::write_from_results(&dir.join("results.json")).unwrap();
    assert_eq!(
        from_dir
            .lines()
            .filter(|l| !l.starts_with("# Generated"))
            .collect::<Vec<_>>(),
        from_file
            .lines()
            .filter(|l| !l.starts_with("# Generated"))
            .collect::<Vec<_>>()
    );
    assert!(
        from_dir.contains("registry http://127.0.0.1:5000/"),
        "{from_dir}"
    );
    assert!(from_dir.contains("date 2025-01-02T03:04:05Z"), "{from_dir}");
    assert!(from_dir.contains("seed 4242"), "{from_dir}");
    let e = Expectations::parse(&from_dir, "generated").unwrap();
    let ids: Vec<_> = e.entries.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, vec!["push.a-first", "push.no-message", "push.z-last"]);
    assert_eq!(e.entries[0].reason, "proxy bug");
    assert!(!e.entries[1].reason.is_empty());
    assert_eq!(e.entries[2].reason, "expected 416, got \"400\"");
    // and the file loads from disk too
    let f = d.path().join("expectations.toml");
    std::fs::write(&f, &from_dir).unwrap();
    assert_eq!(Expectations::load(&f).unwrap().entries.len(), 3);
}

#[test]
fn write_from_results_without_failures_and_with_bad_input() {
    let d = tmp();
    let dir = report_dir(
        d.path(),
        "ok",
        &results_json(&[("pull.blob.get", "passed", "")]),
    );
    let text = expect::write_from_results(&dir).unwrap();
    assert!(Expectations::parse(&text, "g").unwrap().entries.is_empty());
    assert!(text.contains("No check failed"));
    let err = expect::write_from_results(&d.path().join("missing")).unwrap_err();
    assert!(
        err.contains("missing") && err.contains("no such file"),
        "{err}"
    );
    let empty = d.path().join("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(expect::write_from_results(&empty)
        .unwrap_err()
        .contains("no results.json"));
    let bad = d.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"tests\": [{\"id\": \"x\", \"outcome\": \"exploded\"}]}",
    )
    .unwrap();
    let err = expect::write_from_results(&bad).unwrap_err();
    assert!(
        err.contains("bad.json") && err.contains("exploded"),
        "{err}"
    );
}

// ---------------------------------------------------------------- diff

#[test]
fn regression_rules() {
    use Outcome::*;
    for (a, b) in [
        (Passed, Failed),
        (Warned, Failed),
        (Unsupported, Failed),
        (Skipped, Failed),
        (Passed, Warned),
    ] {
        assert!(diff::is_regression(a, b), "{a:?} → {b:?}");
        assert_eq!(diff::classify(a, b), Change::Regressed);
    }
    for (a, b) in [
        (ExpectedFailure, Failed),
        (NotRun, Failed),
        (Unsupported, Warned),
        (Passed, Skipped),
        (Failed, Passed),
        (Warned, Passed),
        (Passed, ExpectedFailure),
    ] {
        assert!(!diff::is_regression(a, b), "{a:?} → {b:?}");
    }
    assert_eq!(diff::classify(Failed, Passed), Change::Improved);
    assert_eq!(diff::classify(Warned, Unsupported), Change::Improved);
    assert_eq!(diff::classify(Passed, Skipped), Change::Changed);
    assert_eq!(diff::classify(ExpectedFailure, Passed), Change::Improved);
    assert_eq!(diff::classify(Failed, ExpectedFailure), Change::Changed);
    assert_eq!(diff::classify(Passed, ExpectedFailure), Change::Changed);
}

fn diff_fixtures(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let old = report_dir(
        root,
        "old",
        &results_json(&[
            ("pull.blob.get", "passed", ""),
            ("pull.blob.range", "passed", ""),
            ("push.digest.mismatch", "failed", "x"),
            ("push.removed", "passed", ""),
            ("referrers.api.get", "skipped", "filtered"),
        ]),
    );
    let regressed = report_dir(
        root,
        "regressed",
        &results_json(&[
            ("pull.blob.get", "failed", "boom"),
            ("pull.blob.range", "warned", "no range"),
            ("push.digest.mismatch", "passed", ""),
            ("referrers.api.get", "skipped", "filtered"),
            ("push.added", "passed", ""),
        ]),
    );
    let better = report_dir(
        root,
        "better",
        &results_json(&[
            ("pull.blob.get", "passed", ""),
            ("pull.blob.range", "passed", ""),
            ("push.digest.mismatch", "passed", ""),
            ("push.removed", "passed", ""),
            ("referrers.api.get", "passed", ""),
        ]),
    );
    (old, regressed, better)
}

#[test]
fn diff_table_json_and_exit_codes() {
    let d = tmp();
    let (old, regressed, better) = diff_fixtures(d.path());
    let (a, b) = (
        diff::load_results(&old).unwrap(),
        diff::load_results(&regressed).unwrap(),
    );
    let cmp = diff::compare(&a, &b);
    assert_eq!(cmp.regressions(), 2);
    // regressions first, by id
    let order: Vec<_> = cmp
        .changed
        .iter()
        .map(|c| (c.id.as_str(), c.change))
        .collect();
    assert_eq!(
        order,
        vec![
            ("pull.blob.get", Change::Regressed),
            ("pull.blob.range", Change::Regressed),
            ("push.digest.mismatch", Change::Improved)
        ]
    );
    assert_eq!(
        cmp.added.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        vec!["push.added"]
    );
    assert_eq!(
        cmp.removed
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>(),
        vec!["push.removed"]
    );
    assert_eq!((cmp.old_counts.passed, cmp.new_counts.passed), (3, 2));

    let table = diff::render_table(&a, &b, &cmp);
    assert!(
        table.contains("pull.blob.get") && table.contains("passed") && table.contains("REGRESSED"),
        "{table}"
    );
    assert!(
        table.contains("Added checks (1)") && table.contains("Removed checks (1)"),
        "{table}"
    );
    assert!(table.contains("2 regressions."), "{table}");

    let j: Value = serde_json::from_str(&diff::render_json(&a, &b, &cmp)).unwrap();
    assert_eq!(j["regressions"], 2);
    assert_eq!(
        j["changed"][0],
        json!({"id": "pull.blob.get", "name": "check pull.blob.get", "old": "passed", "new": "failed", "change": "regressed"})
    );
    assert_eq!(j["added"][0]["id"], "push.added");
    assert_eq!(j["removed"][0]["outcome"], "passed");
    assert_eq!(j["counts"]["old"]["failed"], 1);
    assert_eq!(j["counts"]["new"]["failed"], 1);
    assert_eq!(j["old"]["seed"], 4242);

    assert_eq!(diff::run(&old, &regressed, false).unwrap(), 1);
    assert_eq!(
        diff::run(&old, &regressed.join("results.json"), true).unwrap(),
        1
    );
    assert_eq!(diff::run(&old, &better, false).unwrap(), 0);
    assert_eq!(diff::run(&old, &old, true).unwrap(), 0);
    let b2 = diff::load_results(&better).unwrap();
    let t = diff::render_table(&a, &b2, &diff::compare(&a, &b2));
    assert!(t.contains("No regressions."), "{t}");
}

#[test]
fn diff_unreadable_input_is_an_error() {
    let d = tmp();
    let (old, _, _) = diff_fixtures(d.path());
    assert!(diff::run(&old, &d.path().join("nope"), false)
        .unwrap_err()
        .contains("nope"));
    let garbage = d.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    assert!(diff::run(&garbage, &old, false)
        .unwrap_err()
        .contains("garbage.json"));
    let no_tests = d.path().join("no-tests.json");
    std::fs::write(&no_tests, "{\"tool\": \"x\"}").unwrap();
    assert!(diff::run(&old, &no_tests, false)
        .unwrap_err()
        .contains("tests"));
}

#[test]
fn diff_notes_different_spec_versions() {
    let d = tmp();
    let mut v = results_json(&[("pull.blob.get", "passed", "")]);
    let a = report_dir(d.path(), "a", &v);
    v["spec_version"] = json!("1.0");
    let b = report_dir(d.path(), "b", &v);
    let (a, b) = (
        diff::load_results(&a).unwrap(),
        diff::load_results(&b).unwrap(),
    );
    let cmp = diff::compare(&a, &b);
    assert!(
        cmp.notes
            .iter()
            .any(|n| n.contains("different spec versions")),
        "{:?}",
        cmp.notes
    );
}

// ---------------------------------------------------------------- bundle

#[test]
fn bundle_layout_and_files() {
    let d = tmp();
    let mut v = results_json(&[
        ("pull.blob.get", "passed", ""),
        ("pull.blob.range", "warned", "no range"),
        ("push.x", "expected-failure", "known"),
    ]);
    v["command"] = json!("/home/ci/target/release/oci-conformance --registry http://127.0.0.1:5000 --seed 4242 --token hunter2");
    let rep = report_dir(d.path(), "report", &v);
    let product = d.path().join("PRODUCT.yaml");
    std::fs::write(&product, PRODUCT).unwrap();
    let out = d.path().join("out");
    let dir = bundle::run(&product, &out, &rep, WORKFLOWS).unwrap();
    assert_eq!(
        dir,
        out.join("distribution-spec")
            .join("v1.1")
            .join("acme-registry")
    );
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["PRODUCT.yaml", "README.md", "junit.xml", "report.html", "results.yaml"]
    );

    // PRODUCT.yaml: normalized, same content, version kept as the string written
    let p = Product::load(&dir.join("PRODUCT.yaml")).unwrap();
    assert_eq!(p, Product::parse(PRODUCT, "given").unwrap());
    assert_eq!(p.version, "1.10");
    let y: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("PRODUCT.yaml")).unwrap()).unwrap();
    assert_eq!(
        y["version"],
        serde_yaml::Value::String("1.10".into()),
        "version must be written as a string"
    );
    assert_eq!(y["type"], serde_yaml::Value::String("distribution".into()));

    // copies are byte-identical; junit.xml still parses
    assert_eq!(
        std::fs::read(dir.join("junit.xml")).unwrap(),
        std::fs::read(rep.join("junit.xml")).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.join("report.html")).unwrap(),
        std::fs::read(rep.join("report.html")).unwrap()
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let mut r = quick_xml::Reader::from_str(&junit);
    while !matches!(r.read_event().unwrap(), quick_xml::events::Event::Eof) {}

    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for want in [
        "# Acme Registry",
        "oci-conformance --registry http://127.0.0.1:5000 --seed 4242 --token ***",
        "| harness | oci-conformance 0.1.0 |",
        "| spec version | 1.1 |",
        "| registry | http://127.0.0.1:5000/ |",
        "| seed | 4242 |",
        "| date | 2025-01-02T03:04:05Z |",
        "| namespace | acme/repo1 |",
        "| passed | 1 |",
        "| warned | 1 |",
        "| expected failure | 1 |",
        // an expected failure is still a failure in a submission
        "v1.1 conformance: **FAIL**",
        "[report.html](report.html)",
    ] {
        assert!(
            readme.contains(want),
            "README should contain {want:?}:\n{readme}"
        );
    }
    assert!(
        !readme.contains("hunter2") && !readme.contains("/home/ci/target"),
        "{readme}"
    );

    // a second bundle into the same place overwrites cleanly; a clean run is a PASS
    let rep = report_dir(
        d.path(),
        "clean",
        &results_json(&[
            ("pull.blob.get", "passed", ""),
            ("pull.blob.range", "warned", "no range"),
        ]),
    );
    assert_eq!(bundle::run(&product, &out, &rep, WORKFLOWS).unwrap(), dir);
    assert!(std::fs::read_to_string(dir.join("README.md"))
        .unwrap()
        .contains("conformance: **PASS**"));
}

#[test]
fn bundle_spec_versions_and_run_checks() {
    let d = tmp();
    let product = d.path().join("PRODUCT.yaml");
    std::fs::write(&product, PRODUCT).unwrap();
    let out = d.path().join("out");
    let mut v = results_json(&[("pull.blob.get", "passed", "")]);
    v["spec_version"] = json!("1.0");
    let rep = report_dir(d.path(), "r10", &v);
    assert!(bundle::run(&product, &out, &rep, WORKFLOWS)
        .unwrap()
        .ends_with("distribution-spec/v1.0/acme-registry"));

    v["spec_version"] = json!("main");
    let rep = report_dir(d.path(), "rmain", &v);
    assert!(bundle::run(&product, &out, &rep, WORKFLOWS)
        .unwrap_err()
        .contains("main"));

    // a run of the embedded registry bundles (the layout is the same) but says so
    let mut v = results_json(&[("pull.blob.get", "passed", "")]);
    v["embedded"] = json!(true);
    let rep = report_dir(d.path(), "remb", &v);
    let dir = bundle::run(&product, &out, &rep, WORKFLOWS).unwrap();
    assert!(std::fs::read_to_string(dir.join("README.md")).unwrap().contains("embedded reference registry"));

    let mut v = results_json(&[("pull.blob.get", "not-run", "")]);
    v["summary"]["interrupted"] = json!("interrupted by SIGINT");
    let rep = report_dir(d.path(), "rint", &v);
    assert!(bundle::run(&product, &out, &rep, WORKFLOWS)
        .unwrap_err()
        .contains("stopped early"));

    let rep = report_dir(
        d.path(),
        "nojunit",
        &results_json(&[("pull.blob.get", "passed", "")]),
    );
    std::fs::remove_file(rep.join("junit.xml")).unwrap();
    assert!(bundle::run(&product, &out, &rep, WORKFLOWS)
        .unwrap_err()
        .contains("junit.xml"));
    let rep = report_dir(
        d.path(),
        "nohtml",
        &results_json(&[("pull.blob.get", "passed", "")]),
    );
    std::fs::remove_file(rep.join("report.html")).unwrap();
    assert!(bundle::run(&product, &out, &rep, WORKFLOWS)
        .unwrap_err()
        .contains("report.html"));

    assert!(
        bundle::run(&product, &out, &d.path().join("no-such-report"), WORKFLOWS)
            .unwrap_err()
            .contains("no-such-report")
    );
    assert!(bundle::run(&d.path().join("missing.yaml"), &out, &rep, WORKFLOWS)
        .unwrap_err()
        .contains("missing.yaml"));
}

#[test]
fn bad_product_fields() {
    let replace = |field: &str, line: &str| -> String {
        PRODUCT
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{field}:")) {
                    line.to_string()
                } else {
                    l.to_string()
                }
            })
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            replace("repo_url", ""),
            vec!["P.yaml", "missing field", "repo_url"],
        ),
        (replace("vendor", ""), vec!["missing field", "vendor"]),
        (
            format!("{PRODUCT}homepage: https://x.example\n"),
            vec!["unknown field", "homepage"],
        ),
        (
            replace("website_url", "website_url: ftp://acme.example/"),
            vec!["website_url", "http"],
        ),
        (
            replace("documentation_url", "documentation_url: acme.example/docs"),
            vec!["documentation_url", "http"],
        ),
        (
            replace("product_logo_url", "product_logo_url: https://"),
            vec!["product_logo_url"],
        ),
        (replace("name", "name: ''"), vec!["name", "empty"]),
        (replace("version", "version:"), vec!["version", "empty"]),
        (replace("type", "type: ~"), vec!["type", "empty"]),
        (replace("name", "name: '!!!'"), vec!["name", "folder"]),
        (
            replace("vendor", "vendor: [a, b]"),
            vec!["P.yaml", "vendor"],
        ),
        (
            format!("{PRODUCT}name: Again\n"),
            vec!["P.yaml", "duplicate"],
        ),
        ("just a string".to_string(), vec!["P.yaml"]),
        (
            "name: \"Multi\\nLine\"\n".to_string() + &replace("name", ""),
            vec!["name", "one line"],
        ),
    ];
    for (text, wants) in &cases {
        let err = Product::parse(text, "P.yaml").expect_err(text);
        for w in wants {
            assert!(
                err.contains(w),
                "error for\n{text}\nshould contain {w:?}: {err}"
            );
        }
    }
    // numbers and dates stay as written
    let p = Product::parse(&replace("version", "version: 240626"), "P.yaml").unwrap();
    assert_eq!(p.version, "240626");
    assert_eq!(
        bundle::slug("Azure Container Registry"),
        "azure-container-registry"
    );
    assert_eq!(bundle::slug("  Bundle.Bar!! v2 "), "bundle-bar-v2");
    assert_eq!(bundle::slug("zot"), "zot");
}

#[test]
fn reproducible_command_strips_build_path_and_secrets() {
    assert_eq!(
        bundle::reproducible_command("./target/debug/oci-conformance --registry http://h:5000"),
        "oci-conformance --registry http://h:5000"
    );
    assert_eq!(
        bundle::reproducible_command("oci-conformance --api-token=abc --password-stdin --seed 1"),
        "oci-conformance --api-token=*** --password-stdin --seed 1"
    );
    assert_eq!(
        bundle::reproducible_command("cargo run -- --secret x"),
        "cargo run -- --secret ***"
    );
}

// ---------------------------------------------------------------- the binary

fn bin(args: &[&dyn AsRef<std::ffi::OsStr>]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oci-conformance"));
    for a in args {
        c.arg(a);
    }
    c.env_remove("OCI_ROOT_URL")
        .env_remove("OCI_REGISTRY")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn binary_expect_diff_bundle() {
    let d = tmp();
    let (old, regressed, better) = diff_fixtures(d.path());

    let o = bin(&[&"expect", &"--from", &regressed]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let e = Expectations::parse(&text(&o.stdout), "stdout").unwrap();
    assert_eq!(
        e.entries.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        vec!["pull.blob.get"]
    );
    let file = d.path().join("exp.toml");
    let o = bin(&[
        &"expect",
        &"--from",
        &old.join("results.json"),
        &"-o",
        &file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        Expectations::load(&file).unwrap().entries[0].id,
        "push.digest.mismatch"
    );
    let o = bin(&[&"expect", &"--from", &d.path().join("absent")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("absent"), "{}", text(&o.stderr));

    let o = bin(&[&"diff", &old, &regressed]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("REGRESSED"));
    let o = bin(&[&"diff", &"--json", &old, &better]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["regressions"], 0);
    let o = bin(&[&"diff", &old, &d.path().join("absent")]);
    assert_eq!(o.status.code(), Some(2));

    let product = d.path().join("PRODUCT.yaml");
    std::fs::write(&product, PRODUCT).unwrap();
    let out = d.path().join("bundle-out");
    let o = bin(&[&"bundle", &"--product", &product, &"--out", &out, &old]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("bundle written to"));
    assert!(out
        .join("distribution-spec/v1.1/acme-registry/README.md")
        .is_file());
    let bad = d.path().join("BAD.yaml");
    std::fs::write(&bad, PRODUCT.replace("https://acme.example/docs", "docs")).unwrap();
    let o = bin(&[&"bundle", &"--product", &bad, &"--out", &out, &old]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("documentation_url"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn binary_completions_and_man() {
    let o = bin(&[&"completions", &"bash"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("oci-conformance"));
    let o = bin(&[&"completions", &"nosuchshell"]);
    assert_eq!(o.status.code(), Some(2));
    let o = bin(&[&"man"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(".TH"), "{}", text(&o.stdout));
}

/// End to end: a real run against the embedded registry, bundled with the example product.
#[test]
fn bundle_from_an_embedded_registry_run() {
    let d = tmp();
    let rep = d.path().join("report");
    let args = oci_conformance::config::RunArgs { report_dir: Some(rep.clone()), seed: Some(11), quiet: true, ..Default::default() };
    let cfg = oci_conformance::config::Config::resolve(&args, &std::collections::BTreeMap::<String, String>::new(), String::new()).unwrap();
    let out = tokio::runtime::Runtime::new().unwrap().block_on(oci_conformance::app::run(cfg, false));
    assert_eq!(out.exit_code, 0);
    let product = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/PRODUCT.yaml");
    let dir = bundle::run(&product, &d.path().join("bundle"), &rep, WORKFLOWS).unwrap();
    assert!(dir.ends_with("distribution-spec/v1.1/example-registry"), "{}", dir.display());
    for f in ["PRODUCT.yaml", "README.md", "junit.xml", "report.html"] {
        let p = dir.join(f);
        assert!(p.is_file(), "{} missing", p.display());
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("--seed") || readme.contains("11"), "README says how to reproduce: {readme}");
    let p: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(dir.join("PRODUCT.yaml")).unwrap()).unwrap();
    assert_eq!(p["name"].as_str(), Some("Example Registry"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let mut r = quick_xml::Reader::from_str(&junit);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("junit.xml in the bundle is not XML: {e}"),
        }
    }
}
