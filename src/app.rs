//! One run from a resolved Config to an exit status: start the embedded registry if asked,
//! preflight, run the plan, clean up, and let the reporters finish.

use crate::client::{Client, ClientOptions, ErrorKind, Request};
use crate::config::{exit, Config, Format};
use crate::content::Generator;
use crate::events::{CheckResult, Counts, Event, RunInfo, RunSummary};
use crate::model::Outcome;
use crate::report::{self, console::ConsoleSettings, ReportSettings};
use crate::runner::{self, RunCtx};
use crate::trace::TraceSink;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the run ended, for the exit status.
#[derive(Debug)]
pub struct RunOutcome {
    pub exit_code: i32,
    pub counts: Counts,
    pub report_files: Vec<std::path::PathBuf>,
    pub http_requests: u64,
}

pub fn client_options(cfg: &Config) -> Result<ClientOptions, String> {
    let read = |flag: &str, p: &Option<std::path::PathBuf>| -> Result<Option<Vec<u8>>, String> {
        match p {
            Some(p) => std::fs::read(p).map(Some).map_err(|e| format!("{flag} {}: {e}", p.display())),
            None => Ok(None),
        }
    };
    let ca_cert_pem = read("--ca-cert", &cfg.ca_cert)?;
    let client_cert_pem = read("--client-cert", &cfg.client_cert)?;
    let client_key_pem = read("--client-key", &cfg.client_key)?;
    Ok(ClientOptions {
        connect_timeout: cfg.connect_timeout,
        request_timeout: cfg.request_timeout,
        insecure: cfg.insecure,
        ca_cert_pem,
        client_cert_pem,
        client_key_pem,
        username: cfg.username.clone(),
        password: cfg.password.as_ref().map(|p| p.0.clone()),
        // A blob body is never longer than the largest blob a check pushes: an endless body
        // ends the check instead of streaming until the deadline. A large-blob size below the
        // default must not cut the ordinary checks' blobs (the 16 MiB ones).
        max_hash_body: Some(cfg.large_blob_size.map_or(256 << 20, |s| (s + s / 8).max(256 << 20))),
        ..ClientOptions::default()
    })
}

/// Runs the harness. `signals` turns on SIGINT/SIGTERM handling (off in in-process tests).
pub async fn run(cfg: Config, signals: bool) -> RunOutcome {
    let started = Instant::now();
    // Expectations are configuration: a bad file or an id that matches nothing stops here.
    let expectations = match load_expectations(&cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return RunOutcome {
                exit_code: exit::BAD_CONFIG,
                counts: Counts::default(),
                report_files: vec![],
                http_requests: 0,
            };
        }
    };
    let cfg = Arc::new(cfg);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let reporter = tokio::spawn(report::consume(
        rx,
        ReportSettings {
            dir: cfg.report_dir.clone(),
            console: ConsoleSettings {
                quiet: cfg.quiet,
                verbose: cfg.verbose,
                json: cfg.format == Format::Json,
            },
            coverage: Some(crate::suites::catalog::coverage_of_run),
        },
    ));
    let plan = crate::suites::plan(&cfg);
    let mut warnings = cfg.warnings.clone();

    // The target: the configured registry or the embedded one.
    let mut embedded = None;
    let base = match &cfg.registry {
        Some(u) => Ok(u.clone()),
        None => match crate::registry::start(embedded_options(&cfg)).await {
            Ok(r) => {
                let u = url::Url::parse(&format!("{}/", r.url())).expect("loopback URL");
                embedded = Some(r);
                Ok(u)
            }
            Err(e) => Err(format!("cannot start the embedded registry: {e}")),
        },
    };
    if embedded.is_some() {
        warnings.push(format!(
            "no registry given: testing the embedded reference registry{}",
            if cfg.embedded_faults.is_empty() {
                String::new()
            } else {
                format!(" with faults {}", cfg.embedded_faults.join(","))
            }
        ));
    }
    let secrets = Arc::new(cfg.secrets());
    let info = Arc::new(RunInfo {
        tool: "oci-conformance".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        spec_version: cfg.spec_version,
        seed: cfg.seed,
        registry: base
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|_| "embedded (failed to start)".into()),
        embedded: cfg.registry.is_none(),
        config: cfg.display_map(),
        started_at: now_rfc3339(),
        command: crate::trace::redact_secrets(&cfg.command_line, &secrets),
        plan: plan.checks.clone(),
        warnings: warnings.clone(),
    });
    let _ = tx.send(Event::RunStarted(info));

    let finish = |tx: &crate::events::EventTx,
                  code: i32,
                  interrupted: Option<String>,
                  fatal: Option<String>,
                  requests: u64,
                  cleanup: Vec<String>| {
        let _ = tx.send(Event::RunFinished(Arc::new(RunSummary {
            counts: Counts::default(),
            duration_ms: started.elapsed().as_millis() as u64,
            http_requests: requests,
            interrupted,
            fatal,
            exit_code: code,
            cleanup,
        })));
    };

    let fail_all = |tx: &crate::events::EventTx, outcome: Outcome, why: &str| {
        for m in &plan.checks {
            let _ = tx.send(Event::CheckFinished(Arc::new(CheckResult::of(
                m,
                cfg.spec_version,
                outcome,
                why.to_string(),
                0,
                vec![],
            ))));
        }
    };

    let base = match base {
        Ok(b) => b,
        Err(e) => {
            fail_all(&tx, Outcome::NotRun, &e);
            finish(&tx, exit::INTERNAL, None, Some(e), 0, vec![]);
            return wait_reports(reporter, exit::INTERNAL, 0).await;
        }
    };
    let client = match client_options(&cfg).and_then(|o| Client::new(base.clone(), o)) {
        Ok(c) => c,
        Err(e) => {
            fail_all(&tx, Outcome::NotRun, &e);
            finish(&tx, exit::BAD_CONFIG, None, Some(e), 0, vec![]);
            return wait_reports(reporter, exit::BAD_CONFIG, 0).await;
        }
    };

    // One cancellation path: signals and the deadline cancel the client's token.
    let interrupted: Arc<std::sync::Mutex<Option<(String, i32)>>> = Arc::default();
    let watcher = {
        let cancel = client.cancel.clone();
        let interrupted = interrupted.clone();
        let deadline = cfg.deadline;
        tokio::spawn(async move {
            let dl = async {
                match deadline {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };

            let (why, code) = tokio::select! {
                _ = dl => (format!("run deadline of {} s reached", deadline.unwrap_or_default().as_secs_f64()), exit::CHECKS_FAILED),
                s = wait_signal(signals) => s,
            };
            *interrupted.lock().unwrap() = Some((why, code));
            cancel.cancel();
        })
    };

    // Preflight: a registry that cannot be reached at all, or that refuses the run's
    // credentials, gets one clear verdict instead of every check failing.
    let pre = TraceSink::new(secrets.clone());
    let answer = client.send(&Request::get("/v2/"), &pre).await;
    let stop = |why: String, code: i32| {
        watcher.abort();
        let _ = tx.send(Event::Note(why.clone()));
        fail_all(&tx, Outcome::NotRun, &why);
        finish(&tx, code, None, Some(why), client.request_count(), vec![]);
    };
    if let Some(refused) = pre.refusal(|_| true) {
        // The registry's own challenge: the first one (later ones are the token service's).
        let challenge = pre
            .take()
            .iter()
            .flat_map(|e| e.response_headers.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| format!(" It asks for: {v}."))
            .unwrap_or_default();
        stop(format!("authentication failed: {refused}.{challenge} {}", credentials_hint(&cfg)), exit::BAD_CONFIG);
        return wait_reports(reporter, exit::BAD_CONFIG, client.request_count()).await;
    }
    if let Err(e) = answer {
        if matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout) {
            stop(format!("registry unreachable: {}", e.message), exit::UNREACHABLE);
            return wait_reports(reporter, exit::UNREACHABLE, client.request_count()).await;
        }
    }

    let run_id = Generator::new(cfg.seed ^ started_nanos()).token("run", 6);
    let selected = plan.checks.iter().map(|m| m.id).collect();
    let mut ctx = RunCtx::new(client.clone(), cfg.clone(), tx.clone(), selected, secrets.clone(), run_id, crate::suites::catalog::quote);
    ctx.expectations = expectations;
    let ctx = Arc::new(ctx);
    runner::run_scenarios(ctx.clone(), plan.scenarios, cfg.jobs).await;
    watcher.abort();
    let refusals = std::mem::take(&mut *ctx.refused.lock().unwrap());
    // Without credentials, refused access is a configuration to fix: the run says so and
    // ends as a configuration error (README, exit codes).
    let needs_credentials = !refusals.is_empty() && cfg.username.is_none();
    if let Some(n) = refusals_note(&refusals, &cfg) {
        let _ = tx.send(Event::Note(n));
    }

    // Cleanup with a fresh client: the run's client may be cancelled. Bounded in time: 60 s
    // normally, or 10 ms per item when there are more (a long stress run pushes tens of
    // thousands), 5 s after an interrupt or the deadline; another signal stops it at once.
    let mut cleanup_lines = vec![];
    let cut_short = interrupted.lock().unwrap().is_some();
    if cfg.cleanup && !ctx.cleanup.is_empty() {
        if let Ok(c2) = client_options(&cfg).and_then(|mut o| {
            o.request_timeout = o.request_timeout.min(Duration::from_secs(if cut_short { 2 } else { 10 }));
            o.max_retries = 0;
            Client::new(base.clone(), o)
        }) {
            let t = TraceSink::new(secrets.clone());
            let budget = if cut_short { Duration::from_secs(5) } else { Duration::from_secs(60).max(Duration::from_millis(10) * ctx.cleanup.len() as u32) };
            tokio::select! {
                r = tokio::time::timeout(budget, ctx.cleanup.run(&c2, &t)) => match r {
                    Ok(lines) => cleanup_lines = lines,
                    Err(_) => cleanup_lines.push(format!("cleanup stopped after {} s; content the run pushed may remain", budget.as_secs())),
                },
                _ = wait_signal(signals) => cleanup_lines.push("cleanup interrupted by a second signal; content the run pushed may remain".into()),
            }
        }
    } else if !cfg.cleanup {
        cleanup_lines.push(if cfg.read_only.is_some() { "nothing pushed (read-only mode)".into() } else { "cleanup skipped (--no-cleanup)".into() });
    }
    for l in &cleanup_lines {
        let _ = tx.send(Event::Note(format!("cleanup: {l}")));
    }

    let intr = interrupted.lock().unwrap().clone();
    let requests = client.request_count();
    // The exit status comes from the outcomes the reporters will see; count them the same way.
    let code = match &intr {
        Some((_, c)) if *c != exit::CHECKS_FAILED => *c,
        _ if needs_credentials => exit::BAD_CONFIG,
        _ => exit::OK, // decided from the collected results below
    };
    finish(
        &tx,
        code,
        intr.map(|(w, _)| w),
        None,
        requests,
        cleanup_lines,
    );
    drop(tx);
    if let Some(mut r) = embedded {
        r.shutdown();
    }
    // The exit status is the run record's (`RunRecord::exit_code`): decided once, from what
    // the reports show.
    wait_reports(reporter, code, requests).await
}

/// What to pass for credentials, as the user's situation asks.
fn credentials_hint(cfg: &Config) -> String {
    match &cfg.username {
        None => "No credentials were given: pass --username NAME with --password-stdin (or set OCI_USERNAME and OCI_PASSWORD).".into(),
        Some(u) => format!("Check the credentials of user {u:?} (--username, --password-stdin, OCI_USERNAME/OCI_PASSWORD) and what they may access."),
    }
}

/// One run note naming the buckets whose checks met refused credentials, and the first refusal.
fn refusals_note(refusals: &[runner::Refusal], cfg: &Config) -> Option<String> {
    let first = refusals.first()?;
    let mut by_bucket: std::collections::BTreeMap<crate::model::Bucket, usize> = Default::default();
    for r in refusals {
        *by_bucket.entry(r.bucket).or_default() += 1;
    }
    let buckets: Vec<String> = by_bucket.iter().map(|(b, n)| format!("{} ({n})", b.as_str())).collect();
    let mut reasons: Vec<&str> = refusals.iter().map(|r| r.why.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    Some(format!(
        "access refused: {} checks were not judged because the registry refused the run's credentials; buckets that need more access: {}. First refusal ({}): {}{}. {}",
        refusals.len(),
        buckets.join(", "),
        first.id,
        first.why,
        if reasons.len() > 1 { format!(" (and {} other refusals)", reasons.len() - 1) } else { String::new() },
        credentials_hint(cfg)
    ))
}

pub fn load_expectations(cfg: &Config) -> Result<Option<crate::expect::Expectations>, String> {
    let Some(p) = &cfg.expect else {
        return Ok(None);
    };
    let e = crate::expect::Expectations::load(p)?;
    let checks: Vec<&str> = crate::suites::checks().iter().map(|m| m.id).collect();
    let reqs: Vec<&str> = crate::suites::catalog::requirements()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let unknown = e.unknown_ids(&checks, &reqs);
    if !unknown.is_empty() {
        return Err(format!(
            "{}: these ids match no check or requirement: {} (see `oci-conformance list`)",
            p.display(),
            unknown.join(", ")
        ));
    }
    Ok(Some(e))
}

/// The embedded registry as a run needs it: its faults, and room for --large-blob-size.
fn embedded_options(cfg: &Config) -> crate::registry::Options {
    let mut o = crate::registry::Options {
        addr: "127.0.0.1:0".into(),
        faults: cfg.embedded_faults.clone(),
        ..Default::default()
    };
    if let Some(size) = cfg.large_blob_size {
        o.max_blob_size = Some(size.max(1 << 30));
    }
    o
}

async fn wait_reports(
    h: tokio::task::JoinHandle<Result<report::Written, String>>,
    code: i32,
    requests: u64,
) -> RunOutcome {
    match h.await {
        Ok(Ok(w)) => RunOutcome {
            exit_code: w.exit_code,
            counts: w.counts,
            report_files: w.files,
            http_requests: requests,
        },
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            RunOutcome {
                exit_code: if code == exit::OK {
                    exit::BAD_CONFIG
                } else {
                    code
                },
                counts: Counts::default(),
                report_files: vec![],
                http_requests: requests,
            }
        }
        Err(e) => {
            eprintln!("error: reporter crashed: {e}");
            RunOutcome {
                exit_code: exit::INTERNAL,
                counts: Counts::default(),
                report_files: vec![],
                http_requests: requests,
            }
        }
    }
}

async fn wait_signal(enabled: bool) -> (String, i32) {
    if !enabled {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => ("interrupted by SIGINT".into(), exit::SIGINT),
            _ = term.recv() => ("terminated by SIGTERM".into(), exit::SIGTERM),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        ("interrupted".into(), exit::SIGINT)
    }
}

fn started_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// UTC time as RFC 3339, without a date crate.
pub fn now_rfc3339() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (s / 86400, s % 86400);
    // civil from days (Howard Hinnant)
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
