//! `GET /v2/<name>/tags/list` with `n`, `last` and the `Link` header.

use super::http::{error, qenc, Req, R};
use super::state::State;

/// Largest page served for one `n`; asking for more gets this many and a Link to the rest
/// ("MAY return fewer than <int> results, but only when … a Link header is provided").
const MAX_PAGE: usize = 1000;

pub fn list(st: &State, req: &Req, name: &str) -> R {
    let s = st.store();
    let Some(repo) = s.repos.get(name) else {
        if st.fault("tags-unknown-repo-phantom-tag") {
            return R::new(200).json(&serde_json::json!({ "name": name, "tags": ["latest"] }));
        }
        return error(
            404,
            "NAME_UNKNOWN",
            format!("repository {name} is not known to this registry"),
        );
    };
    // An `n` that is not a non-negative integer is ignored (the spec defines only integers).
    let mut n: Option<usize> = req.q("n").and_then(|v| v.trim().parse().ok());
    if st.fault("tags-n-ignored") || (n == Some(0) && st.fault("tags-n-zero-returns-all")) {
        n = None;
    }
    let last = if st.fault("tags-last-without-n-ignored") && req.q("n").is_none() {
        None
    } else {
        req.q("last")
    };
    let inclusive = st.fault("tags-last-inclusive");
    // Sorted names to list: the tags, or (a fault) the manifest digests of an untagged repository.
    let names: Vec<&String> = if repo.tags.is_empty() && st.fault("tags-empty-lists-digests") {
        let mut d: Vec<&String> = repo.manifests.keys().collect();
        d.sort();
        d
    } else if st.fault("tags-list-keeps-deleted") {
        let all: std::collections::BTreeSet<&String> = repo.tags.keys().chain(repo.ghost_tags.iter()).collect();
        all.into_iter().collect()
    } else {
        repo.tags.keys().collect()
    };
    let mut all: Vec<&String> = names
        .into_iter()
        .filter(|t| match last {
            Some(l) => t.as_str() > l || (inclusive && t.as_str() == l),
            None => true,
        })
        .collect();
    if st.fault("tags-list-drops-last") {
        if let Some(max) = repo.tags.keys().next_back() {
            all.retain(|t| *t != max);
        }
    }
    let take = n.map(|n| n.min(MAX_PAGE)).unwrap_or(all.len());
    let mut page: Vec<&String> = all.iter().take(take).copied().collect();
    let mut r = R::new(200);
    // "When n is zero, this endpoint MUST return an empty list, and MUST NOT include a Link".
    if page.len() < all.len() && take > 0 {
        let next_after = if st.fault("tags-link-skips") {
            all.get(page.len()).copied()
        } else {
            page.last().copied()
        };
        if let Some(after) = next_after {
            let n_link = n.unwrap_or(take);
            let url = format!("/v2/{name}/tags/list?n={n_link}&last={}", qenc(after));
            let link = if st.fault("tags-link-malformed") {
                format!("{url}; rel=next")
            } else {
                format!("<{url}>; rel=\"next\"")
            };
            r = r.header("link", link);
        }
    }
    if st.fault("tags-list-unsorted") {
        page.reverse();
    }
    let shown = if st.fault("tags-list-short-name") {
        name.rsplit('/').next().unwrap_or(name)
    } else {
        name
    };
    let key = if st.fault("tags-list-bad-json") {
        "tag"
    } else {
        "tags"
    };
    let mut body = serde_json::Map::new();
    body.insert("name".into(), shown.into());
    let tags: serde_json::Value = if page.is_empty() && st.fault("tags-list-null-when-empty") {
        serde_json::Value::Null
    } else {
        page.into_iter().cloned().collect::<Vec<_>>().into()
    };
    body.insert(key.into(), tags);
    r.json(&serde_json::Value::Object(body))
}
