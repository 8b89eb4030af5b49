//! results.json: the run record as `results::ResultsFile` (`summary` and `tests` as DEVELOPERS.md
//! fixes them, plus run metadata and `coverage`).

use super::RunRecord;
use crate::events::RunSummary;
use crate::results::{ResultsFile, Summary};

pub fn file(r: &RunRecord) -> ResultsFile {
    let i = &r.info;
    ResultsFile {
        tool: i.tool.clone(),
        version: i.version.clone(),
        spec_version: i.spec_version.as_str().to_string(),
        seed: Some(i.seed),
        registry: i.registry.clone(),
        embedded: i.embedded,
        started_at: i.started_at.clone(),
        command: i.command.clone(),
        config: i.config.clone(),
        warnings: i.warnings.clone(),
        notes: r.notes.clone(),
        summary: Summary {
            run: RunSummary { counts: r.counts(), exit_code: r.exit_code(), ..r.summary.as_ref().clone() },
            status: r.status().as_str().to_string(),
            buckets: r.buckets().into_iter().map(|(b, c)| (b.as_str().to_string(), c)).collect(),
        },
        tests: r.results.iter().map(|t| t.as_ref().clone()).collect(),
        coverage: r.coverage.clone(),
        path: Default::default(),
    }
}

pub fn render(r: &RunRecord) -> String {
    serde_json::to_string_pretty(&file(r)).unwrap_or_default()
}
