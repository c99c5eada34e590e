//! SMTP (RFC 5321), sans-IO: command parsing, replies, the DATA reader and the server session.

pub mod command;
pub mod data;
pub mod reply;
pub mod server;

pub use reply::Reply;
