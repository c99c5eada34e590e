//! moxide: a complete, self-hosted mail server. See DESIGN.md for the map.

pub mod actors;
pub mod address;
pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dns;
pub mod dnscheck;
pub mod junk;
pub mod logging;
pub mod metrics;
pub mod msgauth;
pub mod privileges;
pub mod protocols;
pub mod store;
pub mod tls;
