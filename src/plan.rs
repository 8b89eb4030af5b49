//! Which checks run: the suites' scenarios filtered by bucket, --filter and --skip.

use crate::config::Config;
use crate::model::{Bucket, CheckMeta};
use crate::runner::Scenario;

/// Every check in report order (bucket order, then declaration order).
pub fn all_checks() -> Vec<&'static CheckMeta> {
    let mut v: Vec<&'static CheckMeta> = crate::suites::scenarios()
        .into_iter()
        .flat_map(|s| s.checks)
        .collect();
    let mut seen = std::collections::HashSet::new();
    v.retain(|m| seen.insert(m.id));
    v.sort_by_key(|m| m.bucket);
    v
}

pub fn scenario_bucket(name: &str) -> Option<Bucket> {
    crate::suites::scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.bucket)
}

pub struct Plan {
    pub scenarios: Vec<Scenario>,
    pub checks: Vec<CheckMeta>,
}

pub fn plan(cfg: &Config) -> Plan {
    // Read-only mode replaces the pushing scenarios with ones that read preloaded content.
    let source = if cfg.read_only.is_some() { crate::suites::readonly::scenarios() } else { crate::suites::scenarios() };
    let scenarios: Vec<Scenario> = source.into_iter().filter(|s| s.checks.iter().any(|m| cfg.selects(m.id, m.bucket))).collect();
    let planned: std::collections::HashSet<&str> = scenarios.iter().flat_map(|s| s.checks.iter().map(|m| m.id)).collect();
    let checks: Vec<CheckMeta> = all_checks().into_iter().filter(|m| planned.contains(m.id) && cfg.selects(m.id, m.bucket)).copied().collect();
    Plan { scenarios, checks }
}
