//! Subcommand bodies: kept out of main.rs so tests can call them in-process.

use crate::config::{exit, BundleArgs, CompletionsArgs, Config, DiffArgs, ExpectArgs, ListArgs, ServeArgs};
use crate::model::SpecVersion;

/// The harness run: prints the resolved config, runs, returns the exit status.
pub async fn run(cfg: Config) -> i32 {
    // configuration errors first, before anything is printed
    if let Err(e) = crate::app::load_expectations(&cfg) {
        eprintln!("error: {e}");
        return exit::BAD_CONFIG;
    }
    if cfg.list {
        for m in crate::plan::plan(&cfg).checks {
            println!("{:<50} {:<19} {:<6} §{}", m.id, m.bucket.as_str(), m.level_for(cfg.spec_version).as_str(), m.spec);
        }
        return exit::OK;
    }
    if !cfg.quiet {
        println!("oci-conformance {} — seed {} (replay with --seed {})", env!("CARGO_PKG_VERSION"), cfg.seed, cfg.seed);
        for (k, v) in cfg.display_map() {
            println!("  {k:<22} {v}");
        }
        for w in &cfg.warnings {
            println!("warning: {w}");
        }
    }
    crate::app::run(cfg, true).await.exit_code
}

pub async fn serve(a: ServeArgs) -> i32 {
    if a.list_faults {
        for f in crate::registry::faults::ALL {
            println!("{:<40} breaks {:<45} {}", f.name, f.breaks.join(","), f.description);
        }
        return exit::OK;
    }
    let mut r = match crate::registry::start(crate::registry::Options { addr: a.addr.clone(), faults: a.faults.clone(), ..Default::default() }).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_CONFIG;
        }
    };
    println!("embedded registry listening on {}{}", r.url(), if a.faults.is_empty() { String::new() } else { format!(" (faults: {})", a.faults.join(",")) });
    let _ = tokio::signal::ctrl_c().await;
    r.shutdown();
    exit::OK
}

pub fn list(a: ListArgs) -> i32 {
    let v = match a.spec_version.as_deref().map(SpecVersion::parse) {
        None => SpecVersion::V1_1,
        Some(Some(v)) => v,
        Some(None) => {
            eprintln!("error: spec version must be 1.0, 1.1 or main");
            return exit::BAD_CONFIG;
        }
    };
    let checks = crate::plan::all_checks();
    if a.json {
        let v: Vec<_> = checks
            .iter()
            .map(|m| serde_json::json!({"id": m.id, "bucket": m.bucket, "name": m.name, "level": m.level_for(v), "spec": m.spec, "since": m.since, "applies": m.applies_to(v), "requirements": m.requirements}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for m in checks {
            println!("{:<50} {:<19} {:<6} §{:<32} {}", m.id, m.bucket.as_str(), m.level_for(v).as_str(), m.spec, m.name);
        }
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
    report_err(crate::expect::write_from_results(&a.from).and_then(|text| match &a.output {
        Some(p) => std::fs::write(p, text).map(|_| exit::OK).map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => crate::diff::write_stdout(&text).map(|_| exit::OK),
    }))
}

pub fn diff(a: DiffArgs) -> i32 {
    report_err(crate::diff::run(&a.old, &a.new, a.json))
}

pub fn bundle(a: BundleArgs) -> i32 {
    report_err(crate::bundle::run(&a.product, &a.out, &a.report_dir).map(|p| {
        println!("bundle written to {}", p.display());
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
