//! IMAP4rev2 (RFC 9051), sans-IO: the receiver that assembles commands and literals, the command
//! parser, response writers, and the SEARCH evaluator.

pub mod binary;
pub mod bodystructure;
pub mod encoded_word;
pub mod envelope;
#[cfg(test)]
mod fixtures;
pub mod parse;
pub mod receiver;
pub mod response;
pub mod search;
pub mod section;
pub mod types;
pub mod utf7;
