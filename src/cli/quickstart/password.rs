//! A new random password for an account made by quickstart: 16 characters from an alphabet
//! without look-alikes (no 0/O, 1/l/I), about 92 bits, from the system's generator (ring).

use ring::rand::{SecureRandom, SystemRandom};

/// Letters and digits that cannot be mistaken for one another when read or typed.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const LENGTH: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("the system's random generator failed")]
pub struct RandomError;

/// A new password of [`LENGTH`] characters from [`ALPHABET`].
pub fn generate() -> Result<String, RandomError> {
    let rng = SystemRandom::new();
    // Bytes at or above the largest multiple of the alphabet's size are skipped, so every
    // character is equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(LENGTH);
    let mut buf = [0u8; 32];
    while out.len() < LENGTH {
        rng.fill(&mut buf).map_err(|_| RandomError)?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < LENGTH {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_unambiguous_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), LENGTH);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        for c in b"0O1lI" {
            assert!(!ALPHABET.contains(c));
        }
    }
}
