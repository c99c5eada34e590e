//! Process-wide counters, read by `moxctl status` and the benchmarks.

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
