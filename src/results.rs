//! results.json as one type: what the JSON reporter writes, and what `diff`, `expect` and
//! `bundle` read back. Reading is lenient where older files lack a field (it defaults);
//! the contract fields of a test (id, bucket, outcome, level) are required.

use crate::events::{CheckResult, Counts, RunSummary};
use crate::model::RunCoverage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsFile {
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub version: String,
    /// "1.0", "1.1" or "main" (a string, so a file of a later release still reads).
    #[serde(default)]
    pub spec_version: String,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Registry base URL, credentials removed.
    #[serde(default)]
    pub registry: String,
    #[serde(default)]
    pub embedded: bool,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub command: String,
    /// Resolved settings, secrets already redacted.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub summary: Summary,
    /// Required: a file without it is not a results.json.
    pub tests: Vec<CheckResult>,
    /// Every requirement of the version under test with its checks' outcome.
    #[serde(default)]
    pub coverage: Option<RunCoverage>,
    /// The file this was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// The run's summary as the runner ended it, with the counts and exit status the reports
/// decided (`RunRecord`), and the outcome per bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    #[serde(flatten)]
    pub run: RunSummary,
    /// "passed", "failed", "interrupted" or "error".
    pub status: String,
    /// Counts per bucket that has results.
    pub buckets: BTreeMap<String, Counts>,
}

impl ResultsFile {
    /// Counts recomputed from the tests (a summary is not trusted to agree).
    pub fn counts(&self) -> Counts {
        Counts::of(&self.tests)
    }
    /// Why the run stopped early, if it did.
    pub fn interrupted(&self) -> Option<String> {
        self.summary.run.interrupted.clone()
    }
}

/// The results.json a user pointed at: the file itself, or `DIR/results.json` for a report dir.
pub fn results_path(path: &Path) -> Result<PathBuf, String> {
    if path.is_dir() {
        let p = path.join("results.json");
        if !p.is_file() {
            return Err(format!("{} has no results.json (expected a report dir written by oci-conformance, or a results.json file)", path.display()));
        }
        return Ok(p);
    }
    if !path.exists() {
        return Err(format!("{}: no such file or directory", path.display()));
    }
    Ok(path.to_path_buf())
}

/// Reads and parses a results.json (or a report dir's).
pub fn load(path: &Path) -> Result<ResultsFile, String> {
    let p = results_path(path)?;
    let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let mut r: ResultsFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: not an oci-conformance results.json: {e}", p.display()))?;
    r.path = p;
    Ok(r)
}
