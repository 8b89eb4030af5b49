//! The real binary: SIGINT / SIGTERM while it waits on a slow registry (it must stop promptly
//! with 130 / 143 and still write reports that say so), and its console output against a
//! registry that echoes credentials.

use super::harness::{self, problem, Problem, PASSWORD, USERNAME};
use super::server::{Reply, Server, Step};
use oci_conformance::config::{Config, RunArgs};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the binary may take to exit after the signal.
const PROMPT: Duration = Duration::from_secs(10);

/// A registry that answers the preflight, HEADs (404) and uploads at once (so a run has
/// things to clean up), and never answers anything else.
fn slow_registry(
) -> impl Fn(&super::server::Seen, &super::server::Ctx) -> Reply + Send + Sync + 'static {
    |r, _| {
        let p = r.path();
        if r.n == 0 {
            Reply::json(200, "{}")
        } else if r.method == "POST" && p.contains("/blobs/uploads") {
            Reply::status(
                202,
                &[("Location", &format!("{p}s-{}", r.n)), ("Range", "0-0")],
                "",
            )
        } else if r.method == "PUT" {
            let loc = p.replace("/uploads/", "/").to_string();
            Reply::status(201, &[("Location", loc.as_str())], "")
        } else if r.method == "HEAD" {
            // "not there yet": pushes go ahead
            Reply::status(404, &[], "")
        } else {
            Reply(vec![Step::Hang])
        }
    }
}

fn spawn(url: &str, dir: &Path, out: &Path) -> std::io::Result<Child> {
    spawn_with(url, dir, out, &["--quiet", "--request-timeout", "30"])
}

fn spawn_with(url: &str, dir: &Path, out: &Path, extra: &[&str]) -> std::io::Result<Child> {
    let log = std::fs::File::create(out)?;
    Command::new(env!("CARGO_BIN_EXE_oci-conformance"))
        .args([
            "--registry",
            url,
            "--seed",
            "1",
            "--connect-timeout",
            "5",
            "--username",
            USERNAME,
        ])
        .args(extra)
        .arg("--report-dir")
        .arg(dir)
        .env_clear()
        .env("OCI_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

/// The plan the binary computes for the same arguments.
fn plan(url: &str, dir: &Path) -> Vec<String> {
    let a = RunArgs {
        registry: Some(url.into()),
        report_dir: Some(dir.into()),
        seed: Some(1),
        username: Some(USERNAME.into()),
        ..Default::default()
    };
    match Config::resolve(&a, &harness::env(), String::new()) {
        Ok(c) => oci_conformance::suites::plan(&c)
            .checks
            .iter()
            .map(|m| m.id.to_string())
            .collect(),
        Err(_) => vec![],
    }
}

async fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// `min_requests`: how many requests the server must have seen before the signal (2: the
/// preflight and a check's first request, i.e. the run is inside the checks; 1: the
/// preflight is still waiting).
pub async fn interrupt(
    sig: &str,
    want: i32,
    min_requests: usize,
    hang_preflight: bool,
) -> Vec<Problem> {
    let s = if hang_preflight {
        Server::start("127.0.0.1", |_, _| Reply(vec![Step::Hang])).await
    } else {
        Server::start("127.0.0.1", slow_registry()).await
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let log = dir.path().join("console.log");
    let mut child = match spawn(&s.url(), &reports, &log) {
        Ok(c) => c,
        Err(e) => return vec![problem("setup", format!("cannot start the binary: {e}"))],
    };
    let mut out = vec![];
    let started = Instant::now();
    while s.count() < min_requests && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if s.count() < min_requests {
        out.push(problem(
            "setup",
            format!("the run never got going: {} request(s) in 30 s", s.count()),
        ));
    }
    // Let the run settle into waiting on the registry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Ok(Some(st)) = child.try_wait() {
        out.push(problem(
            "setup",
            format!("the binary exited ({st}) before the signal"),
        ));
        return out;
    }
    let seen_at_signal = s.count();
    kill(child.id(), sig);
    let signalled = Instant::now();
    let status = match wait_exit(&mut child, PROMPT).await {
        Some(st) => st,
        None => {
            // Not prompt. See how long it really takes (bounded), for the report, and check
            // the rest if it does end.
            let late = wait_exit(&mut child, Duration::from_secs(80)).await;
            let requests: Vec<String> = s
                .seen()
                .iter()
                .skip(seen_at_signal)
                .map(|r| format!("{} {}", r.method, r.path()))
                .collect();
            let shown = requests
                .iter()
                .take(4)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let after = match &late {
                Some(st) => format!(
                    "exited {:.0} s after the signal ({st})",
                    signalled.elapsed().as_secs_f64()
                ),
                None => "still running 90 s after it; killed".into(),
            };
            out.push(problem("prompt-exit", format!("still running {} s after SIG{sig}: {after}; {} request(s) after the signal: [{shown}, …]", PROMPT.as_secs(), requests.len())));
            match late {
                Some(st) => st,
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return out;
                }
            }
        }
    };
    eprintln!(
        "[SIG{sig}] exited after {:.2} s with {status}",
        signalled.elapsed().as_secs_f64()
    );
    if status.code() != Some(want) {
        out.push(problem(
            "exit-code",
            format!("after SIG{sig}: {status}, expected exit code {want}"),
        ));
    }
    let console = std::fs::read(&log).unwrap_or_default();
    let secrets = [
        ("secret", PASSWORD.to_string()),
        ("secret-basic", harness::basic_credentials()),
    ];
    out.extend(harness::check_text_secrets(
        "console output",
        &console,
        &secrets,
    ));
    out.extend(harness::check_secrets(&reports, &secrets));
    let r = match harness::check_reports(&reports) {
        Ok(r) => r,
        Err(p) => {
            out.push(problem(
                "reports-after-signal",
                format!(
                    "{} (console: {})",
                    p.detail,
                    String::from_utf8_lossy(&console).trim()
                ),
            ));
            return out;
        }
    };
    if r["summary"]["interrupted"].is_null() {
        out.push(problem(
            "interrupted",
            "results.json summary.interrupted is null after the signal",
        ));
    }
    if r["summary"]["exit_code"].as_i64() != Some(want as i64) {
        out.push(problem(
            "summary-exit-code",
            format!(
                "results.json summary.exit_code is {} (expected {want})",
                r["summary"]["exit_code"]
            ),
        ));
    }
    let tests = r["tests"].as_array().cloned().unwrap_or_default();
    for id in plan(&s.url(), &reports) {
        if !tests.iter().any(|t| t["id"] == id.as_str()) {
            out.push(problem(
                "outcomes",
                format!("planned check {id} has no outcome"),
            ));
        }
    }
    // What the signal stopped is not-run, never skipped or a failure of the registry.
    out.extend(harness::check_cancelled(&r));
    if !tests.iter().any(|t| t["outcome"] == "not-run") {
        out.push(problem(
            "outcomes",
            "no check is not-run although the signal stopped the run",
        ));
    }
    out
}

/// A registry that puts the caller's credentials into every answer; the console (not quiet,
/// verbose) must not print them.
pub async fn console_echo() -> Vec<Problem> {
    let s = Server::start("127.0.0.1", super::scenarios::echo_basic_handler).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let log = dir.path().join("console.log");
    let mut child = match spawn_with(
        &s.url(),
        &reports,
        &log,
        &["--verbose", "--request-timeout", "2", "--deadline", "60"],
    ) {
        Ok(c) => c,
        Err(e) => return vec![problem("setup", format!("cannot start the binary: {e}"))],
    };
    let mut out = vec![];
    match wait_exit(&mut child, Duration::from_secs(150)).await {
        Some(st) if st.code() == Some(1) => {}
        Some(st) => out.push(problem("exit-code", format!("{st}, expected exit code 1"))),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            out.push(problem("hang", "the binary had not exited after 150 s"));
        }
    }
    let console = std::fs::read(&log).unwrap_or_default();
    let secrets = [
        ("secret-console", PASSWORD.to_string()),
        ("secret-console", harness::basic_credentials()),
    ];
    out.extend(harness::check_text_secrets(
        "the console output (--verbose)",
        &console,
        &secrets,
    ));
    out
}
