//! The `meta` table: small named values of an environment (schema versions, counters, the
//! password secrets). Keys are names, values raw bytes; the typed accessors below are the only
//! way in.

use heed::types::{Bytes, Str};
use heed::{Database, RoTxn, RwTxn};

use crate::store::StoreError;

pub type MetaDb = Database<'static, Str, Bytes>;

pub fn get_u64(
    db: &Database<'_, Str, Bytes>,
    txn: &RoTxn,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    match db.get(txn, key)? {
        None => Ok(None),
        Some(bytes) => {
            let array: [u8; 8] = bytes.try_into().map_err(|_| {
                StoreError::Corrupt(format!("meta {key}: {} bytes, expected 8", bytes.len()))
            })?;
            Ok(Some(u64::from_be_bytes(array)))
        }
    }
}

pub fn put_u64(
    db: &Database<'_, Str, Bytes>,
    txn: &mut RwTxn,
    key: &str,
    value: u64,
) -> Result<(), StoreError> {
    db.put(txn, key, &value.to_be_bytes())?;
    Ok(())
}

/// Takes the next value of the counter `key` (starting at `first` when absent) and stores the one
/// after it.
pub fn next_counter(
    db: &Database<'_, Str, Bytes>,
    txn: &mut RwTxn,
    key: &str,
    first: u64,
) -> Result<u64, StoreError> {
    let value = get_u64(db, txn, key)?.unwrap_or(first);
    let next = value
        .checked_add(1)
        .ok_or_else(|| StoreError::Corrupt(format!("counter {key} overflows")))?;
    put_u64(db, txn, key, next)?;
    Ok(value)
}

pub fn get_bytes<'t>(
    db: &Database<'_, Str, Bytes>,
    txn: &'t RoTxn,
    key: &str,
) -> Result<Option<&'t [u8]>, StoreError> {
    Ok(db.get(txn, key)?)
}

pub fn put_bytes(
    db: &Database<'_, Str, Bytes>,
    txn: &mut RwTxn,
    key: &str,
    value: &[u8],
) -> Result<(), StoreError> {
    db.put(txn, key, value)?;
    Ok(())
}

pub fn delete(db: &Database<'_, Str, Bytes>, txn: &mut RwTxn, key: &str) -> Result<(), StoreError> {
    db.delete(txn, key)?;
    Ok(())
}
