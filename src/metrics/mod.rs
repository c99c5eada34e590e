//! Process-wide counters, read by `moxctl status`, the benchmarks, and the Prometheus endpoint
//! (`[metrics] listen`, see `http.rs`).

mod histogram;
pub mod http;

pub use histogram::Histogram;

use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

/// fsync-like calls made by the store. An LMDB commit counts as two (its data pages, then its
/// meta page).
pub static FSYNCS: Counter = Counter::new();
/// Write transactions committed by account actors, and the operations they carried.
pub static COMMITS: Counter = Counter::new();
pub static COMMITTED_OPS: Counter = Counter::new();
/// Messages delivered into a mailbox (one per recipient account).
pub static DELIVERIES: Counter = Counter::new();
/// Connections accepted.
pub static CONNECTIONS: Counter = Counter::new();
/// Connections open now (a gauge).
pub static OPEN_CONNECTIONS: Counter = Counter::new();

/// IMAP sessions open now (a gauge).
pub static IMAP_SESSIONS: Counter = Counter::new();
/// Outgoing delivery: attempts made, recipients delivered, bounced (failure DSN or given up),
/// DSNs sent, queue entries held by the delivery engine (a gauge).
pub static QUEUE_ATTEMPTS: Counter = Counter::new();
pub static QUEUE_DELIVERED: Counter = Counter::new();
pub static QUEUE_FAILED: Counter = Counter::new();
pub static DSNS: Counter = Counter::new();
pub static QUEUE_ENTRIES: Counter = Counter::new();
/// Operations per account commit, and how long commits take (seconds).
pub static COMMIT_BATCH: Histogram = Histogram::new(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
pub static COMMIT_SECONDS: Histogram =
    Histogram::new(&[0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0]);

/// SMTP error replies sent, by reply code and enhanced status code ("550 5.1.1").
static SMTP_REJECTS: std::sync::Mutex<std::collections::BTreeMap<String, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Counts an SMTP error reply (4xx, 5xx) sent to a client.
pub fn smtp_reject(code: u16, status: Option<(u8, u16, u16)>) {
    let reason = match status {
        Some((c, s, d)) => format!("{code} {c}.{s}.{d}"),
        None => code.to_string(),
    };
    let mut map = match SMTP_REJECTS.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    *map.entry(reason).or_insert(0) += 1;
}

/// The SMTP error replies counted so far.
pub fn smtp_rejects() -> Vec<(String, u64)> {
    let map = match SMTP_REJECTS.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// All counters by name, for status output.
pub fn snapshot() -> Vec<(&'static str, u64)> {
    vec![
        ("connections", CONNECTIONS.get()),
        ("deliveries", DELIVERIES.get()),
        ("commits", COMMITS.get()),
        ("committed_ops", COMMITTED_OPS.get()),
        ("fsyncs", FSYNCS.get()),
    ]
}
