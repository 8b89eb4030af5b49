//! Referrers bucket (spec §listing-referrers, §pushing-manifests-with-subject,
//! §referrers-tag-schema).
//!
//! The referrers API is optional: a registry without it answers `GET /v2/<name>/referrers/…`
//! with 404. Then the `referrers.api.*` checks are unsupported and the tag schema fallback a
//! client uses instead is exercised; with the API, the fallback check is skipped.

use super::common::*;
use super::management::Deleted;
use crate::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

const R: Bucket = Bucket::Referrers;
const V11: SpecVersion = SpecVersion::V1_1;

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(R);

    "referrers.late" => late {
        pub const PUSH_SUBJECT_MISSING = CheckMeta::new(
            "referrers.push.subject-missing",
            R,
            Level::Must,
            "push",
            "A manifest whose subject does not exist yet is accepted",
        )
        .since(V11).reqs(&["push.manifest.subject-missing-accepted"]);
        pub const API_LATER = CheckMeta::new(
            "referrers.api.subject-pushed-later",
            R,
            Level::Must,
            "listing-referrers",
            "Referrers pushed before their subject are listed once it exists",
        )
        .since(V11).reqs(&["push.manifest.subject-missing-accepted", "referrers.upgrade.new-pushes"]);
    }

    "referrers.api" => api {
        pub const PUSH_OCI_SUBJECT = CheckMeta::new(
            "referrers.push.oci-subject",
            R,
            Level::Must,
            "pushing-manifests-with-subject",
            "A registry with the referrers API answers a PUT with a subject with OCI-Subject",
        )
        .since(V11).reqs(&["push.subject.oci-subject-header"]);
        pub const API_LIST = CheckMeta::new(
            "referrers.api.list",
            R,
            Level::Must,
            "listing-referrers",
            "GET referrers/<digest> answers 200 with an image index",
        )
        .since(V11).reqs(&["referrers.api.found-200", "referrers.api.no-404", "referrers.api.image-index-body", "referrers.api.content-type", "image.index.schema-version", "image.index.media-type", "image.index.manifests-present"]);
        pub const API_DESCRIPTORS = CheckMeta::new(
            "referrers.api.descriptors",
            R,
            Level::Must,
            "listing-referrers",
            "Each referrer is listed once with its mediaType, size and digest",
        )
        .since(V11).reqs(&["referrers.api.descriptor-scope", "referrers.upgrade.new-pushes", "image.descriptor.media-type", "image.descriptor.digest", "image.descriptor.size"]);
        pub const API_ARTIFACT_TYPE = CheckMeta::new(
            "referrers.api.artifact-type",
            R,
            Level::Must,
            "listing-referrers",
            "A referrer's artifactType is copied from the manifest",
        )
        .since(V11).reqs(&["referrers.api.artifact-type-copied", "image.manifest.unknown-artifact-type"]);
        pub const API_ARTIFACT_TYPE_CONFIG = CheckMeta::new(
            "referrers.api.artifact-type-config",
            R,
            Level::Must,
            "listing-referrers",
            "Without artifactType, the config mediaType is listed as artifactType",
        )
        .since(V11).reqs(&["referrers.api.artifact-type-from-config", "image.manifest.unknown-config-media-type"]);
        pub const API_INDEX = CheckMeta::new(
            "referrers.api.index-referrer",
            R,
            Level::Must,
            "listing-referrers",
            "An index with a subject is listed, without artifactType when it has none",
        )
        .since(V11).reqs(&["referrers.api.index-artifact-type-omitted"]);
        pub const API_ANNOTATIONS = CheckMeta::new(
            "referrers.api.annotations",
            R,
            Level::Must,
            "listing-referrers",
            "A referrer's annotations are copied from the manifest",
        )
        .since(V11).reqs(&["referrers.api.annotations-copied"]);
        pub const API_SAME_REPO = CheckMeta::new(
            "referrers.api.same-repo-only",
            R,
            Level::Must,
            "listing-referrers",
            "Referrers pushed to another repository are not listed",
        )
        .since(V11).reqs(&["referrers.api.descriptor-scope"]);
        pub const API_UNKNOWN_SUBJECT = CheckMeta::new(
            "referrers.api.unknown-subject-empty",
            R,
            Level::Must,
            "listing-referrers",
            "An unknown subject digest has an empty referrers list (200)",
        )
        .since(V11).reqs(&["referrers.api.no-404", "referrers.api.empty-list", "image.index.manifests-present"]);
        pub const API_INVALID_DIGEST = CheckMeta::new(
            "referrers.api.invalid-digest-400",
            R,
            Level::Must,
            "listing-referrers",
            "An invalid digest answers 400",
        )
        .since(V11).reqs(&["referrers.api.invalid-400"]);
        pub const API_FILTER = CheckMeta::new(
            "referrers.api.filter",
            R,
            Level::Should,
            "listing-referrers",
            "?artifactType= filters the list and says so with OCI-Filters-Applied",
        )
        .since(V11).reqs(&["referrers.api.filter-support", "referrers.api.filter-header"]);
        pub const API_REMOVED = CheckMeta::new(
            "referrers.api.removed-after-delete",
            R,
            Level::Must,
            "listing-referrers",
            "A deleted referrer disappears from the list",
        )
        .since(V11).reqs(&["referrers.api.descriptor-scope"]);
        pub const FALLBACK = CheckMeta::new(
            "referrers.fallback.tag-schema",
            R,
            Level::Must,
            "referrers-tag-schema",
            "Without the referrers API, an index pushed to the referrers tag comes back byte-exact",
        )
        .since(V11).reqs(&["names.tag.valid-accepted", "push.manifest.exact-bytes-stored"]);
    }

    "referrers.pagination" => pagination {
        pub const API_PAGINATION = CheckMeta::new(
            "referrers.api.pagination",
            R,
            Level::Must,
            "listing-referrers",
            "Following Link pages yields every referrer exactly once",
        )
        .since(V11).reqs(&["referrers.api.link-when-paged", "referrers.api.link-format"]);
    }
}

const AT_SBOM: &str = "application/vnd.oci-conformance.sbom.v1+json";
const AT_PAGE: &str = "application/vnd.oci-conformance.page.v1";
const MT_R2_CONFIG: &str = "application/vnd.oci-conformance.config.v1+json";
/// More than the embedded registry's page size (8), so its pagination is exercised.
const PAGE_REFERRERS: usize = 10;
const MAX_PAGES: usize = 100;

const R_OK: Rule = Rule::req("referrers.api.found-200");
const R_NO_404: Rule = Rule::req("referrers.api.no-404");
const R_INDEX: Rule = Rule::req("referrers.api.image-index-body");
const R_CT: Rule = Rule::req("referrers.api.content-type");
const R_EACH: Rule = Rule::req("referrers.api.descriptor-scope");
const R_LISTED: Rule = Rule::req("referrers.upgrade.new-pushes");
const R_AT: Rule = Rule::req("referrers.api.artifact-type-copied");
const R_AT_CONFIG: Rule = Rule::req("referrers.api.artifact-type-from-config");
const R_AT_INDEX: Rule = Rule::req("referrers.api.index-artifact-type-omitted");
const R_ANN: Rule = Rule::req("referrers.api.annotations-copied");
const R_EMPTY: Rule = Rule::req("referrers.api.empty-list");
const R_LINK: Rule = Rule::req("referrers.api.link-when-paged");
const R_FILTER: Rule = Rule::req("referrers.api.filter-header");
const R_SUBJECT_MISSING: Rule = Rule::req("push.manifest.subject-missing-accepted");
const R_PUSH: Rule = Rule::req("push.manifest.created-201");

fn no_api(what: &str) -> Fail {
    Fail::Unsupported(format!("the registry does not implement the referrers API ({what} answered 404); clients fall back to the referrers tag schema"))
}

fn referrers_url(repo: &str, subject: &str, artifact_type: Option<&str>) -> String {
    let u = format!("/v2/{repo}/referrers/{subject}");
    match artifact_type {
        Some(t) => with_query(&u, "artifactType", t),
        None => u,
    }
}

/// The descriptors of every page of a referrers listing.
struct Listing {
    descriptors: Vec<Value>,
    pages: usize,
    /// Some page announced `OCI-Filters-Applied: artifactType`.
    filtered: bool,
}

impl Listing {
    fn find(&self, d: &Digest) -> Vec<&Value> {
        let d = d.to_string();
        self.descriptors
            .iter()
            .filter(|x| x.get("digest").and_then(Value::as_str) == Some(d.as_str()))
            .collect()
    }
    fn digests(&self) -> Vec<String> {
        self.descriptors
            .iter()
            .map(|x| {
                x.get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }
}

/// The `manifests` of one referrers response, after checking it is an image index (MUST); an
/// empty list is `[]` (an index's `manifests` is an array; `null` is not a list).
fn index_manifests(ck: &Ck, r: &Response) -> Res<Vec<Value>> {
    let bad = |why: &str| {
        ck.fail_at(
            Level::Must,
            R_INDEX,
            format!("{} answered {}: {why}", r.request, r.summary()),
        )
    };
    let v: Value =
        serde_json::from_slice(&r.body).map_err(|e| bad(&format!("the body is not JSON ({e})")))?;
    let Some(o) = v.as_object() else {
        return Err(bad("the body is not a JSON object"));
    };
    if o.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(bad("an image index has \"schemaVersion\": 2"));
    }
    if let Some(mt) = o.get("mediaType") {
        if mt.as_str() != Some(content::MT_INDEX) {
            return Err(bad(&format!(
                "\"mediaType\" is {mt}, not {}",
                content::MT_INDEX
            )));
        }
    }
    match o.get("manifests") {
        Some(Value::Array(a)) => {
            if let Some(x) = a
                .iter()
                .find(|x| !x.is_object() || x.get("digest").and_then(Value::as_str).is_none())
            {
                return Err(bad(&format!(
                    "\"manifests\" has an entry that is not a descriptor: {x}"
                )));
            }
            Ok(a.clone())
        }
        Some(Value::Null) => Err(bad("\"manifests\" is null, not an array (an empty list is \"manifests\": [])")),
        _ => Err(bad("\"manifests\" is missing or not an array")),
    }
}

/// Lists the referrers of `subject`, following `rel="next"` links. Ok(None) when the first
/// request answers 404 (no referrers API).
async fn list(
    ck: &mut Ck,
    repo: &str,
    subject: &str,
    artifact_type: Option<&str>,
) -> Res<Option<Listing>> {
    let mut url = referrers_url(repo, subject, artifact_type);
    let mut seen = HashSet::new();
    let mut l = Listing {
        descriptors: vec![],
        pages: 0,
        filtered: false,
    };
    while l.pages < MAX_PAGES {
        let r = ck.send(Request::get(url.clone())).await?;
        if r.status == 404 && l.pages == 0 {
            return Ok(None);
        }
        l.pages += 1;
        if r.status != 200 {
            return Err(ck.fail_at(
                Level::Must,
                R_OK,
                format!(
                    "{} (page {}) answered {}; expected 200",
                    r.request,
                    l.pages,
                    r.summary()
                ),
            ));
        }
        l.descriptors.extend(index_manifests(ck, &r)?);
        l.filtered |= headers::list_values(
            r.header_all("oci-filters-applied")
                .iter()
                .map(String::as_str),
        )
        .iter()
        .any(|f| f.eq_ignore_ascii_case("artifactType"));
        match next_link_url(ck, &r, R_LINK)? {
            Some(n) if seen.insert(n.clone()) => url = n,
            Some(_) => {
                return Err(ck.fail_at(
                    Level::Must,
                    R_LINK,
                    format!(
                        "{}: the Link header points back to an already fetched page",
                        r.request
                    ),
                ))
            }
            None => return Ok(Some(l)),
        }
    }
    Err(ck.fail_at(
        Level::Must,
        R_LINK,
        format!("the referrers of {subject} still had a next link after {MAX_PAGES} pages"),
    ))
}

/// `list`, where a 404 means the API is absent (unsupported) — or, when `api` says the
/// registry has it, a violation.
async fn listing(
    ck: &mut Ck,
    repo: &str,
    subject: &str,
    artifact_type: Option<&str>,
    api: bool,
) -> Res<Listing> {
    match list(ck, repo, subject, artifact_type).await? {
        Some(l) => Ok(l),
        None if api => Err(ck.fail_at(
            Level::Must,
            R_NO_404,
            format!(
                "GET {} answered 404, although the referrers API answered before",
                referrers_url(repo, subject, artifact_type)
            ),
        )),
        None => Err(no_api(&format!(
            "GET {}",
            referrers_url(repo, subject, artifact_type)
        ))),
    }
}

/// True unless GET referrers/<subject> answers 404 (outside any check).
async fn probe_api(sc: &Sc, repo: &str, subject: &Digest) -> bool {
    match sc
        .send(Request::get(referrers_url(
            repo,
            &subject.to_string(),
            None,
        )))
        .await
    {
        Ok(r) => r.status != 404,
        // The checks make the same request and report the error themselves.
        Err(_) => true,
    }
}

/// The one descriptor of `m` in the listing: Skip when absent (judged by api.descriptors).
fn listed<'a>(l: &'a Listing, m: &Manifest, what: &str) -> Res<&'a Value> {
    l.find(&m.digest).into_iter().next().ok_or_else(|| {
        Fail::Skip(format!(
            "{what} ({}) is not listed at all; see {}",
            m.digest, API_DESCRIPTORS.id
        ))
    })
}

/// An artifact manifest: empty config, one layer, the given artifactType, subject and annotations.
fn artifact(
    layer: &Descriptor,
    artifact_type: Option<&str>,
    subject: &Manifest,
    label: &str,
) -> Manifest {
    let mut o = ManifestOpts::default()
        .subject(subject.descriptor())
        .annotate("org.opencontainers.image.created", "2024-01-01T00:00:00Z")
        .annotate("org.example.oci-conformance.referrer", label);
    if let Some(t) = artifact_type {
        o = o.artifact_type(t);
    }
    image_manifest(
        &Blob::empty_config().descriptor(),
        std::slice::from_ref(layer),
        &o,
    )
}

struct Fixture {
    subject: Manifest,
    /// Artifact manifest with an artifactType.
    r1: Manifest,
    /// Image manifest without artifactType (its config media type is listed instead).
    r2: Manifest,
    /// Image index with a subject and no artifactType.
    r3: Manifest,
    /// R1-like referrer of the same subject in the other repository.
    other: Manifest,
    /// PUT responses of the image manifests with a subject (r1, r2): (what, request, OCI-Subject).
    puts: Vec<(&'static str, String, Option<String>)>,
}

async fn api(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let repo2 = sc.ns2().to_string();
    let ctx = sc.ctx.clone();
    let wait = sc.cfg().consistency_wait;
    let fx = setup_with(
        &mut sc,
        "push a subject, three referrers and one in the other repository",
        async |sc| {
            let empty = Blob::empty_config();
            let subject = Image::new(&sc.gen, "subject", &[256], &ManifestOpts::default());
            push_image(sc, &repo, &subject, &subject.manifest.digest.to_string()).await?;
            let s = &subject.manifest;
            push_blob(sc, &repo, &empty).await?;
            let l1 = sc.gen.blob("r1-layer", 64);
            push_blob(sc, &repo, &l1).await?;
            let r1 = artifact(&l1.descriptor(), Some(AT_SBOM), s, "r1");
            let c2 = sc.gen.config("r2-config").with_media_type(MT_R2_CONFIG);
            let l2 = sc.gen.blob("r2-layer", 48);
            push_blob(sc, &repo, &c2).await?;
            push_blob(sc, &repo, &l2).await?;
            let r2 = image_manifest(
                &c2.descriptor(),
                &[l2.descriptor()],
                &ManifestOpts::default()
                    .subject(s.descriptor())
                    .annotate("org.example.oci-conformance.referrer", "r2"),
            );
            let child = Image::new(&sc.gen, "r3-child", &[32], &ManifestOpts::default());
            push_image(sc, &repo, &child, &child.manifest.digest.to_string()).await?;
            let r3 = image_index(
                &[child.manifest.descriptor()],
                &ManifestOpts::default()
                    .subject(s.descriptor())
                    .annotate("org.example.oci-conformance.referrer", "r3"),
            );
            let mut puts = vec![];
            for (what, m) in [
                ("r1 (artifact manifest)", &r1),
                ("r2 (image manifest)", &r2),
            ] {
                let r = push_manifest(sc, &repo, m, &m.digest.to_string(), RANK_REFERRER).await?;
                puts.push((
                    what,
                    r.request.clone(),
                    r.header("oci-subject").map(str::to_string),
                ));
            }
            push_manifest(sc, &repo, &r3, &r3.digest.to_string(), RANK_REFERRER).await?;
            // The same subject and a referrer in the other repository.
            push_image(sc, &repo2, &subject, &s.digest.to_string()).await?;
            push_blob(sc, &repo2, &empty).await?;
            let lo = sc.gen.blob("other-layer", 40);
            push_blob(sc, &repo2, &lo).await?;
            let other = artifact(&lo.descriptor(), Some(AT_SBOM), s, "other-repository");
            push_manifest(sc, &repo2, &other, &other.digest.to_string(), RANK_REFERRER).await?;
            Ok(Fixture {
                subject: subject.manifest,
                r1,
                r2,
                r3,
                other,
                puts,
            })
        },
    )
    .await;
    let Some(fx) = fx else { return };
    let subject = fx.subject.digest.to_string();
    let has_api = probe_api(&sc, &repo, &fx.subject.digest).await;
    let ours = [("r1", &fx.r1), ("r2", &fx.r2), ("r3", &fx.r3)];

    sc.check(&PUSH_OCI_SUBJECT, async |ck| {
        if !has_api {
            return Err(no_api(&format!("GET /v2/{repo}/referrers/{subject}")));
        }
        let mut problems = vec![];
        for (what, req, got) in &fx.puts {
            match got {
                Some(v) if v.trim() == subject => {}
                Some(v) => problems.push(format!("{req} ({what}) answered OCI-Subject: {v}; expected {subject}")),
                None => problems.push(format!("{req} ({what}) answered 201 without an OCI-Subject header")),
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ck.fail(
            Rule::req("push.subject.oci-subject-header"),
            problems.join("; "),
        ))
    })
    .await;

    sc.check(&API_LIST, async |ck| {
        let r = ck
            .send(Request::get(referrers_url(&repo, &subject, None)))
            .await?;
        if r.status == 404 {
            return Err(no_api(&r.request));
        }
        if r.status != 200 {
            return Err(ck.fail(
                R_OK,
                format!("{} answered {}; expected 200", r.request, r.summary()),
            ));
        }
        let ct = r.header("content-type").unwrap_or("");
        ck.expect(headers::media_type(ct) == content::MT_INDEX, R_CT, || {
            format!("{} answered Content-Type: {ct:?}", r.request)
        })?;
        if headers::has_params(ct) {
            ck.note(format!("Content-Type has parameters: {ct}"));
        }
        index_manifests(ck, &r)?;
        Ok(())
    })
    .await;

    sc.check(&API_DESCRIPTORS, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        let mut problems = vec![];
        for (what, m) in &ours {
            let found = l.find(&m.digest);
            match found.len() {
                0 => problems.push(format!("{what} ({}) is not listed", m.digest)),
                1 => {
                    let d = found[0];
                    if d.get("mediaType").and_then(Value::as_str) != Some(m.media_type.as_str()) {
                        problems.push(format!(
                            "{what}: \"mediaType\" is {}, expected {}",
                            d.get("mediaType").unwrap_or(&Value::Null),
                            m.media_type
                        ));
                    }
                    if d.get("size").and_then(Value::as_u64) != Some(m.bytes.len() as u64) {
                        problems.push(format!(
                            "{what}: \"size\" is {}, expected {}",
                            d.get("size").unwrap_or(&Value::Null),
                            m.bytes.len()
                        ));
                    }
                }
                n => problems.push(format!("{what} ({}) is listed {n} times", m.digest)),
            }
        }
        if problems.is_empty() {
            ck.note(format!(
                "{} descriptors over {} page(s)",
                l.descriptors.len(),
                l.pages
            ));
            return Ok(());
        }
        Err(ck.fail(
            if problems.iter().any(|p| p.ends_with("not listed")) {
                R_LISTED
            } else {
                R_EACH
            },
            format!(
                "GET {}: {}; listed: {:?}",
                referrers_url(&repo, &subject, None),
                problems.join("; "),
                l.digests()
            ),
        ))
    })
    .await;

    sc.check(&API_ARTIFACT_TYPE, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        let d = listed(&l, &fx.r1, "r1 (artifact manifest)")?;
        let at = d.get("artifactType");
        ck.expect(at.and_then(Value::as_str) == Some(AT_SBOM), R_AT, || {
            format!(
                "r1 was pushed with \"artifactType\": {AT_SBOM:?}; its descriptor has {}",
                at.map(Value::to_string)
                    .unwrap_or_else(|| "no artifactType".into())
            )
        })
    })
    .await;

    sc.check(&API_ARTIFACT_TYPE_CONFIG, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        let d = listed(&l, &fx.r2, "r2 (image manifest without artifactType)")?;
        let at = d.get("artifactType");
        ck.expect(at.and_then(Value::as_str) == Some(MT_R2_CONFIG), R_AT_CONFIG, || {
            format!("r2 has no artifactType and a config of media type {MT_R2_CONFIG:?}; its descriptor has {}", at.map(Value::to_string).unwrap_or_else(|| "no artifactType".into()))
        })
    })
    .await;

    sc.check(&API_INDEX, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        let Some(d) = l.find(&fx.r3.digest).into_iter().next() else {
            return Err(ck.fail(
                R_EACH,
                format!(
                    "the image index r3 ({}) has a subject but is not listed; listed: {:?}",
                    fx.r3.digest,
                    l.digests()
                ),
            ));
        };
        match d.get("artifactType") {
            None | Some(Value::Null) => Ok(()),
            Some(v) => Err(ck.fail(
                R_AT_INDEX,
                format!(
                    "r3 is an index without artifactType; its descriptor has \"artifactType\": {v}"
                ),
            )),
        }
    })
    .await;

    sc.check(&API_ANNOTATIONS, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        let mut problems = vec![];
        for (what, m) in &ours {
            let Some(d) = l.find(&m.digest).into_iter().next() else {
                continue;
            };
            let ann = d.get("annotations").and_then(Value::as_object);
            for (k, v) in &m.annotations {
                let got = ann.and_then(|a| a.get(k));
                if got.and_then(Value::as_str) != Some(v.as_str()) {
                    problems.push(format!(
                        "{what}: annotation {k:?} is {}, expected {v:?}",
                        got.map(Value::to_string)
                            .unwrap_or_else(|| "missing".into())
                    ));
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ck.fail(R_ANN, problems.join("; ")))
    })
    .await;

    sc.check(&API_SAME_REPO, async |ck| {
        let l = listing(ck, &repo, &subject, None, has_api).await?;
        ck.expect(l.find(&fx.other.digest).is_empty(), R_EACH, || {
            format!(
                "GET {} lists {}, a referrer pushed to the other repository {repo2}",
                referrers_url(&repo, &subject, None),
                fx.other.digest
            )
        })
    })
    .await;

    let unknown = Digest::sha256(sc.gen.token("unknown-subject", 32).as_bytes()).to_string();
    sc.check(&API_UNKNOWN_SUBJECT, async |ck| {
        let l = listing(ck, &repo, &unknown, None, has_api).await?;
        ck.expect(l.descriptors.is_empty(), R_EMPTY, || {
            format!(
                "GET {} (a digest nothing refers to) lists {:?}",
                referrers_url(&repo, &unknown, None),
                l.digests()
            )
        })?;
        Ok(())
    })
    .await;

    sc.check(&API_INVALID_DIGEST, async |ck| {
        if !has_api {
            return Err(no_api(&format!("GET /v2/{repo}/referrers/{subject}")));
        }
        let r = ck.send(Request::get(referrers_url(&repo, "sha256:not-a-digest", None))).await?;
        ck.expect_status(&r, &[400], Rule::req("referrers.api.invalid-400"))
    })
    .await;

    sc.check(&API_FILTER, async |ck| {
        let all = listing(ck, &repo, &subject, None, has_api).await?;
        // Asked twice: a registry may answer a repeated query from a cache that keeps the
        // filtered list but drops the header (olareg 0.2.2 does).
        let first = listing(ck, &repo, &subject, Some(AT_SBOM), has_api).await?;
        let again = listing(ck, &repo, &subject, Some(AT_SBOM), has_api).await?;
        let url = referrers_url(&repo, &subject, Some(AT_SBOM));
        let judge = |f: &Listing, when: &str| -> Res {
            let others: Vec<String> = f.descriptors.iter().filter(|d| d.get("artifactType").and_then(Value::as_str) != Some(AT_SBOM)).map(|d| d.get("digest").and_then(Value::as_str).unwrap_or("?").to_string()).collect();
            if f.filtered {
                if !others.is_empty() {
                    return Err(ck.fail_at(Level::Must, R_FILTER, format!("GET {url}{when} answered OCI-Filters-Applied: artifactType but lists descriptors of other types: {others:?}")));
                }
                if f.find(&fx.r1.digest).is_empty() && !all.find(&fx.r1.digest).is_empty() {
                    return Err(ck.fail_at(Level::Must, R_FILTER, format!("GET {url}{when} does not list r1 ({}), whose artifactType is {AT_SBOM}", fx.r1.digest)));
                }
                return Ok(());
            }
            // No header: unfiltered is allowed (SHOULD); filtered without saying so is not.
            let non_matching: Vec<&Manifest> = [&fx.r2, &fx.r3].into_iter().filter(|m| !all.find(&m.digest).is_empty()).collect();
            if non_matching.is_empty() {
                return Err(Fail::Skip(format!("the unfiltered list has no referrer of another artifactType to filter out; see {}", API_DESCRIPTORS.id)));
            }
            if non_matching.iter().all(|m| f.find(&m.digest).is_empty()) {
                return Err(ck.fail_at(Level::Must, R_FILTER, format!("GET {url}{when} left out the referrers of other artifact types but answered without OCI-Filters-Applied")));
            }
            Err(ck.fail(Rule::req("referrers.api.filter-support"), format!("GET {url}{when} answered without OCI-Filters-Applied and lists all referrers: {:?}", f.digests())))
        };
        let must_broken = |r: &Res| matches!(r, Err(Fail::Violation { level: Some(Level::Must), .. }));
        let verdict = judge(&first, "");
        if must_broken(&verdict) {
            return verdict;
        }
        let repeated = judge(&again, ", asked a second time,");
        if must_broken(&repeated) {
            return repeated;
        }
        verdict
    })
    .await;

    sc.check(&API_REMOVED, async |ck| {
        if !has_api {
            return Err(no_api(&format!("GET /v2/{repo}/referrers/{subject}")));
        }
        let r = ck
            .send(Request::delete(manifest_path(
                &repo,
                &fx.r1.digest.to_string(),
            )))
            .await?;
        match Deleted::of(r.status) {
            Deleted::Accepted | Deleted::OtherSuccess => {}
            Deleted::Disabled => {
                return Err(Fail::Skip(format!(
                    "manifest deletion is disabled ({} answered {})",
                    r.request, r.status
                )))
            }
            Deleted::Refused => {
                return Err(Fail::Skip(format!(
                    "could not delete r1: {} answered {}; see management.manifest.delete",
                    r.request,
                    r.summary()
                )))
            }
        }
        let mut retry = Retry::new(wait);
        let (gone, last) = loop {
            let l = listing(ck, &repo, &subject, None, true).await?;
            let gone = l.find(&fx.r1.digest).is_empty();
            if gone || !retry.again(ck).await? {
                break (gone, l.digests());
            }
        };
        ck.expect(gone, R_EACH, || {
            format!(
                "after DELETE of r1 ({}), GET {} still lists it: {last:?}",
                fx.r1.digest,
                referrers_url(&repo, &subject, None)
            )
        })
    })
    .await;

    sc.check(&FALLBACK, async |ck| {
        if has_api {
            return Err(Fail::Skip("the registry implements the referrers API; clients use the tag schema only when it answers 404".into()));
        }
        // What a client maintains: one descriptor per referrer, artifactType and annotations copied.
        let descs: Vec<Descriptor> = ours
            .iter()
            .map(|(_, m)| {
                let mut d = m.descriptor();
                d.artifact_type = m.referrer_artifact_type.clone();
                d.annotations = m.annotations.clone();
                d
            })
            .collect();
        let idx = image_index(&descs, &ManifestOpts::default());
        let tag = fx.subject.digest.referrers_tag();
        push_manifest_in_check(ck, &ctx.cleanup, &repo, &idx, &tag, RANK_INDEX, R_PUSH).await?;
        let r = ck.send(get_manifest(&repo, &tag)).await?;
        expect_manifest_body(ck, &r, &idx, R_EXACT_BYTES)?;
        ck.note(format!("referrers index pushed to tag {tag}"));
        Ok(())
    })
    .await;
}

async fn late(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx = sc.ctx.clone();
    let wait = sc.cfg().consistency_wait;
    let fx = setup_with(
        &mut sc,
        "push the blobs of a subject and its referrer",
        async |sc| {
            let subject = Image::new(&sc.gen, "late-subject", &[128], &ManifestOpts::default());
            for b in subject.blobs() {
                push_blob(sc, &repo, b).await?;
            }
            push_blob(sc, &repo, &Blob::empty_config()).await?;
            let layer = sc.gen.blob("late-layer", 24);
            push_blob(sc, &repo, &layer).await?;
            let referrer = artifact(
                &layer.descriptor(),
                Some(AT_SBOM),
                &subject.manifest,
                "late",
            );
            Ok((subject.manifest, referrer))
        },
    )
    .await;
    let Some((subject, referrer)) = fx else {
        return;
    };
    let rd = referrer.digest.to_string();

    sc.check(&PUSH_SUBJECT_MISSING, async |ck| {
        push_manifest_in_check(
            ck,
            &ctx.cleanup,
            &repo,
            &referrer,
            &rd,
            RANK_REFERRER,
            R_SUBJECT_MISSING,
        )
        .await?;
        Ok(())
    })
    .await;
    let pushed = match sc.outcome(PUSH_SUBJECT_MISSING.id) {
        Some(o) => o == Outcome::Passed,
        // Filtered out: push it anyway for the check below.
        None => setup_with(&mut sc, "push a referrer before its subject", async |sc| {
            push_manifest(sc, &repo, &referrer, &rd, RANK_REFERRER).await
        })
        .await
        .is_some(),
    };
    if !pushed {
        let v = sc.cfg().spec_version;
        let why = if API_LATER.applies_to(v) {
            format!(
                "the referrer was not accepted before its subject (see {})",
                PUSH_SUBJECT_MISSING.id
            )
        } else {
            format!(
                "not part of spec {} (since {})",
                v.as_str(),
                API_LATER.since.as_str()
            )
        };
        sc.skip(&API_LATER, &why);
        return;
    }

    sc.check(&API_LATER, async |ck| {
        let s = subject.digest.to_string();
        if let Err(e) = push_manifest_in_check(ck, &ctx.cleanup, &repo, &subject, &s, RANK_IMAGE, R_PUSH).await {
            return Err(match e {
                Fail::Violation { message, .. } => Fail::Skip(format!("could not push the subject: {message}")),
                e => e,
            });
        }
        let mut retry = Retry::new(wait);
        let (found, last) = loop {
            let Some(l) = list(ck, &repo, &s, None).await? else { return Err(no_api(&format!("GET {}", referrers_url(&repo, &s, None)))) };
            let found = l.find(&referrer.digest).len() == 1;
            if found || !retry.again(ck).await? {
                break (found, l.digests());
            }
        };
        ck.expect(found, R_SUBJECT_MISSING, || format!("{rd} was pushed before its subject {s}; after the subject was pushed, GET {} lists {last:?}", referrers_url(&repo, &s, None)))
    })
    .await;
}

async fn pagination(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let fx = setup_with(&mut sc, "push a subject and ten referrers", async |sc| {
        let empty = Blob::empty_config();
        push_blob(sc, &repo, &empty).await?;
        let subject = Image::new(&sc.gen, "page-subject", &[64], &ManifestOpts::default());
        push_image(sc, &repo, &subject, &subject.manifest.digest.to_string()).await?;
        let mut refs = vec![];
        for i in 0..PAGE_REFERRERS {
            let m = artifact(
                &empty.descriptor(),
                Some(AT_PAGE),
                &subject.manifest,
                &format!("page-{i}"),
            );
            push_manifest(sc, &repo, &m, &m.digest.to_string(), RANK_REFERRER).await?;
            refs.push(m);
        }
        Ok((subject.manifest, refs))
    })
    .await;
    let Some((subject, refs)) = fx else { return };

    sc.check(&API_PAGINATION, async |ck| {
        let s = subject.digest.to_string();
        let Some(l) = list(ck, &repo, &s, None).await? else {
            return Err(no_api(&format!("GET {}", referrers_url(&repo, &s, None))));
        };
        let mut problems = vec![];
        for (i, m) in refs.iter().enumerate() {
            match l.find(&m.digest).len() {
                1 => {}
                0 => problems.push(format!("referrer {i} ({}) is missing", m.digest)),
                n => problems.push(format!("referrer {i} ({}) is listed {n} times", m.digest)),
            }
        }
        if !problems.is_empty() {
            return Err(ck.fail(
                R_LINK,
                format!(
                    "following the Link headers of GET {} over {} page(s): {}",
                    referrers_url(&repo, &s, None),
                    l.pages,
                    problems.join("; ")
                ),
            ));
        }
        ck.note(if l.pages > 1 {
            format!("{PAGE_REFERRERS} referrers over {} pages", l.pages)
        } else {
            format!("all {PAGE_REFERRERS} referrers in one response")
        });
        Ok(())
    })
    .await;
}
