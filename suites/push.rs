//! Push bucket (spec §push): blob uploads every way the spec allows (POST+PUT, single POST,
//! chunked, streamed, mounts), their error answers, and manifest pushes.
//!
//! Scenarios (independent, run concurrently): `push.monolithic`, `push.chunked`,
//! `push.chunk-order`, `push.upload-misc`, `push.digests`, `push.mount`, `push.manifests`,
//! `push.manifest-limits`. Blob bodies are generated while sent and hashed while read back.

use super::common::*;
use crate::prelude::*;
use crate::runner::RunCtx;
use std::sync::Arc;

const B: Bucket = Bucket::Push;
const MIB: u64 = 1 << 20;

// Spec sentences the checks quote.
const R_POST: Rule = Rule::req("push.post-put.post-202");
const R_PUT_201: Rule = Rule::req("push.post-put.put-201");
const R_PUT_LOC: Rule = Rule::req("push.post-put.location-pullable");
const R_SINGLE_201: Rule = Rule::req("push.single-post.created-201");
const R_SINGLE_LOC: Rule = Rule::req("push.single-post.location-pullable");
const R_SINGLE_202: Rule = Rule::req("push.single-post.fallback-202");
const R_PATCH: Rule = Rule::req("push.chunked.patch-accepted");
const R_CLOSE: Rule = Rule::req("push.chunked.close-201");
const R_CLOSE_LOC: Rule = Rule::req("push.chunked.location-pullable");
const R_FINAL_CHUNK: Rule = Rule::req("push.chunked.final-chunk-either");
const R_STATUS: Rule = Rule::req("push.chunked.upload-status-204");
const R_416: Rule = Rule::req("push.chunked.patch-out-of-order-416");
const R_FINAL_416: Rule = Rule::req("push.chunked.put-out-of-order-416");
const R_MIN: Rule = Rule::req("push.chunked.min-length-header");
const R_MIN_USE: Rule = Rule::req("push.chunked.min-length-use");
const R_CANCEL: Rule = Rule::req("push.cancel.delete-204");
const R_CANCEL_GONE: &str = "end-13: GET `<blob-push-location>` answers `204` for an active upload, `404` otherwise; code-3 `BLOB_UPLOAD_UNKNOWN`: blob upload unknown to registry";
const R_DIGEST_DEF: &str = "**Digest**: a unique identifier created from a cryptographic hash of a Blob's content (code-4 `DIGEST_INVALID`: provided digest did not match uploaded content)";
const R_SHA256_VERIFY: Rule = Rule::req("image.digest.sha256-verification");
const R_DIGEST_400: Rule = Rule::req("push.blob.invalid-digest-400");
const R_CODE_DIGEST: &str =
    "code-4 `DIGEST_INVALID`: provided digest did not match uploaded content";
const R_MOUNT_201: Rule = Rule::req("push.mount.created-201");
const R_MOUNT_202: Rule = Rule::req("push.mount.fallback-202");
const R_MANIFEST_201: Rule = Rule::req("push.manifest.created-201");
const R_MANIFEST_LOC: Rule = Rule::req("push.manifest.location-pullable");
const R_MANIFEST_DCD: Rule = Rule::req("push.manifest.digest-header-equal");
const R_NO_LAYERS: Rule = Rule::req("push.manifest.blobs-may-be-empty");
const R_MISSING: Rule = Rule::req("push.manifest.missing-refs-code");
const R_TAG_PARAM: Rule = Rule::req("push.manifest.tag-param-oci-tag");
const R_SESSION: Rule = Rule::req("push.post-put.session-id");
const R_SESSION_V11: Rule = Rule::req("push.post-put.session-id");
const R_CT_PARAMS: Rule = Rule::req("push.manifest.content-type-params-ignored");
const R_CT_PARAMS_KEPT: Rule = Rule::req("pull.manifest.content-type-no-params");
const R_TAG_10: Rule = Rule::req("push.manifest.tag-param-10");
const R_TAG_414: Rule = Rule::req("push.manifest.tag-param-414");
const R_4MB: Rule = Rule::req("push.manifest.size-4mb");
const R_LIMIT: Rule = Rule::req("push.manifest.size-limit");
const R_413: Rule = Rule::req("push.manifest.size-limit-413");

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(B);

    "push.monolithic" => monolithic {
        pub const POST_202 = CheckMeta::new(
            "push.upload.post-202",
            B,
            Level::Must,
            "post-then-put",
            "POST /blobs/uploads/ answers 202 with a Location",
        ).reqs(&["push.post-put.post-202", "push.post-put.location-forms"]);
        pub const MONO_PUT = CheckMeta::new(
            "push.monolithic.put-201",
            B,
            Level::Must,
            "post-then-put",
            "a monolithic PUT ?digest= answers 201 and the blob is pullable",
        ).reqs(&["push.post-put.location-query", "push.post-put.put-201"]);
        pub const MONO_LOCATION = CheckMeta::new(
            "push.monolithic.location-pullable",
            B,
            Level::Must,
            "post-then-put",
            "the Location of the closing PUT is a pullable blob URL",
        ).reqs(&["push.post-put.location-pullable"]);
        pub const SINGLE_POST = CheckMeta::new(
            "push.monolithic.single-post",
            B,
            Level::May,
            "single-post",
            "a single POST ?digest= with the body uploads the blob (or falls back to 202)",
        ).reqs(&["push.single-post.optional", "push.single-post.fallback-202", "push.single-post.created-201", "push.single-post.location-pullable"]);
    }

    "push.chunked" => chunked {
        pub const PATCH_202 = CheckMeta::new(
            "push.chunked.patch-202",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "each PATCH chunk answers 202 with Location and Range: 0-<end>",
        ).reqs(&["push.post-put.location-query", "push.chunked.patch-accepted"]);
        pub const STATUS_204 = CheckMeta::new(
            "push.chunked.status-204",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "GET on an active upload answers 204 with Location and Range",
        )
        .since(SpecVersion::V1_1).reqs(&["push.chunked.upload-status-204"]);
        pub const CHUNKED_PUT = CheckMeta::new(
            "push.chunked.put-201",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "the closing PUT of a chunked upload answers 201 and the blob is correct",
        ).reqs(&["push.chunked.final-any-length", "push.chunked.final-chunk-either", "push.chunked.close-201", "push.chunked.location-pullable"]);
        pub const FINAL_IN_PUT = CheckMeta::new(
            "push.chunked.final-chunk-in-put",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "the last chunk sent in the closing PUT completes the upload",
        ).reqs(&["push.chunked.final-chunk-either", "push.chunked.close-201"]);
        pub const MIN_LENGTH = CheckMeta::new(
            "push.chunked.min-length",
            B,
            Level::Should,
            "pushing-a-blob-in-chunks",
            "OCI-Chunk-Min-Length, when given, is a positive integer and chunks of that size are accepted",
        )
        .since(SpecVersion::V1_1).reqs(&["push.chunked.min-length-header", "push.chunked.min-length-use", "push.chunked.final-any-length"]);
        pub const STATUS_ANY_LOCATION = CheckMeta::new(
            "push.chunked.status-any-location",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "GET on the Location of any earlier POST or PATCH of an active upload answers 204 with the current Range",
        )
        .since(SpecVersion::V1_1).reqs(&["push.chunked.upload-status-204"]);
    }

    "push.chunk-order" => chunk_order {
        pub const OUT_OF_ORDER = CheckMeta::new(
            "push.chunked.out-of-order-416",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "a PATCH chunk not starting at end+1 answers 416",
        ).reqs(&["push.chunked.patch-out-of-order-416"]);
        pub const FINAL_OUT_OF_ORDER = CheckMeta::new(
            "push.chunked.final-out-of-order-416",
            B,
            Level::Must,
            "pushing-a-blob-in-chunks",
            "a closing PUT with an out-of-order final chunk answers 416",
        ).reqs(&["push.chunked.patch-out-of-order-416", "push.chunked.put-out-of-order-416"]);
    }

    "push.upload-misc" => upload_misc {
        pub const SESSION_UNIQUE = CheckMeta::new(
            "push.upload.session-unique",
            B,
            Level::Must,
            "post-then-put",
            "two upload sessions started one after the other get two different Locations",
        ).reqs(&["push.post-put.session-id"]);
        pub const STREAMED = CheckMeta::new(
            "push.streamed.patch",
            B,
            Level::May,
            "pushing-a-blob-in-chunks",
            "a PATCH without Content-Range (streamed) then PUT uploads the blob",
        ).reqs(&["push.streamed.patch-202"]);
        pub const CANCEL = CheckMeta::new(
            "push.upload.cancel",
            B,
            Level::Should,
            "cancel-a-blob-upload",
            "DELETE on an upload answers 204 and ends the session",
        )
        .since(SpecVersion::Main).reqs(&["push.cancel.delete-204"]);
    }

    "push.digests" => digests {
        pub const DIGEST_MISMATCH = CheckMeta::new(
            "push.digest.mismatch",
            B,
            Level::Must,
            "pushing-blobs",
            "a PUT whose digest does not match the body is refused (400 DIGEST_INVALID)",
        ).reqs(&["pull.blob.get-200", "push.blob.invalid-digest-400", "errors.code.table", "image.digest.sha256-verification"]);
        pub const DIGEST_INVALID = CheckMeta::new(
            "push.digest.invalid-400",
            B,
            Level::Should,
            "pushing-blobs",
            "a PUT with a malformed digest is refused (400)",
        )
        .since(SpecVersion::V1_1).reqs(&["push.blob.invalid-digest-400", "image.digest.sha256-verification"]);
        pub const SHA512 = CheckMeta::new(
            "push.digest.sha512",
            B,
            Level::May,
            "pushing-a-blob-in-chunks",
            "a blob pushed with a sha512 digest is pullable by it",
        )
        .since(SpecVersion::V1_1).reqs(&["push.blob.invalid-digest-400", "image.digest.sha512-optional"]);
    }

    "push.manifest-digest" => manifest_digest {
        pub const MANIFEST_DIGEST_MISMATCH = CheckMeta::new(
            "push.manifest.digest-mismatch",
            B,
            Level::Must,
            "pushing-manifests",
            "a manifest PUT under a digest its bytes do not hash to is refused, and nothing is served under that digest",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.digest-header-equal", "image.digest.sha256-verification"]);
    }

    "push.mount" => mount {
        pub const MOUNT_FROM = CheckMeta::new(
            "push.mount.from",
            B,
            Level::Must,
            "mounting-a-blob-from-another-repository",
            "mount with from= answers 201 and the blob is in the target repository",
        ).reqs(&["push.mount.created-201", "push.mount.digest-header-may-differ", "push.mount.fallback-202"]);
        pub const MOUNT_NO_FROM = CheckMeta::new(
            "push.mount.without-from",
            B,
            Level::May,
            "mounting-a-blob-from-another-repository",
            "mount without from= answers 201 (mounted) or 202 (upload session)",
        ).reqs(&["push.mount.created-201", "push.mount.from-optional", "push.mount.fallback-202"]);
        pub const MOUNT_SHA512 = CheckMeta::new(
            "push.mount.sha512",
            B,
            Level::Must,
            "mounting-a-blob-from-another-repository",
            "a sha512 blob mounted with 201 is served at its Location and Docker-Content-Digest",
        )
        .since(SpecVersion::V1_1).reqs(&["push.mount.created-201", "push.mount.digest-header-may-differ", "image.digest.sha512-optional"]);
        pub const MOUNT_UNKNOWN = CheckMeta::new(
            "push.mount.unknown-blob",
            B,
            Level::Should,
            "mounting-a-blob-from-another-repository",
            "mount of a blob that exists nowhere answers 202",
        ).reqs(&["push.mount.fallback-202"]);
    }

    "push.manifests" => manifests {
        pub const MANIFEST_TAG = CheckMeta::new(
            "push.manifest.put-by-tag",
            B,
            Level::Must,
            "pushing-manifests",
            "PUT a manifest by tag answers 201 with a Location",
        ).reqs(&["push.manifest.reference-forms", "push.manifest.created-201"]);
        pub const MANIFEST_DIGEST = CheckMeta::new(
            "push.manifest.put-by-digest",
            B,
            Level::Must,
            "pushing-manifests",
            "PUT a manifest by digest answers 201 with a Location",
        ).reqs(&["push.manifest.reference-forms", "push.manifest.created-201"]);
        pub const MANIFEST_DCD = CheckMeta::new(
            "push.manifest.digest-header",
            B,
            Level::Must,
            "pushing-manifests",
            "Docker-Content-Digest of a manifest PUT is the digest of the pushed bytes",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.digest-header-equal"]);
        pub const MANIFEST_LOCATION = CheckMeta::new(
            "push.manifest.location",
            B,
            Level::Must,
            "pushing-manifests",
            "the Location of a manifest PUT is pullable",
        ).reqs(&["push.manifest.location-pullable"]);
        pub const MANIFEST_EXACT = CheckMeta::new(
            "push.manifest.exact-bytes",
            B,
            Level::Must,
            "pushing-manifests",
            "a manifest with odd whitespace, key order and custom fields comes back byte for byte",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.exact-bytes-stored", "image.descriptor.no-data-injection"]);
        pub const MANIFEST_INDEX = CheckMeta::new(
            "push.manifest.index",
            B,
            Level::Must,
            "pushing-manifests",
            "an image index and an index of indexes are accepted",
        ).reqs(&["push.manifest.created-201"]);
        pub const MANIFEST_ARTIFACT = CheckMeta::new(
            "push.manifest.artifact",
            B,
            Level::Must,
            "pushing-manifests",
            "an artifact manifest (artifactType, empty config) is accepted and pullable",
        ).reqs(&["push.manifest.created-201", "image.manifest.unknown-artifact-type", "image.manifest.unknown-config-media-type", "image.manifest.unknown-layer-media-type"]);
        pub const MANIFEST_NO_LAYERS = CheckMeta::new(
            "push.manifest.no-layers",
            B,
            Level::Must,
            "pushing-manifests",
            "an image manifest with an empty layers list is accepted",
        ).reqs(&["push.manifest.blobs-may-be-empty", "push.manifest.created-201"]);
        pub const MANIFEST_CT_PARAMS = CheckMeta::new(
            "push.manifest.content-type-params",
            B,
            Level::Should,
            "pushing-manifests",
            "a manifest PUT whose Content-Type carries parameters is accepted and stored as sent",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.content-type-params-ignored", "push.manifest.exact-bytes-stored"]);
    }

    "push.manifest-limits" => manifest_limits {
        pub const MANIFEST_MISSING = CheckMeta::new(
            "push.manifest.missing-blobs",
            B,
            Level::Must,
            "push",
            "a manifest referencing a missing blob is accepted or refused with MANIFEST_BLOB_UNKNOWN",
        ).reqs(&["push.manifest.missing-refs-may-reject", "push.manifest.missing-refs-code", "push.manifest.missing-blobs-v1-0"]);
        pub const TAG_PARAM = CheckMeta::new(
            "push.manifest.tag-param",
            B,
            Level::May,
            "pushing-manifests",
            "PUT by digest with ?tag= creates the tags listed in OCI-Tag",
        )
        .since(SpecVersion::Main).reqs(&["push.manifest.tag-param-optional", "push.manifest.tag-param-oci-tag"]);
        pub const TAG_PARAM_10 = CheckMeta::new(
            "push.manifest.tag-param-10",
            B,
            Level::Should,
            "pushing-manifests",
            "PUT by digest with 10 ?tag= parameters creates all 10 tags and lists them in OCI-Tag",
        )
        .since(SpecVersion::Main).reqs(&["push.manifest.tag-param-10", "push.manifest.tag-param-414", "push.manifest.tag-param-oci-tag"]);
        pub const SIZE_4MB = CheckMeta::new(
            "push.manifest.size-4mib",
            B,
            Level::Should,
            "pushing-manifests",
            "a 4 MB manifest is accepted",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.size-4mb"]);
        pub const TOO_LARGE = CheckMeta::new(
            "push.manifest.too-large-413",
            B,
            Level::Should,
            "pushing-manifests",
            "a 16 MiB manifest is refused with 413",
        )
        .since(SpecVersion::V1_1).reqs(&["push.manifest.size-limit", "push.manifest.size-limit-413"]);
    }
}

// ---- helpers local to the push bucket ----

/// HEAD and GET the blob by digest: 200, right length and content. Violations of `rule`.
async fn expect_stored(ck: &mut Ck, repo: &str, blob: &Blob, rule: impl Into<Rule> + Copy) -> Res {
    let r = ck.send(head_blob(repo, blob.digest())).await?;
    ck.expect_status(&r, &[200], rule)?;
    let r = ck.send(get_blob(repo, blob.digest())).await?;
    expect_blob_body(ck, &r, blob, rule)
}

/// The `Range: 0-<end>` header of an upload response. The spec's form is `0-<end>`; a
/// `bytes=0-<end>` form is accepted with a note (clients parse both).
fn expect_range(ck: &mut Ck, r: &Response, end: u64, rule: impl Into<Rule> + Copy) -> Res {
    let v = ck.expect_header(r, "range", rule)?.trim().to_string();
    if v == format!("0-{end}") {
        return Ok(());
    }
    if headers::parse_range(&v) == Some((0, end)) {
        ck.note(format!(
            "{} answered Range: {v} (the spec's form is 0-{end})",
            r.request
        ));
        return Ok(());
    }
    Err(ck.fail(
        rule,
        format!(
            "{} answered Range: {v}; {} bytes have been uploaded, so expected 0-{end}",
            r.request,
            end + 1
        ),
    ))
}

/// PATCHes `blob[from..to)` in chunks of `cs` bytes, each judged by `R_PATCH` (202, Location,
/// Range 0-<end> from 1.1 on); each PATCH goes to the Location of the previous answer.
/// Returns the last.
async fn patch_chunks(
    ck: &mut Ck,
    v: SpecVersion,
    mut loc: String,
    blob: &Blob,
    from: u64,
    to: u64,
    cs: u64,
) -> Res<String> {
    let mut pos = from;
    while pos < to {
        let end = (pos + cs).min(to);
        let r = ck.send(patch_chunk(&loc, blob, pos, end)).await?;
        ck.expect_status(&r, &[202], R_PATCH)?;
        loc = expect_location(ck, &r, R_PATCH)?;
        // v1.0.1: "Each successful chunk upload MUST have a 202 Accepted response code, and
        // MUST have the following header: Location"; Range came with 1.1.
        if v >= SpecVersion::V1_1 || r.header("range").is_some() {
            expect_range(ck, &r, end - 1, R_PATCH)?;
        }
        pos = end;
    }
    Ok(loc)
}

/// Chunk size for an upload whose POST answered `post` (honours OCI-Chunk-Min-Length).
fn chunk_for(ck: &mut Ck, post: &Response, want: u64) -> u64 {
    let min = chunk_min_length(post).ok().flatten();
    if let Some(m) = min {
        if m > CHUNK_CAP {
            ck.note(format!("OCI-Chunk-Min-Length {m} is above the harness cap of {CHUNK_CAP} bytes; chunks of {CHUNK_CAP} bytes were sent"));
        }
    }
    chunk_size(min, want)
}

/// A missing Location on a manifest PUT is judged by push.manifest.put-by-*; others only note it.
fn note_no_location(ck: &mut Ck, r: &Response) {
    if location(r).is_none() {
        ck.note(format!(
            "{} answered 201 without a Location (judged by push.manifest.put-by-tag/-digest)",
            r.request
        ));
    }
}

fn hashed_get(url: String, alg: Algorithm) -> Request {
    Request::get(url).read(Read::Hash(alg))
}

// ---- push.monolithic ----

async fn monolithic(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let blob = sc.gen.blob("monolithic", 3 * MIB + 1234);
    let single = sc.gen.blob("single-post", MIB + 4321);
    let mut session: Option<String> = None;
    let mut blob_loc: Option<String> = None;

    sc.check(&POST_202, async |ck| {
        let r = ck.send(Request::post(uploads_path(&repo))).await?;
        ck.expect_status(&r, &[202], R_POST)?;
        session = Some(expect_location(ck, &r, R_POST)?);
        Ok(())
    })
    .await;

    sc.check_after(&POST_202, &MONO_PUT, async |ck| {
        let loc = session.clone().unwrap_or_default();
        let d = blob.digest().to_string();
        let r = ck.send(put_whole(&loc, &d, &blob)).await?;
        ck.expect_status(&r, &[201], R_PUT_201)?;
        ctx.cleanup.blob(&repo, &d);
        blob_loc = Some(expect_location(ck, &r, R_PUT_201)?);
        expect_stored(ck, &repo, &blob, R_PUT_201).await
    })
    .await;

    sc.check_after(&MONO_PUT, &MONO_LOCATION, async |ck| {
        let r = ck
            .send(hashed_get(
                blob_loc.clone().unwrap_or_default(),
                blob.algorithm,
            ))
            .await?;
        expect_blob_body(ck, &r, &blob, R_PUT_LOC)
    })
    .await;

    sc.check(&SINGLE_POST, async |ck| {
        let d = single.digest().to_string();
        let post = Request::post(with_query(&uploads_path(&repo), "digest", &d))
            .header("Content-Type", "application/octet-stream")
            .body(Body::Blob { blob: single.clone(), start: 0, end: single.len });
        let r = ck.send(post).await?;
        match r.status {
            201 => {
                ctx.cleanup.blob(&repo, &d);
                let loc = expect_location(ck, &r, R_SINGLE_201).map_err(|f| at_level(f, Level::Must))?;
                expect_stored(ck, &repo, &single, R_SINGLE_201).await.map_err(|f| at_level(f, Level::Must))?;
                let g = ck.send(hashed_get(loc, single.algorithm)).await?;
                expect_blob_body(ck, &g, &single, R_SINGLE_LOC).map_err(|f| at_level(f, Level::Must))
            }
            202 => {
                let Some(loc) = location(&r) else {
                    return Err(ck.fail_at(Level::Should, R_SINGLE_202, format!("{} answered {} without a Location to PUT to", r.request, r.summary())));
                };
                let p = ck.send(put_whole(&loc, &d, &single)).await?;
                ck.expect_status(&p, &[201], R_PUT_201).map_err(|f| at_level(f, Level::Must))?;
                ctx.cleanup.blob(&repo, &d);
                expect_stored(ck, &repo, &single, R_PUT_201).await.map_err(|f| at_level(f, Level::Must))?;
                Err(Fail::Unsupported(format!(
                    "single-POST upload not supported: {} answered 202 with a Location and the following PUT completed the upload, as the spec allows",
                    r.request
                )))
            }
            _ => Err(ck.fail_at(Level::Should, R_SINGLE_202, format!("{} answered {}; expected 201 (uploaded) or 202 with a Location (not supported)", r.request, r.summary()))),
        }
    })
    .await;
}

// ---- push.chunked ----

async fn chunked(mut sc: Sc) {
    let v = sc.cfg().spec_version;
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let gen = sc.gen.clone();
    // (upload location, blob) of the session PATCH_202 leaves open for STATUS_204 and CHUNKED_PUT.
    let mut open: Option<(String, Blob)> = None;

    sc.check(&PATCH_202, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, MIB);
        // Two full chunks and a short final one, well above 1 MiB in all.
        let blob = gen.blob(&format!("chunked-{cs}"), 2 * cs + 333);
        let res = patch_chunks(ck, v, loc.clone(), &blob, 0, blob.len, cs).await;
        match res {
            Ok(l) => {
                open = Some((l, blob));
                Ok(())
            }
            Err(e) => {
                abandon_upload(ck, &loc).await;
                Err(e)
            }
        }
    })
    .await;

    sc.check_after(&PATCH_202, &STATUS_204, async |ck| {
        let Some((loc, blob)) = open.as_mut() else {
            return Err(Fail::Skip("no open upload".into()));
        };
        let r = ck.send(Request::get(loc.clone())).await?;
        ck.expect_status(&r, &[204], R_STATUS)?;
        let next = expect_location(ck, &r, R_STATUS)?;
        let end = blob.len - 1;
        expect_range(ck, &r, end, R_STATUS)?;
        // "The following chunk upload SHOULD use the <blob-push-location> provided in the response."
        *loc = next;
        Ok(())
    })
    .await;

    sc.check_after(&PATCH_202, &CHUNKED_PUT, async |ck| {
        let Some((loc, blob)) = open.as_ref() else {
            return Err(Fail::Skip("no open upload".into()));
        };
        let d = blob.digest().to_string();
        let r = ck.send(put_close(loc, &d, blob, None)).await?;
        ck.expect_status(&r, &[201], R_CLOSE)?;
        ctx.cleanup.blob(&repo, &d);
        let bl = expect_location(ck, &r, R_CLOSE)?;
        expect_stored(ck, &repo, blob, R_CLOSE).await?;
        let g = ck.send(hashed_get(bl, blob.algorithm)).await?;
        expect_blob_body(ck, &g, blob, R_CLOSE_LOC)
    })
    .await;
    if let Some((loc, _)) = &open {
        if !sc.passed(&CHUNKED_PUT) {
            abandon_upload(&sc, loc).await;
            sc.setup_trace().take();
        }
    }

    sc.check(&FINAL_IN_PUT, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, MIB);
        let blob = gen.blob(&format!("final-in-put-{cs}"), cs + MIB / 2 + 77);
        let loc = match precondition(
            patch_chunks(ck, v, loc.clone(), &blob, 0, cs, cs).await,
            PATCH_202.id,
        ) {
            Ok(l) => l,
            Err(e) => {
                abandon_upload(ck, &loc).await;
                return Err(e);
            }
        };
        let d = blob.digest().to_string();
        let r = ck
            .send(put_close(&loc, &d, &blob, Some((cs, blob.len))))
            .await?;
        if r.status != 201 {
            abandon_upload(ck, &loc).await;
        }
        ck.expect_status(&r, &[201], R_FINAL_CHUNK)?;
        ctx.cleanup.blob(&repo, &d);
        expect_stored(ck, &repo, &blob, R_FINAL_CHUNK).await
    })
    .await;

    sc.check(&MIN_LENGTH, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let min = match chunk_min_length(&post) {
            Ok(Some(m)) => m,
            Ok(None) => {
                abandon_upload(ck, &loc).await;
                ck.note("no OCI-Chunk-Min-Length header: the registry advertises no minimum chunk size");
                return Ok(());
            }
            Err(raw) => {
                abandon_upload(ck, &loc).await;
                return Err(ck.fail(R_MIN, format!("{} answered OCI-Chunk-Min-Length: {raw:?}, which is not a positive integer size in bytes", post.request)));
            }
        };
        if min > CHUNK_CAP {
            abandon_upload(ck, &loc).await;
            ck.note(format!("OCI-Chunk-Min-Length: {min}; above the harness cap of {CHUNK_CAP} bytes, chunks of that size were not sent"));
            return Ok(());
        }
        // Chunks of exactly the minimum, then a 1-byte final chunk.
        let blob = gen.blob(&format!("min-length-{min}"), 2 * min + 1);
        let res = patch_chunks(ck, v, loc.clone(), &blob, 0, blob.len, min).await;
        let loc = match res {
            Ok(l) => l,
            Err(e) => {
                abandon_upload(ck, &loc).await;
                return Err(match e {
                    Fail::Violation { message, .. } => ck.fail(R_MIN_USE, format!("chunks of exactly OCI-Chunk-Min-Length ({min}) bytes were not accepted: {message}")),
                    e => e,
                });
            }
        };
        let d = blob.digest().to_string();
        let r = ck.send(put_close(&loc, &d, &blob, None)).await?;
        ck.expect_status(&r, &[201], R_CLOSE)?;
        ctx.cleanup.blob(&repo, &d);
        expect_stored(ck, &repo, &blob, R_CLOSE).await?;
        ck.note(format!("OCI-Chunk-Min-Length: {min}; chunks of that size were accepted"));
        Ok(())
    })
    .await;

    // "The `<location>` refers to the URL obtained from any preceding `POST` or `PATCH` request":
    // an earlier Location of a session answers for it as long as it is active, not only the
    // latest (docker-registry 2.8 answers 404 to any but the latest).
    sc.check(&STATUS_ANY_LOCATION, async |ck| {
        let (first, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, 256 << 10);
        let blob = gen.blob(&format!("status-any-location-{cs}"), 2 * cs);
        // locs[0]: the POST's Location, locs[1]: the first PATCH's, locs[2]: the latest.
        let mut locs = vec![first];
        for (from, to) in [(0, cs), (cs, 2 * cs)] {
            let last = locs.last().cloned().unwrap_or_default();
            match precondition(patch_chunks(ck, v, last.clone(), &blob, from, to, cs).await, PATCH_202.id) {
                Ok(l) => locs.push(l),
                Err(e) => {
                    abandon_upload(ck, &last).await;
                    return Err(e);
                }
            }
        }
        let mut found = vec![];
        for (i, from) in [(0, "the POST"), (1, "the first PATCH")] {
            if i == 1 && locs[1] == locs[0] {
                continue;
            }
            let r = ck.send(Request::get(locs[i].clone())).await?;
            let judged = match ck.expect_status(&r, &[204], R_STATUS) {
                Ok(()) => expect_location(ck, &r, R_STATUS).and_then(|_| expect_range(ck, &r, 2 * cs - 1, R_STATUS)),
                Err(e) => Err(e),
            };
            if let Err(Fail::Violation { level, message }) = judged {
                found.push(Fail::Violation { level, message: format!("{message} (a GET on the Location that {from} answered, while the upload is active: the spec's location is the URL obtained from any preceding POST or PATCH request)") });
            } else {
                judged?;
            }
        }
        // The session is still the client's: it closes at the latest Location.
        let d = blob.digest().to_string();
        let r = ck.send(put_close(&locs[2], &d, &blob, None)).await?;
        if r.status == 201 {
            ctx.cleanup.blob(&repo, &d);
            if let Err(e) = expect_stored(ck, &repo, &blob, R_CLOSE).await {
                found.push(e);
            }
        } else {
            abandon_upload(ck, &locs[2]).await;
            found.push(ck.fail(R_CLOSE, format!("after the status GETs on its earlier Locations, the upload could not be closed: {} answered {}", r.request, r.summary())));
        }
        merge_fails(ck, found)
    })
    .await;
}

// ---- push.chunk-order ----

async fn chunk_order(mut sc: Sc) {
    let v = sc.cfg().spec_version;
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let gen = sc.gen.clone();

    sc.check(&OUT_OF_ORDER, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, 256 << 10);
        let blob = gen.blob(&format!("out-of-order-{cs}"), 3 * cs);
        let loc = match precondition(
            patch_chunks(ck, v, loc.clone(), &blob, 0, cs, cs).await,
            PATCH_202.id,
        ) {
            Ok(l) => l,
            Err(e) => {
                abandon_upload(ck, &loc).await;
                return Err(e);
            }
        };
        // Skips the bytes cs..2cs: the chunk starts past <end-of-range> + 1.
        let r = ck.send(patch_chunk(&loc, &blob, 2 * cs, 3 * cs)).await?;
        abandon_upload(ck, &loc).await;
        ck.expect_status(&r, &[416], R_416)
    })
    .await;

    sc.check(&FINAL_OUT_OF_ORDER, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, 256 << 10);
        let blob = gen.blob(&format!("final-out-of-order-{cs}"), 3 * cs);
        let loc = match precondition(
            patch_chunks(ck, v, loc.clone(), &blob, 0, cs, cs).await,
            PATCH_202.id,
        ) {
            Ok(l) => l,
            Err(e) => {
                abandon_upload(ck, &loc).await;
                return Err(e);
            }
        };
        let d = blob.digest().to_string();
        let r = ck
            .send(put_close(&loc, &d, &blob, Some((2 * cs, 3 * cs))))
            .await?;
        if r.status == 201 {
            ctx.cleanup.blob(&repo, &d);
        } else {
            abandon_upload(ck, &loc).await;
        }
        // Main says it of the final chunk; before, the rule for every chunk covers it.
        let rule = if v >= SpecVersion::Main { R_FINAL_416 } else { R_416 };
        ck.expect_status(&r, &[416], rule)
    })
    .await;
}

// ---- push.upload-misc ----

async fn upload_misc(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let gen = sc.gen.clone();
    let v = sc.cfg().spec_version;

    sc.check(&SESSION_UNIQUE, async |ck| {
        let rule = if v >= SpecVersion::Main { R_SESSION } else { R_SESSION_V11 };
        // Two sessions open at once, neither used yet: the ID is opaque (its UUID form is
        // not judged), but two sessions cannot share one Location.
        let (a, _) = start_upload(ck, &repo, "").await?;
        let b = start_upload(ck, &repo, "").await;
        abandon_upload(ck, &a).await;
        let (b, _) = b?;
        if b != a {
            abandon_upload(ck, &b).await;
        }
        ck.expect(b != a, rule, || {
            format!(
                "two POST {} answered the same Location {}: the second upload session is not distinct from the first",
                uploads_path(&repo),
                crate::trace::redact_url(&b)
            )
        })
    })
    .await;

    sc.check(&STREAMED, async |ck| {
        let (loc, _) = start_upload(ck, &repo, "").await?;
        let blob = gen.blob("streamed", MIB + 999);
        let r = ck.send(patch_stream(&loc, &blob)).await?;
        match r.status {
            202 => {}
            400..=499 => {
                abandon_upload(ck, &loc).await;
                return Err(Fail::Unsupported(format!(
                    "streamed upload not supported: {} (no Content-Range) answered {}",
                    r.request,
                    r.summary()
                )));
            }
            _ => {
                abandon_upload(ck, &loc).await;
                return Err(ck.fail(
                    R_PATCH,
                    format!(
                        "{} (no Content-Range) answered {}; expected 202, or a 4xx refusal",
                        r.request,
                        r.summary()
                    ),
                ));
            }
        }
        // Location and Range of PATCH answers are judged by push.chunked.patch-202.
        let loc = match location(&r) {
            Some(l) => l,
            None => {
                ck.note(format!(
                    "{} answered 202 without a Location; the PUT went to the previous one",
                    r.request
                ));
                loc
            }
        };
        let d = blob.digest().to_string();
        let p = ck.send(put_close(&loc, &d, &blob, None)).await?;
        ck.expect_status(&p, &[201], R_CLOSE)
            .map_err(|f| at_level(f, Level::Must))?;
        ctx.cleanup.blob(&repo, &d);
        expect_stored(ck, &repo, &blob, R_CLOSE)
            .await
            .map_err(|f| at_level(f, Level::Must))
    })
    .await;

    sc.check(&CANCEL, async |ck| {
        let (loc, post) = start_upload(ck, &repo, "").await?;
        let cs = chunk_for(ck, &post, 64 << 10);
        let blob = gen.blob(&format!("cancel-{cs}"), cs);
        let loc = match precondition(patch_chunks(ck, v, loc.clone(), &blob, 0, cs, cs).await, PATCH_202.id) {
            Ok(l) => l,
            Err(e) => {
                abandon_upload(ck, &loc).await;
                return Err(e);
            }
        };
        let r = ck.send(Request::delete(loc.clone()).header("Content-Length", "0")).await?;
        if !(200..300).contains(&r.status) {
            return Err(ck.fail(R_CANCEL, format!("{} answered {}: the upload was not canceled", r.request, r.summary())));
        }
        let mut found = vec![];
        if r.status != 204 {
            found.push(ck.fail(R_CANCEL, format!("{} answered {}; expected 204", r.request, r.summary())));
        }
        // A session still active after a DELETE that answered success: the answer claimed a
        // cancel that did not happen. How a gone session answers (the endpoint table lists 404,
        // the code table BLOB_UPLOAD_UNKNOWN) has no keyword behind it: noted.
        let g = ck.send(Request::get(loc.clone())).await?;
        if (200..300).contains(&g.status) {
            found.push(ck.fail(R_CANCEL, format!("{} answered {}, but afterwards {} answered {}: the upload is still active", r.request, r.status, g.request, g.summary())));
        } else if g.status != 404 {
            ck.note(format!("after the DELETE, {} answered {} ({R_CANCEL_GONE})", g.request, g.status));
        } else if let Some(codes) = error_codes_loose(&g).filter(|c| !c.iter().any(|c| c == "BLOB_UPLOAD_UNKNOWN")) {
            ck.note(format!("after the DELETE, {} answered 404 with codes {codes:?} ({R_CANCEL_GONE})", g.request));
        }
        merge_fails(ck, found)
    })
    .await;
}

// ---- push.manifest-digest ----

/// The registry's answer to a manifest PUT by digest is about that digest: accepting bytes that
/// hash to something else breaks the digest header's promise and content addressing.
const R_MANIFEST_DIGEST: Rule = Rule::req("push.manifest.digest-header-equal");

async fn manifest_digest(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let img = setup_with(&mut sc, "push the blobs of an image", async |sc| {
        let img = Image::new(&sc.gen, "manifest-digest", &[300], &ManifestOpts::default());
        for b in img.blobs() {
            push_blob(sc, &repo, b).await?;
        }
        Ok(img)
    })
    .await;
    let Some(img) = img else { return };
    let m = &img.manifest;
    // As the official suite's "Bad Digest Image": the digest of the bytes plus two spaces.
    let claimed = Digest::sha256(&[&m.bytes[..], b"  "].concat()).to_string();

    sc.check(&MANIFEST_DIGEST_MISMATCH, async |ck| {
        let r = ck.send(put_manifest(&repo, &claimed, m)).await?;
        let g = |r: &Response| match r.status {
            200 => format!("{} then answered 200 with {} bytes", r.request, r.body.len()),
            s => format!("{} then answered {s}", r.request),
        };
        if (200..300).contains(&r.status) {
            ctx.cleanup.manifest(&repo, &claimed, RANK_IMAGE);
            ctx.cleanup.manifest(&repo, &m.digest.to_string(), RANK_IMAGE);
            let after = ck.send(get_manifest(&repo, &claimed)).await?;
            return Err(ck.fail(
                R_MANIFEST_DIGEST,
                format!("{} answered {}: a manifest whose digest is {} was accepted under {claimed}; {}", r.request, r.summary(), m.digest, g(&after)),
            ));
        }
        let after = ck.send(get_manifest(&repo, &claimed)).await?;
        if after.status == 200 {
            ctx.cleanup.manifest(&repo, &claimed, RANK_IMAGE);
            return Err(ck.fail(
                R_MANIFEST_DIGEST,
                format!("{} answered {}, but {}: content is served under a digest that is not its hash", r.request, r.status, g(&after)),
            ));
        }
        ck.note(format!("refused with {}", r.status));
        Ok(())
    })
    .await;
}

// ---- push.digests ----

async fn digests(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let gen = sc.gen.clone();
    let v = sc.cfg().spec_version;
    let r_400 = R_DIGEST_400;

    sc.check(&DIGEST_MISMATCH, async |ck| {
        let (loc, _) = start_upload(ck, &repo, "").await?;
        let blob = gen.blob("mismatch", (64 << 10) + 1);
        // The digest of other content, which is never pushed anywhere.
        let claimed = gen.blob("mismatch-claimed", (64 << 10) + 1).digest().clone();
        let r = ck.send(put_whole(&loc, &claimed.to_string(), &blob)).await?;
        if r.status == 201 {
            ctx.cleanup.blob(&repo, &claimed.to_string());
            let g = ck.send(get_blob(&repo, &claimed)).await?;
            let served = match (&g.status, &g.hashed) {
                (200, Some((d, n))) => format!("; {} then served {n} bytes with digest {d}", g.request),
                _ => format!("; {} then answered {}", g.request, g.status),
            };
            return Err(ck.fail(R_DIGEST_DEF, format!("{} answered {}: content whose digest is {} was accepted under {claimed}{served}", r.request, r.summary(), blob.digest())));
        }
        abandon_upload(ck, &loc).await;
        // GET, not HEAD: content served under the claimed digest is the proof of a wrong store.
        let g = ck.send(get_blob(&repo, &claimed)).await?;
        if g.status == 200 {
            let same = matches!(&g.hashed, Some((d, _)) if d == blob.digest());
            return Err(ck.fail(
                R_DIGEST_DEF,
                format!("{} answered {}, but afterwards {} answered 200{}: content is served under a digest that is not its hash", r.request, r.status, g.request, if same { " with the pushed content" } else { "" }),
            ));
        }
        let mut found = vec![];
        // Before main no sentence asks for 400: end-6 lists 404 and 400 as failure codes.
        // A SHOULD sentence asks for 400 only on main; before, end-6's table lists 404 and 400,
        // and the code table's DIGEST_INVALID is a name, not a requirement: notes, no verdict.
        if r.status != 400 && v >= SpecVersion::Main {
            found.push(ck.fail_at(Level::Should, r_400, format!("{} answered {}; expected 400 Bad Request", r.request, r.summary())));
        } else if r.status != 400 && r.status != 404 {
            ck.note(format!("refused with {} (end-6 lists 404 and 400)", r.status));
        }
        if let Some(codes) = error_codes_loose(&r).filter(|c| !c.iter().any(|c| c == "DIGEST_INVALID")) {
            ck.note(format!("refused with codes {codes:?}; the code table names DIGEST_INVALID for this ({R_CODE_DIGEST})"));
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&DIGEST_INVALID, async |ck| {
        let (loc, _) = start_upload(ck, &repo, "").await?;
        let blob = gen.blob("invalid-digest", 1000);
        let r = ck.send(put_whole(&loc, "sha256:not-hex", &blob)).await?;
        if (200..300).contains(&r.status) {
            // Content filed under a "digest" it cannot hash to was never verified.
            ctx.cleanup.blob(&repo, "sha256:not-hex");
            return Err(ck.fail_at(Level::Must, R_SHA256_VERIFY, format!("{} answered {}: content was accepted under the malformed digest sha256:not-hex", r.request, r.summary())));
        }
        abandon_upload(ck, &loc).await;
        // Before main no sentence asks for 400: end-6 lists 404 and 400 as failure codes.
        if v < SpecVersion::Main {
            if r.status != 400 {
                ck.note(format!("{} answered {} (end-6 lists 404 and 400 as failure codes)", r.request, r.status));
            }
            return Ok(());
        }
        ck.expect_status(&r, &[400], r_400)
    })
    .await;

    sc.check(&SHA512, async |ck| {
        let blob = gen.blob_with("sha512", MIB + 515, Algorithm::Sha512);
        // digest-algorithm= is main's way to announce the algorithm; 1.1 has no such parameter.
        let query = if v >= SpecVersion::Main { "?digest-algorithm=sha512" } else { "" };
        let r = ck.send(Request::post(format!("{}{query}", uploads_path(&repo)))).await?;
        let loc = match (r.status, location(&r)) {
            (202, Some(l)) => l,
            (400..=499, _) if !query.is_empty() => return Err(Fail::Unsupported(format!("{} answered {}: sha512 uploads not supported", r.request, r.summary()))),
            _ => return Err(Fail::Skip(format!("could not start an upload: {} answered {} (see push.upload.post-202)", r.request, r.summary()))),
        };
        let d = blob.digest().to_string();
        let p = ck.send(put_whole(&loc, &d, &blob)).await?;
        match p.status {
            201 => {}
            400 => {
                abandon_upload(ck, &loc).await;
                return Err(Fail::Unsupported(format!("{} answered 400: sha512 digests not supported (the spec allows refusing an unsupported algorithm with 400)", p.request)));
            }
            404 if v < SpecVersion::Main => {
                abandon_upload(ck, &loc).await;
                return Err(Fail::Unsupported(format!("{} answered 404: sha512 digests not supported (end-6 lists 404 and 400 as failure codes)", p.request)));
            }
            200..=299 => return Err(ck.fail_at(Level::Must, R_PUT_201, format!("{} answered {}; expected 201 Created", p.request, p.summary()))),
            _ => {
                abandon_upload(ck, &loc).await;
                return Err(ck.fail_at(Level::Should, r_400, format!("{} answered {}; a registry without sha512 support should answer 400", p.request, p.summary())));
            }
        }
        ctx.cleanup.blob(&repo, &d);
        expect_location(ck, &p, R_PUT_201).map_err(|f| at_level(f, Level::Must))?;
        expect_stored(ck, &repo, &blob, R_PUT_201).await.map_err(|f| at_level(f, Level::Must))
    })
    .await;
}

// ---- push.mount ----

/// A 201 mount put `blob` in `repo`: it is stored, its Location serves it, and the
/// Docker-Content-Digest, when sent, names a digest it is served under (the canonical one may
/// be of another algorithm).
async fn expect_mounted(ck: &mut Ck, repo: &str, r: &Response, blob: &Blob) -> Res {
    let loc = expect_location(ck, r, R_MOUNT_201)?;
    expect_stored(ck, repo, blob, R_MOUNT_201).await?;
    let g = ck.send(hashed_get(loc.clone(), blob.algorithm)).await?;
    expect_blob_body(ck, &g, blob, R_MOUNT_201).map_err(|f| append(f, &format!(" (the mount's Location {loc} does not serve the mounted blob)")))?;
    let Some(v) = r.header("docker-content-digest").map(str::trim) else {
        return Ok(());
    };
    let rule = Rule::req("push.mount.digest-header-may-differ");
    let Some(d) = Digest::parse(v) else {
        return Err(ck.fail_at(Level::Must, rule, format!("{} answered Docker-Content-Digest: {v}, which is not a digest", r.request)));
    };
    if &d == blob.digest() {
        return Ok(());
    }
    let g = ck.send(hashed_get(blob_path(repo, &d), d.algorithm)).await?;
    let served = g.status == 200 && matches!(&g.hashed, Some((h, n)) if *h == d && *n == blob.len);
    if served {
        ck.note(format!("the mount answered Docker-Content-Digest: {d} (not {}), under which the blob is served", blob.digest()));
        return Ok(());
    }
    Err(ck.fail_at(Level::Must, rule, format!("{} answered Docker-Content-Digest: {d} for the mounted blob {}, but {} answered {}", r.request, blob.digest(), g.request, g.summary())))
}

/// A violation's message with `more` after it.
fn append(f: Fail, more: &str) -> Fail {
    match f {
        Fail::Violation { level, message } => Fail::Violation { level, message: format!("{message}{more}") },
        f => f,
    }
}

async fn mount(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let src = sc.ns2().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let a = sc.gen.blob("mount-from", (512 << 10) + 1);
    let b = sc.gen.blob("mount-without-from", (256 << 10) + 7);
    let ghost = sc.gen.blob("mount-ghost", 4096).digest().clone();
    let sc512 = sc.gen.blob_with("mount-sha512", (64 << 10) + 3, Algorithm::Sha512);
    let pushed = async {
        push_blob(&sc, &src, &a).await?;
        push_blob(&sc, &src, &b).await
    }
    .await;
    if sc
        .setup("push two blobs to the cross-mount repository", async {
            pushed
        })
        .await
        .is_none()
    {
        return;
    }
    // A token for a mount needs push on the target and pull on the source.
    let mount_req = |q: String| {
        Request::post(q)
            .scope(format!("repository:{repo}:pull,push"))
            .scope(format!("repository:{src}:pull"))
    };

    sc.check(&MOUNT_FROM, async |ck| {
        let before = ck.send(head_blob(&repo, a.digest())).await?.status == 200;
        let r = ck.send(mount_req(format!("{}?mount={}&from={}", uploads_path(&repo), a.digest(), src))).await?;
        match r.status {
            201 => {
                ctx.cleanup.blob(&repo, &a.digest().to_string());
                expect_mounted(ck, &repo, &r, &a).await?;
                if before {
                    ck.note("the blob was already in the target repository before the mount (left by an earlier run?), so the mount's effect could not be observed");
                }
                Ok(())
            }
            202 => {
                if let Some(l) = location(&r) {
                    abandon_upload(ck, &l).await;
                }
                Err(Fail::Unsupported(format!("cross-repository mount not supported: {} answered 202 (an upload session), as the spec allows", r.request)))
            }
            _ => Err(ck.fail_at(Level::Should, R_MOUNT_202, format!("{} answered {}; expected 201 (mounted) or 202 (not mounted)", r.request, r.summary()))),
        }
    })
    .await;

    sc.check(&MOUNT_NO_FROM, async |ck| {
        let r = ck
            .send(mount_req(format!(
                "{}?mount={}",
                uploads_path(&repo),
                b.digest()
            )))
            .await?;
        match r.status {
            201 => {
                ctx.cleanup.blob(&repo, &b.digest().to_string());
                expect_mounted(ck, &repo, &r, &b).await.map_err(|f| at_level(f, Level::Must))?;
                ck.note("mounted without from=");
                Ok(())
            }
            202 => {
                if let Some(l) = location(&r) {
                    abandon_upload(ck, &l).await;
                }
                ck.note("answered 202: an upload session instead of a mount");
                Ok(())
            }
            _ => Err(ck.fail_at(
                Level::Should,
                R_MOUNT_202,
                format!(
                    "{} answered {}; expected 201 (mounted) or 202 (upload session)",
                    r.request,
                    r.summary()
                ),
            )),
        }
    })
    .await;

    sc.check(&MOUNT_SHA512, async |ck| {
        let c = sc512.clone();
        match try_push_blob(ck, &src, &c).await? {
            Ok(_) => ctx.cleanup.blob(&src, &c.digest().to_string()),
            Err(what) => return Err(Fail::Unsupported(format!("sha512 blobs are not accepted (allowed: sha512 is optional): {what}"))),
        }
        let r = ck.send(mount_req(format!("{}?mount={}&from={}", uploads_path(&repo), c.digest(), src))).await?;
        match r.status {
            201 => {
                ctx.cleanup.blob(&repo, &c.digest().to_string());
                expect_mounted(ck, &repo, &r, &c).await
            }
            202 => {
                if let Some(l) = location(&r) {
                    abandon_upload(ck, &l).await;
                }
                Err(Fail::Unsupported(format!("{} answered 202 (an upload session): no mount of sha512 blobs, as the spec allows", r.request)))
            }
            _ => Err(ck.fail_at(Level::Should, R_MOUNT_202, format!("{} answered {}; expected 201 (mounted) or 202 (not mounted)", r.request, r.summary()))),
        }
    })
    .await;

    sc.check(&MOUNT_UNKNOWN, async |ck| {
        let r = ck.send(mount_req(format!("{}?mount={ghost}&from={src}", uploads_path(&repo)))).await?;
        match r.status {
            202 => {
                if let Some(l) = location(&r) {
                    abandon_upload(ck, &l).await;
                }
                Ok(())
            }
            201 => {
                ctx.cleanup.blob(&repo, &ghost.to_string());
                Err(ck.fail_at(Level::Must, R_MOUNT_201, format!("{} answered {}: a mount of {ghost}, which exists in no repository, claimed success", r.request, r.summary())))
            }
            _ => Err(ck.fail(R_MOUNT_202, format!("{} answered {}; expected 202 for a blob that cannot be mounted", r.request, r.summary()))),
        }
    })
    .await;
}

// ---- push.manifests ----

const ARTIFACT_TYPE: &str = "application/vnd.example.oci-conformance.test.v1";
const ARTIFACT_LAYER: &str = "application/vnd.example.oci-conformance.data.v1";

/// A valid image manifest whose bytes no serializer produces: odd whitespace, keys out of
/// the usual order, escapes, number forms and custom fields a normalizing registry would lose.
fn odd_manifest(img: &Image) -> Manifest {
    let l = &img.layers[0];
    let c = &img.config;
    let text = format!(
        "{{\r\n   \"schemaVersion\" :2,\n\"mediaType\":   \"{mt}\",\n  \"layers\": [ {{\"size\": {ls}, \"digest\": \"{ld}\",\t\"mediaType\": \"{lmt}\"}} ],\n  \"config\":{{\"digest\":\"{cd}\",\"mediaType\":\"{cmt}\",\"size\":{cs}}},\n  \"annotations\" : {{ \"org.example.z\": \"caf\\u00e9 \\u2603 \\/ tab\\t\", \"org.example.a\": \"\u{263a}\" }},\n  \"x-oci-conformance\": {{\"nested\": [1, 2.50, true, null, 1e3, -0], \"empty\": {{}}}}\n}}\n\n",
        mt = content::MT_MANIFEST,
        ls = l.len,
        ld = l.digest(),
        lmt = l.media_type,
        cd = c.digest(),
        cmt = c.media_type,
        cs = c.len,
    );
    Manifest::raw(content::MT_MANIFEST, bytes::Bytes::from(text))
}

async fn manifests(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let img = Image::new(&sc.gen, "push-manifests", &[2048], &ManifestOpts::default());
    let layers: Vec<Descriptor> = img.layers.iter().map(Blob::descriptor).collect();
    let variant = |k: &str| {
        image_manifest(
            &img.config.descriptor(),
            &layers,
            &ManifestOpts::default().annotate("org.example.variant", k),
        )
    };
    let by_digest = variant("by-digest");
    let empty = Blob::empty_config();
    let art_layer = sc
        .gen
        .blob("artifact-data", 1234)
        .with_media_type(ARTIFACT_LAYER);
    let pushed = async {
        for b in img.blobs().into_iter().chain([&empty, &art_layer]) {
            push_blob(&sc, &repo, b).await?;
        }
        Ok(())
    }
    .await;
    if sc
        .setup("push the blobs the manifests reference", async { pushed })
        .await
        .is_none()
    {
        return;
    }
    let (tag_a, tag_dcd, tag_loc, tag_exact, tag_index, tag_nl) = (
        sc.tag("by-tag"),
        sc.tag("dcd"),
        sc.tag("location"),
        sc.tag("exact"),
        sc.tag("index"),
        sc.tag("no-layers"),
    );

    sc.check(&MANIFEST_TAG, async |ck| {
        let r = ck.send(put_manifest(&repo, &tag_a, &img.manifest)).await?;
        ck.expect_status(&r, &[201], R_MANIFEST_201)?;
        record_manifest(&ctx.cleanup, &repo, &img.manifest, &tag_a, RANK_IMAGE);
        expect_location(ck, &r, R_MANIFEST_201).map(|_| ())
    })
    .await;

    sc.check(&MANIFEST_DIGEST, async |ck| {
        let d = by_digest.digest.to_string();
        let r = ck.send(put_manifest(&repo, &d, &by_digest)).await?;
        ck.expect_status(&r, &[201], R_MANIFEST_201)?;
        record_manifest(&ctx.cleanup, &repo, &by_digest, &d, RANK_IMAGE);
        expect_location(ck, &r, R_MANIFEST_201).map(|_| ())
    })
    .await;

    sc.check(&MANIFEST_DCD, async |ck| {
        let m = variant("digest-header");
        let d = m.digest.to_string();
        let mut found = vec![];
        let mut absent = 0;
        for reference in [&tag_dcd, &d] {
            let r = ck.send(put_manifest(&repo, reference, &m)).await?;
            precondition(
                ck.expect_status(&r, &[201], R_MANIFEST_201),
                "push.manifest.put-by-*",
            )?;
            record_manifest(&ctx.cleanup, &repo, &m, reference, RANK_IMAGE);
            match digest_header(&r, |a| Digest::of(a, &m.bytes)) {
                DigestHeader::Absent => absent += 1,
                // By digest, the header must be the very digest the client gave.
                DigestHeader::Matches(h) if reference == &d && h != d => found.push(ck.fail(
                    R_MANIFEST_DCD,
                    format!(
                        "{} answered Docker-Content-Digest: {h}; the client provided {d}",
                        r.request
                    ),
                )),
                DigestHeader::Matches(_) => {}
                DigestHeader::Differs(h) | DigestHeader::Unverifiable(h) => found.push(ck.fail(
                    R_MANIFEST_DCD,
                    format!(
                        "{} answered Docker-Content-Digest: {h}; the pushed bytes' digest is {d}",
                        r.request
                    ),
                )),
            }
        }
        if absent > 0 {
            ck.note(format!(
                "{absent} of 2 manifest PUT responses had no Docker-Content-Digest"
            ));
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&MANIFEST_LOCATION, async |ck| {
        let m = variant("location");
        let d = m.digest.to_string();
        for reference in [&tag_loc, &d] {
            let r = ck.send(put_manifest(&repo, reference, &m)).await?;
            precondition(
                ck.expect_status(&r, &[201], R_MANIFEST_201),
                "push.manifest.put-by-*",
            )?;
            record_manifest(&ctx.cleanup, &repo, &m, reference, RANK_IMAGE);
            let loc = expect_location(ck, &r, R_MANIFEST_201)?;
            let g = ck
                .send(Request::get(loc).header("Accept", MANIFEST_ACCEPT))
                .await?;
            expect_manifest_body(ck, &g, &m, R_MANIFEST_LOC)?;
        }
        Ok(())
    })
    .await;

    sc.check(&MANIFEST_EXACT, async |ck| {
        let m = odd_manifest(&img);
        let r = ck.send(put_manifest(&repo, &tag_exact, &m)).await?;
        ck.expect_status(&r, &[201], R_MANIFEST_201)?;
        record_manifest(&ctx.cleanup, &repo, &m, &tag_exact, RANK_IMAGE);
        for reference in [tag_exact.clone(), m.digest.to_string()] {
            let g = ck.send(get_manifest(&repo, &reference)).await?;
            expect_manifest_body(ck, &g, &m, R_EXACT_BYTES)?;
        }
        Ok(())
    })
    .await;

    sc.check(&MANIFEST_INDEX, async |ck| {
        // The children first, so the indexes never reference a missing manifest.
        for m in [&img.manifest, &by_digest] {
            let d = m.digest.to_string();
            let r = ck.send(put_manifest(&repo, &d, m)).await?;
            precondition(
                ck.expect_status(&r, &[201], R_MANIFEST_201),
                "push.manifest.put-by-digest",
            )?;
            record_manifest(&ctx.cleanup, &repo, m, &d, RANK_IMAGE);
        }
        let index = image_index(
            &[img.manifest.descriptor(), by_digest.descriptor()],
            &ManifestOpts::default(),
        );
        let nested = image_index(
            &[index.descriptor(), img.manifest.descriptor()],
            &ManifestOpts::default().annotate("org.example.nested", "true"),
        );
        for (m, reference) in [
            (&index, tag_index.clone()),
            (&nested, nested.digest.to_string()),
        ] {
            let r = ck.send(put_manifest(&repo, &reference, m)).await?;
            ck.expect_status(&r, &[201], R_MANIFEST_201)?;
            record_manifest(&ctx.cleanup, &repo, m, &reference, RANK_INDEX);
            note_no_location(ck, &r);
        }
        Ok(())
    })
    .await;

    sc.check(&MANIFEST_ARTIFACT, async |ck| {
        let m = image_manifest(
            &empty.descriptor(),
            &[art_layer.descriptor()],
            &ManifestOpts::default()
                .artifact_type(ARTIFACT_TYPE)
                .annotate("org.example.kind", "artifact"),
        );
        let d = m.digest.to_string();
        let r = ck.send(put_manifest(&repo, &d, &m)).await?;
        ck.expect_status(&r, &[201], R_MANIFEST_201)?;
        record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
        note_no_location(ck, &r);
        let g = ck.send(get_manifest(&repo, &d)).await?;
        expect_manifest_body(ck, &g, &m, R_EXACT_BYTES)
    })
    .await;

    sc.check(&MANIFEST_NO_LAYERS, async |ck| {
        let m = image_manifest(
            &img.config.descriptor(),
            &[],
            &ManifestOpts::default().annotate("org.example.layers", "none"),
        );
        let r = ck.send(put_manifest(&repo, &tag_nl, &m)).await?;
        ck.expect_status(&r, &[201], R_NO_LAYERS)?;
        record_manifest(&ctx.cleanup, &repo, &m, &tag_nl, RANK_IMAGE);
        Ok(())
    })
    .await;

    sc.check(&MANIFEST_CT_PARAMS, async |ck| {
        let m = variant("content-type-params");
        let d = m.digest.to_string();
        let ct = format!("{}; charset=utf-8", m.media_type);
        let put = |ct: &str| {
            Request::put(manifest_path(&repo, &d))
                .header("Content-Type", ct.to_string())
                .bytes(m.bytes.clone())
        };
        let r = ck.send(put(&ct)).await?;
        if r.status != 201 {
            // Refused: only a refusal the parameter caused is this check's business.
            let plain = ck.send(put(&m.media_type)).await?;
            if plain.status != 201 {
                return Err(Fail::Skip(format!(
                    "{} answered {} with Content-Type: {ct}, and {} without the parameter (see push.manifest.put-by-digest)",
                    r.request, r.status, plain.status
                )));
            }
            record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
            return Err(ck.fail(R_CT_PARAMS, format!(
                "{} with Content-Type: {ct} answered {}, but 201 with Content-Type: {}",
                r.request,
                r.summary(),
                m.media_type
            )));
        }
        record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
        let g = ck.send(get_manifest(&repo, &d)).await?;
        expect_manifest_body(ck, &g, &m, R_EXACT_BYTES).map_err(|f| at_level(f, Level::Must))?;
        if let Some(got) = g.header("content-type") {
            // The parameter sent coming back means it was kept, not ignored.
            if headers::has_params(got) && got.to_ascii_lowercase().contains("charset") {
                return Err(ck.fail(R_CT_PARAMS_KEPT, format!("pushed with Content-Type: {ct}, {} answered Content-Type: {got}", g.request)));
            }
            ck.note(format!("pushed with Content-Type: {ct}; served as {got}"));
        }
        Ok(())
    })
    .await;
}

// ---- push.manifest-limits ----

/// An image manifest padded with an annotation to exactly `total` bytes.
fn padded(img: &Image, total: usize, label: &str) -> Manifest {
    // Serialize once with a short placeholder, then splice the padding into the bytes: one
    // allocation of `total` bytes instead of several copies of a 16 MiB string and JSON tree.
    const MARK: &str = "oci-conformance-padding-mark";
    let layers: Vec<Descriptor> = img.layers.iter().map(Blob::descriptor).collect();
    let small = image_manifest(
        &img.config.descriptor(),
        &layers,
        &ManifestOpts::default()
            .annotate("org.example.case", label)
            .annotate("org.example.padding", MARK),
    );
    let at = small.bytes.windows(MARK.len()).position(|w| w == MARK.as_bytes()).expect("placeholder is in the manifest");
    let pad = total.saturating_sub(small.bytes.len() - MARK.len());
    let mut v = Vec::with_capacity(small.bytes.len() - MARK.len() + pad);
    v.extend_from_slice(&small.bytes[..at]);
    v.resize(at + pad, b'a');
    v.extend_from_slice(&small.bytes[at + MARK.len()..]);
    Manifest::raw(content::MT_MANIFEST, bytes::Bytes::from(v))
}

async fn manifest_limits(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx: Arc<RunCtx> = sc.ctx.clone();
    let img = Image::new(
        &sc.gen,
        "manifest-limits",
        &[1024],
        &ManifestOpts::default(),
    );
    let pushed = async {
        for b in img.blobs() {
            push_blob(&sc, &repo, b).await?;
        }
        Ok(())
    }
    .await;
    if sc
        .setup("push the blobs the manifests reference", async { pushed })
        .await
        .is_none()
    {
        return;
    }
    let ghost = sc.gen.blob("missing-layer", 5000);
    let (t1, t2) = (sc.tag("tag-param-a"), sc.tag("tag-param-b"));
    let ten: Vec<String> = (0..10).map(|i| sc.tag(&format!("tp10-{i}"))).collect();

    let v = sc.cfg().spec_version;
    sc.check(&MANIFEST_MISSING, async |ck| {
        // v1.0.1 named BLOB_UNKNOWN for this refusal, without a keyword (noted only); 1.1
        // made it a MUST for MANIFEST_BLOB_UNKNOWN.
        let want: &[&str] = if v == SpecVersion::V1_0 { &["MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN"] } else { &["MANIFEST_BLOB_UNKNOWN"] };
        let m = image_manifest(
            &img.config.descriptor(),
            &[ghost.descriptor()],
            &ManifestOpts::default().annotate("org.example.case", "missing-blob"),
        );
        let d = m.digest.to_string();
        let r = ck.send(put_manifest(&repo, &d, &m)).await?;
        match r.status {
            201 => {
                record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
                ck.note("accepted a manifest whose layer does not exist (allowed)");
                Ok(())
            }
            400..=499 => {
                let codes = error_codes_loose(&r).unwrap_or_default();
                if let Some(c) = codes.iter().find(|c| want.contains(&c.as_str())) {
                    ck.note(format!("refused with {}: {c} (allowed)", r.status));
                    Ok(())
                } else if v == SpecVersion::V1_0 {
                    // 1.0 names the code in passing ("resulting in a BLOB_UNKNOWN error"), with
                    // no keyword: nothing to judge.
                    ck.note(format!("{} answered {}; 1.0 describes the refusal as resulting in BLOB_UNKNOWN", r.request, r.summary()));
                    Ok(())
                } else {
                    Err(ck.fail_at(
                        Level::Must,
                        R_MISSING,
                        format!(
                            "{} answered {}; a refusal for a missing blob must carry {}",
                            r.request,
                            r.summary(),
                            want.join(" or ")
                        ),
                    ))
                }
            }
            _ if v == SpecVersion::V1_0 => {
                ck.note(format!("{} answered {}; 1.0 describes the refusal as resulting in BLOB_UNKNOWN", r.request, r.summary()));
                Ok(())
            }
            _ => Err(ck.fail_at(
                Level::Must,
                R_MISSING,
                format!(
                    "{} answered {}; expected 201, or a refusal with {}",
                    r.request,
                    r.summary(),
                    want.join(" or ")
                ),
            )),
        }
    })
    .await;

    sc.check(&TAG_PARAM, async |ck| {
        let m = padded(&img, 0, "tag-param");
        let d = m.digest.to_string();
        let target = format!("{}?tag={t1}&tag={t2}", manifest_path(&repo, &d));
        let r = ck.send(Request::put(target).header("Content-Type", m.media_type.clone()).bytes(m.bytes.clone())).await?;
        match r.status {
            201 => {}
            400..=499 => return Err(Fail::Unsupported(format!("{} answered {}: tag query parameters not supported", r.request, r.summary()))),
            _ => return Err(ck.fail(R_MANIFEST_201, format!("{} answered {}", r.request, r.summary()))),
        }
        record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
        for t in [&t1, &t2] {
            ctx.cleanup.tag(&repo, t);
        }
        let listed = headers::list_values(r.header_all("oci-tag").iter().map(String::as_str));
        let mut resolves = vec![];
        for t in [&t1, &t2] {
            let g = ck.send(get_manifest(&repo, t)).await?;
            resolves.push(g.status == 200 && g.body == m.bytes);
        }
        let mut found = vec![];
        if listed.is_empty() {
            let made: Vec<&String> = [&t1, &t2].into_iter().zip(&resolves).filter(|(_, ok)| **ok).map(|(t, _)| t).collect();
            if made.is_empty() {
                return Err(Fail::Unsupported(format!("{} answered 201 without OCI-Tag and created no tag: tag query parameters are ignored", r.request)));
            }
            return Err(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} answered 201 without an OCI-Tag header, but created the tags {made:?}", r.request)));
        }
        for t in &listed {
            let i = [&t1, &t2].iter().position(|x| *x == t);
            match i {
                Some(i) if resolves[i] => {}
                Some(_) => found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} listed OCI-Tag {t}, but GET of that tag does not return the manifest", r.request))),
                None => found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} listed OCI-Tag {t}, which was not requested (requested {t1}, {t2})", r.request))),
            }
        }
        for (t, ok) in [&t1, &t2].into_iter().zip(&resolves) {
            if *ok && !listed.contains(t) {
                found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} created tag {t} but did not list it in OCI-Tag ({listed:?})", r.request)));
            }
        }
        merge_fails(ck, found)
    })
    .await;

    let dep = sc.outcome(TAG_PARAM.id);
    sc.check(&TAG_PARAM_10, async |ck| {
        match dep {
            Some(Outcome::Passed) => {}
            Some(Outcome::Unsupported) => {
                return Err(Fail::Unsupported(format!(
                    "tag query parameters are not supported (see {})",
                    TAG_PARAM.id
                )))
            }
            Some(o) => return Err(Fail::Skip(format!("depends on {} which was {}", TAG_PARAM.id, o.as_str()))),
            None => return Err(Fail::Skip(format!("depends on {} which did not run", TAG_PARAM.id))),
        }
        let m = padded(&img, 0, "tag-param-10");
        let d = m.digest.to_string();
        let query: Vec<String> = ten.iter().map(|t| format!("tag={t}")).collect();
        let target = format!("{}?{}", manifest_path(&repo, &d), query.join("&"));
        let r = ck.send(Request::put(target).header("Content-Type", m.media_type.clone()).bytes(m.bytes.clone())).await?;
        match r.status {
            201 => {}
            414 | 431 => return Err(ck.fail(R_TAG_10, format!("{} (10 tag parameters) answered {}; that answer is allowed ({}) but a registry supporting tag parameters should take 10", r.request, r.summary(), ck.cite(R_TAG_414)))),
            _ => return Err(ck.fail(R_TAG_10, format!("{} (10 tag parameters) answered {}; two were accepted (see {})", r.request, r.summary(), TAG_PARAM.id))),
        }
        record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
        for t in &ten {
            ctx.cleanup.tag(&repo, t);
        }
        let listed = headers::list_values(r.header_all("oci-tag").iter().map(String::as_str));
        let mut found = vec![];
        let mut missing = vec![];
        for t in &listed {
            if !ten.contains(t) {
                found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} listed OCI-Tag {t}, which was not requested", r.request)));
            }
        }
        for t in &ten {
            let g = ck.send(get_manifest(&repo, t)).await?;
            let resolves = g.status == 200 && g.body == m.bytes;
            match (resolves, listed.contains(t)) {
                (true, true) => {}
                (true, false) => found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} created tag {t} but did not list it in OCI-Tag", r.request))),
                (false, true) => found.push(ck.fail_at(Level::Must, R_TAG_PARAM, format!("{} listed OCI-Tag {t}, but {} answered {}", r.request, g.request, g.summary()))),
                (false, false) => missing.push(t.as_str()),
            }
        }
        if !missing.is_empty() {
            found.push(ck.fail(R_TAG_10, format!("{} answered 201 but took only {} of the 10 tags (not created: {missing:?})", r.request, 10 - missing.len())));
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&SIZE_4MB, async |ck| {
        let m = padded(&img, 4_000_000, "4mb");
        let d = m.digest.to_string();
        let r = ck.send(put_manifest(&repo, &d, &m)).await?;
        ck.expect_status(&r, &[201], R_4MB)?;
        record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
        let g = ck.send(get_manifest(&repo, &d)).await?;
        expect_manifest_body(ck, &g, &m, R_EXACT_BYTES).map_err(|f| at_level(f, Level::Must))
    })
    .await;

    sc.check(&TOO_LARGE, async |ck| {
        let m = padded(&img, 16 << 20, "16mib");
        let d = m.digest.to_string();
        let r = match ck.send(put_manifest(&repo, &d, &m)).await {
            Ok(r) => r,
            Err(Fail::Transport(e)) if e.kind != crate::client::ErrorKind::Cancelled => {
                return Err(ck.fail(R_413, format!("PUT {} of a 16 MiB manifest failed without an answer ({e}); a registry enforcing a limit should answer 413", manifest_path(&repo, &d))));
            }
            Err(e) => return Err(e),
        };
        match r.status {
            413 => Ok(()),
            201 => {
                record_manifest(&ctx.cleanup, &repo, &m, &d, RANK_IMAGE);
                Err(ck.fail(R_LIMIT, format!("{} answered {}: a 16 MiB manifest was accepted", r.request, r.summary())))
            }
            _ => Err(ck.fail(R_413, format!("{} answered {} to a 16 MiB manifest; expected 413", r.request, r.summary()))),
        }
    })
    .await;
}
