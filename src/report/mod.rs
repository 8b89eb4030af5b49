//! Reporters: each listens to the event stream; none decides an outcome. The file reporters
//! render from one `RunRecord` collected from the events, and write atomically.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;

use crate::events::{CheckResult, Counts, Event, RunInfo, RunSummary};
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
}

impl RunRecord {
    pub fn counts(&self) -> Counts {
        Counts::of(self.results.iter().map(|r| r.as_ref()))
    }
}

pub struct ReportSettings {
    pub dir: PathBuf,
    pub console: console::ConsoleSettings,
}

/// Consumes the event stream until RunFinished (or the channel closes), printing progress and
/// writing junit.xml, report.html and results.json. Returns the paths written.
/// What the reporters wrote, and the counts they saw (the exit status is derived from these).
pub struct Written {
    pub files: Vec<PathBuf>,
    pub counts: Counts,
}

pub async fn consume(mut rx: UnboundedReceiver<Event>, settings: ReportSettings) -> Result<Written, String> {
    let mut console = console::Console::new(settings.console);
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
    let info = info.ok_or("the run ended before it started")?;
    let summary = summary.unwrap_or_else(|| {
        Arc::new(RunSummary {
            counts: Counts::default(),
            duration_ms: 0,
            http_requests: 0,
            interrupted: Some("the run stopped without a summary".into()),
            fatal: None,
            exit_code: crate::config::exit::INTERNAL,
            cleanup: vec![],
        })
    });
    // plan order, then anything not in the plan (setup failures) by id
    let pos = |id: &str| info.plan.iter().position(|m| m.id == id).unwrap_or(usize::MAX);
    results.sort_by(|a, b| (a.bucket, pos(&a.id), &a.id).cmp(&(b.bucket, pos(&b.id), &b.id)));
    let record = RunRecord { info, results, summary, notes };
    let dir = settings.dir;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create report dir {}: {e}", dir.display()))?;
    let mut written = vec![];
    for (name, body) in [
        ("results.json", json::render(&record)),
        ("junit.xml", junit::render(&record)),
        ("report.html", html::render(&record)),
    ] {
        let p = dir.join(name);
        write_atomic(&p, body.as_bytes()).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        written.push(p);
    }
    console.finished(&record, &written);
    Ok(Written { files: written, counts: record.counts() })
}

/// Writes to a temporary file in the same directory, then renames: a reader never sees half a report.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
