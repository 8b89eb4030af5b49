//! How the client trusts a registry's certificate, as a Go client (docker, crane, the official
//! suite) does: public roots plus the certificates of `--ca-cert`, where a certificate of that
//! file that the registry serves as its own is trusted as itself (the self-signed, CA:TRUE
//! certificate that the registry's documentation makes), its host name and validity period
//! still checked. Also the client certificate for registries that require mutual TLS.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use crate::civil::days_from_civil;
use std::sync::Arc;

/// What `--ca-cert`, `--client-cert` and `--client-key` hold (PEM bytes).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    pub ca_pem: Option<Vec<u8>>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
}

impl Trust {
    /// True when the default (public roots, no client certificate) will not do.
    pub fn is_custom(&self) -> bool {
        self.ca_pem.is_some() || self.client_cert_pem.is_some()
    }
}

/// The rustls configuration for `trust`. Errors name the flag whose file is wrong.
pub fn client_config(trust: &Trust) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = vec![];
    if let Some(pem) = &trust.ca_pem {
        let certs = certs(pem, "--ca-cert")?;
        for c in certs {
            // A certificate webpki cannot take as an anchor may still be pinned below.
            let _ = roots.add(c.clone());
            pinned.push(c);
        }
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("--ca-cert: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { inner, pinned }));
    let mut cfg = match (&trust.client_cert_pem, &trust.client_key_pem) {
        (Some(c), Some(k)) => {
            let chain = certs(c, "--client-cert")?;
            let key = key(k)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("--client-cert/--client-key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--client-cert and --client-key go together".into()),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

fn certs(pem: &[u8], flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let v: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{flag}: not a PEM certificate: {e}"))?;
    if v.is_empty() {
        return Err(format!("{flag}: no certificate in the file"));
    }
    Ok(v)
}

fn key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| format!("--client-key: not a PEM private key: {e}"))?
        .ok_or_else(|| "--client-key: no private key in the file".to_string())
}

/// webpki's verdict, except for a certificate the user pinned with --ca-cert.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        if verdict.is_ok() || !self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            return verdict;
        }
        // The very certificate the user trusts: a chain of one, as Go's x509 builds it for a
        // leaf that is in the root pool. What webpki objected to (CA:TRUE on a leaf) does not
        // matter then; the name and the dates still do.
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (not_before, not_after) = validity(end_entity.as_ref())
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let t = now.as_secs() as i64;
        if t < not_before {
            return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
        }
        if t > not_after {
            return Err(Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// notBefore and notAfter of an X.509 certificate (DER), in Unix seconds.
pub fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    for _ in 0..3 {
        rest = tlv(rest)?.2;
    }
    let (_, val, _) = tlv(rest)?;
    let (t1, a, after_a) = tlv(val)?;
    let (t2, b, _) = tlv(after_a)?;
    Some((time(t1, a)?, time(t2, b)?))
}

/// One DER element: (tag, contents, what follows).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

/// UTCTime (0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18, YYYYMMDDHHMMSSZ) as Unix seconds.
fn time(tag: u8, s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?.strip_suffix('Z')?;
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        0x18 if s.len() == 14 => (num(0..4)?, 4),
        _ => return None,
    };
    let f = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    let (mo, d, h, mi, se) = (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?);
    Some(days_from_civil(year, mo, d)? * 86400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11017));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2524607999));
        assert_eq!(time(0x18, b"20261204000000Z"), Some(1796342400));
        assert_eq!(time(0x18, b"2026120400000Z"), None);
    }

    #[test]
    fn validity_of_a_generated_certificate() {
        let mut p = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2001, 2, 3);
        p.not_after = rcgen::date_time_ymd(2061, 4, 5);
        let k = rcgen::KeyPair::generate().unwrap();
        let c = p.self_signed(&k).unwrap();
        let (a, b) = validity(c.der()).unwrap();
        assert_eq!(a, days_from_civil(2001, 2, 3).unwrap() * 86400);
        assert_eq!(b, days_from_civil(2061, 4, 5).unwrap() * 86400);
        assert_eq!(validity(&c.der()[..40]), None);
    }
}
