//! Which bearer-token scopes a request needs, read from its path, and how scopes merge.

/// " (scope …)" for messages.
pub(super) fn scope_note(scopes: &[String]) -> String {
    if scopes.is_empty() {
        String::new()
    } else {
        format!(" (scope {})", scopes.join(" "))
    }
}

/// The token scopes a registry path needs: `repository:<name>:pull,push` for
/// `/v2/<name>/(blobs|manifests|tags|referrers)/…`, plus `repository:<from>:pull` for a
/// cross-repository mount (`?mount=…&from=<from>`), `registry:catalog:*` for `/v2/_catalog`,
/// nothing for `/v2/` and anything else. `path` is relative to the registry's base path.
pub fn derive_scopes(path: &str, query: Option<&str>) -> Vec<String> {
    if path == "/v2/_catalog" {
        return vec!["registry:catalog:*".into()];
    }
    let Some((name, route)) = repository_route(path) else {
        return vec![];
    };
    let mut scopes = vec![format!("repository:{name}:pull,push")];
    if let Some(q) = query {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        let mount = pairs.iter().any(|(k, _)| k == "mount");
        if let Some((_, from)) = pairs.iter().find(|(k, v)| k == "from" && !v.is_empty()) {
            if mount && route == "blobs" {
                scopes.push(format!("repository:{from}:pull"));
            }
        }
    }
    merge_scopes(scopes.iter().map(String::as_str))
}

/// The repository a registry API path names and the route after it (`manifests`, `blobs`,
/// `tags`, `referrers`): `/v2/<name>/(blobs|manifests|tags|referrers)/…`, `path` relative to
/// the registry's base path. None for any other path.
pub fn repository_route(path: &str) -> Option<(String, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    // The leftmost split whose remainder is an API route: names may contain `blobs` or
    // `manifests` as components, the routes after the name have a fixed shape.
    let n = (1..segs.len()).find(|&i| {
        let r = &segs[i..];
        match r[0] {
            "manifests" | "referrers" => r.len() == 2 && !r[1].is_empty(),
            "tags" => r.len() == 2 && r[1] == "list",
            "blobs" => (r.len() == 2 && !r[1].is_empty()) || (r.len() >= 2 && r[1] == "uploads"),
            _ => false,
        }
    })?;
    if segs[..n].iter().any(|s| s.is_empty()) {
        return None;
    }
    Some((segs[..n].join("/"), segs[n]))
}

/// Merges scopes on the same resource (`repository:a:pull` + `repository:a:push` →
/// `repository:a:pull,push`), keeping the resources' first-seen order; pull and push lead.
pub fn merge_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    for s in scopes.into_iter().flat_map(|s| s.split_whitespace()) {
        // type:name:actions, where the name may hold colons (a registry host with a port)
        let (resource, actions) = match s.rsplit_once(':') {
            Some((r, a)) if r.contains(':') => (
                r.to_string(),
                a.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            _ => (s.to_string(), vec![]),
        };
        match out.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, acts)) => {
                for a in actions {
                    if !acts.contains(&a) {
                        acts.push(a);
                    }
                }
            }
            None => out.push((
                resource,
                actions.into_iter().fold(vec![], |mut v, a| {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                    v
                }),
            )),
        }
    }
    out.into_iter()
        .map(|(r, mut acts)| {
            let rank = |a: &String| match a.as_str() {
                "pull" => 0,
                "push" => 1,
                _ => 2,
            };
            acts.sort_by_key(rank);
            if acts.is_empty() {
                r
            } else {
                format!("{r}:{}", acts.join(","))
            }
        })
        .collect()
}

/// The token cache key of a scope list.
pub(super) fn scope_key(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scopes_from_paths() {
        let d = |p: &str, q: Option<&str>| derive_scopes(p, q);
        assert_eq!(d("/v2/", None), Vec::<String>::new());
        assert_eq!(
            d("/v2/a/b/manifests/latest", None),
            vec!["repository:a/b:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/sha256:00", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/x/y", None),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/tags/list", Some("n=1")),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(
            d("/v2/a/referrers/sha256:00", Some("artifactType=x")),
            vec!["repository:a:pull,push"]
        );
        // names with route words as components
        assert_eq!(
            d("/v2/x/blobs/y/manifests/t", None),
            vec!["repository:x/blobs/y:pull,push"]
        );
        assert_eq!(
            d("/v2/tags/tags/list", None),
            vec!["repository:tags:pull,push"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", Some("mount=sha256:00&from=b/c")),
            vec!["repository:a:pull,push", "repository:b/c:pull"]
        );
        assert_eq!(
            d("/v2/a/blobs/uploads/", Some("mount=sha256:00&from=a")),
            vec!["repository:a:pull,push"]
        );
        assert_eq!(d("/v2/_catalog", None), vec!["registry:catalog:*"]);
        assert_eq!(d("/token", None), Vec::<String>::new());
        assert_eq!(d("/v2//manifests/x", None), Vec::<String>::new());
    }
    #[test]
    fn scope_merging() {
        assert_eq!(
            merge_scopes([
                "repository:a:push",
                "repository:a:pull repository:b:pull",
                "repository:a:delete"
            ]),
            vec!["repository:a:pull,push,delete", "repository:b:pull"]
        );
        assert_eq!(
            merge_scopes(["repository:127.0.0.1:5000/a:pull"]),
            vec!["repository:127.0.0.1:5000/a:pull"]
        );
        assert_eq!(merge_scopes(["weird"]), vec!["weird"]);
    }
}
