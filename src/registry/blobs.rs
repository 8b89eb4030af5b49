//! Blob endpoints: GET/HEAD (with Range, and the optional redirect to another origin) and DELETE.

use super::http::{error, qenc, Req, MT_OCTET, R};
use super::names::{Dg, DigestError};
use super::state::State;
use bytes::Bytes;

/// Parses the digest of a blob URL, or the 400 to answer.
pub fn parse_digest(d: &str) -> Result<Dg, R> {
    Dg::parse(d).map_err(|e| match e {
        DigestError::Malformed => error(
            400,
            "DIGEST_INVALID",
            format!("{d:?} is not a valid digest"),
        ),
        DigestError::Unsupported => error(
            400,
            "DIGEST_INVALID",
            format!("{d:?} uses an unsupported digest algorithm (sha256 and sha512 are supported)"),
        ),
    })
}

fn unknown(st: &State, d: &Dg) -> R {
    let code = if st.fault("blob-unknown-wrong-code") {
        "NOT_FOUND"
    } else {
        "BLOB_UNKNOWN"
    };
    error(404, code, format!("blob {d} is not in this repository"))
}

pub fn get(st: &State, req: &Req, name: &str, digest: &str) -> R {
    let d = match parse_digest(digest) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let data = {
        let s = st.store();
        // The fault serves any stored blob through any repository name, as a global store does.
        let leak = st.fault("blobs-readable-from-any-repo");
        s.repos
            .get(name)
            .filter(|r| leak || r.blobs.contains(&d.to_string()))
            .map(|_| ())
            .or(leak.then_some(()))
            .and_then(|_| s.blobs.get(&d.to_string()).cloned())
    };
    let Some(data) = data else {
        if req.is_head() && st.fault("unknown-blob-head-200") {
            return R::new(200).header("content-type", MT_OCTET).into_head();
        }
        if !req.is_head() && st.fault("unknown-blob-400") {
            return error(
                400,
                "BLOB_UNKNOWN",
                format!("blob {d} is not in this repository"),
            );
        }
        return unknown(st, &d);
    };
    if !req.is_head() && data.is_empty() && st.fault("empty-blob-404") {
        return unknown(st, &d);
    }
    if !req.is_head() && st.opts.redirect_blobs {
        let base = st
            .redirect_base
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default();
        if let Some(base) = base {
            // Another origin serves the bytes; clients must not send it their credentials.
            return R::new(307).header("location", format!("{base}/blob/{d}?repo={}", qenc(name)));
        }
    }
    serve_bytes(st, req, &d, data)
}

/// A blob's bytes as a GET/HEAD answer, honouring a single-range `Range` request.
pub fn serve_bytes(st: &State, req: &Req, d: &Dg, data: Bytes) -> R {
    let len = data.len() as u64;
    let base = R::new(200).header("accept-ranges", "bytes");
    let range = if st.fault("blob-range-ignored") {
        None
    } else {
        req.h("range").map(|v| parse_range(v, len))
    };
    match range {
        Some(RangeReq::Unsatisfiable) => {
            // No error code in the spec's table fits; an empty body says it all with the header.
            return R::new(416).header("content-range", format!("bytes */{len}"));
        }
        Some(RangeReq::Bytes(a, b)) if !req.is_head() => {
            let (mut a, mut b) = (a, b);
            if st.fault("blob-range-wrong-bytes") && b + 1 < len {
                a += 1;
                b += 1;
            }
            // No Docker-Content-Digest here: if present it "MUST be a digest matching that
            // of the response body", and this body is only part of the blob.
            let part = data.slice(a as usize..(b + 1) as usize);
            let mut r = base
                .body(MT_OCTET, part)
                .header("content-range", format!("bytes {a}-{b}/{len}"));
            r.status = 206;
            return r;
        }
        _ => {}
    }
    let dcd = if st.fault("blob-wrong-digest-header") {
        d.other()
    } else {
        d.clone()
    };
    let r = base
        .header("docker-content-digest", dcd.to_string())
        .header("etag", format!("\"{d}\""));
    if req.is_head() {
        let mut r = r.body(MT_OCTET, data).into_head();
        if st.fault("blob-head-wrong-length") {
            r.head_length = Some(len + 1);
        }
        return r;
    }
    let mut body = data;
    if !body.is_empty()
        && (st.fault("blob-wrong-bytes")
            || (body.len() > super::faults::LARGE && st.fault("large-get-corrupt")))
    {
        let mut v = body.to_vec();
        if let Some(x) = v.last_mut() {
            *x ^= 0xff;
        }
        body = Bytes::from(v);
    }
    r.body(MT_OCTET, body)
}

#[derive(Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// Inclusive byte positions, within the blob.
    Bytes(u64, u64),
    Unsatisfiable,
    /// Not one byte range we serve (multiple ranges, other units, bad syntax): RFC 9110 lets
    /// a server ignore the header and send the whole representation.
    Ignore,
}

/// One `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-` or `-suffix`.
pub fn parse_range(v: &str, len: u64) -> RangeReq {
    let v = v.trim();
    let Some(spec) = v
        .strip_prefix("bytes=")
        .or_else(|| v.strip_prefix("BYTES="))
    else {
        return RangeReq::Ignore;
    };
    if spec.contains(',') {
        return RangeReq::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReq::Ignore;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            None => RangeReq::Ignore,
            Some(0) => RangeReq::Unsatisfiable,
            Some(_) if len == 0 => RangeReq::Unsatisfiable,
            Some(n) => RangeReq::Bytes(len - n.min(len), len - 1),
        },
        (a, "") => match num(a) {
            None => RangeReq::Ignore,
            Some(a) if a >= len => RangeReq::Unsatisfiable,
            Some(a) => RangeReq::Bytes(a, len - 1),
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= len {
                    RangeReq::Unsatisfiable
                } else {
                    RangeReq::Bytes(a, b.min(len - 1))
                }
            }
            _ => RangeReq::Ignore,
        },
    }
}

pub fn delete(st: &State, name: &str, digest: &str) -> R {
    let d = match parse_digest(digest) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let key = d.to_string();
    let mut s = st.store();
    let present = s
        .repos
        .get(name)
        .map(|r| r.blobs.contains(&key))
        .unwrap_or(false);
    if !present {
        if st.fault("blob-delete-unknown-202") {
            return R::new(202);
        }
        return unknown(st, &d);
    }
    if !st.fault("blob-delete-ignored") {
        if let Some(r) = s.repos.get_mut(name) {
            r.blobs.remove(&key);
        }
        State::collect(&mut s, &key);
    }
    R::new(if st.fault("blob-delete-200") {
        200
    } else {
        202
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ranges() {
        use RangeReq::*;
        assert_eq!(parse_range("bytes=0-9", 100), Bytes(0, 9));
        assert_eq!(parse_range("bytes=90-200", 100), Bytes(90, 99));
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=10-", 100), Bytes(10, 99));
        assert_eq!(parse_range("bytes=-10", 100), Bytes(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Bytes(0, 99));
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 100), Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignore);
        assert_eq!(parse_range("items=0-1", 100), Ignore);
        assert_eq!(parse_range("bytes=x-1", 100), Ignore);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 100), Ignore);
    }
}
