//! Images on disk, for real clients: an unpackable seeded image (a tar layer whose files and
//! config diff_ids are real) and the OCI image layout (image-spec image-layout.md) that clients
//! read from and write to.

use crate::content::{image_manifest, Blob, Generator, Manifest, ManifestOpts, MT_CONFIG};
use crate::digest::Digest;
use bytes::Bytes;
use serde_json::{json, Value};
use std::path::Path;

/// An uncompressed layer: tar(1) can read it, so can umoci and container engines.
pub const MT_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image whose layer unpacks to `files`.
#[derive(Clone, Debug)]
pub struct RootfsImage {
    pub config: Blob,
    pub layer: Blob,
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
}

impl RootfsImage {
    /// Two small files of seeded bytes under `oci-conformance/`, for `arch`.
    pub fn new(gen: &Generator, label: &str, arch: &str) -> RootfsImage {
        let files: Vec<(String, Vec<u8>)> = (0..2)
            .map(|i| {
                let b = gen.blob(&format!("{label}/file{i}"), 700 + 300 * i);
                (format!("oci-conformance/{}-{i}.bin", gen.token(label, 8)), b.bytes().to_vec())
            })
            .collect();
        let tar = tar_archive(&files);
        let layer = Blob::literal(tar, MT_TAR);
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.digest().to_string()]},
            "config": {"Labels": {"org.example.seed": gen.token(label, 16)}}
        });
        let config = Blob::literal(Bytes::from(serde_json::to_vec(&config).unwrap()), MT_CONFIG);
        let manifest = image_manifest(&config.descriptor(), &[layer.descriptor()], &ManifestOpts::default());
        RootfsImage { config, layer, manifest, files }
    }
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.config, &self.layer]
    }
}

/// A ustar archive of regular files (directories implied), mode 0644, mtime 0.
pub fn tar_archive(files: &[(String, Vec<u8>)]) -> Bytes {
    let mut out = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for (name, data) in files {
        if let Some((dir, _)) = name.rsplit_once('/') {
            if dirs.insert(dir.to_string()) {
                out.extend_from_slice(&tar_header(&format!("{dir}/"), 0, b'5', 0o755));
            }
        }
        out.extend_from_slice(&tar_header(name, data.len() as u64, b'0', 0o644));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    Bytes::from(out)
}

fn tar_header(name: &str, size: u64, kind: u8, mode: u32) -> [u8; 512] {
    assert!(name.len() < 100, "tar names here are short");
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mut octal = |at: usize, width: usize, v: u64| {
        let s = format!("{v:0w$o}\0", w = width - 1);
        h[at..at + width].copy_from_slice(s.as_bytes());
    };
    octal(100, 8, mode as u64);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, size);
    octal(136, 12, 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Writes an OCI image layout: `blobs` and the manifests' bytes under blobs/, and index.json
/// naming each manifest with its ref name.
pub fn write(dir: &Path, blobs: &[&Blob], manifests: &[(&Manifest, &str)]) -> std::io::Result<()> {
    let put = |d: &Digest, bytes: &[u8]| {
        let p = dir.join("blobs").join(d.algorithm.as_str());
        std::fs::create_dir_all(&p)?;
        std::fs::write(p.join(&d.hex), bytes)
    };
    for b in blobs {
        put(b.digest(), &b.bytes())?;
    }
    let mut entries = vec![];
    for (m, name) in manifests {
        put(&m.digest, &m.bytes)?;
        let mut d = m.descriptor().to_json();
        d["annotations"] = json!({ REF_NAME: name });
        entries.push(d);
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({"schemaVersion": 2, "mediaType": crate::content::MT_INDEX, "manifests": entries});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap())
}

/// One entry of a layout's index.json.
#[derive(Debug, Clone)]
pub struct Entry {
    pub digest: String,
    pub media_type: String,
    pub ref_name: Option<String>,
}

/// The entries of `dir`/index.json.
pub fn entries(dir: &Path) -> Result<Vec<Entry>, String> {
    let p = dir.join("index.json");
    let text = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: Value = serde_json::from_slice(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))?;
    let list = v["manifests"].as_array().ok_or_else(|| format!("{}: no manifests array", p.display()))?;
    Ok(list
        .iter()
        .map(|d| Entry {
            digest: d["digest"].as_str().unwrap_or_default().to_string(),
            media_type: d["mediaType"].as_str().unwrap_or_default().to_string(),
            ref_name: d["annotations"][REF_NAME].as_str().map(str::to_string),
        })
        .collect())
}

/// The bytes of blob `digest` in the layout, verified against the digest.
pub fn blob(dir: &Path, digest: &str) -> Result<Vec<u8>, String> {
    let d = Digest::parse(digest).ok_or_else(|| format!("{digest}: not a digest"))?;
    let p = dir.join("blobs").join(d.algorithm.as_str()).join(&d.hex);
    let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    if Digest::of(d.algorithm, &bytes) != d {
        return Err(format!("{}: its bytes do not hash to {digest}", p.display()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_is_readable_by_tar() {
        let img = RootfsImage::new(&Generator::new(7), "t", "amd64");
        let dir = std::env::temp_dir().join(format!("oci-conformance-tar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tar = dir.join("l.tar");
        std::fs::write(&tar, img.layer.bytes()).unwrap();
        let out = std::process::Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for (name, data) in &img.files {
            assert_eq!(&std::fs::read(dir.join(name)).unwrap(), data);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn layout_round_trip() {
        let img = RootfsImage::new(&Generator::new(7), "t", "amd64");
        let dir = std::env::temp_dir().join(format!("oci-conformance-layout-{}", std::process::id()));
        write(&dir, &img.blobs(), &[(&img.manifest, "v1")]).unwrap();
        let e = entries(&dir).unwrap();
        assert_eq!(e[0].digest, img.manifest.digest.to_string());
        assert_eq!(e[0].ref_name.as_deref(), Some("v1"));
        assert_eq!(blob(&dir, &e[0].digest).unwrap(), img.manifest.bytes.to_vec());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
