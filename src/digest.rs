//! Content digests (`algorithm:encoded`) and streaming hashers.

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A parsed digest of a registered algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub algorithm: Algorithm,
    pub hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`; anything else is None.
    pub fn parse(s: &str) -> Option<Digest> {
        let (alg, hex) = s.trim().split_once(':')?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return None,
        };
        if hex.len() != algorithm.hex_len()
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        Some(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        h.finish()
    }
    pub fn sha256(data: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, data)
    }
    /// The referrers tag schema name for this digest: `<alg>-<hex>` truncated per the spec.
    pub fn referrers_tag(&self) -> String {
        let alg: String = self.algorithm.as_str().chars().take(32).collect();
        let enc: String = self.hex.chars().take(64).collect();
        format!("{alg}-{enc}")
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

/// Incremental hasher for either algorithm; also counts bytes.
pub struct Hasher {
    inner: HasherInner,
    pub len: u64,
}

enum HasherInner {
    S256(Sha256),
    S512(Sha512),
}

impl Hasher {
    pub fn new(a: Algorithm) -> Hasher {
        let inner = match a {
            Algorithm::Sha256 => HasherInner::S256(Sha256::new()),
            Algorithm::Sha512 => HasherInner::S512(Sha512::new()),
        };
        Hasher { inner, len: 0 }
    }
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        match &mut self.inner {
            HasherInner::S256(h) => h.update(data),
            HasherInner::S512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.inner {
            HasherInner::S256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            HasherInner::S512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest { algorithm, hex }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parse_and_display() {
        let d = Digest::sha256(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()), Some(d.clone()));
        assert!(Digest::parse("sha256:abc").is_none());
        assert!(Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(Digest::parse(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )
        .is_none());
        assert_eq!(d.referrers_tag(), format!("sha256-{}", d.hex));
    }
}
