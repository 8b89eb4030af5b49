//! `oci-conformance bench blob`: the registry's data path, measured with the same client and
//! generator the checks use (streamed, hashed on the fly, constant memory).

use crate::client::{Body, Client, ClientOptions, Read, Request, Response};
use crate::config::{exit, BenchBlobArgs, BenchCommand, BenchTagsArgs};
use crate::content::{Blob, Generator};
use crate::trace::TraceSink;
use serde_json::json;
use std::time::Instant;

pub async fn run(cmd: BenchCommand) -> i32 {
    match cmd {
        BenchCommand::Blob(a) => print(blob(a).await),
        BenchCommand::Tags(a) => print(tags(a).await),
    }
}

fn print(r: Result<serde_json::Value, BenchErr>) -> i32 {
    match r {
        Ok(v) => {
            crate::say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            exit::OK
        }
        Err((code, e)) => {
            eprintln!("error: {e}");
            code
        }
    }
}

/// The registry to measure: the given URL, or the embedded one started here.
async fn target(
    registry: &Option<String>,
    insecure: bool,
) -> Result<(std::sync::Arc<Client>, Option<crate::registry::Running>), BenchErr> {
    let mut embedded = None;
    let base = match registry {
        Some(r) => {
            url::Url::parse(r).map_err(|e| (exit::BAD_CONFIG, format!("--registry {r:?}: {e}")))?
        }
        None => {
            let reg = crate::registry::start(crate::registry::Options {
                addr: "127.0.0.1:0".into(),
                ..Default::default()
            })
            .await
            .map_err(|e| (exit::INTERNAL, e))?;
            let u = url::Url::parse(&format!("{}/", reg.url()))
                .map_err(|e| (exit::INTERNAL, e.to_string()))?;
            embedded = Some(reg);
            u
        }
    };
    let opts = ClientOptions {
        insecure,
        request_timeout: std::time::Duration::from_secs(120),
        ..Default::default()
    };
    let client = Client::new(base, opts).map_err(|e| (exit::BAD_CONFIG, e))?;
    Ok((client, embedded))
}

async fn tags(a: BenchTagsArgs) -> Result<serde_json::Value, BenchErr> {
    use futures_util::StreamExt;
    let (client, embedded) = target(&a.registry, a.insecure).await?;
    let trace = TraceSink::default();
    let ns = &a.namespace;
    let g = Generator::new(1).scope("bench-tags");
    let cfg = crate::content::Blob::empty_config();
    let loc = start_upload(&client, &trace, ns).await?;
    let r = send(
        &client,
        &trace,
        Request::put(crate::headers::with_query(
            &loc,
            "digest",
            &cfg.digest().to_string(),
        ))
        .bytes(cfg.bytes()),
    )
    .await?;
    expect(&r, 201, "config push")?;
    let m = crate::content::image_manifest(
        &cfg.descriptor(),
        &[],
        &crate::content::ManifestOpts::default().artifact_type("application/vnd.example.bench"),
    );
    let t = Instant::now();
    let names: Vec<String> = (0..a.count)
        .map(|i| format!("t{:06}-{}", i, g.token("x", 4)))
        .collect();
    let results: Vec<Result<(), BenchErr>> = futures_util::stream::iter(names.iter().map(|tag| {
        let client = client.clone();
        let m = m.clone();
        async move {
            let tr = TraceSink::default();
            let r = send(
                &client,
                &tr,
                Request::put(format!("/v2/{ns}/manifests/{tag}"))
                    .header("Content-Type", m.media_type.clone())
                    .bytes(m.bytes.clone()),
            )
            .await?;
            expect(&r, 201, "tag push")
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let push_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (mut pages, mut seen) = (0, 0usize);
    let mut next = Some(format!("/v2/{ns}/tags/list?n={}", a.page));
    while let Some(u) = next.take() {
        pages += 1;
        let r = send(&client, &trace, Request::get(u)).await?;
        trace.take();
        expect(&r, 200, "tags list")?;
        let v = r.json().map_err(|e| (exit::CHECKS_FAILED, e))?;
        let got: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        seen += got.len();
        if let Some(l) = r
            .header("link")
            .and_then(|l| crate::headers::next_link(l).ok().flatten())
        {
            next = Some(l);
        } else if got.len() == a.page && !got.is_empty() {
            // no Link: continue with `last`, as clients of older registries do
            next = got.last().map(|l| format!("/v2/{ns}/tags/list?n={}&last={l}", a.page));
        }
        if pages > a.count + 2 {
            break;
        }
    }
    let list_seconds = t.elapsed().as_secs_f64();
    let _ = send(
        &client,
        &trace,
        Request::delete(format!("/v2/{ns}/manifests/{}", m.digest)),
    )
    .await;
    if let Some(mut e) = embedded {
        e.shutdown();
    }
    Ok(
        json!({"count": a.count, "listed": seen, "pages": pages, "push_seconds": push_seconds, "list_seconds": list_seconds, "http_requests": client.request_count()}),
    )
}

/// Peak resident set size of this process, in bytes (Linux VmHWM).
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn phase(name: &str, bytes: u64, t: Instant) -> serde_json::Value {
    let secs = t.elapsed().as_secs_f64();
    json!({"phase": name, "bytes": bytes, "seconds": (secs * 1000.0).round() / 1000.0, "mb_per_s": ((bytes as f64 / 1e6 / secs.max(1e-9)) * 10.0).round() / 10.0})
}

type BenchErr = (i32, String);

fn expect(r: &Response, want: u16, what: &str) -> Result<(), BenchErr> {
    if r.status == want {
        Ok(())
    } else {
        Err((
            exit::CHECKS_FAILED,
            format!(
                "{what}: {} answered {}; expected {want}",
                r.request,
                r.summary()
            ),
        ))
    }
}

async fn blob(a: BenchBlobArgs) -> Result<serde_json::Value, BenchErr> {
    if a.chunk_size == 0 {
        return Err((exit::BAD_CONFIG, "--chunk-size must be > 0".into()));
    }
    let (client, embedded) = target(&a.registry, a.insecure).await?;
    let base = client.base.clone();
    let trace = TraceSink::default();
    let blob = Generator::new(a.seed)
        .scope("bench")
        .blob(&format!("blob-{}", a.size), a.size);
    let ns = &a.namespace;
    let mut phases = vec![];

    let t = Instant::now();
    let digest = blob.digest().clone();
    phases.push(phase("digest", a.size, t));

    // monolithic: POST + PUT
    let t = Instant::now();
    let loc = start_upload(&client, &trace, ns).await?;
    let r = send(
        &client,
        &trace,
        Request::put(crate::headers::with_query(
            &loc,
            "digest",
            &digest.to_string(),
        ))
        .header("Content-Type", "application/octet-stream")
        .body(Body::Blob {
            blob: blob.clone(),
            start: 0,
            end: blob.len,
        }),
    )
    .await?;
    expect(&r, 201, "monolithic push")?;
    phases.push(phase("push-monolithic", a.size, t));
    trace.take();

    // pull, hashed as it arrives
    let t = Instant::now();
    let r = send(
        &client,
        &trace,
        Request::get(format!("/v2/{ns}/blobs/{digest}")).read(Read::Hash(digest.algorithm)),
    )
    .await?;
    expect(&r, 200, "pull")?;
    match &r.hashed {
        Some((d, n)) if *d == digest && *n == a.size => {}
        Some((d, n)) => {
            return Err((
                exit::CHECKS_FAILED,
                format!(
                    "pulled {n} bytes with digest {d}; expected {} bytes, {digest}",
                    a.size
                ),
            ))
        }
        None => return Err((exit::INTERNAL, "pull was not hashed".into())),
    }
    phases.push(phase("pull", a.size, t));
    trace.take();

    // chunked: delete first so the registry cannot short-circuit, then POST + PATCH… + PUT
    let _ = send(
        &client,
        &trace,
        Request::delete(format!("/v2/{ns}/blobs/{digest}")),
    )
    .await;
    let t = Instant::now();
    chunked(&client, &trace, ns, &blob, a.chunk_size).await?;
    phases.push(phase("push-chunked", a.size, t));
    trace.take();

    let r = send(
        &client,
        &trace,
        Request::delete(format!("/v2/{ns}/blobs/{digest}")),
    )
    .await?;
    let deleted = r.status == 202;
    if let Some(mut e) = embedded {
        e.shutdown();
    }
    Ok(json!({
        "registry": crate::trace::redact_url(base.as_str()),
        "size": a.size, "chunk_size": a.chunk_size, "digest": digest.to_string(),
        "phases": phases, "deleted": deleted,
        "http_requests": client.request_count(),
        "peak_rss_bytes": peak_rss(),
    }))
}

async fn send(c: &Client, t: &TraceSink, r: Request) -> Result<Response, BenchErr> {
    c.send(&r, t)
        .await
        .map_err(|e| (exit::UNREACHABLE, e.message))
}

async fn start_upload(c: &Client, t: &TraceSink, ns: &str) -> Result<String, BenchErr> {
    let r = send(c, t, Request::post(format!("/v2/{ns}/blobs/uploads/"))).await?;
    expect(&r, 202, "start upload")?;
    r.header("location")
        .map(str::to_string)
        .ok_or((exit::CHECKS_FAILED, "upload POST without Location".into()))
}

async fn chunked(
    c: &Client,
    t: &TraceSink,
    ns: &str,
    blob: &Blob,
    chunk: u64,
) -> Result<(), BenchErr> {
    let mut loc = start_upload(c, t, ns).await?;
    let mut pos = 0;
    while pos < blob.len {
        let end = (pos + chunk).min(blob.len);
        let r = send(
            c,
            t,
            Request::patch(loc.clone())
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{}-{}", pos, end - 1))
                .body(Body::Blob {
                    blob: blob.clone(),
                    start: pos,
                    end,
                }),
        )
        .await?;
        expect(&r, 202, "chunk PATCH")?;
        if let Some(l) = r.header("location") {
            loc = l.to_string();
        }
        pos = end;
        t.take();
    }
    let r = send(
        c,
        t,
        Request::put(crate::headers::with_query(
            &loc,
            "digest",
            &blob.digest().to_string(),
        )),
    )
    .await?;
    expect(&r, 201, "closing PUT")
}
