//! Real clients against the registry (opt-in bucket `clients`): crane, skopeo (with umoci
//! unpacking what it pulled) and podman push, pull, copy, list and delete the harness's seeded
//! content; the harness then checks over HTTP what the registry holds. A client that fails is
//! explained by the protocol checks of the same run when one of them failed on the same path
//! (a registry fault), by a documented client limitation, or else reported as an unexplained
//! incompatibility. Scenarios run after the protocol scenarios (`exclusive`) so those
//! outcomes are known.

use super::common::*;
use crate::layout::{self, RootfsImage};
use crate::prelude::*;
use crate::runner::RunCtx;
use crate::tool::{Command, Ran, ScratchDir};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a client is asked to do; one check each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Push,
    Pull,
    Index,
    Artifact,
    Copy,
    Tags,
    Delete,
}

/// One check of one client: `check!("crane", Push)`.
macro_rules! check {
    ($c:literal, Push) => {
        CheckMeta::new(concat!("clients.", $c, ".push"), Bucket::Clients, Level::Must, "pushing-manifests", concat!($c, " pushes an image from an OCI layout; the registry serves it byte-exact")).reqs(&["push.post-put.put-201", "push.manifest.exact-bytes-stored", "push.manifest.created-201"])
    };
    ($c:literal, Pull) => {
        CheckMeta::new(concat!("clients.", $c, ".pull"), Bucket::Clients, Level::Must, "pulling-manifests", concat!($c, " pulls an image the harness pushed; digests and bytes match")).reqs(&["pull.manifest.content-type-match", "pull.manifest.get-200", "pull.manifest.digest-header", "pull.blob.get-200", "pull.blob.digest-header-matches", "pull.head.exists-200", "pull.head.digest-header"])
    };
    ($c:literal, Index) => {
        CheckMeta::new(concat!("clients.", $c, ".index"), Bucket::Clients, Level::Must, "pushing-manifests", concat!($c, " pushes a two-platform image index; the registry serves it and its images")).reqs(&["pull.manifest.get-200", "push.manifest.exact-bytes-stored", "push.manifest.created-201"])
    };
    ($c:literal, Artifact) => {
        CheckMeta::new(concat!("clients.", $c, ".artifact"), Bucket::Clients, Level::Must, "listing-referrers", concat!($c, " pushes an artifact with a subject; it reads back and is listed as a referrer")).since(SpecVersion::V1_1).reqs(&["push.manifest.exact-bytes-stored", "push.manifest.created-201", "push.subject.oci-subject-header", "referrers.api.found-200", "referrers.api.artifact-type-copied"])
    };
    ($c:literal, Copy) => {
        CheckMeta::new(concat!("clients.", $c, ".copy"), Bucket::Clients, Level::Must, "mounting-a-blob-from-another-repository", concat!($c, " copies an image to the second repository")).reqs(&["pull.manifest.get-200", "push.mount.created-201", "push.mount.fallback-202", "push.manifest.created-201"])
    };
    ($c:literal, Tags) => {
        CheckMeta::new(concat!("clients.", $c, ".tags"), Bucket::Clients, Level::Must, "listing-tags", concat!($c, " lists the tags it pushed")).reqs(&["discovery.tags.list-200", "discovery.tags.json-body", "discovery.tags.body-content", "discovery.tags.link-format"])
    };
    ($c:literal, Delete) => {
        CheckMeta::new(concat!("clients.", $c, ".delete"), Bucket::Clients, Level::Must, "deleting-manifests", concat!($c, " deletes a manifest by digest; it is gone")).reqs(&["management.manifest.delete-202", "management.manifest.disabled-400-405", "management.manifest.gone-after-delete"])
    };
}

pub static CRANE: [CheckMeta; 7] = [check!("crane", Push), check!("crane", Pull), check!("crane", Index), check!("crane", Artifact), check!("crane", Copy), check!("crane", Tags), check!("crane", Delete)];
pub static SKOPEO: [CheckMeta; 7] = [check!("skopeo", Push), check!("skopeo", Pull), check!("skopeo", Index), check!("skopeo", Artifact), check!("skopeo", Copy), check!("skopeo", Tags), check!("skopeo", Delete)];
/// podman has no command that pushes an index from an OCI layout unchanged (podman manifest
/// rebuilds one), none for artifacts with a subject (podman 4), none that deletes from a registry.
pub static PODMAN: [CheckMeta; 4] = [check!("podman", Push), check!("podman", Pull), check!("podman", Copy), check!("podman", Tags)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crane,
    Skopeo,
    Podman,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Crane => "crane",
            Kind::Skopeo => "skopeo",
            Kind::Podman => "podman",
        }
    }
    fn checks(self) -> &'static [CheckMeta] {
        match self {
            Kind::Crane => &CRANE,
            Kind::Skopeo => &SKOPEO,
            Kind::Podman => &PODMAN,
        }
    }
    /// The client's check for `op`; None when the client has no command for it.
    fn check(self, op: Op) -> Option<&'static CheckMeta> {
        let suffix = format!(".{}", op.name());
        self.checks().iter().find(|m| m.id.ends_with(&suffix))
    }
    fn id(self, op: Op) -> &'static str {
        self.check(op).map_or("", |m| m.id)
    }
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Push => "push",
            Op::Pull => "pull",
            Op::Index => "index",
            Op::Artifact => "artifact",
            Op::Copy => "copy",
            Op::Tags => "tags",
            Op::Delete => "delete",
        }
    }
}

/// Client failures that are the client's own, not the registry's: (client, op, text in its
/// stderr, why). Each entry is documented in the README's clients section.
const LIMITATIONS: &[(Kind, Op, &str, &str)] = &[];

pub fn scenarios() -> Vec<Scenario> {
    fn one(name: &'static str, kind: Kind) -> Scenario {
        let run: fn(Sc) -> crate::runner::ScenarioFuture = match kind {
            Kind::Crane => |sc| Box::pin(client(sc, Kind::Crane)),
            Kind::Skopeo => |sc| Box::pin(client(sc, Kind::Skopeo)),
            Kind::Podman => |sc| Box::pin(client(sc, Kind::Podman)),
        };
        Scenario { name, bucket: Bucket::Clients, checks: kind.checks().iter().collect(), exclusive: true, run }
    }
    vec![one("clients.crane", Kind::Crane), one("clients.skopeo", Kind::Skopeo), one("clients.podman", Kind::Podman)]
}

/// One client, set up to reach the run's registry with the run's TLS settings and credentials.
struct Client {
    kind: Kind,
    prog: PathBuf,
    version: String,
    /// umoci, for skopeo's pulls (unpacked and compared file by file when present).
    umoci: Option<PathBuf>,
    dir: ScratchDir,
    /// host[:port] of the registry, as image references name it.
    host: String,
    /// TLS verification off: plain HTTP or --insecure.
    no_verify: bool,
    /// Directory holding the --ca-cert file as ca.crt (skopeo, podman) and the file (crane).
    ca: Option<(PathBuf, PathBuf)>,
    /// Docker config directory holding config.json with the run's credentials.
    auth: Option<PathBuf>,
    ctx: Arc<RunCtx>,
}

impl Client {
    fn new(sc: &Sc, kind: Kind) -> Result<Client, String> {
        let cfg = sc.cfg();
        let prog = crate::tool::locate(kind.name(), cfg.client_tools.get(kind.name()).map(PathBuf::as_path))?;
        let umoci = (kind == Kind::Skopeo)
            .then(|| crate::tool::locate("umoci", cfg.client_tools.get("umoci").map(PathBuf::as_path)).ok())
            .flatten();
        let dir = ScratchDir::new(kind.name()).map_err(|e| format!("cannot make a scratch directory: {e}"))?;
        let base = &sc.client().base;
        let host = match base.port() {
            Some(p) => format!("{}:{p}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        if base.path().trim_end_matches('/') != "" {
            return Err(format!("the registry URL has a path ({}); image references cannot name one", base.path()));
        }
        let opts = &sc.client().opts;
        let no_verify = base.scheme() == "http" || opts.insecure;
        let ca = match &opts.ca_cert_pem {
            Some(pem) => {
                let d = dir.path().join("certs");
                std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
                std::fs::write(d.join("ca.crt"), pem).map_err(|e| e.to_string())?;
                Some((d.clone(), d.join("ca.crt")))
            }
            None => None,
        };
        let auth = match (&opts.username, &opts.password) {
            (Some(u), Some(p)) => {
                use base64::Engine;
                let d = dir.path().join("docker");
                std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                let conf = json!({"auths": {host.clone(): {"auth": token}}});
                std::fs::write(d.join("config.json"), serde_json::to_vec(&conf).unwrap()).map_err(|e| e.to_string())?;
                crate::trace::register_secret(&token);
                Some(d)
            }
            _ => None,
        };
        std::fs::create_dir_all(dir.path().join("tmp")).map_err(|e| e.to_string())?;
        Ok(Client { kind, prog, version: String::new(), umoci, dir, host, no_verify, ca, auth, ctx: sc.ctx.clone() })
    }

    fn limit(&self) -> std::time::Duration {
        self.ctx.cfg.client_timeout
    }

    /// The program with the environment every invocation gets.
    fn base(&self, prog: &Path) -> Command {
        let mut c = Command::new(prog)
            .env("HOME", self.dir.path().to_string_lossy())
            .env("TMPDIR", self.dir.path().join("tmp").to_string_lossy());
        if let Some(a) = &self.auth {
            c = c.env("DOCKER_CONFIG", a.to_string_lossy());
        }
        if let Some((_, file)) = &self.ca {
            c = c.env("SSL_CERT_FILE", file.to_string_lossy());
        }
        if self.kind == Kind::Podman {
            let d = self.dir.path();
            c = c.args([
                "--root".to_string(),
                d.join("storage").to_string_lossy().into_owned(),
                "--runroot".into(),
                d.join("run").to_string_lossy().into_owned(),
                "--storage-driver".into(),
                "vfs".into(),
                "--events-backend".into(),
                "none".into(),
                "--cgroup-manager".into(),
                "cgroupfs".into(),
            ]);
        }
        c
    }

    fn cmd(&self) -> Command {
        self.base(&self.prog)
    }

    /// TLS and credential flags of skopeo and podman, for a direction ("src", "dest" or "").
    fn containers_flags(&self, dir: &str) -> Vec<String> {
        self.flags(dir, true)
    }

    /// As `containers_flags`, for commands without --cert-dir (podman search), which trust the
    /// CA through SSL_CERT_FILE.
    fn flags(&self, dir: &str, cert_dir: bool) -> Vec<String> {
        let p = |s: &str| if dir.is_empty() { format!("--{s}") } else { format!("--{dir}-{s}") };
        let mut v = vec![format!("{}={}", p("tls-verify"), !self.no_verify)];
        if let Some((d, _)) = self.ca.as_ref().filter(|_| cert_dir) {
            v.push(p("cert-dir"));
            v.push(d.to_string_lossy().into_owned());
        }
        if let Some(a) = &self.auth {
            v.push(p("authfile"));
            v.push(a.join("config.json").to_string_lossy().into_owned());
        }
        v
    }

    fn crane(&self, args: &[&str]) -> Command {
        let mut c = self.cmd().args(args.iter().copied());
        if self.no_verify {
            c = c.arg("--insecure");
        }
        c
    }

    fn reference(&self, repo: &str, tag_or_digest: &str) -> String {
        let sep = if tag_or_digest.contains(':') { "@" } else { ":" };
        format!("{}/{repo}{sep}{tag_or_digest}", self.host)
    }

    async fn run(&self, ck: &mut Ck, c: Command) -> Ran {
        if ck.trace.is_empty() {
            ck.note(format!("{} {}", self.kind.name(), self.version));
        }
        c.run(self.limit(), &self.ctx.client.cancel, &ck.trace).await
    }

    /// Runs a check's body; a violation the harness saw itself names the protocol checks of
    /// this run that failed on the same path, when there are any.
    async fn judged(&self, op: Op, ck: &mut Ck, body: impl AsyncFnOnce(&mut Ck) -> Res) -> Res {
        match body(ck).await {
            Err(Fail::Violation { level, message }) if !message.contains(EXPLAINED) => {
                let (failed, _) = related(&self.ctx, self.kind.id(op));
                let message = if failed.is_empty() {
                    message
                } else {
                    format!("{message}. {EXPLAINED}: the protocol checks {} failed in this run on the same path", failed.join(", "))
                };
                Err(Fail::Violation { level, message })
            }
            r => r,
        }
    }

    async fn version(&mut self) -> String {
        let c = match self.kind {
            Kind::Crane => self.cmd().arg("version"),
            Kind::Skopeo | Kind::Podman => self.cmd().arg("--version"),
        };
        let r = c.run(self.limit(), &self.ctx.client.cancel, &Default::default()).await;
        // "skopeo version 1.9.3" → "1.9.3"; crane prints "v0.21.9"
        let line = r.stdout.lines().next().unwrap_or_default().trim();
        let v = line.strip_prefix(self.kind.name()).map_or(line, |l| l.trim_start().trim_start_matches("version").trim()).to_string();
        self.version = if v.is_empty() { "unknown version".into() } else { v };
        self.version.clone()
    }

    /// Pushes the layout's manifest named `name` to `repo:tag`. Returns the digest the client
    /// says it pushed, when it says (podman), else None.
    async fn push_layout(&self, ck: &mut Ck, layout: &Path, name: &str, repo: &str, tag: &str, index: bool) -> Result<Option<String>, Ran> {
        let dest = self.reference(repo, tag);
        let lay = layout.to_string_lossy();
        match self.kind {
            Kind::Crane => {
                let r = self.run(ck, self.crane(&["push", &lay, &dest])).await;
                r.ok().then_some(None).ok_or(r)
            }
            Kind::Skopeo => {
                let mut c = self.cmd().args(["--insecure-policy", "copy", "--preserve-digests"]);
                if index {
                    c = c.arg("--all");
                }
                let c = c.args(self.containers_flags("dest")).args([format!("oci:{lay}:{name}"), format!("docker://{dest}")]);
                let r = self.run(ck, c).await;
                r.ok().then_some(None).ok_or(r)
            }
            Kind::Podman => {
                let r = self.run(ck, self.cmd().args(["pull", "-q", &format!("oci:{lay}:{name}")])).await;
                if !r.ok() {
                    return Err(r);
                }
                self.podman_push(ck, r.stdout.trim(), &dest).await.map(Some)
            }
        }
    }

    /// podman push of a local image; the digest it pushed (it may re-encode layers).
    async fn podman_push(&self, ck: &mut Ck, image: &str, dest: &str) -> Result<String, Ran> {
        let file = self.dir.path().join("digest");
        let _ = std::fs::remove_file(&file);
        let c = self.cmd().arg("push").args(self.containers_flags("")).args([
            "--digestfile".to_string(),
            file.to_string_lossy().into_owned(),
            image.to_string(),
            format!("docker://{dest}"),
        ]);
        let r = self.run(ck, c).await;
        match std::fs::read_to_string(&file) {
            Ok(d) if r.ok() => Ok(d.trim().to_string()),
            _ => Err(r),
        }
    }

    /// The raw manifest at `reference` as the client reads it.
    async fn raw_manifest(&self, ck: &mut Ck, repo: &str, reference: &str) -> Result<Vec<u8>, Ran> {
        let r = self.reference(repo, reference);
        let c = match self.kind {
            Kind::Crane => self.crane(&["manifest", &r]),
            _ => self.cmd().args(["inspect", "--raw"]).args(self.containers_flags("")).arg(format!("docker://{r}")),
        };
        let ran = self.run(ck, c).await;
        if ran.ok() {
            Ok(ran.stdout.clone().into_bytes())
        } else {
            Err(ran)
        }
    }
}

async fn client(mut sc: Sc, kind: Kind) {
    let checks: Vec<&'static CheckMeta> = kind.checks().iter().collect();
    let mut c = match Client::new(&sc, kind) {
        Ok(c) => c,
        Err(why) => {
            for m in &checks {
                sc.skip(m, &why);
            }
            return;
        }
    };
    c.version().await;
    let ns = sc.ns().to_string();
    let ns2 = sc.ns2().to_string();
    let gen = sc.gen.scope(kind.name());
    let image = RootfsImage::new(&gen, "image", "amd64");
    let source = RootfsImage::new(&gen, "source", "amd64");
    let (amd, arm) = (RootfsImage::new(&gen, "index-amd64", "amd64"), RootfsImage::new(&gen, "index-arm64", "arm64"));
    let index = platform_index(&[(&amd, "amd64"), (&arm, "arm64")]);
    let art_layer = gen.blob("artifact", 512).with_media_type("application/vnd.oci.conformance.client-test");
    let empty = Blob::empty_config();
    let artifact = image_manifest(
        &empty.descriptor(),
        &[art_layer.descriptor()],
        &ManifestOpts::default().artifact_type("application/vnd.oci.conformance.client-test+type").subject(source.manifest.descriptor()),
    );
    let tag = |l: &str| sc.tag(&format!("{}-{l}", kind.name()));
    let (t_push, t_pull, t_index, t_art, t_copy) = (tag("push"), tag("pull"), tag("index"), tag("artifact"), tag("copy"));
    // One layout per manifest: crane pushes a layout of exactly one entry.
    let lay = |name: &str| c.dir.path().join(format!("layout-{name}"));
    let blobs = [&image.config, &image.layer, &amd.config, &amd.layer, &arm.config, &arm.layer, &amd.manifest_blob(), &arm.manifest_blob(), &empty, &art_layer];
    let written = [(&image.manifest, "image"), (&index, "index"), (&artifact, "artifact")]
        .into_iter()
        .try_for_each(|(m, name)| layout::write(&lay(name), &blobs, &[(m, name)]));
    if let Err(e) = written {
        for m in &checks {
            sc.skip(m, &format!("cannot write the OCI layout for {}: {e}", kind.name()));
        }
        return;
    }
    let pushed = setup_with(&mut sc, "push the image the client pulls", async |sc| {
        for b in source.blobs() {
            push_blob(sc, &ns, b).await?;
        }
        push_manifest(sc, &ns, &source.manifest, &t_pull, RANK_IMAGE).await
    })
    .await;
    if pushed.is_none() {
        return;
    }
    let cleanup = &sc.ctx.clone().cleanup;
    let c = &c;
    let why = |ck: &Ck, op: Op, what: &str, ran: &Ran| explain(c, op, ck, what, ran);

    if let Some(m) = kind.check(Op::Push) {
    sc.check(m, async |ck| c.judged(Op::Push, ck, async |ck| {
        let told = match c.push_layout(ck, &lay("image"), "image", &ns, &t_push, false).await {
            Ok(d) => d,
            Err(ran) => return Err(why(ck, Op::Push, "push the image", &ran)),
        };
        cleanup.tag(&ns, &t_push);
        if let Some(d) = told.filter(|d| *d != image.manifest.digest.to_string()) {
            ck.note(format!("{} re-encoded the image (layers compressed) and pushed it as {d}; the registry serves that byte-exact", kind.name()));
            return verify_by_digest(ck, cleanup, &ns, &t_push, &d).await;
        }
        record_image(cleanup, &ns, &image.manifest, &image.blobs());
        verify_image(ck, &ns, &t_push, &image.manifest, &image.blobs()).await
    }).await)
    .await;
    }

    if let Some(m) = kind.check(Op::Pull) {
    sc.check(m, async |ck| c.judged(Op::Pull, ck, async |ck| {
        let src = c.reference(&ns, &t_pull);
        match kind {
            Kind::Podman => {
                let r = c.run(ck, c.cmd().arg("pull").args(c.containers_flags("")).arg(&src)).await;
                if !r.ok() {
                    return Err(why(ck, Op::Pull, "pull the image", &r));
                }
                let r = c.run(ck, c.cmd().args(["image", "inspect", "--format", "{{.Id}} {{.Digest}}", &src])).await;
                if !r.ok() {
                    return Err(why(ck, Op::Pull, "inspect the pulled image", &r));
                }
                let want = format!("{} {}", source.config.digest().hex, source.manifest.digest);
                ck.expect(r.stdout.trim() == want, Rule::req("pull.manifest.get-200"), || {
                    format!("podman pulled image id and digest {:?}; the harness pushed config {} in manifest {}", r.stdout.trim(), source.config.digest(), source.manifest.digest)
                })
            }
            _ => {
                let out = c.dir.path().join("pulled");
                let _ = std::fs::remove_dir_all(&out);
                let o = out.to_string_lossy().into_owned();
                let cmd = match kind {
                    Kind::Crane => c.crane(&["pull", "--format", "oci", &src, &o]),
                    _ => c.cmd().args(["--insecure-policy", "copy", "--preserve-digests"]).args(c.containers_flags("src")).args([format!("docker://{src}"), format!("oci:{o}:pulled")]),
                };
                let r = c.run(ck, cmd).await;
                if !r.ok() {
                    return Err(why(ck, Op::Pull, "pull the image", &r));
                }
                compare_layout(ck, &out, &source)?;
                if let (Kind::Skopeo, Some(umoci)) = (kind, &c.umoci) {
                    unpack_and_compare(ck, c, umoci, &o, &source).await?;
                }
                Ok(())
            }
        }
    }).await)
    .await;
    }

    if let Some(m) = kind.check(Op::Index) {
        {
            sc.check(m, async |ck| c.judged(Op::Index, ck, async |ck| {
                if let Err(ran) = c.push_layout(ck, &lay("index"), "index", &ns, &t_index, true).await {
                    return Err(why(ck, Op::Index, "push the index", &ran));
                }
                record_manifest(cleanup, &ns, &index, &t_index, RANK_INDEX);
                for i in [&amd, &arm] {
                    cleanup.manifest(&ns, &i.manifest.digest.to_string(), RANK_IMAGE);
                    for b in i.blobs() {
                        cleanup.blob(&ns, &b.digest().to_string());
                    }
                }
                verify_manifest(ck, &ns, &t_index, &index).await?;
                for i in [&amd, &arm] {
                    verify_image(ck, &ns, &i.manifest.digest.to_string(), &i.manifest, &i.blobs()).await?;
                }
                Ok(())
            }).await)
            .await;
        }
    }

    if let Some(m) = kind.check(Op::Artifact) {
        {
            sc.check(m, async |ck| c.judged(Op::Artifact, ck, async |ck| {
                if let Err(ran) = c.push_layout(ck, &lay("artifact"), "artifact", &ns, &t_art, false).await {
                    return Err(why(ck, Op::Artifact, "push the artifact", &ran));
                }
                record_manifest(cleanup, &ns, &artifact, &t_art, RANK_REFERRER);
                cleanup.blob(&ns, &art_layer.digest().to_string());
                verify_manifest(ck, &ns, &t_art, &artifact).await?;
                match c.raw_manifest(ck, &ns, &artifact.digest.to_string()).await {
                    Ok(bytes) => ck.expect(bytes == artifact.bytes, Rule::req("pull.manifest.get-200"), || {
                        format!("{} read the artifact back as {} bytes that differ from the {} bytes pushed", kind.name(), bytes.len(), artifact.bytes.len())
                    })?,
                    Err(ran) => return Err(why(ck, Op::Artifact, "read the artifact back", &ran)),
                }
                listed_as_referrer(ck, &ns, &source.manifest, &artifact).await
            }).await)
            .await;
        }
    }

    if let Some(m) = kind.check(Op::Copy) {
    sc.check(m, async |ck| c.judged(Op::Copy, ck, async |ck| {
        if kind == Kind::Podman && !sc_passed(&c.ctx, kind.id(Op::Pull)) {
            return Err(Fail::Skip(format!("podman copies the image it pulled in {}, which did not pass", kind.id(Op::Pull))));
        }
        let (from, to) = (c.reference(&ns, &t_pull), c.reference(&ns2, &t_copy));
        let what = "copy the image to the second repository";
        let cmd = match kind {
            Kind::Crane => c.crane(&["copy", &from, &to]),
            Kind::Skopeo => c.cmd().args(["--insecure-policy", "copy", "--preserve-digests"]).args(c.containers_flags("src")).args(c.containers_flags("dest")).args([format!("docker://{from}"), format!("docker://{to}")]),
            // What podman pulled in the pull check, pushed to the second repository.
            Kind::Podman => {
                let d = c.podman_push(ck, &from, &to).await.map_err(|r| why(ck, Op::Copy, what, &r))?;
                cleanup.tag(&ns2, &t_copy);
                return verify_by_digest(ck, cleanup, &ns2, &t_copy, &d).await;
            }
        };
        let r = c.run(ck, cmd).await;
        if !r.ok() {
            return Err(why(ck, Op::Copy, what, &r));
        }
        cleanup.tag(&ns2, &t_copy);
        record_image(cleanup, &ns2, &source.manifest, &source.blobs());
        verify_image(ck, &ns2, &t_copy, &source.manifest, &source.blobs()).await
    }).await)
    .await;
    }

    if let Some(m) = kind.check(Op::Tags) {
    sc.check(m, async |ck| c.judged(Op::Tags, ck, async |ck| {
        let repo = format!("{}/{ns}", c.host);
        let cmd = match kind {
            Kind::Crane => c.crane(&["ls", &repo]),
            Kind::Skopeo => c.cmd().arg("list-tags").args(c.containers_flags("")).arg(format!("docker://{repo}")),
            Kind::Podman => c.cmd().args(["search", "--list-tags", "--limit", "100000"]).args(c.flags("", false)).arg(&repo),
        };
        let r = c.run(ck, cmd).await;
        if !r.ok() {
            return Err(why(ck, Op::Tags, "list the tags", &r));
        }
        let listed: Vec<String> = match kind {
            Kind::Skopeo => serde_json::from_str::<serde_json::Value>(&r.stdout)
                .ok()
                .and_then(|v| v["Tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()))
                .unwrap_or_default(),
            // podman prints a NAME TAG table (it ignores --format for --list-tags)
            Kind::Podman => r.stdout.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).map(str::to_string).collect(),
            Kind::Crane => r.stdout.lines().map(|l| l.trim().to_string()).collect(),
        };
        let mut want = vec![&t_pull];
        if sc_passed(&c.ctx, kind.id(Op::Push)) {
            want.push(&t_push);
        }
        let missing: Vec<&&String> = want.iter().filter(|t| !listed.contains(t)).collect();
        ck.expect(missing.is_empty(), Rule::req("discovery.tags.body-content"), || {
            format!("{} listed {} tags of {ns} without {missing:?}, which are in the repository", kind.name(), listed.len())
        })
    }).await)
    .await;
    }

    if let Some(m) = kind.check(Op::Delete) {
        {
            sc.check(m, async |ck| c.judged(Op::Delete, ck, async |ck| {
                // The copy in the second repository: deleting it leaves the first intact.
                if !sc_passed(&c.ctx, kind.id(Op::Copy)) {
                    return Err(Fail::Skip(format!("needs the copy of {} which did not pass", kind.id(Op::Copy))));
                }
                let target = c.reference(&ns2, &source.manifest.digest.to_string());
                let cmd = match kind {
                    Kind::Crane => c.crane(&["delete", &target]),
                    _ => c.cmd().arg("delete").args(c.containers_flags("")).arg(format!("docker://{target}")),
                };
                let r = c.run(ck, cmd).await;
                if !r.ok() {
                    return Err(why(ck, Op::Delete, "delete the manifest", &r));
                }
                let r = send(ck, get_manifest(&ns2, &source.manifest.digest.to_string())).await?;
                ck.expect_status(&r, &[404], Rule::req("pull.manifest.unknown-404"))
            }).await)
            .await;
        }
    }
}

/// The outcome of a check of this run (another scenario's too) is Passed or Warned.
fn sc_passed(ctx: &RunCtx, id: &str) -> bool {
    matches!(ctx.outcomes.lock().unwrap().get(id), Some(Outcome::Passed | Outcome::Warned))
}

/// Why a client command failed. A protocol check of this run that failed on the same path
/// (the requirements the client check names) is the registry fault that explains it; one that
/// found the feature unsupported makes this unsupported too; a documented limitation of the
/// client is unsupported; anything else is an unexplained incompatibility.
fn explain(c: &Client, op: Op, ck: &Ck, what: &str, ran: &Ran) -> Fail {
    let kind = c.kind;
    let id = kind.id(op);
    let (failed, unsupported) = related(&c.ctx, id);
    let head = format!("{} ({}) could not {what}: {}", kind.name(), c.version, ran.summary());
    if !failed.is_empty() {
        return ck.fail(
            op_rule(op),
            format!("{head}. {EXPLAINED}: the protocol checks {} failed in this run on the same path", failed.join(", ")),
        );
    }
    if !unsupported.is_empty() {
        return Fail::Unsupported(format!("{head}. The registry declines this in a way the spec allows ({} unsupported in this run)", unsupported.join(", ")));
    }
    if let Some((.., why)) = LIMITATIONS.iter().find(|(k, o, text, _)| *k == kind && *o == op && ran.stderr.contains(text)) {
        return Fail::Unsupported(format!("{head}. Known client limitation: {why}"));
    }
    ck.fail(
        op_rule(op),
        format!("{head}. No protocol check of this run failed on this path (run the default buckets too, if they did not run): an incompatibility the protocol checks do not see, or a client limitation not yet known; the client's output is in the trace"),
    )
}

/// How a client verdict that protocol checks explain says so.
const EXPLAINED: &str = "Registry fault";

/// The protocol checks of this run, on the requirements client check `id` names, that failed
/// and that found the feature unsupported.
fn related(ctx: &RunCtx, id: &str) -> (Vec<String>, Vec<String>) {
    let (mut failed, mut unsupported) = (vec![], vec![]);
    let outcomes = ctx.outcomes.lock().unwrap();
    for req in super::catalog::requirements_for(id) {
        for c in req.checks.iter().filter(|c| !c.starts_with("clients.")) {
            match outcomes.get(c.as_str()) {
                Some(Outcome::Failed | Outcome::ExpectedFailure) if !failed.contains(c) => failed.push(c.clone()),
                Some(Outcome::Unsupported) if !unsupported.contains(c) => unsupported.push(c.clone()),
                _ => {}
            }
        }
    }
    (failed, unsupported)
}

/// The requirement a failed client operation breaks on its face.
fn op_rule(op: Op) -> Rule {
    Rule::req(match op {
        Op::Push | Op::Index | Op::Artifact => "push.manifest.created-201",
        Op::Pull => "pull.manifest.get-200",
        Op::Copy => "push.mount.created-201",
        Op::Tags => "discovery.tags.list-200",
        Op::Delete => "management.manifest.delete-202",
    })
}

/// An index of `images` with their platforms (clients select by platform).
fn platform_index(images: &[(&RootfsImage, &str)]) -> Manifest {
    let manifests: Vec<_> = images
        .iter()
        .map(|(i, arch)| {
            let mut d = i.manifest.descriptor().to_json();
            d["platform"] = json!({"architecture": arch, "os": "linux"});
            d
        })
        .collect();
    let body = json!({"schemaVersion": 2, "mediaType": content::MT_INDEX, "manifests": manifests});
    Manifest::raw(content::MT_INDEX, bytes::Bytes::from(serde_json::to_vec(&body).unwrap()))
}

impl RootfsImage {
    /// The manifest as a blob of a layout (an index's images live under blobs/).
    fn manifest_blob(&self) -> Blob {
        Blob::literal(self.manifest.bytes.clone(), &self.manifest.media_type)
    }
}

/// The manifest at `reference` is `m`, byte for byte.
async fn verify_manifest(ck: &mut Ck, repo: &str, reference: &str, m: &Manifest) -> Res {
    let r = send(ck, get_manifest(repo, reference)).await?;
    ck.expect_status(&r, &[200], Rule::req("pull.manifest.get-200"))?;
    expect_manifest_body(ck, &r, m, R_EXACT_BYTES)
}

/// The image is served byte-exact: its manifest at `reference` and every blob.
async fn verify_image(ck: &mut Ck, repo: &str, reference: &str, m: &Manifest, blobs: &[&Blob]) -> Res {
    verify_manifest(ck, repo, reference, m).await?;
    for b in blobs {
        let r = send(ck, get_blob(repo, b.digest())).await?;
        expect_blob_body(ck, &r, b, Rule::req("pull.blob.get-200"))?;
    }
    Ok(())
}

/// Records a pushed image for cleanup (its tag is recorded apart).
fn record_image(cleanup: &crate::runner::Cleanup, repo: &str, m: &Manifest, blobs: &[&Blob]) {
    cleanup.manifest(repo, &m.digest.to_string(), RANK_IMAGE);
    for b in blobs {
        cleanup.blob(repo, &b.digest().to_string());
    }
}

/// A re-encoded push: the manifest at `reference` hashes to the digest the client reported,
/// and every blob it names is served with bytes that hash to the blob's digest. What it names
/// is recorded for cleanup.
async fn verify_by_digest(ck: &mut Ck, cleanup: &crate::runner::Cleanup, repo: &str, reference: &str, digest: &str) -> Res {
    cleanup.manifest(repo, digest, RANK_IMAGE);
    let r = send(ck, get_manifest(repo, reference)).await?;
    ck.expect_status(&r, &[200], Rule::req("pull.manifest.get-200"))?;
    let got = Digest::sha256(&r.body).to_string();
    ck.expect(got == digest, R_EXACT_BYTES, || {
        format!("the manifest at {reference} hashes to {got}; the client pushed {digest}")
    })?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let named = std::iter::once(&v["config"]).chain(v["layers"].as_array().into_iter().flatten());
    for d in named.filter_map(|d| d["digest"].as_str().and_then(Digest::parse)) {
        cleanup.blob(repo, &d.to_string());
        let r = send(ck, get_blob(repo, &d)).await?;
        ck.expect_status(&r, &[200], Rule::req("pull.blob.get-200"))?;
        let got = r.hashed.as_ref().map(|(h, _)| h.clone()).unwrap_or_else(|| Digest::of(d.algorithm, &r.body));
        ck.expect(got == d, Rule::req("pull.blob.get-200"), || format!("blob {d} is served with bytes that hash to {got}"))?;
    }
    Ok(())
}

/// What the client wrote to the layout is the image the harness pushed.
fn compare_layout(ck: &Ck, dir: &Path, img: &RootfsImage) -> Res {
    let rule = Rule::req("pull.manifest.get-200");
    let entries = layout::entries(dir).map_err(|e| ck.fail(rule, format!("the pulled layout: {e}")))?;
    let got: Vec<&str> = entries.iter().map(|e| e.digest.as_str()).collect();
    ck.expect(got.contains(&img.manifest.digest.to_string().as_str()), rule, || {
        format!("the client pulled manifest(s) {got:?}; the registry holds {} at that tag", img.manifest.digest)
    })?;
    for b in [&img.config, &img.layer] {
        let bytes = layout::blob(dir, &b.digest().to_string()).map_err(|e| ck.fail(Rule::req("pull.blob.get-200"), format!("the pulled layout: {e}")))?;
        ck.expect(bytes == b.bytes(), Rule::req("pull.blob.get-200"), || format!("blob {} differs from the one pushed", b.digest()))?;
    }
    Ok(())
}

/// umoci unpacks the pulled layout; its files are the seeded files.
async fn unpack_and_compare(ck: &mut Ck, c: &Client, umoci: &Path, layout: &str, img: &RootfsImage) -> Res {
    let bundle = c.dir.path().join("bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    let r = c.run(ck, c.base(umoci).args(["unpack", "--rootless", "--image", &format!("{layout}:pulled"), &bundle.to_string_lossy()])).await;
    if !r.ok() {
        return Err(ck.fail(Rule::req("pull.blob.get-200"), format!("umoci could not unpack what skopeo pulled: {}", r.summary())));
    }
    for (name, data) in &img.files {
        let got = std::fs::read(bundle.join("rootfs").join(name)).unwrap_or_default();
        ck.expect(&got == data, Rule::req("pull.blob.get-200"), || format!("the unpacked file {name} differs from the one in the pushed layer"))?;
    }
    ck.note(format!("umoci unpacked {} files as pushed", img.files.len()));
    Ok(())
}

/// The artifact is listed among the subject's referrers (when the registry has the API).
async fn listed_as_referrer(ck: &mut Ck, repo: &str, subject: &Manifest, artifact: &Manifest) -> Res {
    let r = send(ck, Request::get(format!("/v2/{repo}/referrers/{}", subject.digest))).await?;
    if r.status == 404 {
        ck.note("no referrers API (404): the listing is not checked");
        return Ok(());
    }
    ck.expect_status(&r, &[200], Rule::req("referrers.api.found-200"))?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let listed = v["manifests"].as_array().is_some_and(|a| a.iter().any(|d| d["digest"] == artifact.digest.to_string()));
    ck.expect(listed, Rule::req("referrers.api.found-200"), || {
        format!("the referrers of {} do not list the artifact {} a client pushed with that subject", subject.digest, artifact.digest)
    })
}
