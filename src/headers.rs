//! Total parsers for headers the registry controls. None of them panics on any input
//! (see the property tests in tests/parsers.rs); each returns None for what it cannot read.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub fn parse_challenge(v: &str) -> Option<Challenge> {
    let v = v.trim();
    let (scheme, rest) = match v.find(|c: char| c.is_whitespace()) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic {
            realm: get("realm"),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

/// Every challenge of a `WWW-Authenticate` value, which may hold several
/// (`Bearer realm="…",service="…", Basic realm="…"`; RFC 9110 §11.6.1). Unknown schemes are
/// left out.
pub fn parse_challenges(v: &str) -> Vec<Challenge> {
    // Split at top-level commas (outside quotes); a piece that starts with a bare token
    // followed by a space, or is a bare token, starts a new challenge.
    let mut pieces = vec![];
    let mut from = 0;
    for end in unquoted_positions(v, ',')
        .into_iter()
        .chain(std::iter::once(v.len()))
    {
        pieces.push(&v[from..end]);
        from = (end + 1).min(v.len());
    }
    let mut challenges: Vec<String> = vec![];
    for p in pieces {
        let t = p.trim();
        if t.is_empty() {
            continue;
        }
        let first = t
            .split(|c: char| c.is_whitespace() || c == '=')
            .next()
            .unwrap_or("");
        let starts_new = !first.is_empty()
            && !t[first.len()..].trim_start().starts_with('=')
            && first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        match challenges.last_mut() {
            Some(last) if !starts_new => {
                last.push(',');
                last.push_str(t);
            }
            _ => challenges.push(t.to_string()),
        }
    }
    challenges
        .iter()
        .filter_map(|c| parse_challenge(c))
        .collect()
}

/// `k=v, k="quoted, value"` lists.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        while i < cs.len() && (cs[i] == ',' || cs[i].is_whitespace()) {
            i += 1;
        }
        let ks = i;
        while i < cs.len() && cs[i] != '=' && cs[i] != ',' {
            i += 1;
        }
        let key: String = cs[ks..i].iter().collect::<String>().trim().to_string();
        if i >= cs.len() || cs[i] != '=' {
            continue;
        }
        i += 1;
        let mut val = String::new();
        if i < cs.len() && cs[i] == '"' {
            i += 1;
            while i < cs.len() && cs[i] != '"' {
                if cs[i] == '\\' && i + 1 < cs.len() {
                    i += 1;
                }
                val.push(cs[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < cs.len() && cs[i] != ',' {
                val.push(cs[i]);
                i += 1;
            }
            val = val.trim().to_string();
        }
        if !key.is_empty() {
            out.push((key, val));
        }
    }
    out
}

/// One link of an RFC 8288 `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub rel: Vec<String>,
}

/// Parses `<url>; rel="next", <url2>; rel=prev`. Returns Err with the reason when the
/// syntax is not RFC 8288 (a `Link` that a client cannot follow).
pub fn parse_link(v: &str) -> Result<Vec<Link>, String> {
    let mut out = vec![];
    let mut rest = v.trim();
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix('<') else {
            return Err(format!("link value must start with '<': {v:?}"));
        };
        let Some(end) = r.find('>') else {
            return Err(format!("unterminated '<' in {v:?}"));
        };
        let target = r[..end].to_string();
        rest = &r[end + 1..];
        let mut rel = vec![];
        // parameters until the next ',' that is not inside quotes
        let cut = unquoted_positions(rest, ',')
            .first()
            .copied()
            .unwrap_or(rest.len());
        let params = &rest[..cut];
        let mut from = 0;
        let mut ends = unquoted_positions(params, ';');
        ends.push(params.len());
        for end in ends {
            let p = params[from..end].trim();
            from = (end + 1).min(params.len());
            if let Some((k, val)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("rel") {
                    rel.extend(
                        val.trim()
                            .trim_matches('"')
                            .split_whitespace()
                            .map(|s| s.to_ascii_lowercase()),
                    );
                }
            }
        }
        out.push(Link { target, rel });
        rest = rest[cut..].trim_start_matches(',').trim();
    }
    Ok(out)
}

/// Byte positions of `sep` outside quoted strings (RFC 9110 quoted-string, with `\` escapes).
fn unquoted_positions(s: &str, sep: char) -> Vec<usize> {
    let (mut in_q, mut esc, mut out) = (false, false, vec![]);
    for (i, c) in s.char_indices() {
        match c {
            _ if esc => esc = false,
            '\\' if in_q => esc = true,
            '"' => in_q = !in_q,
            c if c == sep && !in_q => out.push(i),
            _ => {}
        }
    }
    out
}

/// The `rel="next"` target of a Link header value, if any.
pub fn next_link(v: &str) -> Result<Option<String>, String> {
    Ok(parse_link(v)?
        .into_iter()
        .find(|l| l.rel.iter().any(|r| r == "next"))
        .map(|l| l.target))
}

/// `Range: 0-<end>` / `Content-Range: bytes 0-99/100` style: returns (start, end) inclusive.
pub fn parse_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes")
        .map(|s| s.trim_start_matches([' ', '=']))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.trim().split_once('-')?;
    let (a, b) = (a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?);
    (a <= b).then_some((a, b))
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let t = httpdate_parse(v)?;
    let now = std::time::SystemTime::now();
    Some(t.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate only (`Sun, 06 Nov 1994 08:49:37 GMT`), which RFC 9110 requires senders to use.
fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 60
    {
        return None;
    }
    // days from civil (Howard Hinnant)
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146097 + doe).checked_sub(719468)?;
    let secs = days
        .checked_mul(86400)?
        .checked_add(hms[0] * 3600 + hms[1] * 60 + hms[2])?;
    std::time::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Media type without parameters, lowercased: `application/json; charset=utf-8` → `application/json`.
pub fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// True if a Content-Type value carries parameters.
pub fn has_params(v: &str) -> bool {
    v.split_once(';')
        .map(|(_, p)| !p.trim().is_empty())
        .unwrap_or(false)
}

/// Values of a list header across all its lines (`OCI-Tag: a, b` + `OCI-Tag: c`).
pub fn list_values<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    lines
        .into_iter()
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A `Warning` header value per the spec: `299 - "text"`, no warn-date.
pub fn valid_warning(v: &str) -> bool {
    let v = v.trim();
    let Some(rest) = v.strip_prefix("299 - \"") else {
        return false;
    };
    // the quoted text must end the value: a trailing warn-date is forbidden
    let mut esc = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\\' if !esc => esc = true,
            '"' if !esc => return rest[i + 1..].trim().is_empty(),
            _ => esc = false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn links() {
        assert_eq!(
            next_link(r#"</v2/r/tags/list?n=2&last=b>; rel="next""#)
                .unwrap()
                .as_deref(),
            Some("/v2/r/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<a>; rel="prev", <b>; rel=next"#)
                .unwrap()
                .as_deref(),
            Some("b")
        );
        assert!(parse_link("/v2/x; rel=next").is_err());
    }
    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://a/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:x:pull,push".into())
            })
        );
        assert_eq!(
            parse_challenge("Basic realm=\"r\""),
            Some(Challenge::Basic {
                realm: Some("r".into())
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
    #[test]
    fn several_challenges() {
        let v = r#"Bearer realm="https://a/token",service="reg, x",scope="repository:x:pull", Basic realm="r", Negotiate"#;
        assert_eq!(
            parse_challenges(v),
            vec![
                Challenge::Bearer {
                    realm: "https://a/token".into(),
                    service: Some("reg, x".into()),
                    scope: Some("repository:x:pull".into())
                },
                Challenge::Basic {
                    realm: Some("r".into())
                },
            ]
        );
        assert_eq!(
            parse_challenges("Basic"),
            vec![Challenge::Basic { realm: None }]
        );
        assert_eq!(parse_challenges(""), vec![]);
        assert_eq!(parse_challenges(",,, =, \"\\"), vec![]);
    }
    #[test]
    fn ranges_and_dates() {
        assert_eq!(parse_range("0-99"), Some((0, 99)));
        assert_eq!(parse_range("bytes 5-9/10"), Some((5, 9)));
        assert_eq!(parse_range("bytes=5-9"), Some((5, 9)));
        assert_eq!(parse_range("9-5"), None);
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT").is_some());
        assert!(valid_warning(r#"299 - "deprecated""#));
        assert!(!valid_warning(
            r#"299 - "x" "Sun, 06 Nov 1994 08:49:37 GMT""#
        ));
        assert!(!valid_warning(r#"199 - "x""#));
    }
}

/// Adds `key=value` to a URL such as an upload location, keeping its own query parameters.
pub fn with_query(location: &str, key: &str, value: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}{key}={enc}")
}
