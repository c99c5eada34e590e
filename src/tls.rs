//! TLS: server configurations from PEM files (rustls with the ring provider), and the
//! self-signed certificate localserve makes for itself.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::protocols::sasl::{ChannelBinding, ChannelBindingType};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate file {path}: {message}")]
    Certificate { path: String, message: String },
    #[error("key file {path}: {message}")]
    Key { path: String, message: String },
    #[error("certificate and key do not go together: {0}")]
    Config(String),
    #[error("generating a certificate: {0}")]
    Generate(String),
    #[error("writing {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

/// A listener's TLS: the acceptor, and what SCRAM-*-PLUS channel binding needs of the
/// certificate.
#[derive(Clone)]
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    /// `tls-server-end-point` data (RFC 5929 §4.1): the hash of our certificate, when its
    /// signature algorithm defines which hash that is.
    pub end_point: Option<Vec<u8>>,
}

impl ServerTls {
    /// The channel bindings of an established connection: `tls-exporter` (RFC 9266, TLS 1.3
    /// only) and `tls-server-end-point`.
    pub fn channel_bindings(&self, conn: &rustls::ServerConnection) -> Vec<ChannelBinding> {
        let mut out = Vec::new();
        if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
            let mut data = vec![0u8; 32];
            if conn
                .export_keying_material(&mut data, b"EXPORTER-Channel-Binding", None)
                .is_ok()
            {
                out.push(ChannelBinding {
                    kind: ChannelBindingType::TlsExporter,
                    data,
                });
            }
        }
        if let Some(data) = &self.end_point {
            out.push(ChannelBinding {
                kind: ChannelBindingType::TlsServerEndPoint,
                data: data.clone(),
            });
        }
        out
    }
}

/// One DER element: (tag, content, rest).
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, b) = b.split_first()?;
    let (len, b) = if first < 0x80 {
        (first as usize, b)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | x as usize);
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// The `tls-server-end-point` hash of a DER certificate: with the hash of its signature
/// algorithm, SHA-256 for MD5 and SHA-1 (RFC 5929 §4.1); None when that is undefined (EdDSA,
/// RSASSA-PSS whose hash is in parameters).
pub fn end_point_hash(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, certificate, _) = der(cert)?;
    let (_, _tbs, rest) = der(certificate)?;
    let (_, algorithm, _) = der(rest)?;
    let (tag, oid, _) = der(algorithm)?;
    if tag != 0x06 {
        return None;
    }
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let hash = match oid {
        [r @ .., 0x04 | 0x05] if r == RSA => &ring::digest::SHA256,
        [r @ .., 0x0b] if r == RSA => &ring::digest::SHA256,
        [r @ .., 0x0c] if r == RSA => &ring::digest::SHA384,
        [r @ .., 0x0d] if r == RSA => &ring::digest::SHA512,
        [e @ .., 0x01] if e == ECDSA => &ring::digest::SHA256,
        [e @ .., 0x03, 0x02] if e == ECDSA => &ring::digest::SHA256,
        [e @ .., 0x03, 0x03] if e == ECDSA => &ring::digest::SHA384,
        [e @ .., 0x03, 0x04] if e == ECDSA => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(hash, cert).as_ref().to_vec())
}

/// The TLS of a listener with the certificate chain and key in these PEM files.
pub fn server_tls(cert_file: &Path, key_file: &Path) -> Result<ServerTls, TlsError> {
    let cert_err = |message: String| TlsError::Certificate {
        path: cert_file.display().to_string(),
        message,
    };
    let leaf: CertificateDer<'static> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| cert_err(e.to_string()))?
        .next()
        .ok_or_else(|| cert_err("no certificate in the file".into()))?
        .map_err(|e| cert_err(e.to_string()))?;
    let end_point = end_point_hash(&leaf);
    Ok(ServerTls {
        acceptor: acceptor(cert_file, key_file)?,
        end_point,
    })
}

/// An acceptor for the certificate chain and key in these PEM files.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_err = |message: String| TlsError::Certificate {
        path: cert_file.display().to_string(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_err("no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsError::Key {
        path: key_file.display().to_string(),
        message: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Writes a self-signed certificate for `names` and its key, unless the files exist.
pub fn ensure_self_signed(
    cert_file: &Path,
    key_file: &Path,
    names: &[&str],
) -> Result<(), TlsError> {
    if cert_file.exists() && key_file.exists() {
        return Ok(());
    }
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let cert =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(key_file, cert.signing_key.serialize_pem().as_bytes())?;
    write_private(cert_file, cert.cert.pem().as_bytes())?;
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(data)?;
        f.sync_all()
    };
    write().map_err(|error| TlsError::Write {
        path: path.display().to_string(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trip_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        ensure_self_signed(&cert, &key, &["localhost"]).unwrap();
        assert!(acceptor(&cert, &key).is_ok());
        let err = acceptor(&key, &key).err().unwrap();
        assert!(err.to_string().contains("no certificate"), "{err}");
        let err = acceptor(&cert, &cert).err().unwrap();
        assert!(err.to_string().starts_with("key file"), "{err}");
        let err = acceptor(&dir.path().join("missing"), &key).err().unwrap();
        assert!(err.to_string().contains("missing"), "{err}");
        // rcgen signs with ECDSA P-256 and SHA-256: the end-point hash is SHA-256 of the DER.
        let tls = server_tls(&cert, &key).unwrap();
        assert_eq!(tls.end_point.as_ref().map(Vec::len), Some(32));
        assert_eq!(end_point_hash(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(end_point_hash(b""), None);
    }
}
