//! The content-discovery, content-management and referrers checks: their declarations and
//! their verdicts against registries whose behaviour is known —
//! the embedded registry with and without the referrers API, and Debian's docker-registry
//! (distribution 2.8) when it is installed.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::config::{Config, RunArgs};
use std::collections::BTreeMap;

const BUCKETS: &[&str] = &["content-discovery", "content-management", "referrers"];

/// Each check is declared once, in suites/ (issue 15): no copy of its metadata here, only
/// what must hold of every declaration of these buckets.
#[test]
fn declarations_are_consistent() {
    let all = oci_conformance::suites::checks();
    let ours: Vec<_> = all.iter().filter(|m| BUCKETS.contains(&m.bucket.as_str())).collect();
    assert!(ours.len() > 30, "only {} checks in {BUCKETS:?}", ours.len());
    for m in ours {
        assert!(
            m.id.starts_with(m.bucket.as_str().trim_start_matches("content-")),
            "{} in bucket {}",
            m.id,
            m.bucket.as_str()
        );
        assert!(!m.spec.is_empty() && !m.name.is_empty(), "{}: spec anchor and name", m.id);
        assert!(m.level_v1_1 != Some(m.level), "{}: level_v1_1 equals level", m.id);
    }
}

/// Outcome and message of every check of the run, from its results.json.
async fn run(registry: Option<String>, spec: &str) -> BTreeMap<String, (String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let args = RunArgs {
        registry,
        report_dir: Some(dir.path().to_path_buf()),
        seed: Some(7),
        quiet: true,
        name_checks: true,
        bucket: BUCKETS.iter().map(|s| s.to_string()).collect(),
        spec_version: Some(spec.into()),
        connect_timeout: 10.0,
        request_timeout: 30.0,
        ..Default::default()
    };
    let cfg = Config::resolve(&args, &BTreeMap::new(), String::new()).expect("config");
    oci_conformance::app::run(cfg, false).await;
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("results.json")).expect("results.json"),
    )
    .unwrap();
    v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                (
                    t["outcome"].as_str().unwrap().to_string(),
                    t["message"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

fn outcome<'a>(r: &'a BTreeMap<String, (String, String)>, id: &str) -> &'a str {
    r.get(id)
        .map(|(o, _)| o.as_str())
        .unwrap_or_else(|| panic!("{id} not reported"))
}

fn not_failed(r: &BTreeMap<String, (String, String)>) {
    let bad: Vec<_> = r
        .iter()
        .filter(|(_, (o, _))| o == "failed" || o == "warned")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

async fn embedded(no_referrers_api: bool) -> Option<oci_conformance::registry::Running> {
    let o = oci_conformance::registry::Options {
        addr: "127.0.0.1:0".into(),
        no_referrers_api,
        ..Default::default()
    };
    match oci_conformance::registry::start(o).await {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("skipped: the embedded registry does not start: {e}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_registry_passes_every_check() {
    let Some(reg) = embedded(false).await else {
        return;
    };
    for spec in ["1.1", "main"] {
        let r = run(Some(reg.url()), spec).await;
        let declared = oci_conformance::suites::checks().iter().filter(|m| BUCKETS.contains(&m.bucket.as_str())).count();
        assert_eq!(r.len(), declared);
        not_failed(&r);
        let skipped: Vec<&String> = r
            .iter()
            .filter(|(_, (o, _))| o != "passed")
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            skipped,
            vec!["referrers.fallback.tag-schema"],
            "only the fallback is skipped when the API exists ({spec})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_referrers_api_the_fallback_is_checked() {
    let Some(reg) = embedded(true).await else {
        return;
    };
    let r = run(Some(reg.url()), "1.1").await;
    not_failed(&r);
    for (id, (o, m)) in &r {
        if id.starts_with("referrers.api.") || id == "referrers.push.oci-subject" {
            assert_eq!(o, "unsupported", "{id}: {m}");
        }
    }
    assert_eq!(outcome(&r, "referrers.fallback.tag-schema"), "passed");
    assert_eq!(outcome(&r, "referrers.push.subject-missing"), "passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_1_0_skips_the_referrers_api() {
    let Some(reg) = embedded(false).await else {
        return;
    };
    let r = run(Some(reg.url()), "1.0").await;
    not_failed(&r);
    for (id, (o, m)) in &r {
        if id.starts_with("referrers.api.") || id == "referrers.push.oci-subject" {
            assert_eq!(o, "skipped", "{id}: {m}");
            assert!(m.contains("since 1.1"), "{id}: {m}");
        }
    }
}

/// Debian's docker-registry 2.8: no referrers API, tag delete refused with 400, and a tag
/// list that ignores n and last (true violations of §listing-tags).
/// Real registries have races of their own (docker-registry 2.8 once answered 500 to a manifest
/// DELETE while other scenarios changed the same repository): a difference must show on two
/// runs, each against a fresh registry, before it fails.
#[test]
fn debian_docker_registry_verdicts() {
    let attempt = || {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(debian_docker_registry_verdicts_once())
        })
        .join()
    };
    if attempt().is_err() {
        eprintln!("docker-registry verdicts differed on the first run; running once more");
        attempt().expect("docker-registry verdicts differ on two runs");
    }
}

async fn debian_docker_registry_verdicts_once() {
    let server = match support::Server::docker_registry() {
        Ok(Some(s)) => s,
        Ok(None) if support::require_real() => panic!("/usr/bin/docker-registry is required (apt-get install docker-registry)"),
        Ok(None) => {
            eprintln!("skipped: /usr/bin/docker-registry is not installed (apt-get install docker-registry)");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let r = run(Some(server.url()), "1.1").await;
    drop(server);

    for id in [
        "discovery.tags.n",
        "discovery.tags.n-zero",
        "discovery.tags.last",
        "discovery.tags.last-without-n",
    ] {
        assert_eq!(outcome(&r, id), "failed", "{id}: {:?}", r.get(id));
    }
    assert_eq!(outcome(&r, "management.tag.delete"), "unsupported");
    assert_eq!(outcome(&r, "referrers.fallback.tag-schema"), "passed");
    for id in [
        "referrers.api.list",
        "referrers.api.pagination",
        "referrers.push.oci-subject",
    ] {
        assert_eq!(outcome(&r, id), "unsupported", "{id}");
    }
    // Readdir order may happen to be sorted; nothing else may fail.
    let allowed = [
        "discovery.tags.n",
        "discovery.tags.n-zero",
        "discovery.tags.last",
        "discovery.tags.last-without-n",
        "discovery.tags.order",
        "discovery.tags.pagination-walk",
    ];
    let other: Vec<_> = r
        .iter()
        .filter(|(id, (o, _))| (o == "failed" || o == "warned") && !allowed.contains(&id.as_str()))
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}
