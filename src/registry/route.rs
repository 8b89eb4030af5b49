//! Which endpoint a request path names: parsed once, read by the router and by auth (for the
//! scope a request needs).

use super::http::decode_segment;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Base,
    Token,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    /// `/blobs/uploads/` (start a session or mount)
    Uploads(String),
    /// `/blobs/uploads/<id>`
    Upload(String, String),
    Referrers(String, String),
}

impl Route {
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Token => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::Uploads(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _) => Some(n),
        }
    }
}

/// Maps a path to an endpoint. Endpoints are recognised from the end of the path, since a
/// repository name may itself contain `blobs` or `manifests` components.
pub fn parse(path: &str) -> Option<Route> {
    if path == "/token" {
        return Some(Route::Token);
    }
    if path == "/v2" || path == "/v2/" {
        return Some(Route::Base);
    }
    let rest = path.strip_prefix("/v2/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name = |k: usize| -> Option<String> {
        let nm = segs[..n - k].join("/");
        (!nm.is_empty()).then_some(nm)
    };
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Some(Route::Tags(name(2)?));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Some(if segs[n - 1].is_empty() {
            Route::Uploads(name(3)?)
        } else {
            Route::Upload(name(3)?, decode_segment(segs[n - 1]))
        });
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Some(Route::Uploads(name(2)?));
    }
    if n >= 3 && !segs[n - 1].is_empty() {
        let last = decode_segment(segs[n - 1]);
        return match segs[n - 2] {
            "manifests" => Some(Route::Manifest(name(2)?, last)),
            "blobs" => Some(Route::Blob(name(2)?, last)),
            "referrers" => Some(Route::Referrers(name(2)?, last)),
            _ => None,
        };
    }
    None
}
