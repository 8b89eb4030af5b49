//! Read-only mode: preloaded content is tested without a single write request, and a broken
//! registry still fails.

use oci_conformance::config::{Config, RunArgs};
use oci_conformance::content::{image_manifest, Blob, Generator, ManifestOpts};
use std::collections::BTreeMap;

struct Preloaded {
    tags: Vec<String>,
    manifests: Vec<String>,
    blobs: Vec<String>,
    subjects: Vec<String>,
}

async fn put_blob(c: &reqwest::Client, base: &str, repo: &str, b: &Blob) {
    let r = c.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={}", b.digest())).body(b.bytes()).send().await.unwrap();
    assert!(r.status().as_u16() == 201 || r.status().as_u16() == 202, "{}", r.status());
    if r.status().as_u16() == 202 {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let loc = if loc.starts_with('/') { format!("{base}{loc}") } else { loc };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = c.put(format!("{loc}{sep}digest={}", b.digest())).body(b.bytes()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
}

async fn preload(base: &str, repo: &str) -> Preloaded {
    let c = reqwest::Client::new();
    let g = Generator::new(99).scope("preload");
    let layer = g.blob("layer", 5000);
    let config = g.config("config");
    put_blob(&c, base, repo, &layer).await;
    put_blob(&c, base, repo, &config).await;
    let m = image_manifest(&config.descriptor(), &[layer.descriptor()], &ManifestOpts::default());
    for tag in ["v1", "v2"] {
        let r = c.put(format!("{base}/v2/{repo}/manifests/{tag}")).header("Content-Type", m.media_type.clone()).body(m.bytes.clone()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let empty = Blob::empty_config();
    put_blob(&c, base, repo, &empty).await;
    let referrer = image_manifest(&empty.descriptor(), &[], &ManifestOpts::default().artifact_type("application/vnd.example.sig").subject(m.descriptor()));
    let r = c.put(format!("{base}/v2/{repo}/manifests/{}", referrer.digest)).header("Content-Type", referrer.media_type.clone()).body(referrer.bytes.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    Preloaded {
        tags: vec!["v1".into(), "v2".into()],
        manifests: vec![m.digest.to_string()],
        blobs: vec![layer.digest().to_string(), config.digest().to_string()],
        subjects: vec![m.digest.to_string()],
    }
}

fn run(faults: &[&str]) -> serde_json::Value {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut reg = oci_conformance::registry::start(oci_conformance::registry::Options {
            addr: "127.0.0.1:0".into(),
            faults: faults.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .unwrap();
        let base = reg.url();
        let p = preload(&base, "ro/repo").await;
        let dir = tempfile::tempdir().unwrap();
        let args = RunArgs { registry: Some(base.clone()), namespace: Some("ro/repo".into()), report_dir: Some(dir.path().into()), seed: Some(5), quiet: true, ..Default::default() };
        let env: BTreeMap<String, String> = [
            ("OCI_RO_DATA_TAGS", p.tags.join(" ")),
            ("OCI_RO_DATA_MANIFESTS", p.manifests.join(" ")),
            ("OCI_RO_DATA_BLOBS", p.blobs.join(" ")),
            ("OCI_RO_DATA_REFERRERS", p.subjects.join(" ")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let cfg = Config::resolve(&args, &env, String::new()).unwrap();
        assert!(cfg.read_only.is_some());
        oci_conformance::app::run(cfg, false).await;
        reg.shutdown();
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap()).unwrap()
    })
}

fn outcome<'a>(v: &'a serde_json::Value, id: &str) -> &'a str {
    v["tests"].as_array().unwrap().iter().find(|t| t["id"] == id).and_then(|t| t["outcome"].as_str()).unwrap_or("absent")
}

#[test]
fn read_only_mode_reads_only_and_passes_a_conformant_registry() {
    let v = run(&[]);
    let tests = v["tests"].as_array().unwrap();
    assert!(tests.len() >= 20, "{} checks", tests.len());
    for t in tests {
        assert_eq!(t["outcome"], "passed", "{}: {}", t["id"], t["message"]);
        for e in t["trace"].as_array().into_iter().flatten() {
            let m = e["method"].as_str().unwrap();
            assert!(m == "GET" || m == "HEAD", "{} sent {m} {} in read-only mode", t["id"], e["url"]);
        }
        assert!(!t["bucket"].as_str().unwrap().starts_with("push") && t["bucket"] != "content-management");
    }
}

#[test]
fn read_only_mode_still_catches_faults() {
    let v = run(&["blob-wrong-bytes", "tags-list-unsorted"]);
    assert_eq!(outcome(&v, "pull.blob.get"), "failed");
    assert_eq!(outcome(&v, "discovery.tags.order"), "failed");
}

#[test]
fn bad_read_only_digest_is_a_config_error() {
    let env: BTreeMap<String, String> = [("OCI_RO_DATA_BLOBS".to_string(), "sha256:nothex".to_string())].into_iter().collect();
    let e = Config::resolve(&RunArgs::default(), &env, String::new()).unwrap_err();
    assert!(e.contains("OCI_RO_DATA_BLOBS"), "{e}");
}
