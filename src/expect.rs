//! Expectations file: known failures a vendor gates CI on.
//!
//! ```toml
//! [[expected]]
//! id = "push.chunked.out-of-order-416"   # a check id or a requirement id
//! reason = "our proxy answers 400"
//! link = "https://tracker.example/123"   # optional
//! ```

use crate::model::Outcome;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Expectation {
    pub id: String,
    pub reason: String,
    pub link: Option<String>,
    /// 1-based line of the entry in its file (0 when unknown), for messages.
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub entries: Vec<Expectation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    expected: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: toml::Spanned<String>,
    reason: toml::Spanned<String>,
    #[serde(default)]
    link: Option<toml::Spanned<String>>,
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read expectations file {}: {e}", path.display()))?;
        Expectations::parse(&text, &path.display().to_string())
    }

    /// Parses the text of an expectations file; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Expectations, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(":{}", line_of(text, s.start)))
                .unwrap_or_default();
            format!("{name}{at}: {}", e.message().trim())
        })?;
        let mut entries: Vec<Expectation> = vec![];
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for e in raw.expected {
            let line = line_of(text, e.span().start);
            let e = e.into_inner();
            let field_line = |s: &std::ops::Range<usize>| line_of(text, s.start);
            let id = e.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(format!("{name}:{}: field `id` is empty (a check id or a requirement id; see `oci-conformance list`)", field_line(&e.id.span())));
            }
            if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "{name}:{}: field `id` {id:?} contains whitespace",
                    field_line(&e.id.span())
                ));
            }
            let reason = e.reason.get_ref().trim().to_string();
            if reason.is_empty() {
                return Err(format!("{name}:{}: field `reason` is empty for id {id:?} (say why the failure is accepted)", field_line(&e.reason.span())));
            }
            let link = match &e.link {
                None => None,
                Some(l) => {
                    let v = l.get_ref().trim();
                    if !is_http_url(v) {
                        return Err(format!("{name}:{}: field `link` for id {id:?} must be an http(s) URL, got {v:?}", field_line(&l.span())));
                    }
                    Some(v.to_string())
                }
            };
            if let Some(first) = seen.get(&id) {
                return Err(format!(
                    "{name}:{}: duplicate id {id:?} (already listed at line {first})",
                    field_line(&e.id.span())
                ));
            }
            seen.insert(id.clone(), field_line(&e.id.span()));
            entries.push(Expectation {
                id,
                reason,
                link,
                line,
            });
        }
        Ok(Expectations { entries })
    }

    /// The entry matching a check (by check id or one of its requirement ids).
    pub fn lookup(&self, check_id: &str, requirements: &[String]) -> Option<&Expectation> {
        self.entries
            .iter()
            .find(|e| e.id == check_id || requirements.contains(&e.id))
    }

    /// Entries that match no known check or requirement id.
    pub fn unknown_ids(&self, checks: &[&str], requirements: &[&str]) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| !checks.contains(&e.id.as_str()) && !requirements.contains(&e.id.as_str()))
            .map(|e| e.id.clone())
            .collect()
    }
}

/// True for an absolute http:// or https:// URL with a host.
pub fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .unwrap_or(false)
}

/// Text safe inside a one-line TOML/YAML comment.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A TOML basic string with escapes.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

const MAX_REASON: usize = 200;

/// The reason written for a failed check: the expectation it already had, else the first line
/// of its message (shortened).
fn reason_for(t: &crate::diff::TestRow) -> String {
    if let Some(r) = t
        .expectation
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        return r.to_string();
    }
    let first = t
        .message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let first = one_line(first);
    if first.is_empty() {
        return "failed (no message in results.json)".into();
    }
    if first.chars().count() > MAX_REASON {
        let cut: String = first.chars().take(MAX_REASON).collect();
        return format!("{}…", cut.trim_end());
    }
    first
}

/// An expectations file listing every failed (and expected-failure) check of a run, as a
/// starting point: each reason should be reviewed by a person.
pub fn write_from_results(path: &Path) -> Result<String, String> {
    let r = crate::diff::load_results(path)?;
    let mut failed: BTreeMap<&str, String> = BTreeMap::new();
    for t in &r.tests {
        if matches!(t.outcome, Outcome::Failed | Outcome::ExpectedFailure) {
            failed.entry(t.id.as_str()).or_insert_with(|| reason_for(t));
        }
    }
    let mut s = String::new();
    s.push_str(
        "# oci-conformance expectations file: known failures, one [[expected]] entry each.\n",
    );
    s.push_str(
        "# Use with `oci-conformance --expect FILE`: a listed check that fails is reported as\n",
    );
    s.push_str("# expected-failure; one that passes is reported as stale (remove its entry).\n");
    s.push_str(&format!(
        "# Generated from {}\n",
        one_line(&r.path.display().to_string())
    ));
    s.push_str(&format!(
        "# Run: registry {}, date {}, seed {}, spec {}, {} {}\n",
        one_line(if r.registry.is_empty() {
            "unknown"
        } else {
            &r.registry
        }),
        one_line(if r.started_at.is_empty() {
            "unknown"
        } else {
            &r.started_at
        }),
        r.seed
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into()),
        one_line(if r.spec_version.is_empty() {
            "unknown"
        } else {
            &r.spec_version
        }),
        one_line(if r.tool.is_empty() {
            "oci-conformance"
        } else {
            &r.tool
        }),
        one_line(&r.version),
    ));
    s.push_str("# Review every reason below and add `link = \"https://...\"` to your tracker where there is one.\n");
    if failed.is_empty() {
        s.push_str("\n# No check failed in this run: nothing to expect.\n");
    }
    for (id, reason) in failed {
        s.push_str(&format!(
            "\n[[expected]]\nid = {}\nreason = {}\n",
            toml_str(id),
            toml_str(&reason)
        ));
    }
    Ok(s)
}
