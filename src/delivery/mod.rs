//! Outgoing delivery: how the queue's messages leave. The actors that run it are in
//! `actors::delivery` (a manager bounding concurrency, an actor per queue entry); here is what
//! they use: the retry schedule, DSNs, MX resolution and the delivery attempt itself.

pub mod attempt;
pub mod dsn;
pub mod mx;
pub mod schedule;
