//! The requirement catalog: every registry-binding sentence of the distribution spec (and the
//! image-spec rules a registry keeps), with the checks that test it. The data lives in
//! `requirements.toml` beside this file, reviewed by people; this module loads it once and
//! answers "which checks test this requirement", "which requirements does this check test",
//! and "how much of the testable spec is covered".

use crate::model::{Level, Outcome, SpecVersion};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

/// The catalog text, compiled in so the binary never depends on a data file at run time.
pub const TEXT: &str = include_str!("requirements.toml");

/// RFC 2119 level as the spec writes it. Checks only distinguish MUST/SHOULD/MAY
/// (`model::Level`); the negative forms matter to readers of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum ReqLevel {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "MUST NOT")]
    MustNot,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    #[serde(rename = "MAY")]
    May,
}

impl ReqLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            ReqLevel::Must => "MUST",
            ReqLevel::MustNot => "MUST NOT",
            ReqLevel::Should => "SHOULD",
            ReqLevel::ShouldNot => "SHOULD NOT",
            ReqLevel::May => "MAY",
        }
    }
    /// The verdict level: a broken MUST NOT fails like a broken MUST.
    pub fn base(self) -> Level {
        match self {
            ReqLevel::Must | ReqLevel::MustNot => Level::Must,
            ReqLevel::Should | ReqLevel::ShouldNot => Level::Should,
            ReqLevel::May => Level::May,
        }
    }
    /// Words of RFC 2119 that express this level (REQUIRED/SHALL are MUST, and so on).
    fn keywords(self) -> &'static [&'static str] {
        match self {
            ReqLevel::Must => &["MUST", "REQUIRED", "SHALL"],
            ReqLevel::MustNot => &["MUST NOT", "SHALL NOT"],
            ReqLevel::Should => &["SHOULD", "RECOMMENDED"],
            ReqLevel::ShouldNot => &["SHOULD NOT", "NOT RECOMMENDED"],
            ReqLevel::May => &["MAY", "OPTIONAL"],
        }
    }
}

/// One registry requirement. Field meanings are documented at the top of `requirements.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub section: String,
    #[serde(default)]
    pub source: Option<String>,
    pub level: ReqLevel,
    #[serde(default)]
    pub level_v1_1: Option<ReqLevel>,
    pub quote: String,
    #[serde(default)]
    pub quote_v1_1: Option<String>,
    pub versions: Vec<SpecVersion>,
    #[serde(default)]
    pub derived: bool,
    pub testable: bool,
    #[serde(default)]
    pub reason: Option<String>,
    /// Ids of the checks that test it, in report order: not in the file, filled from the
    /// checks' own declarations (`CheckMeta::reqs`).
    #[serde(skip)]
    pub checks: Vec<String>,
    #[serde(default)]
    pub planned: Option<String>,
    #[serde(default)]
    pub planned_what: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl Requirement {
    pub fn applies_to(&self, v: SpecVersion) -> bool {
        self.versions.contains(&v)
    }
    /// Level under `v` (1.0 shares 1.1's level, as in `CheckMeta::level_for`).
    pub fn level_for(&self, v: SpecVersion) -> ReqLevel {
        match (v, self.level_v1_1) {
            (SpecVersion::V1_0 | SpecVersion::V1_1, Some(l)) => l,
            _ => self.level,
        }
    }
    /// The sentence as `v` words it (1.0 wording is not kept; 1.1's is the closest).
    pub fn quote_for(&self, v: SpecVersion) -> &str {
        match (v, &self.quote_v1_1) {
            (SpecVersion::V1_0 | SpecVersion::V1_1, Some(q)) => q,
            _ => &self.quote,
        }
    }
    /// Covered = testable and named by at least one check (that exists, when `known` is given).
    pub fn is_covered(&self, known: Option<&HashSet<&str>>) -> bool {
        self.testable
            && self
                .checks
                .iter()
                .any(|c| known.is_none_or(|k| k.contains(c.as_str())))
    }
    pub fn spec_url(&self, v: SpecVersion) -> String {
        match self.source.as_deref() {
            Some(src) if src.starts_with("image-spec/") => {
                format!(
                    "https://github.com/opencontainers/image-spec/blob/main/{}",
                    &src["image-spec/".len()..]
                )
            }
            _ => {
                let tree = match v {
                    SpecVersion::Main => "main",
                    SpecVersion::V1_1 => "v1.1.1",
                    SpecVersion::V1_0 => "v1.0.1",
                };
                format!(
                    "https://github.com/opencontainers/distribution-spec/blob/{tree}/spec.md#{}",
                    self.section
                )
            }
        }
    }
}

/// A sentence that reads like a registry rule but binds clients. Listed, never counted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOnly {
    pub section: String,
    pub quote: String,
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "requirement", default)]
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub client_only: Vec<ClientOnly>,
}

/// Parse catalog text. Errors carry the TOML parser's line/column.
pub fn parse(text: &str) -> Result<Catalog, String> {
    toml::from_str(text).map_err(|e| format!("suites/requirements.toml: {e}"))
}

struct Loaded {
    catalog: Catalog,
    by_id: HashMap<String, usize>,
    by_check: HashMap<String, Vec<usize>>,
}

fn loaded() -> &'static Loaded {
    static L: OnceLock<Loaded> = OnceLock::new();
    L.get_or_init(|| {
        // Compiled-in data, not registry or user input; tests/catalog.rs keeps it parseable.
        let mut catalog =
            parse(TEXT).unwrap_or_else(|e| panic!("embedded requirement catalog is invalid: {e}"));
        let mut by_id = HashMap::new();
        for (i, r) in catalog.requirements.iter().enumerate() {
            by_id.entry(r.id.clone()).or_insert(i);
        }
        // A check names what it tests; the catalog's side is derived. An id no requirement has
        // is left out here and reported by tests/catalog.rs.
        let mut by_check: HashMap<String, Vec<usize>> = HashMap::new();
        for m in crate::suites::checks() {
            for rid in m.requirements {
                let Some(&i) = by_id.get(*rid) else { continue };
                let checks = &mut catalog.requirements[i].checks;
                if !checks.iter().any(|c| c == m.id) {
                    checks.push(m.id.to_string());
                }
                let v = by_check.entry(m.id.to_string()).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
        Loaded {
            catalog,
            by_id,
            by_check,
        }
    })
}

pub fn catalog() -> &'static Catalog {
    &loaded().catalog
}

/// Every requirement, in file order.
pub fn requirements() -> &'static [Requirement] {
    &loaded().catalog.requirements
}

pub fn requirement(id: &str) -> Option<&'static Requirement> {
    let l = loaded();
    l.by_id.get(id).map(|&i| &l.catalog.requirements[i])
}

/// Requirement `id` as spec version `v` words it: (section, sentence). None: unknown id, or
/// not part of `v`.
pub fn quote(id: &str, v: SpecVersion) -> Option<(&'static str, &'static str)> {
    let r = requirement(id).filter(|r| r.applies_to(v))?;
    Some((r.section.as_str(), r.quote_for(v)))
}

/// Check ids that test requirement `req_id` (empty for an unknown id).
pub fn checks_for(req_id: &str) -> &'static [String] {
    requirement(req_id)
        .map(|r| r.checks.as_slice())
        .unwrap_or(&[])
}

/// Requirements that name `check_id`, in file order.
pub fn requirements_for(check_id: &str) -> Vec<&'static Requirement> {
    let l = loaded();
    l.by_check
        .get(check_id)
        .map(|ix| ix.iter().map(|&i| &l.catalog.requirements[i]).collect())
        .unwrap_or_default()
}

/// Every check id the catalog names, sorted.
pub fn named_checks() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = loaded().by_check.keys().map(|s| s.as_str()).collect();
    v.sort_unstable();
    v
}

/// Counts for one slice of the catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub testable: usize,
    pub covered: usize,
    /// Testable, not covered, with a proposed check.
    pub planned: usize,
}

impl Counts {
    /// Covered share of the testable requirements, in percent (100 when nothing is testable).
    pub fn percent(&self) -> f64 {
        if self.testable == 0 {
            100.0
        } else {
            self.covered as f64 * 100.0 / self.testable as f64
        }
    }
    fn add(&mut self, r: &Requirement, known: Option<&HashSet<&str>>) {
        self.total += 1;
        if r.testable {
            self.testable += 1;
            if r.is_covered(known) {
                self.covered += 1;
            } else if r.planned.is_some() {
                self.planned += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub all: Counts,
    pub per_version: BTreeMap<SpecVersion, Counts>,
    pub per_level: BTreeMap<Level, Counts>,
    /// Testable requirements no (existing) check covers.
    pub uncovered: Vec<String>,
}

/// Coverage of `reqs`. With `known`, only checks in that set count (the checks that exist now);
/// without, every check the catalog names counts.
pub fn coverage(reqs: &[Requirement], known: Option<&HashSet<&str>>) -> Coverage {
    let mut c = Coverage::default();
    for r in reqs {
        c.all.add(r, known);
        for v in &r.versions {
            c.per_version.entry(*v).or_default().add(r, known);
        }
        c.per_level.entry(r.level.base()).or_default().add(r, known);
        if r.testable && !r.is_covered(known) {
            c.uncovered.push(r.id.clone());
        }
    }
    c
}

// ---- a run's standing, requirement by requirement ----

/// How bad an outcome is, for folding the outcomes of a requirement's checks into one:
/// failed > warned > expected-failure > unsupported > passed > skipped > not-run.
pub fn outcome_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Failed => 6,
        Outcome::Warned => 5,
        Outcome::ExpectedFailure => 4,
        Outcome::Unsupported => 3,
        Outcome::Passed => 2,
        Outcome::Skipped => 1,
        Outcome::NotRun => 0,
    }
}

/// Coverage of the run as the run record carries it (typed in the engine's model).
pub use crate::model::{CheckOutcome, RequirementOutcome, RunCounts, RunCoverage};

/// A run's coverage: what the binary hands the reporters (`report::Coverer`).
pub fn coverage_of_run(v: SpecVersion, results: &[(&str, Outcome)]) -> RunCoverage {
    // Every check a requirement names is declared (its checks are derived from declarations).
    run_coverage(v, results.iter().copied(), None)
}

/// Coverage of a run under `v` from `(check id, outcome)` pairs. With `known`, only checks in
/// that set count as covering (the checks that exist).
pub fn run_coverage<'a>(
    v: SpecVersion,
    results: impl IntoIterator<Item = (&'a str, Outcome)>,
    known: Option<&HashSet<&str>>,
) -> RunCoverage {
    let got: HashMap<&str, Outcome> = results.into_iter().collect();
    let mut reqs = vec![];
    let mut outcomes: BTreeMap<&'static str, usize> =
        Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect();
    let (mut total, mut testable, mut covered) = (0, 0, 0);
    for r in requirements().iter().filter(|r| r.applies_to(v)) {
        total += 1;
        let checks: Vec<CheckOutcome> = r
            .checks
            .iter()
            .map(|c| CheckOutcome {
                id: c.clone(),
                outcome: got.get(c.as_str()).copied(),
            })
            .collect();
        let outcome = r.testable.then(|| {
            checks
                .iter()
                .filter_map(|c| c.outcome)
                .max_by_key(|o| outcome_rank(*o))
                .unwrap_or(Outcome::NotRun)
        });
        if let Some(o) = outcome {
            testable += 1;
            *outcomes.entry(o.as_str()).or_default() += 1;
            if r.is_covered(known) {
                covered += 1;
            }
        }
        reqs.push(RequirementOutcome {
            id: r.id.clone(),
            level: r.level_for(v).as_str().to_string(),
            section: r.section.clone(),
            spec_url: r.spec_url(v),
            quote: r.quote_for(v).to_string(),
            testable: r.testable,
            reason: r.reason.clone(),
            checks,
            outcome,
        });
    }
    let c = Counts {
        total,
        testable,
        covered,
        planned: 0,
    };
    RunCoverage {
        spec_version: v,
        counts: RunCounts {
            total,
            testable,
            covered,
            percent: (c.percent() * 10.0).round() / 10.0,
            outcomes: outcomes.into_iter().map(|(k, n)| (k.to_string(), n)).collect(),
        },
        requirements: reqs,
    }
}

/// Catalog coverage of the requirements of `v` (no run involved), with `known` as in `coverage`.
pub fn version_counts(v: SpecVersion, known: Option<&HashSet<&str>>) -> Counts {
    coverage(requirements(), known)
        .per_version
        .get(&v)
        .copied()
        .unwrap_or_default()
}

/// `<group>.<topic>.<what>`: at least three dot-separated kebab-case segments of [a-z0-9].
pub fn is_well_formed_id(id: &str) -> bool {
    let segs: Vec<&str> = id.split('.').collect();
    segs.len() >= 3 && segs.iter().all(|s| is_kebab(s))
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn has_keyword(quote: &str, level: ReqLevel) -> bool {
    level.keywords().iter().any(|k| quote.contains(k))
}

/// Structural problems in a catalog, one message per problem (empty = fine). Cross-checks against
/// the checks that exist and against the spec text live in tests/catalog.rs.
pub fn validate(cat: &Catalog) -> Vec<String> {
    let mut errs = vec![];
    let mut seen = HashSet::new();
    for r in &cat.requirements {
        let id = &r.id;
        if !seen.insert(id.as_str()) {
            errs.push(format!("{id}: duplicate id"));
        }
        if !is_well_formed_id(id) {
            errs.push(format!(
                "{id}: id is not `<group>.<topic>.<what>` in kebab-case"
            ));
        }
        if !is_kebab(&r.section) {
            errs.push(format!(
                "{id}: section `{}` is not a markdown anchor",
                r.section
            ));
        }
        if r.quote.trim().is_empty() {
            errs.push(format!("{id}: empty quote"));
        }
        if r.versions.is_empty() {
            errs.push(format!("{id}: no versions"));
        }
        if !r.versions.windows(2).all(|w| w[0] < w[1]) {
            errs.push(format!(
                "{id}: versions must be listed once each, oldest first"
            ));
        }
        let has_11_or_10 = r.applies_to(SpecVersion::V1_1) || r.applies_to(SpecVersion::V1_0);
        if let Some(l) = r.level_v1_1 {
            if l == r.level {
                errs.push(format!("{id}: level_v1_1 equals level; drop it"));
            }
            if !has_11_or_10 {
                errs.push(format!(
                    "{id}: level_v1_1 given but neither 1.0 nor 1.1 is in versions"
                ));
            }
        }
        if let Some(q) = &r.quote_v1_1 {
            if *q == r.quote {
                errs.push(format!("{id}: quote_v1_1 equals quote; drop it"));
            }
            if !r.applies_to(SpecVersion::V1_1) {
                errs.push(format!("{id}: quote_v1_1 given but 1.1 is not in versions"));
            }
        }
        if !r.derived {
            if !has_keyword(&r.quote, r.level) {
                errs.push(format!("{id}: quote has no keyword for level {} (set derived = true and explain in note?)", r.level.as_str()));
            }
            if let Some(l) = r.level_v1_1 {
                if !has_keyword(r.quote_for(SpecVersion::V1_1), l) {
                    errs.push(format!(
                        "{id}: v1.1 quote has no keyword for level_v1_1 {}",
                        l.as_str()
                    ));
                }
            }
        } else if r.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            errs.push(format!(
                "{id}: derived requirement needs a note saying where its level comes from"
            ));
        }
        let mut checks = HashSet::new();
        for c in &r.checks {
            if !is_well_formed_id(c) {
                errs.push(format!("{id}: check id `{c}` is malformed"));
            }
            if !checks.insert(c.as_str()) {
                errs.push(format!("{id}: check `{c}` listed twice"));
            }
        }
        if r.testable {
            if r.reason.is_some() {
                errs.push(format!(
                    "{id}: testable requirement has a `reason` (only for testable = false)"
                ));
            }
            match (&r.planned, &r.planned_what) {
                (Some(p), Some(w)) => {
                    if !r.checks.is_empty() {
                        errs.push(format!(
                            "{id}: has checks and a planned check; drop `planned` once covered"
                        ));
                    }
                    if !is_well_formed_id(p) {
                        errs.push(format!("{id}: planned check id `{p}` is malformed"));
                    }
                    if w.trim().is_empty() {
                        errs.push(format!("{id}: planned_what is empty"));
                    }
                }
                (None, None) => {
                    if r.checks.is_empty() {
                        errs.push(format!("{id}: testable but no checks and no planned check (add `planned` + `planned_what`)"));
                    }
                }
                _ => errs.push(format!("{id}: `planned` and `planned_what` go together")),
            }
        } else {
            if r.reason.as_deref().is_none_or(|s| s.trim().is_empty()) {
                errs.push(format!("{id}: testable = false needs a reason"));
            }
            if !r.checks.is_empty() || r.planned.is_some() {
                errs.push(format!("{id}: untestable requirement names checks"));
            }
        }
    }
    for c in &cat.client_only {
        if c.quote.trim().is_empty() || c.why.trim().is_empty() || !is_kebab(&c.section) {
            errs.push(format!(
                "client_only entry `{}`: needs section, quote and why",
                c.quote
            ));
        }
    }
    errs
}
