//! Content discovery bucket (spec §listing-tags, and the name and tag rules of
//! §pulling-manifests).
//!
//! The tag list of `--namespace` is shared with every other scenario of the run (and with
//! whatever else lives there), so the list can change between two requests. The checks
//! therefore judge only what a conformant registry guarantees whatever else happens: the
//! run's own tags (which sort identically in lexical and ASCII order), the order of whatever
//! is returned, and page sizes against the tags known to exist.

use super::common::*;
use crate::prelude::*;
use crate::runner::Cleanup;
use serde_json::Value;
use std::collections::HashSet;

const D: Bucket = Bucket::ContentDiscovery;

declare_checks! {
    /// Every scenario of this bucket, in report order.
    pub fn scenarios(D);

    // exclusive: the tag list is repository-wide; read it while no other scenario changes it.
    "discovery.tags" exclusive => tags {
        pub const TAGS_LIST = CheckMeta::new(
            "discovery.tags.list",
            D,
            Level::Must,
            "listing-tags",
            "GET tags/list answers 200 with a JSON {name, tags} body",
        ).reqs(&["discovery.tags.list-200", "discovery.tags.json-body"]);
        pub const TAGS_NAME = CheckMeta::new(
            "discovery.tags.name",
            D,
            Level::Must,
            "listing-tags",
            "The tag list's name is the full repository name",
        ).reqs(&["discovery.tags.body-content"]);
        pub const TAGS_CONTAINS = CheckMeta::new(
            "discovery.tags.contains-pushed",
            D,
            Level::Must,
            "listing-tags",
            "Every tag pushed is listed",
        ).reqs(&["discovery.tags.body-content"]);
        pub const TAGS_ORDER = CheckMeta::new(
            "discovery.tags.order",
            D,
            Level::Must,
            "listing-tags",
            "Tags are listed in lexical or ASCIIbetical order",
        ).reqs(&["discovery.tags.sorted"]);
        pub const TAGS_N = CheckMeta::new(
            "discovery.tags.n",
            D,
            Level::Must,
            "listing-tags",
            "?n=k returns k tags (fewer only with a Link header or when fewer exist)",
        ).reqs(&["discovery.tags.n-fewer-only", "discovery.tags.n-exact", "discovery.tags.n-sorted"]);
        pub const TAGS_N_ZERO = CheckMeta::new(
            "discovery.tags.n-zero",
            D,
            Level::Must,
            "listing-tags",
            "?n=0 returns an empty list and no Link header",
        ).reqs(&["discovery.tags.n-zero-empty", "discovery.tags.n-zero-no-link"]);
        pub const TAGS_LAST = CheckMeta::new(
            "discovery.tags.last",
            D,
            Level::Must,
            "listing-tags",
            "?last=t returns only the tags after t, in order",
        ).reqs(&["discovery.tags.last-sorted"]);
        pub const TAGS_LAST_NO_N = CheckMeta::new(
            "discovery.tags.last-without-n",
            D,
            Level::Must,
            "listing-tags",
            "?last=t without n returns the tags after t, in order",
        ).reqs(&["discovery.tags.last-sorted", "discovery.tags.last-without-n"]);
        pub const TAGS_LINK = CheckMeta::new(
            "discovery.tags.link-header",
            D,
            Level::Must,
            "listing-tags",
            "A Link header on tags/list follows RFC 5988 with rel=\"next\"",
        )
        .since(SpecVersion::V1_1).reqs(&["discovery.tags.link-optional", "discovery.tags.link-format"]);
        pub const TAGS_WALK = CheckMeta::new(
            "discovery.tags.pagination-walk",
            D,
            Level::Must,
            "listing-tags",
            "Paging through tags/list yields every tag exactly once, in order",
        ).reqs(&["discovery.tags.link-optional", "discovery.tags.link-format", "discovery.tags.n-sorted", "discovery.tags.last-sorted"]);
        pub const TAGS_RETAG = CheckMeta::new(
            "discovery.tags.retag",
            D,
            Level::Must,
            "pulling-manifests",
            "A tag pushed again with another manifest resolves to the new one",
        ).reqs(&["pull.manifest.get-200"]);
    }

    "discovery.unknown" => unknown {
        pub const TAGS_UNKNOWN_REPO = CheckMeta::new(
            "discovery.tags.unknown-repo-404",
            D,
            Level::Must,
            "listing-tags",
            "tags/list of an unknown repository answers 404",
        ).reqs(&["api.endpoints.tags-list-404", "errors.code.table"]);
    }

    "discovery.names" => names {
        pub const NAMES_TAG_128 = CheckMeta::new(
            "discovery.names.tag-128",
            D,
            Level::Must,
            "pulling-manifests",
            "A 128-character tag is accepted and resolves",
        )
        .since(SpecVersion::V1_1).reqs(&["names.tag.valid-accepted"]);
        pub const NAMES_MULTI = CheckMeta::new(
            "discovery.names.multi-component",
            D,
            Level::Must,
            "pulling-manifests",
            "A repository name with several path components works for push, pull and list",
        ).reqs(&["names.repo.valid-accepted"]);
        pub const NAMES_LONG = CheckMeta::new(
            "discovery.names.long-name",
            D,
            Level::Must,
            "pulling-manifests",
            "A long valid repository name works for push, pull and list",
        ).reqs(&["names.repo.valid-accepted"]);
        pub const TAGS_EMPTY = CheckMeta::new(
            "discovery.tags.empty",
            D,
            Level::Must,
            "listing-tags",
            "A repository holding only an untagged manifest lists no tags (200 with an empty list, or 404)",
        ).reqs(&["discovery.tags.list-200", "discovery.tags.may-be-empty", "discovery.tags.body-content"]);
    }
}

const R_FOUND: Rule = Rule::req("discovery.tags.list-200");
const R_FORMAT: Rule = Rule::req("discovery.tags.json-body");
const R_ORDER: Rule = Rule::req("discovery.tags.sorted");
const R_N: Rule = Rule::req("discovery.tags.n-exact");
const R_N_ZERO: Rule = Rule::req("discovery.tags.n-zero-empty");
const R_LAST: Rule = Rule::req("discovery.tags.last-sorted");
const R_LAST_NO_N: Rule = Rule::req("discovery.tags.last-without-n");
const R_LAST_NO_N_AFTER: Rule = Rule::req("discovery.tags.last-sorted");
const R_LINK: Rule = Rule::req("discovery.tags.link-format");
const R_PUSH: Rule = Rule::req("push.manifest.created-201");
const R_PULL: Rule = Rule::req("pull.manifest.get-200");
const R_NAME: Rule = Rule::req("names.repo.valid-accepted");
const R_TAG: Rule = Rule::req("names.tag.valid-accepted");
/// "`<name>` is the namespace of the repository, and `<tag1>`, … are each tags on the repository."
const R_CONTENT: Rule = Rule::req("discovery.tags.body-content");

/// Upper bound on pages followed in one listing (a registry whose Link loops must not hang the run).
const MAX_PAGES: usize = 1000;

/// One tags/list response, parsed.
pub(super) struct TagPage {
    name: String,
    pub(super) tags: Vec<String>,
    /// The followable `rel="next"` target, if the Link header has one that parses.
    next: Option<String>,
    pub(super) resp: Response,
}

impl TagPage {
    fn has_link(&self) -> bool {
        !self.resp.header_all("link").is_empty()
    }
}

fn tags_url(repo: &str, n: Option<usize>, last: Option<&str>) -> String {
    let mut u = format!("/v2/{repo}/tags/list");
    if let Some(n) = n {
        u = with_query(&u, "n", &n.to_string());
    }
    if let Some(l) = last {
        u = with_query(&u, "last", l);
    }
    u
}

/// GET one tags/list page: 200 and a `{name, tags}` body are required (MUST).
async fn get_tags(ck: &mut Ck, target: String) -> Res<TagPage> {
    let r = ck.send(Request::get(target)).await?;
    tag_page(ck, r)
}

/// Parses a tags/list answer: 200 and a `{name, tags}` body are required (MUST). Every check
/// that reads a tag list (read-only mode too) judges it here, the same way.
pub(super) fn tag_page(ck: &Ck, r: Response) -> Res<TagPage> {
    if r.status != 200 {
        return Err(ck.fail_at(
            Level::Must,
            R_FOUND,
            format!("{} answered {}; expected 200", r.request, r.summary()),
        ));
    }
    let bad = |why: &str| {
        ck.fail_at(
            Level::Must,
            R_FORMAT,
            format!("{} answered {}: {why}", r.request, r.summary()),
        )
    };
    let v: Value =
        serde_json::from_slice(&r.body).map_err(|e| bad(&format!("the body is not JSON ({e})")))?;
    let Some(obj) = v.as_object() else {
        return Err(bad("the body is not a JSON object"));
    };
    let name = match obj.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(bad("\"name\" is missing or not a string")),
    };
    // The format is an array, and an empty list is `[]`: `null` or no field is neither.
    let tags = match obj.get("tags") {
        None => return Err(bad("\"tags\" is missing (an empty list is \"tags\": [])")),
        Some(Value::Null) => return Err(bad("\"tags\" is null, not an array (an empty list is \"tags\": [])")),
        Some(Value::Array(a)) => {
            let mut t = Vec::with_capacity(a.len());
            for x in a {
                match x.as_str() {
                    Some(s) => t.push(s.to_string()),
                    None => return Err(bad(&format!("\"tags\" has a non-string element {x}"))),
                }
            }
            t
        }
        Some(_) => return Err(bad("\"tags\" is not an array")),
    };
    // A malformed Link is judged by the Link checks; here it only ends the walk.
    let next = next_link_url(ck, &r, R_LINK).unwrap_or(None);
    Ok(TagPage {
        name,
        tags,
        next,
        resp: r,
    })
}

/// Every tag of `repo` (all pages); None when the repository is not found (404), which a
/// registry may answer for a repository without tags ("Assuming a repository is found").
pub(super) async fn listed_tags(ck: &mut Ck, repo: &str) -> Res<Option<Vec<String>>> {
    let r = ck.send(Request::get(tags_url(repo, None, None))).await?;
    if r.status == 404 {
        return Ok(None);
    }
    all_tags(ck, repo).await.map(Some)
}

/// Every tag of `repo`, following `rel="next"` links when the registry paginates.
async fn all_tags(ck: &mut Ck, repo: &str) -> Res<Vec<String>> {
    let mut url = tags_url(repo, None, None);
    let mut seen = HashSet::new();
    let mut out = vec![];
    for _ in 0..MAX_PAGES {
        let p = get_tags(ck, url.clone()).await?;
        out.extend(p.tags);
        match p.next {
            Some(n) if seen.insert(n.clone()) => url = n,
            Some(n) => {
                return Err(ck.fail_at(
                    Level::Must,
                    R_LINK,
                    format!(
                        "the Link header points back to an already fetched page ({})",
                        crate::trace::redact_url(&n)
                    ),
                ))
            }
            None => return Ok(out),
        }
    }
    Err(ck.fail_at(
        Level::Must,
        R_LINK,
        format!("tags/list of {repo} still had a next link after {MAX_PAGES} pages"),
    ))
}

fn ci(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Whether `a` sorts before `b` in either accepted order (lexical or ASCIIbetical). Used to
/// judge single pairs when the registry's choice between the two orders is unknown.
fn after(a: &str, b: &str) -> bool {
    a > b || ci(a) > ci(b)
}

/// Ok if the list is strictly increasing in lexical (case-insensitive) or in ASCIIbetical
/// order; otherwise the first pair out of order (duplicates count as out of order). Spec
/// v1.1.1 names only lexical order; the harness's own tags sort the same both ways, so
/// accepting either never passes a list that misorders them.
fn order_problem(tags: &[String]) -> Option<String> {
    let bytes = tags.windows(2).position(|w| w[0] >= w[1]);
    let lexical = tags
        .windows(2)
        .position(|w| ci(&w[0]) > ci(&w[1]) || w[0] == w[1]);
    match (bytes, lexical) {
        (Some(i), Some(j)) => {
            let k = i.max(j);
            Some(format!(
                "{:?} is listed before {:?} (position {} of {})",
                tags[k],
                tags[k + 1],
                k + 1,
                tags.len()
            ))
        }
        _ => None,
    }
}

fn show(tags: &[String]) -> String {
    if tags.len() <= 12 {
        format!("{tags:?}")
    } else {
        format!(
            "{:?} … {:?} ({} tags)",
            &tags[..6],
            &tags[tags.len() - 3..],
            tags.len()
        )
    }
}

/// Setup shared by the tag-list checks: two manifests and the run's tags.
struct TagSetup {
    /// The run's tags, in sorted order (lowercase + digits: lexical = ASCIIbetical).
    ours: Vec<String>,
    second: Manifest,
}

const OUR_TAGS: usize = 5;

async fn tags(mut sc: Sc) {
    let repo = sc.ns().to_string();
    let ctx = sc.ctx.clone();
    let st = setup_with(&mut sc, "push one manifest under five tags", async |sc| {
        let first = Image::new(&sc.gen, "first", &[333], &ManifestOpts::default());
        let config2 = sc.gen.config("config2");
        push_blob(sc, &repo, &config2).await?;
        let descs: Vec<Descriptor> = first.layers.iter().map(Blob::descriptor).collect();
        let second = image_manifest(&config2.descriptor(), &descs, &ManifestOpts::default());
        let mut ours: Vec<String> = (0..OUR_TAGS - 1)
            .map(|i| sc.tag(&format!("dtag{i}")))
            .collect();
        // One tag sorts after every tag already there, so the end of the list is covered too.
        let existing = match sc.send(Request::get(tags_url(&repo, None, None))).await {
            Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("tags").cloned()),
            _ => None,
        };
        let existing: Vec<String> = existing
            .and_then(|t| serde_json::from_value(t).ok())
            .unwrap_or_default();
        ours.push(tag_after_all(&existing, &sc.tag("last")));
        ours.sort();
        push_image(sc, &repo, &first, &ours[0]).await?;
        for t in &ours[1..] {
            push_manifest(sc, &repo, &first.manifest, t, RANK_IMAGE).await?;
        }
        Ok(TagSetup { ours, second })
    })
    .await;
    let Some(st) = st else { return };
    let ours = &st.ours;

    sc.check(&TAGS_LIST, async |ck| {
        get_tags(ck, tags_url(&repo, None, None)).await?;
        Ok(())
    })
    .await;

    sc.check(&TAGS_NAME, async |ck| {
        let p = get_tags(ck, tags_url(&repo, None, None)).await?;
        ck.expect(p.name == repo, R_CONTENT, || format!("{} answered \"name\": {:?}; expected {:?}", p.resp.request, p.name, repo))?;
        if !repo.contains('/') {
            ck.note("--namespace has a single path component; discovery.names.multi-component tests several");
        }
        Ok(())
    })
    .await;

    sc.check(&TAGS_CONTAINS, async |ck| {
        let all = all_tags(ck, &repo).await?;
        let have: HashSet<&str> = all.iter().map(String::as_str).collect();
        let missing: Vec<&String> = ours.iter().filter(|t| !have.contains(t.as_str())).collect();
        ck.expect(missing.is_empty(), R_CONTENT, || {
            format!("GET /v2/{repo}/tags/list (following Link pages) does not list {missing:?}, pushed by this run; listed: {}", show(&all))
        })
    })
    .await;

    sc.check(&TAGS_ORDER, async |ck| {
        let all = all_tags(ck, &repo).await?;
        if let Some(p) = order_problem(&all) {
            return Err(ck.fail(
                R_ORDER,
                format!("GET /v2/{repo}/tags/list: {p}; listed: {}", show(&all)),
            ));
        }
        Ok(())
    })
    .await;

    sc.check(&TAGS_N, async |ck| {
        let k = 2;
        let p = get_tags(ck, tags_url(&repo, Some(k), None)).await?;
        let got = p.tags.len();
        if got > k {
            return Err(ck.fail(R_N, format!("{} returned {got} tags: {}", p.resp.request, show(&p.tags))));
        }
        if got < k && !p.has_link() {
            return Err(ck.fail(R_N, format!("{} returned {got} tags ({:?}) and no Link header, but the repository has at least {OUR_TAGS} tags", p.resp.request, p.tags)));
        }
        if let Some(o) = order_problem(&p.tags) {
            return Err(ck.fail(R_ORDER, format!("{}: {o}", p.resp.request)));
        }
        if got < k {
            ck.note(format!("{got} of {k} tags with a Link header"));
        }
        Ok(())
    })
    .await;

    sc.check(&TAGS_N_ZERO, async |ck| {
        let p = get_tags(ck, tags_url(&repo, Some(0), None)).await?;
        ck.expect(p.tags.is_empty(), R_N_ZERO, || {
            format!(
                "{} returned {} tags: {}",
                p.resp.request,
                p.tags.len(),
                show(&p.tags)
            )
        })?;
        ck.expect(!p.has_link(), R_N_ZERO, || {
            format!(
                "{} answered with Link: {}",
                p.resp.request,
                p.resp.header_all("link").join(", ")
            )
        })?;
        Ok(())
    })
    .await;

    sc.check(&TAGS_LAST, async |ck| {
        // The tags after ours[1], and after the last tag of all (nothing). Without n:
        // discovery.tags.last-without-n.
        for (from, n) in [(1usize, Some(2usize)), (OUR_TAGS - 1, Some(2))] {
            let t = &ours[from];
            let p = get_tags(ck, tags_url(&repo, n, Some(t))).await?;
            let req = &p.resp.request;
            if let Some(bad) = p.tags.iter().find(|x| !after(x, t)) {
                return Err(ck.fail(R_LAST, format!("{req} returned {bad:?}, which does not come after {t:?}; returned {}", show(&p.tags))));
            }
            if let Some(o) = order_problem(&p.tags) {
                return Err(ck.fail(R_LAST, format!("{req}: {o}")));
            }
            if let Some(n) = n {
                if p.tags.len() > n {
                    return Err(ck.fail(R_N, format!("{req} returned {} tags: {}", p.tags.len(), show(&p.tags))));
                }
            }
            // Our tags after t must come first among ours, none skipped: the returned ones
            // are a prefix of them, and all of them unless the page is full or has a Link.
            let expected: Vec<&String> = ours[from + 1..].iter().collect();
            let returned: Vec<&String> = p.tags.iter().filter(|x| ours.contains(x)).collect();
            if returned[..] != expected[..returned.len().min(expected.len())] || returned.len() > expected.len() {
                return Err(ck.fail(R_LAST, format!("{req} returned {returned:?} of this run's tags; the tags after {t:?} are {expected:?} in this order")));
            }
            let full = n.is_some_and(|n| p.tags.len() == n);
            if returned.len() < expected.len() && !full && !p.has_link() {
                return Err(ck.fail(R_N, format!("{req} returned {} without a Link header, but {expected:?} come after {t:?}", show(&p.tags))));
            }
        }
        Ok(())
    })
    .await;

    sc.check(&TAGS_LAST_NO_N, async |ck| {
        let t = &ours[1];
        let mut url = tags_url(&repo, None, Some(t));
        let r = ck.send(Request::get(url.clone())).await?;
        if r.status != 200 {
            return Err(ck.fail(
                R_LAST_NO_N,
                format!("{} (last without n) answered {}; expected 200 with the tags after {t:?}", r.request, r.summary()),
            ));
        }
        let mut p = tag_page(ck, r)?;
        let mut got: Vec<String> = vec![];
        let mut seen = HashSet::new();
        let mut pages = 1;
        loop {
            let req = p.resp.request.clone();
            if let Some(bad) = p.tags.iter().find(|x| !after(x, t)) {
                return Err(ck.fail(R_LAST_NO_N_AFTER, format!("{req} returned {bad:?}, which does not come after {t:?}; returned {}", show(&p.tags))));
            }
            got.extend(p.tags);
            match p.next {
                Some(n) if pages < MAX_PAGES && seen.insert(n.clone()) => url = n,
                Some(_) => return Err(ck.fail(R_LINK, format!("following the Link pages of {} did not end (page {pages})", tags_url(&repo, None, Some(t))))),
                None => break,
            }
            pages += 1;
            p = get_tags(ck, url.clone()).await?;
        }
        if let Some(o) = order_problem(&got) {
            return Err(ck.fail(R_LAST_NO_N_AFTER, format!("GET {}: {o}", tags_url(&repo, None, Some(t)))));
        }
        let missing: Vec<&String> = ours[2..].iter().filter(|x| !got.contains(x)).collect();
        ck.expect(missing.is_empty(), R_LAST_NO_N_AFTER, || {
            format!("GET {} ({pages} page(s)) did not return {missing:?}, which come after {t:?}; returned {}", tags_url(&repo, None, Some(t)), show(&got))
        })
    })
    .await;

    sc.check(&TAGS_LINK, async |ck| {
        let p = get_tags(ck, tags_url(&repo, Some(1), None)).await?;
        let links = p.resp.header_all("link");
        if links.is_empty() {
            ck.note("no Link header on a partial page (the Link header is optional)");
            return Ok(());
        }
        let mut has_next = false;
        for v in &links {
            let parsed = headers::parse_link(v).map_err(|e| ck.fail(R_LINK, format!("{} answered Link: {v} ({e})", p.resp.request)))?;
            has_next |= parsed.iter().any(|l| l.rel.iter().any(|r| r == "next"));
        }
        ck.expect(has_next, R_LINK, || format!("{} answered Link: {} without rel=\"next\"", p.resp.request, links.join(", ")))?;
        let next = next_link_url(ck, &p.resp, R_LINK)?.unwrap_or_default();
        // The link must lead somewhere a client can go on from.
        let q = get_tags(ck, next).await?;
        if let (Some(a), Some(b)) = (p.tags.last(), q.tags.first()) {
            ck.expect(after(b, a), R_LINK, || format!("following the Link of {} ({}) returned {b:?}, which does not come after {a:?} from the first page", p.resp.request, links.join(", ")))?;
        }
        Ok(())
    })
    .await;

    sc.check(&TAGS_WALK, async |ck| {
        let before = all_tags(ck, &repo).await?;
        let total = before.len();
        // Enough pages to paginate for real, few enough requests for a big repository.
        let k = total.div_ceil(25).max(2);
        let mut url = tags_url(&repo, Some(k), None);
        let mut walked: Vec<String> = vec![];
        let mut pages = 0;
        let mut by_link = 0;
        let mut seen_urls = HashSet::new();
        loop {
            pages += 1;
            // Pages may hold fewer than n tags when they carry a Link, down to one each.
            if pages > total + 50 {
                return Err(ck.fail(R_LINK, format!("paging through /v2/{repo}/tags/list?n={k} did not end after {pages} pages ({total} tags)")));
            }
            let p = get_tags(ck, url.clone()).await?;
            let req = p.resp.request.clone();
            if let (Some(a), Some(b)) = (walked.last(), p.tags.first()) {
                if !after(b, a) {
                    return Err(ck.fail(R_LAST, format!("{req} (page {pages}) starts with {b:?}, which does not come after {a:?} from the previous page")));
                }
            }
            let full = p.tags.len() >= k;
            walked.extend(p.tags.iter().cloned());
            if let Some(o) = order_problem(&walked) {
                return Err(ck.fail(R_ORDER, format!("paging with n={k}: {o}")));
            }
            url = match (next_link_url(ck, &p.resp, R_LINK)?, walked.last()) {
                (Some(n), _) => {
                    if !seen_urls.insert(n.clone()) {
                        return Err(ck.fail(R_LINK, format!("{req}: the Link header points back to an already fetched page")));
                    }
                    by_link += 1;
                    n
                }
                // No Link: a full page may have more after it; ask with last=.
                (None, Some(last)) if full => tags_url(&repo, Some(k), Some(last)),
                _ => break,
            };
        }
        // Other scenarios add and delete tags meanwhile: every tag listed both before and
        // after the walk (and all of this run's) must have been walked.
        let after_walk: HashSet<String> = all_tags(ck, &repo).await?.into_iter().collect();
        let have: HashSet<&str> = walked.iter().map(String::as_str).collect();
        let stable = before.iter().filter(|t| after_walk.contains(*t));
        let missing: std::collections::BTreeSet<&String> = stable.chain(ours.iter()).filter(|t| !have.contains(t.as_str())).collect();
        ck.expect(missing.is_empty(), R_LAST, || format!("paging with n={k} over {pages} pages never returned {missing:?}, listed by GET /v2/{repo}/tags/list before and after; walked: {}", show(&walked)))?;
        ck.note(format!("{pages} pages of n={k}, {by_link} followed by Link"));
        Ok(())
    })
    .await;

    sc.check(&TAGS_RETAG, async |ck| {
        let t = &ours[OUR_TAGS - 1];
        push_manifest_in_check(ck, &ctx.cleanup, &repo, &st.second, t, RANK_IMAGE, R_PUSH).await?;
        let r = ck.send(get_manifest(&repo, t)).await?;
        ck.expect_status(&r, &[200], R_PULL)?;
        ck.expect(r.body == st.second.bytes, R_PULL, || {
            let was = if Digest::sha256(&r.body) == st.second.digest {
                "the new manifest"
            } else {
                "another manifest (the one the tag pointed to before?)"
            };
            format!(
                "after pushing {} to tag {t:?}, {} returned {} bytes with digest {}: {was}",
                st.second.digest,
                r.request,
                r.body.len(),
                Digest::sha256(&r.body)
            )
        })
    })
    .await;
}

async fn unknown(mut sc: Sc) {
    let ns = sc.ns().to_string();
    let token = sc.gen.token("unknown", 10);
    sc.check(&TAGS_UNKNOWN_REPO, async |ck| {
        let repo = format!("{ns}/unknown-{token}");
        // "Assuming a repository is found, this request MUST return 200": a registry may
        // treat every valid name as an existing, empty repository (the official suite
        // accepts 200 with a list or 404). Anything else, or tags out of nowhere, fails.
        let target = tags_url(&repo, None, None);
        let r = ck.send(Request::get(target.clone())).await?;
        const RULE: &str = "end-8a GET /v2/<name>/tags/list: Success 200, Failure 404 (\"Assuming a repository is found, this request MUST return a 200 OK response code\")";
        if r.status == 200 {
            let p = get_tags(ck, target).await?;
            ck.expect(p.tags.is_empty() && p.name == repo, RULE, || format!("{} (a repository nothing was pushed to) answered {}", p.resp.request, p.resp.summary()))?;
            ck.note("answered 200 with an empty list (the repository is treated as existing and empty) rather than 404");
            return Ok(());
        }
        ck.expect_status(&r, &[404], RULE)?;
        expect_error_code(ck, &r, &["NAME_UNKNOWN"])?;
        Ok(())
    })
    .await;

}

/// A tag made of `z`s and `unique` that sorts after every tag in `tags` in both orders: it
/// has more leading `z`s than any of them has (case-insensitively), and every character of
/// an existing tag is at most its lowercase. Falls back to `unique` if that would be too long.
fn tag_after_all(tags: &[String], unique: &str) -> String {
    let most = tags
        .iter()
        .map(|t| {
            t.chars()
                .take_while(|c| c.eq_ignore_ascii_case(&'z'))
                .count()
        })
        .max()
        .unwrap_or(0);
    let t = format!("{}-{unique}", "z".repeat(most + 1));
    if t.len() <= 128 {
        t
    } else {
        unique.to_string()
    }
}

/// Pads a run-unique tag with digits to exactly `len` characters (valid, sorts the same in
/// both orders).
fn tag_of_len(base: String, len: usize) -> String {
    let mut t = base;
    t.push('-');
    while t.len() < len {
        t.push(char::from(b'0' + (t.len() % 10) as u8));
    }
    t.truncate(len);
    t
}

async fn names(mut sc: Sc) {
    let ns = sc.ns().to_string();
    let ctx = sc.ctx.clone();
    let gen = sc.gen.clone();
    let name_checks = sc.cfg().name_checks;
    let m = setup_with(&mut sc, "push a manifest by digest", async |sc| {
        let img = Image::new(&sc.gen, "names", &[211], &ManifestOpts::default());
        push_image(sc, &ns, &img, &img.manifest.digest.to_string()).await?;
        Ok(img.manifest)
    })
    .await;
    let Some(m) = m else { return };

    let t128 = tag_of_len(sc.tag("t128"), 128);
    sc.check(&NAMES_TAG_128, async |ck| {
        push_manifest_in_check(ck, &ctx.cleanup, &ns, &m, &t128, RANK_IMAGE, R_TAG).await?;
        let r = ck.send(get_manifest(&ns, &t128)).await?;
        ck.expect_status(&r, &[200], R_PULL)?;
        ck.expect(r.body == m.bytes, R_PULL, || {
            format!(
                "{} returned {} bytes with digest {}; pushed {}",
                r.request,
                r.body.len(),
                Digest::sha256(&r.body),
                m.digest
            )
        })
    })
    .await;

    // Repositories below --namespace are created only when the user allows it.
    let why = "needs --name-checks: it creates repositories below --namespace";
    if !name_checks {
        sc.skip(&NAMES_MULTI, why);
        sc.skip(&NAMES_LONG, why);
        sc.skip(&TAGS_EMPTY, why);
        return;
    }

    let bare = format!("{ns}/{}", sc.tag("notags"));
    sc.check(&TAGS_EMPTY, async |ck| {
        // A repository of its own whose only manifest is pushed by digest: no tag exists.
        let img = Image::new(&gen, "untagged", &[101], &ManifestOpts::default());
        let d = img.manifest.digest.to_string();
        let pushed = async {
            for b in img.blobs() {
                push_blob_in_check(ck, &ctx.cleanup, &bare, b, R_PUSH).await?;
            }
            push_manifest_in_check(ck, &ctx.cleanup, &bare, &img.manifest, &d, RANK_IMAGE, R_PUSH).await
        }
        .await;
        precondition(pushed, "push.manifest.put-by-digest")?;
        let r = ck.send(Request::get(tags_url(&bare, None, None))).await?;
        match r.status {
            200 => {
                let p = tag_page(ck, r)?;
                ck.expect(p.tags.is_empty(), R_CONTENT, || {
                    format!("{} (a repository whose only manifest {d} was pushed by digest, without a tag) listed {}", p.resp.request, show(&p.tags))
                })?;
                ck.note("200 with \"tags\": []");
                Ok(())
            }
            404 => {
                // "Assuming a repository is found": a repository without tags may count as not found.
                expect_error_code(ck, &r, &["NAME_UNKNOWN"])?;
                ck.note("404: the registry treats a repository without tags as not found");
                Ok(())
            }
            _ => Err(ck.fail(R_FOUND, format!("{} (a repository whose only manifest was pushed by digest) answered {}; expected 200 with an empty list (or 404 NAME_UNKNOWN)", r.request, r.summary()))),
        }
    })
    .await;
    let multi = format!("{ns}/{}/sub/leaf", sc.tag("mc"));
    let mtag = sc.tag("mctag");
    sc.check(&NAMES_MULTI, async |ck| {
        name_roundtrip(ck, &ctx.cleanup, &gen, &multi, &mtag).await
    })
    .await;

    // The longest name clients accept: 255 characters minus "<host:port>/".
    let authority = {
        let b = &sc.client().base;
        format!(
            "{}{}",
            b.host_str().unwrap_or(""),
            b.port().map(|p| format!(":{p}")).unwrap_or_default()
        )
    };
    let limit = 255usize.saturating_sub(authority.len() + 1);
    let base = format!("{ns}/{}-", sc.tag("ln"));
    if limit < base.len() + 1 {
        sc.skip(&NAMES_LONG, &format!("--namespace is too long to build a longer name within the {limit}-character client limit"));
        return;
    }
    let long = format!("{base}{}", "a".repeat(limit - base.len()));
    let ltag = sc.tag("lntag");
    sc.check(&NAMES_LONG, async |ck| {
        name_roundtrip(ck, &ctx.cleanup, &gen, &long, &ltag).await?;
        ck.note(format!("name of {} characters", long.len()));
        Ok(())
    })
    .await;
}

/// Push (blobs, manifest by tag), pull by tag, and list tags in `repo`; any failure is a
/// violation of the <name> grammar rule (a valid name that does not work).
async fn name_roundtrip(
    ck: &mut Ck,
    cleanup: &Cleanup,
    gen: &Generator,
    repo: &str,
    tag: &str,
) -> Res {
    let img = Image::new(gen, "name", &[97], &ManifestOpts::default());
    for b in img.blobs() {
        push_blob_in_check(ck, cleanup, repo, b, R_NAME).await?;
    }
    let m = &img.manifest;
    push_manifest_in_check(ck, cleanup, repo, m, tag, RANK_IMAGE, R_NAME).await?;
    let r = ck.send(get_manifest(repo, tag)).await?;
    ck.expect_status(&r, &[200], R_PULL)?;
    ck.expect(r.body == m.bytes, R_PULL, || {
        format!(
            "{} returned {} bytes with digest {}; pushed {}",
            r.request,
            r.body.len(),
            Digest::sha256(&r.body),
            m.digest
        )
    })?;
    let p = get_tags(ck, tags_url(repo, None, None)).await?;
    ck.expect(
        p.name == repo,
        R_CONTENT,
        || {
            format!(
                "{} answered \"name\": {:?}; expected {repo:?}",
                p.resp.request, p.name
            )
        },
    )?;
    ck.expect(
        p.tags.iter().any(|t| t == tag),
        R_CONTENT,
        || {
            format!(
                "{} does not list {tag:?}: {}",
                p.resp.request,
                show(&p.tags)
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn either_order_is_accepted_but_not_a_mix() {
        assert!(order_problem(&v(&["a", "b", "c"])).is_none());
        // ASCIIbetical: uppercase first; lexical: case-insensitive.
        assert!(order_problem(&v(&["B", "a", "c"])).is_none());
        assert!(order_problem(&v(&["a", "B", "c"])).is_none());
        assert!(order_problem(&v(&["b", "a"])).is_some());
        assert!(order_problem(&v(&["a", "a"])).is_some(), "duplicates");
        assert!(
            order_problem(&v(&["B", "a", "C", "b"])).is_some(),
            "ASCII then lexical"
        );
    }

    #[test]
    fn the_last_tag_sorts_after_everything() {
        let tags = v(&["zz-1", "Zzz9", "a", "zZ_x", "Z"]);
        let t = tag_after_all(&tags, "last-abc-123");
        assert!(t.starts_with("zzzz-"), "{t}");
        for x in &tags {
            assert!(
                t.as_str() > x.as_str() && t.to_ascii_lowercase() > x.to_ascii_lowercase(),
                "{t} vs {x}"
            );
        }
        let long = vec!["z".repeat(128)];
        assert_eq!(tag_after_all(&long, "u"), "u");
    }

    #[test]
    fn padded_tags_have_the_length_asked() {
        let t = tag_of_len("t128-abc-def".into(), 128);
        assert_eq!(t.len(), 128);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert_eq!(tag_of_len("x".into(), 129).len(), 129);
    }
}
