//! An account's password secrets, in the `meta` table.
//!
//! Key `secrets`: one version byte, then the rkyv record of that version. Version 1 is
//! [`RecordV1`]: the password preparation, the SCRAM-SHA-256 keys, and optionally the SCRAM-SHA-1
//! keys and the CRAM-MD5 state (32 bytes, inner then outer MD5 state, words little-endian).
//!
//! Key `password`: the first layout, [`LegacyRecord`] (rkyv, no version byte), holding only the
//! SCRAM-SHA-256 keys of a password used as typed. It is read when `secrets` is absent, and
//! removed when a password is set, so that the derived values of an old password do not linger.

use heed::{BytesDecode, BytesEncode, RoTxn, RwTxn};

use super::meta::{self, MetaDb};
use crate::auth::{CramMd5Secret, PasswordPrep, PasswordSecrets, ScramSecret};
use crate::store::StoreError;
use crate::store::codec::Rkyv;

const KEY_SECRETS: &str = "secrets";
const KEY_LEGACY: &str = "password";
/// The layout version this build reads and writes under [`KEY_SECRETS`].
pub const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct ScramRecord {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// The first layout; field order and types must not change.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct LegacyRecord {
    scram_sha256: ScramRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct RecordV1 {
    /// 0: the password as typed; 1: prepared (SASLprep mapping and NFKC).
    prep: u8,
    scram_sha256: ScramRecord,
    scram_sha1: Option<ScramRecord>,
    cram_md5: Option<[u8; 32]>,
}

impl From<&ScramSecret> for ScramRecord {
    fn from(s: &ScramSecret) -> ScramRecord {
        ScramRecord {
            salt: s.salt.clone(),
            iterations: s.iterations,
            stored_key: s.stored_key.clone(),
            server_key: s.server_key.clone(),
        }
    }
}

impl From<ScramRecord> for ScramSecret {
    fn from(r: ScramRecord) -> ScramSecret {
        ScramSecret {
            salt: r.salt,
            iterations: r.iterations,
            stored_key: r.stored_key,
            server_key: r.server_key,
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("password secrets: {e}"))
}

/// The secrets of the account, from the current key or else the first layout.
pub fn get(db: &MetaDb, txn: &RoTxn) -> Result<Option<PasswordSecrets>, StoreError> {
    if let Some(bytes) = meta::get_bytes(db, txn, KEY_SECRETS)? {
        return decode(bytes).map(Some);
    }
    match meta::get_bytes(db, txn, KEY_LEGACY)? {
        None => Ok(None),
        Some(bytes) => {
            let legacy = Rkyv::<LegacyRecord>::bytes_decode(bytes).map_err(corrupt)?;
            Ok(Some(PasswordSecrets {
                prep: PasswordPrep::AsTyped,
                scram_sha256: legacy.scram_sha256.into(),
                scram_sha1: None,
                cram_md5: None,
            }))
        }
    }
}

/// Replaces the secrets of the account, dropping those of the first layout.
pub fn put(db: &MetaDb, txn: &mut RwTxn, secrets: &PasswordSecrets) -> Result<(), StoreError> {
    meta::put_bytes(db, txn, KEY_SECRETS, &encode(secrets)?)?;
    meta::delete(db, txn, KEY_LEGACY)?;
    Ok(())
}

fn encode(secrets: &PasswordSecrets) -> Result<Vec<u8>, StoreError> {
    let record = RecordV1 {
        prep: match secrets.prep {
            PasswordPrep::AsTyped => 0,
            PasswordPrep::Saslprep => 1,
        },
        scram_sha256: (&secrets.scram_sha256).into(),
        scram_sha1: secrets.scram_sha1.as_ref().map(Into::into),
        cram_md5: secrets.cram_md5.as_ref().map(CramMd5Secret::to_bytes),
    };
    let body = Rkyv::<RecordV1>::bytes_encode(&record).map_err(corrupt)?;
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(VERSION);
    out.extend_from_slice(&body);
    Ok(out)
}

fn decode(bytes: &[u8]) -> Result<PasswordSecrets, StoreError> {
    let (&version, body) = bytes.split_first().ok_or_else(|| corrupt("empty value"))?;
    if version > VERSION {
        return Err(StoreError::NewerSchema {
            table: "secrets",
            stored: version.into(),
            known: VERSION.into(),
        });
    }
    if version != VERSION {
        return Err(corrupt(format!("unknown version {version}")));
    }
    let r = Rkyv::<RecordV1>::bytes_decode(body).map_err(corrupt)?;
    Ok(PasswordSecrets {
        prep: match r.prep {
            0 => PasswordPrep::AsTyped,
            1 => PasswordPrep::Saslprep,
            other => return Err(corrupt(format!("unknown password preparation {other}"))),
        },
        scram_sha256: r.scram_sha256.into(),
        scram_sha1: r.scram_sha1.map(Into::into),
        cram_md5: r.cram_md5.as_ref().map(CramMd5Secret::from_bytes),
    })
}

#[cfg(test)]
pub(crate) mod test_data {
    /// `PasswordSecrets { scram_sha256 }` as the first layout's code stored it under `password`,
    /// for password "pencil", salt "0123456789abcdef", 4096 iterations.
    pub const LEGACY_PENCIL: &str = "303132333435363738396162636465669d0a5b67bed6b9db6ab9f3f08a41d7191b7a836409e339ecf1b64bc36ef70d138e7d9a9963f5ab587e8e08f2d184ced784bafc5d36495eed6a2a4e781ede7f6db0ffffff1000000000100000b4ffffff20000000ccffffff20000000";

    pub fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{SCRAM_ITERATIONS, ScramHash};

    use crate::store::tables::secrets::test_data::{LEGACY_PENCIL, unhex};

    #[test]
    fn first_layout_bytes_still_decode() {
        let legacy = Rkyv::<LegacyRecord>::bytes_decode(&unhex(LEGACY_PENCIL)).unwrap();
        let secret = ScramSecret::from(legacy.scram_sha256);
        assert_eq!(secret.salt, b"0123456789abcdef");
        assert_eq!(secret.iterations, 4096);
        assert!(secret.verify(ScramHash::Sha256, "pencil"));
        // And the record type still writes the same bytes.
        let record = LegacyRecord {
            scram_sha256: (&secret).into(),
        };
        let again = Rkyv::<LegacyRecord>::bytes_encode(&record).unwrap();
        assert_eq!(again.as_ref(), unhex(LEGACY_PENCIL).as_slice());
    }

    #[test]
    fn current_layout_round_trips() {
        let s = PasswordSecrets::derive_with_salts("pencil", vec![1; 16], vec![2; 16]);
        let bytes = encode(&s).unwrap();
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode(&bytes).unwrap(), s);
        let partial = PasswordSecrets {
            prep: PasswordPrep::AsTyped,
            scram_sha256: ScramSecret::derive(
                ScramHash::Sha256,
                "x",
                vec![3; 16],
                SCRAM_ITERATIONS,
            ),
            scram_sha1: None,
            cram_md5: None,
        };
        assert_eq!(decode(&encode(&partial).unwrap()).unwrap(), partial);
    }

    #[test]
    fn damaged_or_newer_values_are_errors() {
        let s = PasswordSecrets::derive_with_salts("pencil", vec![1; 16], vec![2; 16]);
        let bytes = encode(&s).unwrap();
        assert!(decode(&[]).is_err());
        for cut in 0..bytes.len() {
            let _ = decode(&bytes[..cut]);
        }
        let mut newer = bytes.clone();
        newer[0] = VERSION + 1;
        assert!(matches!(
            decode(&newer),
            Err(StoreError::NewerSchema {
                table: "secrets",
                ..
            })
        ));
        newer[0] = 0;
        assert!(matches!(decode(&newer), Err(StoreError::Corrupt(_))));
    }
}
