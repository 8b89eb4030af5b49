//! Request helpers shared by every bucket: pushing blobs and manifests for setup, error body
//! checks. Checks call these instead of repeating request code.

use crate::prelude::*;

/// `/v2/<repo>/blobs/<digest>`
pub fn blob_path(repo: &str, d: &Digest) -> String {
    format!("/v2/{repo}/blobs/{d}")
}

/// `/v2/<repo>/manifests/<reference>`
pub fn manifest_path(repo: &str, reference: &str) -> String {
    format!("/v2/{repo}/manifests/{reference}")
}

pub use crate::headers::with_query;
pub(crate) use super::declare::declare_checks;

/// Pushes a blob with POST + monolithic PUT (setup helper; not itself a check), once per run
/// and repository (`RunCtx::blob_gate`). Records it for cleanup unless it was there before
/// (constant blobs such as the empty config or the zero-length blob may be shared with other
/// runs and content).
pub async fn push_blob(sc: &Sc, repo: &str, blob: &Blob) -> Res {
    let gate = sc.ctx.blob_gate(repo, &blob.digest().to_string());
    let mut pushed = gate.lock().await;
    if *pushed {
        return Ok(());
    }
    let existed = sc.send(head_blob(repo, blob.digest())).await?.status == 200;
    let r = sc
        .send(Request::post(format!("/v2/{repo}/blobs/uploads/")))
        .await?;
    if r.status != 202 {
        return Err(setup_fail(&r, "202 Accepted to start an upload"));
    }
    let loc = location(&r).ok_or_else(|| setup_fail(&r, "a Location header"))?;
    let put = Request::put(with_query(&loc, "digest", &blob.digest().to_string()))
        .header("Content-Type", "application/octet-stream")
        .body(Body::Blob {
            blob: blob.clone(),
            start: 0,
            end: blob.len,
        });
    let r = sc.send(put).await?;
    if r.status != 201 {
        return Err(setup_fail(&r, "201 Created for the blob PUT"));
    }
    if !existed {
        sc.cleanup().blob(repo, &blob.digest().to_string());
    }
    *pushed = true;
    Ok(())
}

/// Pushes a manifest by `reference` (tag or digest); records it for cleanup.
pub async fn push_manifest(
    sc: &Sc,
    repo: &str,
    m: &Manifest,
    reference: &str,
    rank: u8,
) -> Res<Response> {
    let r = sc
        .send(
            Request::put(manifest_path(repo, reference))
                .header("Content-Type", m.media_type.clone())
                .bytes(m.bytes.clone()),
        )
        .await?;
    if r.status != 201 {
        return Err(setup_fail(&r, "201 Created for the manifest PUT"));
    }
    sc.cleanup().manifest(repo, &m.digest.to_string(), rank);
    if Digest::parse(reference).is_none() {
        sc.cleanup().tag(repo, reference);
    }
    Ok(r)
}

// ---- Shared request building and judging (pull and push buckets, usable by all) ----

/// Sends traced requests: a running check (`Ck`) or a scenario during setup (`Sc`, traced into
/// its setup trace, so a failed setup shows what was exchanged).
pub trait Tx: Sync {
    fn tx(&self) -> (&crate::client::Client, &crate::trace::TraceSink);
}

impl Tx for Ck {
    fn tx(&self) -> (&crate::client::Client, &crate::trace::TraceSink) {
        (&self.client, &self.trace)
    }
}

impl Tx for Sc {
    fn tx(&self) -> (&crate::client::Client, &crate::trace::TraceSink) {
        (self.client(), self.setup_trace())
    }
}

/// Sends one request through `t`'s client and trace.
pub async fn send(t: &impl Tx, req: Request) -> Res<Response> {
    let (c, tr) = t.tx();
    Ok(c.send(&req, tr).await?)
}

/// `/v2/<repo>/blobs/uploads/`
pub fn uploads_path(repo: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/")
}

/// GET a manifest, with the Accept header a client sends.
pub fn get_manifest(repo: &str, reference: &str) -> Request {
    Request::get(manifest_path(repo, reference)).header("Accept", MANIFEST_ACCEPT)
}

/// HEAD a manifest, with the Accept header a client sends.
pub fn head_manifest(repo: &str, reference: &str) -> Request {
    Request::head(manifest_path(repo, reference)).header("Accept", MANIFEST_ACCEPT)
}

/// PUT a manifest by tag or digest with its media type as Content-Type.
pub fn put_manifest(repo: &str, reference: &str, m: &Manifest) -> Request {
    Request::put(manifest_path(repo, reference))
        .header("Content-Type", m.media_type.clone())
        .bytes(m.bytes.clone())
}

/// GET a blob, hashing the body with the digest's algorithm (never buffered).
pub fn get_blob(repo: &str, d: &Digest) -> Request {
    Request::get(blob_path(repo, d)).read(Read::Hash(d.algorithm))
}

/// HEAD a blob.
pub fn head_blob(repo: &str, d: &Digest) -> Request {
    Request::head(blob_path(repo, d))
}

/// The response's `Location` resolved against the URL that answered (RFC 9110 §10.2.2), so
/// relative and absolute forms both work and query parameters are kept. None when absent
/// or not a URI reference.
pub fn location(r: &Response) -> Option<String> {
    let l = r.header("location")?.trim();
    if l.is_empty() {
        return None;
    }
    r.url.join(l).ok().map(|u| u.to_string())
}

/// `location(r)`, or a violation of `rule` naming the request and response.
pub fn expect_location(ck: &Ck, r: &Response, rule: impl Into<Rule> + Copy) -> Res<String> {
    match location(r) {
        Some(l) => Ok(l),
        None => Err(ck.fail(
            rule,
            format!(
                "{} answered {} without a usable Location header",
                r.request,
                r.summary()
            ),
        )),
    }
}

/// `OCI-Chunk-Min-Length` of an upload POST response: Ok(None) when absent, Err(raw value)
/// when it is not a positive integer.
pub fn chunk_min_length(r: &Response) -> Result<Option<u64>, String> {
    match r.header("oci-chunk-min-length") {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(v.to_string()),
        },
    }
}

/// Largest chunk the harness sends; a registry minimum above it is honoured only up to here.
pub const CHUNK_CAP: u64 = 64 << 20;

/// Chunk size for an upload: `want`, raised to the registry's minimum (capped at CHUNK_CAP).
pub fn chunk_size(min: Option<u64>, want: u64) -> u64 {
    want.max(min.unwrap_or(0)).clamp(1, CHUNK_CAP)
}

/// PATCH `blob[start..end)` to an upload location with `Content-Range: start-(end-1)`.
pub fn patch_chunk(loc: &str, blob: &Blob, start: u64, end: u64) -> Request {
    Request::patch(loc)
        .header("Content-Type", "application/octet-stream")
        .header(
            "Content-Range",
            format!("{}-{}", start, end.saturating_sub(1)),
        )
        .body(Body::Blob {
            blob: blob.clone(),
            start,
            end,
        })
}

/// PATCH the whole blob without Content-Range (a streamed upload).
pub fn patch_stream(loc: &str, blob: &Blob) -> Request {
    Request::patch(loc)
        .header("Content-Type", "application/octet-stream")
        .body(Body::Blob {
            blob: blob.clone(),
            start: 0,
            end: blob.len,
        })
}

/// The closing PUT `<location>?digest=<digest>`: with `chunk` Some((start, end)) it carries
/// `blob[start..end)` with Content-Range, with None it has no body.
pub fn put_close(loc: &str, digest: &str, blob: &Blob, chunk: Option<(u64, u64)>) -> Request {
    let r = Request::put(with_query(loc, "digest", digest));
    match chunk {
        None => r,
        Some((start, end)) => r
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                format!("{}-{}", start, end.saturating_sub(1)),
            )
            .body(Body::Blob {
                blob: blob.clone(),
                start,
                end,
            }),
    }
}

/// The monolithic PUT `<location>?digest=<digest>` carrying the whole blob.
pub fn put_whole(loc: &str, digest: &str, blob: &Blob) -> Request {
    Request::put(with_query(loc, "digest", digest))
        .header("Content-Type", "application/octet-stream")
        .body(Body::Blob {
            blob: blob.clone(),
            start: 0,
            end: blob.len,
        })
}

/// Best-effort DELETE of an upload session the check no longer needs; failures are ignored
/// (as the spec tells clients to).
pub async fn abandon_upload(t: &impl Tx, loc: &str) {
    let _ = send(t, Request::delete(loc).header("Content-Length", "0")).await;
}

/// The blob's digest in any algorithm (its own is cached; another is computed by streaming).
pub fn blob_digest(blob: &Blob, alg: Algorithm) -> Digest {
    if alg == blob.algorithm {
        return blob.digest().clone();
    }
    let mut h = crate::digest::Hasher::new(alg);
    for p in blob.pieces(0, blob.len, 1 << 20) {
        h.update(&p);
    }
    h.finish()
}

/// Judges a hashed blob GET: 200 and a body that hashes to the blob's digest with its length.
pub fn expect_blob_body(ck: &Ck, r: &Response, blob: &Blob, rule: impl Into<Rule> + Copy) -> Res {
    ck.expect_status(r, &[200], rule)?;
    match &r.hashed {
        Some((d, n)) if d == blob.digest() && *n == blob.len => Ok(()),
        Some((d, n)) => Err(ck.fail(
            rule,
            format!(
                "{} answered 200 with {n} bytes hashing to {d}; expected {} bytes with digest {}",
                r.request,
                blob.len,
                blob.digest()
            ),
        )),
        None => {
            let d = Digest::of(blob.algorithm, &r.body);
            if d == *blob.digest() && r.body.len() as u64 == blob.len {
                Ok(())
            } else {
                Err(ck.fail(rule, format!("{} answered 200 with {} bytes hashing to {d}; expected {} bytes with digest {}", r.request, r.body.len(), blob.len, blob.digest())))
            }
        }
    }
}

/// Judges a manifest GET: 200 and exactly the pushed bytes.
pub fn expect_manifest_body(ck: &Ck, r: &Response, m: &Manifest, rule: impl Into<Rule> + Copy) -> Res {
    ck.expect_status(r, &[200], rule)?;
    if r.body == m.bytes {
        return Ok(());
    }
    let at = r
        .body
        .iter()
        .zip(m.bytes.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(r.body.len().min(m.bytes.len()));
    Err(ck.fail(
        rule,
        format!(
            "{} answered 200 with {} bytes (digest {}) that differ from the {} pushed bytes (digest {}) from offset {at}; response: {}",
            r.request,
            r.body.len(),
            Digest::sha256(&r.body),
            m.bytes.len(),
            m.digest,
            r.summary()
        ),
    ))
}

/// What a `Docker-Content-Digest` header says about the content it labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestHeader {
    Absent,
    /// Present and equal to the content's digest in the header's algorithm.
    Matches(String),
    /// Present but not the content's digest (or not a digest at all).
    Differs(String),
    /// A well-formed digest of an algorithm the harness cannot compute.
    Unverifiable(String),
}

/// Reads `Docker-Content-Digest` and compares it with `expect(algorithm)`, the digest of the
/// content in the algorithm the header uses (the spec lets it differ from the requested one).
pub fn digest_header(r: &Response, expect: impl Fn(Algorithm) -> Digest) -> DigestHeader {
    let Some(v) = r.header("docker-content-digest") else {
        return DigestHeader::Absent;
    };
    let v = v.trim().to_string();
    if let Some(d) = Digest::parse(&v) {
        return if d == expect(d.algorithm) {
            DigestHeader::Matches(v)
        } else {
            DigestHeader::Differs(v)
        };
    }
    // OCI digest grammar: algorithm-component ([+._-] component)* ":" [a-zA-Z0-9=_-]+
    let ok = match v.split_once(':') {
        Some((alg, enc)) => {
            !alg.is_empty()
                && !matches!(alg, "sha256" | "sha512")
                && alg.split(['+', '.', '_', '-']).all(|c| {
                    !c.is_empty()
                        && c.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
                && !enc.is_empty()
                && enc
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        }
        None => false,
    };
    if ok {
        DigestHeader::Unverifiable(v)
    } else {
        DigestHeader::Differs(v)
    }
}

/// True when the response came from another URL than `path` (a redirect was followed), e.g.
/// a blob served by object storage, which cannot send registry headers.
pub fn redirected(r: &Response, path: &str) -> bool {
    !r.url.path().ends_with(path)
}

/// Merges violations into one failure: the most severe level (a violation without its own
/// level counts at the check's), messages joined. Ok when empty.
pub fn merge_fails(ck: &Ck, fails: Vec<Fail>) -> Res {
    let mut parts: Vec<(Level, String)> = vec![];
    // A finding that judges nothing (a skip: not judged at this spec version, or not
    // verifiable) is the outcome only when nothing was violated.
    let mut unjudged = None;
    for f in fails {
        match f {
            Fail::Violation { level, message } => parts.push((level.unwrap_or(ck.level), message)),
            other => {
                unjudged.get_or_insert(other);
            }
        }
    }
    let Some(top) = parts.iter().map(|p| p.0).min() else {
        return unjudged.map_or(Ok(()), Err);
    };
    // The report prefixes the top level once; lesser findings say their own.
    let msgs: Vec<String> = parts
        .into_iter()
        .map(|(l, m)| {
            if l == top {
                m
            } else {
                format!("({}) {m}", l.as_str())
            }
        })
        .collect();
    Err(Fail::Violation {
        level: Some(top),
        message: msgs.join(" | "),
    })
}

/// What a manifest served with other bytes than were pushed breaks: "The registry MUST store the
/// manifest in the exact byte representation provided by the client" from 1.1 on; before, the
/// pull section's "MUST provide the expected manifest".
pub const R_EXACT_BYTES: Rule = Rule::first(&["push.manifest.exact-bytes-stored", "pull.manifest.get-200"]);

/// The level of a requirement that is MUST in main and SHOULD in earlier releases.
pub fn must_since_main(v: SpecVersion) -> Level {
    if v >= SpecVersion::Main {
        Level::Must
    } else {
        Level::Should
    }
}

/// Error codes of a 4xx body, loosely: None when the body is not a JSON object with an
/// "errors" array (format violations are judged by `error_codes`).
pub fn error_codes_loose(r: &Response) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let errs = v.get("errors")?.as_array()?;
    Some(
        errs.iter()
            .filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(str::to_string))
            .collect(),
    )
}

/// Judges the error codes of a 4xx answer for a condition the table names `want` for. A JSON
/// body must have the spec's format with codes from the table (MUST, `error_codes`); which
/// table code a condition gets is not bound by any sentence, so another table code is noted,
/// not judged. Returns the codes (empty for a body that is not JSON).
pub fn expect_error_code(ck: &mut Ck, r: &Response, want: &[&str]) -> Res<Vec<String>> {
    let codes = error_codes(ck, r)?;
    if !codes.is_empty() && !codes.iter().any(|c| want.contains(&c.as_str())) {
        ck.note(format!(
            "{} answered {} with {codes:?}; the code table names {} for this (no sentence requires it)",
            r.request,
            r.status,
            want.join(" or ")
        ));
    }
    Ok(codes)
}

/// An image: config, layers and its manifest, generated from `label`.
#[derive(Clone, Debug)]
pub struct Image {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Manifest,
}

impl Image {
    pub fn new(gen: &Generator, label: &str, layer_sizes: &[u64], opts: &ManifestOpts) -> Image {
        let config = gen.config(&format!("{label}/config"));
        let layers: Vec<Blob> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, n)| gen.blob(&format!("{label}/layer{i}"), *n))
            .collect();
        let descs: Vec<Descriptor> = layers.iter().map(Blob::descriptor).collect();
        let manifest = image_manifest(&config.descriptor(), &descs, opts);
        Image {
            config,
            layers,
            manifest,
        }
    }
    /// Config first, then the layers.
    pub fn blobs(&self) -> Vec<&Blob> {
        std::iter::once(&self.config)
            .chain(self.layers.iter())
            .collect()
    }
}

/// Pushes an image's blobs, then its manifest by `reference` (setup helper).
pub async fn push_image(sc: &Sc, repo: &str, img: &Image, reference: &str) -> Res<Response> {
    for b in img.blobs() {
        push_blob(sc, repo, b).await?;
    }
    push_manifest(sc, repo, &img.manifest, reference, RANK_IMAGE).await
}

/// POST + monolithic PUT through `t`, for a precondition inside a check. Ok(Ok(blob
/// location)) when pushed; Ok(Err(what came back)) when the registry refused, so the caller
/// decides whether that is a skip or a violation. Does not record cleanup.
pub async fn try_push_blob(t: &impl Tx, repo: &str, blob: &Blob) -> Res<Result<String, String>> {
    let r = send(t, Request::post(uploads_path(repo))).await?;
    let Some(loc) = location(&r).filter(|_| r.status == 202) else {
        return Ok(Err(format!("{} answered {}", r.request, r.summary())));
    };
    let r = send(t, put_whole(&loc, &blob.digest().to_string(), blob)).await?;
    if r.status != 201 {
        return Ok(Err(format!("{} answered {}", r.request, r.summary())));
    }
    Ok(Ok(location(&r).unwrap_or_default()))
}

/// POST `/v2/<repo>/blobs/uploads/<query>` as a check's precondition: Ok((absolute upload
/// location, response)) on 202 with a Location; otherwise a skip naming what came back (the
/// POST itself is judged by push.upload.post-202).
pub async fn start_upload(t: &impl Tx, repo: &str, query: &str) -> Res<(String, Response)> {
    let r = send(t, Request::post(format!("{}{}", uploads_path(repo), query))).await?;
    match location(&r) {
        Some(l) if r.status == 202 => Ok((l, r)),
        _ => Err(Fail::Skip(format!(
            "could not start an upload: {} answered {} (see push.upload.post-202)",
            r.request,
            r.summary()
        ))),
    }
}

/// Sets the level of a check-level violation (e.g. MUST for what follows a MAY feature's
/// success); other outcomes pass through.
pub fn at_level(f: Fail, l: Level) -> Fail {
    match f {
        Fail::Violation {
            level: None,
            message,
        } => Fail::Violation {
            level: Some(l),
            message,
        },
        f => f,
    }
}

/// A step that belongs to another check: its violation becomes a skip of this one.
pub fn precondition<T>(r: Res<T>, whose: &str) -> Res<T> {
    r.map_err(|f| match f {
        Fail::Violation { message, .. } => Fail::Skip(format!(
            "precondition failed (judged by {whose}): {message}"
        )),
        f => f,
    })
}

/// Records a pushed manifest (and its tag, when `reference` is one) for cleanup.
pub fn record_manifest(
    cleanup: &crate::runner::Cleanup,
    repo: &str,
    m: &Manifest,
    reference: &str,
    rank: u8,
) {
    cleanup.manifest(repo, &m.digest.to_string(), rank);
    if Digest::parse(reference).is_none() {
        cleanup.tag(repo, reference);
    }
}

/// A setup failure naming what was expected and what came back.
pub fn setup_fail(r: &Response, wanted: &str) -> Fail {
    Fail::Violation {
        level: Some(Level::Must),
        message: format!("{} answered {}; expected {wanted}", r.request, r.summary()),
    }
}

/// The spec's error codes (§error-codes).
pub const ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// Docker schema1 codes the spec lets clients encounter (§legacy-docker-support-error-codes:
/// "These error codes are OPTIONAL").
pub const LEGACY_ERROR_CODES: &[&str] = &["TAG_INVALID", "MANIFEST_UNVERIFIED"];

/// Checks a 4xx body: any format is allowed, but a JSON body MUST be `{"errors":[{code,…}]}`
/// with codes from the table. Returns the codes found (empty for a non-JSON body).
pub fn error_codes(ck: &Ck, r: &Response) -> Res<Vec<String>> {
    if r.body.is_empty() {
        return Ok(vec![]);
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
        return Ok(vec![]);
    };
    error_json_codes(&v).map_err(|(rule, why)| ck.fail_at(Level::Must, rule, format!("{} answered {} with {why}", r.request, r.summary())))
}

/// The codes of a JSON 4xx body, or the requirement it breaks and how. A bare scalar ("404",
/// "null") is plain text that happens to parse: only objects and arrays are JSON bodies in the
/// sense of the rule, and have no codes.
pub fn error_json_codes(v: &serde_json::Value) -> Result<Vec<String>, (Rule, String)> {
    if !(v.is_object() || v.is_array()) {
        return Ok(vec![]);
    }
    let errs = v
        .get("errors")
        .and_then(|e| e.as_array())
        .ok_or_else(|| (Rule::req("errors.body.json-format"), "a JSON body without an \"errors\" array".to_string()))?;
    let mut codes = vec![];
    for e in errs {
        // "message": "<message describing condition>"; "if present, it SHOULD be a human
        // readable string or MAY be empty": a string (null taken as empty), never a number or
        // an object.
        if let Some(m) = e.get("message").filter(|m| !(m.is_string() || m.is_null())) {
            return Err((Rule::req("errors.body.json-format"), format!("an error whose \"message\" is {m}, not a string")));
        }
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
        if !ERROR_CODES.contains(&code) && !LEGACY_ERROR_CODES.contains(&code) {
            return Err((Rule::req("errors.code.table"), format!("the code {code:?}, which is not in the table")));
        }
        codes.push(code.to_string());
    }
    Ok(codes)
}

// ---- Setup, pushing and polling from inside a check (discovery, management, referrers) ----

/// `sc.setup(what, …)` for setup code that needs the scenario handle (`push_blob(sc, …)`):
/// the body gets a second handle on the same run and scope, and its exchanges are moved into
/// the scenario's setup trace so a failed setup still shows them.
pub async fn setup_with<T>(
    sc: &mut Sc,
    what: &str,
    f: impl AsyncFnOnce(&Sc) -> Res<T>,
) -> Option<T> {
    let h = Sc::new(sc.ctx.clone(), sc.scenario, sc.bucket);
    let sink = sc.setup_trace().clone();
    let body = async {
        let r = f(&h).await;
        for e in h.setup_trace().take() {
            sink.push(e);
        }
        r
    };
    sc.setup(what, body).await
}

/// Setup that pushes an image of its own (layers of `sizes`, bytes unique to `label`) under tag
/// `tag`: the scenario's checks are skipped with the reason when it fails.
pub async fn setup_tagged_image(sc: &mut Sc, repo: &str, label: &str, sizes: &[u64], tag: &str) -> Option<Image> {
    setup_with(sc, "push an image by tag", async |sc| {
        let img = Image::new(&sc.gen, label, sizes, &ManifestOpts::default());
        push_image(sc, repo, &img, tag).await?;
        Ok(img)
    })
    .await
}

/// Pushes a blob (POST + monolithic PUT) from inside a check, traced there; a refusal is a
/// violation of `rule`. Records the blob for cleanup unless it was there before (shared
/// blobs such as the empty config must outlive the run).
pub async fn push_blob_in_check(
    ck: &mut Ck,
    cleanup: &crate::runner::Cleanup,
    repo: &str,
    blob: &Blob,
    rule: impl Into<Rule> + Copy,
) -> Res {
    let existed = ck.send(head_blob(repo, blob.digest())).await?.status == 200;
    let r = ck.send(Request::post(uploads_path(repo))).await?;
    ck.expect_status(&r, &[202], rule)?;
    let loc = expect_location(ck, &r, rule)?;
    let r = ck
        .send(put_whole(&loc, &blob.digest().to_string(), blob))
        .await?;
    ck.expect_status(&r, &[201], rule)?;
    if !existed {
        cleanup.blob(repo, &blob.digest().to_string());
    }
    Ok(())
}

/// Pushes a manifest by `reference` from inside a check; anything but 201 violates `rule`.
/// Records it (and the tag) for cleanup.
pub async fn push_manifest_in_check(
    ck: &mut Ck,
    cleanup: &crate::runner::Cleanup,
    repo: &str,
    m: &Manifest,
    reference: &str,
    rank: u8,
    rule: impl Into<Rule> + Copy,
) -> Res<Response> {
    let r = ck.send(put_manifest(repo, reference, m)).await?;
    ck.expect_status(&r, &[201], rule)?;
    record_manifest(cleanup, repo, m, reference, rank);
    Ok(r)
}

/// Bounded retries for reads that may lag behind a delete (`--consistency-wait`):
/// `again()` sleeps (100 ms, doubling up to 1 s) and returns false once `wait` has passed,
/// so `loop { if done { break } if !retry.again(ck).await? { give up } }` tries at least once.
pub struct Retry {
    deadline: std::time::Instant,
    pause: std::time::Duration,
}

impl Retry {
    pub fn new(wait: std::time::Duration) -> Retry {
        Retry {
            deadline: std::time::Instant::now() + wait,
            pause: std::time::Duration::from_millis(100),
        }
    }
    pub async fn again(&mut self, ck: &Ck) -> Res<bool> {
        let now = std::time::Instant::now();
        if now >= self.deadline {
            return Ok(false);
        }
        tokio::select! {
            _ = tokio::time::sleep(self.pause.min(self.deadline - now)) => {}
            _ = ck.client.cancel.cancelled() => {
                return Err(Fail::Transport(crate::client::HttpError { kind: crate::client::ErrorKind::Cancelled, message: "run cancelled".into() }));
            }
        }
        self.pause = (self.pause * 2).min(std::time::Duration::from_secs(1));
        Ok(true)
    }
}

/// The `rel="next"` target of a response's Link header(s) as an absolute URL, resolved
/// against the request URL (RFC 8288 §3.2); None when there is no next link. A Link value a
/// client cannot parse or follow violates `rule`.
pub fn next_link_url(ck: &Ck, r: &Response, rule: impl Into<Rule> + Copy) -> Res<Option<String>> {
    for v in r.header_all("link") {
        let target = match headers::next_link(&v) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                return Err(ck.fail(
                    rule,
                    format!("{} answered with an unparsable Link header: {e}", r.request),
                ))
            }
        };
        let u = r.url.join(target.trim()).map_err(|e| {
            ck.fail(
                rule,
                format!(
                    "{} answered Link: {v}, whose target is not a URI reference: {e}",
                    r.request
                ),
            )
        })?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(ck.fail(
                rule,
                format!(
                    "{} answered Link: {v}, whose target is not an HTTP URL",
                    r.request
                ),
            ));
        }
        return Ok(Some(u.to_string()));
    }
    Ok(None)
}

/// Accept header for manifest GET/HEAD: every OCI and Docker manifest type, so a registry
/// never refuses or converts a manifest for want of content negotiation.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
