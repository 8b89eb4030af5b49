//! The embedded registry's test modes (basic and token auth, TLS, cross-origin blob redirects,
//! slow and hanging answers), each checked directly and with a harness run; and interop with
//! real clients (crane, skopeo), skipped with a message when they are not installed.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::registry::{self, Auth, Options, Running};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

fn creds_env(user: &str, password: &str) -> BTreeMap<String, String> {
    [("OCI_USERNAME", user), ("OCI_PASSWORD", password)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn flags(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A harness run that must come out clean.
fn clean_run(
    rt: &tokio::runtime::Runtime,
    url: &str,
    extra: &[&str],
    env: BTreeMap<String, String>,
) {
    let mut f = flags(&[
        "--registry",
        url,
        "--seed",
        "11",
        "--spec-version",
        "main",
        "--name-checks",
    ]);
    f.extend(flags(extra));
    let res = rt.block_on(support::run(&f, env)).expect("harness run");
    assert!(
        res.problems().is_empty(),
        "harness run against {url} {extra:?} was not clean:{}",
        res.problems()
    );
    assert!(
        res.outcomes.values().any(|(o, _)| o == "passed"),
        "nothing passed: {:?}",
        res.outcomes
    );
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn basic_auth() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            auth: Some(Auth::Basic {
                user: "alice".into(),
                password: "s3cret".into(),
            }),
            ..Default::default()
        },
    );
    rt.block_on(async {
        let c = http();
        let a = c.get(format!("{}/v2/", r.url())).send().await.unwrap();
        assert_eq!(a.status(), 401);
        assert!(a.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic "));
        let b = c
            .get(format!("{}/v2/", r.url()))
            .header("authorization", basic("alice", "wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(b.status(), 401);
        let ok = c
            .get(format!("{}/v2/", r.url()))
            .header("authorization", basic("alice", "s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    });
    clean_run(
        &rt,
        &r.url(),
        &["--bucket", "pull,push"],
        creds_env("alice", "s3cret"),
    );
}

#[test]
fn token_auth() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            auth: Some(Auth::Token {
                user: "bob".into(),
                password: "pw".into(),
            }),
            ..Default::default()
        },
    );
    rt.block_on(async {
        let c = http();
        let a = c
            .get(format!("{}/v2/x/tags/list", r.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), 401);
        let ch = a.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            ch.starts_with(&format!("Bearer realm=\"{}/token\"", r.url())),
            "{ch}"
        );
        assert!(ch.contains("scope=\"repository:x:pull,push\""), "{ch}");
        let no = c
            .get(format!("{}/token?scope=repository:x:pull", r.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(no.status(), 401);
        let t = c
            .get(format!(
                "{}/token?service=oci-conformance&scope=repository:x:pull",
                r.url()
            ))
            .header("authorization", basic("bob", "pw"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let t: serde_json::Value = serde_json::from_slice(&t).unwrap();
        let tok = t["token"].as_str().unwrap().to_string();
        let pull = c
            .get(format!("{}/v2/x/tags/list", r.url()))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(
            pull.status(),
            404,
            "token accepted; the repository does not exist"
        );
        let push = c
            .post(format!("{}/v2/x/blobs/uploads/", r.url()))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(push.status(), 401, "a pull-only token must not push");
        let other = c
            .get(format!("{}/v2/y/tags/list", r.url()))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 401, "a token for x must not read y");
    });
    clean_run(&rt, &r.url(), &[], creds_env("bob", "pw"));
}

#[test]
fn tls() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            tls: true,
            ..Default::default()
        },
    );
    assert!(r.url().starts_with("https://"));
    let pem = r.ca_pem.clone().expect("CA PEM");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    rt.block_on(async {
        let trusted = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        assert_eq!(
            trusted
                .get(format!("{}/v2/", r.url()))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let untrusted = reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .build()
            .unwrap();
        assert!(
            untrusted
                .get(format!("{}/v2/", r.url()))
                .send()
                .await
                .is_err(),
            "an unknown CA must be refused"
        );
    });
    clean_run(
        &rt,
        &r.url(),
        &["--bucket", "pull", "--ca-cert", ca.to_str().unwrap()],
        BTreeMap::new(),
    );
}

#[test]
fn blob_redirects_to_another_origin() {
    let rt = rt();
    let r = start(
        &rt,
        Options {
            redirect_blobs: true,
            auth: Some(Auth::Basic {
                user: "u".into(),
                password: "p".into(),
            }),
            ..Default::default()
        },
    );
    let other = r.redirect_addr.expect("redirect listener");
    assert_ne!(other.port(), r.addr.port());
    clean_run(&rt, &r.url(), &["--bucket", "pull"], creds_env("u", "p"));
    assert!(
        r.redirect_requests() > 0,
        "no blob GET went to the redirect target"
    );
    assert_eq!(
        r.redirect_requests_with_auth(),
        0,
        "the harness forwarded credentials to another origin"
    );
    // A client that does forward them is counted.
    rt.block_on(async {
        let resp = http()
            .get(format!(
                "http://{other}/blob/sha256:{}?repo=x",
                "0".repeat(64)
            ))
            .header("authorization", basic("u", "p"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
    });
    assert_eq!(r.redirect_requests_with_auth(), 1);
}

#[test]
fn slow_and_hanging_answers() {
    let rt = rt();
    let slow = start(
        &rt,
        Options {
            delay: Some(Duration::from_millis(400)),
            ..Default::default()
        },
    );
    let hang = start(
        &rt,
        Options {
            hang: Some("/manifests/".into()),
            ..Default::default()
        },
    );
    rt.block_on(async {
        let c = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(1500))
            .build()
            .unwrap();
        let t = Instant::now();
        assert_eq!(
            c.get(format!("{}/v2/", slow.url()))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert!(
            t.elapsed() >= Duration::from_millis(400),
            "answered after {:?}",
            t.elapsed()
        );
        assert_eq!(
            c.get(format!("{}/v2/", hang.url()))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let e = c
            .get(format!("{}/v2/x/manifests/latest", hang.url()))
            .send()
            .await
            .expect_err("must hang");
        assert!(e.is_timeout(), "{e}");
    });
}

#[test]
fn unknown_fault_is_refused() {
    let rt = rt();
    let e = rt
        .block_on(registry::start(Options {
            addr: "127.0.0.1:0".into(),
            faults: vec!["no-such-fault".into()],
            ..Default::default()
        }))
        .err()
        .expect("refused");
    assert!(
        e.contains("no-such-fault") && e.contains("--list-faults"),
        "{e}"
    );
}

/// Sends raw bytes on a fresh connection; returns the status line ("" if none came).
fn raw(addr: std::net::SocketAddr, data: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(data);
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn hostile_requests_get_answers() {
    let rt = rt();
    let r = start(&rt, Options::default());
    let e = format!("sha256:{}", sha256_hex(b""));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET /v2/a/blobs/uploads/x%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "404"),
        (b"PATCH /v2/a/blobs/uploads/nope HTTP/1.1\r\nHost: x\r\nContent-Range: 0-18446744073709551615\r\nContent-Length: 1\r\n\r\nx".to_vec(), "404"),
        (b"GET /v2/a/b/../c/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        (format!("GET /v2/a/manifests/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(5000)).into_bytes(), "404"),
        (format!("GET /v2/a/blobs/{e} HTTP/1.1\r\nHost: x\r\nRange: bytes=-99999999999999999999999\r\n\r\n").into_bytes(), "404"),
        (b"PUT /v2/a/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Type: \xff\xfe\r\nContent-Length: 2\r\n\r\n{}".to_vec(), "400"),
        (b"PUT /v2/a/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 9\r\n\r\nnot json!".to_vec(), "400"),
        (b"GET /v2/a/referrers/sha256:zz?artifactType=%ff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        (b"GET /v2/a/tags/list?n=-1&last=%00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "404"),
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "404"),
        (format!("POST /v2/a/blobs/uploads/?mount={e}&from=Bad HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").into_bytes(), "202"),
        (b"POST /v2/a/blobs/uploads/?digest=sha256:xyz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec(), "400"),
        (b"POST /v2/a/blobs/uploads/?digest-algorithm=md5 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec(), "400"),
        (b"DELETE /v2/zz/manifests/sha256:abc HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "404"),
        (b"BREW /v2/ HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "405"),
        (b"GARBAGE\r\n\r\n".to_vec(), "400"),
    ];
    for (req, want) in cases {
        let got = raw(r.addr, &req);
        assert!(
            got.contains(&format!(" {want} ")),
            "{:?} answered {got:?}, wanted {want}",
            String::from_utf8_lossy(&req[..req.len().min(80)])
        );
    }
    // A manifest far over the limit is refused and the registry stays up.
    let big = vec![b' '; 20 << 20];
    rt.block_on(async {
        let c = http();
        let resp = c
            .put(format!("{}/v2/a/manifests/big", r.url()))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(
            c.get(format!("{}/v2/", r.url()))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    });
}

// ---- interop with real clients ----

fn find_tool(name: &str) -> Option<PathBuf> {
    let shared = Path::new("/work/shared/registries/bin").join(name);
    if shared.is_file() {
        return Some(shared);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}

/// Runs a tool; panics with its output if it fails. Returns stdout.
fn tool(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A small tar layer made with the system tar.
fn layer_tar(dir: &Path) -> PathBuf {
    let src = dir.join("layer-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("hello.txt"),
        b"hello from oci-conformance interop\n",
    )
    .unwrap();
    let tar = dir.join("layer.tar");
    tool(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg("hello.txt"),
    );
    tar
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Writes an OCI image layout with one image (tag `v1`); returns the manifest digest.
fn oci_layout(dir: &Path, layer: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| -> String {
        let h = sha256_hex(b);
        std::fs::write(blobs.join(&h), b).unwrap();
        format!("sha256:{h}")
    };
    let ld = put(layer);
    let cfg = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [ld]}, "config": {}})).unwrap();
    let cd = put(&cfg);
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}]
    }))
    .unwrap();
    let md = put(&m);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    md
}

#[test]
fn interop_crane() {
    let Some(crane_bin) = find_tool("crane") else {
        eprintln!("skipping interop_crane: crane not found (looked in /work/shared/registries/bin and PATH)");
        return;
    };
    let rt = rt();
    for token in [false, true] {
        let auth = token.then(|| Auth::Token {
            user: "ci".into(),
            password: "pw".into(),
        });
        let r = start(
            &rt,
            Options {
                auth,
                ..Default::default()
            },
        );
        let host = r.addr.to_string();
        let dir = tempfile::tempdir().unwrap();
        let crane = |args: &[&str]| -> String {
            let mut c = Command::new(&crane_bin);
            c.args(args)
                .arg("--insecure")
                .env("DOCKER_CONFIG", dir.path().join("docker"))
                .env("HOME", dir.path())
                .env_remove("HTTP_PROXY")
                .env_remove("HTTPS_PROXY");
            tool(&mut c)
        };
        if token {
            crane(&["auth", "login", &host, "-u", "ci", "-p", "pw"]);
        }
        let tar = layer_tar(dir.path());
        let img = format!("{host}/interop/crane:v1");
        crane(&[
            "append",
            "-f",
            tar.to_str().unwrap(),
            "-t",
            &img,
            "--oci-empty-base",
        ]);
        let digest = crane(&["digest", &img]).trim().to_string();
        let manifest = crane(&["manifest", &img]);
        assert_eq!(
            format!("sha256:{}", sha256_hex(manifest.as_bytes())),
            digest,
            "manifest bytes must hash to the digest"
        );
        assert_eq!(
            crane(&["ls", &format!("{host}/interop/crane")]).trim(),
            "v1"
        );
        // Copy to another repository (cross-repository mounts), pull as a layout, push it back.
        let copy = format!("{host}/interop/copy:v2");
        crane(&["copy", &img, &copy]);
        assert_eq!(crane(&["digest", &copy]).trim(), digest);
        let layout = dir.path().join("layout");
        crane(&["pull", "--format=oci", &img, layout.to_str().unwrap()]);
        let pushed = format!("{host}/interop/pushed:v3");
        crane(&["push", layout.to_str().unwrap(), &pushed]);
        assert_eq!(crane(&["digest", &pushed]).trim(), digest);
        crane(&["delete", &format!("{host}/interop/copy@{digest}")]);
        let gone = Command::new(&crane_bin)
            .args(["manifest", &copy, "--insecure"])
            .env("DOCKER_CONFIG", dir.path().join("docker"))
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            !gone.status.success(),
            "the deleted manifest's tag must be gone"
        );
    }
}

#[test]
fn interop_skopeo() {
    let Some(skopeo) = find_tool("skopeo") else {
        eprintln!("skipping interop_skopeo: skopeo not found on PATH");
        return;
    };
    let rt = rt();
    // Plain http, then https with basic auth and the generated CA.
    for secure in [false, true] {
        let opts = if secure {
            Options {
                tls: true,
                auth: Some(Auth::Basic {
                    user: "sk".into(),
                    password: "op".into(),
                }),
                ..Default::default()
            }
        } else {
            Options::default()
        };
        let r = start(&rt, opts);
        let host = r.addr.to_string();
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        if let Some(pem) = &r.ca_pem {
            std::fs::write(certs.join("ca.crt"), pem).unwrap();
        }
        let tar = std::fs::read(layer_tar(dir.path())).unwrap();
        let src = dir.path().join("src");
        let md = oci_layout(&src, &tar);
        let dst = dir.path().join("dst");
        let remote = format!("docker://{host}/interop/skopeo:v1");
        let mut up = Command::new(&skopeo);
        // --preserve-digests: no recompression, so the round trip can be byte-identical.
        up.args(["--insecure-policy", "copy", "--quiet", "--preserve-digests"])
            .env("HOME", dir.path());
        let mut down = Command::new(&skopeo);
        down.args(["--insecure-policy", "copy", "--quiet", "--preserve-digests"])
            .env("HOME", dir.path());
        if secure {
            up.arg("--dest-cert-dir")
                .arg(&certs)
                .args(["--dest-creds", "sk:op"]);
            down.arg("--src-cert-dir")
                .arg(&certs)
                .args(["--src-creds", "sk:op"]);
        } else {
            up.arg("--dest-tls-verify=false");
            down.arg("--src-tls-verify=false");
        }
        tool(up.arg(format!("oci:{}:v1", src.display())).arg(&remote));
        tool(down.arg(&remote).arg(format!("oci:{}:v1", dst.display())));
        // Byte-identical: the manifest digest is the same and every blob file is the same.
        let idx: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dst.join("index.json")).unwrap()).unwrap();
        assert_eq!(
            idx["manifests"][0]["digest"].as_str(),
            Some(md.as_str()),
            "skopeo pulled back another manifest (secure={secure})"
        );
        for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            let back =
                std::fs::read(dst.join("blobs/sha256").join(e.file_name())).unwrap_or_else(|_| {
                    panic!("blob {:?} missing after the round trip", e.file_name())
                });
            assert_eq!(
                back,
                std::fs::read(e.path()).unwrap(),
                "blob {:?} differs",
                e.file_name()
            );
        }
    }
}
