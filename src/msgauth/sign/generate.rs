//! New DKIM keys for a domain: ed25519 (RFC 8463) made by ring, RSA 2048 (RFC 8301) made by the
//! `rsa` crate (ring cannot make RSA keys), both as PKCS#8 PEM, the form the configuration loads.

use ring::rand::SecureRandom;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the system's random generator failed")]
    Random,
    #[error("making the key: {0}")]
    Key(String),
}

/// The operating system's generator (ring's), for the `rsa` crate.
struct SystemRng(ring::rand::SystemRandom);

impl rsa::rand_core::TryRng for SystemRng {
    type Error = GenerateError;

    fn try_next_u32(&mut self) -> Result<u32, GenerateError> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, GenerateError> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), GenerateError> {
        self.0.fill(dst).map_err(|_| GenerateError::Random)
    }
}

impl rsa::rand_core::TryCryptoRng for SystemRng {}

/// The DER of a PKCS#8 v1 ed25519 key (RFC 8410 §7) up to its 32-byte seed.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new ed25519 private key, PKCS#8 v1 PEM: the seed only, the form `openssl genpkey` writes.
/// ring's own documents are v2 (with the public key), which OpenSSL 3.0 and Python's
/// cryptography refuse to read, so operators' tools could not inspect or reuse the key.
pub fn ed25519_pem() -> Result<String, GenerateError> {
    let rng = ring::rand::SystemRandom::new();
    let mut seed = [0u8; 32];
    rng.fill(&mut seed).map_err(|_| GenerateError::Random)?;
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|e| GenerateError::Key(e.to_string()))?;
    let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
    der.extend_from_slice(&seed);
    Ok(pem("PRIVATE KEY", &der))
}

/// A new RSA private key of `bits` bits, PKCS#8 PEM. Takes a moment (prime search).
pub fn rsa_pem(bits: usize) -> Result<String, GenerateError> {
    let mut rng = SystemRng(ring::rand::SystemRandom::new());
    let key =
        rsa::PrivateKey::new(&mut rng, bits).map_err(|e| GenerateError::Key(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| GenerateError::Key(e.to_string()))?;
    Ok(pem.to_string())
}

/// PEM armour (RFC 7468): base64 in lines of 64.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgauth::sign::key::{DkimPrivateKey, KeyAlgorithm};

    #[test]
    fn generated_keys_load_as_dkim_keys() {
        let ed = DkimPrivateKey::from_pem(ed25519_pem().unwrap().as_bytes()).unwrap();
        assert_eq!(ed.algorithm(), KeyAlgorithm::Ed25519);
        assert!(ed.dns_txt_record().starts_with("v=DKIM1; k=ed25519; p="));
        let rsa = DkimPrivateKey::from_pem(rsa_pem(2048).unwrap().as_bytes()).unwrap();
        assert_eq!(rsa.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
        assert!(rsa.dns_txt_record().starts_with("v=DKIM1; k=rsa; p="));
    }
}
