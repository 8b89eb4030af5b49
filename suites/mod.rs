//! The checks, one module per bucket. Each check is a `CheckMeta` (id, bucket, level, spec
//! section) beside the code that tests it; scenarios group checks that share setup.

use crate::prelude::*;

pub mod common;
pub mod pull;

/// Every scenario of every bucket. Order here is report order within a bucket.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = vec![];
    v.extend(pull::scenarios());
    v
}
