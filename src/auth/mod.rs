//! Password secrets. A password is never stored: only values derived from it, from which the
//! SASL mechanisms can verify a client. Here the SCRAM-SHA-256 keys of RFC 5802 §3 / RFC 7677,
//! which also verify a plain password (LOGIN, AUTH PLAIN) by deriving the same stored key.

use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use std::num::NonZeroU32;

/// Iterations for new secrets. RFC 7677 §4 asks for at least 4096.
pub const SCRAM_ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct ScramSecret {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// Everything kept about an account's password.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PasswordSecrets {
    pub scram_sha256: ScramSecret,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no random numbers available from the system")]
    Random,
    #[error("the password is empty")]
    EmptyPassword,
}

impl PasswordSecrets {
    /// Derives fresh secrets (with a new random salt) from `password`.
    pub fn derive(password: &str) -> Result<PasswordSecrets, AuthError> {
        if password.is_empty() {
            return Err(AuthError::EmptyPassword);
        }
        let mut salt = vec![0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| AuthError::Random)?;
        Ok(PasswordSecrets {
            scram_sha256: scram_secret(password, salt, SCRAM_ITERATIONS),
        })
    }

    /// Whether `password` is the one these secrets were derived from. Takes as long as the key
    /// derivation: call it off the actor threads.
    pub fn verify(&self, password: &str) -> bool {
        let s = &self.scram_sha256;
        let Some(iterations) = NonZeroU32::new(s.iterations) else {
            return false;
        };
        let salted = salted_password(password, &s.salt, iterations);
        let stored_key = stored_key(&salted);
        // Equal lengths and constant-time comparison: timing tells nothing about the key.
        stored_key.len() == s.stored_key.len()
            && stored_key
                .iter()
                .zip(&s.stored_key)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn salted_password(password: &str, salt: &[u8], iterations: NonZeroU32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn stored_key(salted: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, salted);
    let client_key = hmac::sign(&key, b"Client Key");
    digest::digest(&digest::SHA256, client_key.as_ref())
        .as_ref()
        .to_vec()
}

fn scram_secret(password: &str, salt: Vec<u8>, iterations: u32) -> ScramSecret {
    let salted = salted_password(
        password,
        &salt,
        NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    ScramSecret {
        stored_key: stored_key(&salted),
        server_key: hmac::sign(&key, b"Server Key").as_ref().to_vec(),
        salt,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let s = PasswordSecrets::derive("moxmoxmox").unwrap();
        assert!(s.verify("moxmoxmox"));
        assert!(!s.verify("moxmoxmo"));
        assert!(!s.verify(""));
        assert!(PasswordSecrets::derive("").is_err());
    }

    #[test]
    fn rfc7677_test_vector() {
        // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096.
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let s = scram_secret("pencil", salt.to_vec(), 4096);
        // ServerSignature from the RFC's exchange is derived from ServerKey; check ServerKey
        // through it: HMAC(ServerKey, AuthMessage) = 6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=.
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let sig = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &s.server_key),
            auth_message.as_bytes(),
        );
        let expected = [
            0xea, 0xba, 0xe2, 0x4d, 0x10, 0x62, 0xdb, 0x75, 0xa9, 0x45, 0x1f, 0xf0, 0xb6, 0xea,
            0x7e, 0x98, 0xc8, 0x54, 0x65, 0x49, 0xff, 0x74, 0x1e, 0x67, 0x2d, 0x32, 0x51, 0xb2,
            0x39, 0x7d, 0xe4, 0x6e,
        ];
        assert_eq!(sig.as_ref(), expected);
    }
}
