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
    /// Bookkeeping of the race faults only (see `race_window`).
    races: Mutex<Races>,
    /// Filtered referrers queries answered so far, for the `referrers-filter-cache-no-header`
    /// fault (a cache that serves a repeated query without its header).
    answered_filters: Mutex<HashSet<String>>,
}

/// What the race faults need to open their windows: writes in flight by key, and the
/// separately kept referrers lists of `referrers-lost-update`.
#[derive(Default)]
struct Races {
    busy: HashMap<String, usize>,
    referrers: HashMap<String, Vec<String>>,
}

/// How long a race fault leaves its inconsistent state visible: long enough for concurrent
/// requests on loopback to meet it, short enough to cost nothing when nothing races.
pub const RACE_WINDOW: Duration = Duration::from_millis(3);

/// The gap a race fault opens between two halves of what should be one atomic change.
pub async fn race_window() {
    tokio::time::sleep(RACE_WINDOW).await;
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
            races: Mutex::default(),
            answered_filters: Mutex::default(),
        }
    }

    fn races(&self) -> MutexGuard<'_, Races> {
        self.races.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a write on `key` in flight for the race window; returns whether another write on
    /// the same key was already in flight.
    pub async fn write_in_flight(&self, key: &str) -> bool {
        let before = {
            let mut r = self.races();
            let n = r.busy.entry(key.to_string()).or_default();
            *n += 1;
            *n - 1
        };
        race_window().await;
        let mut r = self.races();
        if let Some(n) = r.busy.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                r.busy.remove(key);
            }
        }
        before > 0
    }

    /// Whether a write on `key` is in flight (see `write_in_flight`).
    pub fn busy(&self, key: &str) -> bool {
        self.races().busy.contains_key(key)
    }

    /// `referrers-lost-update`: adds a referrer to the subject's list by read, wait, write.
    pub async fn add_referrer_racy(&self, repo: &str, subject: &str, digest: &str) {
        let key = format!("{repo}@{subject}");
        let mut list = self.races().referrers.get(&key).cloned().unwrap_or_default();
        race_window().await;
        list.push(digest.to_string());
        self.races().referrers.insert(key, list);
    }

    /// `referrers-lost-update`: the referrers the racy list kept.
    pub fn racy_referrers(&self, repo: &str, subject: &str) -> Vec<String> {
        self.races().referrers.get(&format!("{repo}@{subject}")).cloned().unwrap_or_default()
    }

    /// Is this fault switched on?
    pub fn fault(&self, name: &str) -> bool {
        self.faults.contains(name)
    }

    /// Whether this filtered referrers query (a key naming repository, subject and type) was
    /// answered before; remembers it.
    pub fn filter_answered_before(&self, key: String) -> bool {
        !self.answered_filters.lock().unwrap().insert(key)
    }

    /// The store lock; a poisoned lock (a panic elsewhere) still yields the data.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn new_upload(&self, repo: &str, alg: Alg) -> String {
        use rand::RngCore;
        let mut b = [0u8; 16];
        if self.fault("upload-id-clock") {
            // Ids from the millisecond clock: sessions started in the same millisecond share
            // one (the later replaces the earlier), a race only concurrent uploads meet.
            use sha2::Digest as _;
            let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            b.copy_from_slice(&sha2::Sha256::digest(format!("{repo}@{ms}").as_bytes())[..16]);
        } else if self.fault("upload-session-reused") {
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

    /// Stores a blob at the end of an upload. Two race faults split this into two visible
    /// steps: `blob-published-before-bytes` links the blob (empty) before its bytes are written,
    /// as a store that writes in place instead of write-then-rename does;
    /// `blob-repush-unlinks` takes an existing blob out of the repository while it is written again.
    pub async fn publish_blob(&self, repo: &str, d: &Dg, data: Bytes) {
        let key = d.to_string();
        let linked = self.store().repos.get(repo).is_some_and(|r| r.blobs.contains(&key));
        if self.fault("blob-published-before-bytes") {
            self.put_blob(repo, d, Bytes::new());
            race_window().await;
        } else if linked && self.fault("blob-repush-unlinks") {
            if let Some(r) = self.store().repos.get_mut(repo) {
                r.blobs.remove(&key);
            }
            race_window().await;
        }
        self.put_blob(repo, d, data);
    }

    /// Forgets blob content no repository refers to any more.
    pub fn collect(s: &mut Store, d: &str) {
        if !s.repos.values().any(|r| r.blobs.contains(d)) {
            s.blobs.remove(d);
        }
    }
}
