//! moxide: a complete, self-hosted mail server. See DESIGN.md for the map.

pub mod address;
pub mod auth;
pub mod config;
pub mod logging;
pub mod protocols;
pub mod store;
