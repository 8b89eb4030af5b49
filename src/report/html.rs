//! report.html: one self-contained page (template, CSS and JS from `reports/`, embedded in the
//! binary). Works offline, without JavaScript (filters need it), and on a phone. Everything
//! that comes from the run is escaped; a Content-Security-Policy lets only our own script run,
//! by hash, so even a mistake in escaping could not execute registry-supplied script.

use super::{count_of, counts_phrase, fmt_duration, show_controls, RunRecord, RunStatus};
use crate::events::{CheckResult, Counts};
use crate::model::Outcome;
use crate::model::{RequirementOutcome, RunCoverage};
use crate::trace::Exchange;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt::Write;

const TEMPLATE: &str = include_str!("../../reports/report.html");
const CSS: &str = include_str!("../../reports/report.css");
const JS: &str = include_str!("../../reports/report.js");

/// HTML-escapes text (element content and quoted attribute values alike).
pub fn esc(s: &str) -> String {
    let s = show_controls(s);
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Fills `{{key}}` placeholders in one pass, so inserted text is never scanned again.
fn fill(template: &str, vals: &[(&str, String)]) -> String {
    let mut out =
        String::with_capacity(template.len() + vals.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let key = &after[..j];
                match vals.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 2 + j + 2]),
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::ExpectedFailure => "expected failure",
        Outcome::NotRun => "not run",
        o => o.as_str(),
    }
}

pub fn render(r: &RunRecord) -> String {
    let c = r.counts();
    let status = r.status();
    let status_label = match status {
        RunStatus::Passed if c.warned > 0 => "PASSED · WARNINGS".to_string(),
        RunStatus::Passed => "PASSED".into(),
        RunStatus::Failed => "FAILED".into(),
        RunStatus::Interrupted => "INTERRUPTED".into(),
        RunStatus::Fatal => "NOT RUN".into(),
    };
    let script_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(JS.as_bytes()));
    let csp = format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; img-src data:; base-uri 'none'; form-action 'none'");
    let i = &r.info;

    let meta = [
        ("Spec version", spec_label(i.spec_version).to_string()),
        ("Seed", i.seed.to_string()),
        (
            "Started",
            i.started_at.replace('T', " ").replace('Z', " UTC"),
        ),
        ("Duration", fmt_duration(r.summary.duration_ms)),
        ("HTTP requests", r.summary.http_requests.to_string()),
        (
            "Target",
            if i.embedded {
                "embedded reference registry".into()
            } else {
                "external registry".into()
            },
        ),
        ("Exit status", r.exit_code().to_string()),
    ]
    .iter()
    .map(|(k, v)| format!("<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(v)))
    .collect::<String>();

    let vals: Vec<(&str, String)> = vec![
        ("csp", esc(&csp)),
        ("generator", esc(&format!("{} {}", i.tool, i.version))),
        (
            "title",
            esc(&format!(
                "OCI conformance · {} · {status_label}",
                i.registry
            )),
        ),
        ("css", CSS.to_string()),
        ("js", JS.to_string()),
        ("status", status.as_str().to_string()),
        ("status_label", esc(&status_label)),
        ("registry", esc(&i.registry)),
        ("verdict", esc(&verdict_line(r))),
        ("meta", meta),
        ("command", esc(&i.command)),
        ("banners", banners(r)),
        ("cards", cards(&c)),
        ("stack", stack(&c)),
        ("bucket_heads", bucket_heads()),
        ("bucket_rows", bucket_rows(r)),
        ("problems", problems(r)),
        ("coverage_line", r.coverage.as_ref().map(coverage_line).unwrap_or_default()),
        ("outcome_chips", outcome_chips()),
        ("bucket_chips", bucket_chips(r)),
        ("sections", sections(r)),
        ("coverage", r.coverage.as_ref().map(coverage).unwrap_or_default()),
        ("notes", notes(r)),
        (
            "config",
            i.config
                .iter()
                .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v)))
                .collect(),
        ),
        ("footer", footer(r)),
    ];
    fill(TEMPLATE, &vals)
}

/// The spec version as the submissions' folders name it (reviewers compare the two).
fn spec_label(v: crate::model::SpecVersion) -> &'static str {
    match v {
        crate::model::SpecVersion::V1_0 => "v1.0 (distribution-spec v1.0.1)",
        crate::model::SpecVersion::V1_1 => "v1.1 (distribution-spec v1.1.1)",
        crate::model::SpecVersion::Main => "main (unreleased)",
    }
}

/// One sentence a reviewer looks for: "All tests passed" when, and only when, every planned
/// check ran and none failed (an expected failure is still a failure).
pub fn verdict_line(r: &RunRecord) -> String {
    let c = r.counts();
    let spec = spec_label(r.info.spec_version);
    if r.summary.fatal.is_some() {
        return format!("OCI Distribution Specification {spec}: the run could not start; no test was run.");
    }
    let bad = c.failed + c.expected_failure;
    if bad == 0 && c.not_run == 0 && r.summary.interrupted.is_none() {
        return format!("OCI Distribution Specification {spec}: All tests passed ({} checks: {} passed, {} warned, {} unsupported, {} skipped).", c.total, c.passed, c.warned, c.unsupported, c.skipped);
    }
    let mut parts = vec![];
    if bad > 0 {
        parts.push(format!("{bad} of {} checks failed", c.total));
    }
    if c.not_run > 0 || parts.is_empty() {
        parts.push(format!("the run was cut short ({} checks not run)", c.not_run));
    }
    format!("OCI Distribution Specification {spec}: {}.", parts.join(", "))
}

fn banners(r: &RunRecord) -> String {
    let mut b = String::new();
    if let Some(f) = &r.summary.fatal {
        let _ = write!(b, "<div class=\"banner banner-fatal\" role=\"alert\"><b>The run could not start.</b><span>{}</span></div>", esc(f));
    }
    if let Some(x) = &r.summary.interrupted {
        let _ = write!(
            b,
            "<div class=\"banner banner-interrupted\" role=\"alert\"><b>The run was cut short.</b><span>{} — checks that did not get to run are listed as “not run”.</span></div>",
            esc(x)
        );
    }
    for w in &r.info.warnings {
        let _ = write!(
            b,
            "<div class=\"banner banner-warning\"><b>Warning</b><span>{}</span></div>",
            esc(w)
        );
    }
    if b.is_empty() {
        b
    } else {
        format!("<div class=\"banners\">{b}</div>")
    }
}

fn cards(c: &Counts) -> String {
    let mut s = format!("<button type=\"button\" class=\"card total\" data-only=\"all\"><span class=\"n\">{}</span><span class=\"l\">checks</span></button>", c.total);
    for o in Outcome::ALL {
        let n = count_of(c, o);
        let _ = write!(
            s,
            "<button type=\"button\" class=\"card o-{o}{z}\" data-only=\"{o}\" title=\"Show only {l} checks\"><span class=\"n\">{n}</span><span class=\"l\">{l}</span></button>",
            o = o.as_str(),
            l = label(o),
            z = if n == 0 { " zero" } else { "" }
        );
    }
    s
}

/// Proportional bar of outcomes.
fn stack(c: &Counts) -> String {
    if c.total == 0 {
        return String::new();
    }
    Outcome::ALL
        .into_iter()
        .filter(|o| count_of(c, *o) > 0)
        .map(|o| {
            let n = count_of(c, o);
            format!(
                "<i class=\"seg-{}\" style=\"width:{:.3}%\" title=\"{n} {}\"></i>",
                o.as_str(),
                n as f64 * 100.0 / c.total as f64,
                label(o)
            )
        })
        .collect()
}

/// Outcome columns of the bucket table: (header, kept on phones).
const COLS: [(Outcome, &str, bool); 7] = [
    (Outcome::Passed, "Passed", true),
    (Outcome::Failed, "Failed", true),
    (Outcome::Warned, "Warned", true),
    (Outcome::Unsupported, "Unsup.", false),
    (Outcome::Skipped, "Skipped", false),
    (Outcome::ExpectedFailure, "XFail", false),
    (Outcome::NotRun, "Not run", false),
];

fn bucket_heads() -> String {
    let mut s = String::from("<th>Total</th>");
    for (_, h, keep) in COLS {
        let _ = write!(
            s,
            "<th{}>{h}</th>",
            if keep { "" } else { " class=\"opt\"" }
        );
    }
    s
}

fn bucket_row(name: &str, link: Option<&str>, c: &Counts, class: &str) -> String {
    let mut s = format!("<tr class=\"{class}\"><td>");
    match link {
        Some(l) => {
            let _ = write!(s, "<a href=\"#bucket-{}\">{}</a>", esc(l), esc(name));
        }
        None => s.push_str(&esc(name)),
    }
    let _ = write!(
        s,
        "</td><td class=\"bar-cell\"><div class=\"stack\">{}</div></td><td>{}</td>",
        stack(c),
        c.total
    );
    for (o, _, keep) in COLS {
        let n = count_of(c, o);
        let mut cls = vec![];
        if !keep {
            cls.push("opt".to_string());
        }
        if n == 0 {
            cls.push("z".into());
        } else if matches!(o, Outcome::Failed | Outcome::Warned) {
            cls.push(format!("nz-{}", o.as_str()));
        }
        let _ = write!(s, "<td class=\"{}\">{n}</td>", cls.join(" "));
    }
    s.push_str("</tr>");
    s
}

fn bucket_rows(r: &RunRecord) -> String {
    let mut s: String = r
        .buckets()
        .into_iter()
        .map(|(b, c)| bucket_row(b.as_str(), Some(b.as_str()), &c, ""))
        .collect();
    s.push_str(&bucket_row("all buckets", None, &r.counts(), "total"));
    s
}

/// Failed checks, then warnings, each a link to its row with its message's first line.
fn problems(r: &RunRecord) -> String {
    let mut s = String::new();
    for (o, title) in [(Outcome::Failed, "Failed"), (Outcome::Warned, "Warnings")] {
        let list: Vec<_> = r.results.iter().filter(|t| t.outcome == o).collect();
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            s,
            "<div class=\"problems o-{}\"><h3>{title} ({})</h3>",
            o.as_str(),
            list.len()
        );
        for t in list {
            let _ = write!(
                s,
                "<a href=\"#{}\"><span class=\"pid\">{}</span><span class=\"pm\">{}</span></a>",
                esc(&format!("check-{}", t.id)),
                esc(&t.id),
                esc(super::first_line(&t.message))
            );
        }
        s.push_str("</div>");
    }
    s
}

fn outcome_chips() -> String {
    Outcome::ALL
        .into_iter()
        .map(|o| {
            format!(
                "<button type=\"button\" class=\"chip o-{o}\" data-outcome=\"{o}\" aria-pressed=\"true\"><span class=\"dot\"></span>{}<span class=\"cnt\"></span></button>",
                label(o),
                o = o.as_str()
            )
        })
        .collect()
}

fn bucket_chips(r: &RunRecord) -> String {
    r.buckets()
        .into_iter()
        .map(|(b, _)| format!("<button type=\"button\" class=\"chip\" data-bucket=\"{b}\" aria-pressed=\"true\">{b}<span class=\"cnt\"></span></button>", b = b.as_str()))
        .collect()
}

fn sections(r: &RunRecord) -> String {
    let mut s = String::new();
    for (b, c) in r.buckets() {
        let _ = write!(
            s,
            "<section class=\"bucket\" id=\"bucket-{b}\" data-bucket=\"{b}\"><h2>{b} <span class=\"sub\">{} checks · {}</span><span class=\"stack\" aria-hidden=\"true\">{}</span></h2>\
             <table class=\"checks\"><colgroup><col class=\"c-check\"><col class=\"c-level\"><col class=\"c-outcome\"><col class=\"c-time\"><col class=\"c-msg\"></colgroup>\
             <thead><tr><th>Check</th><th>Level</th><th>Outcome</th><th>Time</th><th>Message</th></tr></thead><tbody>",
            c.total,
            esc(&counts_phrase(&c)),
            stack(&c),
            b = b.as_str()
        );
        for t in r.in_bucket(b) {
            s.push_str(&row(t));
        }
        s.push_str("</tbody></table></section>\n");
    }
    s
}

fn row(t: &CheckResult) -> String {
    let o = t.outcome.as_str();
    let anchor = format!("check-{}", t.id);
    let mut s = format!(
        "<tr class=\"check o-{o}\" id=\"{a}\" data-outcome=\"{o}\" data-bucket=\"{b}\"><td class=\"c1\"><div class=\"cid\"><a href=\"#{a}\">{id}</a></div><div class=\"cname\">{name}</div>",
        a = esc(&anchor),
        b = t.bucket.as_str(),
        id = esc(&t.id),
        name = esc(&t.name)
    );
    // Spec links are built by the harness; anything else is not made a link.
    if t.spec_url.starts_with("https://") {
        let title = if t.requirements.is_empty() {
            String::new()
        } else {
            format!(
                " title=\"requirements: {}\"",
                esc(&t.requirements.join(", "))
            )
        };
        let _ = write!(s, "<a class=\"spec\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\"{title}>spec § {}</a>", esc(&t.spec_url), esc(&t.spec));
    }
    let _ = write!(
        s,
        "</td><td class=\"c2\"><span class=\"lvl lvl-{l}\">{l}</span></td><td class=\"c3\"><span class=\"ob o-{o}\">{ol}</span></td><td class=\"c4 num\">{d}</td><td class=\"c5\">",
        l = t.level.as_str(),
        ol = label(t.outcome),
        d = esc(&fmt_duration(t.duration_ms))
    );
    if t.message.is_empty() {
        s.push_str("<div class=\"msg none\">—</div>");
    } else {
        let _ = write!(s, "<div class=\"msg\">{}</div>", esc(&t.message));
    }
    if let Some(l) = &t.load {
        s.push_str(&load(l));
    }
    if !t.trace.is_empty() {
        s.push_str(&trace(&t.trace, t.outcome == Outcome::Failed));
    }
    s.push_str("</td></tr>\n");
    s
}

/// A stress check's figures: rounds, requests, statuses, latency by kind of request.
fn load(l: &crate::model::LoadStats) -> String {
    let statuses = |m: &std::collections::BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(" ");
    let mut s = format!(
        "<details class=\"trace load\"><summary>load · {} rounds, broken in {} · {} requests in {} · {} req/s · {} bytes pushed{}</summary><table class=\"load\"><thead><tr><th>request</th><th>n</th><th>statuses</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead><tbody>",
        l.rounds,
        l.violating_rounds,
        l.requests,
        esc(&fmt_duration(l.duration_ms)),
        l.requests_per_s,
        l.bytes_pushed,
        l.stopped.as_deref().map(|w| format!(" · {}", esc(w))).unwrap_or_default()
    );
    for e in &l.endpoints {
        let _ = write!(s, "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td><td class=\"num\">{:.2}</td></tr>", esc(&e.endpoint), e.requests, esc(&statuses(&e.statuses)), e.p50_ms, e.p95_ms, e.p99_ms);
    }
    s.push_str("</tbody></table></details>");
    s
}

/// A check's HTTP exchanges; a failed check's trace starts open with its last exchange shown.
fn trace(tr: &[Exchange], failed: bool) -> String {
    let mut s = format!(
        "<details class=\"trace\"{}><summary>HTTP trace · {} exchange{}</summary>",
        if failed { " open" } else { "" },
        tr.len(),
        if tr.len() == 1 { "" } else { "s" }
    );
    for (n, e) in tr.iter().enumerate() {
        let open = failed && n + 1 == tr.len();
        let cls = match e.status {
            Some(c) => format!("st-{}", (c / 100).min(5)),
            None if e.method == crate::trace::EXEC && e.ending() == "exit status 0" => "st-2".to_string(),
            None => "st-0".to_string(),
        };
        let st = e.ending();
        let _ = write!(
            s,
            "<details class=\"ex\"{}><summary><span class=\"m\">{}</span><span class=\"u\">{}</span><span class=\"st {cls}\">{}</span><span class=\"d\">{} ms</span></summary><div class=\"exb\">",
            if open { " open" } else { "" },
            esc(&e.method),
            esc(&e.url),
            esc(&st),
            e.duration_ms
        );
        if !e.notes.is_empty() {
            s.push_str("<ul class=\"notes\">");
            for n in &e.notes {
                let _ = write!(s, "<li>{}</li>", esc(n));
            }
            s.push_str("</ul>");
        }
        let mut req = format!("{} {}\n", e.method, e.url);
        for (k, v) in &e.request_headers {
            let _ = writeln!(req, "{k}: {v}");
        }
        if !e.request_body.is_empty() {
            let _ = write!(req, "\n{}", e.request_body);
        }
        let mut resp = match e.status {
            Some(c) => format!("HTTP {c}\n"),
            None => format!("({})\n", e.ending()),
        };
        for (k, v) in &e.response_headers {
            let _ = writeln!(resp, "{k}: {v}");
        }
        if !e.response_body.is_empty() {
            let _ = write!(resp, "\n{}", e.response_body);
        }
        let _ = write!(s, "<div><h4>Request</h4><pre>{}</pre></div><div><h4>Response</h4><pre>{}</pre></div></div></details>", esc(req.trim_end()), esc(resp.trim_end()));
    }
    s.push_str("</details>");
    s
}

/// Requirement outcomes as outcome counts (for the stacked bar).
fn req_counts(cov: &RunCoverage) -> Counts {
    let mut c = Counts::default();
    for q in &cov.requirements {
        if let Some(o) = q.outcome {
            c.add(o);
        }
    }
    c
}

fn coverage_phrase(cov: &RunCoverage) -> String {
    let k = &cov.counts;
    format!(
        "{} of {} testable requirements of spec {} covered ({:.1} %) · {} requirements, {} untestable",
        k.covered,
        k.testable,
        cov.spec_version.as_str(),
        k.percent,
        k.total,
        k.total - k.testable
    )
}

/// One line under the problems: coverage figures, a link to the matrix.
fn coverage_line(cov: &RunCoverage) -> String {
    let c = req_counts(cov);
    format!(
        "<p class=\"covline\"><a href=\"#coverage\">Requirements</a><span>{}</span><span class=\"covout\">{}</span></p>",
        esc(&coverage_phrase(cov)),
        esc(&counts_phrase(&c))
    )
}

/// The collapsible coverage matrix: requirement → level → checks → outcome.
fn coverage(cov: &RunCoverage) -> String {
    let c = req_counts(cov);
    let mut s = format!(
        "<details class=\"coverage\" id=\"coverage\"><summary><span class=\"ct\">Coverage matrix</span><span class=\"sub\">{}</span><span class=\"stack\" aria-hidden=\"true\">{}</span></summary>\
         <p class=\"covnote\">Every requirement of the spec version under test, from the requirement catalog, with the checks that test it. A requirement's outcome is the worst of its checks' (failed, warned, expected failure, unsupported, passed, skipped, not run). Hover or expand a requirement for its sentence.</p>\
         <table class=\"reqs\"><colgroup><col class=\"c-req\"><col class=\"c-level\"><col class=\"c-checks\"><col class=\"c-outcome\"></colgroup>\
         <thead><tr><th>Requirement</th><th>Level</th><th>Checks</th><th>Outcome</th></tr></thead><tbody>",
        esc(&format!("{} · {}", coverage_phrase(cov), counts_phrase(&c))),
        stack(&c)
    );
    for q in &cov.requirements {
        s.push_str(&req_row(q));
    }
    s.push_str("</tbody></table></details>\n");
    s
}

fn req_row(q: &RequirementOutcome) -> String {
    let (cls, ob) = match q.outcome {
        Some(o) => (
            format!("o-{}", o.as_str()),
            format!("<span class=\"ob o-{}\">{}</span>", o.as_str(), label(o)),
        ),
        None => (
            "untestable".to_string(),
            "<span class=\"ob o-untestable\">untestable</span>".to_string(),
        ),
    };
    let mut s = format!(
        "<tr class=\"req {cls}\" id=\"{a}\"><td class=\"r1\"><div class=\"rid\" title=\"{quote}\">{id}</div>",
        a = esc(&format!("req-{}", q.id)),
        id = esc(&q.id),
        quote = esc(&q.quote)
    );
    // Spec links are built by the catalog; anything else is not made a link.
    if q.spec_url.starts_with("https://") {
        let _ = write!(
            s,
            "<a class=\"spec\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">spec § {}</a>",
            esc(&q.spec_url),
            esc(&q.section)
        );
    }
    let _ = write!(
        s,
        "<details class=\"quote\"><summary>sentence</summary><blockquote>{}</blockquote></details></td><td class=\"r2\"><span class=\"lvl lvl-{}\">{}</span></td><td class=\"r3\">",
        esc(&q.quote),
        q.level.replace(' ', "-"),
        esc(&q.level)
    );
    if !q.testable {
        let _ = write!(
            s,
            "<div class=\"why\">{}</div>",
            esc(q.reason.as_deref().unwrap_or("not testable over HTTP"))
        );
    } else {
        s.push_str("<ul class=\"rchecks\">");
        for c in &q.checks {
            match c.outcome {
                Some(o) => {
                    let _ = write!(
                        s,
                        "<li class=\"o-{o}\"><a href=\"#{a}\" title=\"{l}\"><span class=\"dot\"></span>{id}</a></li>",
                        o = o.as_str(),
                        l = label(o),
                        a = esc(&format!("check-{}", c.id)),
                        id = esc(&c.id)
                    );
                }
                None => {
                    let _ = write!(
                        s,
                        "<li class=\"absent\" title=\"not part of this run\"><span class=\"dot\"></span>{}</li>",
                        esc(&c.id)
                    );
                }
            }
        }
        s.push_str("</ul>");
    }
    let _ = write!(s, "</td><td class=\"r4\">{ob}</td></tr>\n");
    s
}

fn notes(r: &RunRecord) -> String {
    let mut lines: Vec<String> = r.notes.clone();
    for l in &r.summary.cleanup {
        // app.rs also sends each cleanup line as a note; show it once
        if !lines
            .iter()
            .any(|n| n == &format!("cleanup: {l}") || n == l)
        {
            lines.push(format!("cleanup: {l}"));
        }
    }
    if lines.is_empty() {
        return String::new();
    }
    let items: String = lines
        .iter()
        .map(|l| format!("<li>{}</li>", esc(l)))
        .collect();
    format!(
        "<section class=\"notes-box\" id=\"notes\"><h2>Run notes</h2><ul>{items}</ul></section>"
    )
}

fn footer(r: &RunRecord) -> String {
    let i = &r.info;
    format!(
        "Generated by {} {} · distribution-spec {} · seed {} · exit status {} · machine-readable results in results.json and junit.xml next to this file",
        esc(&i.tool),
        esc(&i.version),
        esc(i.spec_version.as_str()),
        i.seed,
        r.exit_code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fill_is_single_pass() {
        let t = "a {{x}} b {{y}} {{unknown}}";
        assert_eq!(
            fill(t, &[("x", "{{y}}".into()), ("y", "Y".into())]),
            "a {{y}} b Y {{unknown}}"
        );
    }
    #[test]
    fn escapes() {
        assert_eq!(
            esc("<script>\"'&\u{1b}"),
            "&lt;script&gt;&quot;&#39;&amp;\\x1B"
        );
    }
    #[test]
    fn template_has_every_placeholder() {
        for k in [
            "csp",
            "css",
            "js",
            "sections",
            "cards",
            "config",
            "footer",
            "banners",
            "notes",
            "coverage",
            "coverage_line",
        ] {
            assert!(TEMPLATE.contains(&format!("{{{{{k}}}}}")), "{k}");
        }
        assert!(!JS.contains("</script"));
    }
}
