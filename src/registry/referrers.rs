//! `GET /v2/<name>/referrers/<digest>`: an image index of the manifests in `<name>` whose
//! subject is `<digest>`, with artifactType filtering and pagination.

use super::blobs::parse_digest;
use super::http::{error, qenc, Req, MT_JSON, R};
use super::manifests::MT_OCI_INDEX;
use super::state::{ManifestRec, State};
use serde_json::{json, Map, Value};

/// Referrers per page; more than this and the answer carries a Link to the next page.
pub const PAGE: usize = 8;

impl State {
    /// Whether this registry offers the referrers API (and so answers OCI-Subject).
    pub fn referrers_api(&self) -> bool {
        !self.opts.no_referrers_api && !self.fault("referrers-tag-schema-corrupt")
    }
}

fn descriptor(st: &State, m: &ManifestRec) -> Value {
    let mut d = Map::new();
    d.insert("mediaType".into(), m.media_type.clone().into());
    d.insert("digest".into(), m.digest.to_string().into());
    let size = m.bytes.len() as u64 + u64::from(st.fault("referrers-wrong-size"));
    d.insert("size".into(), size.into());
    // artifactType: the manifest's own; else, for image manifests, config.mediaType; else none.
    let config = if m.is_image && !st.fault("referrers-no-config-fallback") {
        m.config_media_type.clone()
    } else {
        None
    };
    let at = if st.fault("referrers-artifact-type-from-config") && m.is_image {
        m.config_media_type.clone()
    } else {
        m.artifact_type.clone().or(config)
    };
    if let Some(at) = at {
        d.insert("artifactType".into(), at.into());
    }
    if let Some(a) = &m.annotations {
        if !st.fault("referrers-no-annotations") {
            d.insert("annotations".into(), a.clone());
        }
    }
    Value::Object(d)
}

pub fn list(st: &State, req: &Req, name: &str, digest: &str) -> R {
    if !st.referrers_api() {
        return error(
            404,
            "UNSUPPORTED",
            "this registry does not offer the referrers API; use the referrers tag schema",
        );
    }
    let null_when_empty = st.fault("referrers-null-when-empty");
    let index = |manifests: Vec<Value>| {
        let list = if manifests.is_empty() && null_when_empty { Value::Null } else { Value::Array(manifests) };
        json!({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": list})
    };
    let ct = if st.fault("referrers-wrong-content-type") {
        MT_JSON
    } else {
        MT_OCI_INDEX
    };
    let d = match parse_digest(digest) {
        Ok(d) => d,
        Err(r) => {
            if st.fault("referrers-invalid-digest-200") {
                return R::new(200)
                    .body(ct, serde_json::to_vec(&index(vec![])).unwrap_or_default());
            }
            return r;
        }
    };
    let subject = d.to_string();
    let s = st.store();
    let mut found: Vec<&ManifestRec> = vec![];
    let mut subject_exists = false;
    for (rname, repo) in &s.repos {
        if rname != name && !st.fault("referrers-all-repos") {
            continue;
        }
        subject_exists |= rname == name && repo.manifests.contains_key(&subject);
        found.extend(
            repo.manifests
                .values()
                .filter(|m| m.subject.as_deref() == Some(subject.as_str())),
        );
        if st.fault("referrers-keep-deleted") {
            found.extend(
                repo.ghosts
                    .iter()
                    .filter(|m| m.subject.as_deref() == Some(subject.as_str())),
            );
        }
    }
    if st.fault("referrers-lost-update") {
        let kept = st.racy_referrers(name, &subject);
        found.retain(|m| kept.contains(&m.digest.to_string()));
    }
    if st.fault("referrers-need-subject-first") {
        found.retain(|m| m.subject_known_at_push);
    }
    if st.fault("referrers-skip-indexes") {
        found.retain(|m| !m.is_index);
    }
    // Stable order (by digest) so that `last` is a cursor; one entry per digest.
    found.sort_by(|a, b| a.digest.cmp(&b.digest));
    found.dedup_by(|a, b| a.digest == b.digest);
    if found.is_empty() && !subject_exists && st.fault("referrers-unknown-subject-404") {
        return error(
            404,
            "MANIFEST_UNKNOWN",
            format!("manifest {subject} is not in this repository"),
        );
    }
    // An unknown repository has no referrers: 200 with an empty list, since "If the registry
    // supports the referrers API, the registry MUST NOT return a 404".
    let mut descs: Vec<Value> = found.iter().map(|m| descriptor(st, m)).collect();
    let mut r = R::new(200);
    let filter = req.q("artifactType").map(str::to_string);
    if let Some(at) = &filter {
        if !st.fault("referrers-filter-unsupported") {
            if !st.fault("referrers-filter-not-applied") {
                descs
                    .retain(|d| d.get("artifactType").and_then(Value::as_str) == Some(at.as_str()));
            }
            let cached = st.fault("referrers-filter-cache-no-header") && st.filter_answered_before(format!("{name} {subject} {at}"));
            if !cached {
                r = r.header("oci-filters-applied", "artifactType");
            }
        }
    }
    if let Some(last) = req.q("last") {
        descs.retain(|d| {
            d.get("digest")
                .and_then(Value::as_str)
                .map(|x| x > last)
                .unwrap_or(false)
        });
    }
    let page = if st.fault("referrers-pagination-repeats") {
        2
    } else {
        PAGE
    };
    if descs.len() > page {
        let cursor_at = if st.fault("referrers-pagination-repeats") {
            page - 2
        } else {
            page - 1
        };
        let cursor = descs[cursor_at]
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut url = format!("/v2/{name}/referrers/{subject}?last={}", qenc(&cursor));
        if let Some(at) = &filter {
            url.push_str(&format!("&artifactType={}", qenc(at)));
        }
        r = r.header("link", format!("<{url}>; rel=\"next\""));
        descs.truncate(page);
    }
    r.body(ct, serde_json::to_vec(&index(descs)).unwrap_or_default())
}
