//! Shared by the registry self-tests (included with `#[path]`): one in-process harness run.
//! Also built as a test target of its own, which holds no tests.
#![allow(dead_code)]

use oci_conformance::config::{Cli, Config};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What one harness run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// check id → (outcome, message)
    pub outcomes: BTreeMap<String, (String, String)>,
    pub exit_code: i32,
    pub elapsed: Duration,
    /// results.json as written.
    pub results: serde_json::Value,
}

impl RunResult {
    /// (id, message) of the checks with one of these outcomes.
    pub fn with(&self, outcomes: &[&str]) -> Vec<(&String, &String)> {
        self.outcomes
            .iter()
            .filter(|(_, (o, _))| outcomes.contains(&o.as_str()))
            .map(|(id, (_, m))| (id, m))
            .collect()
    }
    /// Failed or warned checks.
    pub fn caught(&self) -> std::collections::BTreeSet<String> {
        self.with(&["failed", "warned"])
            .into_iter()
            .map(|(id, _)| id.clone())
            .collect()
    }
    /// Failed, warned and not-run checks, one per line, for failure messages.
    pub fn problems(&self) -> String {
        list(&self.with(&["failed", "warned", "not-run"]))
    }
}

pub fn list(v: &[(&String, &String)]) -> String {
    v.iter()
        .map(|(id, m)| format!("\n    {id}: {}", m.chars().take(300).collect::<String>()))
        .collect()
}

/// Runs the harness in-process with these flags (after the program name) and environment,
/// writing reports to a temporary directory; returns every check's outcome from results.json.
pub async fn run(flags: &[String], env: BTreeMap<String, String>) -> Result<RunResult, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let mut argv = vec!["oci-conformance".to_string(), "--quiet".to_string()];
    argv.extend(flags.iter().cloned());
    let cli =
        <Cli as clap::Parser>::try_parse_from(&argv).map_err(|e| format!("flags {argv:?}: {e}"))?;
    let mut args = cli.run;
    args.report_dir = Some(dir.path().to_path_buf());
    let cfg = Config::resolve(&args, &env, argv.join(" "))?;
    let started = Instant::now();
    let out = oci_conformance::app::run(cfg, false).await;
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(dir.path().join("results.json"))
        .map_err(|e| format!("results.json missing (exit {}): {e}", out.exit_code))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("results.json: {e}"))?;
    let mut outcomes = BTreeMap::new();
    for t in v
        .get("tests")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let s = |k: &str| t.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        outcomes.insert(s("id"), (s("outcome"), s("message")));
    }
    Ok(RunResult {
        outcomes,
        exit_code: out.exit_code,
        elapsed,
        results: v,
    })
}

/// True when tests must not skip for a missing real registry or shared file (CI sets it).
pub fn require_real() -> bool {
    std::env::var("OCI_CONFORMANCE_REQUIRE_REAL").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A registry server process on a free loopback port with its own storage; stopped (and its
/// storage removed) when dropped.
pub struct Server {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ../shared/registries (the real registries and crane), beside the repository.
pub fn shared_registries() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/registries")
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

impl Server {
    /// Debian's docker-registry (distribution 2.8), delete enabled. Ok(None) when
    /// /usr/bin/docker-registry is missing.
    pub fn docker_registry() -> Result<Option<Server>, String> {
        Server::docker_registry_with(&DockerOptions::default())
    }

    /// docker-registry as its documentation deploys it: with an htpasswd line (basic auth) and
    /// a TLS certificate chain and key, when given.
    pub fn docker_registry_with(o: &DockerOptions) -> Result<Option<Server>, String> {
        let bin = std::path::Path::new(DOCKER_REGISTRY);
        if !bin.exists() {
            return Ok(None);
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port()?;
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhealth:\n  storagedriver:\n    enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        // Under http: (the config's last section so far), before auth:.
        if let Some((chain, key)) = &o.tls {
            cfg.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", chain.display(), key.display()));
        }
        if let Some(line) = &o.htpasswd {
            let p = dir.path().join("htpasswd");
            std::fs::write(&p, format!("{line}\n")).map_err(|e| format!("htpasswd: {e}"))?;
            cfg.push_str(&format!("auth:\n  htpasswd:\n    realm: oci-conformance-test\n    path: {}\n", p.display()));
        }
        let cfgp = dir.path().join("config.yml");
        std::fs::write(&cfgp, cfg).map_err(|e| e.to_string())?;
        let mut c = std::process::Command::new(bin);
        c.arg("serve").arg(&cfgp);
        let ready = if o.tls.is_some() { Ready::Accepts } else { Ready::AnswersHttp };
        Server::spawn(c, dir, port, "docker-registry", ready).map(Some)
    }

    /// A foreground start script of ../shared/registries (`start-X.sh PORT DIR`). Ok(None)
    /// when the script is not there.
    pub fn shared(script: &str) -> Result<Option<Server>, String> {
        let path = shared_registries().join(script);
        if !path.exists() {
            return Ok(None);
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port()?;
        let mut c = std::process::Command::new("bash");
        c.arg(&path).arg(port.to_string()).arg(dir.path());
        Server::spawn(c, dir, port, script, Ready::AnswersHttp).map(Some)
    }

    fn spawn(mut c: std::process::Command, dir: tempfile::TempDir, port: u16, what: &str, ready: Ready) -> Result<Server, String> {
        // Its log goes to a file: a pipe nobody reads would fill up and stall the registry.
        let log = dir.path().join("server.log");
        let logf = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
        let child = c
            .stdout(std::process::Stdio::null())
            .stderr(logf)
            .spawn()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        let mut s = Server { child, port, _dir: dir };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(st)) = s.child.try_wait() {
                return Err(format!("{what} exited ({st}): {}", std::fs::read_to_string(&log).unwrap_or_default()));
            }
            if is_ready(port, ready) {
                return Ok(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("{what} did not answer GET /v2/ within 20 s"))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// When a started server counts as ready.
#[derive(Clone, Copy)]
enum Ready {
    /// GET /v2/ gets a status line (any status: 401 with auth).
    AnswersHttp,
    /// The port accepts connections (a TLS server, which plain HTTP cannot ask).
    Accepts,
}

fn is_ready(port: u16, ready: Ready) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    if matches!(ready, Ready::Accepts) {
        return true;
    }
    use std::io::{Read, Write};
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 12];
    s.read(&mut buf).map(|n| n >= 12).unwrap_or(false)
}

pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// How docker-registry is deployed (`Server::docker_registry_with`).
#[derive(Default)]
pub struct DockerOptions {
    /// One htpasswd line (`user:bcrypt`): basic auth.
    pub htpasswd: Option<String>,
    /// Certificate chain and key files: https.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}
