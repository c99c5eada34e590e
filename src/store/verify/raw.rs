//! Reading an environment as bytes: opened read-only, every table as raw keys and values so
//! that one damaged record is reported with its key and the others are still read.

use std::path::Path;

use heed::types::Bytes;
use heed::{
    BytesDecode, CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, WithoutTls,
};

use super::{Kind, Sink};
use crate::store::codec::{FixedKey, Key, Rkyv};
use crate::store::schema::TableVersion;

pub(super) type RawDb = Database<'static, Bytes, Bytes>;
pub(super) type Txn<'e> = RoTxn<'e, WithoutTls>;

/// Opens the environment at `path` for reading only. No lock file is used or created: the
/// caller holds the data directory's lock (see the module documentation of `verify`).
pub(super) fn open_env(path: &Path) -> Result<Env<WithoutTls>, heed::Error> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.max_dbs(32);
    // SAFETY: MDB_RDONLY writes nothing; MDB_NOLOCK needs the caller to keep writers out, which
    // the data directory's lock does (every writer of these environments is a moxide that holds
    // it exclusively). The map is only read while this process holds the lock.
    unsafe {
        options.flags(EnvFlags::READ_ONLY | EnvFlags::NO_LOCK);
        options.open(path)
    }
}

/// Opens the named tables that exist, `None` for those that do not.
pub(super) fn open_tables<const N: usize>(
    env: &Env<WithoutTls>,
    names: [&str; N],
) -> Result<[Option<RawDb>; N], heed::Error> {
    let rtxn = env.read_txn()?;
    let opened = env.open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_, heed::Error> {
        let mut out: [Option<Database<'_, Bytes, Bytes>>; N] = [None; N];
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = dbo.open_database::<Bytes, Bytes>(rtxn, Some(name))?;
        }
        Ok(CommitOrAbort::<_, ()>::Commit(out))
    })?;
    Ok(opened.unwrap_commit())
}

/// Calls `f` with every key and value of `db`, in key order. An LMDB error ends the walk and is
/// reported as the table being unreadable.
pub(super) fn each(
    db: &RawDb,
    txn: &Txn,
    table: &'static str,
    sink: &mut Sink,
    mut f: impl FnMut(&[u8], &[u8], &mut Sink),
) {
    let iter = match db.iter(txn) {
        Ok(i) => i,
        Err(e) => {
            sink.add(table, "(table)", Kind::Unreadable, e.to_string());
            return;
        }
    };
    for item in iter {
        match item {
            Ok((key, value)) => f(key, value, sink),
            Err(e) => {
                sink.add(
                    table,
                    "(table)",
                    Kind::Unreadable,
                    format!("reading stopped: {e}"),
                );
                return;
            }
        }
    }
}

/// Decodes an rkyv value, validating it.
pub(super) fn value<T>(bytes: &[u8]) -> Result<T, String>
where
    Rkyv<T>: for<'a> BytesDecode<'a, DItem = T>,
{
    Rkyv::<T>::bytes_decode(bytes).map_err(|e| format!("value does not decode: {e}"))
}

/// Decodes a fixed-size key.
pub(super) fn key<T: FixedKey>(bytes: &[u8]) -> Result<T, String> {
    Key::<T>::bytes_decode(bytes).map_err(|e| format!("key {} does not decode: {e}", hex(bytes)))
}

/// A value that must be empty (index tables keep everything in their keys).
pub(super) fn check_empty(value: &[u8]) -> Result<(), String> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(format!("value of {} bytes, expected none", value.len()))
    }
}

/// A UTF-8 key (names).
pub(super) fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| format!("key {} is not UTF-8", hex(bytes)))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A counter or version in `meta`: 8 bytes, big-endian.
pub(super) fn meta_u64(
    meta: &RawDb,
    txn: &Txn,
    name: &str,
    sink: &mut Sink,
) -> Result<Option<u64>, ()> {
    match meta.get(txn, name.as_bytes()) {
        Ok(None) => Ok(None),
        Ok(Some(bytes)) => match <[u8; 8]>::try_from(bytes) {
            Ok(b) => Ok(Some(u64::from_be_bytes(b))),
            Err(_) => {
                sink.add(
                    "meta",
                    name,
                    Kind::Damaged,
                    format!("{} bytes, expected 8", bytes.len()),
                );
                Err(())
            }
        },
        Err(e) => {
            sink.add("meta", name, Kind::Unreadable, e.to_string());
            Err(())
        }
    }
}

/// Whether every table of `tables` is stamped with the version this moxide reads. A table not
/// stamped is fine only when it does not exist either (`exists`): it is created at the next
/// start.
pub(super) fn schema_ok(
    meta: &RawDb,
    txn: &Txn,
    tables: &[TableVersion],
    exists: impl Fn(&str) -> bool,
    sink: &mut Sink,
) -> bool {
    let mut ok = true;
    for t in tables {
        let key = format!("schema.{}", t.table);
        match meta_u64(meta, txn, &key, sink) {
            Err(()) => ok = false,
            Ok(None) if !exists(t.table) => {}
            Ok(None) => {
                sink.add(
                    "meta",
                    &key,
                    Kind::Schema,
                    format!("no schema version for existing table {}", t.table),
                );
                ok = false;
            }
            Ok(Some(v)) if v == t.version => {}
            Ok(Some(v)) if v > t.version => {
                sink.add(
                    "meta",
                    &key,
                    Kind::Schema,
                    format!(
                        "version {v} is newer than the {} this moxide knows: verify with a newer moxide",
                        t.version
                    ),
                );
                ok = false;
            }
            Ok(Some(v)) => {
                sink.add(
                    "meta",
                    &key,
                    Kind::Schema,
                    format!(
                        "version {v} is older than the {} this moxide reads (the server migrates it when it opens the environment)",
                        t.version
                    ),
                );
                ok = false;
            }
        }
    }
    ok
}
