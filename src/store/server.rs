//! The server-wide environment (`DATA/server.mdb/`): the index of accounts with data on disk,
//! written by the registry only, and the outgoing queue's tables, which belong to
//! [`super::queue::QueueStore`] (written by the queue actor only) and share this environment.

use std::path::Path;

use heed::types::Str;
use heed::{Database, Env, EnvOpenOptions, WithoutTls};

use super::codec::Rkyv;
use super::schema::{self, TableVersion};
use super::{StoreError, create_private_dir, files};

const SERVER_MAP_SIZE: usize = 4 << 30;
pub(super) const ACCOUNTS_SCHEMA: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct AccountRecord {
    pub name: String,
    /// When the account's data was first created, seconds since the epoch.
    pub created: i64,
}

pub struct ServerStore {
    env: Env<WithoutTls>,
    accounts: Database<'static, Str, Rkyv<AccountRecord>>,
}

impl ServerStore {
    /// Opens (creating when new) the server environment at `path`. Blocking.
    pub fn open(path: &Path) -> Result<ServerStore, StoreError> {
        create_private_dir(path)?;
        // SAFETY: opened once per process, safe flags only, private files.
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(SERVER_MAP_SIZE)
                .max_dbs(8)
                .max_readers(512)
                .open(path)?
        };
        let wtxn = env.write_txn()?;
        let accounts = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, StoreError> {
                let meta: Database<'_, heed::types::Str, heed::types::Bytes> =
                    dbo.create_database(wtxn, Some("meta"))?;
                let tables = [TableVersion {
                    table: "accounts",
                    version: ACCOUNTS_SCHEMA,
                }];
                schema::ensure(&meta, wtxn, &tables, schema::no_migration)?;
                let accounts: Database<'_, Str, Rkyv<AccountRecord>> =
                    dbo.create_database(wtxn, Some("accounts"))?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit(accounts))
            })?
            .unwrap_commit();
        files::count_fsyncs(2);
        Ok(ServerStore { env, accounts })
    }

    /// Records that `name` has data on disk, if not known yet. Blocking.
    pub fn register_account(&self, name: &str) -> Result<(), StoreError> {
        {
            let rtxn = self.env.read_txn()?;
            if self.accounts.get(&rtxn, name)?.is_some() {
                return Ok(());
            }
        }
        let mut wtxn = self.env.write_txn()?;
        let record = AccountRecord {
            name: name.to_string(),
            created: super::account::now(),
        };
        self.accounts.put(&mut wtxn, name, &record)?;
        wtxn.commit()?;
        files::count_fsyncs(2);
        Ok(())
    }

    /// The environment, for the other stores that keep their tables in it (the queue). heed
    /// opens an environment once per process, so they share this handle.
    pub(super) fn env(&self) -> &Env<WithoutTls> {
        &self.env
    }

    /// Forgets that `name` has data here (its data was moved away). Blocking.
    pub fn unregister_account(&self, name: &str) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.accounts.delete(&mut wtxn, name)?;
        wtxn.commit()?;
        files::count_fsyncs(2);
        Ok(())
    }

    pub fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.accounts.iter(&rtxn)? {
            out.push(item?.1);
        }
        Ok(out)
    }
}
