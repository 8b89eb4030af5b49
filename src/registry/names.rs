//! The spec's grammars (repository names, tags, digests) and content hashing, written for the
//! registry alone so that a grammar bug in the harness cannot hide behind the same bug here.

use sha2::{Digest as _, Sha256, Sha512};
use std::fmt;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
pub fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        // a run of [a-z0-9]+
        let s = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == s {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // a separator: '.', '_', '__' or '-+'
        let s = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        match &c[s..i] {
            "." | "_" | "__" => {}
            sep if sep.bytes().all(|x| x == b'-') => {}
            _ => return false,
        }
    }
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Sha256,
    Sha512,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "sha256" => Some(Alg::Sha256),
            "sha512" => Some(Alg::Sha512),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Sha256 => "sha256",
            Alg::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Alg::Sha256 => 64,
            Alg::Sha512 => 128,
        }
    }
}

/// A digest of a supported algorithm, in its canonical text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dg {
    pub alg: Alg,
    pub hex: String,
}

impl Ord for Alg {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(o.as_str())
    }
}
impl PartialOrd for Alg {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Dg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.alg.as_str(), self.hex)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestError {
    /// Does not match image-spec's digest grammar.
    Malformed,
    /// Well-formed, but an algorithm this registry does not implement.
    Unsupported,
}

impl Dg {
    /// Parses per image-spec: `algorithm ":" encoded`, then the registered algorithms' rules
    /// (lowercase hex of the right length).
    pub fn parse(s: &str) -> Result<Dg, DigestError> {
        let (alg, enc) = s.split_once(':').ok_or(DigestError::Malformed)?;
        let alg_ok = !alg.is_empty()
            && alg.split(['+', '.', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        let enc_ok = !enc.is_empty()
            && enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
        if !alg_ok || !enc_ok {
            return Err(DigestError::Malformed);
        }
        let a = Alg::parse(alg).ok_or(DigestError::Unsupported)?;
        if enc.len() != a.hex_len() || !enc.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(DigestError::Malformed);
        }
        Ok(Dg {
            alg: a,
            hex: enc.to_string(),
        })
    }
    pub fn of(alg: Alg, data: &[u8]) -> Dg {
        let mut h = Hasher::new(alg);
        h.update(data);
        h.finish()
    }
    /// A different, well-formed digest (for faults that must send a wrong one).
    pub fn other(&self) -> Dg {
        Dg::of(self.alg, format!("not {self}").as_bytes())
    }
}

/// Incremental hasher; `Clone` so an upload can roll back a failed chunk.
#[derive(Clone)]
pub enum Hasher {
    S256(Sha256),
    S512(Sha512),
}

impl Hasher {
    pub fn new(a: Alg) -> Hasher {
        match a {
            Alg::Sha256 => Hasher::S256(Sha256::new()),
            Alg::Sha512 => Hasher::S512(Sha512::new()),
        }
    }
    pub fn alg(&self) -> Alg {
        match self {
            Hasher::S256(_) => Alg::Sha256,
            Hasher::S512(_) => Alg::Sha512,
        }
    }
    pub fn update(&mut self, d: &[u8]) {
        match self {
            Hasher::S256(h) => h.update(d),
            Hasher::S512(h) => h.update(d),
        }
    }
    pub fn finish(self) -> Dg {
        match self {
            Hasher::S256(h) => Dg {
                alg: Alg::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::S512(h) => Dg {
                alg: Alg::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "a/b", "a-b/c__d", "a.b_c", "a--b", "0", "a/b/c/d"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a..b", "a___b", "-a", "a-", "a//b", "a_.b", "a/B", "a b",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(
            valid_tag("latest")
                && valid_tag("_x")
                && valid_tag("1.0-rc_1")
                && valid_tag(&"a".repeat(128))
        );
        assert!(
            !valid_tag("")
                && !valid_tag(".a")
                && !valid_tag("-a")
                && !valid_tag(&"a".repeat(129))
                && !valid_tag("a:b")
                && !valid_tag("a/b")
        );
    }

    #[test]
    fn digests() {
        let d = Dg::of(Alg::Sha256, b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Dg::parse(&d.to_string()), Ok(d.clone()));
        assert_eq!(Dg::parse("sha256:abc"), Err(DigestError::Malformed));
        assert_eq!(Dg::parse("sha256:not-hex"), Err(DigestError::Malformed));
        assert_eq!(
            Dg::parse("md5:d41d8cd98f00b204e9800998ecf8427e"),
            Err(DigestError::Unsupported)
        );
        assert_eq!(Dg::parse("nocolon"), Err(DigestError::Malformed));
        assert_eq!(
            Dg::parse(&d.to_string().to_uppercase()),
            Err(DigestError::Malformed)
        );
        let s = Dg::of(Alg::Sha512, b"x");
        assert_eq!(Dg::parse(&s.to_string()), Ok(s.clone()));
        assert_ne!(d.other(), d);
    }
}
