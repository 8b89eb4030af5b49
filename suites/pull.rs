//! Pull bucket (spec §pull).

use super::common::*;
use crate::prelude::*;

pub const V2_BASE: CheckMeta = CheckMeta::new("pull.api.v2-base", Bucket::Pull, Level::Must, "determining-support", "GET /v2/ answers 200 OK");

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario { name: "pull.api", bucket: Bucket::Pull, checks: vec![&V2_BASE], run: |sc| Box::pin(api(sc)) }]
}

async fn api(mut sc: Sc) {
    sc.check(&V2_BASE, async |ck| {
        let r = ck.send(Request::get("/v2/")).await?;
        ck.expect_status(&r, &[200], "If the response is 200 OK, then the registry implements this specification")
    })
    .await;
}
