//! `oci-conformance bundle`: the OCI conformance results submission folder.
//!
//! Layout, as in github.com/opencontainers/oci-conformance:
//! `distribution-spec/<v1.0|v1.1>/<product>/{PRODUCT.yaml, README.md, results.yaml, junit.xml,
//! report.html}`; `verify` (src/verify.rs) checks such a folder the way reviewers do.

use crate::diff::{count_pairs, load_results, RunResults};
use crate::expect::{is_http_url, one_line};
use crate::model::Workflow;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// PRODUCT.yaml, fields in the order the submissions use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub vendor: String,
    pub name: String,
    pub version: String,
    pub website_url: String,
    pub repo_url: String,
    pub documentation_url: String,
    pub product_logo_url: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

const URL_FIELDS: [&str; 4] = [
    "website_url",
    "repo_url",
    "documentation_url",
    "product_logo_url",
];

impl Product {
    fn fields(&self) -> [(&'static str, &str); 9] {
        [
            ("vendor", &self.vendor),
            ("name", &self.name),
            ("version", &self.version),
            ("website_url", &self.website_url),
            ("repo_url", &self.repo_url),
            ("documentation_url", &self.documentation_url),
            ("product_logo_url", &self.product_logo_url),
            ("type", &self.kind),
            ("description", &self.description),
        ]
    }

    /// Parses and validates PRODUCT.yaml text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Product, String> {
        let mut p: Product = serde_yaml::from_str(text).map_err(|e| format!("{name}: {e} (fields: vendor, name, version, website_url, repo_url, documentation_url, product_logo_url, type, description)"))?;
        // Every scalar reads as a string (so `version: 1.10` stays "1.10"); trim, then check.
        for f in [
            &mut p.vendor,
            &mut p.name,
            &mut p.version,
            &mut p.website_url,
            &mut p.repo_url,
            &mut p.documentation_url,
            &mut p.product_logo_url,
            &mut p.kind,
            &mut p.description,
        ] {
            *f = f.trim().to_string();
        }
        for (field, v) in p.fields() {
            if v.is_empty() || matches!(v, "~" | "null" | "Null" | "NULL") {
                return Err(format!("{name}: field `{field}` is empty"));
            }
            if field != "description" && v.contains(['\n', '\r']) {
                return Err(format!("{name}: field `{field}` must be one line"));
            }
            if URL_FIELDS.contains(&field) && !is_http_url(v) {
                return Err(format!(
                    "{name}: field `{field}` must be an http:// or https:// URL, got {v:?}"
                ));
            }
        }
        // Reviewers refuse product names that use the OCI name (a trademark of the project).
        if p.name.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w.eq_ignore_ascii_case("oci")) {
            return Err(format!(
                "{name}: field `name` {:?} must not contain \"OCI\": name the product, not the specification",
                p.name
            ));
        }
        if slug(&p.name).is_empty() {
            return Err(format!(
                "{name}: field `name` {:?} has no letters or digits to name the submission folder",
                p.name
            ));
        }
        Ok(p)
    }

    pub fn load(path: &Path) -> Result<Product, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Product::parse(&text, &path.display().to_string())
    }

    /// PRODUCT.yaml as written to the bundle: fixed field order, YAML quoting where needed.
    pub fn to_yaml(&self) -> Result<String, String> {
        serde_yaml::to_string(self).map_err(|e| format!("cannot write PRODUCT.yaml: {e}"))
    }
}

/// Folder name for a product: lower-case ASCII letters and digits, other runs become one '-'.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

/// The submissions' folder for a spec version under test.
pub fn spec_dir(spec_version: &str) -> Result<&'static str, String> {
    match crate::model::SpecVersion::parse(spec_version) {
        Some(crate::model::SpecVersion::V1_0) => Ok("v1.0"),
        Some(crate::model::SpecVersion::V1_1) => Ok("v1.1"),
        Some(crate::model::SpecVersion::Main) => Err("the run tested the unreleased spec (main); submissions are per released version: rerun with --spec-version 1.1 (or 1.0)".into()),
        None => Err(format!("results.json has an unknown spec_version {spec_version:?}")),
    }
}

/// Flags whose value is a secret; the harness has none today, but a command line copied into
/// a public README is worth guarding.
fn is_secret_flag(flag: &str) -> bool {
    let f = flag.trim_start_matches('-').to_ascii_lowercase();
    ["password", "token", "secret"]
        .iter()
        .any(|k| f.contains(k))
}

/// The command line as it can be re-run: the program name without its build path, secrets out.
pub fn reproducible_command(cmd: &str) -> String {
    let mut out: Vec<String> = vec![];
    let mut hide_next = false;
    for (i, w) in cmd.split_whitespace().enumerate() {
        if i == 0
            && Path::new(w)
                .file_name()
                .is_some_and(|n| n == "oci-conformance")
        {
            out.push("oci-conformance".into());
            continue;
        }
        if hide_next {
            out.push("***".into());
            hide_next = false;
            continue;
        }
        match w.split_once('=') {
            Some((f, _)) if f.starts_with('-') && is_secret_flag(f) => out.push(format!("{f}=***")),
            _ if w.starts_with('-') && is_secret_flag(w) && !w.ends_with("-stdin") => {
                out.push(w.to_string());
                hide_next = true;
            }
            _ => out.push(w.to_string()),
        }
    }
    out.join(" ")
}

/// Markdown table cell text.
fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

pub fn readme(p: &Product, r: &RunResults, spec: &str) -> String {
    use std::fmt::Write;
    let c = r.counts();
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", one_line(&p.name));
    let _ = writeln!(s, "{}\n", p.description);
    let _ = writeln!(s, "- Vendor: {}", one_line(&p.vendor));
    let _ = writeln!(s, "- Version tested: {}", one_line(&p.version));
    let _ = writeln!(s, "- Type: {}", one_line(&p.kind));
    let _ = writeln!(s, "- Website: <{}>", p.website_url);
    let _ = writeln!(s, "- Source: <{}>", p.repo_url);
    let _ = writeln!(s, "- Documentation: <{}>\n", p.documentation_url);

    let _ = writeln!(s, "## Results\n");
    if r.embedded {
        let _ = writeln!(s, "> **Note:** this run tested oci-conformance's embedded reference registry, not the product above.\n");
    }
    // An expected failure is still a broken MUST: the vendor's expectations file does not
    // change what the registry does.
    let verdict = if c.failed + c.expected_failure + c.not_run > 0 {
        "FAIL"
    } else {
        "PASS"
    };
    let _ = writeln!(
        s,
        "OCI Distribution Specification {spec} conformance: **{verdict}** ({} passed, {} failed, {} warned, {} unsupported, {} skipped, {} expected failures, {} not run; {} checks).\n",
        c.passed, c.failed, c.warned, c.unsupported, c.skipped, c.expected_failure, c.not_run, c.total
    );
    let _ = writeln!(s, "| Outcome | Count |\n| --- | ---: |");
    for (k, v) in count_pairs(&c).iter().skip(1) {
        let _ = writeln!(s, "| {} | {v} |", k.replace('_', " "));
    }
    let _ = writeln!(
        s,
        "\nDetails per check: [report.html](report.html) and [junit.xml](junit.xml).\n"
    );

    let _ = writeln!(s, "## How to reproduce\n");
    let tool = if r.tool.is_empty() {
        "oci-conformance"
    } else {
        r.tool.as_str()
    };
    let _ = writeln!(s, "1. Start {} {} (see the documentation above) and make it reachable from where the harness runs.", one_line(&p.name), one_line(&p.version));
    let _ = writeln!(
        s,
        "2. Install the harness, {tool} {}, at exactly that version.",
        one_line(&r.version)
    );
    let _ = writeln!(
        s,
        "3. Run it with the same settings. The command as run was:\n"
    );
    let _ = writeln!(
        s,
        "   ```shell\n   {}\n   ```\n",
        one_line(&reproducible_command(&r.command))
    );
    let _ = writeln!(s, "   Pass credentials, if the registry needs them, through `OCI_USERNAME` / `OCI_PASSWORD` (or `--password-stdin`).");
    if let Some(seed) = r.seed {
        let _ = writeln!(
            s,
            "   `--seed {seed}` regenerates the same content (blobs, manifests, tags) as this run."
        );
    }
    let _ = writeln!(s, "\n| Setting | Value |\n| --- | --- |");
    let _ = writeln!(s, "| harness | {} {} |", cell(tool), cell(&r.version));
    let _ = writeln!(s, "| spec version | {} |", cell(&r.spec_version));
    let _ = writeln!(s, "| registry | {} |", cell(&r.registry));
    if let Some(seed) = r.seed {
        let _ = writeln!(s, "| seed | {seed} |");
    }
    let _ = writeln!(s, "| date | {} |", cell(&r.started_at));
    for (k, v) in &r.config {
        if matches!(k.as_str(), "registry" | "seed" | "spec_version") {
            continue;
        }
        // The harness redacts secrets already; a settings key that names one is hidden anyway.
        let v = if is_secret_flag(k) && !matches!(v.as_str(), "(none)" | "[REDACTED]")
        {
            "***".to_string()
        } else {
            v.clone()
        };
        let _ = writeln!(s, "| {} | {} |", cell(k), cell(&v));
    }
    let _ = writeln!(s, "\nThe run should end with the counts in the table above; `oci-conformance diff` compares a new results.json with the one behind this submission.");
    s
}

/// Writes OUT/distribution-spec/<version>/<product>/ and returns that folder.
/// `workflows`: the official workflows and the checks behind them (suites/workflows.rs).
pub fn run(product: &Path, out: &Path, report_dir: &Path, workflows: &[Workflow]) -> Result<PathBuf, String> {
    let p = Product::load(product)?;
    if !report_dir.is_dir() {
        return Err(format!(
            "report dir {} does not exist (run the harness first, or pass its --report-dir)",
            report_dir.display()
        ));
    }
    let r = load_results(report_dir)?;
    if r.embedded {
        // Allowed (it shows the layout, and the reference registry's own results), but said
        // loudly: such a bundle is not a result for the product.
        eprintln!("warning: {} tested the harness's embedded reference registry, not {}; the bundle says so", r.path.display(), p.name);
    }
    if let Some(why) = r.interrupted() {
        return Err(format!(
            "{}: the run stopped early ({why}); a submission needs a complete run",
            r.path.display()
        ));
    }
    let spec = spec_dir(&r.spec_version).map_err(|e| format!("{}: {e}", r.path.display()))?;
    let mut copies = vec![];
    for f in ["junit.xml", "report.html"] {
        let src = report_dir.join(f);
        let data = std::fs::read(&src).map_err(|e| {
            format!(
                "{}: {e} (the bundle needs the report dir's junit.xml and report.html)",
                src.display()
            )
        })?;
        if data.is_empty() {
            return Err(format!("{} is empty", src.display()));
        }
        copies.push((f, data));
    }
    let dir = out.join("distribution-spec").join(spec).join(slug(&p.name));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("PRODUCT.yaml", p.to_yaml()?.into_bytes()),
        ("README.md", readme(&p, &r, spec).into_bytes()),
        ("results.yaml", crate::results_yaml::render(&r, workflows)?.into_bytes()),
    ];
    files.extend(copies);
    for (name, data) in files {
        let dst = dir.join(name);
        crate::report::write_atomic(&dst, &data)
            .map_err(|e| format!("cannot write {}: {e}", dst.display()))?;
    }
    Ok(dir)
}
