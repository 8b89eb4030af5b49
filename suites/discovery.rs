//! discovery bucket.

use crate::prelude::*;

pub fn scenarios() -> Vec<Scenario> {
    let _ = Bucket::ContentDiscovery;
    vec![]
}
