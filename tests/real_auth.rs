//! A real registry deployed as its documentation says: Debian's docker-registry (distribution
//! 2.8) with an htpasswd file behind TLS, its certificate made with the documentation's openssl
//! command (self-signed, CA:TRUE) or signed by an intermediate CA. With the right credentials it
//! gives the same failed and warned checks as the same registry without auth; with wrong or
//! missing ones the run stops with one clear error (exit 2) and fails no check; the password
//! appears in no file.
//!
//! Skipped with a message when /usr/bin/docker-registry is missing, unless
//! OCI_CONFORMANCE_REQUIRE_REAL=1 (CI), where it fails instead.

use oci_conformance::config::{Config, RunArgs};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "registry_support.rs"]
mod support;
use support::{require_real, DockerOptions, Server, DOCKER_REGISTRY as BIN};

const USER: &str = "conformance";
const PASSWORD: &str = "pw-Real7-auth-Xk2";

/// Skips (returns) with a message, or fails when real registries are required (CI).
macro_rules! skip_or_fail {
    ($($msg:tt)*) => {{
        let m = format!($($msg)*);
        if require_real() {
            panic!("{m} (OCI_CONFORMANCE_REQUIRE_REAL=1 or CI=true)");
        }
        eprintln!("skipped: {m}");
        return;
    }};
}

/// docker-registry on a loopback port with its own storage; `htpasswd` turns on basic auth,
/// `tls` (certificate chain and key files) https.
fn start(htpasswd: Option<&str>, tls: Option<&Tls>) -> Result<Server, String> {
    let o = DockerOptions { htpasswd: htpasswd.map(str::to_string), tls: tls.map(|t| (t.chain.clone(), t.key.clone())) };
    Server::docker_registry_with(&o)?.ok_or_else(|| format!("{BIN} is not installed"))
}

/// A server certificate chain and key (files), and the file a client passes to --ca-cert.
struct Tls {
    chain: std::path::PathBuf,
    key: std::path::PathBuf,
    ca: std::path::PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if !out.status.success() {
        return Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// The registry documentation's self-signed certificate: `openssl req -x509 -newkey rsa:4096
/// -nodes -keyout domain.key -out domain.crt -addext "subjectAltName = IP:127.0.0.1"` (plus a
/// subject and a lifetime, so it asks nothing). It is marked CA:TRUE.
fn documented_certificate(dir: &Path) -> Result<Tls, String> {
    openssl(dir, &["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", "domain.key", "-out", "domain.crt", "-subj", "/CN=127.0.0.1", "-days", "2", "-addext", "subjectAltName = IP:127.0.0.1"])?;
    Ok(Tls { chain: dir.join("domain.crt"), key: dir.join("domain.key"), ca: dir.join("domain.crt") })
}

/// A root CA, an intermediate CA it signs, and a server certificate the intermediate signs;
/// the server sends its certificate and the intermediate; clients trust the root only.
fn intermediate_chain(dir: &Path) -> Result<Tls, String> {
    std::fs::write(dir.join("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n").map_err(|e| e.to_string())?;
    std::fs::write(dir.join("leaf.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").map_err(|e| e.to_string())?;
    openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.crt", "-subj", "/CN=oci-conformance test root", "-days", "2", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])?;
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=oci-conformance test intermediate"])?;
    openssl(dir, &["x509", "-req", "-in", "int.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial", "-out", "int.crt", "-days", "2", "-extfile", "ca.ext"])?;
    openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"])?;
    openssl(dir, &["x509", "-req", "-in", "leaf.csr", "-CA", "int.crt", "-CAkey", "int.key", "-CAcreateserial", "-out", "leaf.crt", "-days", "2", "-extfile", "leaf.ext"])?;
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("leaf.crt")).map_err(|e| e.to_string())?,
        std::fs::read_to_string(dir.join("int.crt")).map_err(|e| e.to_string())?
    );
    std::fs::write(dir.join("chain.crt"), chain).map_err(|e| e.to_string())?;
    Ok(Tls { chain: dir.join("chain.crt"), key: dir.join("leaf.key"), ca: dir.join("root.crt") })
}

/// A bcrypt hash (what distribution's htpasswd accepts) from whatever the machine has:
/// libcrypt through perl or python3, python3's bcrypt module, or htpasswd (apache2-utils,
/// installed if missing and root).
fn bcrypt(password: &str) -> Result<String, String> {
    // 22 characters of bcrypt's base64 alphabet; cost 5 keeps the registry fast.
    let salt = "$2b$05$ociConformanceSaltXy2u";
    let tries: Vec<(&str, Vec<String>)> = vec![
        ("perl", vec!["-e".into(), "print crypt($ARGV[0], $ARGV[1])".into(), password.into(), salt.into()]),
        ("python3", vec!["-W".into(), "ignore".into(), "-c".into(), "import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) or '')".into(), password.into(), salt.into()]),
        ("python3", vec!["-c".into(), "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(5)).decode())".into(), password.into()]),
        ("htpasswd", vec!["-nbBC".into(), "5".into(), USER.into(), password.into()]),
    ];
    let run = |cmd: &str, args: &[String]| -> Option<String> {
        let out = Command::new(cmd)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // htpasswd prints `user:hash`
        let h = s.rsplit(':').next().unwrap_or("").to_string();
        (out.status.success() && h.starts_with("$2") && h.len() == 60).then_some(h)
    };
    for (cmd, args) in &tries {
        if let Some(h) = run(cmd, args) {
            return Ok(h);
        }
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root && require_real() {
        let ok = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "apache2-utils",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            if let Some(h) = run("htpasswd", &tries[3].1) {
                return Ok(h);
            }
        }
    }
    Err("no way to make a bcrypt hash here (perl or python3 with libcrypt bcrypt, python3-bcrypt, or htpasswd from apache2-utils)".into())
}

struct Verdicts {
    caught: BTreeMap<String, String>,
    passed: usize,
    failed: usize,
    exit: i32,
    elapsed: Duration,
    fatal: String,
}

/// How a run reaches the registry.
#[derive(Clone, Copy)]
enum Via<'a> {
    Http,
    /// https with this --ca-cert file (None: public roots only).
    Https(Option<&'a Path>),
}

/// One run against the registry on `port` with the password given (`Some`) or no credentials.
fn verdicts(port: u16, via: Via, password: Option<&str>) -> Verdicts {
    let ca = match via {
        Via::Https(ca) => ca,
        Via::Http => None,
    };
    let report = tempfile::tempdir().unwrap();
    let args = RunArgs {
        registry: Some(format!("{}://127.0.0.1:{port}", if matches!(via, Via::Https(_)) { "https" } else { "http" })),
        report_dir: Some(report.path().to_path_buf()),
        seed: Some(20261129),
        quiet: true,
        username: password.map(|_| USER.to_string()),
        ca_cert: ca.map(Path::to_path_buf),
        ..Default::default()
    };
    let env: BTreeMap<String, String> = match password {
        Some(p) => BTreeMap::from([("OCI_PASSWORD".to_string(), p.to_string())]),
        None => BTreeMap::new(),
    };
    let cfg = Config::resolve(&args, &env, String::new()).expect("config");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let out = rt.block_on(oci_conformance::app::run(cfg, false));
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(report.path().join("results.json")).expect("results.json");
    for f in std::fs::read_dir(report.path()).unwrap().flatten() {
        let t = std::fs::read_to_string(f.path()).unwrap_or_default();
        for secret in [PASSWORD].into_iter().chain(password) {
            assert!(!t.contains(secret), "a password is in {}", f.path().display());
        }
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut caught = BTreeMap::new();
    let (mut passed, mut failed) = (0, 0);
    for t in v["tests"].as_array().unwrap() {
        let o = t["outcome"].as_str().unwrap_or("");
        let id = t["id"].as_str().unwrap_or("").to_string();
        match o {
            "failed" | "warned" | "not-run" => {
                caught.insert(
                    id,
                    format!(
                        "{o}: {}",
                        t["message"]
                            .as_str()
                            .unwrap_or("")
                            .chars()
                            .take(1500)
                            .collect::<String>()
                    ),
                );
            }
            "passed" => passed += 1,
            _ => {}
        }
        if o == "failed" {
            failed += 1;
        }
    }
    Verdicts {
        caught,
        passed,
        failed,
        exit: out.exit_code,
        elapsed,
        fatal: v["summary"]["fatal"].as_str().unwrap_or("").to_string(),
    }
}

#[test]
fn basic_auth_behind_tls_changes_no_verdict() {
    if !Path::new(BIN).exists() {
        skip_or_fail!("{BIN} is not installed (apt-get install docker-registry)");
    }
    let hash = match bcrypt(PASSWORD) {
        Ok(h) => h,
        Err(e) => skip_or_fail!("{e}"),
    };
    let certs = tempfile::tempdir().unwrap();
    let tls = documented_certificate(certs.path()).unwrap_or_else(|e| panic!("{e}"));
    let htpasswd = format!("{USER}:{hash}");
    let open = start(None, None).unwrap_or_else(|e| panic!("docker-registry without auth: {e}"));
    let locked = start(Some(&htpasswd), Some(&tls))
        .unwrap_or_else(|e| panic!("docker-registry with htpasswd behind TLS: {e}"));

    // Missing or wrong credentials: one clear error, exit 2, no check failed.
    for (who, pw) in [("no credentials", None), ("a wrong password", Some("not-the-Password-1"))] {
        let v = verdicts(locked.port, Via::Https(Some(&tls.ca)), pw);
        assert_eq!(v.exit, 2, "{who}: exit code ({})", v.fatal);
        assert_eq!(v.failed, 0, "{who}: {:?}", v.caught);
        assert!(
            v.fatal.starts_with("authentication failed") && v.fatal.contains("Basic realm=\"oci-conformance-test\"") && v.fatal.contains("--username"),
            "{who}: {}",
            v.fatal
        );
    }

    // A difference that goes away on a second pair of fresh registries is a flake of the
    // registry or of the suites (reported as a note), not something auth changed.
    let mut open = Some(open);
    let mut locked = Some(locked);
    for attempt in 1..=2 {
        let o = open
            .take()
            .unwrap_or_else(|| start(None, None).expect("docker-registry without auth"));
        let l = locked.take().unwrap_or_else(|| {
            start(Some(&htpasswd), Some(&tls)).expect("docker-registry with htpasswd behind TLS")
        });
        match compare(&verdicts(o.port, Via::Http, None), &verdicts(l.port, Via::Https(Some(&tls.ca)), Some(PASSWORD))) {
            Ok(()) => return,
            Err(e) if attempt == 1 => eprintln!("note: verdicts differed on the first attempt; trying again with fresh registries:\n{e}"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn intermediate_ca_chain_is_trusted_through_its_root() {
    if !Path::new(BIN).exists() {
        skip_or_fail!("{BIN} is not installed (apt-get install docker-registry)");
    }
    let certs = tempfile::tempdir().unwrap();
    let tls = intermediate_chain(certs.path()).unwrap_or_else(|e| panic!("{e}"));
    let reg = start(None, Some(&tls)).unwrap_or_else(|e| panic!("docker-registry behind TLS: {e}"));
    let v = verdicts(reg.port, Via::Https(Some(&tls.ca)), None);
    assert!(v.fatal.is_empty(), "{}", v.fatal);
    assert!(v.passed > 50, "{} passed: {:?}", v.passed, v.caught);
    // Without --ca-cert the same registry is refused with its own message.
    let v = verdicts(reg.port, Via::Https(None), None);
    assert_eq!(v.exit, 3);
    assert!(v.fatal.contains("unknown issuer"), "{}", v.fatal);
}

/// Ok when the runs without auth (`a`) and with it (`b`) caught the same checks.
fn compare(a: &Verdicts, b: &Verdicts) -> Result<(), String> {
    eprintln!(
        "without auth: {} passed, {} failed/warned in {:.1} s; with basic auth: {} passed, {} failed/warned in {:.1} s",
        a.passed,
        a.caught.len(),
        a.elapsed.as_secs_f64(),
        b.passed,
        b.caught.len(),
        b.elapsed.as_secs_f64()
    );
    let ids = |v: &Verdicts| v.caught.keys().cloned().collect::<BTreeSet<_>>();
    let (ia, ib) = (ids(a), ids(b));
    let only_auth: Vec<String> = ib
        .difference(&ia)
        .map(|id| format!("{id}: {}", b.caught[id]))
        .collect();
    let only_open: Vec<String> = ia
        .difference(&ib)
        .map(|id| format!("{id}: {}", a.caught[id]))
        .collect();
    if !only_auth.is_empty() || !only_open.is_empty() || a.passed != b.passed || a.exit != b.exit {
        return Err(format!(
            "verdicts differ ({} vs {} passed, exit {} vs {}).\nonly with auth:\n  {}\nonly without auth:\n  {}",
            a.passed,
            b.passed,
            a.exit,
            b.exit,
            only_auth.join("\n  "),
            only_open.join("\n  ")
        ));
    }
    Ok(())
}
