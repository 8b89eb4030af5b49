//! Request helpers shared by every bucket: pushing blobs and manifests for setup, error body
//! checks. Checks call these instead of repeating request code.

use crate::prelude::*;

/// `/v2/<repo>/blobs/<digest>`
pub fn blob_path(repo: &str, d: &Digest) -> String {
    format!("/v2/{repo}/blobs/{d}")
}

/// `/v2/<repo>/manifests/<reference>`
pub fn manifest_path(repo: &str, reference: &str) -> String {
    format!("/v2/{repo}/manifests/{reference}")
}

/// Adds `digest=` to an upload location, keeping its own query parameters.
pub fn with_query(location: &str, key: &str, value: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}{key}={enc}")
}

/// Pushes a blob with POST + monolithic PUT (setup helper; not itself a check).
pub async fn push_blob(sc: &Sc, repo: &str, blob: &Blob) -> Res {
    let r = sc.send(Request::post(format!("/v2/{repo}/blobs/uploads/"))).await?;
    if r.status != 202 {
        return Err(setup_fail(&r, "202 Accepted to start an upload"));
    }
    let loc = r.header("location").ok_or_else(|| setup_fail(&r, "a Location header"))?.to_string();
    let put = Request::put(with_query(&loc, "digest", &blob.digest().to_string()))
        .header("Content-Type", "application/octet-stream")
        .body(Body::Blob { blob: blob.clone(), start: 0, end: blob.len });
    let r = sc.send(put).await?;
    if r.status != 201 {
        return Err(setup_fail(&r, "201 Created for the blob PUT"));
    }
    sc.cleanup().blob(repo, &blob.digest().to_string());
    Ok(())
}

/// Pushes a manifest by `reference` (tag or digest); records it for cleanup.
pub async fn push_manifest(sc: &Sc, repo: &str, m: &Manifest, reference: &str, rank: u8) -> Res<Response> {
    let r = sc
        .send(Request::put(manifest_path(repo, reference)).header("Content-Type", m.media_type.clone()).bytes(m.bytes.clone()))
        .await?;
    if r.status != 201 {
        return Err(setup_fail(&r, "201 Created for the manifest PUT"));
    }
    sc.cleanup().manifest(repo, &m.digest.to_string(), rank);
    if Digest::parse(reference).is_none() {
        sc.cleanup().tag(repo, reference);
    }
    Ok(r)
}

/// A setup failure naming what was expected and what came back.
pub fn setup_fail(r: &Response, wanted: &str) -> Fail {
    Fail::Violation { level: Some(Level::Must), message: format!("{} answered {}; expected {wanted}", r.request, r.summary()) }
}

/// The spec's error codes (§error-codes).
pub const ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// Checks a 4xx body: any format is allowed, but a JSON body MUST be `{"errors":[{code,…}]}`
/// with codes from the table. Returns the codes found (empty for a non-JSON body).
pub fn error_codes(ck: &Ck, r: &Response) -> Res<Vec<String>> {
    const RULE: &str = "If the response body is in JSON format, it MUST have the following format: {\"errors\": [{\"code\", \"message\", \"detail\"}]}";
    if r.body.is_empty() {
        return Ok(vec![]);
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else { return Ok(vec![]) };
    let errs = v.get("errors").and_then(|e| e.as_array()).ok_or_else(|| {
        Fail::Violation { level: Some(Level::Must), message: format!("§error-codes \"{RULE}\": {} answered {} with a JSON body that has no \"errors\" array", r.request, r.summary()) }
    })?;
    let mut codes = vec![];
    for e in errs {
        let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
        if !ERROR_CODES.contains(&code) {
            return Err(Fail::Violation {
                level: Some(Level::Must),
                message: format!("§error-codes \"The code field MUST be one of the following\": {} answered {} with code {:?}", r.request, r.status, code),
            });
        }
        codes.push(code.to_string());
    }
    let _ = ck;
    Ok(codes)
}
