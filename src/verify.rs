//! `oci-conformance bundle --verify DIR`: checks a submission folder
//! (`distribution-spec/vX.Y/<product>/`) the way the OCI conformance reviewers and the site's
//! page generator read it, before it is sent. Every problem is listed, not only the first.

use crate::bundle::Product;
use crate::results_yaml::Status;
use crate::model::{Section, Workflow};
use std::path::Path;

/// The five files a submission holds (the oci-conformance repository's instructions.md).
pub const FILES: [&str; 5] = ["PRODUCT.yaml", "README.md", "results.yaml", "report.html", "junit.xml"];

/// Spec folders a submission may go to: the current release and the one before it (the only
/// releases there are; the harness tests no other).
pub const VERSIONS: [&str; 2] = ["v1.1", "v1.0"];

/// The problems found in `dir` (empty: the folder is fine). Err: `dir` is not a folder.
/// `workflows`: the official workflows and the checks behind them (suites/workflows.rs).
pub fn verify(dir: &Path, workflows: &[Workflow]) -> Result<Vec<String>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory (give the distribution-spec/vX.Y/<product>/ folder that `bundle` wrote)", dir.display()));
    }
    let mut p = vec![];
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    for f in FILES {
        match std::fs::metadata(dir.join(f)) {
            Ok(m) if m.len() > 0 => {}
            Ok(_) => p.push(format!("{f} is empty")),
            Err(_) => p.push(format!("{f} is missing (a submission holds {})", FILES.join(", "))),
        }
    }

    let version = dir
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let under_spec = dir
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "distribution-spec");
    if !under_spec || !VERSIONS.contains(&version.as_str()) {
        p.push(format!(
            "the folder must be distribution-spec/<version>/<product>/ with <version> one of {} (the current release or the one before it); it is {}",
            VERSIONS.join(", "),
            dir.display()
        ));
    }
    let major_minor = version.trim_start_matches('v').to_string();

    if let Some(text) = read("PRODUCT.yaml") {
        if let Err(e) = Product::parse(&text, "PRODUCT.yaml") {
            p.push(e);
        }
    }

    let results = read("results.yaml").map(|t| results_yaml(&t, &mut p, workflows));
    let report = read("report.html").unwrap_or_default();
    let junit = read("junit.xml").unwrap_or_default();
    let junit_failures = junit.matches("<failure").count() + junit.matches("<error").count();
    let all_passed = report.contains("All tests passed");

    if !report.is_empty() {
        match stated_version(&report) {
            Some(v) if !major_minor.is_empty() && v != major_minor => {
                p.push(format!("report.html states spec version v{v}, its folder is {version}"))
            }
            None if !major_minor.is_empty() && !report.contains(&format!("v{major_minor}")) && !report.contains(&format!("\"{major_minor}\"")) => {
                p.push(format!("report.html does not name the spec version {version} of its folder"))
            }
            _ => {}
        }
        if let Some(gen) = generator(&report) {
            if !is_release(&gen) {
                p.push(format!("report.html was made by {gen}, not a released harness version (x.y.z)"));
            }
        }
    }
    if let Some(Some(r)) = &results {
        if r.embedded {
            p.push("results.yaml says the run tested the harness's embedded reference registry, not the product".into());
        }
        if r.seed.is_empty() {
            p.push("results.yaml records no seed: the run cannot be reproduced".into());
        }
        if !major_minor.is_empty() && !r.spec_version.is_empty() && r.spec_version != major_minor {
            p.push(format!("results.yaml says spec version {:?}, the folder {version}", r.spec_version));
        }
        let yaml_bad = &r.failing;
        if all_passed && !yaml_bad.is_empty() {
            p.push(format!("report.html says \"All tests passed\" but results.yaml has {}", yaml_bad.join(", ")));
        }
        if !report.is_empty() && !all_passed && yaml_bad.is_empty() && junit_failures == 0 {
            p.push("report.html and results.yaml disagree: no workflow failed, yet the report does not say \"All tests passed\"".into());
        }
        if !junit.is_empty() && (junit_failures > 0) != !yaml_bad.is_empty() {
            p.push(format!(
                "junit.xml has {junit_failures} failures or errors but results.yaml has {}",
                if yaml_bad.is_empty() { "none".to_string() } else { yaml_bad.join(", ") }
            ));
        }
    }
    if !report.is_empty() && !all_passed {
        p.push("report.html does not say \"All tests passed\": reviewers accept a submission whose run passed; fix the failures (report.html lists them) and run again".into());
    }
    if all_passed && junit_failures > 0 {
        p.push(format!("report.html says \"All tests passed\" but junit.xml has {junit_failures} failures or errors"));
    }
    Ok(p)
}

/// What verification needs from results.yaml.
struct Results {
    embedded: bool,
    seed: String,
    spec_version: String,
    /// "<name>: FAIL" for each workflow that is FAIL or Error.
    failing: Vec<String>,
}

/// Parses results.yaml as the site's generator does; problems go to `p`.
fn results_yaml(text: &str, p: &mut Vec<String>, workflows: &[Workflow]) -> Option<Results> {
    let v: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            p.push(format!("results.yaml is not YAML: {e}"));
            return None;
        }
    };
    let mut failing = vec![];
    for (key, section) in [("apis", Section::Apis), ("data", Section::Data)] {
        let Some(m) = v.get(key).and_then(|m| m.as_mapping()) else {
            p.push(format!("results.yaml has no `{key}:` map (the site's generator stops on it)"));
            continue;
        };
        for (k, val) in m {
            let name = k.as_str().unwrap_or("?");
            match val.as_str().and_then(|s| Status::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))) {
                Some(Status::Fail | Status::Error) => failing.push(format!("{name}: {}", val.as_str().unwrap_or(""))),
                Some(_) => {}
                None => p.push(format!("results.yaml {key}.{name}: {val:?} is not one of Pass, Skip, Disabled, FAIL, Error (the site's generator stops on it)")),
            }
        }
        for w in workflows.iter().filter(|w| w.required && w.section == section) {
            if !m.contains_key(w.name) {
                p.push(format!("results.yaml {key} lacks the required {:?}", w.name));
            }
        }
    }
    let cfg = |k: &str| v.get("config").and_then(|c| c.get(k)).and_then(|x| x.as_str()).unwrap_or("").to_string();
    Some(Results {
        embedded: cfg("embedded") == "true",
        seed: cfg("seed"),
        spec_version: cfg("spec_version"),
        failing,
    })
}

/// The major.minor after "OCI Distribution Specification v" (the harness's verdict line).
fn stated_version(html: &str) -> Option<String> {
    let key = "OCI Distribution Specification v";
    let rest = &html[html.find(key)? + key.len()..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('.').to_string())
}

/// The `<meta name="generator">` of report.html, e.g. "oci-conformance 0.1.0".
fn generator(html: &str) -> Option<String> {
    let i = html.find("<meta name=\"generator\" content=\"")?;
    let rest = &html[i + 32..];
    Some(rest[..rest.find('"')?].to_string())
}

/// "<tool> x.y.z" with a plain release version (no pre-release or build suffix).
fn is_release(gen: &str) -> bool {
    let v = gen.rsplit(' ').next().unwrap_or("");
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn release_versions() {
        assert!(is_release("oci-conformance 0.1.0"));
        assert!(!is_release("oci-conformance 0.1.0-dev"));
        assert!(!is_release("oci-conformance"));
        assert_eq!(generator("<meta name=\"generator\" content=\"x 1.2.3\">").as_deref(), Some("x 1.2.3"));
    }
}
