//! Large blobs (`--large-blob-size`): pushed monolithically and in chunks, pulled back and
//! verified, all streamed: generated from the seed as sent, hashed as received.

use super::common::*;
use crate::prelude::*;

const POST_RULE: Rule = Rule::req("push.post-put.post-202");
const CLOSE_RULE: Rule = Rule::req("push.post-put.put-201");
const PATCH_RULE: Rule = Rule::req("push.chunked.patch-accepted");
const CHUNKED_CLOSE_RULE: Rule = Rule::req("push.chunked.close-201");
const PULL_RULE: Rule = Rule::req("pull.blob.get-200");

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(Bucket::Push);

    "large.blob" => large {
        pub const PUSH_MONOLITHIC = CheckMeta::new(
            "push.large.monolithic",
            Bucket::Push,
            Level::Must,
            "post-then-put",
            "a large blob pushed with POST + one streamed PUT is stored",
        ).reqs(&["push.post-put.post-202", "push.post-put.put-201"]);
        pub const PULL = CheckMeta::new(
            "pull.large.get",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "a large blob is pulled back byte-exact",
        ).reqs(&["pull.blob.get-200"]);
        pub const PUSH_CHUNKED = CheckMeta::new(
            "push.large.chunked",
            Bucket::Push,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "a large blob pushed in chunks is stored",
        ).reqs(&["pull.blob.get-200", "push.post-put.post-202", "push.chunked.patch-accepted", "push.chunked.close-201"]);
    }
}

async fn large(mut sc: Sc) {
    let Some(size) = sc.cfg().large_blob_size else {
        return;
    };
    let ns = sc.ns().to_string();
    let mono = sc.gen.blob("large-mono", size);
    let chunked = sc.gen.blob("large-chunked", size);
    let cleanup = &sc.ctx.clone().cleanup;
    sc.check(&PUSH_MONOLITHIC, async |ck| {
        let r = send(ck, Request::post(uploads_path(&ns))).await?;
        ck.expect_status(
            &r,
            &[202],
            POST_RULE,
        )?;
        let loc = expect_location(
            ck,
            &r,
            POST_RULE,
        )?;
        let r = send(ck, put_whole(&loc, &mono.digest().to_string(), &mono)).await?;
        ck.expect_status(&r, &[201], CLOSE_RULE)?;
        cleanup.blob(&ns, &mono.digest().to_string());
        Ok(())
    })
    .await;
    sc.check_after(&PUSH_MONOLITHIC, &PULL, async |ck| {
        let r = send(ck, get_blob(&ns, mono.digest())).await?;
        expect_blob_body(ck, &r, &mono, PULL_RULE)
    })
    .await;
    sc.check(&PUSH_CHUNKED, async |ck| {
        let r = send(
            ck,
            Request::post(uploads_path(&ns)).header("Content-Length", "0"),
        )
        .await?;
        ck.expect_status(
            &r,
            &[202],
            POST_RULE,
        )?;
        let mut loc = expect_location(
            ck,
            &r,
            POST_RULE,
        )?;
        let step = chunk_size(chunk_min_length(&r).ok().flatten(), 32 << 20);
        let mut pos = 0;
        while pos < chunked.len {
            let end = (pos + step).min(chunked.len);
            let r = send(ck, patch_chunk(&loc, &chunked, pos, end)).await?;
            ck.expect_status(
                &r,
                &[202],
                PATCH_RULE,
            )?;
            loc = expect_location(
                ck,
                &r,
                PATCH_RULE,
            )?;
            pos = end;
            // keep the trace short: one entry per chunk is plenty for a report
            if ck.trace.len() > 8 {
                ck.trace.take();
            }
        }
        let r = send(
            ck,
            put_close(&loc, &chunked.digest().to_string(), &chunked, None),
        )
        .await?;
        ck.expect_status(
            &r,
            &[201],
            CHUNKED_CLOSE_RULE,
        )?;
        cleanup.blob(&ns, &chunked.digest().to_string());
        let r = send(ck, get_blob(&ns, chunked.digest())).await?;
        expect_blob_body(ck, &r, &chunked, PULL_RULE)
    })
    .await;
}
