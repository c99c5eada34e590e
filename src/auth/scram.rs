//! SCRAM key derivation (RFC 5802 §3) for SHA-1 and SHA-256 (RFC 7677), shared by the stored
//! secrets, the SCRAM server (which only ever sees StoredKey and ServerKey) and the SCRAM client
//! (which derives them from the password).

use std::num::NonZeroU32;

use ring::{digest, hmac, pbkdf2};

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    /// Length of the hash output, and so of every key and of the proof.
    pub fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            ScramHash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            ScramHash::Sha256 => hmac::HMAC_SHA256,
        }
    }

    /// HMAC(key, the concatenation of `parts`).
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&hmac::Key::new(self.hmac_algorithm(), key));
        for part in parts {
            ctx.update(part);
        }
        ctx.sign().as_ref().to_vec()
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            ScramHash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            ScramHash::Sha256 => &digest::SHA256,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }

    /// SaltedPassword := Hi(Normalize(password), salt, i), with `prepared` already normalised.
    pub fn salted_password(self, prepared: &str, salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
        let algorithm = match self {
            ScramHash::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            ScramHash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
        };
        let mut out = vec![0u8; self.output_len()];
        pbkdf2::derive(algorithm, iterations, salt, prepared.as_bytes(), &mut out);
        out
    }

    /// ClientKey := HMAC(SaltedPassword, "Client Key").
    pub fn client_key(self, salted: &[u8]) -> Vec<u8> {
        self.hmac(salted, &[b"Client Key"])
    }

    /// ServerKey := HMAC(SaltedPassword, "Server Key").
    pub fn server_key(self, salted: &[u8]) -> Vec<u8> {
        self.hmac(salted, &[b"Server Key"])
    }
}

/// What a SCRAM server keeps about a password: enough to check a client's proof and to prove
/// itself, not enough to log in as the client (RFC 5802 §9).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// H(ClientKey).
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSecret")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramSecret {
    /// Derives the keys from an already prepared password (see [`super::prep`]).
    pub fn derive(
        hash: ScramHash,
        prepared: &str,
        salt: Vec<u8>,
        iterations: NonZeroU32,
    ) -> ScramSecret {
        let salted = hash.salted_password(prepared, &salt, iterations);
        ScramSecret {
            stored_key: hash.hash(&hash.client_key(&salted)),
            server_key: hash.server_key(&salted),
            salt,
            iterations: iterations.get(),
        }
    }

    /// Whether `prepared` gives this StoredKey. As slow as the key derivation.
    pub fn verify(&self, hash: ScramHash, prepared: &str) -> bool {
        let Some(iterations) = NonZeroU32::new(self.iterations) else {
            return false;
        };
        let salted = hash.salted_password(prepared, &self.salt, iterations);
        super::ct_eq(&hash.hash(&hash.client_key(&salted)), &self.stored_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn rfc7677_keys() {
        // RFC 7677 §3: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096. The server
        // signature of the example exchange follows from ServerKey.
        let h = ScramHash::Sha256;
        let s = ScramSecret::derive(
            h,
            "pencil",
            b64("W22ZaJ0SNY7soEsUEjb6gQ=="),
            NonZeroU32::new(4096).unwrap(),
        );
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        assert_eq!(
            h.hmac(&s.server_key, &[auth_message.as_bytes()]),
            b64("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        );
        assert!(s.verify(h, "pencil"));
        assert!(!s.verify(h, "pencil "));
    }

    #[test]
    fn rfc5802_keys() {
        let h = ScramHash::Sha1;
        let s = ScramSecret::derive(
            h,
            "pencil",
            b64("QSXCR+Q6sek8bf92"),
            NonZeroU32::new(4096).unwrap(),
        );
        let auth_message = "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
        assert_eq!(
            h.hmac(&s.server_key, &[auth_message.as_bytes()]),
            b64("rmF9pqV8S7suAoZWja4dJRkFsKQ=")
        );
    }
}
