//! Submissions the OCI results site reads (issue 17): a bundle rendered by the site's own page
//! generator (../shared/oci-site) next to published submissions shows a clean run's required
//! workflows passed and a failing run's failures as failures, and the generator accepts both;
//! `bundle --verify` accepts a good folder and names what is wrong with each kind of bad one.

#[path = "registry_support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_oci-conformance")
}

fn site() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oci-site");
    p.join("run.sh").is_file().then_some(p)
}

/// Runs the harness against `registry` (None: the embedded one) and bundles the run with the
/// example product into `root`; returns the submission folder.
fn run_and_bundle(root: &Path, registry: Option<&str>, name: &str) -> PathBuf {
    let rep = root.join(format!("report-{name}"));
    let mut args = vec!["--quiet".to_string(), "--seed".into(), "7".into(), "--report-dir".into(), rep.display().to_string()];
    if let Some(r) = registry {
        args.extend(["--registry".to_string(), r.to_string()]);
    }
    let st = Command::new(bin()).args(&args).output().expect("harness");
    assert!(matches!(st.status.code(), Some(0 | 1)), "harness exit {:?}", st.status.code());
    let product = root.join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/PRODUCT.yaml"))
        .unwrap()
        .replace("name: Example Registry", &format!("name: {name}"));
    std::fs::write(&product, text).unwrap();
    let out = Command::new(bin())
        .args(["bundle", "--product"])
        .arg(&product)
        .arg("--out")
        .arg(root.join("site"))
        .arg(&rep)
        .output()
        .expect("bundle");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    root.join("site/distribution-spec/v1.1").join(name.to_lowercase())
}

fn verify(dir: &Path) -> (i32, String) {
    let o = Command::new(bin()).args(["bundle", "--verify"]).arg(dir).output().expect("verify");
    (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// The workflow lines the generator renders for `product`, "✅ API: Blob get" and the like.
fn workflows(page: &str, product: &str) -> Vec<String> {
    let start = page.find(&format!("#### {product}")).unwrap_or_else(|| panic!("{product} is not on the page"));
    let rest = &page[start + 5..];
    let end = rest.find("\n#### ").unwrap_or(rest.len());
    rest[..end]
        .lines()
        .filter(|l| l.contains("API: ") || l.contains("Data: "))
        .map(|l| l.trim_end_matches("<br/>").to_string())
        .collect()
}

#[test]
fn the_site_generator_renders_our_bundles_truthfully() {
    let Some(site) = site() else {
        assert!(!support::require_real(), "../shared/oci-site is missing (CI requires it)");
        eprintln!("skipped: ../shared/oci-site not present");
        return;
    };
    let docker = support::Server::docker_registry().expect("docker-registry");
    let Some(docker) = docker else {
        assert!(!support::require_real(), "docker-registry is required on CI (apt-get install docker-registry)");
        eprintln!("skipped: /usr/bin/docker-registry not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let clean = run_and_bundle(root, None, "Clean");
    let failing = run_and_bundle(root, Some(&docker.url()), "Dockerreg");

    // Next to the published submissions.
    let tree = root.join("site/distribution-spec/v1.1");
    for e in std::fs::read_dir(site.join("upstream/distribution-spec/v1.1")).unwrap().flatten() {
        let to = tree.join(e.file_name());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(e.path()).unwrap().flatten() {
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    let out = root.join("occ");
    let gen = Command::new("bash").arg(site.join("run.sh")).arg(root.join("site")).arg(&out).env("QUIET", "1").output().expect("run.sh");
    assert_eq!(gen.status.code(), Some(0), "the generator refused the tree: {}", String::from_utf8_lossy(&gen.stderr));
    let page = std::fs::read_to_string(out.join("README.md")).unwrap();
    for published in ["Zot", "olareg"] {
        assert!(page.contains(&format!("#### {published}")), "{published} is missing from the page");
    }

    let ok = workflows(&page, "Clean");
    for required in ["API: Blob get", "API: Blob head", "API: Manifest get by digest", "API: Manifest get by tag", "API: Manifest head by digest", "API: Manifest head by tag", "Data: Blobs sha256", "Data: Image", "Data: Index"] {
        assert!(ok.iter().any(|l| l.starts_with('✅') && l.ends_with(required)), "clean run: {required} not shown passed: {ok:?}");
    }

    // docker-registry 2.8 breaks tag listing and chunked uploads (tests/known): shown failed,
    // and every workflow results.yaml calls FAIL is not shown passed.
    let bad = workflows(&page, "Dockerreg");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(failing.join("results.yaml")).unwrap()).unwrap();
    let mut failed = vec![];
    for (section, label) in [("apis", "API"), ("data", "Data")] {
        for (k, v) in yaml[section].as_mapping().unwrap() {
            if v.as_str() == Some("FAIL") {
                failed.push(format!("{label}: {}", k.as_str().unwrap()));
            }
        }
    }
    assert!(failed.contains(&"API: Tag listing".to_string()) && failed.contains(&"API: Blob chunked".to_string()), "{failed:?}");
    for f in &failed {
        assert!(!bad.iter().any(|l| l.starts_with('✅') && l.ends_with(f.as_str())), "{f} is shown passed: {bad:?}");
        assert!(bad.iter().any(|l| l.ends_with(f.as_str())), "{f} is not on the page: {bad:?}");
    }

    // The reports say the same.
    let html = std::fs::read_to_string(clean.join("report.html")).unwrap();
    assert!(html.contains("All tests passed") && html.contains("v1.1"));
    let html = std::fs::read_to_string(failing.join("report.html")).unwrap();
    assert!(!html.contains("All tests passed") && html.contains("checks failed"));
}

#[test]
fn verify_accepts_a_good_folder_and_names_each_problem() {
    // A clean run of a registry the harness does not know is its own: a good submission.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reg = rt
        .block_on(oci_conformance::registry::start(oci_conformance::registry::Options { addr: "127.0.0.1:0".into(), ..Default::default() }))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let good = run_and_bundle(tmp.path(), Some(&reg.url()), "Goodreg");
    let (code, text) = verify(&good);
    assert_eq!(code, 0, "{text}");

    // Each kind of bad folder: a copy of the good one, broken one way.
    type Break = fn(&Path);
    let cases: Vec<(&str, Break, &str)> = vec![
        ("missing file", |d| std::fs::remove_file(d.join("junit.xml")).unwrap(), "junit.xml is missing"),
        ("OCI in the name", |d| edit(d, "PRODUCT.yaml", "name: Goodreg", "name: Goodreg OCI Registry"), "must not contain \"OCI\""),
        ("no documentation_url", |d| edit(d, "PRODUCT.yaml", "documentation_url: https://registry.example.com/docs/", "documentation_url: ''"), "documentation_url"),
        ("unknown status", |d| edit(d, "results.yaml", "Blob get: Pass", "Blob get: Passed"), "is not one of Pass"),
        ("required workflow missing", |d| edit(d, "results.yaml", "  Blob head: Pass\n", ""), "lacks the required \"Blob head\""),
        ("report claims a pass results.yaml denies", |d| edit(d, "results.yaml", "Tag listing: Pass", "Tag listing: FAIL"), "says \"All tests passed\" but results.yaml"),
        ("junit has failures", |d| edit(d, "junit.xml", "</testcase>", "<failure message=\"x\"/></testcase>"), "junit.xml has"),
        ("no seed", |d| edit(d, "results.yaml", "seed: '7'", "seed: ''"), "no seed"),
        ("embedded registry", |d| edit(d, "results.yaml", "embedded: 'false'", "embedded: 'true'"), "embedded reference registry"),
        ("unreleased harness", |d| edit(d, "report.html", "content=\"oci-conformance 0.1.0\"", "content=\"oci-conformance 0.2.0-dev\""), "not a released harness version"),
        ("report of another version", |d| edit(d, "report.html", "Specification v1.1", "Specification v1.0"), "states spec version v1.0"),
    ];
    for (what, f, says) in cases {
        let dir = tmp.path().join("bad").join(what.replace(' ', "-")).join("distribution-spec/v1.1/goodreg");
        copy_dir(&good, &dir);
        f(&dir);
        let (code, text) = verify(&dir);
        assert_eq!(code, 1, "{what}: {text}");
        assert!(text.contains(says), "{what}: expected {says:?} in:\n{text}");
    }
    // A folder for a version the harness does not test, and one that is not a folder at all.
    let dir = tmp.path().join("bad/version/distribution-spec/v1.3/goodreg");
    copy_dir(&good, &dir);
    let (code, text) = verify(&dir);
    assert!(code == 1 && text.contains("one of v1.1, v1.0"), "{text}");
    let (code, text) = verify(&tmp.path().join("nowhere"));
    assert!(code == 2 && text.contains("is not a directory"), "{text}");
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(t.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
