//! `oci-conformance diff OLD NEW`: what changed between two runs, and whether anything regressed.
//!

use crate::events::Counts;
use crate::model::Outcome;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// results.json as read by the vendor-CI commands: the one typed model.
pub use crate::results::{load as load_results, ResultsFile as RunResults};
/// One test of a results.json.
pub use crate::events::CheckResult as TestRow;

/// How an outcome change is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Regressed,
    Improved,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Improved => "improved",
            Change::Changed => "changed",
        }
    }
}

/// A regression: something that worked (or was not judged) now fails, or a pass became a warning.
pub fn is_regression(old: Outcome, new: Outcome) -> bool {
    use Outcome::*;
    matches!(
        (old, new),
        (Passed | Warned | Unsupported | Skipped, Failed) | (Passed, Warned)
    )
}

/// Better-or-worse only makes sense between verdicts (an expected failure is a failure);
/// changes to or from skipped and not-run are reported as plain changes.
fn verdict_rank(o: Outcome) -> Option<u8> {
    match o {
        Outcome::Failed | Outcome::ExpectedFailure => Some(0),
        Outcome::Warned => Some(1),
        Outcome::Unsupported => Some(2),
        Outcome::Passed => Some(3),
        _ => None,
    }
}

pub fn classify(old: Outcome, new: Outcome) -> Change {
    if is_regression(old, new) {
        return Change::Regressed;
    }
    match (verdict_rank(old), verdict_rank(new)) {
        (Some(a), Some(b)) if b > a => Change::Improved,
        _ => Change::Changed,
    }
}

#[derive(Debug, Clone)]
pub struct Changed {
    pub id: String,
    pub name: String,
    pub old: Outcome,
    pub new: Outcome,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub outcome: Outcome,
}

/// The comparison of two runs.
#[derive(Debug, Clone)]
pub struct Diff {
    /// Regressions first, then the rest; by id within each.
    pub changed: Vec<Changed>,
    pub added: Vec<Listed>,
    pub removed: Vec<Listed>,
    pub old_counts: Counts,
    pub new_counts: Counts,
    /// Things that make the comparison less meaningful (different spec versions, ...).
    pub notes: Vec<String>,
}

impl Diff {
    pub fn regressions(&self) -> usize {
        self.changed
            .iter()
            .filter(|c| c.change == Change::Regressed)
            .count()
    }
}

/// First row per id (a results.json never repeats an id, but a hand-edited one might).
fn by_id(r: &RunResults) -> BTreeMap<&str, &TestRow> {
    let mut m = BTreeMap::new();
    for t in &r.tests {
        m.entry(t.id.as_str()).or_insert(t);
    }
    m
}

pub fn compare(old: &RunResults, new: &RunResults) -> Diff {
    let (o, n) = (by_id(old), by_id(new));
    let ids: BTreeSet<&str> = o.keys().chain(n.keys()).copied().collect();
    let (mut changed, mut added, mut removed) = (vec![], vec![], vec![]);
    for id in ids {
        match (o.get(id), n.get(id)) {
            (Some(a), Some(b)) if a.outcome != b.outcome => changed.push(Changed {
                id: id.to_string(),
                name: if b.name.is_empty() {
                    a.name.clone()
                } else {
                    b.name.clone()
                },
                old: a.outcome,
                new: b.outcome,
                change: classify(a.outcome, b.outcome),
            }),
            (Some(_), Some(_)) => {}
            (None, Some(b)) => added.push(Listed {
                id: id.to_string(),
                name: b.name.clone(),
                outcome: b.outcome,
            }),
            (Some(a), None) => removed.push(Listed {
                id: id.to_string(),
                name: a.name.clone(),
                outcome: a.outcome,
            }),
            (None, None) => {}
        }
    }
    // stable sort keeps id order inside each class
    changed.sort_by_key(|c| c.change);
    let mut notes = vec![];
    if old.spec_version != new.spec_version {
        notes.push(format!(
            "the runs tested different spec versions ({} → {}): some changes come from that",
            or_unknown(&old.spec_version),
            or_unknown(&new.spec_version)
        ));
    }
    // the embedded registry listens on a new port each run: not a different registry
    if old.registry != new.registry && !(old.embedded && new.embedded) {
        notes.push(format!(
            "the runs tested different registries ({} → {})",
            or_unknown(&old.registry),
            or_unknown(&new.registry)
        ));
    }
    for (which, r) in [("old", old), ("new", new)] {
        if let Some(why) = r.interrupted() {
            notes.push(format!("the {which} run stopped early: {why}"));
        }
    }
    Diff {
        changed,
        added,
        removed,
        old_counts: old.counts(),
        new_counts: new.counts(),
        notes,
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "unknown"
    } else {
        s
    }
}

/// (label, count) pairs in report order.
pub fn count_pairs(c: &Counts) -> [(&'static str, usize); 8] {
    [
        ("total", c.total),
        ("passed", c.passed),
        ("failed", c.failed),
        ("warned", c.warned),
        ("unsupported", c.unsupported),
        ("skipped", c.skipped),
        ("expected_failure", c.expected_failure),
        ("not_run", c.not_run),
    ]
}

fn counts_json(c: &Counts) -> Value {
    Value::Object(
        count_pairs(c)
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

fn run_json(r: &RunResults) -> Value {
    json!({
        "path": r.path.display().to_string(), "tool": r.tool, "version": r.version,
        "spec_version": r.spec_version, "seed": r.seed, "registry": r.registry, "started_at": r.started_at,
    })
}

pub fn render_json(old: &RunResults, new: &RunResults, d: &Diff) -> String {
    let v = json!({
        "old": run_json(old),
        "new": run_json(new),
        "changed": d.changed.iter().map(|c| json!({"id": c.id, "name": c.name, "old": c.old, "new": c.new, "change": c.change.as_str()})).collect::<Vec<_>>(),
        "added": d.added.iter().map(|a| json!({"id": a.id, "name": a.name, "outcome": a.outcome})).collect::<Vec<_>>(),
        "removed": d.removed.iter().map(|a| json!({"id": a.id, "name": a.name, "outcome": a.outcome})).collect::<Vec<_>>(),
        "counts": {"old": counts_json(&d.old_counts), "new": counts_json(&d.new_counts)},
        "regressions": d.regressions(),
        "notes": d.notes,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

fn run_line(r: &RunResults) -> String {
    let mut parts = vec![];
    if !r.version.is_empty() {
        parts.push(format!("{} {}", or_unknown(&r.tool), r.version));
    }
    if !r.spec_version.is_empty() {
        parts.push(format!("spec {}", r.spec_version));
    }
    if let Some(s) = r.seed {
        parts.push(format!("seed {s}"));
    }
    if !r.registry.is_empty() {
        parts.push(r.registry.clone());
    }
    if !r.started_at.is_empty() {
        parts.push(r.started_at.clone());
    }
    format!("{} ({})", r.path.display(), parts.join(", "))
}

pub fn render_table(old: &RunResults, new: &RunResults, d: &Diff) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "old: {}", run_line(old));
    let _ = writeln!(s, "new: {}", run_line(new));
    for n in &d.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let w = d
        .changed
        .iter()
        .map(|c| c.id.len())
        .chain(d.added.iter().chain(&d.removed).map(|a| a.id.len()))
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(s);
    if d.changed.is_empty() {
        let _ = writeln!(s, "No check changed outcome.");
    } else {
        let _ = writeln!(s, "Changed outcomes ({}):", d.changed.len());
        let _ = writeln!(s, "  {:<w$}  {:<16}    {:<16}  ", "CHECK", "OLD", "NEW");
        for c in &d.changed {
            let mark = match c.change {
                Change::Regressed => "REGRESSED",
                Change::Improved => "improved",
                Change::Changed => "",
            };
            let _ = writeln!(
                s,
                "  {:<w$}  {:<16} →  {:<16}  {mark}",
                c.id,
                c.old.as_str(),
                c.new.as_str()
            );
        }
    }
    for (title, rows) in [("Added checks", &d.added), ("Removed checks", &d.removed)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title} ({}):", rows.len());
        for a in rows.iter() {
            let _ = writeln!(s, "  {:<w$}  {:<16}  {}", a.id, a.outcome.as_str(), a.name);
        }
    }
    let _ = writeln!(s, "\nCounts:");
    for ((k, a), (_, b)) in count_pairs(&d.old_counts)
        .iter()
        .zip(count_pairs(&d.new_counts).iter())
    {
        let delta = *b as i64 - *a as i64;
        let delta = if delta == 0 {
            String::new()
        } else {
            format!(" ({delta:+})")
        };
        let _ = writeln!(s, "  {k:<17} {a:>5} → {b:<5}{delta}");
    }
    let r = d.regressions();
    let _ = writeln!(s);
    if r == 0 {
        let _ = writeln!(s, "No regressions.");
    } else {
        let _ = writeln!(s, "{r} regression{}.", if r == 1 { "" } else { "s" });
    }
    s
}

/// Prints to standard output; a closed pipe (`| head`) is not an error, other failures are.
pub fn write_stdout(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// The subcommand: prints the comparison; 1 when a check regressed, else 0.
pub fn run(old: &Path, new: &Path, json: bool) -> Result<i32, String> {
    let (a, b) = (load_results(old)?, load_results(new)?);
    let d = compare(&a, &b);
    let text = if json {
        render_json(&a, &b, &d) + "\n"
    } else {
        render_table(&a, &b, &d)
    };
    write_stdout(&text)?;
    Ok(if d.regressions() > 0 {
        crate::config::exit::CHECKS_FAILED
    } else {
        crate::config::exit::OK
    })
}
