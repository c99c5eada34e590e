//! TLS: server configurations from PEM files (rustls with the ring provider), and the
//! self-signed certificate localserve makes for itself.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

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
    }
}
