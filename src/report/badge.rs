//! Badges: `badge.json` (a shields.io endpoint: https://shields.io/badges/endpoint-badge) and
//! `badge.svg` (a self-contained flat badge) for the whole run, and `badge-<bucket>.*` per bucket.

use super::{RunRecord, RunStatus};
use crate::events::Counts;
use serde_json::json;

/// What a badge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub message: String,
    /// shields.io colour name.
    pub color: &'static str,
}

/// The badge for a set of counts. `conformant` only when nothing failed, nothing is a known
/// failure and every check ran; otherwise "<ok>/<n> passed" where n counts the checks that had
/// to reach a verdict (skipped and unsupported are left out: the spec lets a registry decline).
pub fn badge_for(label: &str, c: &Counts, status: RunStatus, strict: bool) -> Badge {
    let ok = c.passed + c.warned;
    let n = ok + c.failed + c.expected_failure + c.not_run;
    let b = |message: String, color| Badge {
        label: label.to_string(),
        message,
        color,
    };
    let plural = |k: usize, w: &str| {
        if k == 1 {
            format!("1 {w}")
        } else {
            format!("{k} {w}s")
        }
    };
    if status == RunStatus::Fatal {
        return b("not run".into(), "lightgrey");
    }
    if c.total == 0 || n == 0 {
        return b("no checks".into(), "lightgrey");
    }
    let strict_fail = strict && c.warned > 0;
    let complete = c.not_run == 0 && status != RunStatus::Interrupted;
    if c.failed == 0 && c.expected_failure == 0 && !strict_fail && complete {
        return if c.warned == 0 {
            b("conformant".into(), "brightgreen")
        } else {
            b(
                format!("conformant, {}", plural(c.warned, "warning")),
                "green",
            )
        };
    }
    let ratio = format!("{ok}/{n} passed");
    if c.failed > 0 || strict_fail {
        b(ratio, "red")
    } else if c.expected_failure > 0 {
        b(
            format!("{ratio}, {}", plural(c.expected_failure, "known failure")),
            "orange",
        )
    } else {
        b(format!("{ratio}, incomplete"), "lightgrey")
    }
}

/// (file name, contents) of every badge for the run.
pub fn render_all(r: &RunRecord) -> Vec<(String, String)> {
    let status = r.status();
    let strict = r.strict();
    let mut out = vec![];
    let mut add = |stem: String, b: Badge| {
        out.push((format!("{stem}.json"), endpoint_json(&b)));
        out.push((format!("{stem}.svg"), svg(&b)));
    };
    add(
        "badge".into(),
        badge_for("OCI conformance", &r.counts(), status, strict),
    );
    for (bucket, c) in r.buckets() {
        // A bucket cut short by an interruption shows as incomplete through its not_run count.
        let st = if status == RunStatus::Fatal {
            status
        } else {
            RunStatus::Passed
        };
        add(
            format!("badge-{}", bucket.as_str()),
            badge_for(&format!("OCI {}", bucket.as_str()), &c, st, strict),
        );
    }
    out
}

pub fn endpoint_json(b: &Badge) -> String {
    let v = json!({ "schemaVersion": 1, "label": b.label, "message": b.message, "color": b.color });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

fn hex(color: &str) -> &'static str {
    match color {
        "brightgreen" => "#4c1",
        "green" => "#97ca00",
        "yellow" => "#dfb317",
        "orange" => "#fe7d37",
        "red" => "#e05d44",
        _ => "#9f9f9f",
    }
}

/// Approximate advance width of Verdana 11px, which shields.io badges are drawn with.
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '\'' | '|' => 3.2,
            ' ' | '.' | ',' | ':' | ';' | '!' => 3.9,
            'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '-' | '/' => 4.7,
            's' | 'c' | 'z' => 5.8,
            'm' => 10.7,
            'w' => 9.0,
            'M' | 'W' => 10.0,
            'O' | 'C' | 'G' | 'Q' | 'D' | 'N' | 'H' | 'U' => 8.3,
            'A'..='Z' => 7.5,
            _ => 6.9,
        })
        .sum()
}

/// A flat badge, the shape shields.io draws, with no external reference.
pub fn svg(b: &Badge) -> String {
    let e = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let lw = (text_width(&b.label) + 10.0).round();
    let mw = (text_width(&b.message) + 10.0).round();
    let w = lw + mw;
    let (label, message, color) = (e(&b.label), e(&b.message), hex(b.color));
    // text is drawn at 10x and scaled down, as shields.io does, for crisp rendering
    let (lx, mx) = ((lw / 2.0 * 10.0).round(), ((lw + mw / 2.0) * 10.0).round());
    let (ltl, mtl) = (
        (text_width(&b.label) * 10.0).round(),
        (text_width(&b.message) * 10.0).round(),
    );
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {message}">
<title>{label}: {message}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">
<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{ltl}">{label}</text>
<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{label}</text>
<text aria-hidden="true" x="{mx}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{mtl}">{message}</text>
<text x="{mx}" y="140" transform="scale(.1)" fill="#fff" textLength="{mtl}">{message}</text>
</g>
</svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn messages() {
        let c = Counts {
            total: 85,
            passed: 80,
            failed: 3,
            warned: 2,
            ..Default::default()
        };
        let b = badge_for("x", &c, RunStatus::Failed, false);
        assert_eq!((b.message.as_str(), b.color), ("82/85 passed", "red"));
        let c = Counts {
            total: 10,
            passed: 9,
            unsupported: 1,
            ..Default::default()
        };
        assert_eq!(
            badge_for("x", &c, RunStatus::Passed, false).message,
            "conformant"
        );
        let c = Counts {
            total: 10,
            passed: 9,
            warned: 1,
            ..Default::default()
        };
        assert_eq!(
            badge_for("x", &c, RunStatus::Passed, false).message,
            "conformant, 1 warning"
        );
        assert_eq!(badge_for("x", &c, RunStatus::Failed, true).color, "red");
        let c = Counts {
            total: 10,
            passed: 5,
            not_run: 5,
            ..Default::default()
        };
        assert_eq!(
            badge_for("x", &c, RunStatus::Interrupted, false).message,
            "5/10 passed, incomplete"
        );
    }
}
