//! The `contents` table (message id → [`Content`]): what a message is made of besides its file.
//! Kept apart from the small, often-changed [`super::messages::Message`] record so that flag
//! changes and FLAGS fetches never decode a part tree.

use heed::{Database, RoTxn, RwTxn};

use crate::store::StoreError;
use crate::store::codec::{Key, Rkyv};
use crate::store::ids::MessageId;
use crate::store::parts::Part;

pub const SCHEMA: u64 = 1;

#[derive(
    Debug, Clone, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Content {
    /// Header fields added at receipt (Received, Authentication-Results), before the file's bytes.
    pub prefix: Vec<u8>,
    /// Size of the message file.
    pub file_size: u64,
    /// The MIME structure, offsets into the file.
    pub parts: Vec<Part>,
}

impl Content {
    /// Size of the message as clients see it.
    pub fn size(&self) -> u64 {
        self.prefix.len() as u64 + self.file_size
    }
}

pub type ContentDb = Database<'static, Key<MessageId>, Rkyv<Content>>;

pub fn get(db: &ContentDb, txn: &RoTxn, id: MessageId) -> Result<Option<Content>, StoreError> {
    Ok(db.get(txn, &id)?)
}

pub fn put(
    db: &ContentDb,
    txn: &mut RwTxn,
    id: MessageId,
    content: &Content,
) -> Result<(), StoreError> {
    db.put(txn, &id, content)?;
    Ok(())
}

pub fn delete(db: &ContentDb, txn: &mut RwTxn, id: MessageId) -> Result<(), StoreError> {
    db.delete(txn, &id)?;
    Ok(())
}
