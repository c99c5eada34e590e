//! IMAP4rev2 (RFC 9051), sans-IO: the receiver that assembles commands and literals, the command
//! parser, response writers, and the SEARCH evaluator.

pub mod parse;
pub mod receiver;
pub mod response;
pub mod search;
pub mod section;
pub mod types;
