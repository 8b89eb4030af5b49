//! Failures cite the spec version under test (issue 15, item 2): a requirement a check names
//! is quoted as that version words it, from the requirement catalog, with that version's link.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::model::SpecVersion;
use oci_conformance::suites::catalog;

/// Every `Rule::req("…")` and `Rule::first(&[…])` in suites/ names requirements of the catalog.
#[test]
fn every_cited_requirement_is_in_the_catalog() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let mut cited = 0;
    let mut unknown = vec![];
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let single = text.split("Rule::req(\"").skip(1).map(|part| &part[..part.find('"').unwrap()]);
        // Rule::first(&["a", "b"]): every id of the list.
        let listed = text.split("Rule::first(&[").skip(1).flat_map(|part| part[..part.find(']').unwrap()].split(',').map(|x| x.trim().trim_matches('"')));
        for id in single.chain(listed) {
            cited += 1;
            if catalog::requirement(id).is_none() {
                unknown.push(format!("{}: {id}", e.path().display()));
            }
        }
    }
    assert!(cited > 80, "only {cited} citations found");
    assert!(unknown.is_empty(), "cited but not in the catalog: {unknown:?}");
}

#[test]
fn the_catalog_quotes_each_version_in_its_own_words() {
    let (_, v11) = catalog::quote("discovery.tags.sorted", SpecVersion::V1_1).unwrap();
    let (_, main) = catalog::quote("discovery.tags.sorted", SpecVersion::Main).unwrap();
    assert!(!v11.contains("ASCIIbetical") && main.contains("ASCIIbetical"));
    assert!(catalog::quote("push.manifest.tag-param-10", SpecVersion::V1_1).is_none(), "main-only requirement quoted at 1.1");
}

/// The same broken ordering, run at 1.1 and at main: each failure quotes its own version's
/// sentence and links to its own version of spec.md.
#[test]
fn a_failure_quotes_the_version_under_test() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (version, tree, want, not) in [
        ("1.1", "v1.1.1", "MUST be in lexical order (i.e. case-insensitive alphanumeric order)", "ASCIIbetical"),
        ("main", "main", "\"ASCIIbetical\"", "lexical order (i.e."),
    ] {
        let flags: Vec<String> = ["--embedded-fault", "tags-list-unsorted", "--bucket", "content-discovery", "--spec-version", version]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = rt.block_on(support::run(&flags, Default::default())).unwrap();
        let t = r.results["tests"].as_array().unwrap().iter().find(|t| t["id"] == "discovery.tags.order").expect("discovery.tags.order");
        let msg = t["message"].as_str().unwrap();
        assert_eq!(t["outcome"], "failed", "{version}: {msg}");
        assert!(msg.contains(want) && !msg.contains(not), "{version}: {msg}");
        assert!(t["spec_url"].as_str().unwrap().contains(&format!("/blob/{tree}/spec.md")), "{version}: {}", t["spec_url"]);
    }
}

/// No spec sentence is written inline as a rule: a failure quotes the catalog, which words each
/// version as that version does and whose quotes tests/catalog.rs checks against the spec texts.
/// A string in suites/ (outside comments) with an RFC 2119 keyword is a level name, RFC text, or
/// a row of the spec's tables (`end-…`, `code-…`), which the catalog does not hold.
#[test]
fn no_spec_sentence_is_quoted_inline() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let keywords = ["MUST", "SHOULD", "MAY"];
    let mut inline = vec![];
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // The string literals of the line (escaped quotes kept inside).
            let mut rest = line;
            while let Some(start) = rest.find('"') {
                let body = &rest[start + 1..];
                let mut end = None;
                let mut escaped = false;
                for (i, c) in body.char_indices() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let Some(end) = end else { break };
                let lit = &body[..end];
                rest = &body[end + 1..];
                let words: Vec<&str> = lit.split(|c: char| !c.is_ascii_alphanumeric()).collect();
                let has_keyword = words.iter().any(|w| keywords.contains(w));
                let level_name = ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"].contains(&lit);
                let allowed = level_name || lit.contains("RFC ") || lit.starts_with("end-") || lit.starts_with("code-");
                if has_keyword && !allowed {
                    inline.push(format!("{}:{}: {lit}", e.path().display(), n + 1));
                }
            }
        }
    }
    assert!(inline.is_empty(), "spec sentences quoted inline (cite the catalog with Rule::req instead):\n{}", inline.join("\n"));
}
