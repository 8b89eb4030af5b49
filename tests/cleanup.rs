//! The run removes what it pushed and nothing else.
//!
//! The embedded registry runs in-process; content the user already had is pushed to it
//! directly first. The harness then runs against a recording reverse proxy in front of the
//! registry, so every manifest, tag and blob the run created (setup pushes included) is
//! known. Afterwards, straight against the registry: none of them remains, and the
//! user's content is intact.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use oci_conformance::config::{Config, RunArgs};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

const NS: &str = "oci-conformance/repo1";
const NS2: &str = "oci-conformance/repo2";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// What the run created, as seen on the wire.
#[derive(Default)]
struct Created {
    manifests: BTreeSet<(String, String)>,
    tags: BTreeSet<(String, String)>,
    blobs: BTreeSet<(String, String)>,
}

fn repo_before(path: &str, marker: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    rest.rfind(marker).map(|i| rest[..i].to_string())
}

fn record(c: &mut Created, method: &str, path: &str, query: &str, body: &[u8], status: u16) {
    if status != 201 {
        return;
    }
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| {
        q.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    if method == "PUT" {
        if let Some(repo) = repo_before(path, "/manifests/") {
            let reference = path.rsplit('/').next().unwrap_or("").to_string();
            c.manifests.insert((repo.clone(), sha256(body)));
            if !reference.contains(':') {
                c.tags.insert((repo.clone(), reference));
            }
            for t in param("tag") {
                c.tags.insert((repo.clone(), t));
            }
            return;
        }
    }
    if let Some(repo) = repo_before(path, "/blobs/uploads") {
        for d in param("digest").into_iter().chain(param("mount")) {
            c.blobs.insert((repo.clone(), d));
        }
    }
}

/// A reverse proxy to `upstream` that records what was created through it.
async fn proxy(upstream: String) -> (String, Arc<Mutex<Created>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let me = format!("http://{}", listener.local_addr().unwrap());
    let created = Arc::new(Mutex::new(Created::default()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let (c2, me2) = (created.clone(), me.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (client, up, me, created) =
                (client.clone(), upstream.clone(), me2.clone(), c2.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let (client, up, me, created) =
                        (client.clone(), up.clone(), me.clone(), created.clone());
                    async move { Ok::<_, Infallible>(forward(&client, &up, &me, &created, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (me, created)
}

async fn forward(
    client: &reqwest::Client,
    up: &str,
    me: &str,
    created: &Mutex<Created>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = if query.is_empty() {
        format!("{up}{path}")
    } else {
        format!("{up}{path}?{query}")
    };
    let mut rb = client.request(method.clone(), target).body(body.clone());
    for (k, v) in headers.iter() {
        if !matches!(
            k.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            rb = rb.header(k, v);
        }
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => {
            return hyper::Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap()
        }
    };
    let status = resp.status();
    let rh = resp.headers().clone();
    let rbody = resp.bytes().await.unwrap_or_default();
    record(
        &mut created.lock().unwrap(),
        method.as_str(),
        &path,
        &query,
        &body,
        status.as_u16(),
    );
    let mut out = hyper::Response::builder().status(status);
    for (k, v) in rh.iter() {
        if matches!(k.as_str(), "transfer-encoding" | "connection") {
            continue;
        }
        if k == "location" {
            let l = v.to_str().unwrap_or("").replace(up, me);
            out = out.header(k, l);
        } else {
            out = out.header(k, v);
        }
    }
    out.body(Full::new(rbody)).unwrap()
}

/// Pushes a blob directly (POST + PUT); returns its digest.
async fn put_blob(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "POST upload");
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let loc = if loc.starts_with('/') {
        format!("{base}{loc}")
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{loc}{sep}digest={d}"))
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "PUT blob");
    d
}

async fn status(c: &reqwest::Client, m: reqwest::Method, url: String) -> u16 {
    c.request(m, url)
        .header("Accept", ACCEPT)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_removes_what_it_pushed_and_nothing_else() {
    let reg = match oci_conformance::registry::start(oci_conformance::registry::Options {
        addr: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipped: the embedded registry does not start yet: {e}");
            return;
        }
    };
    let base = reg.url();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();

    // The user's content: an artifact in each repository, sharing blobs the run also pushes
    // (the empty config `{}` is in every artifact, the run's included).
    let mut kept_blobs = vec![];
    let mut kept_manifests = vec![];
    for (repo, tag) in [(NS, "users-own-tag"), (NS2, "users-other-tag")] {
        let empty = put_blob(&c, &base, repo, b"{}").await;
        let layer_data = format!("the user's own layer in {repo}");
        let layer = put_blob(&c, &base, repo, layer_data.as_bytes()).await;
        let m = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.users-own",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": layer_data.len()}],
        }))
        .unwrap();
        let r = c
            .put(format!("{base}/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", OCI_MANIFEST)
            .body(m.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "pushing the user's manifest");
        kept_blobs.push((repo, empty));
        kept_blobs.push((repo, layer));
        kept_manifests.push((repo, tag, m));
    }

    let (proxy_url, created) = proxy(base.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let args = RunArgs {
        registry: Some(proxy_url),
        report_dir: Some(dir.path().to_path_buf()),
        seed: Some(1),
        quiet: true,
        name_checks: true,
        connect_timeout: 10.0,
        request_timeout: 30.0,
        ..Default::default()
    };
    let cfg = Config::resolve(&args, &BTreeMap::new(), String::new()).expect("config");
    let out = oci_conformance::app::run(cfg, false).await;
    assert!(out.counts.total > 0, "the run ran no checks");

    let created = std::mem::take(&mut *created.lock().unwrap());
    assert!(
        !created.manifests.is_empty() && !created.blobs.is_empty(),
        "the proxy saw no pushes"
    );
    let kept_b: BTreeSet<(String, String)> = kept_blobs
        .iter()
        .map(|(r, d)| (r.to_string(), d.clone()))
        .collect();
    let kept_m: BTreeSet<(String, String)> = kept_manifests
        .iter()
        .map(|(r, _, m)| (r.to_string(), sha256(m)))
        .collect();
    let mut left = vec![];
    for (repo, d) in &created.manifests {
        if !kept_m.contains(&(repo.clone(), d.clone()))
            && status(
                &c,
                reqwest::Method::HEAD,
                format!("{base}/v2/{repo}/manifests/{d}"),
            )
            .await
                != 404
        {
            left.push(format!("manifest {repo}@{d}"));
        }
    }
    for (repo, t) in &created.tags {
        if !kept_manifests.iter().any(|(r, k, _)| r == repo && k == t)
            && status(
                &c,
                reqwest::Method::HEAD,
                format!("{base}/v2/{repo}/manifests/{t}"),
            )
            .await
                != 404
        {
            left.push(format!("tag {repo}:{t}"));
        }
    }
    for (repo, d) in &created.blobs {
        if !kept_b.contains(&(repo.clone(), d.clone()))
            && status(
                &c,
                reqwest::Method::HEAD,
                format!("{base}/v2/{repo}/blobs/{d}"),
            )
            .await
                != 404
        {
            left.push(format!("blob {repo}@{d}"));
        }
    }
    // Every repository the run touched lists only the user's tags.
    let repos: BTreeSet<&String> = created
        .manifests
        .iter()
        .map(|(r, _)| r)
        .chain(created.blobs.iter().map(|(r, _)| r))
        .collect();
    for repo in repos {
        let r = c
            .get(format!("{base}/v2/{repo}/tags/list"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let v: serde_json::Value = r
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            for t in v["tags"].as_array().cloned().unwrap_or_default() {
                let t = t.as_str().unwrap_or("").to_string();
                if !kept_manifests.iter().any(|(r, k, _)| r == repo && *k == t) {
                    left.push(format!("listed tag {repo}:{t}"));
                }
            }
        }
    }
    assert!(
        left.is_empty(),
        "the run left {} things behind: {left:#?}",
        left.len()
    );

    let mut lost = vec![];
    for (repo, tag, m) in &kept_manifests {
        let r = c
            .get(format!("{base}/v2/{repo}/manifests/{tag}"))
            .header("Accept", ACCEPT)
            .send()
            .await
            .unwrap();
        let ok = r.status() == 200 && r.bytes().await.map(|b| b[..] == m[..]).unwrap_or(false);
        if !ok {
            lost.push(format!("manifest {repo}:{tag}"));
        }
    }
    for (repo, d) in &kept_blobs {
        if status(
            &c,
            reqwest::Method::HEAD,
            format!("{base}/v2/{repo}/blobs/{d}"),
        )
        .await
            != 200
        {
            lost.push(format!("blob {repo}@{d}"));
        }
    }
    assert!(
        lost.is_empty(),
        "the run removed the user's content: {lost:#?}"
    );
}
