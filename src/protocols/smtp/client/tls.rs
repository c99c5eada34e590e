//! TLS for the client: a verifying configuration for submission relays (and MTA-STS/DANE later),
//! an unverified one for opportunistic STARTTLS to MX hosts, and the connection's channel binding.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::protocols::sasl::{ChannelBinding, ChannelBindingType};

/// The system's trusted roots on Debian-like systems.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("reading root certificates from {path}: {message}")]
    Roots { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// How to do TLS with a server. Build one per kind and share it (it is an `Arc` inside).
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    verified: bool,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Verifies the server's certificate and name against `roots`.
    pub fn verified(roots: RootCertStore) -> Result<TlsConfig, TlsConfigError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig::from_config(Arc::new(config)))
    }

    /// A configuration of the caller's making, taken as verifying.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig {
            config,
            verified: true,
        }
    }

    /// Encrypts without checking who the server is: opportunistic TLS for delivery to MX hosts
    /// (RFC 7435), where the alternative is plain text. The handshake signatures are still
    /// checked, so the key exchange is with the holder of the presented certificate.
    pub fn opportunistic() -> Result<TlsConfig, TlsConfigError> {
        let provider = provider();
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(TlsConfig {
            config: Arc::new(config),
            verified: false,
        })
    }

    pub fn is_verified(&self) -> bool {
        self.verified
    }

    pub(super) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

/// The trusted roots in a PEM file such as [`SYSTEM_ROOTS`]. Certificates that do not parse as
/// trust anchors are skipped; a file with none is an error.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsConfigError> {
    let error = |message: String| TlsConfigError::Roots {
        path: path.display().to_string(),
        message,
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| error(e.to_string()))?;
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(error("no certificates".into()));
    }
    Ok(roots)
}

/// The server name for SNI and verification: a DNS name or an IP address.
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.trim_end_matches('.').to_string()).ok()
}

/// `tls-exporter` channel binding (RFC 9266 §2): 32 bytes exported with the label
/// "EXPORTER-Channel-Binding" and no context. TLS 1.3 only: under TLS 1.2 the exporter is not a
/// safe binding without extended master secret (RFC 9266 §3), so there is none.
pub fn channel_binding(conn: &rustls::ClientConnection) -> Option<ChannelBinding> {
    if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return None;
    }
    let mut data = vec![0u8; 32];
    conn.export_keying_material(&mut data, b"EXPORTER-Channel-Binding", None)
        .ok()?;
    Some(ChannelBinding {
        kind: ChannelBindingType::TlsExporter,
        data,
    })
}

/// Accepts any certificate, but checks the handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
