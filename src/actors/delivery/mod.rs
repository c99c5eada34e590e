//! The outgoing delivery engine as actors (DESIGN §1): a [`DeliveryManager`] that bounds how
//! many deliveries run and gives each queue entry an [`entry::EntryActor`] owning its timer and
//! attempts; `attempt.rs` runs one attempt for a group of entries.

mod attempt;
mod dsn;
pub mod entry;
pub mod manager;

pub use manager::{DeliveryManager, DropQueued, Init, KickEntries, NewEntries};
