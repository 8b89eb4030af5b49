//! The registry's in-memory content: blobs (content-addressed, shared), repositories (blob
//! membership, manifests, tags) and upload sessions. One lock for the store; each upload session
//! has its own async lock so a long PATCH does not block the rest of the registry.

use super::names::{Alg, Dg, Hasher};
use super::Options;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Upload sessions older than this are dropped when a new one starts.
const UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// An upload session's entry: its repository, when it started, and the upload itself.
type Session = (String, Instant, Arc<tokio::sync::Mutex<Upload>>);

pub struct State {
    faults: HashSet<String>,
    pub opts: Options,
    store: Mutex<Store>,
    /// Upload sessions by id, with the repository each belongs to and when it started.
    uploads: Mutex<HashMap<String, Session>>,
    /// Bearer tokens handed out by /token (token auth mode), with the scopes they grant.
    pub tokens: Mutex<HashMap<String, Vec<String>>>,
    /// Requests that reached the redirect target carrying an Authorization header.
    pub redirect_auth_seen: AtomicU64,
    /// Requests that reached the redirect target.
    pub redirect_requests: AtomicU64,
    /// Where blob GETs are redirected to (set once the second listener is bound).
    pub redirect_base: Mutex<Option<String>>,
    /// Set once the listener is bound: the scheme://host:port of this registry (token realm).
    pub self_base: Mutex<String>,
}

#[derive(Default)]
pub struct Store {
    /// Blob content by digest text; a repository sees a blob only if it is in `Repo::blobs`.
    pub blobs: HashMap<String, Bytes>,
    pub repos: BTreeMap<String, Repo>,
}

#[derive(Default)]
pub struct Repo {
    pub blobs: HashSet<String>,
    pub manifests: HashMap<String, ManifestRec>,
    /// BTreeMap: byte order is the "ASCIIbetical" order the tags list needs.
    pub tags: BTreeMap<String, String>,
    /// Deleted referrers, kept only for the `referrers-keep-deleted` fault.
    pub ghosts: Vec<ManifestRec>,
    /// Deleted tags still listed, only for the `tags-list-keeps-deleted` fault.
    pub ghost_tags: std::collections::BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct ManifestRec {
    pub digest: Dg,
    pub media_type: String,
    pub bytes: Bytes,
    pub is_index: bool,
    pub is_image: bool,
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub annotations: Option<serde_json::Value>,
    /// Whether the subject existed when this manifest was pushed (for a fault).
    pub subject_known_at_push: bool,
}

pub struct Upload {
    pub id: String,
    pub data: Vec<u8>,
    /// Running hash of `data` in the session's algorithm (digest-algorithm=, default sha256).
    pub hasher: Hasher,
    /// Ways data arrived, for faults that corrupt one upload style.
    pub had_ranged_patch: bool,
    pub had_streamed_patch: bool,
    /// Completed or cancelled: a request that raced the removal must not use it.
    pub closed: bool,
}

impl Upload {
    /// A session that is not registered (single-POST uploads).
    pub fn detached(alg: Alg) -> Upload {
        Upload {
            id: String::new(),
            data: vec![],
            hasher: Hasher::new(alg),
            had_ranged_patch: false,
            had_streamed_patch: false,
            closed: false,
        }
    }
    /// `Range: 0-<end>`: the last byte's offset. An empty upload says `0-0` (as Docker's
    /// registry does): the header grammar has no way to say "nothing yet".
    pub fn range(&self) -> String {
        format!("0-{}", self.data.len().saturating_sub(1))
    }
    /// The digest of everything received, in `alg`.
    pub fn digest(&self, alg: Alg) -> Dg {
        if self.hasher.alg() == alg {
            self.hasher.clone().finish()
        } else {
            Dg::of(alg, &self.data)
        }
    }
}

impl State {
    pub fn new(opts: Options) -> State {
        State {
            faults: opts.faults.iter().cloned().collect(),
            opts,
            store: Mutex::default(),
            uploads: Mutex::default(),
            tokens: Mutex::default(),
            redirect_auth_seen: AtomicU64::new(0),
            redirect_requests: AtomicU64::new(0),
            redirect_base: Mutex::default(),
            self_base: Mutex::default(),
        }
    }

    /// Is this fault switched on?
    pub fn fault(&self, name: &str) -> bool {
        self.faults.contains(name)
    }

    /// The store lock; a poisoned lock (a panic elsewhere) still yields the data.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn new_upload(&self, repo: &str, alg: Alg) -> String {
        use rand::RngCore;
        let mut b = [0u8; 16];
        if self.fault("upload-session-reused") {
            // Every session of the repository gets the same id (the previous one is replaced):
            // two POSTs can never get distinct Locations, whatever else runs concurrently.
            use sha2::Digest as _;
            b.copy_from_slice(&sha2::Sha256::digest(repo.as_bytes())[..16]);
        } else {
            rand::thread_rng().fill_bytes(&mut b);
        }
        // UUID v4 layout: the spec wants the location to contain a UUID.
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        let id = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        let up = Upload {
            id: id.clone(),
            ..Upload::detached(alg)
        };
        let mut ups = self.uploads();
        // "the server SHOULD eventually timeout unfinished uploads"
        ups.retain(|_, (_, started, _)| started.elapsed() < UPLOAD_TTL);
        ups.insert(
            id.clone(),
            (
                repo.to_string(),
                Instant::now(),
                Arc::new(tokio::sync::Mutex::new(up)),
            ),
        );
        drop(ups);
        self.store().repos.entry(repo.to_string()).or_default();
        id
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session `id` if it belongs to `repo`.
    pub fn upload(&self, repo: &str, id: &str) -> Option<Arc<tokio::sync::Mutex<Upload>>> {
        self.uploads()
            .get(id)
            .filter(|(r, _, _)| r == repo)
            .map(|(_, _, u)| u.clone())
    }

    pub fn remove_upload(&self, id: &str) {
        self.uploads().remove(id);
    }

    /// Stores a blob and makes it visible in `repo`.
    pub fn put_blob(&self, repo: &str, d: &Dg, data: Bytes) {
        let mut s = self.store();
        s.blobs.insert(d.to_string(), data);
        s.repos
            .entry(repo.to_string())
            .or_default()
            .blobs
            .insert(d.to_string());
    }

    /// Forgets blob content no repository refers to any more.
    pub fn collect(s: &mut Store, d: &str) {
        if !s.repos.values().any(|r| r.blobs.contains(d)) {
            s.blobs.remove(d);
        }
    }
}
