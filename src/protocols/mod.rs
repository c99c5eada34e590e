//! Protocol code without sockets: parsers, writers and state machines that eat bytes and emit
//! bytes. Connection actors own the sockets and feed them.

pub mod ctl;
pub mod imap;
pub mod sasl;
pub mod smtp;
