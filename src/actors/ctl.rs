//! The control socket: a Unix socket (mode 0600) in the data directory where `moxctl` asks the
//! running daemon to do things. Each connection is an actor; account changes go to the account
//! actors like any other write, so they never wait on open sessions.

use std::path::Path;
use std::sync::Arc;

use actix::prelude::*;
use tokio::net::{UnixListener, UnixStream};

use super::account::SetPassword;
use super::registry::{OpenAccount, OpenAccounts};
use super::transfer::{self, Outcome};
use super::{Services, admin};
use crate::auth::PasswordSecrets;
use crate::metrics;
use crate::protocols::ctl::{Request, Response, queue_listing, read_frame, write_frame};

/// Binds the control socket at `path`, replacing a stale one, readable only by the owner.
pub fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

pub async fn accept_loop(listener: std::os::unix::net::UnixListener, services: Arc<Services>) {
    let listener = match UnixListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot use control socket");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                CtlConn {
                    services: services.clone(),
                    stream: Some(stream),
                }
                .start();
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

pub struct CtlConn {
    services: Arc<Services>,
    stream: Option<UnixStream>,
}

impl Actor for CtlConn {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(mut stream) = self.stream.take() else {
            ctx.stop();
            return;
        };
        let services = self.services.clone();
        let serve = async move {
            loop {
                let request = match read_frame::<Request>(&mut stream).await {
                    Ok(Some(r)) => r,
                    Ok(None) => return,
                    Err(e) => {
                        let _ = write_frame(
                            &mut stream,
                            &Response::Error {
                                message: e.to_string(),
                            },
                        )
                        .await;
                        return;
                    }
                };
                let outcome = match request {
                    Request::Import { account, mailbox } => {
                        transfer::import(&services, &mut stream, account, mailbox).await
                    }
                    Request::Export { account, mailbox } => {
                        transfer::export(&services, &mut stream, account, mailbox).await
                    }
                    Request::Retrain { account } => {
                        super::retrain::retrain(&services, &mut stream, account).await
                    }
                    Request::QueueDump { id } => {
                        transfer::queue_dump(&services, &mut stream, id).await
                    }
                    request => {
                        let response = match execute(&services, request).await {
                            Ok(output) => Response::Ok { output },
                            Err(message) => Response::Error { message },
                        };
                        match write_frame(&mut stream, &response).await {
                            Ok(()) => Outcome::Continue,
                            Err(_) => Outcome::Close,
                        }
                    }
                };
                if let Outcome::Close = outcome {
                    return;
                }
            }
        };
        ctx.spawn(serve.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }
}

async fn execute(services: &Services, request: Request) -> Result<String, String> {
    match request {
        Request::Status => {
            let open = services
                .registry
                .send(OpenAccounts)
                .await
                .map_err(|e| e.to_string())?;
            let mut out = format!(
                "version {}\nuptime_seconds {}\nopen_accounts {}\n",
                env!("CARGO_PKG_VERSION"),
                services.started.elapsed().as_secs(),
                open.join(",")
            );
            for (name, value) in metrics::snapshot() {
                out.push_str(&format!("{name} {value}\n"));
            }
            Ok(out)
        }
        Request::Accounts => {
            let dynamic = services.config.dynamic();
            Ok(dynamic
                .accounts
                .values()
                .map(|a| {
                    let addresses: Vec<String> =
                        a.addresses.iter().map(ToString::to_string).collect();
                    format!("{} {}\n", a.name, addresses.join(","))
                })
                .collect())
        }
        Request::SetPassword { account, password } => {
            if !services.config.dynamic().accounts.contains_key(&account) {
                return Err(format!("no account {account:?}"));
            }
            let secrets =
                actix_rt::task::spawn_blocking(move || PasswordSecrets::derive(&password))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
            let handle = services
                .registry
                .send(OpenAccount(account.clone()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            handle
                .addr
                .send(SetPassword { secrets })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            tracing::info!(account = %account, "password changed");
            Ok(String::new())
        }
        Request::Reload => {
            let config = services.config.clone();
            actix_rt::task::spawn_blocking(move || config.reload())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            Ok("reloaded\n".into())
        }
        Request::QueueList => {
            // Reads committed state on the blocking pool; a damaged record is a line of its own.
            let store = services.queue_store.clone();
            let (entries, damaged) = actix_rt::task::spawn_blocking(move || store.list_readable())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let mut out = if entries.is_empty() && !damaged.is_empty() {
                String::new()
            } else {
                queue_listing(&entries)
            };
            for (id, error) in damaged {
                out.push_str(&format!(
                    "{id}  damaged record (see moxide verifydata): {error}\n"
                ));
            }
            Ok(out)
        }
        Request::AccountAdd { name, address } => admin::account_add(services, name, address).await,
        Request::AccountRemove { name } => admin::account_remove(services, name).await,
        Request::AddressAdd { address, account } => {
            admin::address_add(services, address, account).await
        }
        Request::AddressRemove { address } => admin::address_remove(services, address).await,
        Request::Domains => Ok(admin::domains(services)),
        Request::DomainAdd { domain } => admin::domain_add(services, domain).await,
        Request::DomainRemove { domain } => admin::domain_remove(services, domain).await,
        Request::QueueKick { id } => admin::queue_kick(services, id).await,
        Request::QueueDrop { id } => admin::queue_drop(services, id).await,
        Request::LogLevel { level } => admin::log_level(&level),
        Request::Backup { dest } => super::backup::backup(services, dest).await,
        Request::JunkStats { account } => admin::junk_stats(services, account).await,
        Request::Import { .. }
        | Request::Export { .. }
        | Request::QueueDump { .. }
        | Request::Retrain { .. } => Err("a streaming command without its stream".into()),
    }
}
