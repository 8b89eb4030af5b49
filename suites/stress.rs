//! Registries under concurrency (opt-in bucket `stress`). Each check states an invariant with
//! the spec sentence behind it, then runs `--repeat` rounds of concurrent requests (seeded
//! content, `--stress-concurrency` workers) and judges every answer. A violation names the
//! request, what it got, the requests that ran around it (times from the round's start), the
//! seed and in how many rounds it broke. Every check reports its figures (requests, statuses,
//! latency percentiles by kind of request). Scenarios run alone (`exclusive`): their load is
//! their own.

use super::common::*;
use crate::client::{HttpError, Request, Response};
use crate::load::{self, Round, Tally, SETUP};
use crate::prelude::*;
use crate::runner::RunCtx;
use futures_util::future::join_all;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PUSH_BLOB: &[&str] = &["push.post-put.put-201", "push.chunked.close-201", "push.mount.created-201", "pull.blob.get-200"];

#[derive(Debug, Clone, Copy)]
enum Kind {
    SameDigest,
    SharedBlobs,
    SameManifest,
    TagMove,
    DeleteRace,
    ParallelSessions,
    ReferrersSameSubject,
    TagSchema,
}

declare_checks! {
    /// Every stress scenario, each run alone (`exclusive`): its load is its own.
    pub fn scenarios(Bucket::Stress);

    "stress.same-digest" exclusive => stress(&SAME_DIGEST, Kind::SameDigest) {
        pub const SAME_DIGEST = CheckMeta::new("stress.blob.same-digest", Bucket::Stress, Level::Must, "pushing-blobs", "one blob pushed at once by many sessions (monolithic, chunked, mount) while it is read: every push succeeds, every read gets its bytes").reqs(PUSH_BLOB);
    }

    "stress.shared-blobs" exclusive => stress(&SHARED_BLOBS, Kind::SharedBlobs) {
        pub const SHARED_BLOBS = CheckMeta::new("stress.manifest.shared-blobs", Bucket::Stress, Level::Must, "pushing-manifests", "manifests that share config and layers pushed at once, each after its blobs: every push succeeds, every manifest reads back").reqs(&["push.post-put.put-201", "push.manifest.created-201", "pull.manifest.get-200"]);
    }

    "stress.same-manifest" exclusive => stress(&SAME_MANIFEST, Kind::SameManifest) {
        pub const SAME_MANIFEST = CheckMeta::new("stress.manifest.same-manifest", Bucket::Stress, Level::Must, "pushing-manifests", "one manifest pushed at once by digest and by one tag: every push succeeds, both read back").reqs(&["push.manifest.created-201", "pull.manifest.get-200"]);
    }

    "stress.tag-move" exclusive => stress(&TAG_MOVE, Kind::TagMove) {
        pub const TAG_MOVE = CheckMeta::new("stress.tag.move-while-reading", Bucket::Stress, Level::Must, "pulling-manifests", "a tag moved between manifests while readers GET it: every read is one of them, never a 404 or mixed bytes").reqs(&["push.manifest.created-201", "pull.manifest.get-200", "pull.manifest.digest-header"]);
    }

    "stress.delete-race" exclusive => stress(&DELETE_RACE, Kind::DeleteRace) {
        pub const DELETE_RACE = CheckMeta::new("stress.delete.racing-reads", Bucket::Stress, Level::Must, "deleting-manifests", "deletes racing reads, mounts and other pushes: reads get the content or (once deleted) 404, deletes succeed").reqs(&["management.manifest.delete-202", "management.blob.delete-202", "pull.manifest.get-200", "pull.blob.get-200", "push.mount.created-201"]);
    }

    "stress.parallel-sessions" exclusive => stress(&PARALLEL_SESSIONS, Kind::ParallelSessions) {
        pub const PARALLEL_SESSIONS = CheckMeta::new("stress.upload.parallel-sessions", Bucket::Stress, Level::Must, "pushing-a-blob-in-chunks", "many chunked uploads at once: each session has its own location, offsets and bytes").reqs(&["push.post-put.session-id", "push.chunked.patch-accepted", "push.chunked.close-201", "pull.blob.get-200"]);
    }

    "stress.referrers-same-subject" exclusive => stress(&REFERRERS_SAME_SUBJECT, Kind::ReferrersSameSubject) {
        pub const REFERRERS_SAME_SUBJECT = CheckMeta::new("stress.referrers.same-subject", Bucket::Stress, Level::Must, "listing-referrers", "referrers pushed at once to one subject: every one is listed, every descriptor is right").reqs(&["push.manifest.created-201", "referrers.api.found-200", "referrers.api.descriptor-scope", "referrers.api.artifact-type-copied", "referrers.upgrade.new-pushes"]).since(SpecVersion::V1_1);
    }

    "stress.tag-schema" exclusive => stress(&TAG_SCHEMA, Kind::TagSchema) {
        pub const TAG_SCHEMA = CheckMeta::new("stress.referrers.tag-schema", Bucket::Stress, Level::Should, "pushing-manifests-with-subject", "clients updating one referrers tag at once (the fallback without a referrers API): ETag and If-Match support, and how many referrers are lost with and without them").reqs(&["push.manifest.created-201"]).since(SpecVersion::V1_1);
    }
}

/// A broken invariant: the call that showed it (an index into the round's calls), the rule and
/// what happened.
struct Violation {
    call: Option<usize>,
    level: Option<Level>,
    rule: Rule,
    detail: String,
}

fn violation(call: usize, rule: &'static str, detail: impl Into<String>) -> Violation {
    Violation { call: Some(call), level: None, rule: Rule::req(rule), detail: detail.into() }
}

/// What one round of a scenario works with.
struct Ctx<'a> {
    run: &'a RunCtx,
    round: &'a Round,
    gen: Generator,
    /// The round's number, in tags.
    r: u32,
    workers: usize,
}

impl Ctx<'_> {
    fn ns(&self) -> &str {
        &self.run.cfg.namespace
    }
    fn ns2(&self) -> &str {
        &self.run.cfg.crossmount_namespace
    }
    fn tag(&self, label: &str) -> String {
        format!("stress-{label}-{}-r{}", self.run.run_id, self.r)
    }
    async fn send(&self, w: usize, req: Request) -> (usize, Result<Response, HttpError>) {
        self.round.send(w, req).await
    }
    /// `REQUEST answered STATUS CODES`, for messages.
    fn said(&self, i: usize) -> String {
        self.round.call(i).map(|c| format!("{} answered {}", c.request, c.ending())).unwrap_or_default()
    }
    /// Sends and expects one of `ok`: Ok(Some) when it came, Ok(None) for a 429 (the registry
    /// declined the load, which the spec allows), else the violation of `rule`.
    async fn expect(&self, w: usize, req: Request, ok: &[u16], rule: &'static str) -> Result<Option<Response>, Violation> {
        let (i, res) = self.send(w, req).await;
        match res {
            Ok(r) if ok.contains(&r.status) => Ok(Some(r)),
            Ok(r) if r.status == 429 => Ok(None),
            _ => Err(violation(i, rule, self.said(i))),
        }
    }

    /// Setup before the concurrent part: a monolithic blob push that must work.
    async fn setup_blob(&self, repo: &str, blob: &Blob) -> Res {
        match self.push_monolithic(SETUP, repo, blob).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Fail::Skip(format!("setup: the registry declined the load (429) pushing blob {} to {repo}", blob.digest()))),
            Err(v) => Err(Fail::Skip(format!("setup: pushing blob {} to {repo} failed: {}", blob.digest(), v.detail))),
        }
    }
    /// Setup: a config and one layer of `size` bytes pushed, and the image manifest of them
    /// (not pushed).
    async fn setup_image(&self, label: &str, size: u64) -> Res<(Blob, Blob, Manifest)> {
        let config = self.gen.config(&format!("{label}/config"));
        let layer = self.gen.blob(&format!("{label}/layer"), size);
        self.setup_blob(self.ns(), &config).await?;
        self.setup_blob(self.ns(), &layer).await?;
        let m = image_manifest(&config.descriptor(), &[layer.descriptor()], &ManifestOpts::default());
        Ok((config, layer, m))
    }
    async fn setup_manifest(&self, repo: &str, m: &Manifest, reference: &str) -> Res {
        self.run.cleanup.manifest(repo, &m.digest.to_string(), RANK_IMAGE);
        let (i, res) = self.send(SETUP, put_manifest(repo, reference, m)).await;
        match res {
            Ok(r) if r.status == 201 => Ok(()),
            _ => Err(Fail::Skip(format!("setup: {}", self.said(i)))),
        }
    }

    /// POST then PUT of the whole blob. Ok(false): declined with 429.
    async fn push_monolithic(&self, w: usize, repo: &str, blob: &Blob) -> Result<bool, Violation> {
        self.run.cleanup.blob(repo, &blob.digest().to_string());
        let Some(r) = self.expect(w, Request::post(uploads_path(repo)), &[202], "push.post-put.post-202").await? else { return Ok(false) };
        let Some(loc) = location(&r) else { return Err(self.no_location(r)) };
        Ok(self.expect(w, put_whole(&loc, &blob.digest().to_string(), blob), &[201], "push.post-put.put-201").await?.is_some())
    }

    /// POST, PATCH of the first half, PUT of the rest with the digest.
    async fn push_chunked(&self, w: usize, repo: &str, blob: &Blob) -> Result<bool, Violation> {
        self.run.cleanup.blob(repo, &blob.digest().to_string());
        let Some(r) = self.expect(w, Request::post(uploads_path(repo)), &[202], "push.post-put.post-202").await? else { return Ok(false) };
        let Some(loc) = location(&r) else { return Err(self.no_location(r)) };
        let half = chunk_size(chunk_min_length(&r).ok().flatten(), blob.len / 2).min(blob.len);
        let Some(r) = self.expect(w, patch_chunk(&loc, blob, 0, half), &[202], "push.chunked.patch-accepted").await? else { return Ok(false) };
        let Some(loc) = location(&r) else { return Err(self.no_location(r)) };
        let rest = (half < blob.len).then_some((half, blob.len));
        Ok(self.expect(w, put_close(&loc, &blob.digest().to_string(), blob, rest), &[201], "push.chunked.close-201").await?.is_some())
    }

    /// A mount from `from`; a 202 (not mounted, an upload instead) is completed with a PUT.
    async fn push_mount(&self, w: usize, repo: &str, from: &str, blob: &Blob) -> Result<bool, Violation> {
        self.run.cleanup.blob(repo, &blob.digest().to_string());
        let q = format!("/v2/{repo}/blobs/uploads/?mount={}&from={from}", blob.digest());
        let Some(r) = self.expect(w, Request::post(q), &[201, 202], "push.mount.created-201").await? else { return Ok(false) };
        if r.status == 201 {
            return Ok(true);
        }
        let Some(loc) = location(&r) else { return Err(self.no_location(r)) };
        Ok(self.expect(w, put_whole(&loc, &blob.digest().to_string(), blob), &[201], "push.post-put.put-201").await?.is_some())
    }

    fn no_location(&self, r: Response) -> Violation {
        Violation { call: None, level: None, rule: Rule::req("push.post-put.location-forms"), detail: format!("{} answered {} without a Location", r.request, r.status) }
    }

    /// GET of a blob: its bytes, or a 404 (returned for judging by time), else a violation.
    async fn read_blob(&self, w: usize, repo: &str, blob: &Blob) -> Result<Option<usize>, Violation> {
        let (i, res) = self.send(w, get_blob(repo, blob.digest())).await;
        match res {
            Ok(r) if r.status == 200 => {
                let (got, len) = r.hashed.clone().unwrap_or_else(|| (Digest::sha256(&r.body), r.body.len() as u64));
                if got == *blob.digest() {
                    return Ok(None);
                }
                Err(violation(i, "pull.blob.get-200", format!("{} answered 200 with {len} bytes that hash to {got}, not the blob's {} bytes ({})", r.request, blob.len, blob.digest())))
            }
            Ok(r) if r.status == 404 => Ok(Some(i)),
            Ok(r) if r.status == 429 => Ok(None),
            _ => Err(violation(i, "pull.blob.get-200", format!("{} (a blob is there, 200 with its bytes, or not, 404)", self.said(i)))),
        }
    }

    /// GET of a manifest: one of `allowed` (its bytes, and Docker-Content-Digest if sent), or
    /// a 404 (returned for judging), else a violation.
    async fn read_manifest(&self, w: usize, repo: &str, reference: &str, allowed: &[&Manifest]) -> Result<Option<usize>, Violation> {
        let (i, res) = self.send(w, get_manifest(repo, reference)).await;
        let r = match res {
            Ok(r) if r.status == 200 => r,
            Ok(r) if r.status == 404 => return Ok(Some(i)),
            Ok(r) if r.status == 429 => return Ok(None),
            _ => return Err(violation(i, "pull.manifest.get-200", format!("{} (a manifest is there, 200 with its bytes, or not, 404)", self.said(i)))),
        };
        let Some(m) = allowed.iter().find(|m| m.bytes == r.body) else {
            return Err(violation(i, "pull.manifest.get-200", format!("{} answered 200 with {} bytes that are none of the {} manifests pushed there (digest {})", r.request, r.body.len(), allowed.len(), Digest::sha256(&r.body))));
        };
        match r.header("docker-content-digest").map(str::trim) {
            Some(d) if d != m.digest.to_string() => Err(Violation {
                call: Some(i),
                level: Some(must_since_main(self.run.cfg.spec_version)),
                rule: Rule::req("pull.manifest.digest-header"),
                detail: format!("{} answered 200 with the bytes of {} but Docker-Content-Digest {d}: the headers and body of two versions of the tag mixed", r.request, m.digest),
            }),
            _ => Ok(None),
        }
    }
}

/// 404s that came too late: reads that started after `since` (plus --consistency-wait), when
/// the content was there and stayed there.
fn late_404s(ctx: &Ctx, reads: &[usize], since: Option<Duration>, rule: &'static str, why: &str) -> Option<Violation> {
    let since = since? + ctx.run.cfg.consistency_wait;
    let calls = ctx.round.calls();
    let i = *reads.iter().find(|&&i| calls.get(i).is_some_and(|c| c.start > since))?;
    Some(violation(i, rule, format!("{}; {why}", ctx.said(i))))
}

/// A read after the content was answered 201: its 404 is a violation too.
fn read_back(c: &Ctx, read: Result<Option<usize>, Violation>, rule: &'static str, after: &str) -> Option<Violation> {
    match read {
        Ok(None) => None,
        Ok(Some(i)) => Some(violation(i, rule, format!("{} {after}", c.said(i)))),
        Err(v) => Some(v),
    }
}

/// When the first call in `calls` that answered one of `statuses` ended.
fn first_answer(ctx: &Ctx, calls: &[usize], statuses: &[u16]) -> Option<Duration> {
    let all = ctx.round.calls();
    calls.iter().filter_map(|&i| all.get(i)).filter(|c| c.status.is_some_and(|s| statuses.contains(&s))).map(|c| c.end).min()
}

/// Calls of `worker`'s requests in the round.
fn calls_of(ctx: &Ctx, worker: impl Fn(usize) -> bool, request: impl Fn(&str) -> bool) -> Vec<usize> {
    ctx.round.calls().iter().enumerate().filter(|(_, c)| worker(c.worker) && request(&c.request)).map(|(i, _)| i).collect()
}

/// Runs `--repeat` rounds (within the duration and byte budgets) and judges the first broken
/// round; the check's figures go with its result.
async fn stress(mut sc: Sc, meta: &'static CheckMeta, kind: Kind) {
    let ctx = sc.ctx.clone();
    let gen = sc.gen.clone();
    sc.check(meta, async |ck| {
        let cfg = ctx.cfg.stress;
        let started = Instant::now();
        let mut tally = Tally::default();
        let mut first: Option<(u32, Violation, Round)> = None;
        let mut stopped = None;
        let mut notes = Notes::default();
        let mut end: Res = Ok(());
        for r in 0..cfg.repeat {
            if r > 0 && started.elapsed() >= cfg.duration {
                stopped = Some(format!("--stress-duration ({} s) spent after {r} of {} rounds", cfg.duration.as_secs_f64(), cfg.repeat));
                break;
            }
            if ctx.load_bytes.load(Ordering::Relaxed) >= cfg.max_bytes {
                stopped = Some(format!("--stress-max-bytes ({} bytes) reached after {r} of {} rounds", cfg.max_bytes, cfg.repeat));
                if r == 0 {
                    end = Err(Fail::Skip(format!("not run: --stress-max-bytes ({} bytes) was reached by earlier stress checks", cfg.max_bytes)));
                }
                break;
            }
            if ctx.client.cancel.is_cancelled() {
                break;
            }
            let round = Round::new(ctx.client.clone(), ctx.secrets.clone());
            let c = Ctx { run: &ctx, round: &round, gen: gen.scope(&format!("round{r}")), r, workers: cfg.concurrency };
            let res = match kind {
                Kind::SameDigest => same_digest(&c).await,
                Kind::SharedBlobs => shared_blobs(&c).await,
                Kind::SameManifest => same_manifest(&c).await,
                Kind::TagMove => tag_move(&c).await,
                Kind::DeleteRace => delete_race(&c).await,
                Kind::ParallelSessions => parallel_sessions(&c).await,
                Kind::ReferrersSameSubject => referrers_same_subject(&c).await,
                Kind::TagSchema => tag_schema(&c, &mut notes).await,
            };
            ctx.load_bytes.fetch_add(round.bytes_pushed(), Ordering::Relaxed);
            match res {
                Ok(mut v) => {
                    // MUSTs first; what a round finds is a MUST unless it says otherwise.
                    v.sort_by_key(|x| x.level.unwrap_or(Level::Must));
                    tally.add(&round, !v.is_empty());
                    if first.is_none() && !v.is_empty() {
                        first = Some((r, v.swap_remove(0), round));
                    }
                }
                Err(e) => {
                    tally.add(&round, false);
                    end = Err(e);
                    break;
                }
            }
        }
        let stats = tally.stats(started.elapsed(), stopped);
        let slowest = stats.endpoints.iter().max_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
        ck.note(format!("{} rounds, {} requests, {} req/s{}", stats.rounds, stats.requests, stats.requests_per_s, slowest.map(|e| format!(", slowest p99 {} ms ({})", e.p99_ms, e.endpoint)).unwrap_or_default()));
        ck.load = Some(stats);
        for n in notes.lines() {
            ck.note(n);
        }
        if let Some((r, v, round)) = first {
            let calls = round.calls();
            if let Some(e) = v.call.and_then(|i| calls.get(i)).and_then(|c| c.exchange.clone()) {
                ck.trace.push(e);
            }
            let around = v.call.map(|i| load::interleaving(&calls, i, 14)).unwrap_or_default();
            let mut detail = format!("{} — broke in {} of {} rounds (seed {}, first in round {})", v.detail, tally.violating(), tally.rounds(), ctx.cfg.seed, r + 1);
            if !around.is_empty() {
                detail.push_str("; the requests around it (ms from the round's start):\n");
                detail.push_str(&around);
            }
            return Err(ck.fail_at(v.level.unwrap_or(Level::Must), v.rule, detail));
        }
        if let Some(f) = notes.verdict(ck) {
            return Err(f);
        }
        end
    })
    .await;
}

/// Many sessions push one blob at once (monolithic, chunked, mounted from the second
/// repository) while readers GET it. Every push must succeed; a read gets the bytes, or 404
/// only until the first push was answered 201; the blob then reads back.
async fn same_digest(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let blob = c.gen.blob("blob", 64 << 10);
    c.setup_blob(c.ns2(), &blob).await?;
    let readers = (c.workers / 4).max(1);
    let pushers = c.workers - readers;
    let done = AtomicBool::new(false);
    let push = async {
        let v = join_all((0..pushers).map(|w| {
            let blob = &blob;
            async move {
                match w % 3 {
                    0 => c.push_monolithic(w, c.ns(), blob).await,
                    1 => c.push_chunked(w, c.ns(), blob).await,
                    _ => c.push_mount(w, c.ns(), c.ns2(), blob).await,
                }
            }
        }))
        .await;
        done.store(true, Ordering::SeqCst);
        v
    };
    let read = join_all((0..readers).map(|k| {
        let (blob, done) = (&blob, &done);
        async move {
            let mut found = vec![];
            while !done.load(Ordering::SeqCst) && found.len() < 5000 {
                match c.read_blob(pushers + k, c.ns(), blob).await {
                    Ok(Some(i)) => found.push(i),
                    Ok(None) => {}
                    Err(v) => return Err(v),
                }
            }
            Ok(found)
        }
    }));
    let (pushed, read) = futures_util::join!(push, read);
    let mut out: Vec<Violation> = pushed.into_iter().filter_map(Result::err).collect();
    let mut not_found = vec![];
    for r in read {
        match r {
            Ok(n) => not_found.extend(n),
            Err(v) => out.push(v),
        }
    }
    let pushes = calls_of(c, |w| w < pushers, |r| r.starts_with("PUT ") || r.contains("mount="));
    let since = first_answer(c, &pushes, &[201]);
    out.extend(late_404s(c, &not_found, since, "pull.blob.get-200", "a push of this blob had already been answered 201"));
    out.extend(read_back(c, c.read_blob(SETUP, c.ns(), &blob).await, "pull.blob.get-200", "after every push was answered"));
    Ok(out)
}

/// Manifests that share their config and one layer are pushed at once, each by a worker that
/// first pushes its blobs. With every blob answered 201 the manifest PUT must be 201 (its
/// blobs are in the repository); each manifest then reads back.
async fn shared_blobs(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let config = c.gen.config("config");
    let shared = c.gen.blob("shared", 32 << 10);
    let images: Vec<(Blob, Manifest)> = (0..c.workers)
        .map(|w| {
            let own = c.gen.blob(&format!("own{w}"), 4 << 10);
            let m = image_manifest(&config.descriptor(), &[shared.descriptor(), own.descriptor()], &ManifestOpts::default());
            (own, m)
        })
        .collect();
    let results = join_all(images.iter().enumerate().map(|(w, (own, m))| {
        let (config, shared) = (&config, &shared);
        async move {
            for b in [config, shared, own] {
                if !c.push_monolithic(w, c.ns(), b).await? {
                    return Ok(false);
                }
            }
            c.run.cleanup.manifest(c.ns(), &m.digest.to_string(), RANK_IMAGE);
            let (i, res) = c.send(w, put_manifest(c.ns(), &m.digest.to_string(), m)).await;
            match res {
                Ok(r) if r.status == 201 => Ok(true),
                Ok(r) if r.status == 429 => Ok(false),
                _ => Err(violation(i, "push.manifest.created-201", format!("{}, though each of its blobs had just been answered 201", c.said(i)))),
            }
        }
    }))
    .await;
    let mut out = vec![];
    for (w, r) in results.into_iter().enumerate() {
        match r {
            Ok(true) => {
                let m = &images[w].1;
                out.extend(read_back(c, c.read_manifest(SETUP, c.ns(), &m.digest.to_string(), &[m]).await, "pull.manifest.get-200", "after its PUT was answered 201"));
            }
            Ok(false) => {}
            Err(v) => out.push(v),
        }
    }
    Ok(out)
}

/// One manifest pushed at once by many workers, half by digest and half by one tag: every
/// PUT must be 201; by digest and by tag it then reads back.
async fn same_manifest(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let (_, _, m) = c.setup_image("", 8 << 10).await?;
    let tag = c.tag("same");
    c.run.cleanup.manifest(c.ns(), &m.digest.to_string(), RANK_IMAGE);
    c.run.cleanup.tag(c.ns(), &tag);
    let digest = m.digest.to_string();
    let results = join_all((0..c.workers).map(|w| {
        let reference = if w % 2 == 0 { &digest } else { &tag };
        let m = &m;
        async move { c.expect(w, put_manifest(c.ns(), reference, m), &[201], "push.manifest.created-201").await }
    }))
    .await;
    let mut out: Vec<Violation> = results.into_iter().filter_map(Result::err).collect();
    for reference in [&digest, &tag] {
        out.extend(read_back(c, c.read_manifest(SETUP, c.ns(), reference, &[&m]).await, "pull.manifest.get-200", "after the pushes were answered"));
    }
    Ok(out)
}

/// A tag moved between three manifests by writers while readers GET it. The tag exists from
/// before the readers start: every read must be 200 with the bytes of one of the three, and a
/// Docker-Content-Digest (when sent) that names those bytes.
async fn tag_move(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let config = c.gen.config("config");
    c.setup_blob(c.ns(), &config).await?;
    let mut manifests = vec![];
    for k in 0..3 {
        let layer = c.gen.blob(&format!("layer{k}"), 2 << 10);
        c.setup_blob(c.ns(), &layer).await?;
        let m = image_manifest(&config.descriptor(), &[layer.descriptor()], &ManifestOpts::default());
        c.setup_manifest(c.ns(), &m, &m.digest.to_string()).await?;
        manifests.push(m);
    }
    let tag = c.tag("moving");
    c.run.cleanup.tag(c.ns(), &tag);
    c.setup_manifest(c.ns(), &manifests[0], &tag).await?;
    let writers = (c.workers / 4).max(1);
    let done = AtomicBool::new(false);
    let write = async {
        let v = join_all((0..writers).map(|w| {
            let (tag, manifests) = (&tag, &manifests);
            async move {
                for j in 0..8 {
                    c.expect(w, put_manifest(c.ns(), tag, &manifests[(w + j + 1) % 3]), &[201], "push.manifest.created-201").await?;
                }
                Ok(())
            }
        }))
        .await;
        done.store(true, Ordering::SeqCst);
        v
    };
    let all: Vec<&Manifest> = manifests.iter().collect();
    let read = join_all((writers..c.workers).map(|w| {
        let (tag, all, done) = (&tag, &all, &done);
        async move {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) && n < 5000 {
                n += 1;
                match c.read_manifest(w, c.ns(), tag, all).await {
                    Ok(None) => {}
                    Ok(Some(i)) => return Err(violation(i, "pull.manifest.get-200", format!("{}, while the tag existed throughout (set before the readers started, only moved)", c.said(i)))),
                    Err(v) => return Err(v),
                }
            }
            Ok(())
        }
    }));
    let (written, read) = futures_util::join!(write, read);
    Ok(written.into_iter().chain(read).filter_map(Result::err).collect())
}

/// A manifest and its layer deleted while readers GET both, a worker mounts the layer into the
/// second repository, and others push and delete manifests of their own in the same
/// repository. Reads get the content, or 404 unless answered before its DELETE was sent; deletes of what exists
/// are 202; a mount's 201 names a blob that reads back.
async fn delete_race(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let (config, layer, target) = c.setup_image("", 16 << 10).await?;
    c.setup_manifest(c.ns(), &target, &target.digest.to_string()).await?;
    c.run.cleanup.blob(c.ns2(), &layer.digest().to_string());
    // Workers: 0 deletes, 1..=2 read, 3 mounts, the rest push and delete their own manifests.
    let readers = 1..3usize;
    let mounter = 3usize;
    let done = AtomicBool::new(false);
    let unsupported = Mutex::new(None::<String>);
    let delete = async {
        // Let the readers start first.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut out = vec![];
        let (i, res) = c.send(0, Request::delete(manifest_path(c.ns(), &target.digest.to_string()))).await;
        match res {
            Ok(r) if r.status == 202 => {}
            Ok(r) if matches!(r.status, 400 | 405) => *unsupported.lock().unwrap() = Some(format!("the registry does not delete manifests: {}", c.said(i))),
            _ => out.push(violation(i, "management.manifest.delete-202", format!("{}, deleting a manifest that exists", c.said(i)))),
        }
        let (i, res) = c.send(0, Request::delete(blob_path(c.ns(), layer.digest()))).await;
        match res {
            Ok(r) if matches!(r.status, 202 | 400 | 405) => {}
            _ => out.push(violation(i, "management.blob.delete-202", format!("{}, deleting a blob that exists", c.said(i)))),
        }
        done.store(true, Ordering::SeqCst);
        out
    };
    let read = join_all(readers.clone().map(|w| {
        let (target, layer, done) = (&target, &layer, &done);
        async move {
            let (mut gone, mut out, mut after) = (vec![], vec![], 0);
            while after < 3 && gone.len() + out.len() < 5000 {
                if done.load(Ordering::SeqCst) {
                    after += 1;
                }
                match c.read_manifest(w, c.ns(), &target.digest.to_string(), &[target]).await {
                    Ok(Some(i)) => gone.push(i),
                    Ok(None) => {}
                    Err(v) => out.push(v),
                }
                match c.read_blob(w, c.ns(), layer).await {
                    Ok(Some(i)) => gone.push(i),
                    Ok(None) => {}
                    Err(v) => out.push(v),
                }
                if !out.is_empty() {
                    break;
                }
            }
            (gone, out)
        }
    }));
    let mount = async {
        let mut out = vec![];
        while !done.load(Ordering::SeqCst) && out.is_empty() {
            let q = format!("/v2/{}/blobs/uploads/?mount={}&from={}", c.ns2(), layer.digest(), c.ns());
            let (i, res) = c.send(mounter, Request::post(q)).await;
            match res {
                Ok(r) if r.status == 201 => match c.read_blob(mounter, c.ns2(), &layer).await {
                    Ok(None) => {}
                    Ok(Some(j)) => out.push(violation(j, "push.mount.created-201", format!("{} just after the mount was answered 201 ({})", c.said(j), c.said(i)))),
                    Err(v) => out.push(v),
                },
                Ok(r) if r.status == 202 => {
                    if let Some(loc) = location(&r) {
                        let _ = c.send(mounter, Request::delete(loc).header("Content-Length", "0")).await;
                    }
                }
                Ok(r) if r.status < 500 => {}
                _ => out.push(violation(i, "push.mount.created-201", c.said(i))),
            }
        }
        out
    };
    let config = &config;
    let churn = join_all((mounter + 1..c.workers.max(mounter + 2)).map(|w| async move {
        let mut out = vec![];
        for k in 0..3 {
            let own = c.gen.blob(&format!("churn{w}-{k}"), 1 << 10);
            let m = image_manifest(&config.descriptor(), &[own.descriptor()], &ManifestOpts::default());
            match c.push_monolithic(w, c.ns(), &own).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(v) => {
                    out.push(v);
                    break;
                }
            }
            c.run.cleanup.manifest(c.ns(), &m.digest.to_string(), RANK_IMAGE);
            match c.expect(w, put_manifest(c.ns(), &m.digest.to_string(), &m), &[201], "push.manifest.created-201").await {
                Ok(Some(_)) => {}
                Ok(None) => continue,
                Err(v) => {
                    out.push(v);
                    break;
                }
            }
            let (i, res) = c.send(w, Request::delete(manifest_path(c.ns(), &m.digest.to_string()))).await;
            match res {
                Ok(r) if matches!(r.status, 202 | 429) => {}
                Ok(r) if matches!(r.status, 400 | 405) => {}
                _ => {
                    out.push(violation(i, "management.manifest.delete-202", format!("{}, deleting a manifest just pushed while other workers change the repository", c.said(i))));
                    break;
                }
            }
        }
        out
    }));
    let (deleted, read, mounted, churned) = futures_util::join!(delete, read, mount, churn);
    if let Some(why) = unsupported.into_inner().unwrap() {
        return Err(Fail::Unsupported(why));
    }
    let mut out: Vec<Violation> = deleted.into_iter().chain(mounted).chain(churned.into_iter().flatten()).collect();
    let mut gone = vec![];
    for (g, v) in read {
        gone.extend(g);
        out.extend(v);
    }
    // A 404 is right only once the DELETE of that thing was sent.
    let deletes = calls_of(c, |w| w == 0, |r| r.starts_with("DELETE "));
    let all = c.round.calls();
    let sent = |what: &str| deletes.iter().filter_map(|&i| all.get(i)).find(|d| d.request.contains(what)).map(|d| d.start);
    let m_sent = sent("/manifests/");
    // A registry may collect a blob once no manifest refers to it: the layer may go with the
    // manifest's DELETE.
    let b_sent = [m_sent, sent("/blobs/")].into_iter().flatten().min();
    for &i in &gone {
        let Some(call) = all.get(i) else { continue };
        let (deleted_at, rule) = if call.request.contains("/manifests/") { (m_sent, "pull.manifest.get-200") } else { (b_sent, "pull.blob.get-200") };
        // Linearizable: a read that overlapped the DELETE may be ordered after it.
        if deleted_at.is_none_or(|t| call.end < t) {
            out.push(violation(i, rule, format!("{}, and its answer was complete before the DELETE was sent", c.said(i))));
            break;
        }
    }
    Ok(out)
}

/// Many chunked uploads at once, chunk by chunk: each POST gets its own location, each PATCH's
/// Range counts that session's bytes only, each session closes with its digest, and every
/// blob reads back.
async fn parallel_sessions(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let blobs: Vec<Blob> = (0..c.workers).map(|w| c.gen.blob(&format!("session{w}"), 32 << 10)).collect();
    for b in &blobs {
        c.run.cleanup.blob(c.ns(), &b.digest().to_string());
    }
    let started = join_all((0..c.workers).map(|w| c.expect(w, Request::post(uploads_path(c.ns())), &[202], "push.post-put.post-202"))).await;
    let mut out = vec![];
    let mut sessions: Vec<Option<(String, u64)>> = vec![];
    for r in started {
        match r {
            Ok(Some(resp)) => match location(&resp) {
                Some(l) => sessions.push(Some((l, chunk_size(chunk_min_length(&resp).ok().flatten(), 8 << 10)))),
                None => {
                    out.push(c.no_location(resp));
                    sessions.push(None);
                }
            },
            Ok(None) => sessions.push(None),
            Err(v) => {
                out.push(v);
                sessions.push(None);
            }
        }
    }
    // Two sessions with one location would write into each other.
    let path = |l: &str| l.split('?').next().unwrap_or(l).to_string();
    let posts = calls_of(c, |w| w != SETUP, |r| r.starts_with("POST "));
    for (a, sa) in sessions.iter().enumerate() {
        for sb in sessions.iter().skip(a + 1) {
            if let (Some((la, _)), Some((lb, _))) = (sa, sb) {
                if path(la) == path(lb) {
                    let i = posts.get(a).copied().unwrap_or(0);
                    out.push(violation(i, "push.post-put.session-id", format!("two POSTs sent at once got the same upload location {}", path(la))));
                }
            }
        }
    }
    if !out.is_empty() {
        return Ok(out);
    }
    // Chunk by chunk, all sessions at once.
    let mut offsets = vec![0u64; c.workers];
    loop {
        let step: Vec<usize> = (0..c.workers).filter(|&w| sessions[w].is_some() && offsets[w] < blobs[w].len).collect();
        if step.is_empty() {
            break;
        }
        let results = join_all(step.iter().map(|&w| {
            let (loc, size) = sessions[w].clone().unwrap_or_default();
            let (blob, from) = (&blobs[w], offsets[w]);
            async move {
                let to = (from + size).min(blob.len);
                let (i, res) = c.send(w, patch_chunk(&loc, blob, from, to)).await;
                match res {
                    Ok(r) if r.status == 202 => {
                        let want = format!("0-{}", to - 1);
                        match r.header("range").map(str::trim) {
                            Some(got) if got == want || got == format!("bytes={want}") => Ok((w, location(&r).unwrap_or(loc), to)),
                            got => Err(violation(i, "push.chunked.patch-accepted", format!("{} answered 202 with Range {:?}; this session has sent {to} bytes (Range 0-{}): another session's bytes are in it", r.request, got.unwrap_or("(none)"), to - 1))),
                        }
                    }
                    _ => Err(violation(i, "push.chunked.patch-accepted", format!("{}, for the next chunk of its own session", c.said(i)))),
                }
            }
        }))
        .await;
        for r in results {
            match r {
                Ok((w, loc, to)) => {
                    offsets[w] = to;
                    if let Some(s) = sessions[w].as_mut() {
                        s.0 = loc;
                    }
                }
                Err(v) => out.push(v),
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    let closed = join_all((0..c.workers).filter(|&w| sessions[w].is_some()).map(|w| {
        let loc = sessions[w].clone().unwrap_or_default().0;
        let blob = &blobs[w];
        async move { (w, c.expect(w, put_close(&loc, &blob.digest().to_string(), blob, None), &[201], "push.chunked.close-201").await) }
    }))
    .await;
    for (w, r) in closed {
        match r {
            Ok(Some(_)) => out.extend(read_back(c, c.read_blob(SETUP, c.ns(), &blobs[w]).await, "pull.blob.get-200", "after its session closed with 201")),
            Ok(None) => {}
            Err(v) => out.push(v),
        }
    }
    Ok(out)
}

/// A subject image and the artifacts that refer to it, for the referrers scenarios.
struct Referred {
    subject: Manifest,
    artifacts: Vec<(Blob, Manifest)>,
}

async fn referred(c: &Ctx<'_>, label: &str) -> Res<Referred> {
    let (config, _, subject) = c.setup_image(label, 1 << 10).await?;
    c.setup_manifest(c.ns(), &subject, &subject.digest.to_string()).await?;
    c.run.cleanup.manifest(c.ns(), &subject.digest.to_string(), RANK_IMAGE);
    let artifacts = (0..c.workers)
        .map(|w| {
            let own = c.gen.blob(&format!("{label}/artifact{w}"), 512);
            let opts = ManifestOpts::default().artifact_type(&format!("application/vnd.oci-conformance.stress.w{w}")).subject(subject.descriptor());
            (own.clone(), image_manifest(&config.descriptor(), &[own.descriptor()], &opts))
        })
        .collect();
    Ok(Referred { subject, artifacts })
}

/// Pushes worker `w`'s artifact (its layer, then the manifest by digest). Ok(false): 429.
async fn push_artifact(c: &Ctx<'_>, w: usize, own: &Blob, m: &Manifest) -> Result<bool, Violation> {
    if !c.push_monolithic(w, c.ns(), own).await? {
        return Ok(false);
    }
    c.run.cleanup.manifest(c.ns(), &m.digest.to_string(), RANK_REFERRER);
    Ok(c.expect(w, put_manifest(c.ns(), &m.digest.to_string(), m), &[201], "push.manifest.created-201").await?.is_some())
}

/// The descriptors of a referrers answer or a referrers-tag index: (digest, the descriptor).
fn listed(body: &[u8]) -> Option<Vec<(String, serde_json::Value)>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let list = v.get("manifests")?.as_array()?;
    Some(list.iter().map(|d| (d.get("digest").and_then(|x| x.as_str()).unwrap_or("").to_string(), d.clone())).collect())
}

/// Referrers pushed at once to one subject while a reader lists them: every answer lists only
/// right descriptors, and once all pushes were answered the list has every one of them.
async fn referrers_same_subject(c: &Ctx<'_>) -> Res<Vec<Violation>> {
    let set = referred(c, "refs").await?;
    let path = format!("/v2/{}/referrers/{}", c.ns(), set.subject.digest);
    // Without a referrers API there is nothing to race; the tag schema check covers the fallback.
    let (i, res) = c.send(SETUP, Request::get(path.clone())).await;
    match res {
        Ok(r) if r.status == 404 => return Err(Fail::Unsupported(format!("no referrers API: {}", c.said(i)))),
        Ok(r) if r.status == 200 => {}
        _ => return Err(Fail::Skip(format!("setup: {}", c.said(i)))),
    }
    let done = AtomicBool::new(false);
    let push = async {
        let v = join_all(set.artifacts.iter().enumerate().map(|(w, (own, m))| push_artifact(c, w, own, m))).await;
        done.store(true, Ordering::SeqCst);
        v
    };
    let judge = |i: usize, body: &[u8], complete: bool| -> Option<Violation> {
        let Some(list) = listed(body) else {
            return Some(violation(i, "referrers.api.found-200", format!("{} answered 200 with a body that is not an image index with a manifests array", c.said(i))));
        };
        for (d, desc) in &list {
            let Some((_, m)) = set.artifacts.iter().find(|(_, m)| m.digest.to_string() == *d) else {
                return Some(violation(i, "referrers.api.descriptor-scope", format!("{} listed {d}, which is none of the referrers pushed to this subject", c.said(i))));
            };
            let size = desc.get("size").and_then(|s| s.as_u64());
            let at = desc.get("artifactType").and_then(|s| s.as_str());
            if size != Some(m.bytes.len() as u64) {
                return Some(violation(i, "referrers.api.descriptor-scope", format!("{} listed {d} with size {size:?}; the manifest has {} bytes", c.said(i), m.bytes.len())));
            }
            if at != m.referrer_artifact_type.as_deref() {
                return Some(violation(i, "referrers.api.artifact-type-copied", format!("{} listed {d} with artifactType {at:?}; it was pushed with artifactType {:?}", c.said(i), m.referrer_artifact_type)));
            }
        }
        if complete {
            if let Some((_, m)) = set.artifacts.iter().find(|(_, m)| !list.iter().any(|(d, _)| *d == m.digest.to_string())) {
                return Some(violation(i, "referrers.upgrade.new-pushes", format!("{} lists {} of the {} referrers pushed at once; {} is missing, though its PUT was answered 201", c.said(i), list.len(), set.artifacts.len(), m.digest)));
            }
        }
        None
    };
    let read = async {
        let mut n = 0;
        while !done.load(Ordering::SeqCst) && n < 5000 {
            n += 1;
            let (i, res) = c.send(c.workers, Request::get(path.clone())).await;
            match res {
                Ok(r) if r.status == 200 => {
                    if let Some(v) = judge(i, &r.body, false) {
                        return Some(v);
                    }
                }
                Ok(r) if r.status == 429 => {}
                _ => return Some(violation(i, "referrers.api.found-200", c.said(i))),
            }
        }
        None
    };
    let (pushed, read) = futures_util::join!(push, read);
    let mut out: Vec<Violation> = vec![];
    let mut all_pushed = true;
    for r in pushed {
        match r {
            Ok(ok) => all_pushed &= ok,
            Err(v) => {
                all_pushed = false;
                out.push(v);
            }
        }
    }
    out.extend(read);
    if all_pushed {
        // Registries may index referrers a moment later: --consistency-wait.
        let until = Instant::now() + c.run.cfg.consistency_wait;
        loop {
            let (i, res) = c.send(SETUP, Request::get(path.clone())).await;
            let v = match res {
                Ok(r) if r.status == 200 => judge(i, &r.body, true),
                _ => Some(violation(i, "referrers.api.found-200", c.said(i))),
            };
            match v {
                Some(_) if Instant::now() < until => tokio::time::sleep(Duration::from_millis(100)).await,
                Some(v) => {
                    out.push(v);
                    break;
                }
                None => break,
            }
        }
    }
    Ok(out)
}

/// What the tag schema scenario learnt over its rounds, for the check's note and verdict.
#[derive(Default)]
struct Notes {
    rounds: u32,
    pushed: usize,
    lost_plain: usize,
    /// None until a round finds out whether manifests carry an ETag.
    etag: Option<bool>,
    /// A PUT with a stale If-Match was accepted (the first such exchange, described).
    stale_accepted: Option<String>,
    pushed_conditional: usize,
    lost_conditional: usize,
}

impl Notes {
    fn lines(&self) -> Vec<String> {
        if self.rounds == 0 {
            return vec![];
        }
        let mut v = vec![format!("without conditions, {} of {} referrers pushed at once through the referrers tag were lost ({} rounds)", self.lost_plain, self.pushed, self.rounds)];
        match self.etag {
            Some(true) if self.stale_accepted.is_none() => v.push(format!("with If-Match (the registry sends ETag and answers 412 to a stale one), {} of {} were lost", self.lost_conditional, self.pushed_conditional)),
            Some(true) => v.push(format!("the registry sends ETag but ignores If-Match; with it, {} of {} were lost", self.lost_conditional, self.pushed_conditional)),
            _ => v.push("the registry sends no ETag on manifests: clients cannot push the referrers tag conditionally".into()),
        }
        v
    }
    /// A registry that offers ETags but loses conditional updates departs from RFC 9110
    /// §13.1.1 ("An origin server that receives an If-Match header field MUST evaluate the
    /// condition"), which the main spec makes a SHOULD; v1.1.1 and 1.0 say nothing of it.
    fn verdict(&self, ck: &Ck) -> Option<Fail> {
        if self.rounds == 0 {
            return None;
        }
        if self.etag != Some(true) {
            return Some(Fail::Unsupported("the registry sends no ETag on manifest GETs, so clients of the referrers tag schema cannot push conditionally (the spec lets them, \"for registries that support ETag conditions\")".into()));
        }
        let what = match &self.stale_accepted {
            Some(s) => format!("the registry sends ETag but accepted a PUT with a stale If-Match ({s}); {} of {} conditional updates were lost", self.lost_conditional, self.pushed_conditional),
            None if self.lost_conditional > 0 => format!("{} of {} referrers were lost although every update was a conditional PUT (If-Match) retried on 412", self.lost_conditional, self.pushed_conditional),
            None => return None,
        };
        if ck.version < SpecVersion::Main {
            return Some(Fail::Unsupported(format!("{what}: no rule of spec {} asks for conditional requests", ck.version.as_str())));
        }
        Some(ck.fail(Rule::req("api.http.rfc9110"), format!("{what}; RFC 9110 §13.1.1: \"An origin server that receives an If-Match header field MUST evaluate the condition as per Section 13.2 prior to performing the method\"")))
    }
}

/// The referrers tag of a subject: `<alg>-<hex>`.
fn referrers_tag(d: &Digest) -> String {
    d.to_string().replacen(':', "-", 1)
}

fn tag_index(descriptors: &[serde_json::Value]) -> Manifest {
    let v = serde_json::json!({"schemaVersion": 2, "mediaType": content::MT_INDEX, "manifests": descriptors});
    Manifest::raw(content::MT_INDEX, serde_json::to_vec(&v).unwrap_or_default().into())
}

/// Clients without a referrers API keep a subject's referrers in the index tagged
/// `<alg>-<hex>`, by GET, add, PUT. Workers do it at once, first plainly (updates may be lost:
/// counted), then with If-Match on the ETag and retries on 412 (with a registry that honours
/// it, none may be lost). Every PUT of a valid index must be 201 (or 412 to a stale If-Match).
async fn tag_schema(c: &Ctx<'_>, notes: &mut Notes) -> Res<Vec<Violation>> {
    let mut out = vec![];
    // Plain read-modify-write.
    let set = referred(c, "plain").await?;
    let tag = referrers_tag(&set.subject.digest);
    c.run.cleanup.tag(c.ns(), &tag);
    let index_pushed = |body: &[u8]| {
        c.run.cleanup.manifest(c.ns(), &Digest::sha256(body).to_string(), RANK_INDEX);
    };
    let plain = join_all(set.artifacts.iter().enumerate().map(|(w, (own, m))| {
        let tag = &tag;
        async move {
            if !push_artifact(c, w, own, m).await? {
                return Ok(());
            }
            let (_, res) = c.send(w, get_manifest(c.ns(), tag)).await;
            let mut list: Vec<serde_json::Value> = res.ok().filter(|r| r.status == 200).and_then(|r| listed(&r.body)).unwrap_or_default().into_iter().map(|(_, d)| d).collect();
            list.push(referrer_descriptor(m));
            let index = tag_index(&list);
            index_pushed(&index.bytes);
            c.expect(w, put_manifest(c.ns(), tag, &index), &[201], "push.manifest.created-201").await.map(|_| ())
        }
    }))
    .await;
    out.extend(plain.into_iter().filter_map(Result::err));
    let kept = c.read_listed(&tag).await;
    notes.rounds += 1;
    notes.pushed += set.artifacts.len();
    notes.lost_plain += set.artifacts.iter().filter(|(_, m)| !kept.contains(&m.digest.to_string())).count();

    // Conditional: the tag exists first, so every client has an ETag to send.
    let set = referred(c, "conditional").await?;
    let tag = referrers_tag(&set.subject.digest);
    c.run.cleanup.tag(c.ns(), &tag);
    let empty = tag_index(&[]);
    index_pushed(&empty.bytes);
    c.setup_manifest(c.ns(), &empty, &tag).await?;
    // A weak ETag never matches an If-Match (RFC 9110 §13.1.1 compares strongly): no use here.
    let etag = |r: &Response| r.header("etag").map(|e| e.trim().to_string()).filter(|e| !e.is_empty() && !e.starts_with("W/"));
    let (_, first) = c.send(SETUP, get_manifest(c.ns(), &tag)).await;
    let Some(e1) = first.ok().filter(|r| r.status == 200).as_ref().and_then(etag) else {
        notes.etag.get_or_insert(false);
        return Ok(out);
    };
    notes.etag = Some(true);
    // A stale If-Match must not replace the tag.
    let probe = tag_index(&[serde_json::json!({"mediaType": content::MT_MANIFEST, "digest": set.subject.digest.to_string(), "size": set.subject.bytes.len()})]);
    index_pushed(&probe.bytes);
    let (_, res) = c.send(SETUP, put_manifest(c.ns(), &tag, &probe).header("If-Match", e1.clone())).await;
    if res.is_ok_and(|r| r.status == 201) {
        let (i, res) = c.send(SETUP, put_manifest(c.ns(), &tag, &empty).header("If-Match", e1)).await;
        if res.is_ok_and(|r| r.status != 412) && notes.stale_accepted.is_none() {
            notes.stale_accepted = Some(c.said(i));
        }
        // Back to the empty list (whatever the probe left).
        let (_, cur) = c.send(SETUP, get_manifest(c.ns(), &tag)).await;
        if let Some(e) = cur.ok().as_ref().and_then(etag) {
            let _ = c.send(SETUP, put_manifest(c.ns(), &tag, &empty).header("If-Match", e)).await;
        }
    }
    let subject = set.subject.digest.to_string();
    let conditional = join_all(set.artifacts.iter().enumerate().map(|(w, (own, m))| {
        let (tag, subject) = (&tag, &subject);
        async move {
            if !push_artifact(c, w, own, m).await? {
                return Ok(());
            }
            // Retried with a short pause while the tag cannot be read or the condition fails.
            let pause = Duration::from_millis(1 + w as u64 % 5);
            for _ in 0..200 {
                let (_, res) = c.send(w, get_manifest(c.ns(), tag)).await;
                let Some((r, e)) = res.ok().filter(|r| r.status == 200).and_then(|r| etag(&r).map(|e| (r, e))) else {
                    tokio::time::sleep(pause).await;
                    continue;
                };
                let mut list: Vec<serde_json::Value> = listed(&r.body).unwrap_or_default().into_iter().map(|(_, d)| d).collect();
                list.retain(|d| d.get("digest").and_then(|x| x.as_str()) != Some(subject.as_str()));
                list.push(referrer_descriptor(m));
                let index = tag_index(&list);
                index_pushed(&index.bytes);
                match c.expect(w, put_manifest(c.ns(), tag, &index).header("If-Match", e), &[201, 412], "push.manifest.created-201").await? {
                    Some(r) if r.status == 201 => return Ok(()),
                    _ => tokio::time::sleep(pause).await,
                }
            }
            Ok(())
        }
    }))
    .await;
    out.extend(conditional.into_iter().filter_map(Result::err));
    let kept = c.read_listed(&tag).await;
    notes.pushed_conditional += set.artifacts.len();
    notes.lost_conditional += set.artifacts.iter().filter(|(_, m)| !kept.contains(&m.digest.to_string())).count();
    Ok(out)
}

/// A descriptor of `m` as a referrers list holds it.
fn referrer_descriptor(m: &Manifest) -> serde_json::Value {
    let mut d = serde_json::json!({"mediaType": m.media_type, "digest": m.digest.to_string(), "size": m.bytes.len()});
    if let Some(a) = &m.referrer_artifact_type {
        d["artifactType"] = serde_json::json!(a);
    }
    d
}

impl Ctx<'_> {
    /// The digests an index tag lists now (empty when it cannot be read).
    async fn read_listed(&self, tag: &str) -> Vec<String> {
        let (_, res) = self.send(SETUP, get_manifest(self.ns(), tag)).await;
        res.ok().filter(|r| r.status == 200).and_then(|r| listed(&r.body)).unwrap_or_default().into_iter().map(|(d, _)| d).collect()
    }
}
