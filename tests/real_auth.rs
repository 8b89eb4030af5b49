//! A real registry behind basic auth: Debian's docker-registry (distribution 2.8) with an
//! htpasswd file gives the same failed and warned checks with credentials as the same
//! registry without auth. Auth must change nothing in the verdicts.
//!
//! Skipped with a message when /usr/bin/docker-registry is missing, unless
//! OCI_CONFORMANCE_REQUIRE_REAL=1 (CI), where it fails instead.

use oci_conformance::config::{Config, RunArgs};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/bin/docker-registry";
const USER: &str = "conformance";
const PASSWORD: &str = "pw-Real7-auth-Xk2";

fn require_real() -> bool {
    std::env::var("OCI_CONFORMANCE_REQUIRE_REAL")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Skips (returns) with a message, or fails under OCI_CONFORMANCE_REQUIRE_REAL=1.
macro_rules! skip_or_fail {
    ($($msg:tt)*) => {{
        let m = format!($($msg)*);
        if require_real() {
            panic!("{m} (OCI_CONFORMANCE_REQUIRE_REAL=1)");
        }
        eprintln!("skipped: {m}");
        return;
    }};
}

struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// docker-registry on a loopback port with its own storage; `htpasswd` turns on basic auth.
fn start(htpasswd: Option<&str>) -> Result<Registry, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let port = free_port();
    let mut cfg = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.path().join("storage").display()
    );
    if let Some(line) = htpasswd {
        let p = dir.path().join("htpasswd");
        std::fs::write(&p, format!("{line}\n")).map_err(|e| format!("htpasswd: {e}"))?;
        cfg.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: oci-conformance-test\n    path: {}\n",
            p.display()
        ));
    }
    let cfgp = dir.path().join("config.yml");
    std::fs::write(&cfgp, cfg).map_err(|e| format!("config: {e}"))?;
    // Its log goes to a file: a pipe nobody reads would fill up and stall the registry.
    let log = dir.path().join("registry.log");
    let logf = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
    let child = Command::new(BIN)
        .arg("serve")
        .arg(&cfgp)
        .stdout(Stdio::null())
        .stderr(logf)
        .spawn()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let mut r = Registry {
        child,
        port,
        _dir: dir,
    };
    // Ready when GET /v2/ gets any answer (401 with auth).
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(st)) = r.child.try_wait() {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("docker-registry exited ({st}): {err}"));
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", r.port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read(&mut buf).map(|n| n >= 12).unwrap_or(false) {
                return Ok(r);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("docker-registry did not answer GET /v2/ within 20 s".into())
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
    exit: i32,
    elapsed: Duration,
}

fn verdicts(port: u16, creds: bool) -> Verdicts {
    let report = tempfile::tempdir().unwrap();
    let args = RunArgs {
        registry: Some(format!("http://127.0.0.1:{port}")),
        report_dir: Some(report.path().to_path_buf()),
        seed: Some(20261129),
        quiet: true,
        username: creds.then(|| USER.to_string()),
        ..Default::default()
    };
    let env: BTreeMap<String, String> = if creds {
        BTreeMap::from([("OCI_PASSWORD".to_string(), PASSWORD.to_string())])
    } else {
        BTreeMap::new()
    };
    let cfg = Config::resolve(&args, &env, String::new()).expect("config");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let out = rt.block_on(oci_conformance::app::run(cfg, false));
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(report.path().join("results.json")).expect("results.json");
    assert!(!text.contains(PASSWORD), "the password is in results.json");
    for f in ["junit.xml", "report.html"] {
        let t = std::fs::read_to_string(report.path().join(f)).unwrap_or_default();
        assert!(!t.contains(PASSWORD), "the password is in {f}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut caught = BTreeMap::new();
    let mut passed = 0;
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
    }
    Verdicts {
        caught,
        passed,
        exit: out.exit_code,
        elapsed,
    }
}

#[test]
fn basic_auth_changes_no_verdict() {
    if !Path::new(BIN).exists() {
        skip_or_fail!("{BIN} is not installed (apt-get install docker-registry)");
    }
    let hash = match bcrypt(PASSWORD) {
        Ok(h) => h,
        Err(e) => skip_or_fail!("{e}"),
    };
    let open = start(None).unwrap_or_else(|e| panic!("docker-registry without auth: {e}"));
    let locked = start(Some(&format!("{USER}:{hash}")))
        .unwrap_or_else(|e| panic!("docker-registry with htpasswd: {e}"));

    // The locked registry really wants credentials: anonymous runs fail everywhere.
    let anon = verdicts(locked.port, false);
    assert_eq!(anon.exit, 1, "anonymous run against the htpasswd registry");
    assert!(
        anon.caught.values().any(|m| m.contains("401")),
        "{:?}",
        anon.caught
    );

    // A difference that goes away on a second pair of fresh registries is a flake of the
    // registry or of the suites (reported as a note), not something auth changed.
    let mut open = Some(open);
    let mut locked = Some(locked);
    for attempt in 1..=2 {
        let o = open
            .take()
            .unwrap_or_else(|| start(None).expect("docker-registry without auth"));
        let l = locked.take().unwrap_or_else(|| {
            start(Some(&format!("{USER}:{hash}"))).expect("docker-registry with htpasswd")
        });
        match compare(&verdicts(o.port, false), &verdicts(l.port, true)) {
            Ok(()) => return,
            Err(e) if attempt == 1 => eprintln!("note: verdicts differed on the first attempt; trying again with fresh registries:\n{e}"),
            Err(e) => panic!("{e}"),
        }
    }
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
