//! Reporters: each listens to the event stream; none decides an outcome. The file reporters
//! render from one `RunRecord` collected from the events, and write atomically.

pub mod badge;
pub mod console;
pub mod html;
pub mod json;
pub mod junit;

use crate::events::{CheckResult, Counts, Event, RunInfo, RunSummary};
use crate::model::{Bucket, Coverer, Outcome, RunCoverage};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// Everything a file reporter needs, collected from events.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub info: Arc<RunInfo>,
    /// In plan order (deterministic whatever --jobs is); setup failures after their bucket's checks.
    pub results: Vec<Arc<CheckResult>>,
    pub summary: Arc<RunSummary>,
    pub notes: Vec<String>,
    /// Every requirement of the version under test with its checks' outcome (None when no
    /// catalog was wired in).
    pub coverage: Option<RunCoverage>,
}

/// How the run as a whole ended, for banners, badges and the console's last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// No MUST broken (warnings allowed unless --strict), every planned check ran.
    Passed,
    Failed,
    /// Stopped early (signal, deadline, lost event stream).
    Interrupted,
    /// Could not start (unreachable registry, bad TLS setup, embedded registry failed).
    Fatal,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Fatal => "error",
        }
    }
}

impl RunRecord {
    /// Counts from the collected results: the one source every reporter (and the exit status)
    /// uses. `RunSummary.counts` is not trusted, the runner leaves it empty.
    pub fn counts(&self) -> Counts {
        Counts::of(self.results.iter().map(|r| r.as_ref()))
    }

    /// Buckets that have results, in bucket order, with their counts.
    pub fn buckets(&self) -> Vec<(Bucket, Counts)> {
        Bucket::every()
            .filter_map(|b| {
                let c = Counts::of(
                    self.results
                        .iter()
                        .filter(|r| r.bucket == b)
                        .map(|r| r.as_ref()),
                );
                (c.total > 0).then_some((b, c))
            })
            .collect()
    }

    pub fn in_bucket(&self, b: Bucket) -> impl Iterator<Item = &Arc<CheckResult>> {
        self.results.iter().filter(move |r| r.bucket == b)
    }

    /// --strict, read back from the resolved configuration the run published.
    pub fn strict(&self) -> bool {
        self.info
            .config
            .get("strict")
            .map(|s| s == "true")
            .unwrap_or(false)
    }

    /// The exit status the run ends with, decided here only: the runner's own code when it
    /// stopped for a reason of its own, otherwise the verdict from the outcomes.
    pub fn exit_code(&self) -> i32 {
        if self.summary.exit_code != crate::config::exit::OK {
            return self.summary.exit_code;
        }
        let strict = self.strict();
        let code = self.counts().verdict(strict);
        // A listed known failure that passed is a stale expectation: fails under --strict.
        let stale = self
            .results
            .iter()
            .any(|r| r.expectation.is_some() && r.outcome == Outcome::Passed);
        if code == crate::config::exit::OK && strict && stale {
            return crate::config::exit::CHECKS_FAILED;
        }
        code
    }

    pub fn status(&self) -> RunStatus {
        if self.summary.fatal.is_some() {
            RunStatus::Fatal
        } else if self.summary.interrupted.is_some() {
            RunStatus::Interrupted
        } else if self.exit_code() == crate::config::exit::OK {
            RunStatus::Passed
        } else {
            RunStatus::Failed
        }
    }
}

pub struct ReportSettings {
    pub dir: PathBuf,
    pub console: console::ConsoleSettings,
    pub coverage: Option<Coverer>,
}

/// What the reporters wrote, the counts they saw, and the run's exit status.
pub struct Written {
    pub files: Vec<PathBuf>,
    pub counts: Counts,
    pub exit_code: i32,
}

/// Consumes the event stream until RunFinished (or the channel closes), printing progress and
/// writing results.json, junit.xml, report.html and the badges. Returns the paths written.
pub async fn consume(
    rx: UnboundedReceiver<Event>,
    settings: ReportSettings,
) -> Result<Written, String> {
    let console = console::Console::new(settings.console);
    consume_with(rx, &settings.dir, console, settings.coverage).await
}

/// `consume` with a given console (tests capture its output).
pub async fn consume_with(
    mut rx: UnboundedReceiver<Event>,
    dir: &Path,
    mut console: console::Console,
    coverage: Option<Coverer>,
) -> Result<Written, String> {
    let mut info: Option<Arc<RunInfo>> = None;
    let mut results: Vec<Arc<CheckResult>> = vec![];
    let mut notes = vec![];
    let mut summary = None;
    while let Some(ev) = rx.recv().await {
        console.event(&ev);
        match ev {
            Event::RunStarted(i) => info = Some(i),
            Event::CheckFinished(r) => results.push(r),
            Event::Note(n) => notes.push(n),
            Event::RunFinished(s) => {
                summary = Some(s);
                break;
            }
            Event::CheckStarted { .. } => {}
        }
    }
    let info = match info {
        Some(i) => i,
        None => {
            console.abandon();
            return Err("the run ended before it started (no RunStarted event)".into());
        }
    };
    let summary = summary.unwrap_or_else(|| {
        Arc::new(RunSummary {
            counts: Counts::default(),
            duration_ms: 0,
            http_requests: 0,
            interrupted: Some(
                "the run stopped without a summary (the event stream closed early)".into(),
            ),
            fatal: None,
            exit_code: crate::config::exit::INTERNAL,
            cleanup: vec![],
        })
    });
    let mut record = collect(info, results, summary, notes);
    if let Some(cover) = coverage {
        let got: Vec<(&str, Outcome)> = record.results.iter().map(|t| (t.id.as_str(), t.outcome)).collect();
        record.coverage = Some(cover(record.info.spec_version, &got));
    }
    match write_all(&record, dir) {
        Ok(written) => {
            console.finished(&record, Ok(&written));
            Ok(Written {
                files: written,
                counts: record.counts(),
                exit_code: record.exit_code(),
            })
        }
        Err(e) => {
            console.finished(&record, Err(&e));
            Err(e)
        }
    }
}

/// Orders the results, drops duplicates, and marks planned checks that never reported as
/// not run (so a report cut short says what is missing instead of silently omitting it).
pub fn collect(
    info: Arc<RunInfo>,
    results: Vec<Arc<CheckResult>>,
    summary: Arc<RunSummary>,
    mut notes: Vec<String>,
) -> RunRecord {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(results.len());
    for r in results {
        if seen.insert(r.id.clone()) {
            kept.push(r);
        } else {
            notes.push(format!(
                "a second result for {} was ignored (harness bug)",
                r.id
            ));
        }
    }
    let why = summary.fatal.as_deref().or(summary.interrupted.as_deref());
    for m in &info.plan {
        if !seen.contains(m.id) {
            let msg = match why {
                Some(w) => format!("no result: the run stopped before this check reported ({w})"),
                None => "no result was reported for this check (harness bug)".to_string(),
            };
            kept.push(Arc::new(CheckResult::of(
                m,
                info.spec_version,
                Outcome::NotRun,
                msg,
                0,
                vec![],
            )));
        }
    }
    // plan order, then anything not in the plan (setup failures) by id
    let pos = |id: &str| {
        info.plan
            .iter()
            .position(|m| m.id == id)
            .unwrap_or(usize::MAX)
    };
    kept.sort_by(|a, b| (a.bucket, pos(&a.id), &a.id).cmp(&(b.bucket, pos(&b.id), &b.id)));
    RunRecord {
        info,
        results: kept,
        summary,
        notes,
        coverage: None,
    }
}

/// Writes every report file into `dir`; returns their paths (main reports first, then badges).
pub fn write_all(record: &RunRecord, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create report dir {}: {e}", dir.display()))?;
    let mut files: Vec<(String, String)> = vec![
        ("results.json".into(), json::render(record)),
        ("junit.xml".into(), junit::render(record)),
        ("report.html".into(), html::render(record)),
    ];
    files.extend(badge::render_all(record));
    let mut written = vec![];
    for (name, body) in files {
        let p = dir.join(name);
        write_atomic(&p, body.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        written.push(p);
    }
    Ok(written)
}

/// Writes to a temporary file in the same directory, then renames: a reader never sees half a report.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    // unique per process and call: badge.json and badge.svg must not share a temporary name
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Shows control characters other than tab and newline as `\xNN` (a CR before a newline is
/// dropped): registry text must not drive a terminal, break XML 1.0 or hide in a page.
pub fn show_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let bad =
        |c: char| (c.is_control() && c != '\t' && c != '\n') || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !s.chars().any(bad) {
        return s.into();
    }
    let mut o = String::with_capacity(s.len() + 16);
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\r' && it.peek() == Some(&'\n') {
            continue;
        }
        if bad(c) {
            o.push_str(&format!("\\x{:02X}", c as u32));
        } else {
            o.push(c);
        }
    }
    o.into()
}

/// First line of a message (JUnit message attributes, console lines).
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// "850 ms", "12.3 s", "2 min 5 s".
pub fn fmt_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000)
    }
}

/// One line per exchange ("GET <url> → 404 (12 ms)"), at most `max` of them (the last ones:
/// the request that broke a check is usually the last it sent).
pub fn trace_summary(trace: &[crate::trace::Exchange], max: usize) -> Vec<String> {
    let skip = trace.len().saturating_sub(max);
    let mut out = vec![];
    if skip > 0 {
        out.push(format!("… {skip} earlier exchange(s) not shown"));
    }
    for e in &trace[skip..] {
        let status = e.ending();
        out.push(format!(
            "{} {} → {} ({} ms)",
            e.method, e.url, status, e.duration_ms
        ));
        for n in &e.notes {
            out.push(format!("    note: {n}"));
        }
    }
    out
}

/// Outcome counts as "3 passed, 1 failed" (zero counts left out).
pub fn counts_phrase(c: &Counts) -> String {
    let parts: Vec<String> = Outcome::ALL
        .into_iter()
        .map(|o| (o, count_of(c, o)))
        .filter(|(_, n)| *n > 0)
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect();
    if parts.is_empty() {
        "no checks".into()
    } else {
        parts.join(", ")
    }
}

pub fn count_of(c: &Counts, o: Outcome) -> usize {
    match o {
        Outcome::Passed => c.passed,
        Outcome::Failed => c.failed,
        Outcome::Warned => c.warned,
        Outcome::Unsupported => c.unsupported,
        Outcome::Skipped => c.skipped,
        Outcome::ExpectedFailure => c.expected_failure,
        Outcome::NotRun => c.not_run,
    }
}
