//! Password secrets. A password is never stored: only values derived from it, from which the SASL
//! mechanisms can verify a client.
//!
//! - SCRAM-SHA-256 and SCRAM-SHA-1 keys (RFC 5802 §3, RFC 7677): salt, iteration count,
//!   StoredKey and ServerKey, for the SCRAM mechanisms.
//! - The prepared HMAC-MD5 state for CRAM-MD5 (RFC 2195), see [`cram_md5`].
//!
//! A plain password (LOGIN, AUTH PLAIN, IMAP LOGIN) is verified by deriving the SCRAM-SHA-256
//! StoredKey from it. A separate password hash (argon2id, say) would not make the stored record
//! harder to attack: the CRAM-MD5 state next to it is crackable at MD5 speed and the SCRAM keys
//! at 4096 PBKDF2 rounds, so an attacker with the record takes the cheapest path regardless. It
//! would cost a dependency and, at memory-hard settings, memory per login attempt that an
//! attacker can make us spend. Accounts written before these secrets existed only have the
//! SCRAM-SHA-256 keys, and are verified the same way.
//!
//! Every derivation starts from the password prepared by [`prep::prepare`] (SASLprep's mapping
//! and NFKC), except for secrets of the first layout, which were derived from the password as
//! typed ([`PasswordPrep::AsTyped`]).

pub mod cram_md5;
pub mod prep;
pub mod scram;

use std::num::NonZeroU32;

use ring::rand::SecureRandom;

pub use cram_md5::CramMd5Secret;
pub use prep::PrepError;
pub use scram::{ScramHash, ScramSecret};

/// Iterations for new SCRAM secrets. RFC 7677 §4 asks for at least 4096.
pub const SCRAM_ITERATIONS: NonZeroU32 = NonZeroU32::new(4096).unwrap();

/// Length of new random salts.
pub const SALT_LEN: usize = 16;

/// How the password was turned into the bytes the secrets were derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPrep {
    /// As typed: secrets of the first stored layout.
    AsTyped,
    /// Through [`prep::prepare`].
    Saslprep,
}

/// Everything kept about an account's password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordSecrets {
    pub prep: PasswordPrep,
    pub scram_sha256: ScramSecret,
    /// None for accounts whose password was set before SCRAM-SHA-1 was offered.
    pub scram_sha1: Option<ScramSecret>,
    /// None for accounts whose password was set before CRAM-MD5 was offered.
    pub cram_md5: Option<CramMd5Secret>,
}

impl std::fmt::Debug for PasswordSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSecrets")
            .field("prep", &self.prep)
            .field("scram_sha1", &self.scram_sha1.is_some())
            .field("cram_md5", &self.cram_md5.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no random numbers available from the system")]
    Random,
    #[error(transparent)]
    Prep(#[from] PrepError),
}

impl PasswordSecrets {
    /// Derives fresh secrets (with new random salts) from `password`. Takes as long as two key
    /// derivations: call it off the actor threads.
    pub fn derive(password: &str) -> Result<PasswordSecrets, AuthError> {
        let prepared = prep::prepare(password)?;
        let rng = ring::rand::SystemRandom::new();
        let salt = || -> Result<Vec<u8>, AuthError> {
            let mut salt = vec![0u8; SALT_LEN];
            rng.fill(&mut salt).map_err(|_| AuthError::Random)?;
            Ok(salt)
        };
        let (salt256, salt1) = (salt()?, salt()?);
        Ok(PasswordSecrets::derive_with_salts(
            &prepared, salt256, salt1,
        ))
    }

    /// Derives the secrets of an already prepared password with the given salts.
    pub fn derive_with_salts(prepared: &str, salt256: Vec<u8>, salt1: Vec<u8>) -> PasswordSecrets {
        PasswordSecrets {
            prep: PasswordPrep::Saslprep,
            scram_sha256: ScramSecret::derive(
                ScramHash::Sha256,
                prepared,
                salt256,
                SCRAM_ITERATIONS,
            ),
            scram_sha1: Some(ScramSecret::derive(
                ScramHash::Sha1,
                prepared,
                salt1,
                SCRAM_ITERATIONS,
            )),
            cram_md5: Some(CramMd5Secret::derive(prepared.as_bytes())),
        }
    }

    /// Whether `password` is the one these secrets were derived from. Takes as long as the key
    /// derivation: call it off the actor threads.
    pub fn verify(&self, password: &str) -> bool {
        match self.prep {
            PasswordPrep::AsTyped => self.scram_sha256.verify(ScramHash::Sha256, password),
            PasswordPrep::Saslprep => match prep::prepare(password) {
                Ok(prepared) => self.scram_sha256.verify(ScramHash::Sha256, &prepared),
                Err(_) => false,
            },
        }
    }

    /// The SCRAM secret for `hash`, when this account has one.
    pub fn scram(&self, hash: ScramHash) -> Option<&ScramSecret> {
        match hash {
            ScramHash::Sha256 => Some(&self.scram_sha256),
            ScramHash::Sha1 => self.scram_sha1.as_ref(),
        }
    }
}

/// Equality of secret byte strings in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        assert!(PasswordSecrets::derive("a\u{0}b").is_err());
        assert!(s.scram_sha1.is_some() && s.cram_md5.is_some());
        assert_ne!(s.scram_sha256.salt, s.scram_sha1.as_ref().unwrap().salt);
    }

    #[test]
    fn prepared_and_as_typed_spellings() {
        // Decomposed and composed é are one password once prepared.
        let s = PasswordSecrets::derive("caf\u{00E9}").unwrap();
        assert!(s.verify("cafe\u{0301}"));
        assert!(s.verify("caf\u{00E9}"));
        // Secrets of the first layout were derived from the password as typed.
        let legacy = PasswordSecrets {
            prep: PasswordPrep::AsTyped,
            scram_sha256: ScramSecret::derive(
                ScramHash::Sha256,
                "cafe\u{0301}",
                vec![1; 16],
                SCRAM_ITERATIONS,
            ),
            scram_sha1: None,
            cram_md5: None,
        };
        assert!(legacy.verify("cafe\u{0301}"));
        assert!(!legacy.verify("caf\u{00E9}"));
    }

    #[test]
    fn debug_shows_no_keys() {
        let s = PasswordSecrets::derive_with_salts("pw", vec![7; 16], vec![8; 16]);
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("stored_key") && !shown.contains("salt"),
            "{shown}"
        );
    }
}
