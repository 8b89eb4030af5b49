//! Same seed, same content and the same verdicts, whatever --jobs is.

use oci_conformance::config::{Config, RunArgs};
use std::collections::{BTreeMap, BTreeSet};

fn run(jobs: usize) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let args = RunArgs { report_dir: Some(dir.path().to_path_buf()), seed: Some(4242), jobs: Some(jobs), quiet: true, ..Default::default() };
    let cfg = Config::resolve(&args, &BTreeMap::<String, String>::new(), String::new()).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(oci_conformance::app::run(cfg, false));
    let text = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outcomes = v["tests"].as_array().unwrap().iter().map(|t| (t["id"].as_str().unwrap().to_string(), t["outcome"].as_str().unwrap().to_string())).collect();
    // every digest the run addressed in a request URL: content is derived from the seed only
    let mut digests = BTreeSet::new();
    for t in v["tests"].as_array().unwrap() {
        for e in t["trace"].as_array().into_iter().flatten() {
            let url = e["url"].as_str().unwrap_or("");
            for (i, _) in url.match_indices("sha256:") {
                let hex: String = url[i + 7..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                if hex.len() == 64 {
                    digests.insert(hex);
                }
            }
        }
    }
    (outcomes, digests)
}

#[test]
fn same_seed_same_outcomes_and_digests_at_any_jobs() {
    let (o1, d1) = run(1);
    let (o8, d8) = run(8);
    assert_eq!(o1, o8, "outcomes differ between --jobs 1 and --jobs 8");
    assert!(!d1.is_empty());
    assert_eq!(d1, d8, "digests differ between --jobs 1 and --jobs 8");
}
