//! junit.xml, written with the junit-report crate: one <testsuite> per bucket, one <testcase>
//! per check (name = check id, classname = bucket, time = duration in seconds).
//!
//! Outcome mapping. The counts agree with results.json's summary:
//!   tests    = total
//!   failures = failed                 (<failure>; setup failures `<scenario>.setup` included)
//!   errors   = 0                      (a check never "errors": a transport failure is a failure)
//!   skipped  = skipped + unsupported + not_run + expected_failure   (<skipped message="…"/>)
//!   passed and warned are plain testcases; a warned one carries the SHOULD warning in <system-out>
//!   so CI consumers do not fail on it.
//!
//! junit-report 0.8 has no <properties>, no `skipped` attribute and no message on <skipped>;
//! those are added by `decorate`, a small pass over the crate's output that never touches
//! CDATA (the only place registry text can contain a raw `<`).

use super::{first_line, trace_summary, RunRecord};
use crate::events::CheckResult;
use crate::model::{Bucket, Outcome};
use junit_report::{Duration, OffsetDateTime, Report, TestCase, TestSuite};

pub fn render(r: &RunRecord) -> String {
    let mut report = Report::new();
    let started =
        parse_rfc3339(&r.info.started_at).and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
    // What decorate adds, in document order.
    let mut suite_skips = vec![];
    let mut skip_messages = vec![];
    let mut buckets = r.buckets();
    if buckets.is_empty() {
        // Keep one suite so the run's properties are still recorded.
        buckets.push((Bucket::Pull, Default::default()));
    }
    let empty = r.results.is_empty();
    for (b, c) in &buckets {
        let mut suite = TestSuite::new(if empty { "oci-conformance" } else { b.as_str() });
        if let Some(t) = started {
            suite.set_timestamp(t);
        }
        for t in r.in_bucket(*b) {
            let (case, skip) = testcase(t);
            suite.add_testcase(case);
            skip_messages.extend(skip);
        }
        suite_skips.push(c.skipped + c.unsupported + c.not_run + c.expected_failure);
        report.add_testsuite(suite);
    }
    let mut out = Vec::new();
    if let Err(e) = report.write_xml(&mut out) {
        // Only an I/O error on a Vec could get here; say so in a still-valid document.
        return format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- junit-report failed: {} -->\n<testsuites/>\n", clean(&e.to_string()).replace("--", "- -"));
    }
    let xml = String::from_utf8_lossy(&out).into_owned();
    decorate(&xml, r, &suite_skips, &skip_messages)
}

/// One testcase, and the message of its <skipped> element if it is one.
fn testcase(t: &CheckResult) -> (TestCase, Option<String>) {
    let time = Duration::milliseconds(t.duration_ms.min(i64::MAX as u64) as i64);
    let msg = clean(&t.message);
    let (mut case, skip) = match t.outcome {
        Outcome::Passed => (TestCase::success(&clean(&t.id), time), None),
        Outcome::Warned => {
            let mut c = TestCase::success(&clean(&t.id), time);
            c.set_system_out(&cdata(&format!("WARNING: a {} requirement was not met (does not fail the run unless --strict)\n{msg}", t.level.as_str())));
            (c, None)
        }
        Outcome::Failed => {
            let kind = if t.id.ends_with(".setup") {
                "setup failure".to_string()
            } else {
                format!("{} violation", t.level.as_str())
            };
            let mut c = TestCase::failure(&clean(&t.id), time, &kind, first_line(&msg));
            let mut text = msg.clone();
            if !t.spec_url.is_empty() {
                text.push_str(&format!("\nspec: {}", clean(&t.spec_url)));
            }
            if !t.trace.is_empty() {
                text.push_str("\n\nHTTP trace (headers and bodies in report.html):\n");
                text.push_str(&clean(&trace_summary(&t.trace, 20).join("\n")));
            }
            c.set_system_out(&cdata(&text));
            (c, None)
        }
        o => {
            let why = match o {
                Outcome::Unsupported => "unsupported",
                Outcome::NotRun => "not run",
                Outcome::ExpectedFailure => "expected failure",
                _ => "skipped",
            };
            // the runner already starts an expected failure's message with "expected failure"
            let m = if msg.is_empty() {
                why.to_string()
            } else if msg.to_ascii_lowercase().starts_with(why) {
                msg.clone()
            } else {
                format!("{why}: {msg}")
            };
            (TestCase::skipped(&clean(&t.id)), Some(m))
        }
    };
    case.set_classname(t.bucket.as_str());
    (case, skip)
}

/// Adds what junit-report cannot write: aggregate attributes on <testsuites>, a `skipped`
/// attribute and <properties> on each <testsuite>, and a message on each <skipped/>.
fn decorate(xml: &str, r: &RunRecord, suite_skips: &[usize], skip_messages: &[String]) -> String {
    let c = r.counts();
    let total_ms: u64 = r.results.iter().map(|t| t.duration_ms).sum();
    let props = properties(r);
    let mut out = String::with_capacity(xml.len() + 4096);
    let (mut suite_i, mut skip_i) = (0usize, 0usize);
    let mut rest = xml;
    loop {
        let (plain, tail) = match rest.find("<![CDATA[") {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        // Outside CDATA every '<' opens a tag: text and attributes are escaped by quick-xml.
        let mut p = plain;
        while let Some(lt) = p.find('<') {
            out.push_str(&p[..lt]);
            let gt = match p[lt..].find('>') {
                Some(g) => lt + g,
                None => break,
            };
            let tag = &p[lt..=gt];
            let self_closing = tag.ends_with("/>");
            // one element per line for people reading the file (whitespace between elements
            // means nothing to JUnit consumers)
            if tag.starts_with("<testsuite ") || tag == "</testsuite>" || tag == "</testsuites>" {
                out.push('\n');
            } else if tag.starts_with("<testcase ") {
                out.push_str("\n  ");
            }
            let head = tag.trim_end_matches('>').trim_end_matches('/');
            if tag.starts_with("<?xml") {
                out.push_str(tag);
                out.push('\n');
            } else if tag.starts_with("<testsuites") {
                out.push_str(&format!(
                    "<testsuites name=\"oci-conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\"{}",
                    c.total,
                    c.failed,
                    c.skipped + c.unsupported + c.not_run + c.expected_failure,
                    total_ms as f64 / 1000.0,
                    if self_closing { "/>" } else { ">" }
                ));
            } else if tag.starts_with("<testsuite ") {
                let n = suite_skips.get(suite_i).copied().unwrap_or(0);
                suite_i += 1;
                out.push_str(&format!("{head} skipped=\"{n}\">{props}"));
                if self_closing {
                    out.push_str("</testsuite>");
                }
            } else if tag == "<skipped/>" {
                let m = skip_messages
                    .get(skip_i)
                    .map(String::as_str)
                    .unwrap_or("skipped");
                skip_i += 1;
                out.push_str(&format!("<skipped message=\"{}\"/>", attr(m)));
            } else {
                out.push_str(tag);
            }
            p = &p[gt + 1..];
        }
        out.push_str(p);
        match tail {
            None => break,
            Some(t) => {
                let end = t.find("]]>").map(|e| e + 3).unwrap_or(t.len());
                out.push_str(&t[..end]);
                rest = &t[end..];
            }
        }
    }
    out.push('\n');
    out
}

/// Run metadata as <properties>: seed, spec version, registry, versions, and the resolved
/// (already redacted) configuration as `config.<key>`.
fn properties(r: &RunRecord) -> String {
    let i = &r.info;
    let mut p: Vec<(String, String)> = vec![
        ("tool".into(), i.tool.clone()),
        ("tool.version".into(), i.version.clone()),
        ("spec.version".into(), i.spec_version.as_str().into()),
        ("seed".into(), i.seed.to_string()),
        ("registry".into(), i.registry.clone()),
        ("embedded".into(), i.embedded.to_string()),
        ("started_at".into(), i.started_at.clone()),
        ("command".into(), i.command.clone()),
        ("exit_code".into(), r.exit_code().to_string()),
    ];
    if let Some(x) = &r.summary.interrupted {
        p.push(("interrupted".into(), x.clone()));
    }
    if let Some(x) = &r.summary.fatal {
        p.push(("fatal".into(), x.clone()));
    }
    for (n, w) in i.warnings.iter().enumerate() {
        p.push((format!("warning.{}", n + 1), w.clone()));
    }
    for (k, v) in &i.config {
        p.push((format!("config.{k}"), v.clone()));
    }
    let mut s = String::from("<properties>");
    for (k, v) in p {
        s.push_str(&format!(
            "<property name=\"{}\" value=\"{}\"/>",
            attr(&k),
            attr(&v)
        ));
    }
    s.push_str("</properties>");
    s
}

/// Text safe for XML 1.0 (which cannot carry most C0 controls at all).
fn clean(s: &str) -> String {
    super::show_controls(s).into_owned()
}

/// Content for a CDATA section junit-report writes: `]]>` is split across two sections.
fn cdata(s: &str) -> String {
    clean(s).replace("]]>", "]]]]><![CDATA[>")
}

/// Attribute value escaping (for what decorate writes itself).
fn attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in clean(s).chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

/// "YYYY-MM-DDTHH:MM:SSZ" (what app.rs writes) to Unix seconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // the inverse of app::now_rfc3339
    let days = crate::civil::days_from_civil(y, m, d)?;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:34:56Z"), Some(1709210096));
        assert_eq!(parse_rfc3339("garbage"), None);
    }
    #[test]
    fn cdata_and_controls() {
        assert_eq!(cdata("a]]>b\u{1b}"), "a]]]]><![CDATA[>b\\x1B");
        assert_eq!(attr("<\"&'\n"), "&lt;&quot;&amp;&apos;&#10;");
    }
}
