//! Failures cite the spec version under test (issue 15, item 2): a requirement a check names
//! is quoted as that version words it, from the requirement catalog, with that version's link.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::model::SpecVersion;
use oci_conformance::suites::catalog;

/// Every `Rule::req("…")` in suites/ names a requirement of the catalog.
#[test]
fn every_cited_requirement_is_in_the_catalog() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    let mut cited = 0;
    let mut unknown = vec![];
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for part in text.split("Rule::req(\"").skip(1) {
            let id = &part[..part.find('"').unwrap()];
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
