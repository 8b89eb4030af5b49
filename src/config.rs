//! Flags and environment resolved once into one typed `Config`. Flags win over the
//! environment; both generations of the official suite's OCI_* variables are honoured.

use crate::model::{Bucket, SpecVersion};
use clap::{Args, Parser, Subcommand};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

pub mod exit {
    //! Documented exit statuses (README, "Exit codes").
    pub const OK: i32 = 0;
    /// At least one check failed (a MUST broken), or a SHOULD under --strict.
    pub const CHECKS_FAILED: i32 = 1;
    /// Bad flags, environment or files.
    pub const BAD_CONFIG: i32 = 2;
    /// The registry could not be reached at all (`GET /v2/` never answered).
    pub const UNREACHABLE: i32 = 3;
    /// A harness bug (a panic in a check); the report says where.
    pub const INTERNAL: i32 = 4;
    /// Interrupted by SIGINT (128 + 2) / SIGTERM (128 + 15).
    pub const SIGINT: i32 = 130;
    pub const SIGTERM: i32 = 143;
}

#[derive(Parser, Debug)]
#[command(name = "oci-conformance", version = crate::VERSION_LINE, about = "Conformance test harness for the OCI Distribution Specification", args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the embedded reference registry alone.
    Serve(ServeArgs),
    /// List checks (and requirements) without running anything.
    List(ListArgs),
    /// Write an expectations file (known failures) from a results.json, as a starting point.
    Expect(ExpectArgs),
    /// Compare two runs (results.json files or report dirs); non-zero exit when a check regressed.
    Diff(DiffArgs),
    /// Lay out an OCI conformance submission folder from a report dir.
    Bundle(BundleArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
    /// Measure a registry's data path.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Push one generated blob (monolithic, then chunked), pull it back, verify, delete; print JSON.
    Blob(BenchBlobArgs),
    /// Push one manifest under COUNT tags, then list them all through pagination; print JSON.
    Tags(BenchTagsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct BenchTagsArgs {
    /// Registry base URL (without it, the embedded registry).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    #[arg(long, default_value = "oci-conformance/bench-tags")]
    pub namespace: String,
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Page size asked for with `n`.
    #[arg(long, default_value_t = 100)]
    pub page: usize,
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchBlobArgs {
    /// Registry base URL (without it, the embedded registry).
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// Repository to push to.
    #[arg(long, default_value = "oci-conformance/bench")]
    pub namespace: String,
    /// Blob size, e.g. 1GiB.
    #[arg(long, value_parser = parse_size, default_value = "64MiB")]
    pub size: u64,
    /// Chunk size for the chunked push.
    #[arg(long, value_parser = parse_size, default_value = "16MiB")]
    pub chunk_size: u64,
    /// Seed for the blob content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip TLS verification.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExpectArgs {
    /// results.json of a run (or its report dir).
    #[arg(long, value_name = "PATH")]
    pub from: PathBuf,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// Older run: results.json or report dir.
    pub old: PathBuf,
    /// Newer run: results.json or report dir.
    pub new: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// PRODUCT.yaml describing the registry product.
    #[arg(long, value_name = "FILE", required_unless_present = "verify")]
    pub product: Option<PathBuf>,
    /// Output root; the bundle goes to OUT/distribution-spec/<spec version>/<product>/.
    #[arg(long, value_name = "DIR", required_unless_present = "verify")]
    pub out: Option<PathBuf>,
    /// Check a submission folder (distribution-spec/vX.Y/<product>/) as reviewers do, instead
    /// of writing one: exit 0 when it is fine, 1 with every problem listed.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["product", "out"])]
    pub verify: Option<PathBuf>,
    /// Report dir of the run to submit.
    #[arg(default_value = "oci-conformance-report")]
    pub report_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub addr: String,
    /// Turn on a deliberate spec violation (repeatable); see --list-faults.
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Print the fault switches and the checks each one breaks, then exit.
    #[arg(long)]
    pub list_faults: bool,
    /// Answer the referrers API with 404, like a registry older than spec 1.1.
    #[arg(long)]
    pub no_referrers_api: bool,
    /// Advertise this OCI-Chunk-Min-Length (bytes) on upload sessions.
    #[arg(long, value_name = "BYTES")]
    pub chunk_min_length: Option<u64>,
    /// Largest blob accepted, in bytes (everything is held in memory) [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_blob_size: Option<u64>,
    /// Require HTTP basic authentication with these credentials.
    #[arg(long, value_name = "USER:PASSWORD", conflicts_with = "token_auth")]
    pub basic_auth: Option<String>,
    /// Require bearer tokens, handed out by this registry's /token for these basic credentials.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub token_auth: Option<String>,
    /// With --basic-auth or --token-auth: never grant this access, as repository:NAME:ACTION
    /// (pull, push, delete); repeatable. Tokens leave it out (401), basic auth answers 403.
    #[arg(long, value_name = "SCOPE")]
    pub refuse_scope: Vec<String>,
    /// With --basic-auth or --token-auth: reads (GET, HEAD) need no credentials, writes do.
    #[arg(long)]
    pub anonymous_pull: bool,
    /// Serve https with a certificate generated at start (its CA goes to --ca-out).
    #[arg(long)]
    pub tls: bool,
    /// Where to write the CA certificate (PEM) of --tls [default: a file in the temp directory].
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Redirect blob GETs (307) to a second listener on another port that serves the bytes.
    #[arg(long)]
    pub redirect_blobs: bool,
    /// Wait this many seconds before answering each request.
    #[arg(long, value_name = "SECS")]
    pub delay: Option<f64>,
    /// Never answer requests whose path and query contain TEXT ("" = every request).
    #[arg(long, value_name = "TEXT")]
    pub hang: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Print JSON instead of a table: {checks, requirements, coverage}.
    #[arg(long)]
    pub json: bool,
    /// Print the requirement catalog (id, level, versions, testable, checks) instead of the checks.
    #[arg(long)]
    pub requirements: bool,
    /// Spec version whose checks apply (1.0, 1.1, main).
    #[arg(long)]
    pub spec_version: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Registry base URL, e.g. http://127.0.0.1:5000. Without it (and without OCI_ROOT_URL /
    /// OCI_REGISTRY) the embedded reference registry is started and tested.
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// Repository to test in [env: OCI_NAMESPACE, OCI_REPO1] [default: oci-conformance/repo1].
    #[arg(long, value_name = "REPO")]
    pub namespace: Option<String>,
    /// Second repository, source of cross-repository mounts [env: OCI_CROSSMOUNT_NAMESPACE, OCI_REPO2].
    #[arg(long, value_name = "REPO")]
    pub crossmount_namespace: Option<String>,
    /// Where junit.xml, report.html and results.json go [env: OCI_REPORT_DIR, OCI_RESULTS_DIR] [default: ./oci-conformance-report].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Seed for generated content; printed at the start so a run can be replayed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Buckets to run (comma separated: pull,push,content-discovery,content-management,referrers;
    /// opt-in, never run unless named: clients, stress).
    #[arg(long, value_delimiter = ',')]
    pub bucket: Vec<String>,
    /// Run only checks whose id contains one of these strings.
    #[arg(long = "filter", value_name = "TEXT")]
    pub filter: Vec<String>,
    /// Leave out checks whose id contains one of these strings.
    #[arg(long = "skip", value_name = "TEXT")]
    pub skip: Vec<String>,
    /// List the checks that would run, then exit.
    #[arg(long)]
    pub list: bool,
    /// Spec version to test against: 1.0, 1.1 (default, the latest release) or main [env: OCI_VERSION].
    #[arg(long)]
    pub spec_version: Option<String>,
    /// Scenarios run at once [default: number of CPUs, at least 2].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// SHOULD-level warnings fail the run too.
    #[arg(long)]
    pub strict: bool,
    /// Keep what the run pushed (for debugging).
    #[arg(long)]
    pub no_cleanup: bool,
    /// Username [env: OCI_USERNAME].
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from standard input (one line) [env: OCI_PASSWORD].
    #[arg(long)]
    pub password_stdin: bool,
    /// Skip TLS certificate verification (warned about in the console and reports).
    #[arg(long)]
    pub insecure: bool,
    /// Trust the PEM certificates in this file for https: CAs, or the registry's own
    /// self-signed certificate (host name and dates are still checked).
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM, chain) for registries that require mutual TLS; with --client-key.
    #[arg(long, value_name = "PATH", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of --client-cert.
    #[arg(long, value_name = "PATH", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Seconds to wait for response headers, and between reads of a body.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub request_timeout: f64,
    /// Stop the whole run after this many seconds (reports are still written).
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// Seconds a read-after-delete may take to show the change (eventual consistency).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub consistency_wait: f64,
    /// Also test names with several path components and long names, by creating
    /// repositories below --namespace (on by default for the embedded registry).
    #[arg(long)]
    pub name_checks: bool,
    /// Print the HTTP traces of failed and warned checks on the console.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print only the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Console output: human (default) or json (one event per line).
    #[arg(long, default_value = "human")]
    pub format: String,
    /// Add the large-blob checks to the push and pull buckets with a blob of this size
    /// (e.g. 1GiB, 5GiB; streamed, never held in memory). Off by default.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub large_blob_size: Option<u64>,
    /// Clients bucket: the program to run for a client (crane, skopeo, umoci, podman), e.g.
    /// `--client-tool crane=/opt/bin/crane` (repeatable). Without it a client is looked up on PATH.
    #[arg(long = "client-tool", value_name = "NAME=PATH")]
    pub client_tool: Vec<String>,
    /// Clients bucket: longest time one client command may take, in seconds.
    #[arg(long, value_name = "S", default_value = "120")]
    pub client_timeout: f64,
    /// Stress bucket: rounds of each stress scenario; a violation says in how many it broke.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub repeat: u32,
    /// Stress bucket: time budget of each stress scenario, in seconds; no round starts after it
    /// is spent (the first always runs).
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub stress_duration: f64,
    /// Stress bucket: concurrent workers in each round.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub stress_concurrency: usize,
    /// Stress bucket: the most bytes its scenarios push in all; no round starts past it.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    pub stress_max_bytes: u64,
    /// Read-only mode: push nothing; test the preloaded content named by --ro-* (also on when
    /// any OCI_RO_DATA_* variable is set).
    #[arg(long)]
    pub read_only: bool,
    /// Read-only mode: a preloaded tag in --namespace (repeatable) [env: OCI_RO_DATA_TAGS].
    #[arg(long = "ro-tag", value_name = "TAG")]
    pub ro_tags: Vec<String>,
    /// Read-only mode: a preloaded manifest digest (repeatable) [env: OCI_RO_DATA_MANIFESTS].
    #[arg(long = "ro-manifest", value_name = "DIGEST")]
    pub ro_manifests: Vec<String>,
    /// Read-only mode: a preloaded blob digest (repeatable) [env: OCI_RO_DATA_BLOBS].
    #[arg(long = "ro-blob", value_name = "DIGEST")]
    pub ro_blobs: Vec<String>,
    /// Read-only mode: a subject digest with referrers (repeatable) [env: OCI_RO_DATA_REFERRERS].
    #[arg(long = "ro-referrers", value_name = "DIGEST")]
    pub ro_referrers: Vec<String>,
    /// Expectations file (TOML) listing known failures; see README "Expected failures".
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Turn on a fault in the embedded registry (for proving checks; needs no --registry).
    #[arg(long = "embedded-fault", value_name = "NAME", hide = true)]
    pub embedded_faults: Vec<String>,
}

/// The same defaults as the command line (a derived Default would zero the timeouts).
impl Default for RunArgs {
    fn default() -> Self {
        use clap::FromArgMatches;
        let m = <RunArgs as clap::Args>::augment_args(clap::Command::new("oci-conformance"))
            .get_matches_from(["oci-conformance"]);
        RunArgs::from_arg_matches(&m).expect("the flag defaults parse")
    }
}

/// A secret string: never printed by Debug.
#[derive(Clone, Default)]
pub struct Secret(pub String);
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// How hard the stress bucket pushes (`--repeat`, `--stress-*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StressConfig {
    pub repeat: u32,
    pub duration: Duration,
    pub concurrency: usize,
    pub max_bytes: u64,
}

/// Programs the clients bucket can drive (`--client-tool NAME=PATH`).
pub const CLIENT_NAMES: [&str; 4] = ["crane", "skopeo", "umoci", "podman"];

/// Preloaded content for read-only mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOnlyData {
    pub tags: Vec<String>,
    pub manifests: Vec<String>,
    pub blobs: Vec<String>,
    pub referrers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// None: start the embedded registry.
    pub registry: Option<Url>,
    pub namespace: String,
    pub crossmount_namespace: String,
    pub report_dir: PathBuf,
    pub seed: u64,
    pub buckets: BTreeSet<Bucket>,
    pub filters: Vec<String>,
    pub skips: Vec<String>,
    pub list: bool,
    pub spec_version: SpecVersion,
    pub jobs: usize,
    pub strict: bool,
    pub cleanup: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub insecure: bool,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub deadline: Option<Duration>,
    pub consistency_wait: Duration,
    pub name_checks: bool,
    pub verbose: bool,
    pub quiet: bool,
    pub format: Format,
    pub embedded_faults: Vec<String>,
    /// Expectations file (known failures).
    pub expect: Option<PathBuf>,
    pub large_blob_size: Option<u64>,
    /// Clients bucket: programs named with --client-tool, by client name.
    pub client_tools: BTreeMap<String, PathBuf>,
    pub client_timeout: Duration,
    pub stress: StressConfig,
    /// Read-only mode and its preloaded content.
    pub read_only: Option<ReadOnlyData>,
    /// Where each setting came from (flag, env var, default), for the printed config.
    pub sources: BTreeMap<String, String>,
    pub command_line: String,
    /// Warnings found while resolving (deprecated variables, insecure TLS).
    pub warnings: Vec<String>,
}

/// Environment access, injectable for tests.
pub trait Env {
    fn get(&self, k: &str) -> Option<String>;
}
pub struct ProcessEnv;
impl Env for ProcessEnv {
    fn get(&self, k: &str) -> Option<String> {
        std::env::var(k).ok().filter(|v| !v.is_empty())
    }
}
impl Env for BTreeMap<String, String> {
    fn get(&self, k: &str) -> Option<String> {
        BTreeMap::get(self, k).cloned().filter(|v| !v.is_empty())
    }
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "enabled" => Some(true),
        "0" | "false" | "no" | "off" | "disabled" => Some(false),
        _ => None,
    }
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    if !(v.is_finite() && v >= 0.0 && v < 1e7) {
        return Err(format!("{name} must be a number of seconds ≥ 0, got {v}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Read-only data from --ro-* flags (winning) or OCI_RO_DATA_* (space separated). Digests are
/// checked here so a typo is a configuration error, not a failed check.
fn read_only_data(a: &RunArgs, env: &dyn Env) -> Result<Option<ReadOnlyData>, String> {
    let pick = |flag: &[String], var: &str| -> Vec<String> {
        let from: Vec<String> = if flag.is_empty() { env.get(var).map(|v| vec![v]).unwrap_or_default() } else { flag.to_vec() };
        from.iter().flat_map(|v| v.split([' ', ',', '\n', '\t'])).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    };
    let ro = ReadOnlyData {
        tags: pick(&a.ro_tags, "OCI_RO_DATA_TAGS"),
        manifests: pick(&a.ro_manifests, "OCI_RO_DATA_MANIFESTS"),
        blobs: pick(&a.ro_blobs, "OCI_RO_DATA_BLOBS"),
        referrers: pick(&a.ro_referrers, "OCI_RO_DATA_REFERRERS"),
    };
    if !a.read_only && ro == ReadOnlyData::default() {
        return Ok(None);
    }
    for (what, list) in [("--ro-manifest / OCI_RO_DATA_MANIFESTS", &ro.manifests), ("--ro-blob / OCI_RO_DATA_BLOBS", &ro.blobs), ("--ro-referrers / OCI_RO_DATA_REFERRERS", &ro.referrers)] {
        if let Some(bad) = list.iter().find(|d| crate::digest::Digest::parse(d).is_none()) {
            return Err(format!("{what}: {bad:?} is not a sha256/sha512 digest"));
        }
    }
    if let Some(bad) = ro.tags.iter().find(|t| t.is_empty() || t.len() > 128 || t.starts_with(['.', '-'])) {
        return Err(format!("--ro-tag / OCI_RO_DATA_TAGS: {bad:?} is not a valid tag"));
    }
    Ok(Some(ro))
}

/// Sizes like `1GiB`, `512KiB`, `10MB`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1GiB, 512KiB, 4096)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        u => {
            return Err(format!(
                "{s:?}: unknown unit {u:?} (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
            ))
        }
    };
    let v = n * mult as f64;
    if !(v.is_finite() && v >= 0.0 && v <= (1u64 << 50) as f64) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(v as u64)
}

/// Checks a repository name against the spec's `<name>` grammar.
pub fn valid_repo_name(n: &str) -> bool {
    fn comp(c: &str) -> bool {
        // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
        let b = c.as_bytes();
        if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric()
        {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            let ch = b[i];
            if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
                i += 1;
                continue;
            }
            // a separator run
            let s = i;
            while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
                i += 1;
            }
            let sep = &c[s..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
            if !ok {
                return false;
            }
            if i >= b.len() || !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
                return false;
            }
        }
        true
    }
    !n.is_empty() && n.split('/').all(comp)
}

impl Config {
    /// Resolves flags and environment. Errors name the flag or variable at fault.
    pub fn resolve(a: &RunArgs, env: &dyn Env, command_line: String) -> Result<Config, String> {
        let mut sources = BTreeMap::new();
        let mut warnings = vec![];
        let mut insecure = a.insecure;
        // Registry: --registry, OCI_ROOT_URL, OCI_REGISTRY (+ OCI_TLS).
        let (reg, src) = if let Some(r) = &a.registry {
            (Some(r.clone()), "--registry")
        } else if let Some(r) = env.get("OCI_ROOT_URL") {
            (Some(r), "OCI_ROOT_URL")
        } else if let Some(r) = env.get("OCI_REGISTRY") {
            let tls = env.get("OCI_TLS").unwrap_or_else(|| "enabled".into());
            let scheme = match tls.to_ascii_lowercase().as_str() {
                "enabled" => "https",
                "insecure" => {
                    insecure = true;
                    "https"
                }
                "disabled" => "http",
                o => {
                    return Err(format!(
                        "OCI_TLS must be enabled, insecure or disabled, got {o:?}"
                    ))
                }
            };
            let r = if r.contains("://") {
                r
            } else {
                format!("{scheme}://{r}")
            };
            (Some(r), "OCI_REGISTRY")
        } else {
            (None, "embedded")
        };
        if env
            .get("OCI_TLS")
            .map(|t| t.eq_ignore_ascii_case("insecure"))
            .unwrap_or(false)
        {
            insecure = true;
        }
        let registry = match reg {
            None => None,
            Some(r) => {
                let u = Url::parse(r.trim()).map_err(|e| {
                    format!("{src}: {r:?} is not a URL ({e}); expected e.g. http://127.0.0.1:5000")
                })?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(format!("{src}: {r:?} must start with http:// or https://"));
                }
                if u.host_str().is_none() {
                    return Err(format!("{src}: {r:?} has no host"));
                }
                if u.query().is_some() || u.fragment().is_some() {
                    return Err(format!("{src}: {r:?} must not have a query or fragment"));
                }
                if !u.username().is_empty() || u.password().is_some() {
                    return Err(format!(
                        "{src}: put credentials in OCI_USERNAME/OCI_PASSWORD, not in the URL"
                    ));
                }
                let mut u = u;
                // the API lives at /v2/ below the given path; keep a trailing slash for joins
                let p = u
                    .path()
                    .trim_end_matches('/')
                    .trim_end_matches("/v2")
                    .to_string();
                u.set_path(&format!("{p}/"));
                Some(u)
            }
        };
        sources.insert("registry".into(), src.into());

        let pick = |flag: &Option<String>,
                    flag_name: &str,
                    envs: &[&str],
                    default: &str,
                    sources: &mut BTreeMap<String, String>,
                    key: &str|
         -> String {
            if let Some(v) = flag {
                sources.insert(key.into(), flag_name.into());
                return v.clone();
            }
            for e in envs {
                if let Some(v) = env.get(e) {
                    sources.insert(key.into(), (*e).into());
                    return v;
                }
            }
            sources.insert(key.into(), "default".into());
            default.to_string()
        };
        let namespace = pick(
            &a.namespace,
            "--namespace",
            &["OCI_NAMESPACE", "OCI_REPO1"],
            "oci-conformance/repo1",
            &mut sources,
            "namespace",
        );
        let crossmount_namespace = pick(
            &a.crossmount_namespace,
            "--crossmount-namespace",
            &["OCI_CROSSMOUNT_NAMESPACE", "OCI_REPO2"],
            "oci-conformance/repo2",
            &mut sources,
            "crossmount_namespace",
        );
        for (n, what) in [
            (&namespace, "namespace"),
            (&crossmount_namespace, "crossmount namespace"),
        ] {
            if !valid_repo_name(n) {
                return Err(format!("{what} {n:?} is not a valid repository name (spec §pulling-manifests: [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/...)*)"));
            }
        }
        if namespace == crossmount_namespace {
            return Err(format!(
                "namespace and crossmount namespace must differ (both are {namespace:?})"
            ));
        }
        let report_dir = match &a.report_dir {
            Some(p) => p.clone(),
            None => env
                .get("OCI_REPORT_DIR")
                .or_else(|| env.get("OCI_RESULTS_DIR"))
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("oci-conformance-report")),
        };
        let seed = match a.seed {
            Some(s) => s,
            None => match env.get("OCI_SEED") {
                Some(s) => s
                    .parse()
                    .map_err(|_| format!("OCI_SEED must be an unsigned integer, got {s:?}"))?,
                None => {
                    use rand::RngCore;
                    rand::thread_rng().next_u64() >> 16
                }
            },
        };
        let spec_version = match a.spec_version.clone().or_else(|| env.get("OCI_VERSION")) {
            None => SpecVersion::V1_1,
            Some(v) if v == "stable" => SpecVersion::V1_1,
            Some(v) => SpecVersion::parse(&v)
                .ok_or_else(|| format!("spec version must be 1.0, 1.1 or main, got {v:?}"))?,
        };
        let mut buckets = BTreeSet::new();
        for b in &a.bucket {
            buckets.insert(Bucket::parse(b).ok_or_else(|| format!("--bucket: unknown bucket {b:?} (pull, push, content-discovery, content-management, referrers; opt-in: clients, stress)"))?);
        }
        if buckets.is_empty() {
            // Official suite generations: OCI_TEST_* (v1.1.1) and OCI_API_* (HEAD).
            let legacy = [
                ("OCI_TEST_PULL", vec![Bucket::Pull]),
                ("OCI_TEST_PUSH", vec![Bucket::Push]),
                (
                    "OCI_TEST_CONTENT_DISCOVERY",
                    vec![Bucket::ContentDiscovery, Bucket::Referrers],
                ),
                (
                    "OCI_TEST_CONTENT_MANAGEMENT",
                    vec![Bucket::ContentManagement],
                ),
            ];
            let any_legacy = legacy.iter().any(|(k, _)| env.get(k).is_some());
            if any_legacy {
                for (k, bs) in &legacy {
                    if env.get(k).and_then(|v| truthy(&v)).unwrap_or(false) {
                        buckets.extend(bs.iter().copied());
                    }
                }
                sources.insert("buckets".into(), "OCI_TEST_*".into());
            } else {
                buckets.extend(Bucket::ALL);
                let off = |k: &str| env.get(k).and_then(|v| truthy(&v)) == Some(false);
                if off("OCI_API_PULL") {
                    buckets.remove(&Bucket::Pull);
                }
                if off("OCI_API_PUSH") {
                    buckets.remove(&Bucket::Push);
                }
                if off("OCI_API_TAGS_LIST") {
                    buckets.remove(&Bucket::ContentDiscovery);
                }
                if off("OCI_API_REFERRER") {
                    buckets.remove(&Bucket::Referrers);
                }
                if off("OCI_API_MANIFESTS_DELETE")
                    && off("OCI_API_BLOBS_DELETE")
                    && off("OCI_API_TAGS_DELETE")
                {
                    buckets.remove(&Bucket::ContentManagement);
                }
                sources.insert("buckets".into(), "default".into());
            }
            if buckets.is_empty() {
                return Err("no bucket selected (every OCI_TEST_* variable is off)".into());
            }
        } else {
            sources.insert("buckets".into(), "--bucket".into());
        }
        let read_only = read_only_data(a, env)?;
        if read_only.is_some() {
            for b in [Bucket::Push, Bucket::ContentManagement, Bucket::Clients, Bucket::Stress] {
                buckets.remove(&b);
            }
            if buckets.is_empty() {
                return Err("read-only mode leaves no bucket to run (push, content-management, clients and stress need to push)".into());
            }
        }
        let jobs = match a.jobs {
            Some(0) => return Err("--jobs must be at least 1".into()),
            Some(j) => j.min(256),
            None => {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
                    .clamp(2, 16)
                    * 2
            }
        };
        let username = a.username.clone().or_else(|| env.get("OCI_USERNAME"));
        let mut client_tools = BTreeMap::new();
        for t in &a.client_tool {
            let (name, path) = t
                .split_once('=')
                .filter(|(n, p)| CLIENT_NAMES.contains(n) && !p.is_empty())
                .ok_or_else(|| format!("--client-tool: expected NAME=PATH with NAME one of {}, got {t:?}", CLIENT_NAMES.join(", ")))?;
            client_tools.insert(name.to_string(), PathBuf::from(path));
        }
        if !(a.client_timeout.is_finite() && a.client_timeout > 0.0) {
            return Err(format!("--client-timeout: expected a positive number of seconds, got {}", a.client_timeout));
        }
        let client_timeout = Duration::from_secs_f64(a.client_timeout);
        if !(1..=10_000).contains(&a.repeat) {
            return Err(format!("--repeat: expected 1 to 10000 rounds, got {}", a.repeat));
        }
        if !(2..=256).contains(&a.stress_concurrency) {
            return Err(format!("--stress-concurrency: expected 2 to 256 workers, got {}", a.stress_concurrency));
        }
        if !(a.stress_duration.is_finite() && a.stress_duration > 0.0 && a.stress_duration < 1e6) {
            return Err(format!("--stress-duration: expected a positive number of seconds, got {}", a.stress_duration));
        }
        if a.stress_max_bytes < 1 << 20 {
            return Err(format!("--stress-max-bytes: expected at least 1MiB, got {} bytes", a.stress_max_bytes));
        }
        let stress = StressConfig { repeat: a.repeat, duration: Duration::from_secs_f64(a.stress_duration), concurrency: a.stress_concurrency, max_bytes: a.stress_max_bytes };
        let password = if a.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("--password-stdin: cannot read standard input: {e}"))?;
            Some(Secret(line.trim_end_matches(['\r', '\n']).to_string()))
        } else {
            env.get("OCI_PASSWORD").map(Secret)
        };
        if password.is_some() && username.is_none() {
            return Err(
                "a password was given without a username (--username or OCI_USERNAME)".into(),
            );
        }
        if insecure {
            warnings
                .push("TLS certificate verification is OFF (--insecure / OCI_TLS=insecure)".into());
        }
        for (flag, p) in [("--ca-cert", &a.ca_cert), ("--client-cert", &a.client_cert), ("--client-key", &a.client_key)] {
            if let Some(p) = p {
                if !p.is_file() {
                    return Err(format!("{flag}: {} is not a readable file", p.display()));
                }
            }
        }
        if a.client_cert.is_some() != a.client_key.is_some() {
            return Err("--client-cert and --client-key go together".into());
        }
        let format = match a.format.as_str() {
            "human" | "" => Format::Human,
            "json" => Format::Json,
            f => return Err(format!("--format must be human or json, got {f:?}")),
        };
        let verbose = a.verbose
            || env
                .get("OCI_DEBUG")
                .and_then(|v| truthy(&v))
                .unwrap_or(false);
        if registry.is_some() && !a.embedded_faults.is_empty() {
            return Err(
                "--embedded-fault only applies to the embedded registry (no --registry)".into(),
            );
        }
        Ok(Config {
            name_checks: a.name_checks || registry.is_none(),
            registry,
            namespace,
            crossmount_namespace,
            report_dir,
            seed,
            buckets,
            filters: a.filter.clone(),
            skips: a.skip.clone(),
            list: a.list,
            spec_version,
            jobs,
            strict: a.strict,
            username,
            password,
            insecure,
            ca_cert: a.ca_cert.clone(),
            client_cert: a.client_cert.clone(),
            client_key: a.client_key.clone(),
            connect_timeout: secs("--connect-timeout", a.connect_timeout)?,
            request_timeout: secs("--request-timeout", a.request_timeout)?,
            deadline: a.deadline.map(|d| secs("--deadline", d)).transpose()?,
            consistency_wait: secs("--consistency-wait", a.consistency_wait)?,
            verbose,
            quiet: a.quiet,
            format,
            embedded_faults: a.embedded_faults.clone(),
            expect: a.expect.clone(),
            large_blob_size: a.large_blob_size,
            client_tools,
            client_timeout,
            stress,
            cleanup: !a.no_cleanup && read_only.is_none(),
            read_only,
            sources,
            command_line,
            warnings,
        })
    }

    /// The resolved configuration for printing and reports; secrets never appear.
    pub fn display_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(
            "registry".into(),
            self.registry
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_else(|| "embedded".into()),
        );
        m.insert("namespace".into(), self.namespace.clone());
        m.insert(
            "crossmount_namespace".into(),
            self.crossmount_namespace.clone(),
        );
        m.insert("report_dir".into(), self.report_dir.display().to_string());
        m.insert("seed".into(), self.seed.to_string());
        m.insert("spec_version".into(), self.spec_version.as_str().into());
        m.insert(
            "buckets".into(),
            self.buckets
                .iter()
                .map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert("jobs".into(), self.jobs.to_string());
        m.insert("strict".into(), self.strict.to_string());
        m.insert("cleanup".into(), self.cleanup.to_string());
        m.insert(
            "username".into(),
            self.username
                .clone()
                .unwrap_or_else(|| "(anonymous)".into()),
        );
        m.insert(
            "password".into(),
            if self.password.is_some() {
                "[REDACTED]".into()
            } else {
                "(none)".into()
            },
        );
        m.insert(
            "tls".into(),
            if self.insecure {
                "insecure (verification off)".into()
            } else if self.ca_cert.is_some() {
                "verify (public roots and --ca-cert)".into()
            } else {
                "verify".into()
            },
        );
        if self.client_cert.is_some() {
            m.insert("tls_client_cert".into(), "given (mutual TLS)".into());
        }
        m.insert(
            "request_timeout_s".into(),
            self.request_timeout.as_secs_f64().to_string(),
        );
        if !self.filters.is_empty() {
            m.insert("filter".into(), self.filters.join(","));
        }
        if !self.skips.is_empty() {
            m.insert("skip".into(), self.skips.join(","));
        }
        if let Some(ro) = &self.read_only {
            m.insert("read_only".into(), format!("{} tags, {} manifests, {} blobs, {} referrer subjects", ro.tags.len(), ro.manifests.len(), ro.blobs.len(), ro.referrers.len()));
        }
        if let Some(p) = &self.expect {
            m.insert("expect".into(), p.display().to_string());
        }
        if let Some(d) = self.deadline {
            m.insert("deadline_s".into(), d.as_secs_f64().to_string());
        }
        if self.buckets.contains(&Bucket::Stress) {
            let s = &self.stress;
            m.insert("stress".into(), format!("{} rounds, {} workers, {} s and {} bytes at most", s.repeat, s.concurrency, s.duration.as_secs_f64(), s.max_bytes));
        }
        m
    }

    /// Every secret value, for redaction.
    pub fn secrets(&self) -> Vec<String> {
        self.password
            .iter()
            .map(|p| p.0.clone())
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// True if a check id is selected by bucket, --filter and --skip.
    pub fn selects(&self, id: &str, bucket: Bucket) -> bool {
        // large-blob checks only when a size is given
        if id.contains(".large.") && self.large_blob_size.is_none() {
            return false;
        }
        self.buckets.contains(&bucket)
            && (self.filters.is_empty() || self.filters.iter().any(|f| id.contains(f.as_str())))
            && !self.skips.iter().any(|s| id.contains(s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn env(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    #[test]
    fn flags_win_over_env() {
        let a = RunArgs {
            registry: Some("http://127.0.0.1:5000".into()),
            ..Default::default()
        };
        let c = Config::resolve(
            &a,
            &env(&[
                ("OCI_ROOT_URL", "http://127.0.0.1:6000"),
                ("OCI_NAMESPACE", "a/b"),
            ]),
            String::new(),
        )
        .unwrap();
        assert_eq!(c.registry.unwrap().as_str(), "http://127.0.0.1:5000/");
        assert_eq!(c.namespace, "a/b");
    }
    #[test]
    fn new_generation_env() {
        let a = RunArgs::default();
        let c = Config::resolve(
            &a,
            &env(&[
                ("OCI_REGISTRY", "localhost:5000"),
                ("OCI_TLS", "disabled"),
                ("OCI_REPO1", "x/one"),
                ("OCI_REPO2", "x/two"),
                ("OCI_VERSION", "dev"),
            ]),
            String::new(),
        )
        .unwrap();
        assert_eq!(c.registry.unwrap().as_str(), "http://localhost:5000/");
        assert_eq!(c.crossmount_namespace, "x/two");
        assert_eq!(c.spec_version, SpecVersion::Main);
    }
    #[test]
    fn legacy_bucket_selection() {
        let c = Config::resolve(
            &RunArgs::default(),
            &env(&[("OCI_TEST_PULL", "1")]),
            String::new(),
        )
        .unwrap();
        assert_eq!(
            c.buckets.iter().copied().collect::<Vec<_>>(),
            vec![Bucket::Pull]
        );
    }
    #[test]
    fn bad_input_is_an_error() {
        for r in ["not a url", "ftp://x", "http://u:p@h:1"] {
            let a = RunArgs {
                registry: Some(r.into()),
                ..Default::default()
            };
            assert!(
                Config::resolve(&a, &env(&[]), String::new()).is_err(),
                "{r}"
            );
        }
        let a = RunArgs {
            namespace: Some("Bad/Name".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&a, &env(&[]), String::new()).is_err());
    }
    #[test]
    fn read_only_runs_no_bucket_that_pushes() {
        for b in ["stress", "clients", "push,content-management"] {
            let a = RunArgs { bucket: b.split(',').map(String::from).collect(), ro_tags: vec!["v1".into()], ..Default::default() };
            let e = Config::resolve(&a, &env(&[]), String::new()).unwrap_err();
            assert!(e.contains("read-only mode leaves no bucket"), "{b}: {e}");
        }
        let a = RunArgs { bucket: vec!["pull".into(), "stress".into()], ro_tags: vec!["v1".into()], ..Default::default() };
        let c = Config::resolve(&a, &env(&[]), String::new()).unwrap();
        assert_eq!(c.buckets.iter().copied().collect::<Vec<_>>(), vec![Bucket::Pull]);
    }
    #[test]
    fn repo_names() {
        for ok in ["a", "a/b", "a-b/c__d", "a.b_c", "a--b"] {
            assert!(valid_repo_name(ok), "{ok}");
        }
        for bad in ["", "A", "a/", "/a", "a..b", "a___b", "-a", "a-", "a//b"] {
            assert!(!valid_repo_name(bad), "{bad}");
        }
    }
}
