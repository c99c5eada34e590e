//! The junk filter's tables in the account environment: `junk_words` (token → its ham and spam
//! counts) and `junk_trained` (message id → how it was trained, and its score at delivery), with
//! the totals of trained messages in `meta`. Written only in the account actor's transactions.

use heed::types::{Bytes, Str};
use heed::{Database, RoTxn, RwTxn};

use super::meta::{self, MetaDb};
use crate::junk::{Class, Totals, WordCounts, WordStore, WordStoreMut};
use crate::store::StoreError;
use crate::store::codec::Key;
use crate::store::ids::MessageId;

pub const WORDS_SCHEMA: u64 = 1;
pub const TRAINED_SCHEMA: u64 = 1;

const KEY_HAM: &str = "junk_ham_messages";
const KEY_SPAM: &str = "junk_spam_messages";

pub type WordsDb = Database<'static, Str, Bytes>;
pub type TrainedDb = Database<'static, Key<MessageId>, Bytes>;

fn decode_counts(token: &str, bytes: &[u8]) -> Result<WordCounts, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("junk word {token:?}: {} bytes", bytes.len())))?;
    let (ham, spam) = array.split_at(4);
    Ok(WordCounts {
        ham: u32::from_be_bytes(ham.try_into().unwrap_or_default()),
        spam: u32::from_be_bytes(spam.try_into().unwrap_or_default()),
    })
}

fn encode_counts(c: WordCounts) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&c.ham.to_be_bytes());
    out[4..].copy_from_slice(&c.spam.to_be_bytes());
    out
}

/// The counts, for classifying in a read transaction.
pub struct WordsRead<'a> {
    pub db: &'a WordsDb,
    pub txn: &'a RoTxn<'a, heed::WithoutTls>,
}

impl WordStore for WordsRead<'_> {
    type Error = StoreError;

    fn get(&self, token: &str) -> Result<Option<WordCounts>, StoreError> {
        match self.db.get(self.txn, token)? {
            None => Ok(None),
            Some(b) => decode_counts(token, b).map(Some),
        }
    }
}

/// The counts, for training in the account's write transaction.
pub struct WordsWrite<'a, 'e> {
    pub db: &'a WordsDb,
    pub txn: &'a mut RwTxn<'e>,
}

impl WordStore for WordsWrite<'_, '_> {
    type Error = StoreError;

    fn get(&self, token: &str) -> Result<Option<WordCounts>, StoreError> {
        match self.db.get(self.txn, token)? {
            None => Ok(None),
            Some(b) => decode_counts(token, b).map(Some),
        }
    }
}

impl WordStoreMut for WordsWrite<'_, '_> {
    fn put(&mut self, token: &str, counts: WordCounts) -> Result<(), StoreError> {
        self.db.put(self.txn, token, &encode_counts(counts))?;
        Ok(())
    }

    fn delete(&mut self, token: &str) -> Result<(), StoreError> {
        self.db.delete(self.txn, token)?;
        Ok(())
    }
}

pub fn totals(meta_db: &MetaDb, txn: &RoTxn) -> Result<Totals, StoreError> {
    let get = |k| meta::get_u64(meta_db, txn, k).map(|v| v.unwrap_or(0) as u32);
    Ok(Totals {
        ham: get(KEY_HAM)?,
        spam: get(KEY_SPAM)?,
    })
}

pub fn put_totals(meta_db: &MetaDb, txn: &mut RwTxn, t: Totals) -> Result<(), StoreError> {
    meta::put_u64(meta_db, txn, KEY_HAM, u64::from(t.ham))?;
    meta::put_u64(meta_db, txn, KEY_SPAM, u64::from(t.spam))
}

/// How a message was trained, and its score when it was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Trained {
    pub class: Option<Class>,
    pub score: Option<f64>,
}

pub fn trained(db: &TrainedDb, txn: &RoTxn, id: MessageId) -> Result<Trained, StoreError> {
    let Some(bytes) = db.get(txn, &id)? else {
        return Ok(Trained::default());
    };
    let class = match bytes.first() {
        Some(0) | None => None,
        Some(1) => Some(Class::Ham),
        Some(2) => Some(Class::Spam),
        Some(other) => {
            return Err(StoreError::Corrupt(format!(
                "junk_trained {}: class {other}",
                id.0
            )));
        }
    };
    let score = bytes
        .get(1..9)
        .and_then(|b| b.try_into().ok())
        .map(f64::from_be_bytes);
    Ok(Trained { class, score })
}

pub fn put_trained(
    db: &TrainedDb,
    txn: &mut RwTxn,
    id: MessageId,
    t: Trained,
) -> Result<(), StoreError> {
    if t == Trained::default() {
        db.delete(txn, &id)?;
        return Ok(());
    }
    let mut value = vec![match t.class {
        None => 0u8,
        Some(Class::Ham) => 1,
        Some(Class::Spam) => 2,
    }];
    if let Some(score) = t.score {
        value.extend_from_slice(&score.to_be_bytes());
    }
    db.put(txn, &id, &value)?;
    Ok(())
}
