//! The HTTP layer (src/client.rs) against registries behind auth, TLS, CDNs and load
//! balancers: whole harness runs against the embedded registry's test modes (basic and token
//! auth, TLS with a generated CA, blob downloads redirected to another origin, hanging
//! answers), the built binary for what reaches the console, and the client alone against
//! scripted servers for redirects, Retry-After, auth challenges and timeouts.
//!
//! Every harness run writes its reports to a temporary directory, with a fixed seed, quiet.

#[allow(dead_code)]
#[path = "hostile/server.rs"]
mod server;

use oci_conformance::client::{Body, Client, ClientOptions, ErrorKind, Read, Request};
use oci_conformance::config::{Cli, Config};
use oci_conformance::content::Generator;
use oci_conformance::digest::Algorithm;
use oci_conformance::registry::{self, Auth, Options, Running};
use oci_conformance::trace::{Exchange, TraceSink};
use serde_json::Value;
use server::{Reply, Seen, Server, Step};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USER: &str = "conformance-user";
/// Distinctive, so a leak is unambiguous in any file.
const PASSWORD: &str = "pw-Zq8Lm3-http-layer";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn start(rt: &tokio::runtime::Runtime, o: Options) -> Running {
    rt.block_on(registry::start(Options {
        addr: "127.0.0.1:0".into(),
        ..o
    }))
    .expect("registry starts")
}

fn basic_auth() -> Option<Auth> {
    Some(Auth::Basic {
        user: USER.into(),
        password: PASSWORD.into(),
    })
}

fn token_auth() -> Option<Auth> {
    Some(Auth::Token {
        user: USER.into(),
        password: PASSWORD.into(),
    })
}

fn creds() -> Vec<(&'static str, &'static str)> {
    vec![("OCI_USERNAME", USER), ("OCI_PASSWORD", PASSWORD)]
}

fn b64_credentials() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

/// One in-process harness run; the report directory is kept for inspection.
struct Run {
    dir: tempfile::TempDir,
    results: Value,
    exit: i32,
    elapsed: Duration,
}

impl Run {
    fn tests(&self) -> Vec<&Value> {
        self.results["tests"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
    /// `id: message` of the checks with one of these outcomes.
    fn with(&self, outcomes: &[&str]) -> Vec<String> {
        self.tests()
            .into_iter()
            .filter(|t| outcomes.contains(&t["outcome"].as_str().unwrap_or("")))
            .map(|t| {
                format!(
                    "{}: {}",
                    t["id"].as_str().unwrap_or(""),
                    t["message"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(400)
                        .collect::<String>()
                )
            })
            .collect()
    }
    fn exchanges(&self) -> Vec<Exchange> {
        self.tests()
            .into_iter()
            .flat_map(|t| {
                serde_json::from_value::<Vec<Value>>(t["trace"].clone()).unwrap_or_default()
            })
            .filter_map(exchange)
            .collect()
    }
    fn assert_clean(&self, what: &str) {
        let bad = self.with(&["failed", "warned", "not-run"]);
        assert!(
            bad.is_empty(),
            "{what}: not clean (exit {}):\n  {}",
            self.exit,
            bad.join("\n  ")
        );
        assert_eq!(self.exit, 0, "{what}: exit status");
        assert!(
            self.tests()
                .iter()
                .filter(|t| t["outcome"] == "passed")
                .count()
                > 20,
            "{what}: too few checks passed"
        );
    }
    /// Every file the run wrote, by name.
    fn outputs(&self) -> Vec<(String, String)> {
        files(self.dir.path())
    }
}

/// Exchanges as results.json stores them (the struct is Serialize only).
fn exchange(v: Value) -> Option<Exchange> {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let pairs = |k: &str| -> Vec<(String, String)> {
        v[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
            .collect()
    };
    Some(Exchange {
        method: s("method"),
        url: s("url"),
        request_headers: pairs("request_headers"),
        request_body: s("request_body"),
        status: v["status"].as_u64().map(|s| s as u16),
        response_headers: pairs("response_headers"),
        response_body: s("response_body"),
        duration_ms: v["duration_ms"].as_u64().unwrap_or(0),
        notes: v["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        refused: v["refused"].as_str().map(str::to_string),
    })
}

fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&b).into_owned(),
            ));
        }
    }
    out
}

async fn harness(url: &str, flags: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut argv: Vec<String> = [
        "oci-conformance",
        "--quiet",
        "--seed",
        "7",
        "--registry",
        url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(flags.iter().map(|s| s.to_string()));
    let cli = <Cli as clap::Parser>::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("flags {argv:?}: {e}"));
    let mut args = cli.run;
    args.report_dir = Some(dir.path().to_path_buf());
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cfg = Config::resolve(&args, &env, argv.join(" ")).expect("config resolves");
    let started = Instant::now();
    let out = oci_conformance::app::run(cfg, false).await;
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(dir.path().join("results.json"))
        .unwrap_or_else(|e| panic!("results.json missing (exit {}): {e}", out.exit_code));
    let results: Value = serde_json::from_str(&text).expect("results.json parses");
    eprintln!(
        "run {flags:?} against {url}: exit {} in {:.1} s, {} HTTP requests",
        out.exit_code,
        elapsed.as_secs_f64(),
        out.http_requests
    );
    Run {
        dir,
        results,
        exit: out.exit_code,
        elapsed,
    }
}

/// Maximal runs of lowercase hex exactly `len` long: the embedded registry's tokens are 48
/// hex digits; digests are 64 or 128 and not matched.
fn hex_runs(s: &str, len: usize) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            cur.push(c);
        } else {
            if cur.len() == len {
                out.push(cur.clone());
            }
            cur.clear();
        }
    }
    out
}

/// No credential in any of `texts`: the password, its Basic form, anything token-shaped.
fn assert_no_secrets(texts: &[(String, String)]) {
    let b64 = b64_credentials();
    for (name, t) in texts {
        assert!(!t.contains(PASSWORD), "{name} contains the password");
        assert!(!t.contains(&b64), "{name} contains the Basic credentials");
        let tokens = hex_runs(t, 48);
        assert!(
            tokens.is_empty(),
            "{name} contains token-shaped strings: {tokens:?}"
        );
    }
}

fn write_ca(r: &Running, dir: &Path) -> String {
    let p = dir.join("ca.pem");
    std::fs::write(&p, r.ca_pem.as_ref().expect("CA PEM")).unwrap();
    p.display().to_string()
}

// ---------------------------------------------------------------- whole harness runs ----

#[test]
fn basic_auth_passes_and_hides_the_password() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            auth: basic_auth(),
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(&r.url(), &[], &creds()));
    run.assert_clean("basic auth");
    assert_no_secrets(&run.outputs());
    let ex = run.exchanges();
    assert!(
        ex.iter().any(|e| e
            .request_headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Basic [REDACTED]")),
        "traces show the redacted Basic header"
    );
}

#[test]
fn token_auth_passes_with_one_token_per_scope() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            auth: token_auth(),
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(&r.url(), &[], &creds()));
    run.assert_clean("token auth");
    assert_no_secrets(&run.outputs());
    let ex = run.exchanges();
    let fetches: Vec<&Exchange> = ex.iter().filter(|e| e.url.contains("/token?")).collect();
    assert!(!fetches.is_empty(), "no token request in the traces");
    for f in &fetches {
        assert_eq!(f.status, Some(200), "token request {} failed", f.url);
        assert!(
            f.request_headers
                .iter()
                .any(|(k, v)| k == "authorization" && v == "Basic [REDACTED]"),
            "token request without (redacted) credentials: {:?}",
            f.request_headers
        );
        assert!(
            !f.response_body.is_empty() && f.response_body.contains("[REDACTED]"),
            "token answer not redacted: {}",
            f.response_body
        );
    }
    // Tokens are cached per scope: one fetch per scope set (a little slack for races that the
    // single-flight lock resolves by re-checking).
    let mut by_scope: HashMap<String, usize> = HashMap::new();
    for f in &fetches {
        let u = url::Url::parse(&f.url).unwrap();
        let mut scopes: Vec<String> = u
            .query_pairs()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        scopes.sort();
        *by_scope.entry(scopes.join(" ")).or_default() += 1;
    }
    eprintln!(
        "token fetches: {} for {} scope sets: {by_scope:?}",
        fetches.len(),
        by_scope.len()
    );
    assert!(
        by_scope.values().all(|n| *n == 1),
        "a scope set was fetched more than once: {by_scope:?}"
    );
    // Repository scopes come from the request paths; a cross-repository mount asks for pull
    // on the source repository too.
    assert!(
        by_scope
            .keys()
            .any(|k| k.contains("repository:oci-conformance/repo1:pull,push")),
        "{by_scope:?}"
    );
    assert!(
        by_scope
            .keys()
            .any(|k| k.contains("repository:oci-conformance/repo1:pull,push")
                && k.contains("repository:oci-conformance/repo2:pull")),
        "no mount scope: {by_scope:?}"
    );
    // End to end: the same run without auth differs only by the token fetches (one per
    // scope set, as the traces of setups are not kept, counted here) and the preflight's 401.
    let plain = start(&rt, Options::default());
    let anon = rt.block_on(harness(&plain.url(), &[], &[]));
    anon.assert_clean("no auth");
    let (with_auth, without) = (
        run.results["summary"]["http_requests"].as_u64().unwrap(),
        anon.results["summary"]["http_requests"].as_u64().unwrap(),
    );
    eprintln!("HTTP requests: {with_auth} with token auth, {without} without");
    assert!(
        with_auth > without && with_auth - without <= 16,
        "token auth cost {} extra requests",
        with_auth - without
    );
    // Only the very first request (the preflight) meets a 401: later ones carry a token.
    let unauthorized = ex.iter().filter(|e| e.status == Some(401)).count();
    assert!(
        unauthorized <= 1,
        "{unauthorized} requests answered 401: tokens were not sent up front"
    );
}

#[test]
fn tls_with_ca_cert_and_insecure() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            tls: true,
            auth: basic_auth(),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(&r, dir.path());
    let run = rt.block_on(harness(&r.url(), &["--ca-cert", &ca], &creds()));
    run.assert_clean("TLS with --ca-cert");
    assert!(
        run.exchanges()
            .iter()
            .all(|e| e.url.starts_with("https://")),
        "every exchange is https"
    );

    let run = rt.block_on(harness(
        &r.url(),
        &["--insecure", "--bucket", "pull"],
        &creds(),
    ));
    run.assert_clean("TLS with --insecure");
    let warnings = run.results["warnings"].to_string();
    assert!(
        warnings.contains("verification is OFF"),
        "results.json warns about --insecure: {warnings}"
    );
    let html = std::fs::read_to_string(run.dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("verification is OFF"),
        "report.html warns about --insecure"
    );

    // OCI_TLS=insecure does the same.
    let run = rt.block_on(harness(
        &r.url(),
        &["--bucket", "pull", "--filter", "pull.manifest"],
        &[creds(), vec![("OCI_TLS", "insecure")]].concat(),
    ));
    assert_eq!(
        run.exit,
        0,
        "OCI_TLS=insecure: {:?}",
        run.with(&["failed", "warned", "not-run"])
    );

    // The console warns too (the built binary, human output).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oci-conformance"))
        .args([
            "--registry",
            &r.url(),
            "--seed",
            "7",
            "--insecure",
            "--bucket",
            "pull",
            "--filter",
            "pull.api",
            "--report-dir",
        ])
        .arg(dir.path().join("console"))
        .env("OCI_USERNAME", USER)
        .env("OCI_PASSWORD", PASSWORD)
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("warning:") && l.contains("verification is OFF")),
        "no console warning for --insecure:\n{stdout}"
    );
}

#[test]
fn tls_without_trust_fails_cleanly() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            tls: true,
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(
        &r.url(),
        &["--connect-timeout", "5", "--request-timeout", "5"],
        &[],
    ));
    assert_eq!(
        run.exit, 3,
        "an untrusted certificate makes the registry unreachable (exit 3)"
    );
    let fatal = run.results["summary"]["fatal"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        fatal.contains("TLS certificate verification")
            && fatal.contains("--ca-cert")
            && fatal.contains("--insecure"),
        "unclear TLS error: {fatal}"
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.dir.path().join("junit.xml").exists() && run.dir.path().join("report.html").exists()
    );

    // A CA that did not sign the certificate does not help either.
    let other = start(
        &rt,
        Options {
            tls: true,
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = write_ca(&other, dir.path());
    let run = rt.block_on(harness(&r.url(), &["--ca-cert", &wrong_ca], &[]));
    assert_eq!(run.exit, 3);
    assert!(
        run.results["summary"]["fatal"]
            .as_str()
            .unwrap_or("")
            .contains("TLS certificate verification"),
        "{}",
        run.results["summary"]["fatal"]
    );

    // Plain http to a TLS port, and https to a plain port: clear errors, no hang.
    let plain = start(&rt, Options::default());
    let run = rt.block_on(harness(
        &plain.url().replace("http://", "https://"),
        &["--request-timeout", "5"],
        &[],
    ));
    assert_eq!(run.exit, 3);
    assert!(
        run.results["summary"]["fatal"]
            .as_str()
            .unwrap_or("")
            .contains("TLS handshake"),
        "{}",
        run.results["summary"]["fatal"]
    );
}

#[test]
fn redirected_blobs_never_get_credentials() {
    let rt = rt();
    for auth in [basic_auth(), token_auth()] {
        let kind = format!("{auth:?}");
        let r = start(
            &rt,
            Options {
                redirect_blobs: true,
                auth,
                ..Default::default()
            },
        );
        let run = rt.block_on(harness(&r.url(), &["--bucket", "pull,push"], &creds()));
        run.assert_clean(&format!("redirected blobs, {kind}"));
        assert!(
            r.redirect_requests() > 0,
            "{kind}: no blob GET reached the other origin"
        );
        assert_eq!(
            r.redirect_requests_with_auth(),
            0,
            "{kind}: credentials were forwarded to another origin"
        );
        let other = format!("http://{}", r.redirect_addr.unwrap());
        let ex = run.exchanges();
        let there: Vec<&Exchange> = ex.iter().filter(|e| e.url.starts_with(&other)).collect();
        assert!(
            !there.is_empty(),
            "{kind}: traces show no request to {other}"
        );
        assert!(
            there
                .iter()
                .all(|e| !e.request_headers.iter().any(|(k, _)| k == "authorization")),
            "{kind}: a trace shows Authorization sent to {other}"
        );
        assert!(
            ex.iter().any(|e| e
                .notes
                .iter()
                .any(|n| n.contains("another origin: no credentials sent there"))),
            "{kind}: the redirect is not noted in the trace"
        );
        assert_no_secrets(&run.outputs());
    }
}

#[test]
fn hanging_registry_ends_within_the_timeouts() {
    let rt = rt();
    // Nothing answers at all: the preflight times out, exit 3, reports written.
    let r = start(
        &rt,
        Options {
            hang: Some(String::new()),
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(
        &r.url(),
        &["--request-timeout", "1", "--connect-timeout", "1"],
        &[],
    ));
    assert_eq!(run.exit, 3);
    assert!(
        run.results["summary"]["fatal"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after 1 s"),
        "{}",
        run.results["summary"]["fatal"]
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );

    // Manifests never answer: each such check ends with "timed out after 1 s".
    let r = start(
        &rt,
        Options {
            hang: Some("/manifests/".into()),
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(&r.url(), &["--request-timeout", "1"], &[]));
    assert_eq!(run.exit, 1);
    let failed = run.with(&["failed"]);
    assert!(
        failed.iter().any(|m| m.contains("timed out after 1 s")),
        "no timeout message: {failed:?}"
    );
    assert!(
        run.elapsed < Duration::from_secs(90),
        "took {:?}",
        run.elapsed
    );
    for f in ["results.json", "junit.xml", "report.html"] {
        assert!(run.dir.path().join(f).exists(), "{f} missing");
    }

    // A long request timeout, but --deadline ends the run, reports written.
    let run = rt.block_on(harness(
        &r.url(),
        &["--request-timeout", "60", "--deadline", "3"],
        &[],
    ));
    assert_eq!(run.exit, 1);
    assert!(
        run.elapsed < Duration::from_secs(30),
        "the deadline did not end the run: {:?}",
        run.elapsed
    );
    assert!(
        run.results["summary"]["interrupted"]
            .as_str()
            .unwrap_or("")
            .contains("deadline"),
        "{}",
        run.results["summary"]
    );
    assert!(
        !run.with(&["not-run"]).is_empty(),
        "checks stopped by the deadline are not-run"
    );
}

#[test]
fn wrong_credentials_fail_clearly() {
    let rt = rt();
    let wrong = [("OCI_USERNAME", USER), ("OCI_PASSWORD", "not-the-password")];
    let r = start(
        &rt,
        Options {
            auth: basic_auth(),
            ..Default::default()
        },
    );
    // Basic auth: /v2/ refuses the credentials at the preflight; the run stops there with
    // one message (exit 2, bad configuration) and fails no check.
    let run = rt.block_on(harness(&r.url(), &["--bucket", "pull"], &wrong));
    assert_eq!(run.exit, 2);
    assert!(run.with(&["failed"]).is_empty(), "{:?}", run.with(&["failed"]));
    let not_run = run.with(&["not-run"]);
    assert!(
        !not_run.is_empty() && not_run.iter().all(|m| m.contains("refused the credentials of user") && m.contains("Basic realm")),
        "{not_run:?}"
    );
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );

    // Token auth: the token service refuses at the preflight, so the run stops there with one
    // message (exit 2, bad configuration) instead of failing every check the same way.
    let r = start(
        &rt,
        Options {
            auth: token_auth(),
            ..Default::default()
        },
    );
    let run = rt.block_on(harness(&r.url(), &["--bucket", "pull"], &wrong));
    assert_eq!(run.exit, 2);
    let not_run = run.with(&["not-run"]);
    assert!(
        !not_run.is_empty() && not_run.iter().all(|m| m.contains("authentication failed") && m.contains("401")),
        "{not_run:?}"
    );
    assert!(run.elapsed < Duration::from_secs(30), "took {:?}", run.elapsed);

    // No credentials at all against a registry that needs them: says so.
    let run = rt.block_on(harness(&r.url(), &["--bucket", "pull"], &[]));
    assert_eq!(run.exit, 2);
    assert!(
        run.with(&["not-run"]).iter().all(|m| m.contains("no credentials were given")),
        "{:?}",
        run.with(&["not-run"])
    );
}

/// The built binary, its console output captured: `--format json --verbose` prints every
/// check's trace, so redaction is tested on the console as well as in the files.
#[test]
fn binary_console_and_files_hide_credentials() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            auth: token_auth(),
            redirect_blobs: true,
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let url = r.url();
    let bin = env!("CARGO_BIN_EXE_oci-conformance");
    let run = |args: &[&str]| {
        let out = rt.block_on(async {
            tokio::process::Command::new(bin)
                .args(["--registry", &url, "--seed", "7", "--report-dir"])
                .arg(dir.path())
                .args(args)
                .env("OCI_USERNAME", USER)
                .env("OCI_PASSWORD", PASSWORD)
                .env_remove("OCI_ROOT_URL")
                .env_remove("OCI_REGISTRY")
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .expect("binary runs")
        });
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = run(&["--format", "json", "--verbose"]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(
        stdout.contains("Bearer [REDACTED]"),
        "the console shows no traces (nothing was tested)"
    );
    let mut texts = vec![
        ("stdout".to_string(), stdout),
        ("stderr".to_string(), stderr),
    ];
    texts.extend(files(dir.path()));
    assert!(
        texts.iter().any(|(n, _)| n.ends_with(".svg")),
        "badge files were written: {:?}",
        texts.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    assert_no_secrets(&texts);

    // Human console, --verbose, with a failing check's trace printed (wrong credentials).
    let out = rt.block_on(async {
        tokio::process::Command::new(bin)
            .args([
                "--registry",
                &url,
                "--seed",
                "7",
                "--verbose",
                "--bucket",
                "pull",
                "--report-dir",
            ])
            .arg(dir.path().join("wrong"))
            .env("OCI_USERNAME", USER)
            .env("OCI_PASSWORD", format!("{PASSWORD}-wrong"))
            .output()
            .await
            .expect("binary runs")
    });
    // refused credentials stop the run at the preflight: bad configuration
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("authentication failed"), "{stdout}");
    assert_no_secrets(&[
        ("stdout (wrong password)".into(), stdout),
        (
            "stderr".into(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ]);
}

// ---------------------------------------------------------------- the client alone ----

fn client(url: &str, user: bool) -> Arc<Client> {
    let base = url::Url::parse(&format!("{}/", url.trim_end_matches('/'))).unwrap();
    Client::new(
        base,
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            username: user.then(|| USER.to_string()),
            password: user.then(|| PASSWORD.to_string()),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

fn sink() -> TraceSink {
    TraceSink::new(Arc::new(vec![PASSWORD.to_string()]))
}

fn notes(t: &TraceSink) -> Vec<String> {
    t.take().into_iter().flat_map(|e| e.notes).collect()
}

#[test]
fn redirect_semantics() {
    let rt = rt();
    rt.block_on(async {
        // Another origin (another port) that records what reaches it.
        let other = Server::start("127.0.0.1", |_, _| {
            Reply::status(
                200,
                &[("Content-Type", "application/octet-stream")],
                "cdn bytes",
            )
        })
        .await;
        let o = other.url();
        let s = Server::start("127.0.0.1", move |r: &Seen, _| {
            let p = r.path().to_string();
            let loc = |l: &str| Reply::status(307, &[("Location", l)], "");
            match p.as_str() {
                "/v2/" if r.header("authorization").is_none() => {
                    Reply::status(401, &[("WWW-Authenticate", "Basic realm=\"t\"")], "")
                }
                "/v2/rel/a/b" => loc("../c"),
                "/v2/rel/c" => Reply::status(200, &[], "relative ok"),
                "/v2/see-other" => Reply::status(303, &[("Location", "/v2/landed")], ""),
                "/v2/found" => Reply::status(302, &[("Location", "/v2/landed")], ""),
                "/v2/keep" => Reply::status(308, &[("Location", "/v2/landed")], ""),
                "/v2/landed" => Reply::status(201, &[], ""),
                "/v2/cdn" => loc(&format!("{o}/blob?sig=SIGsecret123")),
                "/v2/ftp" => loc("ftp://127.0.0.1/x"),
                "/v2/js" => loc("javascript:alert(1)"),
                "/v2/loop" => loc("/v2/loop"),
                _ => Reply::status(200, &[], "{}"),
            }
        })
        .await;
        let c = client(&s.url(), true);
        let t = sink();
        assert_eq!(
            c.send(&Request::get("/v2/"), &t).await.unwrap().status,
            200,
            "basic auth answered"
        );

        let r = c.send(&Request::get("/v2/rel/a/b"), &t).await.unwrap();
        assert_eq!(
            (r.status, r.text().as_str(), r.url.path()),
            (200, "relative ok", "/v2/rel/c")
        );

        // 303: any method but HEAD becomes GET, the body and its headers are dropped.
        let blob = Generator::new(1).blob("b", 300_000);
        let put = Request::put("/v2/see-other")
            .header("Content-Type", "application/octet-stream")
            .body(Body::Blob {
                blob: blob.clone(),
                start: 0,
                end: 300_000,
            });
        assert_eq!(c.send(&put, &t).await.unwrap().status, 201);
        let seen = s.seen();
        let landed = seen
            .iter()
            .rev()
            .find(|r| r.path() == "/v2/landed")
            .unwrap();
        assert_eq!((landed.method.as_str(), landed.body_len), ("GET", 0));
        assert!(
            landed.header("content-type").is_none(),
            "Content-Type kept after 303: {:?}",
            landed.headers
        );
        assert!(notes(&t)
            .iter()
            .any(|n| n.contains("PUT becomes GET without a body")));
        let head = c.send(&Request::head("/v2/see-other"), &t).await.unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(s.seen().last().unwrap().method, "HEAD", "303 keeps HEAD");

        // 302 after POST → GET; 302 after PUT keeps PUT and its body.
        c.send(&Request::post("/v2/found").bytes(&b"xyz"[..]), &t)
            .await
            .unwrap();
        let l = s.seen().into_iter().last().unwrap();
        assert_eq!((l.method.as_str(), l.body_len), ("GET", 0));
        c.send(&Request::put("/v2/found").bytes(&b"xyz"[..]), &t)
            .await
            .unwrap();
        let l = s.seen().into_iter().last().unwrap();
        assert_eq!((l.method.as_str(), l.body_len), ("PUT", 3));

        // 308 re-sends a generated body, and the trace says so.
        let patch = Request::patch("/v2/keep").body(Body::Blob {
            blob,
            start: 1000,
            end: 200_000,
        });
        assert_eq!(c.send(&patch, &t).await.unwrap().status, 201);
        let l = s.seen().into_iter().last().unwrap();
        assert_eq!((l.method.as_str(), l.body_len), ("PATCH", 199_000));
        assert!(notes(&t)
            .iter()
            .any(|n| n.contains("199000-byte request body is sent again")));

        // Another origin: no Authorization, no Cookie, even set by hand; the signature in the
        // Location is redacted in the trace.
        let req = Request::get("/v2/cdn")
            .header("Cookie", "session=abc")
            .header("Authorization", "Bearer by-hand");
        let r = c.send(&req, &t).await.unwrap();
        assert_eq!(r.text(), "cdn bytes");
        let at_cdn = other.seen();
        assert_eq!(at_cdn.len(), 1);
        assert!(
            at_cdn[0].header("authorization").is_none() && at_cdn[0].header("cookie").is_none(),
            "credentials crossed origins: {:?}",
            at_cdn[0].headers
        );
        let ex = t.take();
        assert!(
            ex.iter().all(|e| !e.url.contains("SIGsecret123")
                && e.response_headers
                    .iter()
                    .all(|(_, v)| !v.contains("SIGsecret123"))),
            "signature in the trace"
        );
        assert!(
            ex[0]
                .request_headers
                .iter()
                .any(|(k, v)| k == "authorization" && v == "Basic [REDACTED]"),
            "the registry itself gets the credentials: {:?}",
            ex[0].request_headers
        );

        // Non-HTTP targets and loops are errors that say why.
        for p in ["/v2/ftp", "/v2/js"] {
            let e = c.send(&Request::get(p), &t).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Redirect);
            assert!(e.message.contains("non-HTTP"), "{}", e.message);
        }
        let n = s.count();
        let e = c.send(&Request::get("/v2/loop"), &t).await.unwrap_err();
        assert!(
            e.message.contains("more than 10 redirects"),
            "{}",
            e.message
        );
        assert_eq!(s.count() - n, 11, "one request and ten redirects");
    });
}

#[test]
fn retry_after_is_honoured_and_bounded() {
    let rt = rt();
    rt.block_on(async {
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let c2 = calls.clone();
        let s = Server::start("127.0.0.1", move |r, _| {
            let n = {
                let mut m = c2.lock().unwrap();
                let e = m.entry(r.path().to_string()).or_default();
                *e += 1;
                *e
            };
            match r.path() {
                "/v2/once" if n == 1 => Reply::status(429, &[("Retry-After", "1")], ""),
                "/v2/busy" if n == 1 => Reply::status(503, &[("Retry-After", "0")], ""),
                "/v2/storm" => Reply::status(
                    429,
                    &[("Retry-After", "0")],
                    "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}",
                ),
                "/v2/far" => Reply::status(429, &[("Retry-After", "3600")], ""),
                "/v2/bare" => Reply::status(503, &[], ""),
                _ => Reply::status(200, &[], "ok"),
            }
        })
        .await;
        let c = client(&s.url(), false);
        let t = sink();
        let started = Instant::now();
        assert_eq!(
            c.send(&Request::get("/v2/once"), &t).await.unwrap().status,
            200
        );
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After 1 not waited for"
        );
        assert!(notes(&t)
            .iter()
            .any(|n| n.contains("429 with Retry-After 1 s")));
        // A PUT is retried with its body.
        assert_eq!(
            c.send(&Request::put("/v2/busy").bytes(&b"0123456789"[..]), &t)
                .await
                .unwrap()
                .status,
            200
        );
        assert_eq!(s.seen().last().unwrap().body_len, 10);

        let started = Instant::now();
        let r = c.send(&Request::get("/v2/storm"), &t).await.unwrap();
        assert_eq!(r.status, 429, "a storm ends with the 429");
        assert_eq!(
            calls.lock().unwrap()["/v2/storm"],
            4,
            "three retries, then the answer"
        );
        assert!(notes(&t).iter().any(|n| n.contains("giving up")));
        assert!(started.elapsed() < Duration::from_secs(5));

        let started = Instant::now();
        assert_eq!(
            c.send(&Request::get("/v2/far"), &t).await.unwrap().status,
            429
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "slept for a far Retry-After"
        );
        assert!(notes(&t).iter().any(|n| n.contains("longer than")));
        assert_eq!(
            c.send(&Request::get("/v2/bare"), &t).await.unwrap().status,
            503
        );
        assert_eq!(
            calls.lock().unwrap()["/v2/bare"],
            1,
            "no Retry-After: not retried"
        );
    });
}

#[test]
fn bearer_scopes_follow_the_request_and_the_challenge() {
    let rt = rt();
    rt.block_on(async {
        // A token service that records each request's scopes; a registry that wants `delete`
        // on DELETE, as distribution does, and names it in its challenge.
        // (token, the scopes it was asked for)
        type Issued = Arc<Mutex<Vec<(String, Vec<String>)>>>;
        let issued: Issued = Arc::default();
        let i2 = issued.clone();
        let s = Server::start("127.0.0.1", move |r, ctx| {
            let u = url::Url::parse(&format!("http://x{}", r.target)).unwrap();
            if r.path() == "/token" {
                assert!(
                    r.header("authorization")
                        .is_some_and(|a| a.starts_with("Basic ")),
                    "token request without credentials"
                );
                let scopes: Vec<String> = u
                    .query_pairs()
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                let mut v = i2.lock().unwrap();
                let tok = format!("tok-{}-{}", v.len(), "x".repeat(12));
                v.push((tok.clone(), scopes));
                return Reply::json(
                    200,
                    &serde_json::json!({ "token": tok, "expires_in": 300 }).to_string(),
                );
            }
            let granted: Vec<String> = r
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .and_then(|t| {
                    i2.lock()
                        .unwrap()
                        .iter()
                        .find(|(k, _)| k == t)
                        .map(|(_, s)| s.clone())
                })
                .unwrap_or_default();
            let repo = r
                .path()
                .trim_start_matches("/v2/")
                .split("/manifests/")
                .next()
                .unwrap_or("")
                .to_string();
            let need = if r.method == "DELETE" {
                "delete"
            } else {
                "pull"
            };
            let ok = r.path() == "/v2/" && r.header("authorization").is_some()
                || granted.iter().any(|s| {
                    s.starts_with(&format!("repository:{repo}:"))
                        && s.rsplit(':')
                            .next()
                            .unwrap_or("")
                            .split(',')
                            .any(|a| a == need)
                });
            if ok {
                return Reply::status(if r.method == "DELETE" { 202 } else { 200 }, &[], "{}");
            }
            let mut ch = format!("Bearer realm=\"http://{}/token\",service=\"svc\"", ctx.addr);
            if r.path() != "/v2/" {
                ch.push_str(&format!(",scope=\"repository:{repo}:{need}\""));
            }
            Reply::status(401, &[("WWW-Authenticate", ch.as_str())], "")
        })
        .await;
        let c = client(&s.url(), true);
        let t = sink();
        assert_eq!(c.send(&Request::get("/v2/"), &t).await.unwrap().status, 200);
        assert_eq!(
            c.send(&Request::get("/v2/a/b/manifests/x"), &t)
                .await
                .unwrap()
                .status,
            200
        );
        assert_eq!(
            c.send(&Request::get("/v2/a/b/manifests/y"), &t)
                .await
                .unwrap()
                .status,
            200
        );
        assert_eq!(
            c.send(&Request::delete("/v2/a/b/manifests/y"), &t)
                .await
                .unwrap()
                .status,
            202
        );
        assert_eq!(
            c.send(&Request::delete("/v2/a/b/manifests/z"), &t)
                .await
                .unwrap()
                .status,
            202
        );
        assert_eq!(
            c.send(&Request::get("/v2/c/manifests/x"), &t)
                .await
                .unwrap()
                .status,
            200
        );
        let v = issued.lock().unwrap().clone();
        let scopes: Vec<Vec<String>> = v.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(
            scopes,
            vec![
                vec![],                                              // /v2/: no repository
                vec!["repository:a/b:pull,push".to_string()],        // derived up front
                vec!["repository:a/b:pull,push,delete".to_string()], // the challenge's own scope, merged
                vec!["repository:c:pull,push".to_string()],          // another repository
            ],
            "token requests"
        );
        // The tokens themselves are redacted in the trace, even where a registry echoes them.
        for e in t.take() {
            for (tok, _) in &v {
                let all = format!(
                    "{} {:?} {:?} {} {:?}",
                    e.url, e.request_headers, e.response_headers, e.response_body, e.notes
                );
                assert!(!all.contains(tok.as_str()), "token {tok} in a trace: {all}");
            }
        }
    });
}

#[test]
fn timeouts_bound_every_wait_but_not_a_moving_upload() {
    let rt = rt();
    rt.block_on(async {
        let s = Server::start("127.0.0.1", |r, _| match r.path() {
            "/v2/hang" => Reply(vec![Step::Hang]),
            "/v2/trickle" => Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n").then(
                Step::Trickle(vec![b' '; 100_000], Duration::from_millis(300)),
            ),
            "/v2/stall" => {
                Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{").then(Step::Hang)
            }
            _ => Reply::status(200, &[], "{}"),
        })
        .await;
        let c = client(&s.url(), false);
        let t = sink();
        for (path, want) in [
            ("/v2/hang", "timed out after 2 s waiting for the response"),
            ("/v2/stall", "timed out after 2 s without body data"),
            ("/v2/trickle", "body too slow"),
        ] {
            let started = Instant::now();
            let e = c.send(&Request::get(path), &t).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Timeout, "{path}: {e}");
            assert!(e.message.contains(want), "{path}: {}", e.message);
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "{path} took {:?}",
                started.elapsed()
            );
        }
        assert!(
            notes(&t).iter().any(|n| n.contains("timed out after 2 s")),
            "timeouts are noted in the trace"
        );

        // An upload that moves slowly but steadily outlasts the request timeout; one whose
        // reader stops is cut after the timeout of silence.
        let (addr, stop_after) = slow_reader().await;
        let c = client(&format!("http://{addr}"), false);
        let blob = Generator::new(2).blob("slow", 24 << 20);
        let started = Instant::now();
        let r = c
            .send(
                &Request::put("/v2/slow")
                    .body(Body::Blob {
                        blob: blob.clone(),
                        start: 0,
                        end: 24 << 20,
                    })
                    .read(Read::Discard),
                &t,
            )
            .await;
        let took = started.elapsed();
        assert_eq!(
            r.map(|r| r.status).map_err(|e| e.message),
            Ok(201),
            "a steady upload taking {took:?} (timeout 2 s)"
        );
        assert!(
            took > Duration::from_secs(3),
            "the upload was not slow enough to test anything: {took:?}"
        );
        stop_after.store(4 << 20, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let e = c
            .send(
                &Request::put("/v2/stops").body(Body::Blob {
                    blob,
                    start: 0,
                    end: 24 << 20,
                }),
                &t,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(
            e.message.contains("stopped reading the request body"),
            "{}",
            e.message
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );

        // Hashed reads of a slow blob are bounded the same way.
        let e = client(&s.url(), false)
            .send(
                &Request::get("/v2/trickle").read(Read::Hash(Algorithm::Sha256)),
                &t,
            )
            .await
            .unwrap_err();
        assert!(e.message.contains("body too slow"), "{}", e.message);
    });
}

/// A server that reads request bodies at about 4 MiB/s and answers 201; with `stop` set
/// above 0, it stops reading after that many bytes and never answers.
async fn slow_reader() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A small receive buffer (inherited by accepted sockets), so the sender's progress
    // follows this reader instead of filling megabytes of kernel buffers.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 << 10).unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = sock.listen(16).unwrap();
    let addr = l.local_addr().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let st = stop.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let st = st.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let h = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let len: usize = h
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let limit = st.load(std::sync::atomic::Ordering::Relaxed);
                let mut got = 0;
                let mut buf = vec![0u8; 64 << 10];
                while got < len {
                    if limit > 0 && got >= limit {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let n = s
                        .read(&mut buf[..(len - got).min(64 << 10)])
                        .await
                        .unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got += n;
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
                let _ = s
                    .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = s.flush().await;
            });
        }
    });
    (addr, stop)
}
