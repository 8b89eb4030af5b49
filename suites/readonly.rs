//! Read-only mode: for registries that cannot be pushed to (mirrors, pull-through caches).
//! The user names preloaded tags, manifests, blobs and referrer subjects (flags or the official
//! suite's OCI_RO_DATA_* variables); the pull, discovery and referrers checks run against those,
//! under the same check ids, judging what can be judged without knowing the bytes in advance
//! (bodies must hash to the digests they are addressed by, HEAD must agree with GET).

use super::common::*;
use super::{discovery as d, pull as p, referrers as r};
use crate::prelude::*;

const R_GET: Rule = Rule::req("pull.manifest.get-200");
const R_BLOB_GET: Rule = Rule::req("pull.blob.get-200");
const R_HEAD: Rule = Rule::req("pull.head.exists-200");
const R_HEAD_LEN: Rule = Rule::req("pull.head.content-length");
const R_404: Rule = Rule::req("pull.manifest.unknown-404");
const R_BLOB_404: Rule = Rule::req("pull.blob.unknown-404");
const R_DIGEST: Rule = Rule::req("pull.manifest.digest-header");
const R_MANIFEST_DCD_MATCH: Rule = Rule::req("pull.manifest.digest-header-may-differ");
const R_BLOB_DCD_MATCH: Rule = Rule::req("pull.blob.digest-header-matches");
const R_ORDER: Rule = Rule::req("discovery.tags.sorted");
const R_N: Rule = Rule::req("discovery.tags.n-exact");
const R_N0: Rule = Rule::req("discovery.tags.n-zero-empty");
const R_LAST: Rule = Rule::req("discovery.tags.last-sorted");
const R_REF: Rule = Rule::req("referrers.api.image-index-body");
const R_REF_CT: Rule = Rule::req("referrers.api.content-type");
const R_REF_DESC: Rule = Rule::req("referrers.api.descriptor-scope");
const R_REF_400: Rule = Rule::req("referrers.api.invalid-400");
const R_REF_EMPTY: Rule = Rule::req("referrers.api.empty-list");

/// The scenarios that replace the pushing ones in read-only mode.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "readonly.api", bucket: Bucket::Pull, checks: vec![&p::V2_BASE], exclusive: false, run: |sc| Box::pin(api(sc)) },
        Scenario {
            name: "readonly.manifests",
            bucket: Bucket::Pull,
            checks: vec![&p::MANIFEST_BY_TAG, &p::MANIFEST_HEAD_TAG, &p::MANIFEST_BY_DIGEST, &p::MANIFEST_HEAD_DIGEST, &p::MANIFEST_DIGEST_HEADER, &p::MANIFEST_HEAD_LENGTH, &p::MANIFEST_UNKNOWN_TAG, &p::MANIFEST_UNKNOWN_DIGEST, &p::MANIFEST_HEAD_UNKNOWN],
            exclusive: false,
            run: |sc| Box::pin(manifests(sc)),
        },
        Scenario {
            name: "readonly.blobs",
            bucket: Bucket::Pull,
            checks: vec![&p::BLOB_GET, &p::BLOB_DIGEST_HEADER, &p::BLOB_HEAD, &p::BLOB_RANGE, &p::BLOB_UNKNOWN, &p::BLOB_HEAD_UNKNOWN],
            exclusive: false,
            run: |sc| Box::pin(blobs(sc)),
        },
        Scenario {
            name: "readonly.tags",
            bucket: Bucket::ContentDiscovery,
            checks: vec![&d::TAGS_LIST, &d::TAGS_NAME, &d::TAGS_CONTAINS, &d::TAGS_ORDER, &d::TAGS_N, &d::TAGS_N_ZERO, &d::TAGS_LAST],
            exclusive: false,
            run: |sc| Box::pin(tags(sc)),
        },
        Scenario {
            name: "readonly.referrers",
            bucket: Bucket::Referrers,
            checks: vec![&r::API_LIST, &r::API_DESCRIPTORS, &r::API_UNKNOWN_SUBJECT, &r::API_INVALID_DIGEST],
            exclusive: false,
            run: |sc| Box::pin(referrers(sc)),
        },
    ]
}

fn none_given(what: &str, flag: &str) -> Fail {
    Fail::Skip(format!("read-only mode: no preloaded {what} given ({flag})"))
}

async fn api(mut sc: Sc) {
    sc.check(&p::V2_BASE, async |ck| {
        let r = ck.send(Request::get("/v2/")).await?;
        ck.expect_status(&r, &[200], Rule::req("api.v2.get-200"))
    })
    .await;
}

/// GET and HEAD one manifest reference; the body must hash to `digest` when the reference is one.
async fn manifest_pair(ck: &mut Ck, repo: &str, reference: &str, head_check: bool) -> Res<(Response, Response)> {
    let g = ck.send(get_manifest(repo, reference)).await?;
    ck.expect_status(&g, &[200], R_GET)?;
    if let Some(d) = Digest::parse(reference) {
        let got = Digest::of(d.algorithm, &g.body);
        ck.expect(got == d, R_GET, || format!("{} answered a body hashing to {got}, not the requested digest", g.request))?;
    }
    let h = ck.send(head_manifest(repo, reference)).await?;
    if head_check {
        ck.expect_status(&h, &[200], R_HEAD)?;
    }
    Ok((g, h))
}

async fn manifests(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ro = sc.cfg().read_only.clone().unwrap_or_default();
    let version = sc.cfg().spec_version;
    let unknown_tag = sc.tag("ro-unknown");
    let unknown_digest = Digest::sha256(sc.gen.token("ro-unknown-manifest", 32).as_bytes()).to_string();
    sc.check(&p::MANIFEST_BY_TAG, async |ck| {
        if ro.tags.is_empty() {
            return Err(none_given("tags", "--ro-tag / OCI_RO_DATA_TAGS"));
        }
        for t in &ro.tags {
            manifest_pair(ck, &repo, t, false).await?;
        }
        Ok(())
    })
    .await;
    sc.check(&p::MANIFEST_HEAD_TAG, async |ck| {
        if ro.tags.is_empty() {
            return Err(none_given("tags", "--ro-tag / OCI_RO_DATA_TAGS"));
        }
        for t in &ro.tags {
            manifest_pair(ck, &repo, t, true).await?;
        }
        Ok(())
    })
    .await;
    sc.check(&p::MANIFEST_BY_DIGEST, async |ck| {
        if ro.manifests.is_empty() {
            return Err(none_given("manifests", "--ro-manifest / OCI_RO_DATA_MANIFESTS"));
        }
        for m in &ro.manifests {
            manifest_pair(ck, &repo, m, false).await?;
        }
        Ok(())
    })
    .await;
    sc.check(&p::MANIFEST_HEAD_DIGEST, async |ck| {
        if ro.manifests.is_empty() {
            return Err(none_given("manifests", "--ro-manifest / OCI_RO_DATA_MANIFESTS"));
        }
        for m in &ro.manifests {
            manifest_pair(ck, &repo, m, true).await?;
        }
        Ok(())
    })
    .await;
    let refs: Vec<String> = ro.tags.iter().chain(ro.manifests.iter()).cloned().collect();
    sc.check(&p::MANIFEST_DIGEST_HEADER, async |ck| {
        if refs.is_empty() {
            return Err(none_given("tags or manifests", "--ro-tag / --ro-manifest"));
        }
        for reference in &refs {
            let (g, _) = manifest_pair(ck, &repo, reference, false).await?;
            match digest_header(&g, |a| Digest::of(a, &g.body)) {
                DigestHeader::Matches(_) | DigestHeader::Unverifiable(_) => {}
                DigestHeader::Absent => return Err(ck.fail_at(must_since_main(version), R_DIGEST, format!("{} answered 200 without Docker-Content-Digest", g.request))),
                DigestHeader::Differs(v) => return Err(ck.fail_at(Level::Must, R_MANIFEST_DCD_MATCH, format!("{} sent Docker-Content-Digest {v}, which is not the digest of its body", g.request))),
            }
        }
        Ok(())
    })
    .await;
    sc.check(&p::MANIFEST_HEAD_LENGTH, async |ck| {
        if refs.is_empty() {
            return Err(none_given("tags or manifests", "--ro-tag / --ro-manifest"));
        }
        for reference in &refs {
            let (g, h) = manifest_pair(ck, &repo, reference, true).await?;
            let len = h.content_length();
            ck.expect(len == Some(g.body.len() as u64), R_HEAD_LEN, || format!("{} answered Content-Length {len:?}; the GET body has {} bytes", h.request, g.body.len()))?;
        }
        Ok(())
    })
    .await;
    sc.check(&p::MANIFEST_UNKNOWN_TAG, async |ck| {
        let r = ck.send(get_manifest(&repo, &unknown_tag)).await?;
        ck.expect_status(&r, &[404], R_404)?;
        error_codes(ck, &r).map(|_| ())
    })
    .await;
    sc.check(&p::MANIFEST_UNKNOWN_DIGEST, async |ck| {
        let r = ck.send(get_manifest(&repo, &unknown_digest)).await?;
        ck.expect_status(&r, &[404], R_404)
    })
    .await;
    sc.check(&p::MANIFEST_HEAD_UNKNOWN, async |ck| {
        for reference in [&unknown_tag, &unknown_digest] {
            let r = ck.send(head_manifest(&repo, reference)).await?;
            ck.expect_status(&r, &[404], R_404)?;
        }
        Ok(())
    })
    .await;
}

async fn blobs(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let version = sc.cfg().spec_version;
    let ro = sc.cfg().read_only.clone().unwrap_or_default();
    let digests: Vec<Digest> = ro.blobs.iter().filter_map(|b| Digest::parse(b)).collect();
    let unknown = Digest::sha256(sc.gen.token("ro-unknown-blob", 32).as_bytes());
    let need = || if digests.is_empty() { Err(none_given("blobs", "--ro-blob / OCI_RO_DATA_BLOBS")) } else { Ok(()) };
    sc.check(&p::BLOB_GET, async |ck| {
        need()?;
        for d in &digests {
            let r = ck.send(get_blob(&repo, d)).await?;
            ck.expect_status(&r, &[200], R_BLOB_GET)?;
            if let Some((got, n)) = &r.hashed {
                ck.expect(got == d, R_BLOB_GET, || format!("{} answered {n} bytes hashing to {got}", r.request))?;
            }
        }
        Ok(())
    })
    .await;
    sc.check(&p::BLOB_DIGEST_HEADER, async |ck| {
        need()?;
        for d in &digests {
            let r = ck.send(get_blob(&repo, d)).await?;
            ck.expect_status(&r, &[200], R_BLOB_GET)?;
            match digest_header(&r, |_| d.clone()) {
                DigestHeader::Matches(_) | DigestHeader::Unverifiable(_) => {}
                DigestHeader::Absent => return Err(ck.fail_at(must_since_main(version), R_DIGEST, format!("{} answered 200 without Docker-Content-Digest", r.request))),
                DigestHeader::Differs(v) => return Err(ck.fail_at(Level::Must, R_BLOB_DCD_MATCH, format!("{} sent Docker-Content-Digest {v}", r.request))),
            }
        }
        Ok(())
    })
    .await;
    sc.check(&p::BLOB_HEAD, async |ck| {
        need()?;
        for d in &digests {
            let g = ck.send(get_blob(&repo, d)).await?;
            let h = ck.send(head_blob(&repo, d)).await?;
            ck.expect_status(&h, &[200], R_HEAD)?;
            let size = g.hashed.as_ref().map(|(_, n)| *n);
            ck.expect(h.content_length() == size, R_HEAD_LEN, || format!("{} answered Content-Length {:?}; the blob has {size:?} bytes", h.request, h.content_length()))?;
        }
        Ok(())
    })
    .await;
    sc.check(&p::BLOB_RANGE, async |ck| {
        need()?;
        let d = &digests[0];
        let g = ck.send(get_blob(&repo, d)).await?;
        ck.expect_status(&g, &[200], R_BLOB_GET)?;
        // the hashed GET keeps the first bytes as a preview: enough to judge a small range
        let n = g.body.len().min(16);
        if n < 2 {
            return Err(Fail::Skip(format!("blob {d} is too small to test a Range request")));
        }
        let r = ck.send(get_blob(&repo, d).header("Range", format!("bytes=1-{}", n - 1)).read(Read::Buffer)).await?;
        match r.status {
            206 => ck.expect(r.body[..] == g.body[1..n], Rule::req("pull.blob.range"), || format!("{} answered 206 with bytes that are not bytes 1-{} of the blob", r.request, n - 1)).map_err(|_| ck.fail_at(Level::Must, "RFC 9110 §14.2: a 206 response carries the selected range", format!("{} answered 206 with other bytes", r.request))),
            200 => Err(ck.fail(Rule::req("pull.blob.range"), format!("{} answered 200 with the whole blob (Range ignored)", r.request))),
            _ => Err(ck.fail(Rule::req("pull.blob.range"), format!("{} answered {}", r.request, r.summary()))),
        }
    })
    .await;
    sc.check(&p::BLOB_UNKNOWN, async |ck| {
        let r = ck.send(get_blob(&repo, &unknown)).await?;
        ck.expect_status(&r, &[404], R_BLOB_404)
    })
    .await;
    sc.check(&p::BLOB_HEAD_UNKNOWN, async |ck| {
        let r = ck.send(head_blob(&repo, &unknown)).await?;
        ck.expect_status(&r, &[404], R_BLOB_404)
    })
    .await;
}

/// GET a tags list; returns the tags (after judging status and shape, as discovery does).
async fn tag_list(ck: &mut Ck, path: String) -> Res<(Response, Vec<String>)> {
    let r = ck.send(Request::get(path)).await?;
    let p = super::discovery::tag_page(ck, r)?;
    Ok((p.resp, p.tags))
}

fn sorted(tags: &[String]) -> bool {
    let ascii = tags.windows(2).all(|w| w[0] <= w[1]);
    let lexical = tags.windows(2).all(|w| w[0].to_lowercase() <= w[1].to_lowercase());
    ascii || lexical
}

async fn tags(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ro = sc.cfg().read_only.clone().unwrap_or_default();
    let list = format!("/v2/{repo}/tags/list");
    sc.check(&d::TAGS_LIST, async |ck| tag_list(ck, list.clone()).await.map(|_| ())).await;
    sc.check(&d::TAGS_NAME, async |ck| {
        let (r, _) = tag_list(ck, list.clone()).await?;
        let name = r.json().ok().and_then(|v| v["name"].as_str().map(String::from));
        ck.expect(name.as_deref() == Some(repo.as_str()), Rule::req("discovery.tags.json-body"), || format!("\"name\" is {name:?}, expected {repo:?}"))
    })
    .await;
    sc.check(&d::TAGS_CONTAINS, async |ck| {
        if ro.tags.is_empty() {
            return Err(none_given("tags", "--ro-tag / OCI_RO_DATA_TAGS"));
        }
        let (_, tags) = tag_list(ck, list.clone()).await?;
        let missing: Vec<&String> = ro.tags.iter().filter(|t| !tags.contains(t)).collect();
        ck.expect(missing.is_empty(), Rule::req("discovery.tags.body-content"), || format!("preloaded tags {missing:?} are not listed"))
    })
    .await;
    sc.check(&d::TAGS_ORDER, async |ck| {
        let (_, tags) = tag_list(ck, list.clone()).await?;
        ck.expect(sorted(&tags), R_ORDER, || format!("listed: {tags:?}"))
    })
    .await;
    sc.check(&d::TAGS_N, async |ck| {
        let (_, all) = tag_list(ck, list.clone()).await?;
        if all.len() < 2 {
            return Err(Fail::Skip("fewer than 2 tags in the repository".into()));
        }
        let (r, page) = tag_list(ck, format!("{list}?n=1")).await?;
        let linked = r.header("link").is_some();
        ck.expect(page.len() == 1 || (page.len() < 1 && linked), R_N, || format!("{} returned {} tags: {page:?}", r.request, page.len()))
    })
    .await;
    sc.check(&d::TAGS_N_ZERO, async |ck| {
        let (r, page) = tag_list(ck, format!("{list}?n=0")).await?;
        ck.expect(page.is_empty() && r.header("link").is_none(), R_N0, || format!("{} returned {} tags, Link {:?}", r.request, page.len(), r.header("link")))
    })
    .await;
    sc.check(&d::TAGS_LAST, async |ck| {
        let (_, all) = tag_list(ck, list.clone()).await?;
        let Some(first) = all.first().cloned() else { return Err(Fail::Skip("the repository has no tags".into())) };
        let (r, page) = tag_list(ck, format!("{list}?n=100&last={first}")).await?;
        let bad: Vec<&String> = page.iter().filter(|t| t.as_str() <= first.as_str() && t.to_lowercase() <= first.to_lowercase()).collect();
        ck.expect(bad.is_empty(), R_LAST, || format!("{} returned {bad:?}, which do not come after {first:?}", r.request))
    })
    .await;
}

async fn referrers(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ro = sc.cfg().read_only.clone().unwrap_or_default();
    let subjects: Vec<Digest> = ro.referrers.iter().filter_map(|s| Digest::parse(s)).collect();
    let unknown = Digest::sha256(sc.gen.token("ro-unknown-subject", 32).as_bytes());
    let need = || if subjects.is_empty() { Err(none_given("referrer subjects", "--ro-referrers / OCI_RO_DATA_REFERRERS")) } else { Ok(()) };
    async fn index(ck: &mut Ck, repo: &str, subject: &str) -> Res<(Response, Vec<serde_json::Value>)> {
        let r = ck.send(Request::get(format!("/v2/{repo}/referrers/{subject}"))).await?;
        if r.status == 404 {
            return Err(Fail::Unsupported(format!("the registry does not implement the referrers API ({} answered 404)", r.request)));
        }
        ck.expect_status(&r, &[200], Rule::req("discovery.tags.list-200"))?;
        let ct = r.header("content-type").map(headers::media_type).unwrap_or_default();
        ck.expect(ct == content::MT_INDEX, R_REF_CT, || format!("{} answered Content-Type {ct:?}", r.request))?;
        let v = r.json().map_err(|e| ck.fail(R_REF, format!("{}: {e}", r.request)))?;
        let list = v["manifests"].as_array().cloned().ok_or_else(|| ck.fail(R_REF, format!("{}: no \"manifests\" list", r.request)))?;
        Ok((r, list))
    }
    sc.check(&r::API_LIST, async |ck| {
        need()?;
        for s in &subjects {
            index(ck, &repo, &s.to_string()).await?;
        }
        Ok(())
    })
    .await;
    sc.check(&r::API_DESCRIPTORS, async |ck| {
        need()?;
        for s in &subjects {
            let (_, list) = index(ck, &repo, &s.to_string()).await?;
            for desc in list {
                let (Some(mt), Some(dg), Some(size)) = (desc["mediaType"].as_str(), desc["digest"].as_str().and_then(Digest::parse), desc["size"].as_u64()) else {
                    return Err(ck.fail(R_REF, format!("descriptor {desc} lacks mediaType, digest or size")));
                };
                let g = ck.send(get_manifest(&repo, &dg.to_string())).await?;
                ck.expect_status(&g, &[200], R_REF_DESC)?;
                ck.expect(g.body.len() as u64 == size, R_REF, || format!("descriptor of {dg} says size {size}, the manifest has {} bytes", g.body.len()))?;
                let m: serde_json::Value = serde_json::from_slice(&g.body).unwrap_or_default();
                let subj = m["subject"]["digest"].as_str().unwrap_or("");
                ck.expect(subj == s.to_string(), R_REF_DESC, || format!("{dg} ({mt}) is listed as a referrer of {s} but its subject is {subj:?}"))?;
            }
        }
        Ok(())
    })
    .await;
    sc.check(&r::API_UNKNOWN_SUBJECT, async |ck| {
        let (_, list) = index(ck, &repo, &unknown.to_string()).await?;
        ck.expect(list.is_empty(), R_REF_EMPTY, || format!("an unknown subject lists {} referrers", list.len()))
    })
    .await;
    sc.check(&r::API_INVALID_DIGEST, async |ck| {
        let r = ck.send(Request::get(format!("/v2/{repo}/referrers/sha256:not-a-digest"))).await?;
        if r.status == 404 {
            return Err(Fail::Unsupported(format!("the registry does not implement the referrers API ({} answered 404)", r.request)));
        }
        ck.expect_status(&r, &[400], R_REF_400)
    })
    .await;
}
