//! Plan and run: scenarios run concurrently under `--jobs`, checks inside a scenario run in
//! order. Every planned check ends with exactly one CheckFinished event, whatever happens
//! (setup failure, cancellation, harness panic), so reporters can always close their files.

use crate::client::{Client, ErrorKind, HttpError, Request, Response};
use crate::config::Config;
use crate::content::Generator;
use crate::events::{CheckResult, Event, EventTx};
use crate::model::{Bucket, CheckMeta, Level, Outcome};
use crate::trace::{Exchange, TraceSink};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub type ScenarioFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Checks that share setup, run in order by one async function.
#[derive(Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub bucket: Bucket,
    pub checks: Vec<&'static CheckMeta>,
    /// Runs alone, after the concurrent scenarios: for checks that read repository-wide state
    /// (the tag list) that other scenarios change, so verdicts do not depend on timing.
    pub exclusive: bool,
    pub run: fn(Sc) -> ScenarioFuture,
}

/// What a violation cites. A requirement of the catalog is quoted as the spec version under
/// test words it, with that version's section (see `Citer`); text is for rules the catalog does
/// not hold (an RFC, a row of the spec's tables), quoted as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Req(&'static str),
    /// The first of these requirements the version under test has: a newer version's sentence
    /// with the older wording it replaced as fallback.
    First(&'static [&'static str]),
    Text(&'static str),
}

impl Rule {
    pub const fn req(id: &'static str) -> Rule {
        Rule::Req(id)
    }
    pub const fn first(ids: &'static [&'static str]) -> Rule {
        Rule::First(ids)
    }
}

impl From<&'static str> for Rule {
    fn from(t: &'static str) -> Rule {
        Rule::Text(t)
    }
}

/// Looks a requirement id up for a spec version: (section anchor, sentence). The binary wires in
/// the catalog; None when the version has no such requirement.
pub type Citer = fn(&str, crate::model::SpecVersion) -> Option<(&'static str, &'static str)>;

/// Why a check did not pass.
#[derive(Debug, Clone)]
pub enum Fail {
    /// The registry broke a requirement. `level` None means the check's own level.
    Violation {
        level: Option<Level>,
        message: String,
    },
    /// An optional feature the registry declined in an allowed way.
    Unsupported(String),
    /// The check could not run (precondition not met); not the registry's fault.
    Skip(String),
    /// The exchange itself failed (timeout, connection reset, body over the cap).
    Transport(HttpError),
}

pub type Res<T = ()> = Result<T, Fail>;

impl From<HttpError> for Fail {
    fn from(e: HttpError) -> Fail {
        Fail::Transport(e)
    }
}

/// Shared by every scenario of a run.
pub struct RunCtx {
    pub client: Arc<Client>,
    pub gen: Generator,
    pub cfg: Arc<Config>,
    pub events: EventTx,
    /// Check ids selected by bucket/filter; the others are not reported at all.
    pub selected: HashSet<&'static str>,
    pub cleanup: Cleanup,
    pub secrets: Arc<Vec<String>>,
    /// Run-unique token mixed into tags, so a run never touches tags it did not create.
    pub run_id: String,
    /// Ids that have had their CheckFinished event.
    pub reported: Mutex<HashSet<&'static str>>,
    /// Known failures from --expect.
    pub expectations: Option<crate::expect::Expectations>,
    /// Checks not judged because the registry refused the run's credentials.
    pub refused: Mutex<Vec<Refusal>>,
    /// Why a scenario's setup failed, for the checks it leaves without an outcome.
    pub setup_failures: Mutex<HashMap<&'static str, String>>,
    /// Outcome of every check reported so far, for checks that explain themselves by others
    /// (a client failing where a protocol check failed).
    pub outcomes: Mutex<HashMap<&'static str, Outcome>>,
    /// Setup pushes of one blob to one repository, one at a time and once per run (see
    /// `blob_gate`).
    pub blob_gates: Mutex<HashMap<(String, String), Arc<tokio::sync::Mutex<bool>>>>,
    /// Every 4xx answer of the registry's API that the run's checks received, for the check
    /// that judges them all (at most `ANSWERS_KEPT`).
    pub error_answers: Mutex<Vec<ErrorAnswer>>,
    /// Every 200 answer of the registry's API to a GET or HEAD of a manifest or blob that the
    /// run's checks received, for the check that judges their headers (at most
    /// `ANSWERS_KEPT`).
    pub content_answers: Mutex<Vec<ContentAnswer>>,
    /// Quotes requirements for the version under test.
    pub cite: Citer,
    /// Bytes the stress bucket's rounds have pushed (held to `--stress-max-bytes`).
    pub load_bytes: std::sync::atomic::AtomicU64,
}

/// A 4xx answer of the registry's API and the check that saw it.
#[derive(Debug, Clone)]
pub struct ErrorAnswer {
    pub check: &'static str,
    pub request: String,
    pub status: u16,
    /// The body, when it is a JSON object or array (what the error format rule is about).
    pub json: Option<serde_json::Value>,
}

/// A 200 answer to a GET or HEAD of `/v2/<name>/manifests/<ref>` or `/v2/<name>/blobs/<digest>`.
#[derive(Debug, Clone)]
pub struct ContentAnswer {
    pub check: &'static str,
    /// `GET` or `HEAD`.
    pub method: String,
    pub request: String,
    pub manifest: bool,
    pub digest_header: bool,
    pub content_length: bool,
}

/// How many answers of each kind a run keeps for the run-wide checks (a bound on memory, not on
/// coverage: runs see a few hundred).
pub const ANSWERS_KEPT: usize = 5000;

/// A check that met a refusal of credentials instead of an answer
/// about the spec: a 401 the client could not answer, or a 403.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub id: String,
    pub bucket: Bucket,
    pub why: String,
}

pub use crate::model::REFUSED;

impl RunCtx {
    /// A run's shared state before any scenario ran: content from the configuration's seed,
    /// nothing reported, pushed or kept yet, no expectations.
    pub fn new(client: Arc<Client>, cfg: Arc<Config>, events: EventTx, selected: HashSet<&'static str>, secrets: Arc<Vec<String>>, run_id: String, cite: Citer) -> RunCtx {
        RunCtx {
            client,
            gen: Generator::new(cfg.seed),
            cfg,
            events,
            selected,
            cleanup: Cleanup::default(),
            secrets,
            run_id,
            reported: Default::default(),
            expectations: None,
            refused: Default::default(),
            setup_failures: Default::default(),
            outcomes: Default::default(),
            blob_gates: Default::default(),
            error_answers: Default::default(),
            content_answers: Default::default(),
            cite,
            load_bytes: Default::default(),
        }
    }

    /// The gate of (repository, digest) for setup pushes; its value is whether the blob was
    /// pushed. Scenarios share constant blobs (the `{}` empty config): pushed concurrently, a
    /// registry that races on one blob (docker-registry 2.8 answered 400 to a manifest PUT
    /// then) would turn its race into a verdict on an unrelated check. Races are the stress
    /// bucket's business; conformance setup never makes its own.
    pub fn blob_gate(&self, repo: &str, digest: &str) -> Arc<tokio::sync::Mutex<bool>> {
        self.blob_gates.lock().unwrap().entry((repo.to_string(), digest.to_string())).or_default().clone()
    }
    /// Whether a refused exchange excuses a verdict. A 403 in a repository other than the two
    /// the run was given is not excused: a registry that forbids what it should answer with 404
    /// (a repository that does not exist) is judged.
    fn excuses(&self, e: &Exchange) -> bool {
        e.status != Some(403)
            || self.client.repository_of(&e.url).is_none_or(|r| r == self.cfg.namespace || r == self.cfg.crossmount_namespace)
    }
    fn refuse(&self, id: &str, bucket: Bucket, why: &str) {
        self.refused.lock().unwrap().push(Refusal {
            id: id.to_string(),
            bucket,
            why: why.to_string(),
        });
    }
}

/// What a run pushed, so it can be removed at the end (referrers and indexes first).
#[derive(Default)]
pub struct Cleanup {
    inner: Mutex<CleanupState>,
}

#[derive(Default)]
struct CleanupState {
    /// (repo, digest) → rank: higher ranks are deleted first.
    manifests: BTreeMap<(String, String), u8>,
    tags: Vec<(String, String)>,
    blobs: Vec<(String, String)>,
}

/// Deletion order ranks for pushed manifests.
pub const RANK_IMAGE: u8 = 1;
pub const RANK_INDEX: u8 = 2;
pub const RANK_REFERRER: u8 = 3;

impl Cleanup {
    pub fn manifest(&self, repo: &str, digest: &str, rank: u8) {
        let mut s = self.inner.lock().unwrap();
        let e = s
            .manifests
            .entry((repo.to_string(), digest.to_string()))
            .or_insert(rank);
        *e = (*e).max(rank);
    }
    pub fn tag(&self, repo: &str, tag: &str) {
        self.inner
            .lock()
            .unwrap()
            .tags
            .push((repo.to_string(), tag.to_string()));
    }
    pub fn blob(&self, repo: &str, digest: &str) {
        let mut s = self.inner.lock().unwrap();
        let k = (repo.to_string(), digest.to_string());
        if !s.blobs.contains(&k) {
            s.blobs.push(k);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Tags, manifests and blobs recorded.
    pub fn len(&self) -> usize {
        let s = self.inner.lock().unwrap();
        s.manifests.len() + s.blobs.len() + s.tags.len()
    }

    /// Deletes everything recorded. Returns one line per kind for the summary. Tags first
    /// (registries without manifest delete may still allow tag delete), then manifests rank by
    /// rank, highest first (referrers, indexes, images), then blobs; within a step up to `CLEANUP_AT_ONCE`
    /// DELETEs run at once, so a stress run's thousands of items fit the cleanup budget.
    pub async fn run(&self, client: &Client, trace: &TraceSink) -> Vec<String> {
        let (manifests, tags, blobs) = {
            let s = self.inner.lock().unwrap();
            let mut m: Vec<_> = s
                .manifests
                .iter()
                .map(|((r, d), k)| (*k, r.clone(), d.clone()))
                .collect();
            m.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            (m, s.tags.clone(), s.blobs.clone())
        };
        let mut lines = vec![];
        let tag_paths: Vec<String> = tags.iter().map(|(repo, tag)| format!("/v2/{repo}/manifests/{tag}")).collect();
        if !tag_paths.is_empty() {
            lines.push(format!("tags: {} of {} deleted", delete_all(client, trace, &tag_paths).await, tag_paths.len()));
        }
        if !manifests.is_empty() {
            let mut gone = 0;
            let mut ranks: Vec<u8> = manifests.iter().map(|m| m.0).collect();
            ranks.dedup();
            for rank in ranks {
                let paths: Vec<String> = manifests.iter().filter(|m| m.0 == rank).map(|(_, repo, d)| format!("/v2/{repo}/manifests/{d}")).collect();
                gone += delete_all(client, trace, &paths).await;
            }
            lines.push(format!("manifests: {gone} of {} deleted", manifests.len()));
        }
        let blob_paths: Vec<String> = blobs.iter().map(|(repo, d)| format!("/v2/{repo}/blobs/{d}")).collect();
        if !blob_paths.is_empty() {
            lines.push(format!("blobs: {} of {} deleted", delete_all(client, trace, &blob_paths).await, blob_paths.len()));
        }
        lines
    }
}

/// DELETEs of cleanup in flight at once.
const CLEANUP_AT_ONCE: usize = 8;

/// Deletes every path, `CLEANUP_AT_ONCE` at a time; returns how many are gone afterwards.
async fn delete_all(client: &Client, trace: &TraceSink, paths: &[String]) -> usize {
    use futures_util::StreamExt;
    futures_util::stream::iter(paths).map(|p| delete(client, trace, p)).buffer_unordered(CLEANUP_AT_ONCE).filter(|gone| std::future::ready(*gone)).count().await
}

/// True when the thing is gone afterwards (deleted now, or already absent).
async fn delete(client: &Client, trace: &TraceSink, path: &str) -> bool {
    match client.send(&Request::delete(path), trace).await {
        Ok(r) => matches!(r.status, 200..=299 | 404),
        Err(_) => false,
    }
}

/// One scenario's handle: runs its checks in order and remembers their outcomes.
pub struct Sc {
    pub ctx: Arc<RunCtx>,
    pub scenario: &'static str,
    /// The scenario's bucket: where a failed setup is reported.
    pub bucket: Bucket,
    pub gen: Generator,
    outcomes: HashMap<&'static str, Outcome>,
    setup_failed: Option<String>,
    /// Exchanges made during setup; attached to the setup failure report.
    setup_trace: TraceSink,
    /// The figures of the check being finished (stress checks).
    load: Option<crate::model::LoadStats>,
    /// The check ids the scenario declares (empty: a helper handle that runs no checks).
    declared: Vec<&'static str>,
}

impl Sc {
    pub fn new(ctx: Arc<RunCtx>, scenario: &'static str, bucket: Bucket) -> Sc {
        let gen = ctx.gen.scope(scenario);
        let setup_trace = TraceSink::new(ctx.secrets.clone());
        Sc {
            ctx,
            scenario,
            bucket,
            gen,
            outcomes: HashMap::new(),
            setup_failed: None,
            setup_trace,
            load: None,
            declared: vec![],
        }
    }

    /// The handle a scenario runs with: its checks must be among those it declares.
    pub fn of(ctx: Arc<RunCtx>, s: &Scenario) -> Sc {
        Sc { declared: s.checks.iter().map(|m| m.id).collect(), ..Sc::new(ctx, s.name, s.bucket) }
    }

    pub fn cfg(&self) -> &Config {
        &self.ctx.cfg
    }
    pub fn ns(&self) -> &str {
        &self.ctx.cfg.namespace
    }
    pub fn ns2(&self) -> &str {
        &self.ctx.cfg.crossmount_namespace
    }
    pub fn client(&self) -> &Client {
        &self.ctx.client
    }
    pub fn cleanup(&self) -> &Cleanup {
        &self.ctx.cleanup
    }
    /// A tag unique to this run and scenario.
    pub fn tag(&self, label: &str) -> String {
        format!("{}-{}-{}", label, self.ctx.run_id, self.gen.token(label, 6))
    }

    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        self.outcomes.get(id).copied()
    }
    pub fn passed(&self, m: &CheckMeta) -> bool {
        self.outcome(m.id) == Some(Outcome::Passed)
    }
    pub fn failed_setup(&self) -> Option<&str> {
        self.setup_failed.as_deref()
    }

    /// Sends a request outside of any check (setup), traced for the setup report.
    pub async fn send(&self, req: Request) -> Res<Response> {
        Ok(self.ctx.client.send(&req, &self.setup_trace).await?)
    }
    pub fn setup_trace(&self) -> &TraceSink {
        &self.setup_trace
    }

    /// Runs scenario setup. On failure the scenario's remaining checks are skipped with the
    /// reason, and the failure itself is reported once as `<scenario>.setup`.
    pub async fn setup<T>(&mut self, what: &str, f: impl Future<Output = Res<T>>) -> Option<T> {
        if self.setup_failed.is_some() {
            return None;
        }
        let started = Instant::now();
        match f.await {
            Ok(v) => {
                self.setup_trace.take();
                Some(v)
            }
            Err(e) => {
                let (mut outcome, msg) = match &e {
                    Fail::Transport(h) if h.kind == ErrorKind::Cancelled => {
                        (Outcome::NotRun, "run cancelled".to_string())
                    }
                    Fail::Skip(m) | Fail::Unsupported(m) => (Outcome::Skipped, m.clone()),
                    Fail::Violation { message, .. } => (Outcome::Failed, message.clone()),
                    Fail::Transport(h) => (Outcome::Failed, h.message.clone()),
                };
                let refused = (outcome == Outcome::Failed).then(|| self.setup_trace.refusal(|e| self.ctx.excuses(e))).flatten();
                let reason = match refused {
                    Some(why) => {
                        outcome = Outcome::Skipped;
                        format!("{REFUSED} in setup '{what}' of scenario {}: {why}", self.scenario)
                    }
                    None => format!("setup '{what}' of scenario {} failed: {msg}", self.scenario),
                };
                // Messages quote registry answers: redact them here, once, like traces.
                let reason = crate::trace::redact_secrets(&reason, &self.ctx.secrets);
                self.setup_failed = Some(reason.clone());
                self.ctx.setup_failures.lock().unwrap().insert(self.scenario, reason.clone());
                if outcome == Outcome::Failed {
                    let id: &'static str =
                        Box::leak(format!("{}.setup", self.scenario).into_boxed_str());
                    let r = CheckResult {
                        id: id.to_string(),
                        bucket: self.bucket,
                        name: format!("setup: {what}"),
                        outcome,
                        level: Level::Must,
                        spec: String::new(),
                        spec_url: String::new(),
                        requirements: vec![],
                        duration_ms: started.elapsed().as_millis() as u64,
                        message: reason.clone(),
                        expectation: None,
                        trace: self.setup_trace.take(),
                        load: None,
                    };
                    let _ = self.ctx.events.send(Event::CheckFinished(Arc::new(r)));
                } else {
                    let _ = self.ctx.events.send(Event::Note(reason));
                }
                None
            }
        }
    }

    /// Runs one check. Skipped without running when setup failed or the spec version under
    /// test does not have the requirement; not reported at all when filtered out.
    pub async fn check(
        &mut self,
        meta: &'static CheckMeta,
        body: impl AsyncFnOnce(&mut Ck) -> Res,
    ) -> Outcome {
        // A check missing from its scenario's list would be left out of every plan unseen.
        if !self.declared.is_empty() && !self.declared.contains(&meta.id) {
            let why = format!("harness error: scenario {} runs check {} without declaring it among its checks", self.scenario, meta.id);
            return self.finish(meta, Outcome::Failed, why, 0, vec![]);
        }
        if !self.ctx.selected.contains(meta.id) {
            return Outcome::Skipped;
        }
        let v = self.ctx.cfg.spec_version;
        if !meta.applies_to(v) {
            return self.skip(
                meta,
                &format!(
                    "not part of spec {} (since {})",
                    v.as_str(),
                    meta.since.as_str()
                ),
            );
        }
        if self.ctx.client.cancel.is_cancelled() {
            return self.finish(
                meta,
                Outcome::NotRun,
                "run cancelled before this check started".into(),
                0,
                vec![],
            );
        }
        if let Some(r) = self.setup_failed.clone() {
            return self.skip(meta, &r);
        }
        let _ = self.ctx.events.send(Event::CheckStarted { id: meta.id });
        let started = Instant::now();
        let mut ck = Ck {
            meta,
            version: v,
            cite: self.ctx.cite,
            level: meta.level_for(v),
            trace: TraceSink::new(self.ctx.secrets.clone()),
            client: self.ctx.client.clone(),
            notes: vec![],
            load: None,
        };
        let res = body(&mut ck).await;
        let (mut outcome, mut message) = classify(&ck, res);
        // An answer about the credentials is no answer about the spec: not judged.
        if matches!(outcome, Outcome::Failed | Outcome::Warned) {
            if let Some(why) = ck.trace.refusal(|e| self.ctx.excuses(e)) {
                outcome = Outcome::Skipped;
                message = format!("{REFUSED}: {why}");
            }
        }
        let trace = ck.trace.take();
        self.keep_answers(meta.id, &trace);
        self.load = ck.load.take();
        self.finish(
            meta,
            outcome,
            message,
            started.elapsed().as_millis() as u64,
            trace,
        )
    }

    /// Keeps the registry's 4xx answers, and its 200s to manifest and blob GETs and HEADs, from
    /// a check's exchanges: answers of the registry's own API (not a token service's, not a
    /// redirect target's).
    fn keep_answers(&self, id: &'static str, trace: &[Exchange]) {
        let base = &self.ctx.client.base;
        for e in trace {
            let Some(status) = e.status else { continue };
            let Ok(u) = url::Url::parse(&e.url) else { continue };
            if u.host_str() != base.host_str() || u.port_or_known_default() != base.port_or_known_default() || !u.path().starts_with("/v2/") {
                continue;
            }
            let request = format!("{} {}", e.method, u.path());
            if (400..500).contains(&status) {
                let mut kept = self.ctx.error_answers.lock().unwrap();
                if kept.len() < ANSWERS_KEPT {
                    let json = serde_json::from_str::<serde_json::Value>(&e.response_body).ok().filter(|v| v.is_object() || v.is_array());
                    kept.push(ErrorAnswer { check: id, request, status, json });
                }
            } else if status == 200 && (e.method == "GET" || e.method == "HEAD") {
                let manifest = u.path().contains("/manifests/");
                if !manifest && !(u.path().contains("/blobs/") && !u.path().contains("/blobs/uploads/")) {
                    continue;
                }
                let has = |n: &str| e.response_headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
                let mut kept = self.ctx.content_answers.lock().unwrap();
                if kept.len() < ANSWERS_KEPT {
                    kept.push(ContentAnswer { check: id, method: e.method.clone(), request, manifest, digest_header: has("docker-content-digest"), content_length: has("content-length") });
                }
            }
        }
    }

    /// Runs `meta` only if `dep` passed; otherwise reports it skipped with the reason.
    pub async fn check_after(
        &mut self,
        dep: &'static CheckMeta,
        meta: &'static CheckMeta,
        body: impl AsyncFnOnce(&mut Ck) -> Res,
    ) -> Outcome {
        match self.outcome(dep.id) {
            Some(Outcome::Passed) | Some(Outcome::Warned) => self.check(meta, body).await,
            Some(o) => self.skip(
                meta,
                &format!("depends on {} which was {}", dep.id, o.as_str()),
            ),
            None => self.skip(meta, &format!("depends on {} which did not run", dep.id)),
        }
    }

    pub fn skip(&mut self, meta: &'static CheckMeta, reason: &str) -> Outcome {
        if !self.ctx.selected.contains(meta.id) {
            return Outcome::Skipped;
        }
        // A skip caused by a cut-short run (a setup stopped by the deadline) is not a skip.
        if self.ctx.client.cancel.is_cancelled() {
            return self.finish(meta, Outcome::NotRun, format!("run cancelled before this check ran ({reason})"), 0, vec![]);
        }
        self.finish(meta, Outcome::Skipped, reason.to_string(), 0, vec![])
    }

    fn finish(
        &mut self,
        meta: &'static CheckMeta,
        outcome: Outcome,
        message: String,
        ms: u64,
        trace: Vec<Exchange>,
    ) -> Outcome {
        if self.outcomes.contains_key(meta.id) {
            return self.outcomes[meta.id];
        }
        self.outcomes.insert(meta.id, outcome);
        if !self.ctx.reported.lock().unwrap().insert(meta.id) {
            return outcome;
        }
        let mut r = CheckResult::of(meta, self.ctx.cfg.spec_version, outcome, message, ms, trace);
        r.load = self.load.take();
        if let Some(e) = self
            .ctx
            .expectations
            .as_ref()
            .and_then(|x| x.lookup(&r.id, &r.requirements))
        {
            r.expectation = Some(e.reason.clone());
            match r.outcome {
                Outcome::Failed => {
                    r.outcome = Outcome::ExpectedFailure;
                    r.message = format!("expected failure ({}): {}", e.reason, r.message);
                }
                Outcome::Passed => {
                    r.message = format!("stale expectation: listed as a known failure ({}) but passed; remove it from the expectations file", e.reason);
                }
                _ => {}
            }
        }
        let outcome = r.outcome;
        self.ctx.outcomes.lock().unwrap().insert(meta.id, outcome);
        r.message = crate::trace::redact_secrets(&r.message, &self.ctx.secrets);
        if outcome == Outcome::Skipped && r.message.starts_with(REFUSED) {
            self.ctx.refuse(meta.id, meta.bucket, &r.message[REFUSED.len()..].trim_start_matches([':', ' ']));
        }
        let _ = self.ctx.events.send(Event::CheckFinished(Arc::new(r)));
        outcome
    }

    /// Reports every declared check that has no outcome yet (called by the runner).
    fn close(&mut self, checks: &[&'static CheckMeta], why: Option<&str>) {
        for m in checks {
            if self.ctx.selected.contains(m.id) && !self.outcomes.contains_key(m.id) {
                let (o, msg) = if self.ctx.client.cancel.is_cancelled() {
                    (
                        Outcome::NotRun,
                        "run cancelled before this check ran".to_string(),
                    )
                } else if let Some(r) = &self.setup_failed {
                    (Outcome::Skipped, r.clone())
                } else if let Some(w) = why {
                    (Outcome::Skipped, w.to_string())
                } else {
                    // Declared, and neither run nor skipped with a reason: a harness bug.
                    (Outcome::Failed, format!("harness error: scenario {} declares this check but ended without running or skipping it", self.scenario))
                };
                self.finish(m, o, msg, 0, vec![]);
            }
        }
    }
}

fn classify(ck: &Ck, res: Res) -> (Outcome, String) {
    let notes = ck.notes.join("; ");
    match res {
        Ok(()) => (Outcome::Passed, notes),
        Err(Fail::Violation { level, message }) => {
            let l = level.unwrap_or(ck.level);
            let o = if l == Level::Must {
                Outcome::Failed
            } else {
                Outcome::Warned
            };
            (o, format!("{} {}", l.as_str(), message))
        }
        Err(Fail::Unsupported(m)) => (Outcome::Unsupported, m),
        Err(Fail::Skip(m)) => (Outcome::Skipped, m),
        Err(Fail::Transport(e)) if e.kind == ErrorKind::Cancelled => {
            (Outcome::NotRun, "run cancelled during this check".into())
        }
        // The registry broke the exchange itself: the check's requirement was not met.
        Err(Fail::Transport(e)) => (
            Outcome::Failed,
            format!(
                "§{} ({}): request failed: {}",
                ck.meta.spec, ck.meta.name, e.message
            ),
        ),
    }
}

/// How a finding that a version under test has no rule for starts: "not judged: spec 1.0 has
/// no requirement …".
pub const NOT_IN_VERSION: &str = "not judged: spec";

/// A running check: sends requests (traced) and builds failure messages.
pub struct Ck {
    pub meta: &'static CheckMeta,
    /// The spec version under test.
    pub version: crate::model::SpecVersion,
    cite: Citer,
    pub level: Level,
    pub trace: TraceSink,
    pub client: Arc<Client>,
    notes: Vec<String>,
    /// Figures of a stress check, reported with its result.
    pub load: Option<crate::model::LoadStats>,
}

impl Ck {
    pub async fn send(&mut self, req: Request) -> Res<Response> {
        Ok(self.client.send(&req, &self.trace).await?)
    }
    /// A remark shown with a passed check (e.g. which allowed alternative the registry chose).
    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// `§section "sentence"` of a rule, as the version under test words it.
    pub fn cite(&self, rule: impl Into<Rule>) -> String {
        match self.resolve(rule.into()) {
            Rule::Text(t) => format!("§{} \"{t}\"", self.meta.spec),
            Rule::Req(id) => match (self.cite)(id, self.version) {
                Some((section, quote)) => format!("§{section} \"{quote}\""),
                // A check that cites a requirement its version lacks is a harness bug; say so
                // rather than quote another version's text.
                None => format!("§{} (requirement {id}, not in spec {})", self.meta.spec, self.version.as_str()),
            },
            Rule::First(_) => unreachable!("resolved"),
        }
    }

    /// A `Rule::First` as the requirement the version under test has (its first id when none).
    fn resolve(&self, rule: Rule) -> Rule {
        match rule {
            Rule::First(ids) => Rule::Req(ids.iter().copied().find(|id| (self.cite)(id, self.version).is_some()).unwrap_or(ids[0])),
            other => other,
        }
    }

    /// A violation at the check's level. `rule` names what is broken; `detail` says what came back.
    pub fn fail(&self, rule: impl Into<Rule>, detail: impl std::fmt::Display) -> Fail {
        self.violation(None, rule.into(), detail)
    }
    /// A violation at an explicit level (a MUST inside a SHOULD check, or the reverse).
    pub fn fail_at(&self, level: Level, rule: impl Into<Rule>, detail: impl std::fmt::Display) -> Fail {
        self.violation(Some(level), rule.into(), detail)
    }

    /// A rule the version under test does not have judges nothing there: the finding is a
    /// skip that says why (`NOT_IN_VERSION`), not a violation quoting another version.
    fn violation(&self, level: Option<Level>, rule: Rule, detail: impl std::fmt::Display) -> Fail {
        let rule = self.resolve(rule);
        if let Rule::Req(id) = rule {
            if (self.cite)(id, self.version).is_none() {
                return Fail::Skip(format!("{NOT_IN_VERSION} {} has no requirement {id}; seen: {detail}", self.version.as_str()));
            }
        }
        Fail::Violation {
            level,
            message: format!("{}: {}", self.cite(rule), detail),
        }
    }

    pub fn expect_status(&self, resp: &Response, allowed: &[u16], rule: impl Into<Rule>) -> Res {
        if allowed.contains(&resp.status) {
            return Ok(());
        }
        let want: Vec<String> = allowed.iter().map(u16::to_string).collect();
        Err(self.fail(
            rule,
            format!(
                "{} answered {}; expected {}",
                resp.request,
                resp.summary(),
                want.join(" or ")
            ),
        ))
    }

    pub fn expect_header<'r>(&self, resp: &'r Response, name: &str, rule: impl Into<Rule>) -> Res<&'r str> {
        match resp.header(name) {
            Some(v) => Ok(v),
            None => Err(self.fail(
                rule,
                format!(
                    "{} answered {} without a {} header",
                    resp.request, resp.status, name
                ),
            )),
        }
    }

    pub fn expect(&self, cond: bool, rule: impl Into<Rule>, detail: impl FnOnce() -> String) -> Res {
        if cond {
            Ok(())
        } else {
            Err(self.fail(rule, detail()))
        }
    }
}

/// Runs every scenario (bounded by --jobs), then the exclusive ones one at a time; every
/// declared check gets an outcome. Returns when all are done.
pub async fn run_scenarios(ctx: Arc<RunCtx>, scenarios: Vec<Scenario>, jobs: usize) {
    let (alone, together): (Vec<Scenario>, Vec<Scenario>) =
        scenarios.into_iter().partition(|s| s.exclusive);
    run_batch(ctx.clone(), together, jobs).await;
    for s in alone {
        run_batch(ctx.clone(), vec![s], 1).await;
    }
}

async fn run_batch(ctx: Arc<RunCtx>, scenarios: Vec<Scenario>, jobs: usize) {
    let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for s in scenarios {
        let ctx = ctx.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let checks = s.checks.clone();
            // The scenario body runs in its own task so a panic there is contained and
            // its checks are still reported.
            let handle = tokio::spawn((s.run)(Sc::of(ctx.clone(), &s)));
            let why = match handle.await {
                Ok(()) => None,
                Err(e) => Some(format!(
                    "harness error in scenario {}: {}",
                    s.name,
                    panic_text(e)
                )),
            };
            (s.name, s.bucket, checks, why)
        });
    }
    while let Some(j) = set.join_next().await {
        if let Ok((name, bucket, checks, why)) = j {
            if let Some(w) = &why {
                let _ = ctx.events.send(Event::Note(w.clone()));
            }
            close_missing(&ctx, name, bucket, &checks, why.as_deref());
        }
    }
}

/// Scenarios report their own checks; any declared check left without an outcome (panic,
/// early return) is reported here.
fn close_missing(
    ctx: &Arc<RunCtx>,
    name: &'static str,
    bucket: Bucket,
    checks: &[&'static CheckMeta],
    why: Option<&str>,
) {
    let mut sc = Sc::new(ctx.clone(), name, bucket);
    {
        let reported = ctx.reported.lock().unwrap();
        for m in checks {
            if reported.contains(m.id) {
                sc.outcomes.insert(m.id, Outcome::Passed);
            }
        }
    }
    let setup = ctx.setup_failures.lock().unwrap().get(name).cloned();
    sc.setup_failed = setup;
    sc.close(checks, why);
}

fn panic_text(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        let p = e.into_panic();
        if let Some(s) = p.downcast_ref::<&str>() {
            return format!("panic: {s}");
        }
        if let Some(s) = p.downcast_ref::<String>() {
            return format!("panic: {s}");
        }
        "panic".into()
    } else {
        "task cancelled".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpecVersion;

    static DECLARED: CheckMeta = CheckMeta::new("pull.test.declared", Bucket::Pull, Level::Must, "pulling-blobs", "declared");
    static FORGOTTEN: CheckMeta = CheckMeta::new("pull.test.forgotten", Bucket::Pull, Level::Must, "pulling-blobs", "declared, never run");
    static STRAY: CheckMeta = CheckMeta::new("pull.test.stray", Bucket::Pull, Level::Must, "pulling-blobs", "run, not declared");

    /// Runs one scenario declaring DECLARED and FORGOTTEN whose body runs DECLARED and STRAY;
    /// returns every reported (id, outcome, message).
    fn run_one() -> Vec<(String, Outcome, String)> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let cfg = Config::resolve(&crate::config::RunArgs::default(), &std::collections::BTreeMap::new(), String::new()).unwrap();
            let client = Client::new(url::Url::parse("http://127.0.0.1:9/").unwrap(), Default::default()).unwrap();
            let cite: Citer = |_: &str, _: SpecVersion| None;
            let selected = [DECLARED.id, FORGOTTEN.id, STRAY.id].into_iter().collect();
            let ctx = Arc::new(RunCtx::new(client, Arc::new(cfg), tx, selected, Arc::default(), "t".into(), cite));
            let s = Scenario {
                name: "test",
                bucket: Bucket::Pull,
                checks: vec![&DECLARED, &FORGOTTEN],
                exclusive: false,
                run: |mut sc| {
                    Box::pin(async move {
                        sc.check(&DECLARED, async |_| Ok(())).await;
                        sc.check(&STRAY, async |_| Ok(())).await;
                    })
                },
            };
            run_scenarios(ctx, vec![s], 1).await;
            let mut out = vec![];
            while let Ok(e) = rx.try_recv() {
                if let Event::CheckFinished(r) = e {
                    out.push((r.id.clone(), r.outcome, r.message.clone()));
                }
            }
            out
        })
    }

    /// A check run without being declared, and one declared but neither run nor skipped, are
    /// harness errors that fail the run, not silent gaps.
    #[test]
    fn undeclared_and_unrun_checks_fail_as_harness_errors() {
        let got = run_one();
        let find = |id: &str| got.iter().find(|(i, _, _)| i == id).unwrap_or_else(|| panic!("{id} not reported: {got:?}"));
        assert_eq!(find(DECLARED.id).1, Outcome::Passed);
        let (_, o, m) = find(STRAY.id);
        assert!(*o == Outcome::Failed && m.contains("without declaring it"), "{m}");
        let (_, o, m) = find(FORGOTTEN.id);
        assert!(*o == Outcome::Failed && m.contains("ended without running or skipping it"), "{m}");
    }
}
