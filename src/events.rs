//! The event stream: the runner emits, reporters listen. Nothing flows back.

use crate::model::{Bucket, CheckMeta, Level, Outcome, SpecVersion};
use crate::trace::Exchange;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub tool: String,
    pub version: String,
    pub spec_version: SpecVersion,
    pub seed: u64,
    /// Registry base URL (credentials removed).
    pub registry: String,
    /// True when the harness started its embedded registry for this run.
    pub embedded: bool,
    /// Resolved configuration, secrets redacted, in a stable order.
    pub config: BTreeMap<String, String>,
    pub started_at: String,
    /// The exact command line, for reproduction.
    pub command: String,
    /// Every check in the plan, in report order.
    #[serde(skip)]
    pub plan: Vec<CheckMeta>,
    pub warnings: Vec<String>,
}

/// One check's result: an event, and a test of results.json (`results::ResultsFile`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub bucket: Bucket,
    #[serde(default)]
    pub name: String,
    pub outcome: Outcome,
    /// Level that applied for the spec version under test.
    pub level: Level,
    /// Spec section anchor.
    #[serde(default)]
    pub spec: String,
    #[serde(default)]
    pub spec_url: String,
    #[serde(default)]
    pub requirements: Vec<String>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub message: String,
    /// Reason from the expectations file when this check is listed there.
    #[serde(default)]
    pub expectation: Option<String>,
    #[serde(default)]
    pub trace: Vec<Exchange>,
    /// A stress check's figures.
    #[serde(default)]
    pub load: Option<crate::model::LoadStats>,
}

impl CheckResult {
    /// The result of check `meta` under spec version `v`.
    pub fn of(meta: &CheckMeta, v: SpecVersion, outcome: Outcome, message: String, ms: u64, trace: Vec<Exchange>) -> CheckResult {
        CheckResult {
            id: meta.id.to_string(),
            bucket: meta.bucket,
            name: meta.name.to_string(),
            outcome,
            level: meta.level_for(v),
            spec: meta.spec.to_string(),
            spec_url: meta.spec_url(v),
            requirements: meta.requirements.iter().map(|s| s.to_string()).collect(),
            duration_ms: ms,
            message,
            expectation: None,
            trace,
            load: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Counts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub warned: usize,
    pub unsupported: usize,
    pub skipped: usize,
    pub expected_failure: usize,
    pub not_run: usize,
}

impl Counts {
    pub fn add(&mut self, o: Outcome) {
        self.total += 1;
        match o {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Warned => self.warned += 1,
            Outcome::Unsupported => self.unsupported += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::ExpectedFailure => self.expected_failure += 1,
            Outcome::NotRun => self.not_run += 1,
        }
    }
    /// Exit status from outcomes alone: failures, checks that never ran (and warnings under
    /// --strict) fail the run. `RunRecord::exit_code` adds the runner's own reasons.
    pub fn verdict(&self, strict: bool) -> i32 {
        use crate::config::exit;
        if self.failed > 0 || (strict && self.warned > 0) || self.not_run > 0 {
            exit::CHECKS_FAILED
        } else {
            exit::OK
        }
    }
    pub fn of<'a>(rs: impl IntoIterator<Item = &'a CheckResult>) -> Counts {
        let mut c = Counts::default();
        for r in rs {
            c.add(r.outcome);
        }
        c
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSummary {
    #[serde(flatten)]
    pub counts: Counts,
    pub duration_ms: u64,
    pub http_requests: u64,
    /// Why the run stopped early (interrupt, deadline, unreachable registry), if it did.
    pub interrupted: Option<String>,
    /// A problem that stopped the run before checks could start.
    pub fatal: Option<String>,
    pub exit_code: i32,
    pub cleanup: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Event {
    RunStarted(Arc<RunInfo>),
    CheckStarted {
        id: &'static str,
    },
    CheckFinished(Arc<CheckResult>),
    /// Something the user should see that is not a check result (setup failures, cleanup).
    Note(String),
    RunFinished(Arc<RunSummary>),
}

pub type EventTx = tokio::sync::mpsc::UnboundedSender<Event>;
