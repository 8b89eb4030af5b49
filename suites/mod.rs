//! The checks, one module per bucket. Each check is declared once, as a `CheckMeta` (id,
//! bucket, level, spec section, title, the spec versions it applies to and the requirement ids
//! it tests) inside the `declare_checks!` block of the scenario that runs it (`declare`);
//! scenarios group checks that share setup. This
//! module is what the binary hands the engine: the scenarios, the plan for a configuration,
//! and the citer.

pub mod catalog;
pub mod clients;
pub mod common;
mod declare;
pub mod discovery;
pub mod large;
pub mod management;
pub mod pull;
pub mod push;
pub mod readonly;
pub mod referrers;
pub mod stress;
pub mod workflows;

use crate::config::Config;
use crate::model::CheckMeta;
use crate::plan::Plan;
use crate::runner::Scenario;

/// Every scenario of every bucket. Order here is report order within a bucket.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = vec![];
    v.extend(pull::scenarios());
    v.extend(push::scenarios());
    v.extend(discovery::scenarios());
    v.extend(management::scenarios());
    v.extend(referrers::scenarios());
    v.extend(large::scenarios());
    v.extend(clients::scenarios());
    v.extend(stress::scenarios());
    // Last: it judges the answers every other check received.
    v.extend(pull::run_wide_scenarios());
    v
}

/// Every declared check, in report order.
pub fn checks() -> Vec<&'static CheckMeta> {
    crate::plan::checks_of(&scenarios())
}

/// What a run with `cfg` runs: read-only mode replaces the pushing scenarios with ones that
/// read preloaded content.
pub fn plan(cfg: &Config) -> Plan {
    let source = if cfg.read_only.is_some() { readonly::scenarios() } else { scenarios() };
    crate::plan::plan(cfg, source)
}
