//! Console reporter. Modes, chosen once at start:
//! - `json`: one JSON object per event per line on stdout, nothing else (errors go to stderr);
//! - `quiet`: only the final summary;
//! - live: on a terminal (and CI unset) a progress bar with counts per outcome; failures and
//!   warnings are printed above it as they happen;
//! - lines: otherwise one plain line per finished check.
//!
//! Colours only on a terminal, never when NO_COLOR is set. Write errors (a closed pipe) are
//! ignored: the console must never take the run down.

use super::{count_of, counts_phrase, first_line, fmt_duration, RunRecord, RunStatus};
use crate::events::{CheckResult, Counts, Event, RunInfo};
use crate::model::Outcome;
use crate::trace::Exchange;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct ConsoleSettings {
    pub quiet: bool,
    pub verbose: bool,
    pub json: bool,
}

/// What the terminal allows; `detect` reads it from stdout and the environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Term {
    /// Draw a live progress bar (stdout is a terminal and CI is not set).
    pub live: bool,
    /// Use ANSI colours.
    pub color: bool,
}

impl Term {
    pub fn detect() -> Term {
        let tty = std::io::stdout().is_terminal();
        let set = |k: &str| std::env::var_os(k).map(|v| !v.is_empty()).unwrap_or(false);
        let ci = std::env::var("CI")
            .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
            .unwrap_or(set("CI"));
        Term {
            live: tty && !ci,
            color: tty && !set("NO_COLOR"),
        }
    }
}

pub struct Console {
    s: ConsoleSettings,
    term: Term,
    out: Box<dyn Write + Send>,
    bar: Option<ProgressBar>,
    counts: Counts,
    id_width: usize,
    /// The check started last, shown after the counts on the bar.
    current: String,
}

impl Console {
    pub fn new(s: ConsoleSettings) -> Console {
        Console::with_output(s, Term::detect(), Box::new(std::io::stdout()))
    }

    /// A console writing to `out` (tests capture it). A live bar always draws on stdout.
    pub fn with_output(s: ConsoleSettings, term: Term, out: Box<dyn Write + Send>) -> Console {
        Console {
            s,
            term,
            out,
            bar: None,
            counts: Counts::default(),
            id_width: 40,
            current: String::new(),
        }
    }

    fn human(&self) -> bool {
        !self.s.json && !self.s.quiet
    }

    /// Prints a line, above the bar when there is one.
    fn line(&mut self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => {
                let _ = writeln!(self.out, "{s}");
            }
        }
    }

    fn json_line(&mut self, v: serde_json::Value) {
        let _ = writeln!(self.out, "{v}");
        let _ = self.out.flush();
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.term.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn outcome_label(&self, o: Outcome, pad: usize) -> String {
        self.paint(color_of(o), &format!("{:<pad$}", o.as_str()))
    }

    pub fn event(&mut self, e: &Event) {
        if self.s.json {
            let v = match e {
                Event::RunStarted(i) => json!({
                    "event": "run-started", "tool": i.tool, "version": i.version,
                    "spec_version": i.spec_version, "seed": i.seed, "registry": i.registry,
                    "embedded": i.embedded, "started_at": i.started_at, "command": i.command,
                    "config": i.config, "warnings": i.warnings, "checks": i.plan.len(),
                }),
                Event::CheckStarted { id } => json!({ "event": "check-started", "id": id }),
                Event::CheckFinished(r) => {
                    let mut v = json!({
                        "event": "check-finished", "id": r.id, "bucket": r.bucket, "name": r.name,
                        "outcome": r.outcome, "level": r.level, "message": r.message,
                        "duration_ms": r.duration_ms, "spec_url": r.spec_url,
                    });
                    if self.s.verbose && !r.trace.is_empty() {
                        v["trace"] = serde_json::to_value(&r.trace).unwrap_or_default();
                    }
                    v
                }
                Event::Note(n) => json!({ "event": "note", "message": n }),
                // Printed by `finished`, with the final counts and the report paths.
                Event::RunFinished(_) => return,
            };
            self.json_line(v);
            return;
        }
        match e {
            Event::RunStarted(i) => self.started(i),
            Event::CheckStarted { id } => {
                if self.bar.is_some() {
                    self.current = id.to_string();
                    self.update_bar();
                }
            }
            Event::CheckFinished(r) => self.check_finished(r),
            Event::Note(n) => {
                if self.human() {
                    let s = format!("{} {}", self.paint("36", "note:"), safe(n));
                    self.line(&s);
                }
            }
            Event::RunFinished(_) => {}
        }
    }

    fn started(&mut self, i: &RunInfo) {
        self.id_width = i
            .plan
            .iter()
            .map(|m| m.id.len())
            .max()
            .unwrap_or(30)
            .clamp(30, 56);
        if !self.human() {
            return;
        }
        let what = if i.embedded {
            format!("{} (embedded registry)", i.registry)
        } else {
            i.registry.clone()
        };
        let head = format!(
            "{} {} · distribution-spec {} · {}",
            i.tool,
            i.version,
            i.spec_version.as_str(),
            what
        );
        let l = self.paint("1", &head);
        self.line(&l);
        self.line(&format!(
            "seed {} · {} checks planned · replay: {}",
            i.seed,
            i.plan.len(),
            i.command
        ));
        for w in &i.warnings {
            let l = format!("{} {w}", self.paint("33;1", "warning:"));
            self.line(&l);
        }
        if self.term.live {
            // wide_msg is cut to the terminal width: the bar never wraps onto a second line
            let tpl = if self.term.color {
                "{spinner:.cyan} [{elapsed_precise}] {bar:28.cyan/blue} {pos:>3}/{len:3} {wide_msg}"
            } else {
                "{spinner} [{elapsed_precise}] {bar:28} {pos:>3}/{len:3} {wide_msg}"
            };
            let style = ProgressStyle::with_template(tpl)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("━╸─");
            let bar = ProgressBar::with_draw_target(
                Some(i.plan.len() as u64),
                ProgressDrawTarget::stdout(),
            )
            .with_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
            self.update_bar();
        }
    }

    fn update_bar(&self) {
        if let Some(b) = &self.bar {
            let parts: Vec<String> = Outcome::ALL
                .into_iter()
                .filter(|o| {
                    count_of(&self.counts, *o) > 0 || matches!(o, Outcome::Passed | Outcome::Failed)
                })
                .map(|o| {
                    self.paint(
                        color_of(o),
                        &format!("{} {}", count_of(&self.counts, o), o.as_str()),
                    )
                })
                .collect();
            let mut m = parts.join(" ");
            if !self.current.is_empty() {
                m.push_str(&format!("  {}", self.paint("2", &self.current)));
            }
            b.set_message(m);
        }
    }

    fn check_finished(&mut self, r: &CheckResult) {
        self.counts.add(r.outcome);
        if !self.human() {
            return;
        }
        let problem = matches!(r.outcome, Outcome::Failed | Outcome::Warned);
        // Live: only problems get a line of their own; the bar carries the rest.
        if self.bar.is_none() || problem || r.outcome == Outcome::NotRun {
            let s = format!(
                "{} {:<w$} {}",
                self.outcome_label(r.outcome, 16),
                safe(&r.id),
                safe(first_line(&r.message)),
                w = self.id_width
            );
            self.line(s.trim_end());
        }
        if self.s.verbose && problem {
            for l in trace_lines(&r.trace) {
                let l = self.paint("2", &safe(&l));
                self.line(&l);
            }
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        self.update_bar();
    }

    /// The stream ended without a run (no RunStarted): clear the bar.
    pub fn abandon(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// The summary: per bucket and overall, the failed checks, the report paths, the verdict.
    /// `written` is the report files, or why they could not be written.
    pub fn finished(&mut self, r: &RunRecord, written: Result<&[PathBuf], &str>) {
        self.abandon();
        let c = r.counts();
        if self.s.json {
            let files: Vec<String> = written
                .as_ref()
                .map(|w| w.iter().map(|p| p.display().to_string()).collect())
                .unwrap_or_default();
            self.json_line(json!({
                "event": "run-finished", "status": r.status().as_str(), "counts": c,
                "buckets": r.buckets().into_iter().map(|(b, c)| (b.as_str().to_string(), serde_json::to_value(c).unwrap_or_default())).collect::<serde_json::Map<_, _>>(),
                "exit_code": r.exit_code(), "duration_ms": r.summary.duration_ms,
                "http_requests": r.summary.http_requests, "interrupted": r.summary.interrupted,
                "fatal": r.summary.fatal, "cleanup": r.summary.cleanup, "reports": files,
                "report_error": written.err(),
            }));
            return;
        }
        let mut lines: Vec<String> = vec![String::new()];
        lines.push(self.paint(
            "1",
            &format!(
                "Summary · spec {} · seed {} · {} · {} HTTP requests",
                r.info.spec_version.as_str(),
                r.info.seed,
                fmt_duration(r.summary.duration_ms),
                r.summary.http_requests
            ),
        ));
        let bw = r
            .buckets()
            .iter()
            .map(|(b, _)| b.as_str().len())
            .max()
            .unwrap_or(5)
            .max(5);
        for (b, bc) in r.buckets() {
            lines.push(format!(
                "  {:<bw$}  {:>3} {}  {}",
                b.as_str(),
                bc.total,
                checks_word(bc.total),
                self.colored_phrase(&bc)
            ));
        }
        lines.push(format!(
            "  {}  {:>3} {}  {}",
            self.paint("1", &format!("{:<bw$}", "overall")),
            c.total,
            checks_word(c.total),
            self.colored_phrase(&c)
        ));
        if self.s.quiet {
            for w in &r.info.warnings {
                lines.push(format!("{} {w}", self.paint("33;1", "warning:")));
            }
        }
        let failed: Vec<&CheckResult> = r
            .results
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .map(|t| t.as_ref())
            .collect();
        if !failed.is_empty() {
            lines.push(String::new());
            lines.push(self.paint("31;1", &format!("Failed checks ({}):", failed.len())));
            for t in failed {
                lines.push(format!(
                    "  {} {}",
                    self.paint("31", "✘"),
                    self.paint("1", &safe(&t.id))
                ));
                for l in t.message.lines() {
                    lines.push(format!("      {}", safe(l)));
                }
                if !t.spec_url.is_empty() {
                    lines.push(format!("      {}", self.paint("2", &t.spec_url)));
                }
            }
        }
        let warned: Vec<&CheckResult> = r
            .results
            .iter()
            .filter(|t| t.outcome == Outcome::Warned)
            .map(|t| t.as_ref())
            .collect();
        if !warned.is_empty() {
            lines.push(String::new());
            lines.push(self.paint(
                "33;1",
                &format!("Warnings ({}), SHOULD not met:", warned.len()),
            ));
            for t in warned {
                lines.push(format!(
                    "  {} {}  {}",
                    self.paint("33", "!"),
                    safe(&t.id),
                    safe(first_line(&t.message))
                ));
            }
        }
        lines.push(String::new());
        match written {
            Ok(files) => {
                let (badges, main): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .map(|n| n.starts_with("badge"))
                        .unwrap_or(false)
                });
                for p in main {
                    lines.push(format!("report: {}", p.display()));
                }
                if let Some(first) = badges
                    .iter()
                    .find(|p| p.extension().map(|e| e == "svg").unwrap_or(false))
                {
                    lines.push(format!(
                        "badges: {} (+{} more: JSON endpoint and per bucket)",
                        first.display(),
                        badges.len() - 1
                    ));
                }
            }
            Err(e) => lines.push(format!(
                "{} {e}",
                self.paint("31;1", "reports not written:")
            )),
        }
        if let Some(f) = &r.summary.fatal {
            lines.push(format!("{} {f}", self.paint("31;1", "run failed:")));
        }
        if let Some(i) = &r.summary.interrupted {
            lines.push(format!("{} {i}", self.paint("33;1", "run cut short:")));
        }
        let code = r.exit_code();
        let verdict = match r.status() {
            RunStatus::Passed if c.warned > 0 => {
                self.paint("32;1", &format!("PASSED with {} warning(s)", c.warned))
            }
            RunStatus::Passed => self.paint("32;1", "PASSED"),
            RunStatus::Failed if c.failed == 0 && c.warned > 0 && r.strict() => {
                self.paint("31;1", "FAILED (warnings under --strict)")
            }
            RunStatus::Failed => self.paint("31;1", "FAILED"),
            RunStatus::Interrupted => self.paint("33;1", "INTERRUPTED"),
            RunStatus::Fatal => self.paint("31;1", "NOT RUN"),
        };
        lines.push(format!("result: {verdict} (exit status {code})"));
        for l in lines {
            let _ = writeln!(self.out, "{l}");
        }
        let _ = self.out.flush();
    }

    fn colored_phrase(&self, c: &Counts) -> String {
        if !self.term.color {
            return counts_phrase(c);
        }
        let parts: Vec<String> = Outcome::ALL
            .into_iter()
            .filter(|o| count_of(c, *o) > 0)
            .map(|o| self.paint(color_of(o), &format!("{} {}", count_of(c, o), o.as_str())))
            .collect();
        if parts.is_empty() {
            "no checks".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Registry-controlled text on a terminal: no escape sequences that could rewrite the screen.
fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    super::show_controls(s)
}

fn checks_word(n: usize) -> &'static str {
    if n == 1 {
        "check "
    } else {
        "checks"
    }
}

fn color_of(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "32",
        Outcome::Failed => "31;1",
        Outcome::Warned => "33",
        Outcome::Unsupported => "36",
        Outcome::Skipped => "2",
        Outcome::ExpectedFailure => "35",
        Outcome::NotRun => "2",
    }
}

/// A check's HTTP exchanges for --verbose: request line, headers, body previews, notes.
pub fn trace_lines(trace: &[Exchange]) -> Vec<String> {
    let mut out = vec![];
    let body = |out: &mut Vec<String>, prefix: &str, b: &str| {
        if b.is_empty() {
            return;
        }
        out.push(format!("      {prefix}"));
        for l in b.lines().take(40) {
            out.push(format!("      {prefix} {l}"));
        }
        if b.lines().count() > 40 {
            out.push(format!("      {prefix} …"));
        }
    };
    for e in trace {
        let status = e.ending();
        out.push(format!(
            "    {} {} → {} ({} ms)",
            e.method, e.url, status, e.duration_ms
        ));
        for (k, v) in &e.request_headers {
            out.push(format!("      > {k}: {v}"));
        }
        body(&mut out, ">", &e.request_body);
        for (k, v) in &e.response_headers {
            out.push(format!("      < {k}: {v}"));
        }
        body(&mut out, "<", &e.response_body);
        for n in &e.notes {
            out.push(format!("      note: {n}"));
        }
    }
    out
}
