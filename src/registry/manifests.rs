//! Manifest endpoints: GET/HEAD by tag or digest, PUT (validation of references, subject,
//! ?tag= parameters, size limit) and DELETE of tags and manifests.

use super::http::{error, errors, Req, MT_JSON, R};
use super::names::{Alg, Dg, DigestError};
use super::state::{race_window, ManifestRec, Repo, State};
use bytes::Bytes;
use serde_json::Value;

pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const IMAGE_TYPES: &[&str] = &[
    MT_OCI_MANIFEST,
    "application/vnd.docker.distribution.manifest.v2+json",
];
const INDEX_TYPES: &[&str] = &[
    MT_OCI_INDEX,
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The manifest size limit: "Client and registry implementations SHOULD expect to be able to
/// support manifest pushes of at least 4 megabytes"; above this, 413.
pub const MAX_MANIFEST: usize = 4 << 20;
/// Most `?tag=` parameters accepted in one PUT (the spec asks for at least 10).
const MAX_TAG_PARAMS: usize = 100;

enum Ref {
    Tag(String),
    Digest(Dg),
}

/// A reference that is neither a valid digest nor a valid tag gives Err(is_digest_like).
fn parse_ref(st: &State, r: &str) -> Result<Ref, Result<DigestError, ()>> {
    if r.contains(':') {
        return Dg::parse(r).map(Ref::Digest).map_err(Ok);
    }
    if st.tag_ok(r) {
        Ok(Ref::Tag(r.to_string()))
    } else {
        Err(Err(()))
    }
}

fn repo_unknown(st: &State, name: &str) -> R {
    if st.fault("unknown-repo-403") {
        return error(403, "DENIED", format!("access to {name} denied"));
    }
    let code = if st.fault("manifest-unknown-wrong-code") {
        "NOT_FOUND"
    } else {
        "NAME_UNKNOWN"
    };
    error(
        404,
        code,
        format!("repository {name} is not known to this registry"),
    )
}

fn manifest_unknown(st: &State, what: &str) -> R {
    let code = if st.fault("manifest-unknown-wrong-code") {
        "NOT_FOUND"
    } else {
        "MANIFEST_UNKNOWN"
    };
    error(
        404,
        code,
        format!("manifest {what} is not in this repository"),
    )
}

/// The manifest a tag points to. With `manifest-delete-keeps-tags`, a deleted manifest stays
/// reachable through its tags.
fn by_tag<'a>(st: &State, repo: &'a Repo, t: &str) -> Option<&'a ManifestRec> {
    let d = repo.tags.get(t)?;
    repo.manifests.get(d).or_else(|| {
        if st.fault("manifest-delete-keeps-tags") {
            repo.ghosts
                .iter()
                .rev()
                .find(|g| &g.digest.to_string() == d)
        } else {
            None
        }
    })
}

/// Referrers tag schema `<alg>-<hex>`: only used by the `referrers-tag-schema-corrupt` fault.
fn is_referrers_tag(t: &str) -> bool {
    t.split_once('-')
        .map(|(a, h)| {
            Alg::parse(a).is_some() && !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .unwrap_or(false)
}

/// A manifest of another repository, served as the `manifests-readable-from-any-repo` fault does.
fn serve_leaked(rec: Option<&ManifestRec>, head: bool) -> R {
    let Some(rec) = rec else { return R::new(500) };
    let r = R::new(200)
        .header("docker-content-digest", rec.digest.to_string())
        .body(&rec.media_type, rec.bytes.to_vec());
    if head { r.into_head() } else { r }
}

pub fn get(st: &State, req: &Req, name: &str, reference: &str) -> R {
    let head = req.is_head();
    let s = st.store();
    // The fault looks a digest up in every repository, as a global manifest store does.
    let leaked = st.fault("manifests-readable-from-any-repo").then(|| {
        s.repos.values().find_map(|r| r.manifests.get(reference))
    }).flatten();
    let Some(repo) = s.repos.get(name) else {
        if leaked.is_none() {
            return repo_unknown(st, name);
        }
        return serve_leaked(leaked, head);
    };
    if let (Some(_), false) = (leaked, repo.manifests.contains_key(reference)) {
        return serve_leaked(leaked, head);
    }
    let rf = match parse_ref(st, reference) {
        Ok(r) => r,
        // A malformed digest is a bad request; a string that cannot be a tag names nothing.
        Err(Ok(_)) => {
            return error(
                400,
                "DIGEST_INVALID",
                format!("{reference:?} is not a valid digest"),
            )
        }
        Err(Err(())) => return manifest_unknown(st, reference),
    };
    let (rec, tagged) = match &rf {
        Ref::Tag(t) => (by_tag(st, repo, t), true),
        Ref::Digest(d) => (repo.manifests.get(&d.to_string()), false),
    };
    let Some(rec) = rec else {
        if head && st.fault("unknown-manifest-head-200") {
            return R::new(200)
                .header("content-type", MT_OCI_MANIFEST)
                .into_head();
        }
        if !head && tagged && st.fault("unknown-tag-200") {
            return R::new(200).body(MT_OCI_MANIFEST, "{}");
        }
        if !head && !tagged && st.fault("unknown-manifest-digest-400") {
            return error(
                400,
                "MANIFEST_UNKNOWN",
                format!("manifest {reference} is not in this repository"),
            );
        }
        return manifest_unknown(st, reference);
    };
    if head
        && ((tagged && st.fault("manifest-head-by-tag-404"))
            || (!tagged && st.fault("manifest-head-by-digest-404")))
    {
        return manifest_unknown(st, reference);
    }
    let mut body = rec.bytes.clone();
    let append_newline = !head
        && ((tagged && st.fault("manifest-by-tag-wrong-bytes"))
            || (!tagged && st.fault("manifest-by-digest-wrong-bytes"))
            || (rec.is_index && st.fault("index-wrong-bytes"))
            || (tagged && is_referrers_tag(reference) && st.fault("referrers-tag-schema-corrupt")));
    if append_newline {
        let mut v = body.to_vec();
        v.push(b'\n');
        body = Bytes::from(v);
    }
    let mut ct = if st.fault("manifest-wrong-content-type") {
        MT_JSON.to_string()
    } else {
        rec.media_type.clone()
    };
    if st.fault("manifest-content-type-params") {
        ct.push_str("; charset=utf-8");
    }
    let dcd = if !head && st.fault("manifest-wrong-digest-header") {
        rec.digest.other()
    } else {
        rec.digest.clone()
    };
    let len = rec.bytes.len() as u64;
    let mut r = R::new(200)
        .body(&ct, body)
        .header("docker-content-digest", dcd.to_string())
        .header("etag", format!("\"{}\"", rec.digest));
    if rec.is_index && st.fault("index-no-digest-header") {
        r = r.remove_header("docker-content-digest");
    }
    if head {
        let mut r = r.into_head();
        if st.fault("manifest-head-wrong-length") {
            r.head_length = Some(len + 1);
        }
        return r;
    }
    r
}

/// What PUT learns from a manifest's JSON.
#[derive(Default)]
struct Parsed {
    blobs: Vec<String>,
    manifests: Vec<(String, bool)>,
    subject: Option<String>,
    artifact_type: Option<String>,
    config_media_type: Option<String>,
    annotations: Option<Value>,
    empty_layers: bool,
}

/// A descriptor's digest, or the MANIFEST_INVALID message.
fn descriptor_digest(v: &Value, field: &str) -> Result<(String, Option<String>), String> {
    let d = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field} is not a descriptor with a digest"))?;
    let d = Dg::parse(d).map_err(|_| format!("{field} has an invalid digest {d:?}"))?;
    Ok((
        d.to_string(),
        v.get("mediaType")
            .and_then(Value::as_str)
            .map(str::to_string),
    ))
}

fn parse_manifest(v: &Value, image: bool) -> Result<Parsed, String> {
    if !v.is_object() {
        return Err("a manifest must be a JSON object".into());
    }
    let mut p = Parsed::default();
    if image {
        let cfg = v
            .get("config")
            .ok_or("an image manifest needs a config descriptor")?;
        let (d, mt) = descriptor_digest(cfg, "config")?;
        p.blobs.push(d);
        p.config_media_type = mt;
        // The layers list MAY be empty; a missing one is read as empty.
        let layers = match v.get("layers") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("layers must be an array".into()),
        };
        p.empty_layers = layers.is_empty();
        for (i, l) in layers.iter().enumerate() {
            let (d, _) = descriptor_digest(l, &format!("layers[{i}]"))?;
            // Foreign layers (with urls) live elsewhere by design.
            if l.get("urls").is_none() {
                p.blobs.push(d);
            }
        }
    } else {
        let ms = match v.get("manifests") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err("manifests must be an array".into()),
        };
        for (i, m) in ms.iter().enumerate() {
            let (d, mt) = descriptor_digest(m, &format!("manifests[{i}]"))?;
            p.manifests.push((
                d,
                mt.map(|t| INDEX_TYPES.contains(&t.as_str()))
                    .unwrap_or(false),
            ));
        }
    }
    if let Some(s) = v.get("subject") {
        if !s.is_null() {
            p.subject = Some(descriptor_digest(s, "subject")?.0);
        }
    }
    p.artifact_type = v
        .get("artifactType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    p.annotations = v.get("annotations").filter(|a| a.is_object()).cloned();
    Ok(p)
}

fn invalid(msg: impl Into<String>) -> R {
    error(400, "MANIFEST_INVALID", msg)
}

pub async fn put(st: &State, req: &mut Req, name: &str, reference: &str) -> R {
    let rf = match parse_ref(st, reference) {
        Ok(r) => r,
        Err(Ok(_)) => {
            return error(
                400,
                "DIGEST_INVALID",
                format!("{reference:?} is not a valid digest"),
            )
        }
        // No code in the spec's table is about tags; the request is an invalid manifest push.
        Err(Err(())) => {
            return invalid(format!(
                "{reference:?} is not a valid tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"
            ))
        }
    };
    let limit = if st.fault("manifest-limit-1mib") {
        1 << 20
    } else if st.fault("manifest-no-size-limit") {
        super::http::DRAIN_MAX as usize
    } else {
        MAX_MANIFEST
    };
    let body = match req.read_limited(limit).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return error(
                413,
                "MANIFEST_INVALID",
                format!("manifests are limited to {limit} bytes here"),
            )
        }
        Err(e) => return invalid(e),
    };
    if st.fault("manifest-content-type-params-rejected")
        && req.h("content-type").is_some_and(|c| c.contains(';'))
    {
        return invalid("parameters on Content-Type are not accepted");
    }
    let tag_params: Vec<String> = req.q_all("tag").into_iter().map(str::to_string).collect();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let field_mt = json
        .as_ref()
        .and_then(|v| v.get("mediaType"))
        .and_then(Value::as_str)
        .map(str::to_string);
    // Parameters on Content-Type are ignored ("The registry SHOULD ignore parameters").
    let header_mt = req
        .h("content-type")
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty());
    let media_type = match (header_mt, &field_mt) {
        (Some(h), Some(f)) if &h != f => {
            return invalid(format!("Content-Type {h:?} differs from the manifest's mediaType {f:?} (clients MUST send the mediaType as Content-Type)"));
        }
        (Some(h), _) => h,
        (None, Some(f)) => f.clone(),
        (None, None) => {
            return invalid(
                "no Content-Type and no mediaType field: the manifest's type is unknown",
            )
        }
    };
    // Served back as the manifest's Content-Type.
    let stored_type = match req.h("content-type") {
        Some(c) if st.fault("manifest-content-type-params-kept") => c.to_string(),
        _ => media_type.clone(),
    };
    let image = IMAGE_TYPES.contains(&media_type.as_str());
    let index = INDEX_TYPES.contains(&media_type.as_str());
    let parsed = if image || index {
        let Some(v) = &json else {
            return invalid(format!("a {media_type} manifest must be JSON"));
        };
        match parse_manifest(v, image) {
            Ok(p) => p,
            Err(e) => return invalid(e),
        }
    } else {
        // Other media types are stored as given; nothing in them is interpreted.
        Parsed::default()
    };
    if image && parsed.empty_layers && st.fault("empty-layers-rejected") {
        return invalid("an image manifest needs at least one layer");
    }
    if image && parsed.artifact_type.is_some() && st.fault("artifact-rejected") {
        return invalid("artifactType is not supported");
    }
    if index
        && parsed.manifests.iter().any(|(_, nested)| *nested)
        && st.fault("nested-index-rejected")
    {
        return invalid("an index may not list another index");
    }
    let digest = match &rf {
        Ref::Digest(d) if st.fault("manifest-digest-unverified") => d.clone(),
        Ref::Digest(d) => {
            let got = Dg::of(d.alg, &body);
            if &got != d {
                return error(
                    400,
                    "DIGEST_INVALID",
                    format!("the manifest hashes to {got}, not {d}"),
                );
            }
            got
        }
        Ref::Tag(_) => Dg::of(Alg::Sha256, &body),
    };
    for t in &tag_params {
        if !st.tag_ok(t) {
            return invalid(format!("?tag={t:?} is not a valid tag"));
        }
    }
    let max_tags = if st.fault("tag-param-max-5") {
        5
    } else {
        MAX_TAG_PARAMS
    };
    if tag_params.len() > max_tags {
        return error(
            414,
            "MANIFEST_INVALID",
            format!("at most {max_tags} tag parameters per request"),
        );
    }

    // Race faults: the write stays in flight for a moment before it is committed.
    if st.fault("manifest-put-conflict-500") && st.write_in_flight(&format!("m:{name}:{digest}")).await {
        return error(500, "UNKNOWN", "another write of this manifest is in progress");
    }
    if st.fault("delete-during-write-500") {
        st.write_in_flight(&format!("w:{name}")).await;
    }
    let if_match = req.h("if-match").map(str::to_string);

    // The store lock is held in this block only: never across an await.
    let (key, moved_later) = {
        let mut s = st.store();
        let repo = s.repos.entry(name.to_string()).or_default();
        // References must exist, except `subject`: "A registry MUST initially accept an otherwise
        // valid manifest with a subject field that references a manifest that does not exist".
        let oversized = body.len() > MAX_MANIFEST; // only possible under manifest-no-size-limit
        let mut missing: Vec<(&str, String)> = vec![];
        if !oversized {
            for b in &parsed.blobs {
                if !repo.blobs.contains(b) {
                    missing.push((
                        "MANIFEST_BLOB_UNKNOWN",
                        format!("blob {b} is not in this repository"),
                    ));
                }
            }
            for (m, _) in &parsed.manifests {
                if !repo.manifests.contains_key(m) {
                    missing.push((
                        "MANIFEST_BLOB_UNKNOWN",
                        format!("manifest {m} is not in this repository"),
                    ));
                }
            }
        }
        if !missing.is_empty() {
            if st.fault("missing-blob-wrong-code") {
                return invalid(missing[0].1.clone());
            }
            return errors(400, &missing);
        }
        let subject_known = parsed
            .subject
            .as_ref()
            .map(|d| repo.manifests.contains_key(d))
            .unwrap_or(false);
        if parsed.subject.is_some() && !subject_known && st.fault("subject-missing-rejected") {
            return error(
                400,
                "MANIFEST_BLOB_UNKNOWN",
                "the subject manifest is not in this repository",
            );
        }
        let stored = match (&json, st.fault("manifest-reformatted")) {
            (Some(v), true) => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            _ => body.clone(),
        };
        let rec = ManifestRec {
            digest: digest.clone(),
            media_type: stored_type,
            bytes: stored,
            is_index: index,
            is_image: image,
            subject: parsed.subject.clone(),
            artifact_type: parsed.artifact_type.clone(),
            config_media_type: parsed.config_media_type.clone(),
            annotations: parsed.annotations.clone(),
            subject_known_at_push: subject_known,
        };
        let key = digest.to_string();
        // A conditional push (RFC 9110 §13.1.1), which the spec lets clients use "for registries
        // that support ETag conditions": the ETag of a manifest is its quoted digest.
        if let Some(cond) = if_match.filter(|_| !st.fault("if-match-ignored")) {
            let current = match &rf {
                Ref::Tag(t) => repo.tags.get(t).cloned(),
                Ref::Digest(d) => repo.manifests.contains_key(&d.to_string()).then(|| d.to_string()),
            };
            if !if_match_holds(&cond, current.as_deref()) {
                return R::new(412);
            }
        }
        repo.manifests.insert(key.clone(), rec);
        let mut tags: Vec<String> = vec![];
        match &rf {
            Ref::Tag(t) => tags.push(t.clone()),
            // ?tag= is only defined for pushes by digest.
            Ref::Digest(_) => tags.extend(tag_params.iter().cloned()),
        }
        let mut moved_later = vec![];
        for t in &tags {
            if repo.tags.contains_key(t) && st.fault("retag-ignored") {
                continue;
            }
            if st.fault("tag-update-not-atomic") && repo.tags.get(t).is_some_and(|d| d != &key) {
                // Untag, then tag again after a moment: readers of the tag meet a 404 between.
                repo.tags.remove(t);
                moved_later.push(t.clone());
                continue;
            }
            repo.tags.insert(t.clone(), key.clone());
        }
        (key, moved_later)
    };
    if !moved_later.is_empty() {
        race_window().await;
        if let Some(repo) = st.store().repos.get_mut(name) {
            for t in moved_later {
                repo.tags.insert(t, key.clone());
            }
        }
    }
    if let (Some(sub), true) = (&parsed.subject, st.fault("referrers-lost-update")) {
        st.add_referrer_racy(name, sub, &key).await;
    }

    let by_tag = matches!(rf, Ref::Tag(_));
    let loc = if st.fault("manifest-put-bad-location") {
        digest.other()
    } else {
        digest.clone()
    };
    let dcd = if st.fault("manifest-put-wrong-digest-header") {
        digest.other()
    } else {
        digest.clone()
    };
    let mut r = R::new(if by_tag && st.fault("manifest-put-by-tag-200") {
        200
    } else {
        201
    })
    .header("docker-content-digest", dcd.to_string());
    if by_tag || !st.fault("manifest-put-by-digest-no-location") {
        r = r.header("location", format!("/v2/{name}/manifests/{loc}"));
    }
    if let Some(sub) = &parsed.subject {
        if st.referrers_api() && !st.fault("no-oci-subject") {
            r = r.header("oci-subject", sub);
        }
    }
    if !by_tag && !st.fault("tag-param-no-oci-tag") {
        for t in &tag_params {
            r = r.header("oci-tag", t);
        }
    }
    r
}

/// Whether an If-Match value holds for the manifest `current` (a digest) names: `*` for any,
/// else one of the listed entity tags, compared strongly (a weak tag never matches).
fn if_match_holds(cond: &str, current: Option<&str>) -> bool {
    let Some(cur) = current else { return false };
    let etag = format!("\"{cur}\"");
    cond.split(',').map(str::trim).any(|t| t == "*" || t == etag)
}

pub fn delete(st: &State, name: &str, reference: &str) -> R {
    if st.fault("delete-during-write-500") && st.busy(&format!("w:{name}")) {
        return error(500, "UNKNOWN", "the repository is being written");
    }
    let mut s = st.store();
    let Some(repo) = s.repos.get_mut(name) else {
        if st.fault("manifest-delete-unknown-repo-202") {
            return R::new(202);
        }
        return error(
            404,
            "NAME_UNKNOWN",
            format!("repository {name} is not known to this registry"),
        );
    };
    let rf = match parse_ref(st, reference) {
        Ok(r) => r,
        Err(Ok(_)) => {
            return error(
                400,
                "DIGEST_INVALID",
                format!("{reference:?} is not a valid digest"),
            )
        }
        Err(Err(())) => return manifest_unknown(st, reference),
    };
    match rf {
        Ref::Tag(t) => {
            if !repo.tags.contains_key(&t) {
                return manifest_unknown(st, &t);
            }
            if !st.fault("tag-delete-ignored") {
                repo.tags.remove(&t);
                if st.fault("tags-list-keeps-deleted") {
                    repo.ghost_tags.insert(t);
                }
            }
            R::new(if st.fault("tag-delete-200") { 200 } else { 202 })
        }
        Ref::Digest(d) => {
            let key = d.to_string();
            if !repo.manifests.contains_key(&key) {
                return manifest_unknown(st, &key);
            }
            if !st.fault("manifest-delete-ignored") {
                remove_manifest(st, repo, &key);
            }
            R::new(if st.fault("manifest-delete-200") {
                200
            } else {
                202
            })
        }
    }
}

/// Deletes a manifest and the tags that point to it ("a GET to … any tag pointing to that
/// digest will return a 404").
fn remove_manifest(st: &State, repo: &mut Repo, key: &str) {
    let Some(rec) = repo.manifests.remove(key) else {
        return;
    };
    let keep_tags = st.fault("manifest-delete-keeps-tags");
    if !keep_tags {
        if st.fault("tags-list-keeps-deleted") {
            let gone = repo.tags.iter().filter(|(_, d)| *d == key).map(|(t, _)| t.clone());
            repo.ghost_tags.extend(gone.collect::<Vec<_>>());
        }
        repo.tags.retain(|_, d| d != key);
    }
    if keep_tags || (rec.subject.is_some() && st.fault("referrers-keep-deleted")) {
        repo.ghosts.push(rec);
    }
}
