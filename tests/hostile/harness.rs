//! Runs the harness in-process against a hostile server and checks what must hold whatever
//! the registry does: the run ends in time, every planned check has an outcome, the three
//! reports exist and parse, the exit status is the documented one, nothing panicked, no
//! secret reached a report, and only the test repositories were touched.

use super::server::{Seen, Server};
use oci_conformance::app::RunOutcome;
use oci_conformance::config::{exit, Config, RunArgs};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const USERNAME: &str = "user";
/// Distinctive so a leak is unambiguous in any file.
pub const PASSWORD: &str = "pw-Hunter2-q7Zx9";

/// `Basic` credentials as they travel on the wire: as secret as the password itself.
pub fn basic_credentials() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"))
}

/// Something that did not hold. `tag` names the property (used by the known-bug list).
#[derive(Debug, Clone)]
pub struct Problem {
    pub tag: &'static str,
    pub detail: String,
}

pub fn problem(tag: &'static str, detail: impl Into<String>) -> Problem {
    Problem {
        tag,
        detail: detail.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExitRule {
    Exactly(i32),
    /// The registry is hostile only past `GET /v2/`: once a check touched anything else the
    /// run must fail (1); before the suites reach there, 0 or 1 as the outcomes say.
    FailsWhenExercised,
}

pub struct Expect {
    pub exit: ExitRule,
    /// Wall-clock bound for the whole run, reports included.
    pub within: Duration,
    /// Paths outside `/v2/<namespace>/` the server offered (token endpoints).
    pub extra_paths: Vec<String>,
    /// Strings besides the password that must appear in no output (tokens the server issued).
    pub secrets: Vec<(&'static str, String)>,
}

impl Expect {
    pub fn exit(code: i32) -> Expect {
        Expect {
            exit: ExitRule::Exactly(code),
            within: Duration::from_secs(150),
            extra_paths: vec![],
            secrets: vec![],
        }
    }
    pub fn fails_when_exercised() -> Expect {
        Expect {
            exit: ExitRule::FailsWhenExercised,
            ..Expect::exit(0)
        }
    }
    pub fn within(mut self, secs: u64) -> Expect {
        self.within = Duration::from_secs(secs);
        self
    }
    pub fn path(mut self, p: &str) -> Expect {
        self.extra_paths.push(p.to_string());
        self
    }
    pub fn secret(mut self, tag: &'static str, s: impl Into<String>) -> Expect {
        self.secrets.push((tag, s.into()));
        self
    }
}

/// RunArgs of the brief: short timeouts, a 60 s deadline, credentials.
pub fn run_args(url: &str, dir: &Path) -> RunArgs {
    RunArgs {
        registry: Some(url.to_string()),
        report_dir: Some(dir.to_path_buf()),
        seed: Some(1),
        quiet: true,
        request_timeout: 2.0,
        connect_timeout: 2.0,
        deadline: Some(60.0),
        username: Some(USERNAME.into()),
        ..Default::default()
    }
}

pub fn env() -> BTreeMap<String, String> {
    BTreeMap::from([("OCI_PASSWORD".to_string(), PASSWORD.to_string())])
}

/// Panics seen on runtime threads, by thread name (set once in main).
static PANICS: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();

pub fn install_panic_hook() {
    PANICS.get_or_init(Mutex::default);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let name = std::thread::current().name().unwrap_or("").to_string();
        let msg = format!("{info}");
        if let Some(p) = PANICS.get() {
            p.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, msg));
        }
        prev(info);
    }));
}

/// Thread-name prefix of one scenario's runtime.
pub fn thread_prefix(scenario: &str) -> String {
    format!("hs-{scenario}")
}

pub fn panics_of(scenario: &str) -> Vec<String> {
    let pre = thread_prefix(scenario);
    PANICS
        .get()
        .map(|p| {
            p.lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|(t, _)| *t == pre)
                .map(|(_, m)| m.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One finished (or abandoned) in-process run.
pub struct Ran {
    pub outcome: Option<RunOutcome>,
    pub elapsed: Duration,
    pub dir: tempfile::TempDir,
    pub plan: Vec<String>,
    pub namespaces: (String, String),
}

/// Runs the harness against `url`; gives up after `limit` (the run is then dropped).
pub async fn run_harness(
    url: &str,
    tweak: impl FnOnce(&mut RunArgs),
    limit: Duration,
) -> Result<Ran, Problem> {
    let dir = tempfile::tempdir().map_err(|e| problem("setup", format!("tempdir: {e}")))?;
    let mut a = run_args(url, dir.path());
    tweak(&mut a);
    let cfg = Config::resolve(&a, &env(), String::new())
        .map_err(|e| problem("setup", format!("Config::resolve: {e}")))?;
    let plan = oci_conformance::suites::plan(&cfg)
        .checks
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    let namespaces = (cfg.namespace.clone(), cfg.crossmount_namespace.clone());
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, oci_conformance::app::run(cfg, false))
        .await
        .ok();
    Ok(Ran {
        outcome,
        elapsed: started.elapsed(),
        dir,
        plan,
        namespaces,
    })
}

/// Runs the harness and checks every generic property.
pub async fn run_and_verify(
    scenario: &str,
    server: Option<&Server>,
    url: &str,
    expect: &Expect,
) -> Vec<Problem> {
    run_and_verify_with(scenario, server, url, expect, |_| {}).await
}

pub async fn run_and_verify_with(
    scenario: &str,
    server: Option<&Server>,
    url: &str,
    expect: &Expect,
    tweak: impl FnOnce(&mut RunArgs),
) -> Vec<Problem> {
    // Past the bound the run is abandoned: give it some slack so a slow run is told apart
    // from a hung one.
    let limit = expect.within + expect.within / 4 + Duration::from_secs(5);
    let ran = match run_harness(url, tweak, limit).await {
        Ok(r) => r,
        Err(p) => return vec![p],
    };
    verify(
        scenario,
        &ran,
        &server.map(Server::seen).unwrap_or_default(),
        expect,
    )
}

pub fn verify(scenario: &str, ran: &Ran, seen: &[Seen], expect: &Expect) -> Vec<Problem> {
    let mut out = vec![];
    let Some(outcome) = &ran.outcome else {
        out.push(problem(
            "hang",
            format!(
                "the run had not ended after {:.0} s (bound {} s); abandoned",
                ran.elapsed.as_secs_f64(),
                expect.within.as_secs()
            ),
        ));
        out.extend(check_paths(seen, &ran.namespaces, &expect.extra_paths));
        return out;
    };
    eprintln!(
        "[{scenario}] run ended after {:.1} s with exit code {} ({:?})",
        ran.elapsed.as_secs_f64(),
        outcome.exit_code,
        outcome.counts
    );
    // HOSTILE_KEEP=<dir>: keep each scenario's results.json there for inspection.
    if let Some(keep) = std::env::var_os("HOSTILE_KEEP") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(
            ran.dir.path().join("results.json"),
            Path::new(&keep).join(format!("{scenario}.json")),
        );
    }
    if ran.elapsed > expect.within {
        out.push(problem(
            "wall-clock",
            format!(
                "run took {:.1} s, bound {} s",
                ran.elapsed.as_secs_f64(),
                expect.within.as_secs()
            ),
        ));
    }
    for p in panics_of(scenario) {
        out.push(problem("panic", p));
    }
    let results = match check_reports(ran.dir.path()) {
        Ok(v) => Some(v),
        Err(e) => {
            out.push(e);
            None
        }
    };
    if let Some(r) = &results {
        out.extend(check_outcomes(r, &ran.plan));
        out.extend(check_cancelled(r));
        for n in r["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
        {
            if n.contains("harness error") || n.contains("panic") {
                out.push(problem("panic", format!("note in results.json: {n}")));
            }
        }
        let summary_code = r["summary"]["exit_code"].as_i64();
        if summary_code != Some(outcome.exit_code as i64) {
            out.push(problem(
                "summary-exit-code",
                format!(
                    "results.json summary.exit_code is {summary_code:?} but the run exited {}",
                    outcome.exit_code
                ),
            ));
        }
    }
    out.extend(check_exit(
        outcome,
        results.as_ref(),
        seen,
        &ran.namespaces,
        expect.exit,
    ));
    let mut secrets = vec![
        ("secret", PASSWORD.to_string()),
        ("secret-basic", basic_credentials()),
    ];
    secrets.extend(expect.secrets.iter().cloned());
    out.extend(check_secrets(ran.dir.path(), &secrets));
    out.extend(check_paths(seen, &ran.namespaces, &expect.extra_paths));
    out
}

fn check_exit(
    o: &RunOutcome,
    results: Option<&serde_json::Value>,
    seen: &[Seen],
    ns: &(String, String),
    rule: ExitRule,
) -> Vec<Problem> {
    let code = o.exit_code;
    // What the outcomes say (config::exit: failed or not-run checks fail the run).
    let verdict = results.map(|r| {
        let s = &r["summary"];
        if s["failed"].as_u64().unwrap_or(0) > 0 || s["not_run"].as_u64().unwrap_or(0) > 0 {
            exit::CHECKS_FAILED
        } else {
            exit::OK
        }
    });
    let want = match rule {
        ExitRule::Exactly(c) => c,
        ExitRule::FailsWhenExercised => {
            let exercised = seen.iter().any(|s| {
                s.path() != "/v2/"
                    && (s.path().starts_with(&format!("/v2/{}/", ns.0))
                        || s.path().starts_with(&format!("/v2/{}/", ns.1)))
            });
            if exercised {
                exit::CHECKS_FAILED
            } else {
                verdict.unwrap_or(code)
            }
        }
    };
    let mut out = vec![];
    if code != want {
        out.push(problem(
            "exit-code",
            format!("exit code {code}, expected {want} (counts {:?})", o.counts),
        ));
    }
    if let Some(v) = verdict {
        if matches!(code, exit::OK | exit::CHECKS_FAILED) && code != v {
            out.push(problem(
                "exit-code",
                format!(
                    "exit code {code} disagrees with the outcomes in results.json (they say {v})"
                ),
            ));
        }
    }
    out
}

/// Parses the three reports; returns results.json.
pub fn check_reports(dir: &Path) -> Result<serde_json::Value, Problem> {
    let read =
        |n: &str| std::fs::read(dir.join(n)).map_err(|e| problem("reports", format!("{n}: {e}")));
    let json = read("results.json")?;
    let v: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| problem("reports", format!("results.json is not JSON: {e}")))?;
    let xml = read("junit.xml")?;
    let xml = String::from_utf8(xml)
        .map_err(|e| problem("reports", format!("junit.xml is not UTF-8: {e}")))?;
    check_xml(&xml).map_err(|e| problem("reports", format!("junit.xml: {e}")))?;
    let html = read("report.html")?;
    if html.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(problem("reports", "report.html is empty"));
    }
    // Registry-controlled markup must be escaped (the hostile servers send this payload).
    if let Some(i) = find(&html, super::scenarios::SCRIPT_PAYLOAD.as_bytes()) {
        return Err(problem(
            "reports",
            format!("report.html contains unescaped registry markup at byte {i}"),
        ));
    }
    Ok(v)
}

/// Well-formed XML 1.0: parses to the end, tags balance, escapes decode, and no character
/// that XML 1.0 forbids appears raw or as a character reference.
pub fn check_xml(xml: &str) -> Result<(), String> {
    use quick_xml::events::Event;
    if let Some((i, c)) = xml.char_indices().find(|(_, c)| !xml_char(*c)) {
        return Err(format!(
            "character U+{:04X} at byte {i} is not allowed in XML 1.0",
            c as u32
        ));
    }
    let mut r = quick_xml::Reader::from_str(xml);
    let mut depth = 0i64;
    let mut roots = 0;
    loop {
        match r
            .read_event()
            .map_err(|e| format!("parse error at byte {}: {e}", r.buffer_position()))?
        {
            Event::Start(e) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                attrs(&e)?;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    roots += 1;
                }
                attrs(&e)?;
            }
            Event::End(_) => depth -= 1,
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| format!("text: {e}"))?;
                char_refs_ok(&s)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 || roots != 1 {
        return Err(format!(
            "unbalanced document (depth {depth} at the end, {roots} root elements)"
        ));
    }
    Ok(())
}

fn attrs(e: &quick_xml::events::BytesStart) -> Result<(), String> {
    for a in e.attributes() {
        let a = a.map_err(|e| format!("attribute: {e}"))?;
        let v = a
            .unescape_value()
            .map_err(|e| format!("attribute value: {e}"))?;
        char_refs_ok(&v)?;
    }
    Ok(())
}

/// After unescaping, character references may have produced forbidden characters.
fn char_refs_ok(s: &str) -> Result<(), String> {
    match s.chars().find(|c| !xml_char(*c)) {
        Some(c) => Err(format!(
            "a character reference produces U+{:04X}, not allowed in XML 1.0",
            c as u32
        )),
        None => Ok(()),
    }
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

const OUTCOMES: &[&str] = &[
    "passed",
    "failed",
    "warned",
    "unsupported",
    "skipped",
    "expected-failure",
    "not-run",
];

fn check_outcomes(r: &serde_json::Value, plan: &[String]) -> Vec<Problem> {
    let mut out = vec![];
    let Some(tests) = r["tests"].as_array() else {
        return vec![problem("outcomes", "results.json has no tests array")];
    };
    let mut by_id: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in tests {
        let id = t["id"].as_str().unwrap_or("");
        let o = t["outcome"].as_str().unwrap_or("");
        if !OUTCOMES.contains(&o) {
            out.push(problem(
                "outcomes",
                format!("{id}: unknown outcome {:?}", t["outcome"]),
            ));
        }
        by_id.entry(id).or_default().push(o);
    }
    for id in plan {
        match by_id.get(id.as_str()).map(|v| v.len()) {
            None => out.push(problem(
                "outcomes",
                format!("planned check {id} has no outcome in results.json"),
            )),
            Some(1) => {}
            Some(n) => out.push(problem(
                "outcomes",
                format!("check {id} appears {n} times in results.json"),
            )),
        }
    }
    let total = r["summary"]["total"].as_u64().unwrap_or(0);
    if total != tests.len() as u64 {
        out.push(problem(
            "outcomes",
            format!("summary.total {total} but {} tests", tests.len()),
        ));
    }
    out
}

/// What a cancellation (deadline, signal) stopped is not-run: never skipped (which would not
/// fail the run) nor failed (which would blame the registry).
pub fn check_cancelled(r: &serde_json::Value) -> Vec<Problem> {
    let bad: Vec<String> = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["message"].as_str().unwrap_or("").contains("cancelled") && t["outcome"] != "not-run"
        })
        .map(|t| {
            format!(
                "{} is {} ({})",
                t["id"].as_str().unwrap_or(""),
                t["outcome"].as_str().unwrap_or(""),
                t["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    if bad.is_empty() {
        return vec![];
    }
    let n = bad.len();
    vec![problem(
        "cancelled-outcome",
        format!(
            "{n} check(s) stopped by the cancellation are not 'not-run', e.g. {}",
            bad.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ),
    )]
}

/// No output file contains a secret. Names the file and the place.
pub fn check_secrets(dir: &Path, secrets: &[(&'static str, String)]) -> Vec<Problem> {
    let mut out = vec![];
    for f in files_under(dir) {
        let Ok(data) = std::fs::read(&f) else {
            continue;
        };
        for (tag, s) in secrets {
            if let Some(i) = find(&data, s.as_bytes()) {
                let ctx = String::from_utf8_lossy(
                    &data[i.saturating_sub(120)..(i + s.len() + 40).min(data.len())],
                )
                .replace('\n', "⏎");
                out.push(problem(
                    tag,
                    format!(
                        "{} contains {tag} at byte {i}: …{ctx}…",
                        f.file_name().unwrap_or_default().to_string_lossy()
                    ),
                ));
            }
        }
    }
    out
}

pub fn check_text_secrets(
    what: &str,
    text: &[u8],
    secrets: &[(&'static str, String)],
) -> Vec<Problem> {
    let mut out = vec![];
    for (tag, s) in secrets {
        if let Some(i) = find(text, s.as_bytes()) {
            let ctx = String::from_utf8_lossy(
                &text[i.saturating_sub(120)..(i + s.len() + 40).min(text.len())],
            )
            .replace('\n', "⏎");
            out.push(problem(tag, format!("{what} contains {tag}: …{ctx}…")));
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Only `/v2/`, the two test repositories and the offered extra paths may be requested.
pub fn check_paths(seen: &[Seen], ns: &(String, String), extra: &[String]) -> Vec<Problem> {
    let allowed = |p: &str| {
        p == "/v2/"
            || p.starts_with(&format!("/v2/{}/", ns.0))
            || p.starts_with(&format!("/v2/{}/", ns.1))
            || extra.iter().any(|e| e == p)
    };
    let bad: Vec<String> = seen
        .iter()
        .filter(|s| !allowed(s.path()))
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    if bad.is_empty() {
        return vec![];
    }
    let mut uniq = bad.clone();
    uniq.dedup();
    uniq.truncate(10);
    vec![problem(
        "paths",
        format!(
            "{} request(s) outside /v2/, /v2/{}/ and /v2/{}/: {}",
            bad.len(),
            ns.0,
            ns.1,
            uniq.join(", ")
        ),
    )]
}

pub fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    h.windows(n.len()).position(|w| w == n)
}

/// A client like the run's, for engine-level probes.
/// A client configured exactly as a run's (same RunArgs, same `app::client_options`), for
/// engine-level probes.
pub fn probe_client(url: &str) -> Arc<oci_conformance::client::Client> {
    let dir = std::env::temp_dir();
    let cfg = Config::resolve(&run_args(url, &dir), &env(), String::new()).expect("probe config");
    let opts = oci_conformance::app::client_options(&cfg).expect("probe client options");
    let base = cfg.registry.clone().expect("probe URL");
    oci_conformance::client::Client::new(base, opts).expect("probe client")
}

pub fn probe_trace() -> oci_conformance::trace::TraceSink {
    oci_conformance::trace::TraceSink::new(Arc::new(vec![PASSWORD.to_string()]))
}

/// Peak resident set size of this process, in KiB (Linux).
pub fn vm_hwm_kib() -> Option<u64> {
    status_kib("VmHWM:")
}
pub fn vm_rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}
fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false if not permitted.
pub fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
