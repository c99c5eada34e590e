//! Schema versions and migrations. Every table records the version of its record layout in the
//! `meta` table; at open, older tables are migrated in one write transaction, and data written by
//! a newer moxide is refused rather than misread.

use heed::RwTxn;

use super::StoreError;
use super::tables::meta;
use heed::Database;

/// A table and the record layout version this build reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct TableVersion {
    pub table: &'static str,
    pub version: u64,
}

/// Upgrades one table from `from` to `from + 1` inside the open transaction.
pub type Migration = fn(&mut RwTxn, u64) -> Result<(), StoreError>;

/// Brings every table in `tables` to its current version, calling `migrate` for each step.
/// New tables (no version recorded) are stamped with the current version.
pub fn ensure(
    meta_db: &Database<'_, heed::types::Str, heed::types::Bytes>,
    txn: &mut RwTxn,
    tables: &[TableVersion],
    migrate: impl Fn(&mut RwTxn, &'static str, u64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for t in tables {
        let key = format!("schema.{}", t.table);
        match meta::get_u64(meta_db, txn, &key)? {
            None => meta::put_u64(meta_db, txn, &key, t.version)?,
            Some(stored) if stored > t.version => {
                return Err(StoreError::NewerSchema {
                    table: t.table,
                    stored,
                    known: t.version,
                });
            }
            Some(mut stored) => {
                while stored < t.version {
                    tracing::info!(
                        table = t.table,
                        from = stored,
                        to = stored + 1,
                        "migrating table"
                    );
                    migrate(txn, t.table, stored)?;
                    stored += 1;
                    meta::put_u64(meta_db, txn, &key, stored)?;
                }
            }
        }
    }
    Ok(())
}

/// The migration hook of this version: there is no older layout yet, so reaching it means the
/// version stamps are inconsistent.
pub fn no_migration(_txn: &mut RwTxn, table: &'static str, from: u64) -> Result<(), StoreError> {
    Err(StoreError::Corrupt(format!(
        "table {table} has version {from}, for which no migration exists"
    )))
}
