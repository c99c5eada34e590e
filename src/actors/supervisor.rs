//! The supervisor: prepares the data directory, binds every socket, starts the registry, the
//! queue actor, the worker arbiters, the accept loops, the control socket and the configuration
//! watcher, and runs until SIGTERM or SIGINT.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::account::SetPassword;
use super::delivery::{self, DeliveryManager};
use super::listener::{self, BindError};
use super::queue::QueueActor;
use super::registry::{AccountRegistry, OpenAccount};
use super::{Services, ctl};
use crate::auth::PasswordSecrets;
use crate::config::{Config, ListenerConfig};
use crate::store::queue::QueueStore;
use crate::store::server::ServerStore;
use crate::store::{DataDir, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("data directory {path}: {error}")]
    Data { path: String, error: StoreError },
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("control socket {path}: {error}")]
    Ctl { path: String, error: std::io::Error },
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsSetupError),
    #[error("setting the password of {account}: {message}")]
    Password { account: String, message: String },
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Privileges(#[from] crate::privileges::PrivilegeError),
}

/// Started as root: hands the data directory, configuration files and keys to the service user
/// and becomes it, before any connection is handled. Otherwise: nothing to do.
fn become_service_user(config: &Config) -> Result<(), ServeError> {
    use crate::privileges::{self, Owned};
    if !privileges::is_root() {
        return Ok(());
    }
    let s = &config.static_config;
    let user = privileges::lookup(&s.user)?;
    if user.uid == 0 {
        tracing::warn!(user = %s.user, "the service user is root: running with all privileges");
        return Ok(());
    }
    if !s.no_fix_permissions {
        let dynamic = config.dynamic();
        let mut keys: Vec<std::path::PathBuf> = s
            .listeners
            .iter()
            .filter_map(|l| l.tls.as_ref().map(|(_, key)| key.clone()))
            .collect();
        for domain in dynamic.domains.values() {
            if let Some(dkim) = dynamic.dkim_for(domain) {
                keys.extend(dkim.selectors.values().map(|sel| sel.key_file.clone()));
            }
        }
        keys.sort();
        keys.dedup();
        privileges::fix_permissions(
            &user,
            &Owned {
                data_dir: &s.data_dir,
                static_file: &s.file,
                dynamic_file: &s.domains_file,
                keys,
            },
        )?;
    }
    privileges::drop_to(&user)?;
    tracing::info!(user = %user.name, uid = user.uid, gid = user.gid, "privileges dropped");
    Ok(())
}

/// How long connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What to do at start besides serving.
#[derive(Default)]
pub struct StartOptions {
    /// Set this (account, password) before announcing readiness (localserve).
    pub password: Option<(String, String)>,
    /// Lines printed on stdout once listening, before "ready" (localserve prints the login).
    pub banner: Vec<String>,
}

/// Runs the server until a termination signal.
pub fn run(config: Config, options: StartOptions) -> Result<(), ServeError> {
    let system = actix_rt::System::new();
    let result = system.block_on(start(config, options));
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            System::current().stop();
            Err(e)
        }
    }
}

async fn start(config: Config, options: StartOptions) -> Result<(), ServeError> {
    let data = DataDir::new(&config.static_config.data_dir);
    let data_err = |error| ServeError::Data {
        path: data.root().display().to_string(),
        error,
    };
    let _lock = data.prepare().map_err(data_err)?;
    let server = ServerStore::open(&data.server_env()).map_err(data_err)?;
    // Before anything can submit: opening removes the files of batches that never committed.
    let queue = QueueStore::open(&server, &data.queue_dir()).map_err(data_err)?;
    let sasl_key = data.server_secret().map_err(data_err)?;
    let acceptors = tls_acceptors(&config.static_config.listeners)?;
    let offline = matches!(config.mode, crate::config::Mode::Localserve { .. })
        && config.static_config.dns.nameservers.is_empty();
    let dns = if offline {
        tracing::info!("no [dns] configured: incoming mail is not authenticated (localserve)");
        None
    } else {
        Some(Arc::new(crate::dns::resolver(&config.static_config.dns)?))
    };
    let ip_limits = super::limits::IpLimits::new(config.static_config.limits.clone());
    let bound = listener::bind_all(&config.static_config.listeners, |l| {
        l.tls
            .as_ref()
            .and_then(|files| acceptors.get(files).cloned())
    })?;
    let metrics =
        match config.static_config.metrics {
            Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|error| {
                ServeError::Runtime(format!("metrics listener {addr}: {error}"))
            })?),
            None => None,
        };
    let ctl_path = data.ctl_socket();
    let ctl_socket = ctl::bind(&ctl_path).map_err(|error| ServeError::Ctl {
        path: ctl_path.display().to_string(),
        error,
    })?;

    if matches!(config.mode, crate::config::Mode::Serve) {
        become_service_user(&config)?;
    }

    let (server_store, queue_store) = (Arc::new(server), Arc::new(queue));
    let config = Arc::new(config);
    let registry =
        AccountRegistry::new(data.clone(), server_store.clone(), Some(config.clone())).start();
    let delivery = DeliveryManager::default().start();
    let queue = QueueActor::new(queue_store.clone(), Some(delivery.clone().recipient())).start();
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let services = Arc::new(Services {
        config: config.clone(),
        data,
        registry: registry.clone(),
        queue,
        delivery: delivery.clone(),
        server_store,
        queue_store,
        started: Instant::now(),
        auth_limiter: Default::default(),
        sasl_key,
        dns,
        ip_limits,
        shutdown,
    });

    delivery.do_send(delivery::Init(services.clone()));

    if let Some((account, password)) = options.password {
        let fail = |message: String| ServeError::Password {
            account: account.clone(),
            message,
        };
        let secrets = PasswordSecrets::derive(&password).map_err(|e| fail(e.to_string()))?;
        let handle = registry
            .send(OpenAccount(account.clone()))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        handle
            .addr
            .send(SetPassword { secrets })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
    }

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers: Vec<Arbiter> = (0..threads).map(|_| Arbiter::new()).collect();
    let handles = Arc::new(workers.iter().map(Arbiter::handle).collect::<Vec<_>>());
    let mut accepting = Vec::new();
    for b in bound {
        tracing::info!(protocol = b.config.protocol.name(), address = %b.address, "listening");
        println!("listening {} {}", b.config.protocol.name(), b.address);
        accepting.push(actix_rt::spawn(listener::accept_loop(
            b,
            services.clone(),
            handles.clone(),
        )));
    }
    actix_rt::spawn(ctl::accept_loop(ctl_socket, services.clone()));
    if let Some(listener) = metrics {
        let serving = listener
            .set_nonblocking(true)
            .and_then(|()| listener.local_addr().map(|a| (a, listener)))
            .and_then(|(a, l)| tokio::net::TcpListener::from_std(l).map(|l| (a, l)));
        match serving {
            Ok((address, listener)) => {
                println!("listening metrics {address}");
                actix_rt::spawn(crate::metrics::http::serve(listener));
            }
            Err(e) => tracing::error!(error = %e, "metrics listener"),
        }
    }
    if let Err(e) = crate::config::watch_dynamic(config.clone(), Duration::from_secs(1)) {
        tracing::warn!(error = %e, "not watching the dynamic configuration for changes");
    }
    for line in options.banner {
        println!("{line}");
    }
    println!("ready");
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "moxide ready");

    wait_for_signal().await;
    tracing::info!("shutting down");
    // Stop accepting, then let the connections finish what they are in the middle of: IMAP
    // sessions get a BYE, SMTP ones a 421 once a message being received is answered (and so
    // committed). Bounded: whatever is still open after the grace period is cut off.
    for a in &accepting {
        a.abort();
    }
    let _ = shutdown_tx.send(true);
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while crate::metrics::OPEN_CONNECTIONS.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open = crate::metrics::OPEN_CONNECTIONS.get();
    if open > 0 {
        tracing::warn!(
            open,
            "connections still open at the end of the shutdown grace period"
        );
    }
    let _ = std::fs::remove_file(&ctl_path);
    for w in &workers {
        w.stop();
    }
    System::current().stop();
    Ok(())
}

/// One acceptor per certificate configured on a listener, loaded before anything is bound.
fn tls_acceptors(
    listeners: &[ListenerConfig],
) -> Result<HashMap<(PathBuf, PathBuf), crate::tls::ServerTls>, ServeError> {
    let mut acceptors = HashMap::new();
    for files in listeners.iter().filter_map(|l| l.tls.clone()) {
        if let std::collections::hash_map::Entry::Vacant(e) = acceptors.entry(files) {
            let (cert, key) = e.key();
            let acceptor = crate::tls::server_tls(cert, key)?;
            e.insert(acceptor);
        }
    }
    Ok(acceptors)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
