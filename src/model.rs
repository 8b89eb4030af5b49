//! Plain types shared by the engine, the checks and the reporters.
//! Nothing here decides what is conformant: that lives in `suites/`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The five buckets of the distribution spec the harness tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bucket {
    Pull,
    Push,
    ContentDiscovery,
    ContentManagement,
    Referrers,
    /// Opt-in: real clients (crane, skopeo, podman) against the registry.
    Clients,
    /// Opt-in: concurrent pushes, reads and deletes that find races.
    Stress,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Pull,
        Bucket::Push,
        Bucket::ContentDiscovery,
        Bucket::ContentManagement,
        Bucket::Referrers,
    ];
    /// Buckets that run only when named in `--bucket`.
    pub const OPT_IN: [Bucket; 2] = [Bucket::Clients, Bucket::Stress];
    /// Every bucket, in report order.
    pub fn every() -> impl Iterator<Item = Bucket> {
        Bucket::ALL.into_iter().chain(Bucket::OPT_IN)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Pull => "pull",
            Bucket::Push => "push",
            Bucket::ContentDiscovery => "content-discovery",
            Bucket::ContentManagement => "content-management",
            Bucket::Referrers => "referrers",
            Bucket::Clients => "clients",
            Bucket::Stress => "stress",
        }
    }
    pub fn parse(s: &str) -> Option<Bucket> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Bucket::every().find(|b| {
            b.as_str() == s
                || (s == "discovery" && *b == Bucket::ContentDiscovery)
                || (s == "management" && *b == Bucket::ContentManagement)
        })
    }
}

/// RFC 2119 level of the requirement a check tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// Spec versions the harness knows. Ordered: a check `since` V1_1 applies to V1_1 and Main.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpecVersion {
    #[serde(rename = "1.0")]
    V1_0,
    #[serde(rename = "1.1")]
    V1_1,
    #[serde(rename = "main")]
    Main,
}

impl SpecVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V1_0 => "1.0",
            SpecVersion::V1_1 => "1.1",
            SpecVersion::Main => "main",
        }
    }
    pub fn parse(s: &str) -> Option<SpecVersion> {
        match s.trim().trim_start_matches('v') {
            "1.0" | "1.0.0" | "1.0.1" | "1" => Some(SpecVersion::V1_0),
            "1.1" | "1.1.0" | "1.1.1" => Some(SpecVersion::V1_1),
            "main" | "dev" | "head" | "HEAD" => Some(SpecVersion::Main),
            _ => None,
        }
    }
}

/// What happened to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    /// A MUST was broken.
    Failed,
    /// A SHOULD was not met: reported, does not fail the run unless --strict.
    Warned,
    /// An optional feature the registry declined in a way the spec allows.
    Unsupported,
    /// Not run: a filter, the spec version, or a setup failure (message says which).
    Skipped,
    /// Listed in the expectations file as a known failure, and it failed.
    ExpectedFailure,
    /// The run was cut short before this check could run.
    NotRun,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Warned => "warned",
            Outcome::Unsupported => "unsupported",
            Outcome::Skipped => "skipped",
            Outcome::ExpectedFailure => "expected-failure",
            Outcome::NotRun => "not-run",
        }
    }
    pub const ALL: [Outcome; 7] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Warned,
        Outcome::Unsupported,
        Outcome::Skipped,
        Outcome::ExpectedFailure,
        Outcome::NotRun,
    ];
}

/// Static description of one check. Lives beside the check in `suites/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckMeta {
    /// `<bucket>.<topic>.<what>`, stable across releases.
    pub id: &'static str,
    pub bucket: Bucket,
    /// One line, human readable.
    pub name: &'static str,
    /// Section anchor in spec.md, e.g. `pulling-manifests`.
    pub spec: &'static str,
    /// Level under the newest spec (main).
    pub level: Level,
    /// Level under v1.1.x when it differs (several SHOULDs became MUSTs after 1.1.1).
    pub level_v1_1: Option<Level>,
    /// First spec version the requirement appears in.
    pub since: SpecVersion,
    /// Ids of the requirements in `suites/requirements.toml` this check tests (`reqs`); the
    /// catalog's requirement → checks map is derived from these.
    pub requirements: &'static [&'static str],
}

impl CheckMeta {
    pub const fn new(
        id: &'static str,
        bucket: Bucket,
        level: Level,
        spec: &'static str,
        name: &'static str,
    ) -> Self {
        CheckMeta {
            id,
            bucket,
            name,
            spec,
            level,
            level_v1_1: None,
            since: SpecVersion::V1_0,
            requirements: &[],
        }
    }
    pub const fn since(mut self, v: SpecVersion) -> Self {
        self.since = v;
        self
    }
    pub const fn v1_1(mut self, l: Level) -> Self {
        self.level_v1_1 = Some(l);
        self
    }
    pub const fn reqs(mut self, r: &'static [&'static str]) -> Self {
        self.requirements = r;
        self
    }
    /// The level that applies when testing against `v`.
    pub fn level_for(&self, v: SpecVersion) -> Level {
        match (v, self.level_v1_1) {
            (SpecVersion::V1_0 | SpecVersion::V1_1, Some(l)) => l,
            _ => self.level,
        }
    }
    pub fn applies_to(&self, v: SpecVersion) -> bool {
        self.since <= v
    }
    pub fn spec_url(&self, v: SpecVersion) -> String {
        let tree = match v {
            SpecVersion::Main => "main",
            SpecVersion::V1_1 => "v1.1.1",
            SpecVersion::V1_0 => "v1.0.1",
        };
        format!(
            "https://github.com/opencontainers/distribution-spec/blob/{tree}/spec.md#{}",
            self.spec
        )
    }
}

/// One check of a requirement and what it did in the run (None: not part of the run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub id: String,
    pub outcome: Option<Outcome>,
}

/// One requirement of the version under test, with the outcome of its checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequirementOutcome {
    pub id: String,
    /// Level under the version under test ("MUST NOT", "SHOULD", …).
    pub level: String,
    pub section: String,
    pub spec_url: String,
    /// The sentence as the version under test words it.
    pub quote: String,
    pub testable: bool,
    /// Why it cannot be tested (untestable requirements only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<CheckOutcome>,
    /// The worst outcome of its checks (`outcome_rank`); `not-run` when none of them ran;
    /// None for an untestable requirement.
    pub outcome: Option<Outcome>,
}

/// Counts of a run's coverage section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunCounts {
    /// Requirements of the version under test.
    pub total: usize,
    pub testable: usize,
    /// Testable requirements named by at least one check that exists.
    pub covered: usize,
    /// covered / testable, in percent, one decimal.
    pub percent: f64,
    /// Testable requirements by aggregated outcome (every outcome listed, zeros included).
    pub outcomes: BTreeMap<String, usize>,
}

/// Requirement coverage of one run: every requirement of `spec_version` with the outcome of
/// the checks that test it. Computed by the checks' catalog from the run's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunCoverage {
    pub spec_version: SpecVersion,
    pub counts: RunCounts,
    pub requirements: Vec<RequirementOutcome>,
}

/// Folds a run's (check id, outcome) pairs into requirement coverage under a spec version: the
/// binary wires in the checks' catalog, so reporters need not know it.
pub type Coverer = fn(SpecVersion, &[(&str, Outcome)]) -> RunCoverage;

/// `apis:` or `data:` of results.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Apis,
    Data,
}

/// One workflow of the official suite and the checks of ours that exercise it (the table is
/// in suites/workflows.rs; submission tools are handed it).
pub struct Workflow {
    pub section: Section,
    /// The name as the official suite and the published submissions spell it.
    pub name: &'static str,
    /// The site's generator refuses a submission without it.
    pub required: bool,
    pub checks: &'static [&'static str],
}

/// How a check's message starts when access was refused and the check was not judged.
pub const REFUSED: &str = "not judged: access refused";

/// What a stress check sent and how the registry held up: its figures in results.json and the
/// HTML report (see `load`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadStats {
    /// Rounds run, and in how many of them the invariant broke.
    pub rounds: u32,
    pub violating_rounds: u32,
    pub requests: u64,
    pub duration_ms: u64,
    pub requests_per_s: f64,
    pub bytes_pushed: u64,
    /// Answers by status ("201", "404", "no response").
    pub statuses: BTreeMap<String, u64>,
    /// Per kind of request ("PUT manifest", "GET blob", …), in first-seen order.
    pub endpoints: Vec<EndpointStats>,
    /// Why fewer rounds ran than `--repeat` asked (the duration or the byte cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    pub endpoint: String,
    pub requests: u64,
    pub statuses: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}
