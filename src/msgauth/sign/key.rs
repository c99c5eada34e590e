//! DKIM private keys: read from PEM files (PKCS#8 for ed25519 and RSA, PKCS#1 for RSA), usable by
//! mail-auth's signer, and their public half as the DNS TXT record verifiers look up
//! (RFC 6376 §3.6.1, RFC 8463 §4.2).
//!
//! The secret key is never printed: `Debug` shows the algorithm only.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::crypto::{Algorithm, DkimKey, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::Writable;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
pub const RSA_MIN_BITS: usize = 1024;
/// ring, the crypto library under mail-auth, signs only with RSA keys of 2048 to 4096 bits.
pub const RSA_RING_MIN_BITS: usize = 2048;
pub const RSA_RING_MAX_BITS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an ed25519 or RSA private key (expected PEM \"PRIVATE KEY\" (PKCS#8) or \"RSA PRIVATE KEY\" (PKCS#1))"
    )]
    NotSupported,
    #[error("encrypted private keys are not supported (decrypt with: openssl pkey -in FILE)")]
    Encrypted,
    #[error("RSA key of {0} bits: keys under {RSA_MIN_BITS} bits are refused (RFC 8301 §3.2)")]
    RsaTooSmall(usize),
    #[error(
        "RSA key of {0} bits: signing needs {RSA_RING_MIN_BITS} to {RSA_RING_MAX_BITS} bits (the crypto library, ring, has no smaller or larger keys; RFC 8301 §3.2 recommends at least 2048)"
    )]
    RsaUnsupportedSize(usize),
    #[error("invalid {algorithm} private key: {reason}")]
    Invalid {
        algorithm: &'static str,
        reason: String,
    },
}

/// The kind of a key, as named in the `k=` tag of its DNS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    Rsa { bits: usize },
}

impl KeyAlgorithm {
    /// The `k=` value of the DNS record (RFC 6376 §3.6.1, RFC 8463 §4.2).
    pub fn dns_name(&self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa { .. } => "rsa",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Ed25519 => f.write_str("ed25519"),
            KeyAlgorithm::Rsa { bits } => write!(f, "rsa-{bits}"),
        }
    }
}

/// A loaded signing key; cloning shares it.
#[derive(Clone)]
pub struct DkimPrivateKey {
    inner: Arc<DkimKey>,
    algorithm: KeyAlgorithm,
    /// The public key as published in `p=`: the raw 32 bytes for ed25519 (RFC 8463 §4.2), a DER
    /// SubjectPublicKeyInfo for RSA (what `openssl rsa -pubout` gives and every verifier takes).
    public: Arc<[u8]>,
}

impl fmt::Debug for DkimPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimPrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

impl DkimPrivateKey {
    /// Reads the first private key in a PEM file's contents; the algorithm is the key's.
    pub fn from_pem(pem: &[u8]) -> Result<DkimPrivateKey, KeyError> {
        match PrivateKeyDer::from_pem_slice(pem) {
            Ok(PrivateKeyDer::Pkcs8(der)) => Self::from_pkcs8(der),
            Ok(PrivateKeyDer::Pkcs1(der)) => Self::from_rsa(PrivateKeyDer::Pkcs1(der)),
            Ok(_) => Err(KeyError::NotSupported),
            Err(pem::Error::NoItemsFound)
                if memchr::memmem::find(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
                    .is_some()
                    || memchr::memmem::find(pem, b"Proc-Type: 4,ENCRYPTED").is_some() =>
            {
                Err(KeyError::Encrypted)
            }
            Err(_) => Err(KeyError::NotSupported),
        }
    }

    fn from_pkcs8(der: PrivatePkcs8KeyDer<'_>) -> Result<DkimPrivateKey, KeyError> {
        match pkcs8_algorithm(der.secret_pkcs8_der()) {
            Some(OID_ED25519) => {
                // openssl writes PKCS#8 v1 (no public key); ring's `from_pkcs8` takes v2 only.
                let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(der.secret_pkcs8_der())
                    .map_err(|e| KeyError::Invalid {
                        algorithm: "ed25519",
                        reason: e.to_string(),
                    })?;
                let public: Arc<[u8]> = key.public_key().into();
                Ok(DkimPrivateKey {
                    inner: Arc::new(DkimKey::Ed25519(key)),
                    algorithm: KeyAlgorithm::Ed25519,
                    public,
                })
            }
            Some(OID_RSA_ENCRYPTION) => Self::from_rsa(PrivateKeyDer::Pkcs8(der)),
            _ => Err(KeyError::NotSupported),
        }
    }

    fn from_rsa(der: PrivateKeyDer<'_>) -> Result<DkimPrivateKey, KeyError> {
        let pkcs1 = match &der {
            PrivateKeyDer::Pkcs1(d) => Some(d.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(d) => pkcs8_private_key(d.secret_pkcs8_der()),
            _ => None,
        };
        let invalid = |reason: String| KeyError::Invalid {
            algorithm: "RSA",
            reason,
        };
        let bits = pkcs1
            .and_then(rsa_modulus_bits)
            .ok_or_else(|| invalid("malformed DER".into()))?;
        if bits < RSA_MIN_BITS {
            return Err(KeyError::RsaTooSmall(bits));
        }
        if !(RSA_RING_MIN_BITS..=RSA_RING_MAX_BITS).contains(&bits) {
            return Err(KeyError::RsaUnsupportedSize(bits));
        }
        let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| invalid(e.to_string()))?;
        let public: Arc<[u8]> = rsa_spki(&key.public_key()).into();
        Ok(DkimPrivateKey {
            inner: Arc::new(DkimKey::Rsa(key)),
            algorithm: KeyAlgorithm::Rsa { bits },
            public,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public key bytes that go into `p=`.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The text of the TXT record at `<selector>._domainkey.<domain>`, e.g.
    /// `v=DKIM1; k=ed25519; p=…` (RFC 6376 §3.6.1). An RSA record is longer than 255 bytes: in a
    /// zone file it is written as several quoted strings, which DNS concatenates (RFC 6376 §3.6.2.2).
    pub fn dns_txt_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.dns_name(),
            BASE64.encode(&self.public)
        )
    }
}

impl SigningKey for DkimPrivateKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.inner.sign(input)
    }

    fn algorithm(&self) -> Algorithm {
        self.inner.algorithm()
    }
}

/// One DER element: (tag, contents, what follows). Definite lengths up to 4 bytes only.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

const DER_INTEGER: u8 = 0x02;
const DER_BIT_STRING: u8 = 0x03;
const DER_OCTET_STRING: u8 = 0x04;
const DER_OID: u8 = 0x06;
const DER_SEQUENCE: u8 = 0x30;

/// The fields of a PKCS#8 PrivateKeyInfo (RFC 5208 §5): the algorithm OID and the private key.
fn pkcs8_fields(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (DER_SEQUENCE, info, _) = der_element(der)? else {
        return None;
    };
    let (DER_INTEGER, _version, rest) = der_element(info)? else {
        return None;
    };
    let (DER_SEQUENCE, algorithm, rest) = der_element(rest)? else {
        return None;
    };
    let (DER_OID, oid, _) = der_element(algorithm)? else {
        return None;
    };
    let (DER_OCTET_STRING, key, _) = der_element(rest)? else {
        return None;
    };
    Some((oid, key))
}

fn pkcs8_algorithm(der: &[u8]) -> Option<&[u8]> {
    pkcs8_fields(der).map(|(oid, _)| oid)
}

fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    pkcs8_fields(der).map(|(_, key)| key)
}

/// The size of the modulus of a PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2), in bits.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (DER_SEQUENCE, key, _) = der_element(pkcs1)? else {
        return None;
    };
    let (DER_INTEGER, _version, rest) = der_element(key)? else {
        return None;
    };
    let (DER_INTEGER, modulus, _) = der_element(rest)? else {
        return None;
    };
    let start = modulus.iter().position(|&b| b != 0)?;
    let first = modulus.get(start)?;
    Some((modulus.len() - start - 1) * 8 + (8 - first.leading_zeros() as usize))
}

fn der_write(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 3279 §2.3.1):
/// the form DKIM records carry in practice (RFC 6376 appendix C uses `openssl rsa -pubout`).
fn rsa_spki(pkcs1_public: &[u8]) -> Vec<u8> {
    let mut algorithm = Vec::new();
    der_write(&mut algorithm, DER_OID, OID_RSA_ENCRYPTION);
    algorithm.extend_from_slice(&[0x05, 0x00]); // NULL parameters
    let mut bits = vec![0u8]; // no unused bits
    bits.extend_from_slice(pkcs1_public);
    let mut inner = Vec::new();
    der_write(&mut inner, DER_SEQUENCE, &algorithm);
    der_write(&mut inner, DER_BIT_STRING, &bits);
    let mut spki = Vec::new();
    der_write(&mut spki, DER_SEQUENCE, &inner);
    spki
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_reader_refuses_truncated_and_long_lengths() {
        assert_eq!(der_element(&[0x30]), None);
        assert_eq!(der_element(&[0x30, 0x05, 1, 2]), None);
        assert_eq!(der_element(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_element(&[0x30, 0x80]), None);
        assert_eq!(
            der_element(&[0x02, 0x81, 0x01, 7, 9]),
            Some((0x02, &[7u8][..], &[9u8][..]))
        );
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]),
            None
        );
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0x81]),
            Some(8)
        );
        assert_eq!(
            rsa_modulus_bits(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x02, 0x02, 0x01, 0x00]),
            Some(9)
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        for text in [
            &b""[..],
            b"hello",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n",
        ] {
            assert!(DkimPrivateKey::from_pem(text).is_err(), "{text:?}");
        }
        assert_eq!(
            DkimPrivateKey::from_pem(
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
            )
            .unwrap_err(),
            KeyError::Encrypted
        );
    }
}
