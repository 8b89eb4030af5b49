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
pub mod stress;
pub mod workflows;

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
    v.push(pull::run_wide_scenario());
    v
}
