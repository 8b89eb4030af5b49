//! The fault matrix: proves the checks and the embedded registry against each other.
//!
//! 1. `clean::*`: the embedded registry, with no fault, passes every check (spec 1.1 and main,
//!    and in its optional modes): nothing failed, warned or not run.
//! 2. `fault::<name>`: with one fault on, at least one check fails or warns, and among those is
//!    one of the checks the fault declares in `breaks`.
//! 3. `coverage`: every check id is caught by a fault that declares it.
//! 4. `coverage` also writes target/fault-matrix.md: fault → checks that caught it, from the runs.
//!
//! Each harness run happens once (cached) however many trials need it; runs are in-process.

use libtest_mimic::{Arguments, Failed, Trial};
use oci_conformance::registry::{self, faults};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

const SEED: u64 = 20240611;
/// Blob size for the large-blob checks in the runs that need them (over faults::LARGE).
const LARGE_BLOB: u64 = 24 << 20;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// At most this many harness runs at once (each runs several scenarios concurrently).
fn gate() -> &'static Semaphore {
    static S: OnceLock<Semaphore> = OnceLock::new();
    S.get_or_init(|| Semaphore::new(3))
}

#[path = "registry_support.rs"]
mod support;
use support::{list, RunResult};

#[derive(Default, Clone)]
struct RunSpec {
    faults: Vec<String>,
    buckets: Vec<String>,
    spec: &'static str,
    /// Test this registry instead of starting the embedded one.
    registry: Option<String>,
    large: bool,
}

/// One in-process harness run, at most `gate()` at once.
async fn harness(spec: RunSpec) -> Result<RunResult, String> {
    let _permit = gate().acquire().await.map_err(|e| e.to_string())?;
    let mut argv: Vec<String> = vec![
        "--seed".into(),
        SEED.to_string(),
        "--spec-version".into(),
        spec.spec.into(),
        "--deadline".into(),
        "600".into(),
    ];
    for f in &spec.faults {
        argv.extend(["--embedded-fault".into(), f.clone()]);
    }
    if !spec.buckets.is_empty() {
        argv.extend(["--bucket".into(), spec.buckets.join(",")]);
    }
    if let Some(r) = &spec.registry {
        argv.extend(["--registry".into(), r.clone(), "--name-checks".into()]);
    }
    if spec.large {
        argv.extend(["--large-blob-size".into(), LARGE_BLOB.to_string()]);
    }
    // clients bucket: crane from ../shared (skopeo, umoci, podman from apt, on PATH)
    let crane = support::shared_registries().join("bin/crane");
    argv.extend(["--client-tool".into(), format!("crane={}", crane.display())]);
    support::run(&argv, BTreeMap::new()).await
}

fn check_buckets() -> HashMap<&'static str, &'static str> {
    oci_conformance::suites::checks()
        .into_iter()
        .map(|m| (m.id, m.bucket.as_str()))
        .collect()
}

/// The run for one fault: spec main (every check applies), only the buckets of its `breaks`.
fn fault_spec(f: &faults::FaultDef) -> RunSpec {
    let buckets = check_buckets();
    let mut bs: BTreeSet<String> = f
        .breaks
        .iter()
        .filter_map(|id| buckets.get(id))
        .map(|b| b.to_string())
        .collect();
    // A large-blob check lives in the push scenario whatever its bucket says.
    if f.breaks.iter().any(|id| id.contains(".large.")) {
        bs.insert("push".into());
    }
    // The run-wide checks judge what every default bucket's checks received.
    if f.breaks.iter().any(|id| id.ends_with(".every-answer")) {
        bs.clear();
    }
    RunSpec {
        faults: vec![f.name.to_string()],
        buckets: bs.into_iter().collect(),
        spec: "main",
        registry: None,
        large: f.breaks.iter().any(|id| id.contains(".large.")),
    }
}

type Cell = Arc<OnceCell<Result<RunResult, String>>>;

fn fault_cell(name: &str) -> Cell {
    static CELLS: OnceLock<HashMap<&'static str, Cell>> = OnceLock::new();
    CELLS
        .get_or_init(|| {
            faults::ALL
                .iter()
                .map(|f| (f.name, Cell::default()))
                .collect()
        })
        .get(name)
        .cloned()
        .unwrap_or_default()
}

async fn fault_run(f: &'static faults::FaultDef) -> Result<RunResult, String> {
    fault_cell(f.name)
        .get_or_init(|| harness(fault_spec(f)))
        .await
        .clone()
}

fn clean_trial(name: &str, spec: &'static str, opts: Option<registry::Options>) -> Trial {
    Trial::test(format!("clean::{name}"), move || {
        rt().block_on(async move {
            // With options the registry is started here and tested through --registry.
            let mut running = None;
            let mut rs = RunSpec {
                spec,
                large: true,
                ..Default::default()
            };
            if let Some(o) = opts {
                let r = registry::start(registry::Options {
                    addr: "127.0.0.1:0".into(),
                    ..o
                })
                .await?;
                rs.registry = Some(r.url());
                running = Some(r);
            }
            let res = harness(rs).await?;
            drop(running);
            let bad = res.problems();
            if !bad.is_empty() {
                return Err(Failed::from(format!(
                    "the clean registry must pass; these did not:{bad}"
                )));
            }
            if res.outcomes.is_empty() {
                return Err("no check ran".into());
            }
            Ok(())
        })
    })
}

fn fault_trial(f: &'static faults::FaultDef) -> Trial {
    Trial::test(format!("fault::{}", f.name), move || {
        rt().block_on(async move {
            let res = fault_run(f).await?;
            let caught = res.caught();
            if caught.is_empty() {
                return Err(Failed::from(format!(
                    "fault {} ({}) was caught by no check; it should break one of {:?}",
                    f.name, f.description, f.breaks
                )));
            }
            if !f.breaks.iter().any(|b| caught.contains(*b)) {
                return Err(Failed::from(format!(
                    "fault {} ({}) should break one of {:?}, but only these failed/warned: {}",
                    f.name,
                    f.description,
                    f.breaks,
                    list(&res.with(&["failed", "warned"]))
                )));
            }
            Ok(())
        })
    })
}

fn coverage_trial() -> Trial {
    Trial::test("coverage", || {
        rt().block_on(async {
            let started = Instant::now();
            let runs = futures_util::future::join_all(faults::ALL.iter().map(|f| async move { (f, fault_run(f).await) })).await;
            let wall = started.elapsed();
            let checks = oci_conformance::suites::checks();
            let mut caught_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            let mut errors = vec![];
            for (f, r) in &runs {
                match r {
                    Ok(r) => {
                        for id in r.caught() {
                            if f.breaks.contains(&id.as_str()) {
                                if let Some(m) = checks.iter().find(|m| m.id == id) {
                                    caught_by.entry(m.id).or_default().push(f.name);
                                }
                            }
                        }
                    }
                    Err(e) => errors.push(format!("{}: {e}", f.name)),
                }
            }
            write_matrix(&runs, wall, &caught_by);
            // Every covered requirement is proven: one of its checks was caught by a fault.
            let unproven: Vec<&str> = oci_conformance::suites::catalog::requirements()
                .iter()
                .filter(|r| r.testable && !r.checks.iter().any(|c| caught_by.contains_key(c.as_str())))
                .map(|r| r.id.as_str())
                .collect();
            let declared: BTreeSet<&str> = faults::ALL.iter().flat_map(|f| f.breaks.iter().copied()).collect();
            let undeclared: Vec<&str> = checks.iter().map(|m| m.id).filter(|id| !declared.contains(id)).collect();
            let uncaught: Vec<&str> = checks.iter().map(|m| m.id).filter(|id| declared.contains(id) && !caught_by.contains_key(id)).collect();
            let unknown: Vec<&str> = declared.iter().copied().filter(|id| !checks.iter().any(|m| m.id == *id)).collect();
            let mut msg = String::new();
            if !undeclared.is_empty() {
                msg.push_str(&format!("\nchecks no fault declares in `breaks`: {undeclared:?}"));
            }
            if !uncaught.is_empty() {
                msg.push_str(&format!("\nchecks declared but not caught by any fault that declares them: {uncaught:?}"));
            }
            if !unknown.is_empty() {
                msg.push_str(&format!("\nfaults declare check ids that do not exist: {unknown:?}"));
            }
            if !errors.is_empty() {
                msg.push_str(&format!("\nruns that failed to complete: {errors:?}"));
            }
            if !unproven.is_empty() {
                msg.push_str(&format!("\ntestable requirements none of whose checks a fault catches: {unproven:?}"));
            }
            if msg.is_empty() {
                Ok(())
            } else {
                Err(Failed::from(msg))
            }
        })
    })
}

/// Checks that find something at an earlier version that the version has no requirement for,
/// and so are not judged there (a skip that says so): (check, requirement, version, why).
const UNJUDGED: &[(&str, &str, &str, &str)] = &[(
    "discovery.tags.pagination-walk",
    "discovery.tags.link-format",
    "1.0",
    "the Link header's form (RFC 5988, rel=\"next\") is a requirement from 1.1 on",
)];

/// Every fault once more at an earlier spec version. A message may not cite a requirement that
/// version lacks ("not in spec …": a check quoting another version's sentence), and a check
/// left unjudged because its version lacks the rule must be listed in `UNJUDGED` (else the
/// check should cite that version's own rule). The fault runs at main cover main.
fn citation_trial(spec: &'static str) -> Trial {
    Trial::test(format!("citations::spec-{spec}"), move || {
        rt().block_on(async move {
            let runs = futures_util::future::join_all(faults::ALL.iter().map(|f| harness(RunSpec { spec, ..fault_spec(f) }))).await;
            let unjudged_prefix = format!("{} {spec} has no requirement ", oci_conformance::runner::NOT_IN_VERSION);
            let mut wrong = vec![];
            for (f, r) in faults::ALL.iter().zip(runs) {
                let r = r.map_err(|e| Failed::from(format!("{}: {e}", f.name)))?;
                for (id, (_, message)) in &r.outcomes {
                    if message.contains(&format!(", not in spec {spec})")) {
                        wrong.push(format!("fault {}: {id} quotes a requirement spec {spec} does not have: {message}", f.name));
                    }
                    if let Some(rest) = message.strip_prefix(&unjudged_prefix) {
                        let req = rest.split(';').next().unwrap_or("");
                        if !UNJUDGED.iter().any(|(c, q, v, _)| *c == id && *q == req && *v == spec) {
                            wrong.push(format!("fault {}: {id} is not judged at spec {spec} (no {req}); cite that version's rule, or list it in UNJUDGED: {message}", f.name));
                        }
                    }
                }
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(Failed::from(wrong.join("\n")))
            }
        })
    })
}

/// target/fault-matrix.md, generated from the runs: fault → checks, then requirement → faults.
fn write_matrix(
    runs: &[(&'static faults::FaultDef, Result<RunResult, String>)],
    wall: Duration,
    caught_by: &BTreeMap<&str, Vec<&str>>,
) {
    let mut s = String::from("# Fault matrix\n\nGenerated by `cargo test --test fault_matrix coverage` from the runs (spec main, seed ");
    s.push_str(&format!(
        "{SEED}). {} faults, {:.1} s wall time.\n\n",
        runs.len(),
        wall.as_secs_f64()
    ));
    s.push_str("| fault | declared breaks | caught by (failed/warned) | verdict | run s |\n|---|---|---|---|---|\n");
    for (f, r) in runs {
        match r {
            Ok(r) => {
                let caught = r.caught();
                let cells: Vec<String> = caught
                    .iter()
                    .map(|id| {
                        if f.breaks.contains(&id.as_str()) {
                            format!("**{id}**")
                        } else {
                            id.clone()
                        }
                    })
                    .collect();
                let ok = f.breaks.iter().any(|b| caught.contains(*b));
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {:.1} |\n",
                    f.name,
                    f.breaks.join(", "),
                    if cells.is_empty() {
                        "—".to_string()
                    } else {
                        cells.join(", ")
                    },
                    if ok { "ok" } else { "NOT CAUGHT" },
                    r.elapsed.as_secs_f64()
                ));
            }
            Err(e) => s.push_str(&format!(
                "| `{}` | {} | run failed: {} | ERROR | |\n",
                f.name,
                f.breaks.join(", "),
                e.replace('|', "/")
            )),
        }
    }
    s.push_str("\n## Requirements\n\nEach testable requirement of the catalog, the faults that break one of its checks, and which check caught them.\n\n| requirement | level | versions | proven by (fault → check) |\n|---|---|---|---|\n");
    for r in oci_conformance::suites::catalog::requirements()
        .iter()
        .filter(|r| r.testable)
    {
        let proofs: Vec<String> = r
            .checks
            .iter()
            .flat_map(|c| {
                caught_by
                    .get(c.as_str())
                    .into_iter()
                    .flatten()
                    .map(move |f| format!("`{f}` → {c}"))
            })
            .collect();
        let versions: Vec<&str> = r.versions.iter().map(|v| v.as_str()).collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.id,
            r.level.as_str(),
            versions.join(", "),
            if proofs.is_empty() {
                "NOT PROVEN".to_string()
            } else {
                proofs.join("; ")
            }
        ));
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("fault-matrix.md");
    match std::fs::write(&path, s) {
        Ok(()) => eprintln!("fault matrix written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        clean_trial("spec-1.1", "1.1", None),
        clean_trial("spec-main", "main", None),
        clean_trial(
            "no-referrers-api",
            "main",
            Some(registry::Options {
                no_referrers_api: true,
                ..Default::default()
            }),
        ),
        clean_trial(
            "chunk-min-length",
            "main",
            Some(registry::Options {
                chunk_min_length: Some(1 << 20),
                ..Default::default()
            }),
        ),
    ];
    trials.extend(faults::ALL.iter().map(fault_trial));
    trials.push(coverage_trial());
    trials.extend(["1.0", "1.1"].map(citation_trial));
    libtest_mimic::run(&args, trials).exit();
}
