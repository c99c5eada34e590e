//! The actors: every account, mailbox in use and connection is one (DESIGN.md §1).

pub mod account;
pub mod admin;
pub mod append;
pub mod backup;
pub mod conn_io;
pub mod ctl;
pub mod delivery;
pub mod group_commit;
pub mod imap_conn;
pub mod limits;
pub mod listener;
pub mod login;
pub mod mailbox;
pub mod queue;
pub mod registry;
pub mod retrain;
pub mod smtp_conn;
pub mod supervisor;
pub mod transfer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::Config;
use crate::store::DataDir;

/// Services shared by the actors: plain values, immutable or internally synchronised.
pub struct Services {
    pub config: Arc<Config>,
    pub data: DataDir,
    pub registry: actix::Addr<registry::AccountRegistry>,
    /// The outgoing queue's writer.
    pub queue: actix::Addr<queue::QueueActor>,
    /// The outgoing delivery engine: its entry actors act on `queue kick` and `drop`.
    pub delivery: actix::Addr<delivery::DeliveryManager>,
    pub started: Instant,
    /// Authentication failures per remote address.
    pub auth_limiter: login::AuthLimiter,
    /// Server secret for SASL exchanges with unknown users (see `DataDir::server_secret`).
    pub sasl_key: [u8; 32],
    /// The server environment and the queue, for reading (backups); their writers are the
    /// registry and the queue actor.
    pub server_store: Arc<crate::store::server::ServerStore>,
    pub queue_store: Arc<crate::store::queue::QueueStore>,
    /// The one DNS resolver (SPF, DKIM, DMARC, iprev, MX). None only in localserve without a
    /// `[dns]` section: a development server does not ask the network unless told to.
    pub dns: Option<Arc<mail_auth::MessageAuthenticator>>,
    /// Connections and messages per remote address on the smtp listeners.
    pub ip_limits: Arc<limits::IpLimits>,
    /// Turns true on SIGTERM: connections finish what they are in the middle of and close.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(1);

/// A new connection id, for logs (`cid`).
pub fn next_cid() -> u64 {
    CONNECTION_IDS.fetch_add(1, Ordering::Relaxed)
}
