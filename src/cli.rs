//! Subcommand bodies: kept out of main.rs so tests can call them in-process.

use crate::config::{
    exit, BundleArgs, CompletionsArgs, Config, DiffArgs, ExpectArgs, ListArgs, ServeArgs,
};
use crate::model::SpecVersion;

/// The harness run: prints the resolved config, runs, returns the exit status.
pub async fn run(cfg: Config) -> i32 {
    // configuration errors first, before anything is printed
    if let Err(e) = crate::app::load_expectations(&cfg) {
        eprintln!("error: {e}");
        return exit::BAD_CONFIG;
    }
    if cfg.list {
        for m in crate::suites::plan(&cfg).checks {
            crate::say!(
                "{:<50} {:<19} {:<6} §{}",
                m.id,
                m.bucket.as_str(),
                m.level_for(cfg.spec_version).as_str(),
                m.spec
            );
        }
        return exit::OK;
    }
    // The resolved configuration; the console reporter prints warnings and the target itself.
    if !cfg.quiet && cfg.format == crate::config::Format::Human {
        crate::say!(
            "oci-conformance {} — seed {} (replay with --seed {})",
            env!("CARGO_PKG_VERSION"),
            cfg.seed,
            cfg.seed
        );
        for (k, v) in cfg.display_map() {
            crate::say!("  {k:<22} {v}");
        }
    }
    crate::app::run(cfg, true).await.exit_code
}

pub async fn serve(a: ServeArgs) -> i32 {
    if a.list_faults {
        for f in crate::registry::faults::ALL {
            crate::say!(
                "{:<40} breaks {:<45} {}",
                f.name,
                f.breaks.join(","),
                f.description
            );
        }
        return exit::OK;
    }
    let creds = |flag: &str, v: &str| -> Result<(String, String), String> {
        match v.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok((u.to_string(), p.to_string())),
            _ => Err(format!("{flag} wants USER:PASSWORD")),
        }
    };
    let auth = match (&a.basic_auth, &a.token_auth) {
        (Some(b), _) => creds("--basic-auth", b)
            .map(|(user, password)| Some(crate::registry::Auth::Basic { user, password })),
        (None, Some(t)) => creds("--token-auth", t)
            .map(|(user, password)| Some(crate::registry::Auth::Token { user, password })),
        (None, None) => Ok(None),
    };
    let delay = match a.delay {
        Some(d) if !(d.is_finite() && (0.0..1e7).contains(&d)) => {
            Err(format!("--delay must be a number of seconds ≥ 0, got {d}"))
        }
        d => Ok(d.map(std::time::Duration::from_secs_f64)),
    };
    let (auth, delay) = match (auth, delay) {
        (Ok(a), Ok(d)) => (a, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return exit::BAD_CONFIG;
        }
    };
    let opts = crate::registry::Options {
        addr: a.addr.clone(),
        faults: a.faults.clone(),
        no_referrers_api: a.no_referrers_api,
        chunk_min_length: a.chunk_min_length,
        max_blob_size: a.max_blob_size,
        auth,
        tls: a.tls,
        tls_identity: None,
        refuse_scopes: a.refuse_scope.clone(),
        anonymous_pull: a.anonymous_pull,
        redirect_blobs: a.redirect_blobs,
        delay,
        hang: a.hang.clone(),
    };
    let mut r = match crate::registry::start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_CONFIG;
        }
    };
    crate::say!(
        "embedded registry listening on {}{}",
        r.url(),
        if a.faults.is_empty() {
            String::new()
        } else {
            format!(" (faults: {})", a.faults.join(","))
        }
    );
    if let Some(pem) = &r.ca_pem {
        let path = a.ca_out.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("oci-conformance-ca-{}.pem", r.addr.port()))
        });
        match std::fs::write(&path, pem) {
            Ok(()) => crate::say!(
                "TLS CA certificate: {} (pass it with --ca-cert)",
                path.display()
            ),
            Err(e) => {
                eprintln!(
                    "error: cannot write the CA certificate to {}: {e}",
                    path.display()
                );
                return exit::BAD_CONFIG;
            }
        }
    }
    if let Some(ra) = r.redirect_addr {
        crate::say!("blob GETs redirect to http://{ra}");
    }
    let _ = tokio::signal::ctrl_c().await;
    if r.redirect_addr.is_some() {
        crate::say!(
            "redirect target: {} requests, {} with an Authorization header",
            r.redirect_requests(),
            r.redirect_requests_with_auth()
        );
    }
    r.shutdown();
    exit::OK
}

pub fn list(a: ListArgs) -> i32 {
    use crate::suites::catalog;
    let v = match a.spec_version.as_deref().map(SpecVersion::parse) {
        None => SpecVersion::V1_1,
        Some(Some(v)) => v,
        Some(None) => {
            eprintln!("error: spec version must be 1.0, 1.1 or main");
            return exit::BAD_CONFIG;
        }
    };
    let checks = crate::suites::checks();
    let known: std::collections::HashSet<&str> = checks.iter().map(|m| m.id).collect();
    // Requirement ids of a check that exist under `v`.
    let reqs_of = |id: &str| -> Vec<String> {
        catalog::requirements_for(id)
            .into_iter()
            .filter(|r| r.applies_to(v))
            .map(|r| r.id.clone())
            .collect()
    };
    let versions = |r: &catalog::Requirement| -> Vec<&'static str> {
        r.versions.iter().map(|x| x.as_str()).collect()
    };
    if a.json {
        let cs: Vec<_> = checks
            .iter()
            .map(|m| serde_json::json!({"id": m.id, "bucket": m.bucket, "name": m.name, "level": m.level_for(v), "spec": m.spec, "since": m.since, "applies": m.applies_to(v), "requirements": reqs_of(m.id)}))
            .collect();
        let rs: Vec<_> = catalog::requirements()
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "level": r.level_for(v).as_str(), "section": r.section, "spec_url": r.spec_url(v), "versions": versions(r), "applies": r.applies_to(v), "testable": r.testable, "reason": r.reason, "checks": r.checks, "quote": r.quote_for(v)}))
            .collect();
        let c = catalog::version_counts(v, Some(&known));
        let out = serde_json::json!({
            "spec_version": v,
            "checks": cs,
            "requirements": rs,
            "coverage": {"spec_version": v, "total": c.total, "testable": c.testable, "covered": c.covered, "percent": (c.percent() * 10.0).round() / 10.0},
        });
        crate::say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if a.requirements {
        crate::say!(
            "{:<48} {:<10} {:<14} {:<8} checks",
            "requirement", "level", "versions", "testable"
        );
        for r in catalog::requirements().iter().filter(|r| r.applies_to(v)) {
            crate::say!(
                "{:<48} {:<10} {:<14} {:<8} {}",
                r.id,
                r.level_for(v).as_str(),
                versions(r).join(","),
                if r.testable { "yes" } else { "no" },
                if r.testable {
                    r.checks.join(", ")
                } else {
                    "-".to_string()
                }
            );
        }
        let c = catalog::version_counts(v, Some(&known));
        crate::say!(
            "spec {}: {} requirements, {} testable, {} covered ({:.1} %)",
            v.as_str(),
            c.total,
            c.testable,
            c.covered,
            c.percent()
        );
    } else {
        crate::say!(
            "{:<44} {:<19} {:<6} {:<6} requirements",
            "check", "bucket", "level", "since"
        );
        for m in &checks {
            let level = if m.applies_to(v) {
                m.level_for(v).as_str()
            } else {
                "-"
            };
            crate::say!(
                "{:<44} {:<19} {:<6} {:<6} {}",
                m.id,
                m.bucket.as_str(),
                level,
                m.since.as_str(),
                reqs_of(m.id).join(", ")
            );
        }
        let n = checks.iter().filter(|m| m.applies_to(v)).count();
        crate::say!(
            "spec {}: {n} of {} checks apply (level \"-\": not part of spec {})",
            v.as_str(),
            checks.len(),
            v.as_str()
        );
    }
    exit::OK
}

/// Prints an error and maps it to the bad-configuration status.
fn report_err(r: Result<i32, String>) -> i32 {
    r.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        exit::BAD_CONFIG
    })
}

pub fn expect(a: ExpectArgs) -> i32 {
    report_err(crate::expect::write_from_results(&a.from).and_then(|text| {
        match &a.output {
            Some(p) => std::fs::write(p, text)
                .map(|_| exit::OK)
                .map_err(|e| format!("cannot write {}: {e}", p.display())),
            None => crate::diff::write_stdout(&text).map(|_| exit::OK),
        }
    }))
}

pub fn diff(a: DiffArgs) -> i32 {
    report_err(crate::diff::run(&a.old, &a.new, a.json))
}

pub fn bundle(a: BundleArgs) -> i32 {
    if let Some(dir) = &a.verify {
        return report_err(crate::verify::verify(dir, crate::suites::workflows::WORKFLOWS).map(|problems| {
            if problems.is_empty() {
                crate::say!("{}: a complete submission ({}), consistent with itself", dir.display(), crate::verify::FILES.join(", "));
                return exit::OK;
            }
            eprintln!("{}: {} problem(s) a reviewer would find:", dir.display(), problems.len());
            for p in &problems {
                eprintln!("  - {p}");
            }
            exit::CHECKS_FAILED
        }));
    }
    let (Some(product), Some(out)) = (&a.product, &a.out) else {
        eprintln!("error: bundle needs --product FILE and --out DIR (or --verify DIR)");
        return exit::BAD_CONFIG;
    };
    let written = crate::bundle::run(product, out, &a.report_dir, crate::suites::workflows::WORKFLOWS).map(|p| {
        crate::say!("bundle written to {}", p.display());
        p
    });
    // A bundle is checked as it will be reviewed; what is wrong is said now, not in review.
    report_err(written.and_then(|p| crate::verify::verify(&p, crate::suites::workflows::WORKFLOWS)).map(|problems| {
        for p in &problems {
            eprintln!("warning: {p}");
        }
        exit::OK
    }))
}

pub fn completions(a: CompletionsArgs) -> i32 {
    use clap::CommandFactory;
    let mut cmd = crate::config::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "oci-conformance", &mut buf);
    report_err(crate::diff::write_stdout(&String::from_utf8_lossy(&buf)).map(|_| exit::OK))
}

pub fn man() -> i32 {
    use clap::CommandFactory;
    let cmd = crate::config::Cli::command();
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
        eprintln!("error: {e}");
        return exit::INTERNAL;
    }
    report_err(crate::diff::write_stdout(&String::from_utf8_lossy(&buf)).map(|_| exit::OK))
}
