//! results.yaml of a submission: the official suite's workflows (suites/workflows.rs) with a
//! status each, derived from our checks the way the official suite derives its own: every
//! check gets a status and a workflow takes the highest (Disabled < Skip < Pass < FAIL < Error).
//!
//! A check's status:
//! - passed → Pass; warned → Pass (a SHOULD not met breaks no MUST; report.html lists it);
//! - unsupported → Skip (the registry declined an optional feature at run time, as the official
//!   suite's Skip);
//! - skipped → Disabled (not part of this run: spec version, filters, --name-checks), except a
//!   check skipped because its scenario's setup failed → FAIL (the registry could not do what
//!   the workflow needs), and one not judged for refused credentials → Error;
//! - failed and expected-failure → FAIL (an expectations file does not change what the registry
//!   did); not-run → Error.
//!
//! The generator of the OCI site stops the whole site build on any other value, so statuses are
//! an enum and the names come from a fixed table.

use crate::diff::{RunResults, TestRow};
use crate::model::Outcome;
use crate::model::{Section, Workflow};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Disabled,
    Skip,
    Pass,
    Fail,
    Error,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Disabled, Status::Skip, Status::Pass, Status::Fail, Status::Error];
    /// As results.yaml spells it (what the site's generator accepts).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Disabled => "Disabled",
            Status::Skip => "Skip",
            Status::Pass => "Pass",
            Status::Fail => "FAIL",
            Status::Error => "Error",
        }
    }
}

/// One check's status; `failed_setups` holds the messages of failed `<scenario>.setup` rows.
pub fn check_status(t: &TestRow, failed_setups: &HashSet<&str>) -> Status {
    match t.outcome {
        Outcome::Passed | Outcome::Warned => Status::Pass,
        Outcome::Unsupported => Status::Skip,
        Outcome::Failed | Outcome::ExpectedFailure => Status::Fail,
        Outcome::NotRun => Status::Error,
        Outcome::Skipped if t.message.starts_with(crate::model::REFUSED) => Status::Error,
        Outcome::Skipped if failed_setups.contains(t.message.as_str()) => Status::Fail,
        Outcome::Skipped => Status::Disabled,
    }
}

/// Every workflow with its status, in table order. A workflow none of whose checks is in the
/// results (all filtered out) is Disabled.
pub fn statuses(r: &RunResults, workflows: &[Workflow]) -> Vec<(Section, &'static str, Status)> {
    let failed_setups: HashSet<&str> = r
        .tests
        .iter()
        .filter(|t| t.id.ends_with(".setup") && matches!(t.outcome, Outcome::Failed | Outcome::ExpectedFailure))
        .map(|t| t.message.as_str())
        .collect();
    let by_id: BTreeMap<&str, &TestRow> = r.tests.iter().map(|t| (t.id.as_str(), t)).collect();
    workflows
        .iter()
        .map(|w| {
            let s = w
                .checks
                .iter()
                .filter_map(|id| by_id.get(id))
                .map(|t| check_status(t, &failed_setups))
                .max()
                .unwrap_or(Status::Disabled);
            (w.section, w.name, s)
        })
        .collect()
}

/// results.yaml text: `config:` (the run's redacted settings, with tool, version and seed),
/// then `apis:` and `data:` maps from workflow name to status.
pub fn render(r: &RunResults, workflows: &[Workflow]) -> Result<String, String> {
    use serde_yaml::{Mapping, Value};
    let mut config = Mapping::new();
    let mut put = |k: &str, v: String| {
        config.insert(Value::String(k.into()), Value::String(v));
    };
    put("tool", r.tool.clone());
    put("tool_version", r.version.clone());
    put("spec_version", r.spec_version.clone());
    put("seed", r.seed.map(|s| s.to_string()).unwrap_or_default());
    put("registry", r.registry.clone());
    // A run of the harness's own embedded registry is no result for a product: said here too.
    put("embedded", r.embedded.to_string());
    for (k, v) in &r.config {
        if !matches!(k.as_str(), "registry" | "seed" | "spec_version") {
            put(k, v.clone());
        }
    }
    let mut apis = Mapping::new();
    let mut data = Mapping::new();
    for (section, name, status) in statuses(r, workflows) {
        let m = match section {
            Section::Apis => &mut apis,
            Section::Data => &mut data,
        };
        m.insert(Value::String(name.into()), Value::String(status.as_str().into()));
    }
    let mut top = Mapping::new();
    top.insert("config".into(), Value::Mapping(config));
    top.insert("apis".into(), Value::Mapping(apis));
    top.insert("data".into(), Value::Mapping(data));
    serde_yaml::to_string(&Value::Mapping(top)).map_err(|e| format!("cannot write results.yaml: {e}"))
}
