//! Seeded content generator: blobs produced on the fly from the seed (random access, so any
//! range can be regenerated for a retry or a chunk), and manifests serialized exactly once.
//!
//! Same seed, same bytes, same digests: every label is hashed with the root seed, so content
//! does not depend on the order in which scenarios ask for it.

use crate::digest::{Algorithm, Digest, Hasher};
use bytes::Bytes;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

pub const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const MT_OCTET: &str = "application/octet-stream";

/// Largest blob `Blob::bytes` will materialize; bigger ones must be streamed.
pub const MATERIALIZE_LIMIT: u64 = 64 << 20;

/// Derives all content of a run from one seed.
#[derive(Clone, Debug)]
pub struct Generator {
    root: [u8; 32],
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        let mut h = Sha256::new();
        h.update(b"oci-conformance/v1");
        h.update(seed.to_be_bytes());
        Generator {
            root: h.finalize().into(),
        }
    }

    /// A generator for a named part of the run; independent of every other label.
    pub fn scope(&self, label: &str) -> Generator {
        Generator {
            root: self.key(label),
        }
    }

    fn key(&self, label: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.root);
        h.update(label.as_bytes());
        h.finalize().into()
    }

    /// A pseudo-random blob of `len` bytes, hashed with sha256.
    pub fn blob(&self, label: &str, len: u64) -> Blob {
        self.blob_with(label, len, Algorithm::Sha256)
    }

    pub fn blob_with(&self, label: &str, len: u64, algorithm: Algorithm) -> Blob {
        Blob::new(Source::Generated(self.key(label)), len, algorithm, MT_LAYER)
    }

    /// A small config blob (valid JSON) that differs per label.
    pub fn config(&self, label: &str) -> Blob {
        let k = self.key(label);
        let body = json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Labels": {"org.example.seed": hex::encode(&k[..8])}}
        });
        Blob::literal(Bytes::from(serde_json::to_vec(&body).unwrap()), MT_CONFIG)
    }

    /// A short lowercase hex string, for unique tags and names.
    pub fn token(&self, label: &str, len: usize) -> String {
        let mut s = hex::encode(self.key(label));
        s.truncate(len.min(64));
        s
    }
}

#[derive(Clone, Debug)]
enum Source {
    Generated([u8; 32]),
    Literal(Bytes),
}

/// Blob content: either generated from a key (any size, never held whole) or literal bytes.
#[derive(Clone, Debug)]
pub struct Blob {
    source: Source,
    pub len: u64,
    pub algorithm: Algorithm,
    pub media_type: String,
    digest: Arc<OnceLock<Digest>>,
}

impl Blob {
    fn new(source: Source, len: u64, algorithm: Algorithm, media_type: &str) -> Blob {
        Blob {
            source,
            len,
            algorithm,
            media_type: media_type.to_string(),
            digest: Arc::new(OnceLock::new()),
        }
    }

    pub fn literal(data: Bytes, media_type: &str) -> Blob {
        Blob::new(
            Source::Literal(data.clone()),
            data.len() as u64,
            Algorithm::Sha256,
            media_type,
        )
    }

    /// The `{}` empty descriptor content of image-spec's artifacts guidance.
    pub fn empty_config() -> Blob {
        Blob::literal(Bytes::from_static(b"{}"), MT_EMPTY)
    }

    pub fn with_media_type(mut self, mt: &str) -> Blob {
        self.media_type = mt.to_string();
        self
    }

    /// Fills `buf` with the bytes at `offset..offset+buf.len()`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        match &self.source {
            Source::Literal(b) => {
                let s = offset as usize;
                buf.copy_from_slice(&b[s..s + buf.len()]);
            }
            Source::Generated(key) => {
                let mut rng = ChaCha8Rng::from_seed(*key);
                // ChaCha words are 4 bytes: seek to the word, then drop the leading bytes.
                rng.set_word_pos((offset / 4) as u128);
                let skip = (offset % 4) as usize;
                if skip == 0 {
                    rng.fill_bytes(buf);
                } else {
                    let mut head = [0u8; 4];
                    rng.fill_bytes(&mut head);
                    let n = (4 - skip).min(buf.len());
                    buf[..n].copy_from_slice(&head[skip..skip + n]);
                    if buf.len() > n {
                        rng.fill_bytes(&mut buf[n..]);
                    }
                }
            }
        }
    }

    /// The bytes `start..end` (end exclusive) as one buffer; for ranges and small blobs.
    pub fn range(&self, start: u64, end: u64) -> Bytes {
        assert!(start <= end && end <= self.len, "range out of blob");
        assert!(
            end - start <= MATERIALIZE_LIMIT,
            "range too large to materialize"
        );
        if let Source::Literal(b) = &self.source {
            return b.slice(start as usize..end as usize);
        }
        let mut v = vec![0u8; (end - start) as usize];
        self.fill(start, &mut v);
        Bytes::from(v)
    }

    /// The whole blob; only for blobs up to MATERIALIZE_LIMIT.
    pub fn bytes(&self) -> Bytes {
        self.range(0, self.len)
    }

    /// Iterates the range `start..end` in pieces of at most `piece` bytes.
    pub fn pieces(
        &self,
        start: u64,
        end: u64,
        piece: usize,
    ) -> impl Iterator<Item = Bytes> + Send + 'static {
        let me = self.clone();
        let piece = piece.max(1) as u64;
        let mut pos = start;
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let n = piece.min(end - pos);
            let b = me.range(pos, pos + n);
            pos += n;
            Some(b)
        })
    }

    /// The digest, computed once by streaming over the content.
    pub fn digest(&self) -> &Digest {
        self.digest.get_or_init(|| {
            let mut h = Hasher::new(self.algorithm);
            for p in self.pieces(0, self.len, 1 << 20) {
                h.update(&p);
            }
            h.finish()
        })
    }

    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, self.digest().clone(), self.len)
    }
}

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("mediaType".into(), json!(self.media_type));
        m.insert("digest".into(), json!(self.digest.to_string()));
        m.insert("size".into(), json!(self.size));
        if let Some(a) = &self.artifact_type {
            m.insert("artifactType".into(), json!(a));
        }
        if !self.annotations.is_empty() {
            m.insert("annotations".into(), json!(self.annotations));
        }
        Value::Object(m)
    }
}

/// A manifest serialized once; its digest is over exactly `bytes`.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub media_type: String,
    pub bytes: Bytes,
    pub digest: Digest,
    /// artifactType as a referrers response must report it (with the config fallback).
    pub referrer_artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
    pub subject: Option<Digest>,
}

impl Manifest {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            &self.media_type,
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
    /// Raw bytes as a manifest (for unusual byte layouts); digest taken over them.
    pub fn raw(media_type: &str, bytes: Bytes) -> Manifest {
        let digest = Digest::sha256(&bytes);
        Manifest {
            media_type: media_type.into(),
            bytes,
            digest,
            referrer_artifact_type: None,
            annotations: BTreeMap::new(),
            subject: None,
        }
    }
}

/// Optional parts of an image manifest or index.
#[derive(Clone, Debug, Default)]
pub struct ManifestOpts {
    pub artifact_type: Option<String>,
    pub subject: Option<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    /// Extra top-level fields (custom data a registry must keep byte-exact).
    pub extra: Vec<(String, Value)>,
    /// Serialize with indentation (a layout a registry must not normalize).
    pub pretty: bool,
}

impl ManifestOpts {
    pub fn annotate(mut self, k: &str, v: &str) -> Self {
        self.annotations.insert(k.into(), v.into());
        self
    }
    pub fn artifact_type(mut self, t: &str) -> Self {
        self.artifact_type = Some(t.into());
        self
    }
    pub fn subject(mut self, d: Descriptor) -> Self {
        self.subject = Some(d);
        self
    }
}

fn finish(
    media_type: &str,
    mut m: Map<String, Value>,
    opts: &ManifestOpts,
    fallback_type: Option<String>,
) -> Manifest {
    if let Some(s) = &opts.subject {
        m.insert("subject".into(), s.to_json());
    }
    if !opts.annotations.is_empty() {
        m.insert("annotations".into(), json!(opts.annotations));
    }
    for (k, v) in &opts.extra {
        m.insert(k.clone(), v.clone());
    }
    let v = Value::Object(m);
    let bytes = if opts.pretty {
        serde_json::to_vec_pretty(&v)
    } else {
        serde_json::to_vec(&v)
    }
    .unwrap();
    let bytes = Bytes::from(bytes);
    Manifest {
        media_type: media_type.into(),
        digest: Digest::sha256(&bytes),
        bytes,
        referrer_artifact_type: opts.artifact_type.clone().or(fallback_type),
        annotations: opts.annotations.clone(),
        subject: opts.subject.as_ref().map(|s| s.digest.clone()),
    }
}

/// An OCI image manifest.
pub fn image_manifest(config: &Descriptor, layers: &[Descriptor], opts: &ManifestOpts) -> Manifest {
    let mut m = Map::new();
    m.insert("schemaVersion".into(), json!(2));
    m.insert("mediaType".into(), json!(MT_MANIFEST));
    if let Some(a) = &opts.artifact_type {
        m.insert("artifactType".into(), json!(a));
    }
    m.insert("config".into(), config.to_json());
    m.insert(
        "layers".into(),
        Value::Array(layers.iter().map(Descriptor::to_json).collect()),
    );
    finish(MT_MANIFEST, m, opts, Some(config.media_type.clone()))
}

/// An OCI image index.
pub fn image_index(manifests: &[Descriptor], opts: &ManifestOpts) -> Manifest {
    let mut m = Map::new();
    m.insert("schemaVersion".into(), json!(2));
    m.insert("mediaType".into(), json!(MT_INDEX));
    if let Some(a) = &opts.artifact_type {
        m.insert("artifactType".into(), json!(a));
    }
    m.insert(
        "manifests".into(),
        Value::Array(manifests.iter().map(Descriptor::to_json).collect()),
    );
    finish(MT_INDEX, m, opts, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_digests() {
        let a = Generator::new(42).scope("pull");
        let b = Generator::new(42).scope("pull");
        let c = Generator::new(43).scope("pull");
        for len in [0u64, 1, 3, 4097, (1 << 20) + 13, 3 << 20] {
            assert_eq!(a.blob("x", len).digest(), b.blob("x", len).digest());
        }
        assert_ne!(a.blob("x", 100).digest(), c.blob("x", 100).digest());
        assert_ne!(a.blob("x", 100).digest(), a.blob("y", 100).digest());
        let cfg = a.config("c").descriptor();
        let m1 = image_manifest(
            &cfg,
            &[a.blob("l", 10).descriptor()],
            &ManifestOpts::default(),
        );
        let m2 = image_manifest(
            &b.config("c").descriptor(),
            &[b.blob("l", 10).descriptor()],
            &ManifestOpts::default(),
        );
        assert_eq!(m1.digest, m2.digest);
        assert_eq!(m1.digest, Digest::sha256(&m1.bytes));
    }

    #[test]
    fn random_access_matches_sequential() {
        let b = Generator::new(7).blob("r", 10_000);
        let all = b.bytes();
        for (s, e) in [(0, 1), (1, 2), (3, 9), (5, 4099), (9_997, 10_000)] {
            assert_eq!(&all[s as usize..e as usize], &b.range(s, e)[..]);
        }
        let joined: Vec<u8> = b.pieces(0, b.len, 333).flat_map(|p| p.to_vec()).collect();
        assert_eq!(&joined[..], &all[..]);
        assert_eq!(Digest::sha256(&all), *b.digest());
    }

    #[test]
    fn empty_blob_and_sha512() {
        let g = Generator::new(1);
        assert_eq!(
            g.blob("e", 0).digest().to_string(),
            Digest::sha256(b"").to_string()
        );
        let b = g.blob_with("s", 100, Algorithm::Sha512);
        assert_eq!(*b.digest(), Digest::of(Algorithm::Sha512, &b.bytes()));
        assert_eq!(
            Blob::empty_config().digest().to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
