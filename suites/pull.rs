//! Pull bucket (spec §pull): manifests and blobs read back every way a client reads them,
//! and the 404s for what does not exist.
//!
//! Scenarios: `pull.api` (GET /v2/), `pull.manifests` (one image, an index and a nested
//! index pushed once, then read by tag, digest, GET and HEAD), `pull.blobs` (blobs small,
//! above 1 MiB and empty, GET/HEAD/Range), `pull.errors` (unknown tags, digests, blobs and
//! repositories, and their error bodies).

use super::common::*;
use crate::prelude::*;

// Spec sentences the checks quote.
const R_V2: Rule = Rule::req("api.v2.get-200");
const R_GET_MANIFEST: Rule = Rule::req("pull.manifest.get-200");
const R_MANIFEST_DCD_MAIN: Rule = Rule::req("pull.manifest.digest-header");
const R_MANIFEST_DCD_MATCH: Rule = Rule::req("pull.manifest.digest-header-may-differ");
const R_CT: Rule = Rule::req("pull.manifest.content-type-match");
const R_CT_PARAMS: Rule = Rule::req("pull.manifest.content-type-no-params");
const R_HEAD: Rule = Rule::req("pull.head.exists-200");
const R_HEAD_DCD_MAIN: Rule = Rule::req("pull.head.digest-header");
const R_HEAD_LEN_MAIN: Rule = Rule::req("pull.head.content-length");
const R_MANIFEST_404: Rule = Rule::req("pull.manifest.unknown-404");
const R_HEAD_404: Rule = Rule::req("pull.head.unknown-404");
const R_REPO_404: Rule = Rule::req("pull.repo.unknown-404");
const R_GET_BLOB: Rule = Rule::req("pull.blob.get-200");
const R_BLOB_DCD_MAIN: Rule = Rule::req("pull.blob.digest-header");
const R_BLOB_DCD_MATCH: Rule = Rule::req("pull.blob.digest-header-matches");
const R_RANGE: Rule = Rule::req("pull.blob.range");
const R_RANGE_206: &str = "RFC 9110 §15.3.7: a 206 response carries the selected range, and a single-part 206 MUST have a Content-Range header field";
const R_BLOB_404: Rule = Rule::req("pull.blob.unknown-404");
const R_WARN_FORMAT: Rule = Rule::req("warnings.header.format");
const R_WARN_SIZE: Rule = Rule::req("warnings.header.size-limit");
/// The spec's limit on warning data per response.
const WARNING_BYTES_MAX: usize = 4096;

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(Bucket::Pull);

    "pull.api" => api {
        pub const V2_BASE = CheckMeta::new(
            "pull.api.v2-base",
            Bucket::Pull,
            Level::Must,
            "determining-support",
            "GET /v2/ answers 200 OK",
        ).reqs(&["api.v2.get-200", "api.v2.auth-allowed"]);
    }

    "pull.manifests" => manifests {
        pub const MANIFEST_BY_TAG = CheckMeta::new(
            "pull.manifest.get-by-tag",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "GET a manifest by tag returns 200 and the pushed bytes",
        ).reqs(&["pull.manifest.reference-forms", "pull.manifest.get-200", "push.manifest.exact-bytes-stored"]);
        pub const MANIFEST_BY_DIGEST = CheckMeta::new(
            "pull.manifest.get-by-digest",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "GET a manifest by digest returns 200 and the pushed bytes",
        ).reqs(&["pull.manifest.reference-forms", "pull.manifest.get-200", "push.manifest.exact-bytes-stored"]);
        pub const MANIFEST_DIGEST_HEADER = CheckMeta::new(
            "pull.manifest.get-digest-header",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "manifest GET carries Docker-Content-Digest matching the manifest",
        )
        .v1_1(Level::Should).reqs(&["pull.manifest.digest-header", "pull.manifest.digest-header-may-differ"]);
        pub const MANIFEST_CONTENT_TYPE = CheckMeta::new(
            "pull.manifest.content-type",
            Bucket::Pull,
            Level::Should,
            "pulling-manifests",
            "manifest GET Content-Type is the pushed media type",
        ).reqs(&["pull.manifest.content-type-match"]);
        pub const MANIFEST_CT_PARAMS = CheckMeta::new(
            "pull.manifest.content-type-params",
            Bucket::Pull,
            Level::Should,
            "pulling-manifests",
            "manifest GET Content-Type has no parameters",
        )
        .since(SpecVersion::V1_1).reqs(&["pull.manifest.content-type-no-params"]);
        pub const MANIFEST_HEAD_TAG = CheckMeta::new(
            "pull.manifest.head-by-tag",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "HEAD a manifest by tag returns 200 with Docker-Content-Digest and Content-Length",
        ).reqs(&["pull.manifest.reference-forms", "pull.head.exists-200", "pull.head.digest-header"]);
        pub const MANIFEST_HEAD_DIGEST = CheckMeta::new(
            "pull.manifest.head-by-digest",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "HEAD a manifest by digest returns 200 with Docker-Content-Digest and Content-Length",
        ).reqs(&["pull.manifest.reference-forms", "pull.head.exists-200", "pull.head.digest-header"]);
        pub const MANIFEST_HEAD_LENGTH = CheckMeta::new(
            "pull.manifest.head-content-length",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "manifest HEAD Content-Length is the manifest size",
        )
        .v1_1(Level::Should)
        .since(SpecVersion::V1_1).reqs(&["pull.head.content-length"]);
        pub const MANIFEST_INDEX = CheckMeta::new(
            "pull.manifest.index",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "an image index and a nested index are pulled byte for byte",
        ).reqs(&["pull.manifest.content-type-match", "pull.manifest.get-200", "push.manifest.exact-bytes-stored"]);
        pub const WARNINGS = CheckMeta::new(
            "pull.warnings.format",
            Bucket::Pull,
            Level::Must,
            "warnings",
            "Warning headers, if any, are 299 - \"<text>\" without a warn-date, at most 4096 bytes per response",
        )
        .since(SpecVersion::V1_1).reqs(&["warnings.header.optional", "warnings.header.format", "warnings.header.size-limit"]);
    }

    "pull.blobs" => blobs {
        pub const BLOB_GET = CheckMeta::new(
            "pull.blob.get",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "GET a blob returns 200 and exactly its content",
        ).reqs(&["api.http.redirects-allowed", "pull.blob.get-200"]);
        pub const BLOB_DIGEST_HEADER = CheckMeta::new(
            "pull.blob.get-digest-header",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "blob GET carries Docker-Content-Digest matching the body",
        )
        .v1_1(Level::Should).reqs(&["pull.blob.digest-header", "pull.blob.digest-header-matches"]);
        pub const BLOB_EMPTY = CheckMeta::new(
            "pull.blob.get-empty",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "the zero-length blob is pulled with 200 and an empty body",
        ).reqs(&["pull.blob.get-200"]);
        pub const BLOB_HEAD = CheckMeta::new(
            "pull.blob.head",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "HEAD a blob returns 200 with Content-Length and Docker-Content-Digest",
        ).reqs(&["pull.head.exists-200", "pull.head.digest-header", "pull.head.content-length"]);
        pub const BLOB_RANGE = CheckMeta::new(
            "pull.blob.range",
            Bucket::Pull,
            Level::Should,
            "pulling-blobs",
            "a Range request returns 206 with exactly the requested bytes",
        )
        .since(SpecVersion::V1_1).reqs(&["pull.blob.range"]);
    }

    "pull.isolation" => isolation {
        pub const ISOLATION = CheckMeta::new(
            "pull.isolation.other-repo-404",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "content pushed to one repository is neither served nor deleted through another repository name",
        ).reqs(&["pull.manifest.unknown-404", "pull.blob.unknown-404", "pull.head.unknown-404"]);
    }

    "pull.errors" => errors {
        pub const MANIFEST_UNKNOWN_TAG = CheckMeta::new(
            "pull.manifest.unknown-tag-404",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "GET a manifest by unknown tag returns 404",
        ).reqs(&["pull.manifest.unknown-404"]);
        pub const MANIFEST_UNKNOWN_DIGEST = CheckMeta::new(
            "pull.manifest.unknown-digest-404",
            Bucket::Pull,
            Level::Must,
            "pulling-manifests",
            "GET a manifest by unknown digest returns 404",
        ).reqs(&["pull.manifest.unknown-404"]);
        pub const MANIFEST_HEAD_UNKNOWN = CheckMeta::new(
            "pull.manifest.head-unknown-404",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "HEAD an unknown manifest returns 404",
        ).reqs(&["pull.head.unknown-404"]);
        pub const MANIFEST_UNKNOWN_REPO = CheckMeta::new(
            "pull.manifest.unknown-repo-404",
            Bucket::Pull,
            Level::Must,
            "pushing-manifests",
            "GET a manifest in a nonexistent repository returns 404",
        ).reqs(&["pull.repo.unknown-404"]);
        pub const MANIFEST_ERROR_CODE = CheckMeta::new(
            "pull.manifest.error-code",
            Bucket::Pull,
            Level::Must,
            "error-codes",
            "404 for an unknown manifest: a JSON body has the error format and codes from the table (which one is noted: the table names MANIFEST_UNKNOWN, NAME_UNKNOWN for an unknown repository)",
        ).reqs(&["errors.code.table", "errors.body.json-format"]);
        pub const BLOB_UNKNOWN = CheckMeta::new(
            "pull.blob.unknown-404",
            Bucket::Pull,
            Level::Must,
            "pulling-blobs",
            "GET an unknown blob returns 404",
        ).reqs(&["pull.blob.unknown-404"]);
        pub const BLOB_HEAD_UNKNOWN = CheckMeta::new(
            "pull.blob.head-unknown-404",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "HEAD an unknown blob returns 404",
        ).reqs(&["pull.head.unknown-404"]);
        pub const BLOB_ERROR_CODE = CheckMeta::new(
            "pull.blob.error-code",
            Bucket::Pull,
            Level::Must,
            "error-codes",
            "404 for an unknown blob: a JSON body has the error format and codes from the table (which one is noted: the table names BLOB_UNKNOWN)",
        ).reqs(&["errors.code.table", "errors.body.json-format"]);
        pub const ERRORS_JSON = CheckMeta::new(
            "pull.errors.json-format",
            Bucket::Pull,
            Level::Must,
            "error-codes",
            "JSON error bodies are {\"errors\":[{\"code\":...}]} with codes from the table",
        ).reqs(&["general.legacy-error-codes.optional", "errors.body.any-format", "errors.body.json-format", "errors.code.format", "errors.detail.any", "errors.code.table"]);
    }
}

declare_checks! {
    /// The checks that judge every answer of a kind the other checks received: last in a run.
    pub fn run_wide_scenarios(Bucket::Pull);

    "pull.run-wide" exclusive => run_wide {
        pub const ERRORS_EVERY = CheckMeta::new(
            "pull.errors.every-answer",
            Bucket::Pull,
            Level::Must,
            "error-codes",
            "every JSON 4xx body of the run, in every bucket, is {\"errors\":[{\"code\":...}]} with codes from the table",
        ).reqs(&["errors.body.json-format", "errors.code.format", "errors.code.table"]);
        pub const HEADERS_EVERY = CheckMeta::new(
            "pull.headers.every-answer",
            Bucket::Pull,
            Level::Must,
            "checking-if-content-exists-in-the-registry",
            "every 200 to a manifest or blob GET or HEAD of the run, in every bucket, has Docker-Content-Digest (and Content-Length on HEAD)",
        ).reqs(&["pull.manifest.digest-header", "pull.blob.digest-header", "pull.head.digest-header", "pull.head.content-length"]);
    }
}

async fn run_wide(sc: Sc) {
    let sc = every_error_answer(sc).await;
    every_content_answer(sc).await;
}

async fn api(mut sc: Sc) {
    sc.check(&V2_BASE, async |ck| {
        let r = ck.send(Request::get("/v2/")).await?;
        ck.expect_status(&r, &[200], R_V2)
    })
    .await;
}

/// What `pull.manifests` pushes once and reads many ways.
struct Pushed {
    repo: String,
    tag: String,
    image: Manifest,
    index: Manifest,
    nested: Manifest,
    /// A layer of `image`.
    layer: Blob,
}

async fn push_manifest_set(sc: &Sc) -> Res<Pushed> {
    let repo = sc.ns().to_string();
    let tag = sc.tag("pull");
    let a = Image::new(&sc.gen, "image-a", &[1500, 2055], &ManifestOpts::default());
    let b = Image::new(&sc.gen, "image-b", &[777], &ManifestOpts::default());
    push_image(sc, &repo, &a, &tag).await?;
    push_image(sc, &repo, &b, &b.manifest.digest.to_string()).await?;
    let index = image_index(
        &[a.manifest.descriptor(), b.manifest.descriptor()],
        &ManifestOpts::default(),
    );
    push_manifest(sc, &repo, &index, &index.digest.to_string(), RANK_INDEX).await?;
    let nested = image_index(
        &[index.descriptor(), a.manifest.descriptor()],
        &ManifestOpts::default().annotate("org.example.nested", "true"),
    );
    push_manifest(sc, &repo, &nested, &nested.digest.to_string(), RANK_INDEX).await?;
    Ok(Pushed {
        repo,
        tag,
        layer: a.layers[0].clone(),
        image: a.manifest,
        index,
        nested,
    })
}

/// Judges a manifest response's Docker-Content-Digest: presence at `presence` level (with
/// `rule`), and, when present, a match with the returned bytes (always MUST).
fn manifest_dcd(
    ck: &Ck,
    r: &Response,
    m: &Manifest,
    presence: Level,
    rule: impl Into<Rule> + Copy,
    out: &mut Vec<Fail>,
) {
    match digest_header(r, |a| Digest::of(a, &m.bytes)) {
        DigestHeader::Matches(_) => {}
        DigestHeader::Absent => out.push(ck.fail_at(
            presence,
            rule,
            format!(
                "{} answered {} without Docker-Content-Digest",
                r.request,
                r.summary()
            ),
        )),
        DigestHeader::Differs(v) => out.push(ck.fail_at(
            Level::Must,
            R_MANIFEST_DCD_MATCH,
            format!(
                "{} answered Docker-Content-Digest: {v}, but the manifest's digest is {}",
                r.request, m.digest
            ),
        )),
        DigestHeader::Unverifiable(v) => out.push(Fail::Skip(format!(
            "Docker-Content-Digest {v} uses an algorithm the harness cannot compute"
        ))),
    }
}

/// Drops "cannot verify" markers from a findings list, noting them on the check.
fn settle(ck: &mut Ck, found: Vec<Fail>) -> Res {
    let mut v = vec![];
    for f in found {
        match f {
            Fail::Skip(m) => ck.note(m),
            f => v.push(f),
        }
    }
    merge_fails(ck, v)
}

async fn manifests(mut sc: Sc) {
    let pushed = push_manifest_set(&sc).await;
    let Some(p) = sc
        .setup(
            "push an image (by tag), a second image, an index and a nested index",
            async { pushed },
        )
        .await
    else {
        return;
    };
    let v = sc.cfg().spec_version;
    let digest = p.image.digest.to_string();

    sc.check(&MANIFEST_BY_TAG, async |ck| {
        let r = ck.send(get_manifest(&p.repo, &p.tag)).await?;
        expect_manifest_body(ck, &r, &p.image, R_GET_MANIFEST)
    })
    .await;

    sc.check(&MANIFEST_BY_DIGEST, async |ck| {
        let r = ck.send(get_manifest(&p.repo, &digest)).await?;
        expect_manifest_body(ck, &r, &p.image, R_GET_MANIFEST)
    })
    .await;

    sc.check(&MANIFEST_DIGEST_HEADER, async |ck| {
        let mut found = vec![];
        for reference in [&p.tag, &digest] {
            let r = ck.send(get_manifest(&p.repo, reference)).await?;
            ck.expect_status(&r, &[200], R_GET_MANIFEST)?;
            manifest_dcd(
                ck,
                &r,
                &p.image,
                ck.level,
                R_MANIFEST_DCD_MAIN,
                &mut found,
            );
        }
        settle(ck, found)
    })
    .await;

    /// GET a pushed manifest to judge its headers; a non-200 is get-by-digest's verdict.
    async fn get_for_headers(ck: &mut Ck, repo: &str, m: &Manifest) -> Res<Response> {
        let r = ck.send(get_manifest(repo, &m.digest.to_string())).await?;
        ck.expect_status(&r, &[200], R_GET_MANIFEST)
            .map_err(|_| Fail::Skip(format!("{} answered {}; see pull.manifest.get-by-digest", r.request, r.status)))?;
        Ok(r)
    }

    sc.check(&MANIFEST_CONTENT_TYPE, async |ck| {
        let mut found = vec![];
        for m in [&p.image, &p.index] {
            let r = get_for_headers(ck, &p.repo, m).await?;
            match r.header("content-type") {
                None => found.push(ck.fail(
                    R_CT,
                    format!(
                        "{} answered 200 without Content-Type; pushed as {}",
                        r.request, m.media_type
                    ),
                )),
                Some(ct) if headers::media_type(ct) != m.media_type => found.push(ck.fail(
                    R_CT,
                    format!(
                        "{} answered Content-Type: {ct}; pushed as {}",
                        r.request, m.media_type
                    ),
                )),
                Some(_) => {}
            }
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&MANIFEST_CT_PARAMS, async |ck| {
        let mut found = vec![];
        for m in [&p.image, &p.index] {
            let r = get_for_headers(ck, &p.repo, m).await?;
            if let Some(ct) = r.header("content-type") {
                if headers::has_params(ct) {
                    found.push(ck.fail(
                        R_CT_PARAMS,
                        format!("{} answered Content-Type: {ct}", r.request),
                    ));
                }
            }
        }
        merge_fails(ck, found)
    })
    .await;

    for (meta, reference) in [
        (&MANIFEST_HEAD_TAG, &p.tag),
        (&MANIFEST_HEAD_DIGEST, &digest),
    ] {
        sc.check(meta, async |ck| {
            let r = ck.send(head_manifest(&p.repo, reference)).await?;
            ck.expect_status(&r, &[200], R_HEAD)?;
            let mut found = vec![];
            manifest_dcd(
                ck,
                &r,
                &p.image,
                must_since_main(v),
                R_HEAD_DCD_MAIN,
                &mut found,
            );
            // 1.0 asks nothing of a HEAD's Content-Length.
            if v >= SpecVersion::V1_1 && r.header("content-length").is_none() {
                found.push(ck.fail_at(
                    must_since_main(v),
                    R_HEAD_LEN_MAIN,
                    format!(
                        "{} answered {} without Content-Length",
                        r.request,
                        r.summary()
                    ),
                ));
            }
            settle(ck, found)
        })
        .await;
    }

    sc.check(&MANIFEST_HEAD_LENGTH, async |ck| {
        let mut found = vec![];
        for reference in [&p.tag, &digest] {
            let r = ck.send(head_manifest(&p.repo, reference)).await?;
            ck.expect_status(&r, &[200], R_HEAD).map_err(|_| {
                Fail::Skip(format!(
                    "{} answered {}; see pull.manifest.head-by-*",
                    r.request, r.status
                ))
            })?;
            let want = p.image.bytes.len() as u64;
            match r.header("content-length") {
                None => found.push(ck.fail(
                    R_HEAD_LEN_MAIN,
                    format!(
                        "{} answered {} without Content-Length",
                        r.request,
                        r.summary()
                    ),
                )),
                Some(cl) if cl.trim().parse::<u64>().ok() != Some(want) => found.push(ck.fail(
                    R_HEAD_LEN_MAIN,
                    format!(
                        "{} answered Content-Length: {cl}; the manifest is {want} bytes",
                        r.request
                    ),
                )),
                Some(_) => {}
            }
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&MANIFEST_INDEX, async |ck| {
        let mut found = vec![];
        for m in [&p.index, &p.nested] {
            let r = ck
                .send(get_manifest(&p.repo, &m.digest.to_string()))
                .await?;
            expect_manifest_body(ck, &r, m, R_GET_MANIFEST)?;
            let ct = r.header("content-type").unwrap_or("");
            if headers::media_type(ct) != content::MT_INDEX {
                found.push(ck.fail_at(
                    Level::Should,
                    R_CT,
                    format!(
                        "{} answered Content-Type: {ct:?} for an image index",
                        r.request
                    ),
                ));
            }
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&WARNINGS, async |ck| {
        let reqs = [
            Request::get("/v2/"),
            get_manifest(&p.repo, &p.tag),
            head_manifest(&p.repo, &p.tag),
            get_manifest(&p.repo, &digest),
            head_manifest(&p.repo, &digest),
            get_blob(&p.repo, p.layer.digest()),
            head_blob(&p.repo, p.layer.digest()),
            Request::get(format!("/v2/{}/tags/list", p.repo)),
            // an error answer too: warnings often come with refusals
            get_manifest(&p.repo, &format!("{}-absent", p.tag)),
        ];
        let n = reqs.len();
        let (mut problems, mut seen) = (vec![], 0);
        for q in reqs {
            let r = ck.send(q).await?;
            seen += r.headers.get_all("warning").iter().count();
            problems.extend(warning_problems(&r));
        }
        // The same header on every response says nothing new after the first few.
        const SHOWN: usize = 3;
        if problems.len() > SHOWN {
            let more = problems.len() - SHOWN;
            let rule = problems[SHOWN].0;
            problems.truncate(SHOWN);
            problems.push((
                rule,
                format!("and {more} more finding(s) on the other responses"),
            ));
        }
        let found: Vec<Fail> = problems
            .into_iter()
            .map(|(rule, d)| ck.fail(rule, d))
            .collect();
        if found.is_empty() {
            ck.note(if seen == 0 {
                format!("no Warning header on {n} responses")
            } else {
                format!("{seen} Warning header(s) on {n} responses, all well-formed")
            });
        }
        merge_fails(ck, found)
    })
    .await;
}

/// The warning-values of one `Warning` header line: split at commas outside quoted strings
/// (RFC 7234 §5.5: `Warning = 1#warning-value`); empty list elements are dropped.
fn split_warnings(v: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut esc) = (vec![], 0, false, false);
    for (i, c) in v.char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if quoted => esc = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect()
}

/// What is wrong with a response's Warning headers: (rule, detail) per problem.
fn warning_problems(r: &Response) -> Vec<(Rule, String)> {
    let lines: Vec<&[u8]> = r
        .headers
        .get_all("warning")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let mut out = vec![];
    let total: usize = lines.iter().map(|l| l.len()).sum();
    if total > WARNING_BYTES_MAX {
        out.push((
            R_WARN_SIZE,
            format!(
                "{} answered {} Warning header(s) with {total} bytes of warning data",
                r.request,
                lines.len()
            ),
        ));
    }
    for l in lines {
        let text = String::from_utf8_lossy(l);
        for w in split_warnings(&text) {
            if !headers::valid_warning(w) {
                let shown: String = w.chars().take(200).collect();
                out.push((
                    R_WARN_FORMAT,
                    format!(
                        "{} answered Warning: {shown:?}; expected 299 - \"<text>\" without a warn-date",
                        r.request
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lists_split_outside_quotes() {
        assert_eq!(
            split_warnings(r#"299 - "a, b", 299 - "c \", d""#),
            vec![r#"299 - "a, b""#, r#"299 - "c \", d""#]
        );
        assert_eq!(split_warnings(" , 299 - \"x\" ,"), vec!["299 - \"x\""]);
        assert!(split_warnings("").is_empty());
        for w in split_warnings(r#"299 - "a", 299 - "b""#) {
            assert!(headers::valid_warning(w), "{w}");
        }
        let dated = split_warnings(r#"299 - "a" "Sat, 01 Jan 2000 00:00:00 GMT""#);
        assert!(
            dated.iter().any(|w| !headers::valid_warning(w)),
            "{dated:?}"
        );
    }

    #[test]
    fn error_answers_are_grouped_by_route_and_judged_by_the_table() {
        assert_eq!(shape("PATCH /v2/a/b/blobs/uploads/1234?_state=x"), "PATCH /blobs/uploads/");
        assert_eq!(shape("GET /v2/other/blobs/sha256:ab"), "GET /blobs/");
        assert_eq!(shape("GET /v2/"), "GET /v2/");
        let ok = serde_json::json!({"errors": [{"code": "BLOB_UNKNOWN", "message": "", "detail": null}]});
        assert_eq!(error_json_codes(&ok).unwrap(), vec!["BLOB_UNKNOWN"]);
        assert_eq!(error_json_codes(&serde_json::json!({"errors": [{"code": "MANIFEST_UNVERIFIED", "message": null}]})).unwrap(), vec!["MANIFEST_UNVERIFIED"]);
        assert!(error_json_codes(&serde_json::json!("404")).unwrap().is_empty());
        for bad in [
            serde_json::json!({"message": "no errors array"}),
            serde_json::json!({"errors": [{"code": "NOT_FOUND"}]}),
            serde_json::json!({"errors": [{"message": "no code"}]}),
            serde_json::json!({"errors": [{"code": "BLOB_UNKNOWN", "message": 404}]}),
            serde_json::json!([{"code": "BLOB_UNKNOWN"}]),
        ] {
            assert!(error_json_codes(&bad).is_err(), "{bad}");
        }
    }
}

/// Blob sizes: one small, one well above 1 MiB (not a multiple of any buffer size).
const SMALL: u64 = 64 * 1024 + 3;
const BIG: u64 = 3 * 1024 * 1024 + 4099;

async fn blobs(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let small = sc.gen.blob("small", SMALL);
    let big = sc.gen.blob("big", BIG);
    let pushed = async {
        push_blob(&sc, &repo, &small).await?;
        push_blob(&sc, &repo, &big).await
    }
    .await;
    if sc
        .setup("push a 64 KiB and a 3 MiB blob", async { pushed })
        .await
        .is_none()
    {
        return;
    }
    let v = sc.cfg().spec_version;
    let cleanup = sc.ctx.clone();

    sc.check(&BLOB_GET, async |ck| {
        for b in [&small, &big] {
            let r = ck.send(get_blob(&repo, b.digest())).await?;
            expect_blob_body(ck, &r, b, R_GET_BLOB)?;
        }
        Ok(())
    })
    .await;

    sc.check(&BLOB_DIGEST_HEADER, async |ck| {
        let mut found = vec![];
        for b in [&small, &big] {
            let r = ck.send(get_blob(&repo, b.digest())).await?;
            ck.expect_status(&r, &[200], R_GET_BLOB)?;
            match digest_header(&r, |a| blob_digest(b, a)) {
                DigestHeader::Matches(_) => {}
                DigestHeader::Absent if redirected(&r, &blob_path(&repo, b.digest())) => ck.note(format!("{} was redirected to {}, whose answer has no Docker-Content-Digest (not judged)", r.request, r.url.origin().ascii_serialization())),
                DigestHeader::Absent => found.push(ck.fail(R_BLOB_DCD_MAIN, format!("{} answered {} without Docker-Content-Digest", r.request, r.summary()))),
                DigestHeader::Differs(h) => found.push(ck.fail_at(Level::Must, R_BLOB_DCD_MATCH, format!("{} answered Docker-Content-Digest: {h}; the body's digest is {}", r.request, b.digest()))),
                DigestHeader::Unverifiable(h) => ck.note(format!("Docker-Content-Digest {h} uses an algorithm the harness cannot compute")),
            }
        }
        merge_fails(ck, found)
    })
    .await;

    let empty = sc.gen.blob("empty", 0);
    sc.check(&BLOB_EMPTY, async |ck| {
        // The zero-length blob is shared with anything else in the repository: clean it up
        // only if this run created it.
        let existed = ck.send(head_blob(&repo, empty.digest())).await?.status == 200;
        match try_push_blob(ck, &repo, &empty).await? {
            Ok(_) if !existed => cleanup.cleanup.blob(&repo, &empty.digest().to_string()),
            Ok(_) => {}
            Err(why) => {
                return Err(Fail::Skip(format!(
                    "the zero-length blob could not be pushed: {why}"
                )))
            }
        }
        let r = ck.send(get_blob(&repo, empty.digest())).await?;
        expect_blob_body(ck, &r, &empty, R_GET_BLOB)
    })
    .await;

    sc.check(&BLOB_HEAD, async |ck| {
        let mut found = vec![];
        for b in [&small, &big] {
            let r = ck.send(head_blob(&repo, b.digest())).await?;
            ck.expect_status(&r, &[200], R_HEAD)?;
            let len_rule = R_HEAD_LEN_MAIN;
            // 1.0 asks nothing of a HEAD's Content-Length.
            let cl = r.header("content-length").filter(|_| v >= SpecVersion::V1_1);
            match cl {
                None if v < SpecVersion::V1_1 => {}
                None => found.push(ck.fail_at(must_since_main(v), len_rule, format!("{} answered {} without Content-Length", r.request, r.summary()))),
                Some(cl) if cl.trim().parse::<u64>().ok() != Some(b.len) => {
                    found.push(ck.fail_at(must_since_main(v), len_rule, format!("{} answered Content-Length: {cl}; the blob is {} bytes", r.request, b.len)))
                }
                Some(_) => {}
            }
            match digest_header(&r, |a| blob_digest(b, a)) {
                DigestHeader::Matches(_) => {}
                DigestHeader::Absent if redirected(&r, &blob_path(&repo, b.digest())) => ck.note(format!("{} was redirected to {}, whose answer has no Docker-Content-Digest (not judged)", r.request, r.url.origin().ascii_serialization())),
                DigestHeader::Absent => found.push(ck.fail_at(must_since_main(v), R_HEAD_DCD_MAIN, format!("{} answered {} without Docker-Content-Digest", r.request, r.summary()))),
                DigestHeader::Differs(h) => found.push(ck.fail_at(Level::Must, R_BLOB_DCD_MATCH, format!("{} answered Docker-Content-Digest: {h}; the blob's digest is {}", r.request, b.digest()))),
                DigestHeader::Unverifiable(h) => ck.note(format!("Docker-Content-Digest {h} uses an algorithm the harness cannot compute")),
            }
        }
        merge_fails(ck, found)
    })
    .await;

    sc.check(&BLOB_RANGE, async |ck| {
        // Crosses the 1 MiB and 2 MiB marks at odd offsets.
        let (a, b) = ((1 << 20) - 7, (2 << 20) + 11);
        let want = Digest::sha256(&big.range(a, b + 1));
        let r = ck.send(get_blob(&repo, big.digest()).header("Range", format!("bytes={a}-{b}"))).await?;
        match r.status {
            206 => {
                let (d, n) = r.hashed.clone().unwrap_or_else(|| (Digest::sha256(&r.body), r.body.len() as u64));
                if d != want || n != b - a + 1 {
                    return Err(ck.fail_at(Level::Must, R_RANGE_206, format!("{} answered 206 with {n} bytes hashing to {d}; bytes {a}-{b} of the blob are {} bytes with digest {want}", r.request, b - a + 1)));
                }
                let cr = r.header("content-range").unwrap_or("");
                let total = cr.rsplit_once('/').map(|(_, t)| t.trim().to_string());
                let total_ok = matches!(total.as_deref(), Some("*")) || total.as_deref() == Some(&big.len.to_string());
                if headers::parse_range(cr) != Some((a, b)) || !cr.trim_start().starts_with("bytes") || !total_ok {
                    return Err(ck.fail_at(Level::Must, R_RANGE_206, format!("{} answered 206 with Content-Range: {cr:?}; expected \"bytes {a}-{b}/{}\"", r.request, big.len)));
                }
                Ok(())
            }
            200 => {
                let whole = matches!(&r.hashed, Some((d, n)) if d == big.digest() && *n == big.len);
                if !whole {
                    return Err(ck.fail_at(Level::Must, R_GET_BLOB, format!("{} answered 200 with content other than the blob: {}", r.request, r.summary())));
                }
                Err(ck.fail(R_RANGE, format!("{} answered 200 with the whole blob: the Range header was ignored", r.request)))
            }
            _ => Err(ck.fail(R_RANGE, format!("{} answered {} to a satisfiable range", r.request, r.summary()))),
        }
    })
    .await;
}

async fn errors(mut sc: Sc) {
    let repo = sc.ns().to_string();
    // The repository should exist, so "unknown manifest" is not "unknown repository". A
    // refused push is not fatal: the 404s hold either way, only the expected code changes.
    let img = Image::new(&sc.gen, "errors", &[100], &ManifestOpts::default());
    let repo_known = push_image(&sc, &repo, &img, &sc.tag("errors"))
        .await
        .is_ok();
    sc.setup_trace().take();
    let unknown_tag = sc.tag("unknown");
    let unknown_digest =
        Digest::sha256(sc.gen.token("unknown-manifest", 32).as_bytes()).to_string();
    let unknown_repo = format!("{repo}/{}", sc.tag("nonexistent"));
    let unknown_blob = Digest::sha256(sc.gen.token("unknown-blob", 32).as_bytes());

    sc.check(&MANIFEST_UNKNOWN_TAG, async |ck| {
        let r = ck.send(get_manifest(&repo, &unknown_tag)).await?;
        ck.expect_status(&r, &[404], R_MANIFEST_404)?;
        error_codes(ck, &r).map(|_| ())
    })
    .await;

    sc.check(&MANIFEST_UNKNOWN_DIGEST, async |ck| {
        let r = ck.send(get_manifest(&repo, &unknown_digest)).await?;
        ck.expect_status(&r, &[404], R_MANIFEST_404)
    })
    .await;

    sc.check(&MANIFEST_HEAD_UNKNOWN, async |ck| {
        for reference in [&unknown_tag, &unknown_digest] {
            let r = ck.send(head_manifest(&repo, reference)).await?;
            ck.expect_status(&r, &[404], R_HEAD_404)?;
        }
        Ok(())
    })
    .await;

    sc.check(&MANIFEST_UNKNOWN_REPO, async |ck| {
        let r = ck.send(get_manifest(&unknown_repo, &unknown_tag)).await?;
        ck.expect_status(&r, &[404], R_REPO_404)
    })
    .await;

    sc.check(&MANIFEST_ERROR_CODE, async |ck| {
        let in_repo: &[&str] = if repo_known {
            &["MANIFEST_UNKNOWN"]
        } else {
            &["MANIFEST_UNKNOWN", "NAME_UNKNOWN"]
        };
        let cases = [
            (&repo, &unknown_tag, in_repo),
            (&repo, &unknown_digest, in_repo),
            (
                &unknown_repo,
                &unknown_tag,
                &["NAME_UNKNOWN", "MANIFEST_UNKNOWN"][..],
            ),
        ];
        let mut seen = vec![];
        for (rp, reference, want) in cases {
            let r = ck.send(get_manifest(rp, reference)).await?;
            if r.status != 404 {
                return Err(Fail::Skip(format!(
                    "{} answered {}, not 404; see the 404 checks",
                    r.request, r.status
                )));
            }
            seen.extend(expect_error_code(ck, &r, want)?);
        }
        if seen.is_empty() {
            ck.note("no 404 had a JSON error body; nothing to compare");
        }
        Ok(())
    })
    .await;

    sc.check(&BLOB_UNKNOWN, async |ck| {
        let r = ck.send(get_blob(&repo, &unknown_blob)).await?;
        ck.expect_status(&r, &[404], R_BLOB_404)
    })
    .await;

    sc.check(&BLOB_HEAD_UNKNOWN, async |ck| {
        let r = ck.send(head_blob(&repo, &unknown_blob)).await?;
        ck.expect_status(&r, &[404], R_HEAD_404)
    })
    .await;

    sc.check(&BLOB_ERROR_CODE, async |ck| {
        let want: &[&str] = if repo_known {
            &["BLOB_UNKNOWN"]
        } else {
            &["BLOB_UNKNOWN", "NAME_UNKNOWN"]
        };
        let r = ck.send(get_blob(&repo, &unknown_blob)).await?;
        if r.status != 404 {
            return Err(Fail::Skip(format!(
                "{} answered {}, not 404; see pull.blob.unknown-404",
                r.request, r.status
            )));
        }
        if expect_error_code(ck, &r, want)?.is_empty() {
            ck.note("the 404 had no JSON error body; nothing to compare");
        }
        Ok(())
    })
    .await;

    sc.check(&ERRORS_JSON, async |ck| {
        let reqs = [
            get_manifest(&repo, &unknown_tag),
            get_manifest(&repo, &unknown_digest),
            get_manifest(&unknown_repo, &unknown_tag),
            get_blob(&repo, &unknown_blob),
            get_blob(&unknown_repo, &unknown_blob),
        ];
        let mut json = 0;
        for q in reqs {
            let r = ck.send(q).await?;
            if (400..500).contains(&r.status) && !error_codes(ck, &r)?.is_empty() {
                json += 1;
            }
        }
        if json == 0 {
            // "A 4XX response code from the registry MAY return a body in any format": with no
            // JSON body there is nothing this check can judge.
            return Err(Fail::Skip("no 4xx answer had a JSON body (any format is allowed); nothing to judge".into()));
        }
        ck.note(format!("{json} of 5 error responses had a JSON error body"));
        Ok(())
    })
    .await;
}

/// "A `4XX` response code from the registry MAY return a body in any format. If the response
/// body is in JSON format, it MUST have the following format": for every 4xx, not only the ones
/// `pull.errors.json-format` provokes. Answers on upload, tag, referrers and delete paths are
/// where registries invent codes the table does not have.
async fn every_error_answer(mut sc: Sc) -> Sc {
    let mut answers = sc.ctx.error_answers.lock().unwrap().clone();
    // Checks finish in an order that depends on timing; the findings must not (a stable sort
    // keeps each check's own requests in the order it made them).
    answers.sort_by_key(|a| a.check);
    sc.check(&ERRORS_EVERY, async |ck| {
        if answers.is_empty() {
            return Err(Fail::Skip("the run received no 4xx answer; nothing to judge".into()));
        }
        let json: Vec<_> = answers.iter().filter_map(|a| a.json.as_ref().map(|v| (a, v))).collect();
        if json.is_empty() {
            // "MAY return a body in any format"
            return Err(Fail::Skip(format!("none of the run's {} 4xx answers had a JSON body (any format is allowed); nothing to judge", answers.len())));
        }
        // One failure per (kind of request, status, finding): the same fault seen by ten checks
        // is one finding, named with the first check that met it.
        let mut found: Vec<(Rule, String)> = vec![];
        let mut seen = std::collections::HashSet::new();
        let mut more = 0;
        for (a, v) in &json {
            let Err((rule, why)) = error_json_codes(v) else { continue };
            if !seen.insert((shape(&a.request), a.status, why.clone())) {
                continue;
            }
            if found.len() == 10 {
                more += 1;
                continue;
            }
            let body = v.to_string();
            let body = if body.len() > 200 { format!("{}…", &body[..body.floor_char_boundary(200)]) } else { body };
            found.push((rule, format!("{} answered {} with {why} (seen by {}): {body}", a.request, a.status, a.check)));
        }
        let mut fails: Vec<Fail> = found.into_iter().map(|(rule, detail)| ck.fail(rule, detail)).collect();
        if more > 0 {
            fails.push(ck.fail(Rule::req("errors.body.json-format"), format!("and {more} more findings like these on other kinds of request")));
        }
        ck.note(format!("{} 4xx answers of {} checks judged; {} with a JSON body", answers.len(), answers.iter().map(|a| a.check).collect::<std::collections::HashSet<_>>().len(), json.len()));
        merge_fails(ck, fails)
    })
    .await;
    sc
}

/// "A successful response MUST [SHOULD in v1.1.1] contain the digest of the uploaded blob in the
/// header `Docker-Content-Digest`" (GET and HEAD of manifests and blobs) and, for HEAD, "the size
/// in bytes ... in the header `Content-Length`": for every such answer of the run (an index, an
/// artifact, a referrer, a mounted blob), not only the ones the pull checks ask for.
async fn every_content_answer(mut sc: Sc) {
    let v = sc.cfg().spec_version;
    let mut answers = sc.ctx.content_answers.lock().unwrap().clone();
    answers.sort_by_key(|a| a.check);
    sc.check(&HEADERS_EVERY, async |ck| {
        if answers.is_empty() {
            return Err(Fail::Skip("the run received no 200 to a manifest or blob GET or HEAD; nothing to judge".into()));
        }
        let mut found = vec![];
        let mut seen = std::collections::HashSet::new();
        for a in &answers {
            let mut missing = vec![];
            if !a.digest_header {
                missing.push(("Docker-Content-Digest", if a.method == "HEAD" { R_HEAD_DCD_MAIN } else if a.manifest { R_MANIFEST_DCD_MAIN } else { R_BLOB_DCD_MAIN }));
            }
            // 1.0 asks nothing of a HEAD's Content-Length.
            if a.method == "HEAD" && !a.content_length && v >= SpecVersion::V1_1 {
                missing.push(("Content-Length", R_HEAD_LEN_MAIN));
            }
            for (header, rule) in missing {
                if seen.insert((shape(&a.request), header)) {
                    found.push(ck.fail_at(must_since_main(v), rule, format!("{} answered 200 without {header} (seen by {})", a.request, a.check)));
                }
            }
        }
        ck.note(format!("{} answers of {} checks judged", answers.len(), answers.iter().map(|a| a.check).collect::<std::collections::HashSet<_>>().len()));
        merge_fails(ck, found)
    })
    .await;
}

/// The kind of a request: its method and the API route it took, without the repository and
/// the run-unique parts (digests, tags, session ids), so that one fault met on many paths is
/// reported once per kind of request.
fn shape(request: &str) -> String {
    let (method, path) = request.split_once(' ').unwrap_or(("", request));
    let route = ["/blobs/uploads/", "/manifests/", "/blobs/", "/tags/", "/referrers/"]
        .into_iter()
        .find(|r| path.contains(r))
        .unwrap_or(path);
    format!("{method} {route}")
}

/// Content of one repository seen through others: the cross-mount repository (given to the
/// run) and a repository name that does not exist. A blob or manifest "not found in the
/// repository" is a 404 there, whatever other repositories hold; a DELETE there must not
/// remove it from the repository that does hold it.
async fn isolation(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let others = [sc.ns2().to_string(), format!("{repo}/{}", sc.tag("nonexistent"))];
    let t = sc.tag("isolation");
    // A layer of its own (run-unique bytes): no other scenario pushes it anywhere.
    let img = setup_tagged_image(&mut sc, &repo, "isolation", &[333], &t).await;
    let Some(img) = img else { return };
    let layer = img.layers[0].digest().clone();
    let digest = img.manifest.digest.to_string();
    // The other repository gets a blob of its own first: it exists when probed whether or not
    // another scenario has pushed there yet, so its answers cannot depend on timing (a
    // registry that answers 403 for an unknown repository would otherwise be judged or not).
    let mark = sc.gen.blob("isolation/other-repo", 64);
    let other = others[0].clone();
    if setup_with(&mut sc, "push a blob to the other repository", async |sc| push_blob(sc, &other, &mark).await).await.is_none() {
        return;
    }

    sc.check(&ISOLATION, async |ck| {
        let mut found = vec![];
        for other in &others {
            for (q, rule) in [
                (get_blob(other, &layer), R_BLOB_404),
                (head_blob(other, &layer), R_HEAD_404),
                (get_manifest(other, &digest), R_MANIFEST_404),
                (head_manifest(other, &digest), R_HEAD_404),
            ] {
                let r = ck.send(q).await?;
                if r.status != 404 {
                    found.push(ck.fail(rule, format!("{} answered {} for content pushed only to {repo}", r.request, r.summary())));
                }
            }
        }
        // Deletes through the other repository: whatever they answer, the content stays.
        let other = &others[0];
        let d1 = ck.send(Request::delete(manifest_path(other, &digest))).await?.status;
        let d2 = ck.send(Request::delete(blob_path(other, &layer))).await?.status;
        let m = ck.send(get_manifest(&repo, &digest)).await?;
        if m.status != 200 {
            found.push(ck.fail(R_GET_MANIFEST, format!("after DELETEs through {other} (answered {d1} and {d2}), {} answered {}: content of {repo} was deleted through another repository", m.request, m.summary())));
        }
        let b = ck.send(head_blob(&repo, &layer)).await?;
        if b.status != 200 {
            found.push(ck.fail(R_GET_BLOB, format!("after DELETEs through {other} (answered {d1} and {d2}), {} answered {}: a blob of {repo} was deleted through another repository", b.request, b.summary())));
        }
        merge_fails(ck, found)
    })
    .await;
}
