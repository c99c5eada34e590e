//! Message authentication: checking incoming mail (SPF, DKIM, DMARC, iprev) with the
//! `Authentication-Results` header field, and DKIM signing of outgoing mail.

pub mod results;
pub mod sign;
pub mod verify;
