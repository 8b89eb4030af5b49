//! Blob uploads: POST (session, single-POST, mount), PATCH (ranged chunks and streamed),
//! closing PUT, GET status and DELETE (cancel). Bodies are hashed while they arrive.

use super::blobs::parse_digest;
use super::http::{error, Req, R};
use super::names::{Alg, Dg};
use super::state::{State, Upload};
use bytes::Bytes;

/// Default cap on one blob held in memory.
pub const DEFAULT_MAX_BLOB: u64 = 1 << 30;

fn max_blob(st: &State) -> u64 {
    st.opts.max_blob_size.unwrap_or(DEFAULT_MAX_BLOB)
}

fn upload_path(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The Location of a session holding `len` bytes. With `upload-stale-location-404` it carries
/// the offset, like docker-registry's `_state`, and a status GET on an earlier one fails.
fn session_location(st: &State, name: &str, id: &str, len: usize) -> String {
    if st.fault("upload-stale-location-404") {
        format!("{}?_offset={len}", upload_path(name, id))
    } else {
        upload_path(name, id)
    }
}

fn blob_path(name: &str, d: &Dg) -> String {
    format!("/v2/{name}/blobs/{d}")
}

fn upload_unknown(id: &str) -> R {
    error(
        404,
        "BLOB_UPLOAD_UNKNOWN",
        format!("upload {id:?} is unknown (never started, finished or cancelled)"),
    )
}

/// Headers every answer about a live session carries.
fn session(st: &State, r: R, name: &str, up: &Upload) -> R {
    r.header("location", session_location(st, name, &up.id, up.data.len()))
        .header("range", up.range())
        .header("docker-upload-uuid", &up.id)
}

pub async fn start(st: &State, req: &mut Req, name: &str) -> R {
    if let Some(m) = req.q("mount") {
        let m = m.to_string();
        let from = req.q("from").map(str::to_string);
        return mount(st, name, &m, from.as_deref());
    }
    if let Some(d) = req.q("digest") {
        let d = d.to_string();
        return single_post(st, req, name, &d).await;
    }
    let alg = match req.q("digest-algorithm") {
        None => Alg::Sha256,
        Some(a) => match Alg::parse(a) {
            Some(a) => a,
            None => {
                return error(
                    400,
                    "UNSUPPORTED",
                    format!("digest-algorithm {a:?} is not supported (sha256, sha512)"),
                )
            }
        },
    };
    new_session(st, name, alg)
}

/// 202 with a fresh session. A body sent with a plain POST is ignored (the spec gives it no
/// meaning); it is drained by the router.
fn new_session(st: &State, name: &str, alg: Alg) -> R {
    let id = st.new_upload(name, alg);
    let mut r = R::new(202)
        .header("location", session_location(st, name, &id, 0))
        .header("range", "0-0")
        .header("docker-upload-uuid", &id);
    if st.fault("chunk-min-length-zero") {
        r = r.header("oci-chunk-min-length", "0");
    } else if let Some(n) = st.opts.chunk_min_length {
        r = r.header("oci-chunk-min-length", n.to_string());
    }
    if st.fault("upload-post-200") {
        r.status = 200;
    }
    r
}

fn created(st: &State, name: &str, d: &Dg) -> R {
    let loc = if st.fault("blob-put-bad-location") {
        d.other()
    } else {
        d.clone()
    };
    R::new(201)
        .header("location", blob_path(name, &loc))
        .header("docker-content-digest", d.to_string())
}

fn mount(st: &State, name: &str, digest: &str, from: Option<&str>) -> R {
    let d = match parse_digest(digest) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let key = d.to_string();
    let (found, anywhere) = {
        let s = st.store();
        let anywhere = s.blobs.contains_key(&key);
        let found = match from {
            Some(f) => {
                st.name_ok(f)
                    && s.repos
                        .get(f)
                        .map(|r| r.blobs.contains(&key))
                        .unwrap_or(false)
            }
            // The spec lets a registry treat `from` as optional and mount a blob it can find.
            None => anywhere,
        };
        (found, anywhere)
    };
    if !anywhere && st.fault("mount-unknown-blob-201") {
        return R::new(201)
            .header("location", blob_path(name, &d))
            .header("docker-content-digest", &key);
    }
    if !found {
        // Not mountable: start an ordinary session, as the spec suggests ("SHOULD return a 202").
        return new_session(st, name, d.alg);
    }
    let skip = if from.is_some() {
        st.fault("mount-not-copied")
    } else {
        st.fault("mount-without-from-not-copied")
    };
    if !skip {
        let mut s = st.store();
        if s.blobs.contains_key(&key) {
            s.repos
                .entry(name.to_string())
                .or_default()
                .blobs
                .insert(key.clone());
        }
    }
    // Faults: a 201 whose Location or Docker-Content-Digest names a blob that is not there.
    let mut loc = blob_path(name, &d);
    let mut dcd = key.clone();
    if st.fault("mount-bad-location") {
        loc = blob_path(name, &other_digest(&d));
    }
    if st.fault("mount-wrong-digest-header") {
        dcd = other_digest(&d).to_string();
    }
    if d.alg != Alg::Sha256 && st.fault("mount-sha512-as-sha256") {
        let sha256 = st.store().blobs.get(&key).map(|b| Dg::of(Alg::Sha256, b));
        if let Some(s) = sha256 {
            loc = blob_path(name, &s);
            dcd = s.to_string();
        }
    }
    R::new(201).header("location", &loc).header("docker-content-digest", &dcd)
}

/// A digest of the same algorithm that differs from `d` in its last hex digit.
fn other_digest(d: &Dg) -> Dg {
    let mut hex = d.hex.clone();
    let last = if hex.ends_with('0') { '1' } else { '0' };
    hex.pop();
    hex.push(last);
    Dg { alg: d.alg, hex }
}

async fn single_post(st: &State, req: &mut Req, name: &str, digest: &str) -> R {
    let d = match parse_digest(digest) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut up = Upload::detached(d.alg);
    if let Err(r) = receive(st, req, &mut up, None).await {
        return r;
    }
    if up.digest(d.alg) != d {
        return error(
            400,
            "DIGEST_INVALID",
            format!("the body does not hash to {d}"),
        );
    }
    let mut data = std::mem::take(&mut up.data);
    if st.fault("single-post-corrupt") {
        corrupt(&mut data);
    }
    st.publish_blob(name, &d, Bytes::from(data)).await;
    created(st, name, &d)
}

/// Flips the last byte (or adds one to an empty blob): stored content that no longer matches.
fn corrupt(data: &mut Vec<u8>) {
    match data.last_mut() {
        Some(x) => *x ^= 0xff,
        None => data.push(b'x'),
    }
}

/// Appends the request body to the session, hashing it on the way. If `expect` is given the
/// body must be exactly that long. On any failure the session is left as it was.
async fn receive(
    st: &State,
    req: &mut Req,
    up: &mut Upload,
    expect: Option<u64>,
) -> Result<u64, R> {
    let (old_len, old_hash) = (up.data.len(), up.hasher.clone());
    let max = max_blob(st);
    let mut n = 0u64;
    let fail = |up: &mut Upload, r: R| -> Result<u64, R> {
        up.data.truncate(old_len);
        up.hasher = old_hash.clone();
        Err(r)
    };
    loop {
        let c = match req.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return fail(up, error(400, "BLOB_UPLOAD_INVALID", e)),
        };
        n += c.len() as u64;
        if let Some(e) = expect {
            if n > e {
                return fail(
                    up,
                    error(
                        400,
                        "BLOB_UPLOAD_INVALID",
                        format!(
                            "the body is longer than the {e} bytes its Content-Range announces"
                        ),
                    ),
                );
            }
        }
        if up.data.len() as u64 + c.len() as u64 > max {
            return fail(
                up,
                error(
                    413,
                    "SIZE_INVALID",
                    format!("blobs are limited to {max} bytes here"),
                ),
            );
        }
        up.hasher.update(&c);
        up.data.extend_from_slice(&c);
    }
    if let Some(e) = expect {
        if n != e {
            return fail(
                up,
                error(
                    400,
                    "BLOB_UPLOAD_INVALID",
                    format!("the body has {n} bytes but its Content-Range announces {e}"),
                ),
            );
        }
    }
    Ok(n)
}

/// The request's Content-Range as (start, end), or the 400 answer to a malformed one.
fn content_range(req: &Req) -> Result<Option<(u64, u64)>, R> {
    match req.h("content-range") {
        None => Ok(None),
        Some(v) => parse_content_range(v)
            .map(Some)
            .ok_or_else(|| error(400, "BLOB_UPLOAD_INVALID", format!("Content-Range {v:?} is not <start>-<end>"))),
    }
}

/// `Content-Range: <start>-<end>` (the spec's `^[0-9]+-[0-9]+$`); also tolerates the RFC 9110
/// forms `bytes <start>-<end>/<total>` that some clients send.
pub fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes ")
        .or_else(|| v.strip_prefix("bytes="))
        .unwrap_or(v);
    let v = v.split_once('/').map(|(a, _)| a).unwrap_or(v);
    let (a, b) = v.trim().split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (a, b) = (num(a)?, num(b)?);
    (a <= b).then_some((a, b))
}

/// The session and its lock, or the 404 to answer.
fn lock(st: &State, name: &str, id: &str) -> Result<std::sync::Arc<tokio::sync::Mutex<Upload>>, R> {
    st.upload(name, id).ok_or_else(|| upload_unknown(id))
}

pub async fn patch(st: &State, req: &mut Req, name: &str, id: &str) -> R {
    let u = match lock(st, name, id) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut up = u.lock().await;
    if up.closed {
        return upload_unknown(id);
    }
    let range = match content_range(req) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some((a, _)) = range {
        if a != up.data.len() as u64 && !st.fault("chunk-out-of-order-accepted") {
            return session(st, error(416, "BLOB_UPLOAD_INVALID", format!("chunk starts at {a} but the upload has {} bytes: chunks must be sent in order", up.data.len())), name, &up);
        }
    }
    if let Err(r) = receive(
        st,
        req,
        &mut up,
        range.map(|(a, b)| (b - a).saturating_add(1)),
    )
    .await
    {
        return r;
    }
    if range.is_some() {
        up.had_ranged_patch = true;
    } else {
        up.had_streamed_patch = true;
    }
    let r = session(st, R::new(202), name, &up);
    if st.fault("chunk-patch-no-range") {
        return r.remove_header("range");
    }
    r
}

pub async fn finish(st: &State, req: &mut Req, name: &str, id: &str) -> R {
    let u = match lock(st, name, id) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut up = u.lock().await;
    if up.closed {
        return upload_unknown(id);
    }
    let Some(digest) = req.q("digest").map(str::to_string) else {
        return error(
            400,
            "DIGEST_INVALID",
            "the closing PUT needs ?digest=<digest of the whole blob>",
        );
    };
    let d = match parse_digest(&digest) {
        Ok(d) => d,
        Err(r) => {
            if st.fault("invalid-digest-404") {
                return error(404, "BLOB_UNKNOWN", format!("no blob {digest:?}"));
            }
            return r;
        }
    };
    let range = match content_range(req) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some((a, _)) = range {
        if a != up.data.len() as u64 && !st.fault("final-chunk-out-of-order-accepted") {
            return session(st,
                error(
                    416,
                    "BLOB_UPLOAD_INVALID",
                    format!(
                        "final chunk starts at {a} but the upload has {} bytes",
                        up.data.len()
                    ),
                ),
                name,
                &up,
            );
        }
    }
    if req.content_length().unwrap_or(0) > super::faults::LARGE as u64
        && st.fault("large-put-refused")
    {
        return error(
            413,
            "SIZE_INVALID",
            "blobs over 16 MiB must be uploaded in chunks here",
        );
    }
    if !(range.is_some() && st.fault("final-chunk-in-put-ignored")) {
        if let Err(r) = receive(
            st,
            req,
            &mut up,
            range.map(|(a, b)| (b - a).saturating_add(1)),
        )
        .await
        {
            return r;
        }
    }
    if range.is_some() {
        up.had_ranged_patch = true;
    }
    let got = up.digest(d.alg);
    if got != d && !st.fault("digest-mismatch-accepted") {
        // The session ends here, as in Docker's registry: the client starts over.
        up.closed = true;
        st.remove_upload(id);
        return error(
            400,
            "DIGEST_INVALID",
            format!("the uploaded content hashes to {got}, not {d}"),
        );
    }
    up.closed = true;
    st.remove_upload(id);
    let monolithic = !up.had_ranged_patch && !up.had_streamed_patch;
    let mut data = std::mem::take(&mut up.data);
    if (up.had_streamed_patch && st.fault("streamed-patch-corrupt"))
        || (up.had_ranged_patch && st.fault("chunked-put-corrupt"))
    {
        corrupt(&mut data);
    }
    let stored_as = if d.alg == Alg::Sha512 && st.fault("sha512-not-pullable") {
        Dg::of(Alg::Sha256, &data)
    } else {
        d.clone()
    };
    st.publish_blob(name, &stored_as, Bytes::from(data)).await;
    let mut r = created(st, name, &d);
    if monolithic && st.fault("blob-put-200") {
        r.status = 200;
    }
    r
}

pub async fn status(st: &State, req: &Req, name: &str, id: &str) -> R {
    let u = match lock(st, name, id) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let up = u.lock().await;
    if up.closed {
        return upload_unknown(id);
    }
    if st.fault("upload-stale-location-404") && req.q("_offset").is_some_and(|o| o != up.data.len().to_string()) {
        return error(404, "BLOB_UPLOAD_INVALID", "blob upload invalid");
    }
    session(st,
        R::new(if st.fault("upload-status-200") {
            200
        } else {
            204
        }),
        name,
        &up,
    )
}

pub async fn cancel(st: &State, name: &str, id: &str) -> R {
    let u = match lock(st, name, id) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut up = u.lock().await;
    if up.closed {
        return upload_unknown(id);
    }
    if !st.fault("upload-cancel-ignored") {
        up.closed = true;
        st.remove_upload(id);
    }
    R::new(204)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-9"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/100"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes=10-19"), Some((10, 19)));
        assert_eq!(parse_content_range("9-0"), None);
        assert_eq!(parse_content_range("-9"), None);
        assert_eq!(parse_content_range("a-b"), None);
        assert_eq!(parse_content_range(""), None);
    }
}
