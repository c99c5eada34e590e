//! SMTP (RFC 5321): command parsing, replies, the DATA reader and the server session (sans-IO),
//! and the outgoing client.

pub mod client;
pub mod command;
pub mod data;
pub mod reply;
pub mod server;

pub use reply::Reply;
