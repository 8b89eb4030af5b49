//! TLS test mode: a throw-away CA and a server certificate for localhost / the listen address,
//! generated at start. The CA's PEM is what a client passes to --ca-cert.

use std::net::IpAddr;
use std::sync::Arc;
use tokio_rustls::rustls;

/// A certificate chain (leaf first) and its private key, both PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub chain_pem: String,
    pub key_pem: String,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    pub client_ca_pem: Option<String>,
}

/// Keys never appear in Debug output (Options is Debug).
impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsIdentity {{ chain: {} bytes, key: [REDACTED] }}", self.chain_pem.len())
    }
}

pub struct Material {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub ca_pem: String,
}

pub fn generate(ip: IpAddr) -> Result<Material, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let e =
        |what: &str, err: &dyn std::fmt::Display| format!("cannot generate the TLS {what}: {err}");
    let ca_key = KeyPair::generate().map_err(|x| e("CA key", &x))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|x| e("CA", &x))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        "oci-conformance embedded registry test CA",
    );
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(|x| e("CA", &x))?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    let mut leaf = CertificateParams::new(names).map_err(|x| e("certificate", &x))?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().map_err(|x| e("key", &x))?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .map_err(|x| e("certificate", &x))?;

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let acceptor = acceptor(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key, None)?;
    Ok(Material {
        acceptor,
        ca_pem: ca_cert.pem(),
    })
}

/// Serves the given chain and key; no CA is known (`ca_pem` is the chain's last certificate).
pub fn from_identity(id: &TlsIdentity) -> Result<Material, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut id.chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|x| format!("TLS identity: bad certificate PEM: {x}"))?;
    if certs.is_empty() {
        return Err("TLS identity: no certificate in the chain".into());
    }
    let key = rustls_pemfile::private_key(&mut id.key_pem.as_bytes())
        .map_err(|x| format!("TLS identity: bad key PEM: {x}"))?
        .ok_or("TLS identity: no private key")?;
    let last = certs.last().map(|c| pem("CERTIFICATE", c.as_ref())).unwrap_or_default();
    Ok(Material {
        acceptor: acceptor(certs, key, id.client_ca_pem.as_deref())?,
        ca_pem: last,
    })
}

fn acceptor(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    client_ca: Option<&str>,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    let e = |err: &dyn std::fmt::Display| format!("cannot configure TLS: {err}");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut pem.as_bytes()) {
                roots.add(c.map_err(|x| e(&x))?).map_err(|x| e(&x))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|x| e(&x))?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut cfg = builder.with_single_cert(chain, key).map_err(|x| e(&x))?;
    // HTTP/1.1 only: the registry speaks nothing else.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).unwrap_or(""));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}
