//! The account registry: starts an account actor the first time an account is needed (opening
//! its store on the blocking pool) and hands out its handle afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::account::AccountActor;
use crate::config::dynamic::valid_account_name;
use crate::store::server::ServerStore;
use crate::store::{AccountStore, DataDir};

/// What other actors hold to use an account: the actor for writes, the store for reads.
#[derive(Clone)]
pub struct AccountHandle {
    pub name: String,
    pub addr: Addr<AccountActor>,
    pub store: Arc<AccountStore>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid account name {0:?}")]
    BadName(String),
    #[error("opening account {name}: {message}")]
    Open { name: String, message: String },
    #[error("the registry is shutting down")]
    Gone,
}

/// Opens (or returns) the account `0`.
#[derive(Message)]
#[rtype(result = "Result<AccountHandle, RegistryError>")]
pub struct OpenAccount(pub String);

/// Takes a removed account's data out of service: the account is closed here (sessions still
/// holding it finish on the old data) and its directory is moved to `DATA/removed/`, which is
/// returned (None when it had no data yet). Nothing is deleted.
#[derive(Message)]
#[rtype(result = "Result<Option<std::path::PathBuf>, RegistryError>")]
pub struct RetireAccount(pub String);

/// Names of the accounts open now.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct OpenAccounts;

type Waiter = oneshot::Sender<Result<AccountHandle, RegistryError>>;

pub struct AccountRegistry {
    data: DataDir,
    server: Arc<ServerStore>,
    /// For the accounts' settings (AutomaticJunkFlags), looked up at every open.
    config: Option<Arc<crate::config::Config>>,
    accounts: HashMap<String, AccountHandle>,
    opening: HashMap<String, Vec<Waiter>>,
}

impl AccountRegistry {
    pub fn new(
        data: DataDir,
        server: Arc<ServerStore>,
        config: Option<Arc<crate::config::Config>>,
    ) -> AccountRegistry {
        AccountRegistry {
            data,
            server,
            config,
            accounts: HashMap::new(),
            opening: HashMap::new(),
        }
    }

    /// The account's AutomaticJunkFlags in the current configuration.
    fn junk_flags(&self, name: &str) -> Option<Arc<crate::config::junk::AutoJunkFlags>> {
        let dynamic = self.config.as_ref()?.dynamic();
        dynamic.accounts.get(name)?.junk_flags.clone()
    }

    fn start_opening(&mut self, name: String, ctx: &mut Context<Self>) {
        let dir = self.data.account(&name);
        let server = self.server.clone();
        let open_name = name.clone();
        let open = actix_rt::task::spawn_blocking(move || {
            let store = AccountStore::open(&dir, &open_name)?;
            server.register_account(&open_name)?;
            Ok::<_, crate::store::StoreError>(store)
        });
        ctx.spawn(open.into_actor(self).map(move |result, act, _| {
            let result = match result {
                Ok(Ok(store)) => {
                    let store = Arc::new(store);
                    store.set_junk_flags(act.junk_flags(&name));
                    let addr = AccountActor::new(name.clone(), store.clone()).start();
                    tracing::info!(account = %name, "account opened");
                    let handle = AccountHandle {
                        name: name.clone(),
                        addr,
                        store,
                    };
                    act.accounts.insert(name.clone(), handle.clone());
                    Ok(handle)
                }
                Ok(Err(e)) => Err(RegistryError::Open {
                    name: name.clone(),
                    message: e.to_string(),
                }),
                Err(e) => Err(RegistryError::Open {
                    name: name.clone(),
                    message: e.to_string(),
                }),
            };
            if let Err(e) = &result {
                tracing::error!(account = %name, error = %e, "opening account failed");
            }
            for waiter in act.opening.remove(&name).unwrap_or_default() {
                let _ = waiter.send(result.clone());
            }
        }));
    }
}

impl Actor for AccountRegistry {
    type Context = Context<Self>;
}

impl Handler<OpenAccount> for AccountRegistry {
    type Result = ResponseFuture<Result<AccountHandle, RegistryError>>;

    fn handle(&mut self, OpenAccount(name): OpenAccount, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(h) = self.accounts.get(&name) {
            let h = h.clone();
            // The configuration may have been reloaded since.
            h.store.set_junk_flags(self.junk_flags(&name));
            return Box::pin(async move { Ok(h) });
        }
        if !valid_account_name(&name) {
            return Box::pin(async move { Err(RegistryError::BadName(name)) });
        }
        let (tx, rx) = oneshot::channel();
        let first = !self.opening.contains_key(&name);
        self.opening.entry(name.clone()).or_default().push(tx);
        if first {
            self.start_opening(name, ctx);
        }
        Box::pin(async move { rx.await.unwrap_or(Err(RegistryError::Gone)) })
    }
}

impl Handler<OpenAccounts> for AccountRegistry {
    type Result = MessageResult<OpenAccounts>;

    fn handle(&mut self, _: OpenAccounts, _: &mut Context<Self>) -> Self::Result {
        let mut names: Vec<String> = self.accounts.keys().cloned().collect();
        names.sort();
        MessageResult(names)
    }
}

impl Handler<RetireAccount> for AccountRegistry {
    type Result = ResponseFuture<Result<Option<std::path::PathBuf>, RegistryError>>;

    fn handle(
        &mut self,
        RetireAccount(name): RetireAccount,
        _: &mut Context<Self>,
    ) -> Self::Result {
        if !valid_account_name(&name) {
            return Box::pin(async move { Err(RegistryError::BadName(name)) });
        }
        if self.opening.contains_key(&name) {
            return Box::pin(async move {
                Err(RegistryError::Open {
                    name,
                    message: "the account is being opened; try again".into(),
                })
            });
        }
        self.accounts.remove(&name);
        let (data, server) = (self.data.clone(), self.server.clone());
        Box::pin(async move {
            let fail = |message: String| RegistryError::Open {
                name: name.clone(),
                message,
            };
            let moved = actix_rt::task::spawn_blocking({
                let name = name.clone();
                move || -> Result<Option<std::path::PathBuf>, crate::store::StoreError> {
                    let dir = data.account(&name);
                    if !dir.exists() {
                        server.unregister_account(&name)?;
                        return Ok(None);
                    }
                    let removed = data.root().join("removed");
                    crate::store::create_private_dir(&removed)?;
                    let dest = removed.join(format!("{name}-{}", crate::store::account::now()));
                    std::fs::rename(&dir, &dest)?;
                    crate::store::files::fsync_dir(&removed)?;
                    crate::store::files::fsync_dir(&data.root().join("accounts"))?;
                    server.unregister_account(&name)?;
                    Ok(Some(dest))
                }
            })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
            tracing::info!(account = %name, moved_to = ?moved, "account retired");
            Ok(moved)
        })
    }
}
