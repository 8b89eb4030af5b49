//! The checks, one module per bucket. Each check is a `CheckMeta` (id, bucket, level, spec
//! section) beside the code that tests it; scenarios group checks that share setup.

pub mod catalog;
pub mod clients;
pub mod common;
pub mod discovery;
pub mod large;
pub mod management;
pub mod pull;
pub mod push;
pub mod readonly;
pub mod referrers;
pub mod workflows;

use crate::runner::Scenario;

/// Every scenario of every bucket. Order here is report order within a bucket.
/// Scenarios that take longest against real registries (a 4 MiB and a 16 MiB manifest push;
/// many small uploads), started first.
const SLOWEST: &[&str] = &["push.manifest-limits", "push.mount", "push.chunked"];

pub fn scenarios() -> Vec<Scenario> {
    let mut v = vec![];
    v.extend(pull::scenarios());
    v.extend(push::scenarios());
    v.extend(discovery::scenarios());
    v.extend(management::scenarios());
    v.extend(referrers::scenarios());
    v.extend(large::scenarios());
    v.extend(clients::scenarios());
    // Longest first: the runner starts scenarios in this order (--jobs at a time), so the
    // slowest ones overlap the rest instead of ending the run alone. Order never changes a
    // verdict (each scenario owns its content and repositories).
    v.sort_by_key(|s| !SLOWEST.contains(&s.name));
    // Last: it judges the answers every other check received.
    v.push(pull::run_wide_scenario());
    v
}
