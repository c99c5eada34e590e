//! The CRAM-MD5 secret (RFC 2195): HMAC-MD5 keyed with the password, kept "prepared" as Dovecot
//! and mox keep it: the MD5 chaining values after compressing the first block of the inner hash
//! (key XOR ipad) and of the outer hash (key XOR opad). From these the HMAC of any challenge can
//! be finished without the password.
//!
//! This state is password-equivalent for CRAM-MD5 itself (whoever has it can answer any
//! challenge) and cheap to attack offline, which is why CRAM-MD5 ranks below SCRAM.

use md5::block_api::compress;

const BLOCK: usize = 64;
const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

#[derive(Clone, PartialEq, Eq)]
pub struct CramMd5Secret {
    /// MD5 state after the block key XOR ipad.
    pub inner: [u32; 4],
    /// MD5 state after the block key XOR opad.
    pub outer: [u32; 4],
}

impl std::fmt::Debug for CramMd5Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CramMd5Secret { .. }")
    }
}

impl CramMd5Secret {
    /// Prepares the HMAC-MD5 state for `key` (the prepared password).
    pub fn derive(key: &[u8]) -> CramMd5Secret {
        // RFC 2104 §2: keys longer than a block are hashed first.
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..16].copy_from_slice(&md5_finish(IV, 0, key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut padded = block;
            for b in padded.iter_mut() {
                *b ^= byte;
            }
            let mut state = IV;
            compress(&mut state, &[padded]);
            state
        };
        CramMd5Secret {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// HMAC-MD5(key, message), finished from the prepared state.
    pub fn hmac(&self, message: &[u8]) -> [u8; 16] {
        let inner = md5_finish(self.inner, BLOCK as u64, message);
        md5_finish(self.outer, BLOCK as u64, &inner)
    }

    /// The 32 bytes stored: the inner then the outer state, each word little-endian (Dovecot's
    /// CRAM-MD5 layout, hex-encoded there).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, word) in out
            .chunks_exact_mut(4)
            .zip(self.inner.iter().chain(&self.outer))
        {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> CramMd5Secret {
        let mut words = [0u32; 8];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        CramMd5Secret {
            inner: [words[0], words[1], words[2], words[3]],
            outer: [words[4], words[5], words[6], words[7]],
        }
    }
}

/// Finishes an MD5 hash whose state is `state` after `before` bytes (a multiple of the block
/// size) with the remaining `data`: MD5's padding (0x80, zeros, the bit length little-endian).
fn md5_finish(mut state: [u32; 4], before: u64, data: &[u8]) -> [u8; 16] {
    let mut blocks = data.chunks_exact(BLOCK);
    for block in blocks.by_ref() {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(block);
        compress(&mut state, &[b]);
    }
    let rest = blocks.remainder();
    let bits = before.wrapping_add(data.len() as u64).wrapping_mul(8);
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < BLOCK - 8 {
        BLOCK
    } else {
        2 * BLOCK
    };
    tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_le_bytes());
    for block in tail[..tail_len].chunks_exact(BLOCK) {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(block);
        compress(&mut state, &[b]);
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn md5_of_messages_of_every_padding_length() {
        // RFC 1321 §A.5.
        assert_eq!(
            hex(&md5_finish(IV, 0, b"")),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hex(&md5_finish(IV, 0, b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(&md5_finish(
                IV,
                0,
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        // 55 and 56 bytes: the length still fits the last block, and no longer does.
        assert_eq!(
            hex(&md5_finish(IV, 0, &[b'a'; 55])),
            "ef1772b6dff9a122358552954ad0df65"
        );
        assert_eq!(
            hex(&md5_finish(IV, 0, &[b'a'; 56])),
            "3b0c8ac703f828b04c6c197006d17218"
        );
    }

    #[test]
    fn rfc2195_example() {
        // RFC 2195 §2 (the challenge host is mci.net).
        let s = CramMd5Secret::derive(b"tanstaaftanstaaf");
        assert_eq!(
            hex(&s.hmac(b"<1896.697170952@postoffice.reston.mci.net>")),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        assert_eq!(CramMd5Secret::from_bytes(&s.to_bytes()), s);
    }

    #[test]
    fn rfc2202_hmac_md5() {
        let s = CramMd5Secret::derive(b"Jefe");
        assert_eq!(
            hex(&s.hmac(b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        let s = CramMd5Secret::derive(&[0xaa; 80]);
        assert_eq!(
            hex(&s.hmac(b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }
}
