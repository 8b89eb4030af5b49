//! Credentials and certificates as registries are really deployed (issue 20), against the
//! embedded registry: refused or missing credentials stop the run with one clear error and fail
//! no check; a scope the credentials may not use leaves the checks that need it not judged,
//! never failed; `--ca-cert` trusts what a Go client trusts (a self-signed CA:TRUE certificate
//! served as the registry's own, an intermediate chain), and each certificate problem has its
//! own message; mutual TLS works with --client-cert/--client-key.

#[path = "registry_support.rs"]
mod support;

use oci_conformance::registry::{self, Auth, Options, TlsIdentity};
use oci_conformance::runner::REFUSED;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::collections::BTreeMap;
use std::path::Path;
use support::RunResult;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-Auth-Tls-9Qz";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn creds() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("OCI_USERNAME".to_string(), USER.to_string()),
        ("OCI_PASSWORD".to_string(), PASSWORD.to_string()),
    ])
}

fn run(rt: &tokio::runtime::Runtime, url: &str, flags: &[&str], env: BTreeMap<String, String>) -> RunResult {
    let mut f = vec!["--registry".to_string(), url.to_string()];
    f.extend(flags.iter().map(|s| s.to_string()));
    let r = rt.block_on(support::run(&f, env)).expect("harness run");
    let text = r.results.to_string();
    assert!(!text.contains(PASSWORD), "the password is in results.json");
    r
}

fn note_text(r: &RunResult) -> String {
    format!("{} {}", r.results["notes"], r.results["summary"]["fatal"])
}

fn start(rt: &tokio::runtime::Runtime, o: Options) -> registry::Running {
    rt.block_on(registry::start(Options { addr: "127.0.0.1:0".into(), ..o })).expect("embedded registry")
}

#[test]
fn missing_or_wrong_credentials_stop_the_run_without_failing_a_check() {
    let rt = rt();
    for (mode, auth) in [
        ("basic", Auth::Basic { user: USER.into(), password: PASSWORD.into() }),
        ("token", Auth::Token { user: USER.into(), password: PASSWORD.into() }),
    ] {
        let reg = start(&rt, Options { auth: Some(auth), ..Default::default() });
        let wrong = BTreeMap::from([
            ("OCI_USERNAME".to_string(), USER.to_string()),
            ("OCI_PASSWORD".to_string(), "not-the-password".to_string()),
        ]);
        for (who, env) in [("no credentials", BTreeMap::new()), ("a wrong password", wrong)] {
            let r = run(&rt, &reg.url(), &[], env);
            assert_eq!(r.exit_code, 2, "{mode}, {who}: exit code");
            assert!(r.with(&["failed", "warned"]).is_empty(), "{mode}, {who}: {}", r.problems());
            let fatal = r.results["summary"]["fatal"].as_str().unwrap_or("").to_string();
            assert!(fatal.starts_with("authentication failed"), "{mode}, {who}: {fatal}");
            assert!(fatal.contains("--username") && fatal.contains("OCI_PASSWORD"), "{mode}, {who}: {fatal}");
            if who == "no credentials" {
                assert!(fatal.contains("no credentials were given"), "{fatal}");
            } else {
                assert!(fatal.contains(&format!("{USER:?}")), "{fatal}");
            }
            if mode == "basic" {
                assert!(fatal.contains("Basic realm="), "the scheme and realm are named: {fatal}");
            } else {
                assert!(fatal.contains("token service") && fatal.contains("Bearer realm="), "{fatal}");
            }
        }
    }
}

#[test]
fn a_refused_scope_leaves_its_checks_not_judged() {
    let rt = rt();
    for (mode, auth) in [
        ("token (401 insufficient_scope)", Auth::Token { user: USER.into(), password: PASSWORD.into() }),
        ("basic (403 DENIED)", Auth::Basic { user: USER.into(), password: PASSWORD.into() }),
    ] {
        let reg = start(
            &rt,
            Options {
                auth: Some(auth),
                refuse_scopes: vec!["repository:oci-conformance/repo2:push".into()],
                ..Default::default()
            },
        );
        let r = run(&rt, &reg.url(), &[], creds());
        assert!(r.with(&["failed", "warned"]).is_empty(), "{mode}: {}", r.problems());
        assert_eq!(r.exit_code, 0, "{mode}: credentials were given; refused scopes are reported, not failed");
        let refused: Vec<_> = r.with(&["skipped"]).into_iter().filter(|(_, m)| m.starts_with(REFUSED)).collect();
        assert!(!refused.is_empty(), "{mode}: no check was reported as refused");
        assert!(
            refused.iter().all(|(_, m)| m.contains("oci-conformance/repo2")),
            "{mode}: every refusal names the repository it concerns: {refused:?}"
        );
        assert!(r.with(&["passed"]).len() > 60, "{mode}: the rest still runs");
        let notes = note_text(&r);
        assert!(notes.contains("access refused") && notes.contains("buckets that need more access"), "{mode}: {notes}");
    }
}

#[test]
fn anonymous_pull_with_authenticated_push_names_the_buckets_that_need_credentials() {
    let rt = rt();
    let reg = start(
        &rt,
        Options {
            auth: Some(Auth::Basic { user: USER.into(), password: PASSWORD.into() }),
            anonymous_pull: true,
            ..Default::default()
        },
    );
    let r = run(&rt, &reg.url(), &[], BTreeMap::new());
    assert!(r.with(&["failed", "warned"]).is_empty(), "{}", r.problems());
    assert_eq!(r.exit_code, 2, "no credentials given and some were needed: a configuration error");
    let notes = note_text(&r);
    assert!(notes.contains("push (") && notes.contains("No credentials were given"), "{notes}");
    // With credentials the same registry is clean.
    let r = run(&rt, &reg.url(), &[], creds());
    assert_eq!(r.exit_code, 0, "{}", r.problems());
}

// ---- certificates ----

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str, issuer: Option<&Ca>) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(i) => p.signed_by(&key, &i.cert, &i.key).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    Ca { cert, key }
}

/// A server certificate for `names`, signed by `issuer` (self-signed and CA:TRUE without one,
/// as `openssl req -x509` makes it), valid from `from` to `to` (years).
fn leaf(names: &[&str], issuer: Option<&Ca>, from: i32, to: i32) -> (String, String) {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.not_before = rcgen::date_time_ymd(from, 1, 1);
    p.not_after = rcgen::date_time_ymd(to, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(i) => p.signed_by(&key, &i.cert, &i.key).unwrap(),
        None => {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.self_signed(&key).unwrap()
        }
    };
    (cert.pem(), key.serialize_pem())
}

fn serve(rt: &tokio::runtime::Runtime, chain_pem: String, key_pem: String, client_ca_pem: Option<String>) -> registry::Running {
    start(
        rt,
        Options {
            tls_identity: Some(TlsIdentity { chain_pem, key_pem, client_ca_pem }),
            ..Default::default()
        },
    )
}

fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn ca_cert_trusts_what_a_go_client_trusts() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();

    // The registry documentation's self-signed certificate: CA:TRUE, served as its own.
    let (cert, key) = leaf(&["127.0.0.1"], None, 2020, 2090);
    let reg = serve(&rt, cert.clone(), key, None);
    let ca_file = file(dir.path(), "self-signed.crt", &cert);
    let r = run(&rt, &reg.url(), &["--bucket", "pull", "--ca-cert", &ca_file], BTreeMap::new());
    assert_eq!(r.exit_code, 0, "self-signed CA:TRUE certificate: {}", note_text(&r));

    // A chain through an intermediate CA; --ca-cert holds only the root.
    let root = ca("test root", None);
    let mid = ca("test intermediate", Some(&root));
    let (cert, key) = leaf(&["127.0.0.1"], Some(&mid), 2020, 2090);
    let reg = serve(&rt, format!("{cert}{}", mid.cert.pem()), key, None);
    let root_file = file(dir.path(), "root.crt", &root.cert.pem());
    let r = run(&rt, &reg.url(), &["--bucket", "pull", "--ca-cert", &root_file], BTreeMap::new());
    assert_eq!(r.exit_code, 0, "intermediate chain: {}", note_text(&r));
}

#[test]
fn each_certificate_problem_has_its_own_message() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let root = ca("test root", None);
    let root_file = file(dir.path(), "root.crt", &root.cert.pem());
    let (self_signed_expired, k0) = leaf(&["127.0.0.1"], None, 2001, 2002);
    let pinned_expired = file(dir.path(), "expired-self-signed.crt", &self_signed_expired);
    let (self_signed_other, k1) = leaf(&["registry.example"], None, 2020, 2090);
    let pinned_other = file(dir.path(), "other-self-signed.crt", &self_signed_other);
    let cases: Vec<(&str, (String, String), Option<String>, &str)> = vec![
        ("expired", leaf(&["127.0.0.1"], Some(&root), 2001, 2002), Some(root_file.clone()), "has expired"),
        ("expired, pinned", (self_signed_expired, k0), Some(pinned_expired), "has expired"),
        ("wrong host", leaf(&["registry.example"], Some(&root), 2020, 2090), Some(root_file.clone()), "does not name the host"),
        ("wrong host, pinned", (self_signed_other, k1), Some(pinned_other), "does not name the host"),
        ("unknown issuer", leaf(&["127.0.0.1"], Some(&root), 2020, 2090), None, "unknown issuer"),
    ];
    for (what, (cert, key), ca_file, says) in cases {
        let reg = serve(&rt, cert, key, None);
        let mut flags = vec!["--bucket", "pull"];
        if let Some(f) = &ca_file {
            flags.extend(["--ca-cert", f.as_str()]);
        }
        let r = run(&rt, &reg.url(), &flags, BTreeMap::new());
        assert_eq!(r.exit_code, 3, "{what}: exit code");
        let fatal = r.results["summary"]["fatal"].as_str().unwrap_or("").to_string();
        assert!(fatal.contains(says), "{what}: {fatal}");
    }
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let root = ca("server root", None);
    let clients = ca("client CA", None);
    let (cert, key) = leaf(&["127.0.0.1"], Some(&root), 2020, 2090);
    let reg = serve(&rt, cert, key, Some(clients.cert.pem()));
    let root_file = file(dir.path(), "root.crt", &root.cert.pem());

    let r = run(&rt, &reg.url(), &["--bucket", "pull", "--ca-cert", &root_file], BTreeMap::new());
    assert_eq!(r.exit_code, 3, "no client certificate: the handshake is refused");

    let mut p = CertificateParams::new(vec!["oci-conformance client".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "oci-conformance client");
    let k = KeyPair::generate().unwrap();
    let c = p.signed_by(&k, &clients.cert, &clients.key).unwrap();
    let cert_file = file(dir.path(), "client.crt", &c.pem());
    let key_file = file(dir.path(), "client.key", &k.serialize_pem());
    let r = run(
        &rt,
        &reg.url(),
        &["--bucket", "pull", "--ca-cert", &root_file, "--client-cert", &cert_file, "--client-key", &key_file],
        BTreeMap::new(),
    );
    assert_eq!(r.exit_code, 0, "with a client certificate: {}", note_text(&r));
}
