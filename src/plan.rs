//! Which checks run: the scenarios the binary hands in, filtered by bucket, --filter and --skip.

use crate::config::Config;
use crate::model::CheckMeta;
use crate::runner::Scenario;

/// The checks `scenarios` declare, in report order (bucket order, then declaration order).
pub fn checks_of(scenarios: &[Scenario]) -> Vec<&'static CheckMeta> {
    let mut v: Vec<&'static CheckMeta> = scenarios.iter().flat_map(|s| s.checks.iter().copied()).collect();
    let mut seen = std::collections::HashSet::new();
    v.retain(|m| seen.insert(m.id));
    v.sort_by_key(|m| m.bucket);
    v
}

pub struct Plan {
    pub scenarios: Vec<Scenario>,
    pub checks: Vec<CheckMeta>,
}

/// The scenarios of `source` that have a selected check, and the selected checks.
pub fn plan(cfg: &Config, source: Vec<Scenario>) -> Plan {
    let all = checks_of(&source);
    let scenarios: Vec<Scenario> = source.into_iter().filter(|s| s.checks.iter().any(|m| cfg.selects(m.id, m.bucket))).collect();
    let planned: std::collections::HashSet<&str> = scenarios.iter().flat_map(|s| s.checks.iter().map(|m| m.id)).collect();
    let checks: Vec<CheckMeta> = all.into_iter().filter(|m| planned.contains(m.id) && cfg.selects(m.id, m.bucket)).copied().collect();
    Plan { scenarios, checks }
}
