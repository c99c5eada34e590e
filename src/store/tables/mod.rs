//! One module per table: its key encoding, its record type and the only functions that read or
//! write it.

pub mod contents;
pub mod junk;
pub mod mailboxes;
pub mod messages;
pub mod meta;
pub mod secrets;
