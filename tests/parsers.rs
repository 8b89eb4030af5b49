//! Property tests for every parser of registry-controlled input (src/headers.rs), the trace
//! redaction helpers (src/trace.rs) and `Digest::parse`: no input makes them panic, and
//! well-formed input round-trips.
//!
//! 2,000 cases per property by default; PROPTEST_CASES raises it, e.g.
//! `PROPTEST_CASES=100000 cargo test --release --test parsers`.

use oci_conformance::digest::{Algorithm, Digest};
use oci_conformance::headers::{self, Challenge, Link};
use oci_conformance::trace::{self, BODY_PREVIEW};
use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    // No regression files: this runs in a shared checkout.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fragments that steer random text into the parsers' interesting branches.
const FRAGMENTS: &[&str] = &[
    "Bearer",
    "Basic",
    "bearer",
    "Negotiate",
    " ",
    "  ",
    "\t",
    "realm",
    "service",
    "scope",
    "=",
    "\"",
    "\\",
    ",",
    ";",
    "<",
    ">",
    "rel",
    "next",
    "prev",
    "bytes",
    "bytes=",
    "-",
    "/",
    "0",
    "1",
    "99",
    "18446744073709551615",
    "18446744073709551616",
    "-5",
    "GMT",
    "Sun,",
    "Feb",
    "Nov",
    "06",
    "31",
    "1994",
    "9999",
    "0000",
    "08:49:37",
    "23:59:60",
    ":",
    "299",
    "199",
    "é",
    "\u{0}",
    "\u{7f}",
    "\u{fffd}",
    "😀",
    "sha256",
    "sha512",
    "token",
    "access_token",
    "?",
    "&",
    "%",
    "%zz",
    "@",
    "http://",
    "https://",
    "127.0.0.1",
    "[",
    "]",
    "[::1]",
    "#",
    "application/json",
    "charset=utf-8",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "{",
    "}",
    "\"token\":",
    "null",
    "\r\n",
];

fn fragments() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24).prop_map(|v| v.concat())
}

/// Arbitrary Unicode, printable ASCII, and fragment soup.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,120}",
        fragments(),
        (fragments(), any::<String>(), fragments()).prop_map(|(a, b, c)| format!("{a}{b}{c}"))
    ]
}

/// Bytes, biased towards UTF-8 text and its broken edges.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..(3 * BODY_PREVIEW)),
        text().prop_map(String::into_bytes),
        (any::<String>(), prop::collection::vec(128u8..=255, 0..5)).prop_map(|(s, tail)| {
            // long text cut at any byte, so a multi-byte character may be split at the preview limit
            let mut v = s.repeat(BODY_PREVIEW / s.len().max(1) + 1).into_bytes();
            v.extend(tail);
            v
        }),
    ]
}

/// Everything a registry controls, through every parser; only not panicking is asserted.
fn feed(s: &str) {
    let _ = headers::parse_challenge(s);
    let _ = headers::parse_challenges(s);
    let _ = headers::parse_link(s);
    let _ = headers::next_link(s);
    let _ = headers::parse_range(s);
    let _ = headers::parse_retry_after(s);
    let mt = headers::media_type(s);
    let _ = headers::has_params(s);
    let _ = headers::list_values([s, s]);
    let _ = headers::list_values(s.split('\n'));
    let _ = headers::valid_warning(s);
    let _ = trace::redact_url(s);
    let _ = trace::redact_tokens_in_body(s);
    let _ = trace::redact_header("Authorization", s);
    let _ = trace::redact_secrets(s, &[s.to_string(), "abc".into()]);
    let _ = trace::redact_known(s);
    for h in [
        "Location",
        "Content-Location",
        "Set-Cookie",
        "X-Amz-Security-Token",
        "Content-Type",
    ] {
        let _ = trace::redact_header(h, s);
    }
    let _ = trace::preview(s.as_bytes());
    if let Some(d) = Digest::parse(s) {
        let _ = d.referrers_tag();
    }
    assert_eq!(mt, mt.to_ascii_lowercase());
}

/// `"…"` with `"` and `\` escaped, as a quoted-string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// IMF-fixdate for seconds since the epoch.
fn imf_fixdate(secs: u64) -> String {
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WD[(days % 7) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const SECRET_KEYS: &[&str] = &[
    "token",
    "Token",
    "signature",
    "sig",
    "password",
    "secret",
    "credential",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Goog-Signature",
    "access_token",
    "refresh-token",
    "upload_secret",
];
const PLAIN_KEYS: &[&str] = &["n", "last", "digest", "mount", "from", "page", "_state"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_parser_panics_on_text(s in text()) {
        feed(&s);
    }

    #[test]
    fn no_parser_panics_on_bytes(b in bytes()) {
        let p = trace::preview(&b);
        // a preview is bounded whatever comes in (lossy text may triple in size)
        prop_assert!(p.len() <= 3 * BODY_PREVIEW + 64, "preview of {} bytes is {} bytes", b.len(), p.len());
        feed(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn preview_keeps_short_text(s in "(?s).{0,300}") {
        prop_assume!(s.len() <= BODY_PREVIEW);
        prop_assert_eq!(trace::preview(s.as_bytes()), s);
    }

    #[test]
    fn challenge_round_trip(
        realm in "[ -~]{0,40}", service in prop::option::of("[ -~]{0,20}"), scope in prop::option::of("[ -~]{0,60}"),
        scheme in prop::sample::select(&["Bearer", "bearer", "BEARER"][..]), sep in prop::sample::select(&[",", ", ", " ,  "][..]),
    ) {
        let mut v = format!("{scheme} realm={}", quoted(&realm));
        if let Some(s) = &service { v.push_str(&format!("{sep}service={}", quoted(s))); }
        if let Some(s) = &scope { v.push_str(&format!("{sep}scope={}", quoted(s))); }
        prop_assert_eq!(headers::parse_challenge(&v), Some(Challenge::Bearer { realm, service, scope }));
    }

    #[test]
    fn challenge_unquoted_and_basic(realm in "[A-Za-z0-9:/._-]{1,30}") {
        prop_assert_eq!(headers::parse_challenge(&format!("Basic realm={realm}")), Some(Challenge::Basic { realm: Some(realm.clone()) }));
        prop_assert_eq!(headers::parse_challenge(&format!("Bearer service=x,realm={realm}")), Some(Challenge::Bearer { realm, service: Some("x".into()), scope: None }));
        prop_assert_eq!(headers::parse_challenge("Bearer service=\"x\""), None);
    }

    #[test]
    fn challenges_round_trip(
        list in prop::collection::vec((any::<bool>(), "[ -~]{0,30}", prop::option::of("[ -~]{0,20}"), prop::option::of("[ -~]{0,40}")), 1..4),
        unknown in prop::option::of(0usize..4),
    ) {
        // Bearer and Basic challenges in one value, perhaps with a scheme the client does not
        // know in between (left out of the answer).
        let mut parts = vec![];
        let mut want = vec![];
        for (i, (bearer, realm, service, scope)) in list.iter().enumerate() {
            if unknown == Some(i) {
                parts.push("Digest realm=\"x, y\", nonce=\"n\", qop=auth".to_string());
            }
            if *bearer {
                let mut c = format!("Bearer realm={}", quoted(realm));
                if let Some(s) = service { c.push_str(&format!(",service={}", quoted(s))); }
                if let Some(s) = scope { c.push_str(&format!(", scope={}", quoted(s))); }
                parts.push(c);
                want.push(Challenge::Bearer { realm: realm.clone(), service: service.clone(), scope: scope.clone() });
            } else {
                parts.push(format!("Basic realm={}", quoted(realm)));
                want.push(Challenge::Basic { realm: Some(realm.clone()) });
            }
        }
        let v = parts.join(", ");
        prop_assert_eq!(headers::parse_challenges(&v), want, "{}", v);
    }

    #[test]
    fn link_round_trip(
        links in prop::collection::vec(("[^>]{0,40}", prop::collection::vec("[a-zA-Z]{1,8}", 0..3), prop::option::of("[ -~&&[^;\"\\\\]]{0,20}")), 1..4),
    ) {
        let v = links.iter().map(|(t, rels, title)| {
            let mut s = format!("<{t}>");
            if let Some(ti) = title { s.push_str(&format!("; title=\"{ti}\"")); }
            match rels.len() {
                0 => {}
                1 => s.push_str(&format!("; rel={}", rels[0])),
                _ => s.push_str(&format!("; rel=\"{}\"", rels.join(" "))),
            }
            s
        }).collect::<Vec<_>>().join(", ");
        let want: Vec<Link> = links.iter().map(|(t, rels, _)| Link { target: t.clone(), rel: rels.iter().map(|r| r.to_ascii_lowercase()).collect() }).collect();
        prop_assert_eq!(headers::parse_link(&v), Ok(want.clone()));
        let next = want.iter().find(|l| l.rel.iter().any(|r| r == "next")).map(|l| l.target.clone());
        prop_assert_eq!(headers::next_link(&v), Ok(next));
    }

    #[test]
    fn link_without_angle_brackets_is_an_error(t in "[^<\\s][ -~]{0,30}") {
        prop_assert!(headers::parse_link(&t).is_err());
    }

    #[test]
    fn range_round_trip(a in any::<u64>(), b in any::<u64>(), total in any::<u64>()) {
        let (lo, hi) = (a.min(b), a.max(b));
        for v in [format!("{lo}-{hi}"), format!("bytes {lo}-{hi}/{total}"), format!("bytes={lo}-{hi}"), format!(" bytes {lo}-{hi}/* "), format!("{lo} - {hi}")] {
            prop_assert_eq!(headers::parse_range(&v), Some((lo, hi)), "{}", v);
        }
        if lo != hi {
            prop_assert_eq!(headers::parse_range(&format!("{hi}-{lo}")), None);
        }
    }

    #[test]
    fn retry_after_seconds(n in any::<u64>(), pad in "[ \t]{0,3}") {
        prop_assert_eq!(headers::parse_retry_after(&format!("{pad}{n}{pad}")), Some(Duration::from_secs(n)));
    }

    #[test]
    fn retry_after_dates(ahead in 10u64..2_000_000_000, behind in 0u64..1_000_000_000) {
        let now = now_secs();
        let future = headers::parse_retry_after(&imf_fixdate(now + ahead));
        let got = future.map(|d| d.as_secs());
        prop_assert!(got.map(|g| g + 3 >= ahead && g <= ahead).unwrap_or(false), "{} ahead parsed as {:?}", ahead, got);
        let past = headers::parse_retry_after(&imf_fixdate(now.saturating_sub(behind)));
        prop_assert!(past.map(|d| d <= Duration::from_secs(2)).unwrap_or(false), "a past date gave {:?}", past);
    }

    #[test]
    fn media_type_normalizes(t in "[A-Za-z0-9.+-]{1,20}/[A-Za-z0-9.+-]{1,30}", p in "[a-z]{1,8}=[A-Za-z0-9-]{1,8}", ws in "[ \t]{0,2}") {
        let with = format!("{ws}{t}{ws};{ws}{p}");
        prop_assert_eq!(headers::media_type(&with), t.to_ascii_lowercase());
        prop_assert_eq!(headers::media_type(&headers::media_type(&with)), t.to_ascii_lowercase());
        prop_assert!(headers::has_params(&with));
        prop_assert!(!headers::has_params(&t));
        let bare = format!("{t};{ws}");
        prop_assert!(!headers::has_params(&bare));
    }

    #[test]
    fn list_values_round_trip(lines in prop::collection::vec(prop::collection::vec("[A-Za-z0-9._-]{1,10}", 0..4), 0..4), sep in prop::sample::select(&[",", ", ", " , "][..])) {
        let joined: Vec<String> = lines.iter().map(|l| l.join(sep)).collect();
        let want: Vec<String> = lines.concat();
        prop_assert_eq!(headers::list_values(joined.iter().map(String::as_str)), want);
    }

    #[test]
    fn warning_round_trip(text in "[ -~]{0,40}") {
        let v = format!("299 - {}", quoted(&text));
        prop_assert!(headers::valid_warning(&v), "{}", v);
        let dated = format!("{v} \"Sun, 06 Nov 1994 08:49:37 GMT\"");
        prop_assert!(!headers::valid_warning(&dated));
        let other = format!("199 - {}", quoted(&text));
        prop_assert!(!headers::valid_warning(&other));
    }

    #[test]
    fn digest_parse(data in prop::collection::vec(any::<u8>(), 0..256), s in text()) {
        for a in [Algorithm::Sha256, Algorithm::Sha512] {
            let d = Digest::of(a, &data);
            prop_assert_eq!(Digest::parse(&d.to_string()), Some(d.clone()));
            prop_assert_eq!(Digest::parse(&d.to_string().to_ascii_uppercase()), None);
            let short = d.to_string();
            prop_assert_eq!(Digest::parse(&short[..short.len() - 1]), None);
        }
        if let Some(d) = Digest::parse(&s) {
            prop_assert_eq!(d.to_string(), s.trim());
        }
    }

    #[test]
    fn redact_url_drops_credentials(
        user in "[a-z]{1,8}", pw in "PW[A-Za-z0-9]{8,16}", path in "(/[a-z0-9._-]{1,8}){0,4}",
        secret in prop::collection::vec((prop::sample::select(SECRET_KEYS), "SV[A-Za-z0-9]{10,16}"), 0..3),
        plain in prop::collection::vec((prop::sample::select(PLAIN_KEYS), "pv[a-z0-9]{4,8}"), 0..3),
        order in any::<u64>(),
    ) {
        let mut params: Vec<(String, String)> = secret.iter().chain(plain.iter()).map(|(k, v)| (k.to_string(), v.clone())).collect();
        let n = params.len().max(1);
        params.rotate_left(order as usize % n);
        let q = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let u = format!("http://{user}:{pw}@127.0.0.1:5000{path}?{q}");
        let r = trace::redact_url(&u);
        prop_assert!(!r.contains(&pw), "{}", r);
        for (_, v) in &secret { prop_assert!(!r.contains(v.as_str()), "{} kept {}", r, v); }
        for (_, v) in &plain { prop_assert!(r.contains(v.as_str()), "{} lost {}", r, v); }
        prop_assert_eq!(trace::redact_url(&r), r.clone());
    }

    #[test]
    fn redact_url_relative_references(
        key in prop::sample::select(SECRET_KEYS), v in "SV[A-Za-z0-9]{10,16}", path in "(/[a-z0-9]{1,8}){1,4}", plain in "pv[a-z0-9]{4,8}",
    ) {
        // Request::describe() redacts `path?query`, not a whole URL
        let r = trace::redact_url(&format!("{path}?n={plain}&{key}={v}"));
        prop_assert!(!r.contains(&v), "{}", r);
        prop_assert!(r.contains(&plain), "{}", r);
        prop_assert!(r.starts_with(&path), "{}", r);
    }

    #[test]
    fn registered_secrets_are_redacted(secret in "RS[a-z0-9]{8,16}", parts in prop::collection::vec("[ -~]{0,20}", 1..4)) {
        trace::register_secret(&secret);
        let s = parts.join(&secret);
        prop_assert!(!trace::redact_known(&s).contains(&secret));
        prop_assert!(!trace::redact_secrets(&s, &[]).contains(&secret));
    }

    #[test]
    fn redact_tokens_in_token_answers(tok in "T[A-Za-z0-9._-]{10,40}", keys in prop::sample::subsequence(vec!["token", "access_token", "refresh_token", "id_token"], 1..4), other in "[a-z]{1,8}") {
        let mut m = serde_json::Map::new();
        for k in &keys { m.insert(k.to_string(), serde_json::Value::String(tok.clone())); }
        m.insert("expires_in".into(), 300.into());
        m.insert(other.clone(), "kept".into());
        let body = serde_json::Value::Object(m).to_string();
        let r = trace::redact_tokens_in_body(&body);
        prop_assert!(!r.contains(&tok), "{}", r);
        prop_assert!(r.contains("kept"));
    }

    #[test]
    fn redact_secrets_removes_every_occurrence(secret in "[a-z0-9]{3,12}", parts in prop::collection::vec("[ -~]{0,20}", 1..5)) {
        let s = parts.join(&secret);
        prop_assert!(!trace::redact_secrets(&s, std::slice::from_ref(&secret)).contains(&secret));
    }

    #[test]
    fn redact_header_hides_credentials(cred in "[A-Za-z0-9+/=._-]{4,40}", scheme in prop::sample::select(&["Basic", "Bearer", "Token"][..]), name in prop::sample::select(&["Authorization", "authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Registry-Auth"][..])) {
        let value = format!("{scheme} {cred}");
        prop_assert!(!trace::redact_header(name, &value).contains(&cred));
        prop_assert!(!trace::redact_header(name, &cred).contains(&cred));
    }
}

proptest! {
    #![proptest_config(config())]

    /// Parameters are split on ';' outside quoted strings only: a title containing
    /// `;rel=next` does not make a link `next`.
    #[test]
    fn link_quoted_semicolon(t in "[a-z/]{1,20}", title in "[a-z ]{0,8}") {
        let v = format!("<{t}>; title=\"{title};rel=next\"; rel=prev");
        prop_assert_eq!(headers::next_link(&v), Ok(None), "{}", v);
    }
}

/// The configured credentials are registered by Client::new; every bearer token learnt
/// later is registered too, and the list is bounded. A registry that issues a fresh token per
/// request must not push the password (or its Basic form) out of it.
#[test]
fn credentials_survive_many_learnt_tokens() {
    use oci_conformance::client::{Client, ClientOptions};
    let password = "PWpinned-8c1Yq";
    let opts = ClientOptions {
        username: Some("user".into()),
        password: Some(password.into()),
        ..ClientOptions::default()
    };
    let _client =
        Client::new(url::Url::parse("http://127.0.0.1:1/").expect("url"), opts).expect("client");
    for i in 0..5000 {
        trace::register_secret(&format!("tok-{i:06}-issued"));
    }
    let shown = trace::redact_known(&format!("body: you sent {password}"));
    assert!(!shown.contains(password), "{shown}");
}
