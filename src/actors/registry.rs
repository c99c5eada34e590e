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

/// Names of the accounts open now.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct OpenAccounts;

type Waiter = oneshot::Sender<Result<AccountHandle, RegistryError>>;

pub struct AccountRegistry {
    data: DataDir,
    server: Arc<ServerStore>,
    accounts: HashMap<String, AccountHandle>,
    opening: HashMap<String, Vec<Waiter>>,
}

impl AccountRegistry {
    pub fn new(data: DataDir, server: Arc<ServerStore>) -> AccountRegistry {
        AccountRegistry {
            data,
            server,
            accounts: HashMap::new(),
            opening: HashMap::new(),
        }
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
