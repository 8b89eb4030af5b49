//! push bucket.

use crate::prelude::*;

pub fn scenarios() -> Vec<Scenario> {
    let _ = Bucket::Push;
    vec![]
}
