//! `moxide retrain [ACCOUNT] --config FILE`: rebuilds junk filters while the server is stopped
//! (the data directory's lock refuses it while one runs; use `moxctl retrain` then). The same
//! operations as the online retrain, applied to the account stores directly.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::store::ops::WriteOp;
use crate::store::{AccountStore, DataDir, StoreError};

/// Messages trained per transaction.
const BATCH: usize = 200;

#[derive(Args)]
pub struct RetrainArgs {
    /// One account; all of them when absent.
    pub account: Option<String>,
    #[arg(long, default_value = super::serve::DEFAULT_CONFIG)]
    pub config: PathBuf,
}

fn retrain(store: &AccountStore) -> Result<usize, StoreError> {
    let ids: Vec<_> = {
        let reader = store.read()?;
        let mut ids = Vec::new();
        for mailbox in reader.mailboxes()? {
            for m in reader.live(mailbox.id)? {
                ids.push(m?.id);
            }
        }
        ids
    };
    let check = |mut result: crate::store::BatchResult| -> Result<(), StoreError> {
        result
            .outcomes
            .pop()
            .unwrap_or_else(|| Err(StoreError::CommitFailed("no outcome".into())))
            .map(|_| ())
    };
    check(store.apply(vec![WriteOp::JunkReset]))?;
    for chunk in ids.chunks(BATCH) {
        check(store.apply(vec![WriteOp::JunkTrain {
            ids: chunk.to_vec(),
        }]))?;
    }
    Ok(ids.len())
}

pub fn run(args: RetrainArgs) -> ExitCode {
    let config = match super::serve::load(&args.config, crate::config::Mode::Serve) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let names: Vec<String> = match args.account {
        Some(a) if config.dynamic().accounts.contains_key(&a) => vec![a],
        Some(a) => return super::fail(format!("no account {a:?}")),
        None => config.dynamic().accounts.keys().cloned().collect(),
    };
    let data = DataDir::new(&config.static_config.data_dir);
    let _lock = match data.prepare() {
        Ok(l) => l,
        Err(e) => return super::fail(format!("{}: {e}", data.root().display())),
    };
    for name in names {
        let result =
            AccountStore::open(&data.account(&name), &name).and_then(|store| retrain(&store));
        match result {
            Ok(n) => println!("{name}: junk filter retrained from {n} messages"),
            Err(e) => return super::fail(format!("{name}: {e}")),
        }
    }
    ExitCode::SUCCESS
}
