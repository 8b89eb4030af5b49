//! Reporters from hand-built event streams: junit.xml, results.json, report.html, badges and
//! the console agree with each other, escape hostile text, and are written even when the run
//! is cut short.

mod report_fixture;

use oci_conformance::events::{CheckResult, Event, RunSummary};
use oci_conformance::model::{Bucket, Level, Outcome, SpecVersion};
use oci_conformance::report::console::{ConsoleSettings, Term};
use quick_xml::events::Event as X;
use report_fixture::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn quiet() -> ConsoleSettings {
    ConsoleSettings {
        quiet: true,
        ..Default::default()
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[derive(Debug, Default)]
struct Junit {
    /// <testsuites> attributes
    root: BTreeMap<String, String>,
    /// per testsuite: attributes
    suites: Vec<BTreeMap<String, String>>,
    /// (suite, id, classname, kind, message)
    cases: Vec<(String, String, String, String, String)>,
    properties: BTreeMap<String, String>,
    failure_texts: Vec<String>,
    system_outs: Vec<String>,
}

fn attrs(e: &quick_xml::events::BytesStart) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.unescape_value().expect("attribute value").into_owned(),
            )
        })
        .collect()
}

/// Parses junit.xml strictly (quick-xml checks end names) and collects what the tests compare.
fn parse_junit(xml: &str) -> Junit {
    for c in xml.chars() {
        assert!(
            c == '\t' || c == '\n' || c == '\r' || (c as u32) >= 0x20,
            "XML 1.0 forbids {:?}",
            c
        );
    }
    let mut r = quick_xml::Reader::from_str(xml);
    let mut j = Junit::default();
    let mut stack: Vec<String> = vec![];
    let mut suite = String::new();
    let mut cdata = String::new();
    loop {
        let ev = r.read_event().unwrap_or_else(|e| {
            panic!(
                "junit.xml does not parse at {}: {e}\n{xml}",
                r.buffer_position()
            )
        });
        let (start, is_start) = match &ev {
            X::Start(e) => (Some(e.clone()), true),
            X::Empty(e) => (Some(e.clone()), false),
            _ => (None, false),
        };
        if let Some(e) = start {
            {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                let a = attrs(&e);
                match name.as_str() {
                    "testsuites" => j.root = a.clone(),
                    "testsuite" => {
                        suite = a.get("name").cloned().unwrap_or_default();
                        j.suites.push(a.clone());
                    }
                    "property" => {
                        j.properties.insert(a["name"].clone(), a["value"].clone());
                    }
                    "testcase" => j.cases.push((
                        suite.clone(),
                        a["name"].clone(),
                        a.get("classname").cloned().unwrap_or_default(),
                        "passed".into(),
                        String::new(),
                    )),
                    "failure" | "skipped" | "error" => {
                        let c = j.cases.last_mut().expect("inside a testcase");
                        c.3 = name.clone();
                        c.4 = a.get("message").cloned().unwrap_or_default();
                    }
                    _ => {}
                }
                if is_start {
                    stack.push(name);
                    cdata.clear();
                }
            }
        }
        match ev {
            X::CData(t) => cdata.push_str(std::str::from_utf8(&t.into_inner()).unwrap()),
            X::End(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()));
                match name.as_str() {
                    "failure" => j.failure_texts.push(std::mem::take(&mut cdata)),
                    "system-out" => j.system_outs.push(std::mem::take(&mut cdata)),
                    _ => {}
                }
            }
            X::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    j
}

fn num(m: &BTreeMap<String, String>, k: &str) -> u64 {
    m.get(k)
        .unwrap_or_else(|| panic!("no {k} in {m:?}"))
        .parse()
        .unwrap()
}

/// junit.xml's counts equal results.json's, with the documented mapping.
fn assert_counts_agree(j: &Junit, res: &Value) {
    let s = &res["summary"];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("summary.{k}"));
    let skipped = n("skipped") + n("unsupported") + n("not_run") + n("expected_failure");
    assert_eq!(num(&j.root, "tests"), n("total"));
    assert_eq!(num(&j.root, "failures"), n("failed"));
    assert_eq!(num(&j.root, "skipped"), skipped);
    assert_eq!(num(&j.root, "errors"), 0);
    let sum = |k: &str| j.suites.iter().map(|a| num(a, k)).sum::<u64>();
    assert_eq!(sum("tests"), n("total"));
    assert_eq!(sum("failures"), n("failed"));
    assert_eq!(sum("skipped"), skipped);
    let kind = |k: &str| j.cases.iter().filter(|c| c.3 == k).count() as u64;
    assert_eq!(j.cases.len() as u64, n("total"));
    assert_eq!(kind("failure"), n("failed"));
    assert_eq!(kind("skipped"), skipped);
    assert_eq!(kind("passed"), n("passed") + n("warned"));
    assert_eq!(res["tests"].as_array().unwrap().len() as u64, n("total"));
    // per suite too
    for a in &j.suites {
        let b = &a["name"];
        let cases: Vec<_> = j.cases.iter().filter(|c| &c.0 == b).collect();
        assert_eq!(num(a, "tests"), cases.len() as u64, "suite {b}");
        assert_eq!(
            num(a, "skipped"),
            cases.iter().filter(|c| c.3 == "skipped").count() as u64,
            "suite {b}"
        );
        if let Some(bc) = res["summary"]["buckets"].get(b) {
            assert_eq!(num(a, "tests"), bc["total"].as_u64().unwrap());
            assert_eq!(num(a, "failures"), bc["failed"].as_u64().unwrap());
        }
    }
}

#[test]
fn full_run_reports_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (res, _) = run(full_run(), dir.path(), quiet(), Term::default());
    let w = res.expect("reports written");
    if let Some(keep) = std::env::var_os("OCI_REPORTS_TEST_KEEP") {
        // for looking at the output by hand
        let (_, out) = run(
            full_run(),
            Path::new(&keep),
            ConsoleSettings {
                verbose: true,
                ..Default::default()
            },
            Term {
                live: false,
                color: true,
            },
        );
        std::fs::write(Path::new(&keep).join("console.txt"), out).unwrap();
    }
    for f in [
        "results.json",
        "junit.xml",
        "report.html",
        "badge.json",
        "badge.svg",
        "badge-pull.json",
        "badge-push.svg",
    ] {
        assert!(
            w.files.contains(&dir.path().join(f)),
            "{f} in {:?}",
            w.files
        );
    }
    // no temporary files left behind
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let n = e.unwrap().file_name().into_string().unwrap();
        assert!(!n.contains(".tmp."), "{n}");
    }
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    let s = &results["summary"];
    assert_eq!(s["total"], 10);
    assert_eq!(s["failed"], 2, "the setup failure counts as a failure");
    assert_eq!(
        (
            s["passed"].as_u64(),
            s["warned"].as_u64(),
            s["unsupported"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
    assert_eq!(
        (
            s["skipped"].as_u64(),
            s["expected_failure"].as_u64(),
            s["not_run"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        s["exit_code"], 1,
        "failures make the verdict 1 even though the runner left 0"
    );
    assert_eq!(s["status"], "failed");
    assert_eq!(w.counts.failed, 2);

    let j = parse_junit(&read(dir.path(), "junit.xml"));
    assert_counts_agree(&j, &results);
    let names: Vec<_> = j.suites.iter().map(|a| a["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "pull",
            "push",
            "content-discovery",
            "content-management",
            "referrers"
        ]
    );
    // classname = bucket, name = id, message = first line, text = full message + trace
    let failed = j
        .cases
        .iter()
        .find(|c| c.1 == "pull.manifest.get-by-tag")
        .unwrap();
    assert_eq!((failed.2.as_str(), failed.3.as_str()), ("pull", "failure"));
    assert!(
        failed
            .4
            .starts_with("MUST <script>alert('x')</script> & \"quoted\" ]]> \\x1B[31mred\\x00 end"),
        "{}",
        failed.4
    );
    assert!(!failed.4.contains("second line"));
    let text = j
        .failure_texts
        .iter()
        .find(|t| t.contains("second line <b>bold</b>"))
        .expect("full message in failure text");
    assert!(text.contains("]]>"), "CDATA split keeps ]]> intact: {text}");
    assert!(
        text.contains("GET http://127.0.0.1:5000/v2/repo/manifests/<latest> → 200 (7 ms)"),
        "{text}"
    );
    assert!(text.contains("→ no response"));
    let setup = j
        .cases
        .iter()
        .find(|c| c.1 == "push.manifest.setup")
        .unwrap();
    assert_eq!((setup.2.as_str(), setup.3.as_str()), ("push", "failure"));
    let msg = |id: &str| j.cases.iter().find(|c| c.1 == id).unwrap().4.clone();
    assert_eq!(
        msg("push.monolithic.single-post"),
        "unsupported: single POST not supported (202)"
    );
    assert_eq!(
        msg("push.chunked.patch-202"),
        "expected failure (PATCH answers 204 (vendor bug #12)): MUST answer 202"
    );
    assert_eq!(
        msg("content-discovery.tags.list"),
        "not run: run cancelled before this check ran"
    );
    assert!(msg("push.manifest.put-by-tag").starts_with("skipped: "));
    assert!(
        j.system_outs
            .iter()
            .any(|o| o.contains("WARNING") && o.contains("SHOULD answer 206")),
        "{:?}",
        j.system_outs
    );
    assert_eq!(j.properties["seed"], "42");
    assert_eq!(j.properties["spec.version"], "1.1");
    assert_eq!(j.properties["registry"], "http://127.0.0.1:5000/");
    assert_eq!(j.properties["tool.version"], "0.1.0");
    assert_eq!(j.properties["config.password"], "[REDACTED]");
    assert!(
        j.suites
            .iter()
            .all(|a| a["timestamp"].starts_with("2025-01-02T03:04:05")),
        "{:?}",
        j.suites
    );

    let html = read(dir.path(), "report.html");
    check_html(&html);
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "hostile header escaped"
    );
    assert!(html.contains("class=\"pill pill-failed\">FAILED<"));
    assert!(html.contains("<span class=\"n\">10</span><span class=\"l\">checks</span>"));
    assert!(html.contains("<span class=\"n\">2</span><span class=\"l\">failed</span>"));
    assert!(html.contains("TLS certificate verification is OFF"));
    assert!(html.contains("deleted 3 manifests &lt;ok&gt;"));
    assert_eq!(
        html.matches("deleted 3 manifests").count(),
        1,
        "cleanup shown once"
    );
    assert!(html.contains("oci-conformance --registry http://127.0.0.1:5000 --seed 42"));
    assert_eq!(html.matches("<tr class=\"check ").count(), 10);
    assert!(
        html.contains("<details class=\"trace\" open>"),
        "a failed check's trace starts open"
    );

    let badge: Value = serde_json::from_str(&read(dir.path(), "badge.json")).unwrap();
    assert_eq!(badge["schemaVersion"], 1);
    assert_eq!(badge["label"], "OCI conformance");
    assert_eq!(badge["message"], "4/8 passed");
    assert_eq!(badge["color"], "red");
    let b: Value = serde_json::from_str(&read(dir.path(), "badge-referrers.json")).unwrap();
    assert_eq!(
        (
            b["label"].as_str(),
            b["message"].as_str(),
            b["color"].as_str()
        ),
        (
            Some("OCI referrers"),
            Some("conformant"),
            Some("brightgreen")
        )
    );
    for f in [
        "badge.svg",
        "badge-pull.svg",
        "badge-referrers.svg",
        "badge-content-management.svg",
    ] {
        check_svg(&read(dir.path(), f));
    }
}

/// No external assets (only <a href> links), no raw hostile markup, well-formed enough.
fn check_html(html: &str) {
    assert!(html.starts_with("<!doctype html>"));
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "src='http",
        "url(http",
        "url(\"http",
        "url('http",
        "@import",
        "<link rel=\"stylesheet\"",
        "<iframe",
        "srcset=",
    ] {
        assert!(!lower.contains(bad), "external asset reference {bad:?}");
    }
    // every href to http(s) is on an <a> element
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("href=\"http") {
        let tag_start = rest[..i].rfind('<').unwrap();
        assert!(
            rest[tag_start..].starts_with("<a "),
            "non-link href: {}",
            &rest[tag_start..i + 40]
        );
        rest = &rest[i + 5..];
    }
    assert!(
        !html.contains("<script>alert"),
        "hostile script not escaped"
    );
    assert!(!html.contains('\u{1b}') && !html.contains('\u{0}'));
    assert_eq!(html.matches("<script>").count(), 1, "only our own script");
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("<meta name=\"viewport\""));
}

fn check_svg(svg: &str) {
    let mut r = quick_xml::Reader::from_str(svg);
    let mut depth = 0i32;
    let mut root = None;
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("badge does not parse: {e}\n{svg}"))
        {
            X::Start(e) => {
                if root.is_none() {
                    root = Some(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                }
                depth += 1;
            }
            X::End(_) => depth -= 1,
            X::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    assert_eq!(root.as_deref(), Some("svg"));
    assert!(
        !svg.contains("href=\"http") && !svg.contains("xlink:href"),
        "self-contained"
    );
}

#[test]
fn interrupted_run_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    // Only two checks finished, then the runner reports the interruption.
    let mut ev = full_run();
    ev.truncate(4);
    ev.push(finished(Some("interrupted by SIGINT"), 130, vec![]));
    let (res, _) = run(ev, dir.path(), quiet(), Term::default());
    let w = res.unwrap();
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    let s = &results["summary"];
    assert_eq!(s["interrupted"], "interrupted by SIGINT");
    assert_eq!(s["exit_code"], 130);
    assert_eq!(s["status"], "interrupted");
    assert_eq!(s["total"], 9, "every planned check is listed");
    assert_eq!(s["not_run"], 7);
    assert_eq!(w.counts.not_run, 7);
    let missing = results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "referrers.api.list")
        .unwrap();
    assert_eq!(missing["outcome"], "not-run");
    assert!(missing["message"]
        .as_str()
        .unwrap()
        .contains("interrupted by SIGINT"));
    let j = parse_junit(&read(dir.path(), "junit.xml"));
    assert_counts_agree(&j, &results);
    assert_eq!(j.properties["interrupted"], "interrupted by SIGINT");
    let html = read(dir.path(), "report.html");
    check_html(&html);
    assert!(html.contains("The run was cut short."));
    assert!(html.contains("pill-interrupted"));
    let badge: Value = serde_json::from_str(&read(dir.path(), "badge.json")).unwrap();
    assert_eq!(
        badge["color"], "red",
        "a failure seen before the interruption still shows"
    );
}

#[test]
fn stream_closing_without_summary_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut ev = full_run();
    ev.truncate(3); // RunStarted, CheckStarted, one passed check; then the channel closes
    let (res, _) = run(ev, dir.path(), quiet(), Term::default());
    res.unwrap();
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    let s = &results["summary"];
    assert!(
        s["interrupted"]
            .as_str()
            .unwrap()
            .contains("without a summary"),
        "{s}"
    );
    assert_eq!(s["exit_code"], 4);
    assert_eq!(s["passed"], 1);
    assert_eq!(s["not_run"], 8);
    let j = parse_junit(&read(dir.path(), "junit.xml"));
    assert_counts_agree(&j, &results);
    check_html(&read(dir.path(), "report.html"));
    let badge: Value = serde_json::from_str(&read(dir.path(), "badge.json")).unwrap();
    assert_eq!(
        (badge["message"].as_str(), badge["color"].as_str()),
        (Some("1/9 passed, incomplete"), Some("lightgrey"))
    );
}

#[test]
fn no_run_started_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (res, _) = run(vec![], dir.path(), quiet(), Term::default());
    assert!(res.is_err());
}

#[test]
fn fatal_run_with_no_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut i = (*info()).clone();
    i.plan.clear();
    let ev = vec![
        Event::RunStarted(Arc::new(i)),
        Event::RunFinished(Arc::new(RunSummary {
            counts: Default::default(),
            duration_ms: 3,
            http_requests: 1,
            interrupted: None,
            fatal: Some("registry unreachable: connection refused <127.0.0.1:1>".into()),
            exit_code: 3,
            cleanup: vec![],
        })),
    ];
    let (res, _) = run(ev, dir.path(), quiet(), Term::default());
    res.unwrap();
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    assert_eq!(results["summary"]["status"], "error");
    let j = parse_junit(&read(dir.path(), "junit.xml"));
    assert_counts_agree(&j, &results);
    assert_eq!(j.suites.len(), 1, "one suite keeps the properties");
    assert!(j.properties["fatal"].contains("connection refused"));
    let html = read(dir.path(), "report.html");
    check_html(&html);
    assert!(
        html.contains("The run could not start.")
            && html.contains("connection refused &lt;127.0.0.1:1&gt;")
    );
    let badge: Value = serde_json::from_str(&read(dir.path(), "badge.json")).unwrap();
    assert_eq!(badge["message"], "not run");
}

#[test]
fn passing_run_is_conformant() {
    let dir = tempfile::tempdir().unwrap();
    let mut ev = vec![Event::RunStarted(info())];
    for m in PLAN.iter() {
        let o = if m.level == Level::May {
            Outcome::Unsupported
        } else {
            Outcome::Passed
        };
        ev.push(result(m.id, m.bucket, o, m.level, "", vec![]));
    }
    ev.push(finished(None, 0, vec![]));
    let (res, _) = run(ev, dir.path(), quiet(), Term::default());
    assert_eq!(res.unwrap().counts.failed, 0);
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    assert_eq!(results["summary"]["exit_code"], 0);
    let badge: Value = serde_json::from_str(&read(dir.path(), "badge.json")).unwrap();
    assert_eq!(
        (badge["message"].as_str(), badge["color"].as_str()),
        (Some("conformant"), Some("brightgreen"))
    );
    assert!(read(dir.path(), "report.html").contains("pill-passed\">PASSED<"));
    assert_counts_agree(&parse_junit(&read(dir.path(), "junit.xml")), &results);
}

#[test]
fn console_json_lines_only() {
    let dir = tempfile::tempdir().unwrap();
    let (res, out) = run(
        full_run(),
        dir.path(),
        ConsoleSettings {
            json: true,
            ..Default::default()
        },
        Term {
            live: false,
            color: true,
        },
    );
    res.unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run-started"));
    assert_eq!(kinds.last(), Some(&"run-finished"));
    assert_eq!(kinds.iter().filter(|k| **k == "check-finished").count(), 10);
    assert_eq!(kinds.iter().filter(|k| **k == "note").count(), 1);
    let start = &lines[0];
    assert_eq!(start["seed"], 42);
    assert_eq!(start["config"]["password"], "[REDACTED]");
    let f = lines
        .iter()
        .find(|v| v["id"] == "pull.manifest.get-by-tag" && v["event"] == "check-finished")
        .unwrap();
    for k in ["bucket", "outcome", "level", "message", "duration_ms"] {
        assert!(f.get(k).is_some(), "{k}");
    }
    assert_eq!(f["outcome"], "failed");
    assert!(f.get("trace").is_none(), "traces only with --verbose");
    let end = lines.last().unwrap();
    assert_eq!(end["counts"]["failed"], 2);
    assert_eq!(end["exit_code"], 1);
    assert!(end["reports"].as_array().unwrap().len() >= 5);
    assert!(!out.contains('\u{1b}'), "no colours in JSON mode");
}

#[test]
fn console_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (res, out) = run(
        full_run(),
        dir.path(),
        ConsoleSettings {
            verbose: true,
            ..Default::default()
        },
        Term {
            live: false,
            color: false,
        },
    );
    res.unwrap();
    assert!(
        !out.contains('\u{1b}'),
        "no colour without a terminal (and hostile escapes neutralised):\n{out}"
    );
    let check_lines: Vec<&str> = out
        .lines()
        .filter(|l| {
            Outcome::ALL
                .iter()
                .any(|o| l.starts_with(&format!("{:<16} ", o.as_str())))
        })
        .collect();
    assert_eq!(check_lines.len(), 10, "one line per check:\n{out}");
    let f = check_lines
        .iter()
        .find(|l| l.contains("pull.manifest.get-by-tag"))
        .unwrap();
    assert!(
        f.starts_with("failed ") && f.contains("\\x1B[31mred"),
        "{f}"
    );
    assert!(!f.contains("second line"));
    // verbose: the failed check's trace follows
    assert!(
        out.contains("    GET http://127.0.0.1:5000/v2/repo/manifests/<latest> → 200 (7 ms)"),
        "{out}"
    );
    assert!(out.contains("      < X-Evil: <img src=x onerror=alert(1)>"));
    assert!(out.contains("note: cleanup: deleted 3 manifests <ok>"));
    // summary: per bucket, overall, failed checks with messages, report paths, verdict
    assert!(out.contains("  pull "), "{out}");
    assert!(out.contains("overall") && out.contains("10 checks"));
    assert!(out.contains("Failed checks (2):"));
    assert!(out.contains("      second line <b>bold</b>"));
    assert!(out.contains(&format!(
        "report: {}",
        dir.path().join("junit.xml").display()
    )));
    assert!(out.contains("badges: "));
    assert!(out.contains("result: FAILED (exit status 1)"));
    assert!(out.contains("warning: TLS certificate verification is OFF"));
}

#[test]
fn console_quiet_and_colour() {
    let dir = tempfile::tempdir().unwrap();
    let (res, out) = run(
        full_run(),
        dir.path(),
        quiet(),
        Term {
            live: false,
            color: true,
        },
    );
    res.unwrap();
    assert!(
        !out.lines().any(|l| l.starts_with("passed ")),
        "quiet prints no per-check lines:\n{out}"
    );
    assert!(!out.contains("note:"));
    assert!(out.contains("overall"));
    assert!(
        out.contains("\u{1b}[31;1mFAILED\u{1b}[0m"),
        "colours on a terminal"
    );
    // the hostile message's own escape sequence never reaches the terminal raw
    assert!(!out.contains("\u{1b}[31mred"));
}

#[test]
fn stale_expectation_fails_under_strict_only() {
    for (strict, code) in [(false, 0), (true, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let mut i = (*info()).clone();
        i.plan.truncate(1);
        i.config.insert("strict".into(), strict.to_string());
        let ev = vec![
            Event::RunStarted(Arc::new(i)),
            Event::CheckFinished(Arc::new(CheckResult {
                id: PLAN[0].id.into(),
                bucket: Bucket::Pull,
                name: PLAN[0].name.into(),
                outcome: Outcome::Passed,
                level: Level::Must,
                spec: PLAN[0].spec.into(),
                spec_url: PLAN[0].spec_url(SpecVersion::V1_1),
                requirements: vec![],
                duration_ms: 1,
                message: "stale expectation: listed as a known failure (x) but passed".into(),
                expectation: Some("x".into()),
                trace: vec![],
                load: None,
            })),
            finished(None, 0, vec![]),
        ];
        let (res, _) = run(ev, dir.path(), quiet(), Term::default());
        res.unwrap();
        let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
        assert_eq!(results["summary"]["exit_code"], code, "strict={strict}");
        assert_eq!(results["tests"][0]["expectation"], "x");
    }
}

/// results.json's coverage section and the HTML matrix: every requirement of the version under
/// test with its checks' outcomes folded (worst first), from the catalog and the results.
#[test]
fn coverage_in_results_and_html() {
    use oci_conformance::suites::catalog;
    let dir = tempfile::tempdir().unwrap();
    let (res, _) = run(full_run(), dir.path(), quiet(), Term::default());
    res.unwrap();
    let results: Value = serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    let cov = &results["coverage"];
    assert_eq!(cov["spec_version"], "1.1");
    let known: std::collections::HashSet<&str> = oci_conformance::suites::checks()
        .iter()
        .map(|m| m.id)
        .collect();
    let want = catalog::version_counts(SpecVersion::V1_1, Some(&known));
    let k = &cov["counts"];
    assert_eq!(k["total"].as_u64(), Some(want.total as u64));
    assert_eq!(k["testable"].as_u64(), Some(want.testable as u64));
    assert_eq!(k["covered"].as_u64(), Some(want.covered as u64));
    assert_eq!(
        k["percent"].as_f64(),
        Some((want.percent() * 10.0).round() / 10.0)
    );
    let by_outcome: u64 = k["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        by_outcome, want.testable as u64,
        "each testable requirement has one outcome"
    );

    let reqs = cov["requirements"].as_array().unwrap();
    assert_eq!(reqs.len(), want.total);
    let req = |id: &str| {
        reqs.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in coverage"))
    };
    // one check each way
    for (id, outcome) in [
        ("api.v2.get-200", "passed"),
        ("pull.manifest.get-200", "failed"), // get-by-tag failed; the others did not run
        ("pull.blob.range", "warned"),
        ("push.single-post.optional", "unsupported"),
        ("push.chunked.patch-accepted", "expected-failure"),
        ("push.manifest.created-201", "skipped"),
        ("referrers.api.found-200", "passed"),
        ("push.post-put.session-id", "not-run"), // its check is not in this run
    ] {
        assert_eq!(req(id)["outcome"], outcome, "{id}");
    }
    let r = req("api.v2.get-200");
    assert_eq!(r["level"], "MUST");
    assert_eq!(r["section"], "determining-support");
    assert_eq!(
        r["spec_url"],
        "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#determining-support"
    );
    assert!(r["quote"].as_str().unwrap().contains("200 OK"));
    assert_eq!(
        r["checks"],
        serde_json::json!([{"id": "pull.api.v2-base", "outcome": "passed"}])
    );
    let absent = &req("pull.manifest.get-200")["checks"];
    assert!(absent
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "pull.manifest.get-by-digest" && c["outcome"].is_null()));
    // the level and wording of the version under test
    assert_eq!(req("pull.head.content-length")["level"], "SHOULD");
    // untestable: reason, no outcome
    let u = req("general.pull-category.required");
    assert_eq!(u["testable"], false);
    assert!(u["outcome"].is_null());
    assert!(!u["reason"].as_str().unwrap().is_empty());
    // main-only requirements are not part of a 1.1 run
    assert!(!reqs.iter().any(|r| r["id"] == "push.manifest.tag-param-10"));

    let html = read(dir.path(), "report.html");
    check_html(&html);
    assert!(html.contains("<details class=\"coverage\" id=\"coverage\">"));
    assert!(html.contains("Coverage matrix"));
    assert_eq!(html.matches("<tr class=\"req ").count(), want.total);
    assert!(html.contains(&format!(
        "{} of {} testable requirements of spec 1.1 covered",
        want.covered, want.testable
    )));
    let row = html
        .split("<tr class=\"req ")
        .find(|r| r.contains("id=\"req-api.v2.get-200\""))
        .expect("row of api.v2.get-200");
    assert!(row.starts_with("o-passed\""), "{row}");
    assert!(row.contains("<a href=\"#check-pull.api.v2-base\""));
    assert!(row.contains(
        "href=\"https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#determining-support\""
    ));
    assert!(row.contains("<blockquote>If the response is `200 OK`"));
    assert!(row.contains("<span class=\"lvl lvl-MUST\">MUST</span>"));
    let failed = html
        .split("<tr class=\"req ")
        .find(|r| r.contains("id=\"req-pull.manifest.get-200\""))
        .unwrap();
    assert!(failed.starts_with("o-failed\""));
    assert!(
        failed.contains("<li class=\"absent\" title=\"not part of this run\">"),
        "checks outside the run are shown, not linked"
    );
    let untestable = html
        .split("<tr class=\"req ")
        .find(|r| r.contains("id=\"req-general.pull-category.required\""))
        .unwrap();
    assert!(untestable.starts_with("untestable\"") && untestable.contains("class=\"why\""));
    // quotes with markup characters are escaped (the catalog has `<name>` in many)
    assert!(html.contains("&lt;name&gt;"));
}
